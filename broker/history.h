/* history.h -- bounded per-stream event history (users, channels, broadcasts) for resume after reconnect. */
#ifndef HERALD_BROKER_HISTORY_H
#define HERALD_BROKER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "envelope.h"
#include "store_lmdb.h"
#include "umap.h"

/* The history's index: each stored event is one record shared by all its
 * recipients; each user has a ring of at most events_per_user references.
 * Bounds: the per-user count, a total byte bound (evicting the globally
 * oldest first) and each event's ttl. For every user the history remembers
 * the highest offset that left early (lost_upto), so a resume can tell
 * whether it is complete. Times are monotonic seconds supplied by the caller.
 *
 * The index is always in memory. The frames live in a storage: by default
 * references to the published ZeroMQ messages (store_mem.h), or, once
 * hb_history_attach has been called, an LMDB store (store_lmdb.h) that the
 * index writes through: every record, eviction and loss it decides is
 * mirrored there, in the store's pending transaction, which
 * hb_history_commit ends.
 *
 * "User" below means any stream: the index is keyed by stream keys
 * (proto/stream.h, built by streamkey.h), so a channel (0x01 + name) and
 * the broadcast stream (0x02) each have a ring, a lost_upto and the same
 * bounds as a user, in the same accounting. */
typedef struct hb_history hb_history_t;

typedef enum {
    HB_EVICT_COUNT = 0,   /* pushed out of a user's ring by a newer event */
    HB_EVICT_BYTES,       /* the total byte bound */
    HB_EVICT_TTL,         /* its ttl ran out */
    HB_EVICT_REASONS
} hb_evict_reason_t;

/* meta (envelope.h): the event's wire flags, receipt seconds and
 * conflation key, kept with it so that a replay, the store and the pair's
 * catch-up carry them as the live event did; meta.key points into the
 * history's record (valid as json is). The receipts' pending table needs
 * (offset, recipient) and the seconds: a replay of an event with
 * meta.receipt tells it which. */
