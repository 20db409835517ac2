/* history.h -- bounded per-user event history for resume after reconnect. */
#ifndef HERALD_BROKER_HISTORY_H
#define HERALD_BROKER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "umap.h"

/* Each stored event is one record holding its JSON frame once, shared by all
 * its recipients; each user has a ring of at most events_per_user references.
 * Bounds: the per-user count, a total byte bound (evicting the globally
 * oldest first) and each event's ttl. For every user the history remembers
 * the highest offset that left early (lost_upto), so a resume can tell
 * whether it is complete. Times are monotonic seconds supplied by the caller. */
typedef struct hb_history hb_history_t;

typedef enum {
    HB_EVICT_COUNT = 0,   /* pushed out of a user's ring by a newer event */
    HB_EVICT_BYTES,       /* the total byte bound */
    HB_EVICT_TTL,         /* its ttl ran out */
    HB_EVICT_REASONS
} hb_evict_reason_t;

typedef struct {
    uint64_t    offset;
    const char *json;
    size_t      len;
} hb_history_item_t;

/* NULL on out of memory. events_per_user >= 1. */
hb_history_t *hb_history_new (size_t events_per_user, size_t max_bytes);
void hb_history_destroy (hb_history_t **self_p);

/* Stores an event for n users (distinct; the envelope decoder dedups).
 * frame is a ZeroMQ message holding the JSON frame: the history takes its
 * own reference (zmq_msg_copy, no byte copy) and the caller's message stays
 * valid. Keeping that reference also means the frame is freed here, on the
 * main thread, rather than by ZeroMQ's I/O thread after the last send
 * (which would contend for the allocator). ttl 0 stores nothing. Offsets
 * must increase from call to call. Enforces every bound before returning.
 * Returns 0, or -1 when memory ran out (then the users are marked as
 * having lost it). */
int hb_history_append (hb_history_t *self, uint64_t offset, uint32_t ttl,
                       uint64_t now, zmq_msg_t *frame,
                       const hb_key_t *users, size_t n);

/* Evicts events whose ttl ran out. Cheap: looks only at the seconds that
 * passed since the last sweep (a timing wheel). Call about once a second. */
void hb_history_sweep (hb_history_t *self, uint64_t now);

/* Fills out (capacity max) with the user's stored events whose offset is
 * greater than after, oldest first, skipping any whose ttl has run out.
 * *lost_upto receives the highest offset of an event for this user that
 * left history (or may have: users with no record answer the global floor).
 * The user is complete after `after` iff *lost_upto <= after. Items point
 * into the history and stay valid until the next append or sweep.
 * Returns the number of items. */
size_t hb_history_collect (hb_history_t *self, const char *user, size_t len,
                           uint64_t after, uint64_t now,
                           hb_history_item_t *out, size_t max,
                           uint64_t *lost_upto);

size_t   hb_history_events (const hb_history_t *self);   /* records stored */
size_t   hb_history_bytes (const hb_history_t *self);    /* approximate bytes held */
size_t   hb_history_users (const hb_history_t *self);    /* user records */
uint64_t hb_history_evicted (const hb_history_t *self, hb_evict_reason_t reason);
size_t   hb_history_events_per_user (const hb_history_t *self);

#endif
