/* http_check.h -- the broker's rules for an HTTP request: framing, the Bearer key, body types, the publishing paths. */
#ifndef HERALD_BROKER_HTTP_CHECK_H
#define HERALD_BROKER_HTTP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pure functions over header values (the lws side in http.c fetches them),
 * so each rule has a unit test and a fuzz target without a server. */

#define HB_HTTP_KEY_MIN 16     /* bytes; a shorter key file is refused at start */
#define HB_HTTP_KEY_MAX 512

/* How the body of a request is framed, from its Content-Length values (one
 * per header line: lws keeps duplicates apart) and whether a
 * Transfer-Encoding header came. Returns 0 with *length set (0 when no
 * Content-Length), or -1 with a static reason: Transfer-Encoding at all
 * (lws 4.1 decodes no chunked request bodies, and with Content-Length too a
 * TE-honouring proxy in front would frame the body differently: request
 * smuggling), more than one Content-Length (equal or not), or a value that
 * is not 1-18 plain decimal digits (no sign, hex, spaces or commas). A
 * refused request's framing is unknown, so the connection closes after
 * the 400. */
int hb_http_framing (const char *const *lengths, size_t count, bool transfer_encoding,
                     uint64_t *length, const char **why);

/* True when authorization (the header's value, NULL when absent) is
 * "Bearer <key>" (scheme case-insensitive, one or more spaces) with exactly
 * key. Compared in time that depends on the lengths only, never on where
 * the bytes differ. */
bool hb_http_bearer_ok (const char *authorization, const char *key, size_t key_len);

/* Reads the key from path: the file's bytes up to a trailing newline
 * (CRLF or LF), HB_HTTP_KEY_MIN-HB_HTTP_KEY_MAX bytes of visible ASCII.
 * Returns its length, or -1 with a reason printed to stderr. */
int hb_http_key_load (const char *path, char *key, size_t cap);

/* Whether a body of this content type (NULL or "" when absent) may
 * publish: application/json always; a form (application/x-www-form-urlencoded)
 * or no content type only with the key (keyed), since a plain HTML form,
 * or fetch() without a type, can send those from any page a browser shows,
 * cross-origin and without a preflight, where application/json or an
 * Authorization header cannot. Other types are left to the body decoder. An
 * empty body is always allowed. Returns true, or false with a reason. */
bool hb_http_content_allowed (const char *content_type, size_t body_len, bool keyed,
                              const char **why);

/* "/message/<event>/<to>", already URL-decoded by lws: everything after the
 * event's slash is the user id (which may hold encoded slashes). Returns
 * NULL with event/user pointing into path, or a static reason: "not found"
 * (404) or "bad event name" / "bad user id" (400). */
const char *hb_http_message_path (const char *path, size_t len,
                                  const char **event, size_t *event_len,
                                  const char **user, size_t *user_len);

/* Whom a POST publishes to: its path's first segment. */
typedef enum {
    HB_HTTP_TO_USER = 0,    /* /message/<event>/<user> */
    HB_HTTP_TO_CHANNEL,     /* /channel/<event>/<channel> */
    HB_HTTP_TO_BROADCAST    /* /broadcast/<event> */
} hb_http_to_t;

/* Any publishing path, already URL-decoded by lws: /message/... as
 * hb_http_message_path; "/channel/<event>/<channel>" (everything after the
 * event's slash is the channel, whose names may hold '/');
 * "/broadcast/<event>" (target_len 0). Returns NULL with *to and
 * event/target pointing into path, or a static reason: "not found" (404:
 * another path, a missing segment, a segment after a broadcast's event),
 * "bad event name", "bad user id" or "bad channel name" (400; the rules of
 * the envelope, PROTOCOL.md). */
const char *hb_http_publish_path (const char *path, size_t len, hb_http_to_t *to,
                                  const char **event, size_t *event_len,
                                  const char **target, size_t *target_len);

#endif
