/* http_check.c -- the broker's rules for an HTTP request: framing, the Bearer key, body types, the publishing paths. */
#include "http_check.h"
#include "log.h"
#include "envelope.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int
hb_http_framing (const char *const *lengths, size_t count, bool transfer_encoding,
                 uint64_t *length, const char **why)
{
    *length = 0;
    if (transfer_encoding) {
        *why = count ? "Content-Length with Transfer-Encoding"
                     : "chunked bodies are not supported, send Content-Length";
        return -1;
    }
    if (count == 0)
        return 0;
    if (count > 1) {
        *why = "more than one Content-Length";
        return -1;
    }
    const char *p = lengths[0];
    uint64_t v = 0;
    size_t digits = 0;
    for (; p[digits]; digits++) {
        char c = p[digits];
        if (c < '0' || c > '9' || digits >= 18) {
            *why = "Content-Length is not a decimal number";
            return -1;
        }
        v = v * 10 + (uint64_t) (c - '0');
    }
    if (digits == 0) {
        *why = "Content-Length is not a decimal number";
        return -1;
    }
    *length = v;
    return 0;
}

/* Equal-length compare whose time does not depend on the contents. */
static bool
s_equal_ct (const unsigned char *a, const unsigned char *b, size_t n)
{
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

bool
hb_http_bearer_ok (const char *authorization, const char *key, size_t key_len)
{
    if (!authorization || key_len == 0 || strncasecmp (authorization, "bearer ", 7) != 0)
        return false;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t given_len = strlen (given);
    while (given_len && (given[given_len - 1] == ' ' || given[given_len - 1] == '\t'))
        given_len--;
    /* Compare key_len bytes whatever was given, so the time says nothing
     * about a prefix; a wrong length fails after the same work. */
    unsigned char padded[HB_HTTP_KEY_MAX];
    size_t n = key_len < sizeof padded ? key_len : sizeof padded;
    for (size_t i = 0; i < n; i++)
        padded[i] = given_len ? (unsigned char) given[i % given_len] : 0;
    bool same = s_equal_ct (padded, (const unsigned char *) key, n);
    return same && given_len == key_len && key_len <= sizeof padded;
}

int
hb_http_key_load (const char *path, char *key, size_t cap)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        hp_error ("cannot read --http-key-file %s: %s", path, strerror (errno));
        return -1;
    }
    char buf[HB_HTTP_KEY_MAX + 4];
    size_t n = fread (buf, 1, sizeof buf, f);
    fclose (f);
    if (n && buf[n - 1] == '\n')
        n--;
    if (n && buf[n - 1] == '\r')
        n--;
    if (n < HB_HTTP_KEY_MIN || n > HB_HTTP_KEY_MAX || n >= cap) {
        hp_error ("--http-key-file %s: the key must be %d-%d bytes "
                  "(e.g. openssl rand -hex 32)", path, HB_HTTP_KEY_MIN, HB_HTTP_KEY_MAX);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (buf[i] <= ' ' || buf[i] > '~') {
            hp_error ("--http-key-file %s: the key must be visible "
                      "ASCII without spaces (one line)", path);
            return -1;
        }
    memcpy (key, buf, n);
    key[n] = '\0';
    return (int) n;
}

static bool
s_type_is (const char *type, const char *want)
{
    size_t n = strlen (want);
    return strncasecmp (type, want, n) == 0 && (type[n] == '\0' || type[n] == ';' || type[n] == ' ');
}

bool
hb_http_content_allowed (const char *content_type, size_t body_len, bool keyed,
                         const char **why)
{
    if (body_len == 0 || keyed)
        return true;
    if (!content_type || !*content_type) {
        *why = "send Content-Type: application/json (a body without a type needs the HTTP key)";
        return false;
    }
    if (s_type_is (content_type, "application/x-www-form-urlencoded")) {
        *why = "form bodies need the HTTP key (--http-key-file)";
        return false;
    }
    return true;
}

const char *
hb_http_message_path (const char *path, size_t len, const char **event, size_t *event_len,
                      const char **user, size_t *user_len)
{
    static const char prefix[] = "/message/";
    size_t plen = sizeof prefix - 1;
    if (len < plen || memcmp (path, prefix, plen) != 0)
        return "not found";
    const char *rest = path + plen;
    size_t rlen = len - plen;
    const char *slash = memchr (rest, '/', rlen);
    if (!slash)
        return "not found";
    size_t elen = (size_t) (slash - rest);
    size_t ulen = rlen - elen - 1;
    if (!hp_event_name_valid (rest, elen))
        return "bad event name";
    if (!hp_user_id_valid (slash + 1, ulen))
        return "bad user id";
    *event = rest;
    *event_len = elen;
    *user = slash + 1;
    *user_len = ulen;
    return NULL;
}

/* path starts with prefix: the rest, or NULL. */
static const char *
s_after (const char *path, size_t len, const char *prefix, size_t *rest_len)
{
    size_t plen = strlen (prefix);
    if (len < plen || memcmp (path, prefix, plen) != 0)
        return NULL;
    *rest_len = len - plen;
    return path + plen;
}

const char *
hb_http_publish_path (const char *path, size_t len, hb_http_to_t *to,
                      const char **event, size_t *event_len,
                      const char **target, size_t *target_len)
{
    size_t rlen;
    const char *rest;
    if ((rest = s_after (path, len, "/message/", &rlen))) {
        *to = HB_HTTP_TO_USER;
        return hb_http_message_path (path, len, event, event_len, target, target_len);
    }
    if ((rest = s_after (path, len, "/broadcast/", &rlen))) {
        /* an event name holds no '/': one more segment is another path */
        if (memchr (rest, '/', rlen))
            return "not found";
        if (!hp_event_name_valid (rest, rlen))
            return "bad event name";
        *to = HB_HTTP_TO_BROADCAST;
        *event = rest;
        *event_len = rlen;
        *target = rest + rlen;
        *target_len = 0;
        return NULL;
    }
    if (!(rest = s_after (path, len, "/channel/", &rlen)))
        return "not found";
    const char *slash = memchr (rest, '/', rlen);
    if (!slash)
        return "not found";
    size_t elen = (size_t) (slash - rest);
    size_t clen = rlen - elen - 1;
    if (!hp_event_name_valid (rest, elen))
        return "bad event name";
    if (!hp_channel_name_valid (slash + 1, clen))
        return "bad channel name";
    *to = HB_HTTP_TO_CHANNEL;
    *event = rest;
    *event_len = elen;
    *target = slash + 1;
    *target_len = clen;
    return NULL;
}
