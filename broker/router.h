/* router.h -- one ingest envelope in, one offset, one JSON frame, published per user or multicast. */
#ifndef HERALD_BROKER_ROUTER_H
#define HERALD_BROKER_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "channel_presence.h"
#include "envelope.h"
#include "history.h"
#include "idempotency.h"
#include "metrics.h"
#include "presence.h"
#include "undelivered.h"
#include <zmq.h>

/* The router owns the publish (XPUB) side: it routes events and turns the
 * subscription messages the XPUB socket reports into presence changes and
 * sync messages. Sockets and modules are used, not owned. */
typedef struct hb_router hb_router_t;

typedef struct {
    uint64_t offset;         /* the event's offset (when accepted) */
    bool     first_online;   /* whether its first recipient was online; for a channel
                                event, whether some gateway subscribes the channel; for
                                a broadcast, whether any user is online */
    bool     duplicate;      /* its idempotency key was accepted within the window:
                                offset is the original's, nothing was routed */
} hb_route_result_t;

/* NULL on out of memory. */
hb_router_t *hb_router_new (void *xpub, hb_presence_t *presence,
                            hb_history_t *history, hb_undelivered_t *undelivered,
                            hb_metrics_t *metrics, uint64_t epoch,
                            size_t max_event_bytes);
void hb_router_destroy (hb_router_t **self_p);

/* The publish socket is now xpub (the broker re-created it); the caller
 * owns both. The presence set should be cleared with it: the new socket's
 * peers subscribe again. */
void hb_router_set_xpub (hb_router_t *self, void *xpub);

/* Validates one envelope and, when good, gives it the next offset, stores it
 * in history, publishes [head][frame] on each online recipient's topic (or,
 * from HB_MULTICAST_MIN of them, once on the multicast topic listing them)
 * and sends an undelivered notice for each offline one. Bad envelopes are
 * counted and logged (rate-limited). bytes need only live for the call.
 * With a store it commits before publishing (one commit per event: the
 * loop batches with hb_router_accept/commit/publish instead).
 * now is monotonic seconds. Returns HP_ENV_OK or the reason it was refused. */
hp_env_error_t hb_router_route (hb_router_t *self, const char *bytes, size_t len,
                                uint64_t now, hb_route_result_t *result);

/* The same in two steps, so that a batch of events is stored and committed
 * (hb_router_commit) before any of it is published: hb_router_accept
 * validates, gives the offset, builds the frame into pending and stores it
 * in history; hb_router_publish sends it (presence, publish, undelivered).
 * Publish each accepted event once, in order. bytes/len: the same envelope
 * again when other envelopes were accepted in between (it is decoded once
 * more), or NULL right after its own accept. result (may be NULL) as for
 * route. */
typedef struct {
    uint64_t  offset;
    uint64_t  at;         /* accept time, us since 1970 (latency.h): travels with the event */
    zmq_msg_t body;
    bool      ready;      /* body holds the frame, to be published */
    bool      duplicate;  /* not routed: offset is the original's (idempotency.h) */
} hb_route_pending_t;

hp_env_error_t hb_router_accept (hb_router_t *self, const char *bytes, size_t len,
                                 uint64_t now, hb_route_pending_t *pending);
void hb_router_publish (hb_router_t *self, const char *bytes, size_t len,
                        hb_route_pending_t *pending, hb_route_result_t *result);

/* Commits what history stored since the last commit (a no-op in memory). */
void hb_router_commit (hb_router_t *self);

/* Hot standby (pair.h): add is called with each envelope accept gives an
 * offset, flush by commit, before anything of it is published; flush
 * returns once the passive holds the batch (or gave up waiting). */
typedef struct {
    void  *ctx;
    void (*add) (void *ctx, uint64_t offset, uint64_t at, const char *bytes, size_t len);
    void (*flush) (void *ctx);
    void (*gauges) (const void *ctx, hb_gauges_t *out);   /* adds its own */
} hb_router_replica_t;
void hb_router_set_replica (hb_router_t *self, const hb_router_replica_t *replica);

/* Idempotency keys (used, not owned; NULL: none): an envelope whose key
 * idem holds is not routed again (accept sets pending->duplicate and the
 * original offset, counted in metrics duplicates); an accepted one's key is
 * remembered with its offset. */
void hb_router_set_idempotency (hb_router_t *self, hb_idem_t *idem);

/* Offsets continue after offset (a broker restarted on its data directory). */
void hb_router_start_at (hb_router_t *self, uint64_t offset);

/* Handles one message read from the XPUB socket: byte 1 = subscribe,
 * 0 = unsubscribe, then the topic. A subscribe to a user topic marks the user
 * online and publishes a sync ('S', latest offset) on that exact topic; the
 * multicast and gateway topics' subscriptions change nothing. A gateway's
 * audit request ('A', PROTOCOL.md) is answered on that gateway's topic. */
void hb_router_subscription (hb_router_t *self, const char *bytes, size_t len);

/* Publishes a tick ('T', PROTOCOL.md) on the multicast topic when one is
 * due: every 100 ms while events are routed, every second otherwise. Call
 * on every loop turn; now_ms is a monotonic clock in milliseconds. */
void hb_router_tick (hb_router_t *self, uint64_t now_ms);

/* The latest offset given (0 before the first event). */
uint64_t hb_router_offset (const hb_router_t *self);

/* Publishes a disconnect ('D') on the user's topic: every gateway holding
 * the user closes their connections with 4003. Returns 0, or -1 when the
 * publish socket did not take it. */
int hb_router_disconnect (hb_router_t *self, const char *user, size_t len);
uint64_t hb_router_epoch (const hb_router_t *self);

/* Channel presence (used, not owned; NULL: p: topics are only checked):
 * fed from the presence topics' subscribe and unsubscribe, cleared with
 * hb_router_set_xpub. The getter is for the control socket's answer. */
void hb_router_set_channel_presence (hb_router_t *self, hb_chanpres_t *chanpres);
hb_chanpres_t *hb_router_channel_presence (const hb_router_t *self);

/* Samples the gauges of the modules the router drives. */
void hb_router_gauges (const hb_router_t *self, hb_gauges_t *out);

#endif