typedef struct {
    uint64_t    offset;
    uint64_t    at;           /* accept time, us since 1970 (latency.h); 0 unknown */
    const char *json;
    size_t      len;
    hp_event_meta_t meta;
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
 * at is the event's accept time at the broker (us since 1970, 0 unknown),
 * kept with it so that a replay carries it (and written to the store).
 * Returns 0, or -1 when memory ran out (then the users are marked as
 * having lost it). */
/* meta (may be NULL: none) is copied into the record. */
int hb_history_append (hb_history_t *self, uint64_t offset, uint32_t ttl,
                       uint64_t now, uint64_t at, const hp_event_meta_t *meta,
                       zmq_msg_t *frame, const hb_key_t *users, size_t n);

/* Evicts events whose ttl ran out. Cheap: looks only at the seconds that
 * passed since the last sweep (a timing wheel). Call about once a second.
 * With a store, commits its deletes. */
void hb_history_sweep (hb_history_t *self, uint64_t now);

/* Fills out (capacity max) with the user's stored events whose offset is
 * greater than after, oldest first, skipping any whose ttl has run out.
 * *lost_upto receives the highest offset of an event for this user that
 * left history (or may have: users with no record answer the global floor).
 * The user is complete after `after` iff *lost_upto <= after. Items point
 * into the history (or the store's read) and stay valid until the next
 * append, sweep, commit or collect. With a store, an event whose frame
 * cannot be read counts as lost. Returns the number of items. */
size_t hb_history_collect (hb_history_t *self, const char *user, size_t len,
                           uint64_t after, uint64_t now,
                           hb_history_item_t *out, size_t max,
                           uint64_t *lost_upto);

/* The same for up to two streams at once (keys: each a stream key,
 * streamkey.h), merged in offset order: a user's resume covers the user's
 * events and the broadcasts. *lost_upto is the highest of the streams'.
 * max must hold both rings (2 x events_per_user) for nothing to be cut. */
size_t hb_history_collect_streams (hb_history_t *self, const hb_key_t *keys, size_t nkeys,
                                   uint64_t after, uint64_t now,
                                   hb_history_item_t *out, size_t max,
                                   uint64_t *lost_upto);

/* The offset of the newest event stored for the stream since its record
 * exists (0: none known; records without events may have been dropped).
 * The router takes the broadcast stream's prev from it after a restart on
 * a data directory or a takeover. */
uint64_t hb_history_newest (const hb_history_t *self, const hb_key_t *key);

/* Makes store the storage of frames (the history uses it, the caller owns
 * it and closes it after destroying the history): rebuilds the index from
 * the stored events in offset order -- expired ones dropped and marked
 * lost, the bounds applied, each user's lost_upto recovered from the
 * previous-offset chain and the lost records -- then commits. Call on an
 * empty history. state is what hb_store_open returned. 0, or -1 (out of
 * memory: the store is left as it was). */
int hb_history_attach (hb_history_t *self, hb_store_t *store,
                       const hb_store_state_t *state, uint64_t now);

/* Ends the store's pending transaction (a no-op in memory), recording last
 * as the last offset given. On failure everything up to last counts as
 * lost. Returns 0 or -1. */
int hb_history_commit (hb_history_t *self, uint64_t last);

/* Everything up to offset counts as lost: for users without a record and
 * for every record created later (the global floor). Call on an empty
 * history: a hot standby that starts its copy at offset + 1 says so. */
void hb_history_lose_upto (hb_history_t *self, uint64_t offset);

/* The store attached, or NULL (memory only). */
hb_store_t *hb_history_store (const hb_history_t *self);

/* The pair's catch-up (pair_catchup.c): a cursor walks the stored events
 * oldest first while the history goes on changing (appends, evictions,
 * sweeps). One cursor at a time. */
typedef void hb_history_lost_fn (void *arg, const char *key, size_t len, uint64_t lost_upto);

typedef struct {
    uint64_t    offset;
    uint64_t    at;           /* accept time (hb_history_item_t) */
    uint32_t    ttl;          /* seconds left */
    const char *json;         /* the frame, valid until the history changes */
    size_t      len;
    size_t      n;            /* the users (stream keys) still holding it */
    hp_event_meta_t meta;     /* flags, receipt, key (hb_history_item_t) */
} hb_history_snap_t;

/* Starts the cursor at the oldest event. From now until stop, every event
 * the cursor has not given yet that leaves history by ttl or the byte bound
 * (and every expired or unreadable one it steps over) calls lost for each
 * stream holding it, with that stream's lost_upto: a copy built from the
 * cursor learns what it will never be given. Returns the floor the copy
 * starts from (the global floor, raised to every idle record's lost_upto). */
uint64_t hb_history_cursor_start (hb_history_t *self, hb_history_lost_fn *lost, void *arg);
void hb_history_cursor_stop (hb_history_t *self);

/* The next event after the last one given (appended since included): 1 with
 * *out filled, keys[i] and lost[i] (capacity HP_RECIPIENTS_MAX) the holders'
 * keys and lost_upto; 0 when there is none (yet). */
int hb_history_cursor_next (hb_history_t *self, uint64_t now, hb_history_snap_t *out,
                            hb_key_t *keys, uint64_t *lost);

/* The global floor (users without a record lost everything up to it). */
uint64_t hb_history_floor (const hb_history_t *self);

/* The stream key lost everything up to upto (raised, never lowered; a
 * record is made if needed). A copy being caught up applies what the
 * active's cursor said. */
void hb_history_raise_lost (hb_history_t *self, const hb_key_t *key, uint64_t upto);

size_t   hb_history_events (const hb_history_t *self);   /* records stored */
size_t   hb_history_bytes (const hb_history_t *self);    /* approximate bytes held */
size_t   hb_history_users (const hb_history_t *self);    /* user records */
uint64_t hb_history_evicted (const hb_history_t *self, hb_evict_reason_t reason);
size_t   hb_history_events_per_user (const hb_history_t *self);

#endif
