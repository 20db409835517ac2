/* client_frame.h -- a browser's text frame, parsed: bytes in, a typed frame or a close code out. */
#ifndef HERALD_GW_CLIENT_FRAME_H
#define HERALD_GW_CLIENT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

/* A parse that fails closes the connection with this code (PROTOCOL.md). */
#define GW_CLIENT_FRAME_MALFORMED 4000

/* The frame types the client protocol knows (PROTOCOL.md, client protocol). */
typedef enum {
    GW_CLIENT_FRAME_AUTH,
    GW_CLIENT_FRAME_PING,
    GW_CLIENT_FRAME_REFRESH,
    GW_CLIENT_FRAME_SUBSCRIBE,
    GW_CLIENT_FRAME_UNSUBSCRIBE,
    GW_CLIENT_FRAME_SEND,
} gw_client_frame_type_t;

/* One parsed frame. Strings point into the parsed document, which the frame
 * owns until gw_client_frame_fini. Which frame is allowed when (auth first,
 * then the others) is the caller's rule, not the parser's. */
typedef struct {
    gw_client_frame_type_t type;
    /* auth, refresh, subscribe: "token" when it is a string without NUL
     * bytes, else NULL (auth and refresh answer it as a bad token, not as a
     * malformed frame; a subscribe without one relies on the connection's
     * channels claim). */
    const char *token;          /* NUL-terminated */
    size_t token_len;
    /* subscribe, unsubscribe: "channel" when it is a string without NUL
     * bytes, else NULL. Not checked as a channel name here: the caller
     * answers an invalid one with an error frame (bad_channel), not a close. */
    const char *channel;        /* NUL-terminated */
    size_t channel_len;
    /* auth, subscribe: "resume":{"epoch":E,"offset":N} was given (absent or
     * null: false). */
    bool has_resume;
    uint64_t resume_epoch;
    uint64_t resume_offset;
    /* send: "event" when it is a string without NUL bytes, else NULL (not
     * checked as an event name here: the caller answers an invalid or
     * disallowed one with an error frame, not a close), and "data" (any
     * JSON value; NULL when absent). Any other member -- a "user" -- is
     * ignored: the sender is the connection's user. */
    const char *event;          /* NUL-terminated */
    size_t event_len;
    const struct json_t *data;
    struct json_t *doc_;        /* owns the strings above */
} gw_client_frame_t;

/* Parses len bytes (no NUL needed) into *frame. Returns 0, or
 * GW_CLIENT_FRAME_MALFORMED when the bytes are not a JSON object, its
 * "type" is missing, not a string or unknown, or an auth or subscribe
 * frame's "resume" is neither null nor {"epoch":<16 hex digits>,"offset":<integer >= 0>};
 * the frame then holds nothing. Fields other than those named are ignored.
 * No I/O, no global state: safe to call on anything. */
int gw_client_frame_parse (gw_client_frame_t *frame, const void *bytes, size_t len);

/* Releases what a parse that returned 0 holds; a zeroed or failed frame is fine. */
void gw_client_frame_fini (gw_client_frame_t *frame);

#endif
