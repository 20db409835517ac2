/* sub.h -- a connection's subscription to one stream: sync -> resume -> live, and its repair. */
#ifndef HERALD_GW_SUB_H
#define HERALD_GW_SUB_H

#include <stdbool.h>
#include <stdint.h>

#include "blob.h"
#include "control.h"
#include "delivery.h"
#include "queue.h"

typedef struct gw_stream gw_stream_t;

/* Which prev chain an event of a stream belongs to. A user's stream
 * carries two: the user's own events, and the broadcasts folded into it;
 * a channel's only its own. */
typedef enum {
    GW_CHAIN_OWN = 0,
    GW_CHAIN_BROADCAST,
} gw_chain_t;

/* Per (connection, stream): where this connection stands in the stream
 * (the last offset queued to it) and the repair in progress, if any. A
 * user's own events (and the broadcasts) are one stream; each channel the
 * connection follows is another sub with its own offsets and repair,
 * writing into the same delivery. A user's sub is embedded in its
 * connection, a channel's in the connection's channel set; the fields are
 * sub.c's. */
typedef struct gw_sub {
    gw_stream_t *stream;        /* set by gw_sub_start, while attached */
    gw_delivery_t *out;         /* the connection's output */
    gw_queue_t *held;           /* live events held while a repair is pending */
    uint64_t last_offset;       /* the newest event offset queued to the client */
    uint64_t rid;               /* the pending resume request, 0 when none */
    uint64_t resume_epoch;      /* where the replay starts from */
    uint64_t resume_offset;
    uint64_t need;              /* a repair must reach at least this offset */
    int64_t retry_at;           /* monotonic usec of this sub's retry, 0: none */
    uint64_t live[2];           /* per gw_chain_t: the newest offset delivered live */
    uint64_t covered;           /* everything up to here went out in order (the last resume) */
    uint32_t replayed;          /* events the repair in progress has replayed */
    uint8_t state;
    bool has_position;
    bool relink;                /* LIVE, and the broker link dropped: the sync is awaited */
    bool relink_repair;         /* the resume in progress started from relink: nothing went
                                 * out since the drop */
    bool silent;                /* welcomed already: this resume fills a gap, no new welcome */
    bool repairing;             /* the resume in progress repairs a gap (counted) */
    bool unrecovered;           /* ... and history did not reach back */
    bool epoch_start;           /* this resume replays a new epoch from its start */
    bool overtaken;             /* the repair cannot be in order: say recovered:false */
} gw_sub_t;

/* An idle sub writing into out. */
void gw_sub_init (gw_sub_t *self, gw_delivery_t *out);

/* The client's resume position (before gw_sub_start). */
void gw_sub_set_position (gw_sub_t *self, uint64_t epoch, uint64_t offset);

/* Starts following stream (the caller attached self to it): asks the broker
 * to resume once the stream has had its sync, holding live events meanwhile. */
void gw_sub_start (gw_sub_t *self, gw_stream_t *stream);

/* Drops what it holds (counted as closed). The caller detaches it. */
void gw_sub_fini (gw_sub_t *self);

/* The connection's timer fired: retries whose time has come run (the timer
 * is shared by the connection's subs; one not due re-arms it). */
void gw_sub_on_timer (gw_sub_t *self);

/* From the stream (fanout). */
void gw_sub_on_sync (gw_sub_t *self);
/* Events of the stream's chain in (from, need] never arrived (seen.c
 * decided): repair from this connection's own last offset, holding live
 * events meanwhile; a repair already pending is extended to reach need.
 * When an event of the stream's other chain above the hole's start went
 * out live already (a broadcast overtook a lost user event, or the other
 * way round), no replay can be in order: the repair ends with a welcome
 * recovered:false at the broker's latest instead. */
void gw_sub_on_gap (gw_sub_t *self, uint64_t need, uint64_t from, gw_chain_t chain);
void gw_sub_on_link_lost (gw_sub_t *self);
/* A live event of the stream, of the given chain. While the link is being
 * re-established (a relink sync awaited) it is held, so that nothing
 * overtakes what the drop may have lost. */
void gw_sub_on_event (gw_sub_t *self, gw_blob_t *event, gw_chain_t chain);
void gw_sub_on_epoch_change (gw_sub_t *self, uint64_t epoch, uint64_t offset);
/* A second subscribe to a channel this sub follows: when LIVE, queues a
 * subscribed frame again (the stream's epoch, the last offset sent,
 * recovered:true) and returns true; otherwise false (the pending answer
 * will serve both). */
bool gw_sub_again (gw_sub_t *self);
/* The rid of the resume request this sub waits for, or 0. */
uint64_t gw_sub_rid (const gw_sub_t *self);
void gw_sub_on_resume_reply (gw_sub_t *self, const hp_resume_reply_t *reply);

#endif
