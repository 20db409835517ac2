/* fuzz_http.c -- fuzz target: an untrusted HTTP request's parts -> the broker's request rules -> envelope -> frame. */
//  The input is read as the pieces http.c hands to broker/http_check.c and
//  broker/http_body.c once lws has split a request: lines of
//    path \n content-type \n authorization \n content-length... \n \n body
//  (any line may be missing; "-" as the authorization line means none, a
//  content-length line "TE" means a Transfer-Encoding header came).
//  Oracles (abort on failure):
//  - framing either refuses with a reason or gives the decimal value of its
//    one length; the Bearer check passes exactly the key (the key is fixed);
//  - a publishing path that is accepted has a valid event name and a valid
//    user id (/message), channel name (/channel) or nothing (/broadcast);
//  - a body the rules allow and the decoder turns into an envelope decodes
//    as a valid envelope (HP_ENV_OK, same event, the path's addressing, one
//    recipient for /message), and its
//    event frame is valid JSON;
//  - a /batch body either is refused whole with a reason, or packs 1-1000
//    lines whose entries fill the payload exactly: each one a msgpack map
//    the envelope decoder reads past not_msgpack/not_map, or empty with the
//    line's reason.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "envelope.h"
#include "frame.h"
#include "http_batch.h"
#include "http_body.h"
#include "http_check.h"
#include "json_valid.h"

#define S_KEY "0123456789abcdef0123456789abcdef"
#define S_LINE_MAX 1024

static hp_envelope_t *s_env;

//  The next line of [*p, end) into out (NUL-terminated, truncated to
//  S_LINE_MAX); false when no line is left.
static bool
s_line (const char **p, const char *end, char *out)
{
    if (*p >= end)
        return false;
    const char *nl = memchr (*p, '\n', (size_t) (end - *p));
    size_t n = (size_t) ((nl ? nl : end) - *p);
    size_t keep = n < S_LINE_MAX ? n : S_LINE_MAX;
    memcpy (out, *p, keep);
    out[keep] = '\0';
    *p += n + (nl != NULL);
    return true;
}

static void
s_check_framing (const char *const *lengths, size_t count, bool te)
{
    uint64_t len = 7;
    const char *why = NULL;
    int rc = hb_http_framing (lengths, count, te, &len, &why);
    if (rc != 0) {
        if (!why || rc != -1)
            abort ();
        return;
    }
    if (te || count > 1)
        abort ();
    if (count == 0) {
        if (len != 0)
            abort ();
        return;
    }
    uint64_t v = 0;
    for (const char *c = lengths[0]; *c; c++) {
        if (*c < '0' || *c > '9')
            abort ();       //  accepted something that is not a decimal
        v = v * 10 + (uint64_t) (*c - '0');
    }
    if (v != len || !*lengths[0])
        abort ();
}

static void
s_check_bearer (const char *auth)
{
    bool ok = hb_http_bearer_ok (auth, S_KEY, strlen (S_KEY));
    //  Passing means "bearer", spaces, the key, optional spaces or tabs.
    if (ok) {
        if (strncasecmp (auth, "bearer ", 7) != 0)
            abort ();
        const char *k = auth + 7;
        while (*k == ' ')
            k++;
        if (strncmp (k, S_KEY, strlen (S_KEY)) != 0)
            abort ();
        for (const char *t = k + strlen (S_KEY); *t; t++)
            if (*t != ' ' && *t != '\t')
                abort ();
    }
    if (hb_http_bearer_ok (auth, S_KEY, 0))
        abort ();           //  no key: nothing passes
}

static void
s_check_body (const char *event, size_t elen, hb_http_to_t to, const char *user, size_t ulen,
              const char *ctype, const char *body, size_t blen)
{
    const char *why = NULL;
    if (!hb_http_content_allowed (ctype, blen, true, &why))
        abort ();           //  with the key every type reaches the decoder
    hp_buf_t out;
    hp_buf_init (&out, 4u << 20);
    if (hb_http_body_publish (&out, event, elen, to, user, ulen, ctype, body, blen, NULL, 0,
                              &why) != 0) {
        if (!why)
            abort ();
        hp_buf_free (&out);
        return;
    }
    hp_env_error_t err = hp_envelope_decode (s_env, out.data, out.len, out.len);
    if (err != HP_ENV_OK)
        abort ();
    hp_str_t ev = hp_envelope_event (s_env);
    if (ev.len != elen || memcmp (ev.ptr, event, elen) != 0
        || hp_envelope_recipient_count (s_env) != (to == HB_HTTP_TO_USER)
        || hp_envelope_addressing (s_env) != (to == HB_HTTP_TO_USER ? HP_ADDR_USERS
                                              : to == HB_HTTP_TO_CHANNEL ? HP_ADDR_CHANNEL
                                              : HP_ADDR_BROADCAST))
        abort ();
    hp_buf_t frame;
    hp_buf_init (&frame, 16u << 20);
    if (hp_frame_event (&frame, s_env, 1) != 0 || !fuzz_json_valid (frame.data, frame.len))
        abort ();
    hp_buf_free (&frame);
    hp_buf_free (&out);
}

