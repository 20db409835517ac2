/* http_batch.c -- POST /batch: JSON lines -> one bridge payload of envelopes, and the answer's JSON. */
#include "http_batch.h"
#include "envelope.h"
#include "json_pack.h"

#include <jansson.h>
#include <msgpack.h>
#include <string.h>
#include <strings.h>

/* The envelope's own map counts as one of its 32 levels (PROTOCOL.md). */
#define S_DEPTH_MAX 32

bool
hb_http_batch_type_ok (const char *type)
{
    if (!type)
        return false;
    static const char *const types[] = { "application/x-ndjson", "application/jsonl" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        size_t n = strlen (types[i]);
        if (strncasecmp (type, types[i], n) == 0 && (type[n] == '\0' || type[n] == ';'))
            return true;
    }
    return false;
}

static void
s_put_u32 (unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24); p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);  p[3] = (unsigned char) v;
}

typedef struct {
    hp_buf_t *buf;
    int       failed;
} s_sink_t;

static int
s_sink_write (void *data, const char *bytes, size_t len)
{
    s_sink_t *sink = data;
    if (hp_buf_append (sink->buf, bytes, len) != 0)
        sink->failed = 1;
    return 0;
}

/* Appends one line's entry (length, envelope) to out; NULL, or why not
 * (then a 0-length entry stands in its place). */
static const char *
s_pack_line (hp_buf_t *out, const char *line, size_t len, size_t max_line)
{
    size_t at = out->len;
    unsigned char zero[4] = { 0, 0, 0, 0 };
    if (hp_buf_append (out, zero, 4) != 0)
        return "too_large";
    if (len > max_line)
        return "too_large";
    json_t *value = json_loadb (line, len, 0, NULL);
    if (!value)
        return "not_json";
    const char *why = NULL;
    if (!json_is_object (value))
        why = "not_object";
    else {
        s_sink_t sink = { out, 0 };
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sink, s_sink_write);
        if (hp_json_pack (&pk, value, S_DEPTH_MAX) != 0)
            why = sink.failed ? "too_large" : "too_deep";
        else if (sink.failed)
            why = "too_large";
    }
    json_decref (value);
    if (why) {
        out->len = at + 4;   /* the partial envelope goes; the 0 length stays */
        return why;
    }
    s_put_u32 ((unsigned char *) out->data + at, (uint32_t) (out->len - at - 4));
    return NULL;
}

int
hb_http_batch_pack (hp_buf_t *out, const char *body, size_t len, size_t max_line,
                    hb_http_batch_lines_t *lines, const char **why)
{
    hp_buf_reset (out);
    lines->count = 0;
    unsigned char head[4] = { 0, 0, 0, 0 };
    if (hp_buf_append (out, head, 4) != 0) {
        *why = "out of memory";
        return -1;
    }
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr (body + i, '\n', len - i);
        size_t end = nl ? (size_t) (nl - body) : len;
        size_t n = end - i;
        if (n && body[i + n - 1] == '\r')
            n--;
        if (n) {
            if (lines->count == HB_HTTP_BATCH_LINES_MAX) {
                *why = "more than 1000 events in one batch";
                return -1;
            }
            lines->why[lines->count++] = s_pack_line (out, body + i, n, max_line);
        }
        i = end + 1;
    }
    if (lines->count == 0) {
        *why = "no events: send one JSON object per line";
        return -1;
    }
    s_put_u32 ((unsigned char *) out->data, lines->count);
    return 0;
}

int
hb_http_batch_render (hp_buf_t *out, const hb_http_batch_lines_t *lines,
                      const unsigned char *results, size_t results_len)
{
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < lines->count; i++) {
        const unsigned char *r = results + (size_t) i * HB_HTTP_RESULT_LEN;
        if (!lines->why[i] && (size_t) (i + 1) * HB_HTTP_RESULT_LEN <= results_len
        &&  r[0] == HP_ENV_OK)
            accepted++;
    }
    int rc = hp_buf_puts (out, "{\"accepted\":");
    rc |= hp_buf_put_u64 (out, accepted);
    rc |= hp_buf_puts (out, ",\"refused\":");
    rc |= hp_buf_put_u64 (out, lines->count - accepted);
    rc |= hp_buf_puts (out, ",\"results\":[");
    for (uint32_t i = 0; i < lines->count; i++) {
        const unsigned char *r = results + (size_t) i * HB_HTTP_RESULT_LEN;
        if (i)
            rc |= hp_buf_putc (out, ',');
        const char *error = lines->why[i];
        if (!error && (size_t) (i + 1) * HB_HTTP_RESULT_LEN > results_len)
            error = "no_answer";   /* a short reply: cannot happen */
        else if (!error && r[0] != HP_ENV_OK)
            error = r[0] == HB_HTTP_RESULT_SKIPPED ? "not_routed"
                                                   : hp_env_error_name ((hp_env_error_t) r[0]);
        if (error) {
            rc |= hp_buf_puts (out, "{\"error\":\"");
            rc |= hp_buf_puts (out, error);
            rc |= hp_buf_puts (out, "\"}");
            continue;
        }
        uint64_t offset = 0;
        for (int b = 0; b < 8; b++)
            offset = offset << 8 | r[2 + b];
        rc |= hp_buf_puts (out, "{\"offset\":");
        rc |= hp_buf_put_u64 (out, offset);
        rc |= hp_buf_puts (out, r[1] ? ",\"online\":true" : ",\"online\":false");
        if (r[10])
            rc |= hp_buf_puts (out, ",\"duplicate\":true");
        rc |= hp_buf_putc (out, '}');
    }
    rc |= hp_buf_puts (out, "]}\n");
    return rc ? -1 : 0;
}
