/* http_body.c -- turn a publishing POST (/message, /channel, /broadcast) into a producer envelope. */
#include "control.h"
#include "http_body.h"
#include "json_pack.h"

#include <jansson.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The envelope may nest 32 containers, its own map included (PROTOCOL.md),
 * so data may nest 31. Deeper JSON is refused here with a clear reason
 * rather than as not_msgpack by the router. */
#define S_DEPTH_MAX 31

static int
s_hex (int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long
hb_url_decode (char *dst, const char *src, size_t n, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = s_hex ((unsigned char) src[i + 1]);
            int lo = s_hex ((unsigned char) src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[o++] = (char) (hi * 16 + lo);
            i += 2;
        }
        else if (c == '+' && plus_is_space)
            dst[o++] = ' ';
        else
            dst[o++] = c;
    }
    return (long) o;
}

typedef struct {
    hp_buf_t *buf;
    int       failed;
} s_sink_t;

/* Remembers a refused append, so one check at the end covers every pack. */
static int
s_buf_write (void *data, const char *bytes, size_t len)
{
    s_sink_t *sink = data;
    if (hp_buf_append (sink->buf, bytes, len) != 0)
        sink->failed = 1;
    return 0;
}

/* "a=1&b=x+y" -> {"a":"1","b":"x y"}; a later duplicate key wins. */
static json_t *
s_parse_form (const char *body, size_t len)
{
    json_t *obj = json_object ();
    char *key = malloc (len + 1);
    char *value = malloc (len + 1);
    if (!obj || !key || !value)
        goto fail;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && body[eq] != '=')
                eq++;
            long klen = hb_url_decode (key, body + i, eq - i, 1);
            long vlen = eq < end ? hb_url_decode (value, body + eq + 1, end - eq - 1, 1) : 0;
            if (klen < 0 || vlen < 0 || memchr (key, '\0', (size_t) klen))
                goto fail;
            key[klen] = '\0';
            /* nocheck: the bytes need not be UTF-8; JSON output replaces
             * invalid sequences later, as for any producer's string. */
            if (json_object_set_new_nocheck (obj, key, json_stringn_nocheck (value, (size_t) vlen)) != 0)
                goto fail;
        }
        i = end + 1;
    }
    free (key);
    free (value);
    return obj;
fail:
    free (key);
    free (value);
    json_decref (obj);
    return NULL;
}

static int
s_content_is (const char *type, const char *want)
{
    size_t n = strlen (want);
    return strncasecmp (type, want, n) == 0 && (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

int
hb_http_body_envelope (hp_buf_t *out, const char *event, size_t event_len,
                       const char *user, size_t user_len,
                       const char *content_type, const char *body, size_t body_len,
                       const char **why)
{
    return hb_http_body_envelope_keyed (out, event, event_len, user, user_len, content_type,
                                        body, body_len, NULL, 0, why);
}

int
hb_http_body_envelope_keyed (hp_buf_t *out, const char *event, size_t event_len,
                             const char *user, size_t user_len,
                             const char *content_type, const char *body, size_t body_len,
                             const char *key, size_t key_len, const char **why)
{
    return hb_http_body_publish (out, event, event_len, HB_HTTP_TO_USER, user, user_len,
                                 content_type, body, body_len, key, key_len, why);
}

int
hb_http_body_publish (hp_buf_t *out, const char *event, size_t event_len,
                      hb_http_to_t to, const char *target, size_t target_len,
                      const char *content_type, const char *body, size_t body_len,
                      const char *key, size_t key_len, const char **why)
{
    hb_http_fields_t fields = { key, key_len, 0, NULL, 0 };
    return hb_http_body_publish_fields (out, event, event_len, to, target, target_len,
                                        content_type, body, body_len, &fields, why);
}

int
hb_http_body_publish_fields (hp_buf_t *out, const char *event, size_t event_len,
                             hb_http_to_t to, const char *target, size_t target_len,
                             const char *content_type, const char *body, size_t body_len,
                             const hb_http_fields_t *fields, const char **why)
{
    json_t *data = NULL;
    if (body_len > 0) {
        if (!content_type || !*content_type || s_content_is (content_type, "application/json")) {
            json_error_t error;
            data = json_loadb (body, body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
            if (!data) {
                *why = "body is not valid JSON";
                return -1;
            }
        }
        else if (s_content_is (content_type, "application/x-www-form-urlencoded")) {
            data = s_parse_form (body, body_len);
            if (!data) {
                *why = "body is not a valid form";
                return -1;
            }
        }
        else {
            *why = "unsupported content type (use application/json or a form)";
            return -1;
        }
    }
    s_sink_t sink = { out, 0 };
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sink, s_buf_write);
    const char *ikey = fields->idempotency_key;
    msgpack_pack_map (&pk, 3 + (ikey != NULL) + (fields->receipt > 0) + (fields->key != NULL));
    if (ikey) {
        hp_control_pack_str (&pk, "idempotency_key", 15);
        hp_control_pack_str (&pk, ikey, fields->idempotency_key_len);
    }
    if (fields->receipt > 0) {
        hp_control_pack_str (&pk, "receipt", 7);
        msgpack_pack_uint64 (&pk, fields->receipt);
    }
    if (fields->key) {
        hp_control_pack_str (&pk, "key", 3);
        hp_control_pack_str (&pk, fields->key, fields->key_len);
    }
    hp_control_pack_str (&pk, "event", 5);
    hp_control_pack_str (&pk, event, event_len);
    if (to == HB_HTTP_TO_BROADCAST) {
        hp_control_pack_str (&pk, "broadcast", 9);
        msgpack_pack_true (&pk);
    }
    else {
        if (to == HB_HTTP_TO_CHANNEL)
            hp_control_pack_str (&pk, "channel", 7);
        else
            hp_control_pack_str (&pk, "to", 2);
        hp_control_pack_str (&pk, target, target_len);
    }
    hp_control_pack_str (&pk, "data", 4);
    int rc = 0;
    if (data) {
        rc = hp_json_pack (&pk, data, S_DEPTH_MAX);
        json_decref (data);
        if (rc != 0)
            *why = "body nests too deep";
    }
    else
        msgpack_pack_nil (&pk);
    if (rc == 0 && sink.failed) {
        *why = "body too large";
        rc = -1;
    }
    return rc;
}