static uint32_t
s_u32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void
s_check_batch (const char *body, size_t blen)
{
    static hb_http_batch_lines_t lines;
    hp_buf_t out;
    hp_buf_init (&out, 4 * HB_HTTP_BATCH_BYTES_MAX + 4 * HB_HTTP_BATCH_LINES_MAX);
    const char *why = NULL;
    if (hb_http_batch_pack (&out, body, blen, 4096, &lines, &why) != 0) {
        if (!why)
            abort ();
        hp_buf_free (&out);
        return;
    }
    const unsigned char *u = (const unsigned char *) out.data;
    if (lines.count == 0 || lines.count > HB_HTTP_BATCH_LINES_MAX || out.len < 4
    ||  s_u32 (u) != lines.count)
        abort ();
    size_t at = 4;
    for (uint32_t i = 0; i < lines.count; i++) {
        if (at + 4 > out.len)
            abort ();
        uint32_t n = s_u32 (u + at);
        at += 4;
        if ((n == 0) != (lines.why[i] != NULL) || n > out.len - at)
            abort ();
        if (n) {
            hp_env_error_t err = hp_envelope_decode (s_env, out.data + at, n, n);
            if (err == HP_ENV_NOT_MSGPACK || err == HP_ENV_NOT_MAP)
                abort ();
        }
        at += n;
    }
    if (at != out.len)
        abort ();
    hp_buf_free (&out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_env && !(s_env = hp_envelope_new ()))
        abort ();
    const char *p = (const char *) data, *end = p + size;
    static char path[S_LINE_MAX + 1], ctype[S_LINE_MAX + 1], auth[S_LINE_MAX + 1];
    static char values[4][S_LINE_MAX + 1];
    path[0] = ctype[0] = auth[0] = '\0';
    s_line (&p, end, path);
    s_line (&p, end, ctype);
    s_line (&p, end, auth);
    const char *lengths[4];
    size_t count = 0;
    bool te = false;
    char line[S_LINE_MAX + 1];
    while (s_line (&p, end, line) && line[0]) {
        if (strcmp (line, "TE") == 0)
            te = true;
        else if (count < 4) {
            memcpy (values[count], line, strlen (line) + 1);
            lengths[count] = values[count];
            count++;
        }
    }
    s_check_framing (lengths, count, te);
    s_check_bearer (strcmp (auth, "-") ? auth : NULL);

    if (strcmp (path, HB_HTTP_BATCH_PATH) == 0) {
        s_check_batch (p, (size_t) (end - p));
        return 0;
    }
    const char *event, *user;
    size_t elen, ulen;
    hb_http_to_t to;
    const char *why = hb_http_publish_path (path, strlen (path), &to, &event, &elen, &user, &ulen);
    if (why)
        return 0;
    if (!hp_event_name_valid (event, elen)
        || (to == HB_HTTP_TO_USER && !hp_user_id_valid (user, ulen))
        || (to == HB_HTTP_TO_CHANNEL && !hp_channel_name_valid (user, ulen))
        || (to == HB_HTTP_TO_BROADCAST && ulen != 0))
        abort ();
    s_check_body (event, elen, to, user, ulen, ctype, p, (size_t) (end - p));
    return 0;
}

//  The standalone driver's structured inputs (driver.c): requests built
//  from pieces that sit on the rules' edges, most of them well formed.
size_t fuzz_driver_seed (unsigned char *buf, size_t cap, uint64_t r);

size_t
fuzz_driver_seed (unsigned char *buf, size_t cap, uint64_t r)
{
    static const char *paths[] = {
        "/message/bid/alice", "/message/bid/jos\xc3\xa9 / 7+1", "/message/b d/x", "/message/bid/",
        "/message/bid", "/metrics", "/message/e.v:1-x_/a/b/c", "/message//alice",
        "/message/bid/\x01", "/message/bid/\xff\xfe", "/channel/bid/order:17",
        "/channel/bid/a/b@c=d", "/channel/bid/a b", "/channel/bid/", "/broadcast/banner",
        "/broadcast/", "/broadcast/a/b", "/batch", "/batch",
    };
    static const char *types[] = {
        "application/json", "application/x-www-form-urlencoded", "", "text/plain",
        "Application/JSON; charset=utf-8", "application/x-www-form-urlencoded;charset=UTF-8",
        "application/x-ndjson",
    };
    static const char *auths[] = {
        "Bearer " S_KEY, "bearer   " S_KEY " \t", "Bearer " S_KEY "0", "Bearer", "-", "",
        "Basic " S_KEY, "Bearer 0123456789abcdef0123456789abcdeF",
    };
    static const char *lengths[] = { "12", "0", "0x2", "+2", "2, 2", "", "TE", "999999999999999999",
                                     "1234567890123456789" };
    static const char *bodies[] = {
        "{\"amount\":120,\"vendor\":\"v7\"}", "a=1&b=x+y&a=%41", "a=%zz", "[1,2.5e3,null,true]",
        "\"\\u0000\\ud800\"", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "",
        "=&&=x&%00=1", "{\"a\":{\"b\":[\"\xff\"]}}", "123456789012345678901234567890",
        "{\"event\":\"a\",\"to\":\"x\"}\n{\"event\":\"b\",\"broadcast\":true}\r\nnot json\n[1]\n",
        "{\"event\":\"p\",\"channel\":\"o:1\",\"data\":1.5e300}\n\n{}",
    };
#define S_PICK(a, shift) a[(r >> (shift)) % (sizeof a / sizeof a[0])]
    int n = snprintf ((char *) buf, cap, "%s\n%s\n%s\n%s\n%s\n\n%s",
                      S_PICK (paths, 0), S_PICK (types, 8), S_PICK (auths, 16),
                      S_PICK (lengths, 24), (r >> 40) & 1 ? S_PICK (lengths, 32) : "",
                      S_PICK (bodies, 48));
#undef S_PICK
    return n < 0 ? 0 : (size_t) n < cap ? (size_t) n : cap - 1;
}
