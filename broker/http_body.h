/* http_body.h -- turn a publishing POST (/message, /channel, /broadcast) into a producer envelope. */
#ifndef HERALD_BROKER_HTTP_BODY_H
#define HERALD_BROKER_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "http_check.h"

/* Decodes %XX escapes (and '+' as space when plus_is_space) of src into dst
 * (capacity >= n). Returns the decoded length, or -1 on a malformed escape. */
long hb_url_decode (char *dst, const char *src, size_t n, int plus_is_space);

/* Appends to out the msgpack envelope {"event":E,"to":T,"data":D} where D is
 * the body: JSON (application/json, or no content type) as any value, a form
 * (application/x-www-form-urlencoded) as a map of strings, an empty body as
 * nil. Event and user are taken as given (the router validates them).
 * Returns 0, or -1 with a short static reason in *why. */
int hb_http_body_envelope (hp_buf_t *out, const char *event, size_t event_len,
                           const char *user, size_t user_len,
                           const char *content_type, const char *body, size_t body_len,
                           const char **why);

/* The same with "idempotency_key":key added when key is not NULL (the
 * request's Idempotency-Key header, 1-128 bytes, checked by the caller). */
int hb_http_body_envelope_keyed (hp_buf_t *out, const char *event, size_t event_len,
                                 const char *user, size_t user_len,
                                 const char *content_type, const char *body, size_t body_len,
                                 const char *key, size_t key_len, const char **why);

/* The same for any publishing path: to names the addressing and target
 * the user id (HB_HTTP_TO_USER, "to"), the channel (HB_HTTP_TO_CHANNEL,
 * "channel") or nothing (HB_HTTP_TO_BROADCAST, "broadcast":true; target
 * ignored). */
int hb_http_body_publish (hp_buf_t *out, const char *event, size_t event_len,
                          hb_http_to_t to, const char *target, size_t target_len,
                          const char *content_type, const char *body, size_t body_len,
                          const char *key, size_t key_len, const char **why);

/* The envelope fields a request's headers give besides the path and body:
 * Idempotency-Key, Herald-Receipt (seconds) and Herald-Key (the conflation
 * key). Each is packed when present (ptr non-NULL, receipt > 0); the router
 * validates them like any producer's (bad_receipt, bad_key). */
typedef struct {
    const char *idempotency_key;
    size_t      idempotency_key_len;
    uint64_t    receipt;
    const char *key;
    size_t      key_len;
} hb_http_fields_t;

/* hb_http_body_publish with every header field. */
int hb_http_body_publish_fields (hp_buf_t *out, const char *event, size_t event_len,
                                 hb_http_to_t to, const char *target, size_t target_len,
                                 const char *content_type, const char *body, size_t body_len,
                                 const hb_http_fields_t *fields, const char **why);

#endif
