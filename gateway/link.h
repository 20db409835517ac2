/* link.h -- the requests a gateway sends its broker, as a narrow interface.
 *
 * Broker messages flow one way, upstream -> fanout -> sub -> delivery;
 * requests go back through this table of functions, which upstream.c fills,
 * so no module below upstream includes it (and the unit tests can fake it). */
#ifndef HERALD_GW_LINK_H
#define HERALD_GW_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a stream is: a user's own events (topic "u:<id>\0"; broadcasts are
 * folded into it), or a channel's ("c:<name>\0"). */
typedef enum {
    GW_STREAM_USER = 0,
    GW_STREAM_CHANNEL,
} gw_stream_kind_t;

typedef struct {
    void *ctx;
    /* Adds (on) or removes (!on) one subscription to a stream's topic.
     * Returns 0 or -1. */
    int (*subscribe) (void *ctx, gw_stream_kind_t kind, const char *name, size_t len, bool on);
    /* A request id no request has used yet (never 0). */
    uint64_t (*next_rid) (void *ctx);
    /* Sends {"op":"resume",...} for a stream. has_position false omits epoch
     * and offset. Returns 0, or -1 when it could not be queued (the caller
     * retries on its timer). */
    int (*resume) (void *ctx, uint64_t rid, gw_stream_kind_t kind, const char *name,
                   size_t len, bool has_position, uint64_t epoch, uint64_t offset);
    /* Asks the broker, in band on the subscription link, for the last
     * offset it routed to each listed stream (ids: each a stream key -- a
     * user id, 0x01 + channel, 0x02 -- and a NUL, at most
     * HP_WIRE_AUDIT_USERS_MAX). The answer comes back on the link behind
     * every event published before it. Returns 0 or -1. */
    int (*audit) (void *ctx, uint64_t rid, const char *ids, size_t ids_len);
    /* Adds (on) or removes (!on) one connection's presence in a channel
     * (its "p:" topic: channel, user, this gateway's id, conn_id).
     * Returns 0 or -1. */
    int (*presence) (void *ctx, const char *channel, size_t channel_len, const char *user,
                     size_t user_len, uint64_t conn_id, bool on);
    /* Hands one message from a browser (a record, proto/upmsg.h) to the
     * broker, batched with the others of the same loop turn; fire and
     * forget, never answered. Returns 0, or -1 when the link cannot take
     * it (no live broker link, its queue full): counted by the link. */
    int (*upstream) (void *ctx, const char *record, size_t len);
    /* This gateway's id as 16 lowercase hex digits (its "g:" topic; the
     * "gateway" of its records). */
    char gateway_hex[17];
} gw_link_t;

#endif
