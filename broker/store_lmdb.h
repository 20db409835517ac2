/* store_lmdb.h -- durable storage of history's events, epoch and offsets in an LMDB data directory. */
#ifndef HERALD_BROKER_STORE_LMDB_H
#define HERALD_BROKER_STORE_LMDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.h"
#include "umap.h"

/* The store keeps, in DIR/data.mdb:
 *   - one record per stored event, keyed by its big-endian offset: wall-clock
 *     expiry, ttl, the accept time (format 3), the event's meta -- wire
 *     flags, receipt seconds, conflation key (format 4, only when it has
 *     flags) --, the JSON frame and, per
 *     recipient, the user id and the
 *     offset of that user's previous stored event (so a rebuild can tell a
 *     hole left by an eviction from the start of a user's history);
 *   - per user whose newest event left history early, that offset (what the
 *     previous-offset chain cannot show);
 *   - a meta record: magic, format version, epoch, last offset, the history's
 *     global lost floor, whether the last stop was clean, the boot id and the
 *     --fsync setting of the run that wrote it.
 * Writes go into one transaction that hb_store_commit ends (the broker
 * commits once per loop turn); reads see only committed data. Only the main
 * thread uses a store. */
typedef struct hb_store hb_store_t;

typedef enum {
    HB_FSYNC_ALWAYS = 0,   /* every commit synced before it returns */
    HB_FSYNC_BATCH,        /* commits unsynced; synced at most every interval */
    HB_FSYNC_NONE          /* never synced by the broker (the OS writes back) */
} hb_fsync_t;

/* "always" / "batch" / "none" -> 0 and *out, or -1. */
int hb_fsync_parse (const char *text, hb_fsync_t *out);
const char *hb_fsync_name (hb_fsync_t mode);

/* What the broker continues from. */
typedef struct {
    uint64_t epoch;        /* the stored epoch, or the new one */
    uint64_t last;         /* the last offset given in this epoch */
    uint64_t floor;        /* history's lost floor */
    bool     fresh;        /* a new epoch was started (reason logged) */
    uint64_t events;       /* event records found (before the rebuild's evictions) */
} hb_store_state_t;

/* Opens (creating DIR if needed) and validates the data directory. A missing
 * or empty store, a damaged one (not LMDB, truncated, a record failing its
 * checksum or structure: moved aside as data.mdb.damaged-<time>), or one
 * whose last run may have lost published events (an unclean stop, a reboot
 * since, and --fsync other than always) starts a new epoch `new_epoch`; the
 * reason is logged. Refused (NULL, *refused true, the reason logged): DIR in
 * use by another broker, an LMDB environment that is not Herald's, a newer
 * format version, LMDB's own version mismatch, no permission. NULL with
 * *refused false: out of memory or an I/O error. The map is sized
 * 4 x history_bytes + 256 MiB (see broker/README.md). */
hb_store_t *hb_store_open (const char *dir, size_t history_bytes, hb_fsync_t mode,
                           unsigned interval_ms, uint64_t new_epoch,
                           hb_store_state_t *state, bool *refused);

/* Commits what is pending, marks the stop clean, syncs and closes. NULL-safe. */
void hb_store_close (hb_store_t **self_p);

/* A stored event as read back. users is the raw list; walk it with
 * hb_store_rec_user. json points into the store (valid as hb_store_get says). */
typedef struct {
    uint64_t             offset;
    uint64_t             expires_wall;   /* unix seconds */
    uint64_t             at;             /* accept time, us since 1970; 0: a format 1-2 record */
    hp_event_meta_t      meta;           /* flags 0, no key: none (formats 1-3 or no flags);
                                            key points into the store */
    uint32_t             ttl;
    uint32_t             nusers;
    const char          *json;
    size_t               json_len;
    const unsigned char *users;
    size_t               users_len;
} hb_store_rec_t;

/* The next recipient of rec at *pos (start at 0): its id (pointing into the
 * record) and prev offset. 0, or -1 at the end. */
int hb_store_rec_user (const hb_store_rec_t *rec, size_t *pos, hb_key_t *key, uint64_t *prev);

/* Calls fn for every stored event, oldest first (all validated at open).
 * fn may call hb_store_del / hb_store_put_lost (writes do not disturb the
 * walk). Then calls lost_fn for every per-user lost record. Returns 0, or
 * -1 on a read error. */
int hb_store_each (hb_store_t *self,
                   void (*fn) (void *arg, const hb_store_rec_t *rec),
                   void (*lost_fn) (void *arg, const char *user, size_t len, uint64_t lost),
                   void *arg);

/* Stores an event (offsets must increase). prevs[i] is users[i]'s previous
 * stored offset (0: none known); at its accept time (us since 1970); meta
 * (may be NULL) its flags, receipt and key. Returns 0, or -1 (counted,
 * logged). */
int hb_store_put (hb_store_t *self, uint64_t offset, uint64_t expires_wall, uint32_t ttl,
                  uint64_t at, const hp_event_meta_t *meta, const char *json, size_t json_len,
                  const hb_key_t *users, const uint64_t *prevs, size_t n);

/* The frame of a stored event, read from the last commit: 0 with *json
 * pointing into the store until the next hb_store_get round (see
 * hb_store_read_end) or commit; -1 when absent or damaged (counted). */
int hb_store_get (hb_store_t *self, uint64_t offset, const char **json, size_t *len);

/* Ends the read that hb_store_get started (its pointers die). */
void hb_store_read_end (hb_store_t *self);

void hb_store_del (hb_store_t *self, uint64_t offset);
void hb_store_put_lost (hb_store_t *self, const char *user, size_t len, uint64_t lost);
void hb_store_del_lost (hb_store_t *self, const char *user, size_t len);

/* Ends the pending transaction, recording the last offset given and the
 * lost floor in the meta record; syncs under --fsync always. A failed commit
 * loses the transaction's writes (counted, logged) and returns -1. */
int hb_store_commit (hb_store_t *self, uint64_t last, uint64_t floor);

/* Empties the store into another epoch (a broker of a pair starting its
 * copy over, or a new epoch): every event and lost record is deleted, with
 * what is pending, and the meta record says epoch, with last and the lost
 * floor both at last; committed (synced as --fsync says). 0, or -1 (the
 * store keeps its old epoch; counted, logged). */
int hb_store_reset (hb_store_t *self, uint64_t epoch, uint64_t last);

/* Under --fsync batch: syncs when the interval has passed since the first
 * unsynced commit. now_ms is monotonic milliseconds. Returns the milliseconds
 * until a sync is due (or -1 when none is pending), for the loop's poll. */
long hb_store_tick (hb_store_t *self, uint64_t now_ms);

typedef struct {
    uint64_t commits, failures, syncs, bytes;
} hb_store_stats_t;

void hb_store_stats (const hb_store_t *self, hb_store_stats_t *out);

#endif
