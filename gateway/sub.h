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

/* Per (connection, stream): where this connection stands in the stream
 * (the last offset queued to it) and the repair in progress, if any. A
 * user's own events are the first kind of stream; a channel will be a
 * second sub of the same connection, with its own offsets and repair,
 * writing into the same delivery. Embedded in its connection; the fields
 * are sub.c's. */
typedef struct gw_sub {
    gw_stream_t *stream;        /* set by gw_sub_start, while attached */
    gw_delivery_t *out;         /* the connection's output */
    gw_queue_t *held;           /* live events held while a repair is pending */
    uint64_t last_offset;       /* the newest event offset queued to the client */
    uint64_t rid;               /* the pending resume request, 0 when none */
    uint64_t resume_epoch;      /* where the replay starts from */
    uint64_t resume_offset;
    uint64_t need;              /* a repair must reach at least this offset */
    uint32_t replayed;          /* events the repair in progress has replayed */
    uint8_t state;
    bool has_position;
    bool relink;                /* LIVE, and the broker link dropped: the sync is awaited */
    bool silent;                /* welcomed already: this resume fills a gap, no new welcome */
    bool repairing;             /* the resume in progress repairs a gap (counted) */
    bool unrecovered;           /* ... and history did not reach back */
    bool epoch_start;           /* this resume replays a new epoch from its start */
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

/* The connection's timer fired for this sub (retries). */
void gw_sub_on_timer (gw_sub_t *self);

/* From the stream (fanout). */
void gw_sub_on_sync (gw_sub_t *self);
/* Events of the stream up to need never arrived (seen.c decided): repair
 * from this connection's own last offset, holding live events meanwhile;
 * a repair already pending is extended to reach need. */
void gw_sub_on_gap (gw_sub_t *self, uint64_t need);
void gw_sub_on_link_lost (gw_sub_t *self);
void gw_sub_on_event (gw_sub_t *self, gw_blob_t *event);
void gw_sub_on_epoch_change (gw_sub_t *self, uint64_t epoch, uint64_t offset);
/* The rid of the resume request this sub waits for, or 0. */
uint64_t gw_sub_rid (const gw_sub_t *self);
void gw_sub_on_resume_reply (gw_sub_t *self, const hp_resume_reply_t *reply);

#endif
