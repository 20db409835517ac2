/* idem_store.h -- the idempotency window kept on disk beside the event store, so a restarted broker still refuses duplicates. */
#ifndef HERALD_BROKER_IDEM_STORE_H
#define HERALD_BROKER_IDEM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "idempotency.h"
#include "store_lmdb.h"

/* DIR/idempotency/ is an LMDB environment of its own: one record per key
 * the window holds, [crc32][offset][accepted, unix seconds] (big-endian),
 * keyed by the key's bytes. The store mirrors the in-memory window
 * (idempotency.c) through its hooks: each key accepted is put, each key
 * that leaves (its window ended, the byte bound) deleted, in a pending
 * transaction that hb_idem_store_commit ends. The broker commits it right
 * after the event store's commit and before anything of the turn is
 * published or answered (main.c's router hook), so a key on disk always
 * belongs to an event on disk; a crash between the two commits loses the
 * keys of events that nobody was told about, whose retries are then
 * routed again (the event store holds them too: delivered twice, at
 * worst, never lost). Only the main thread uses it. */
typedef struct hb_idem_store hb_idem_store_t;

/* Opens (creating) DIR/idempotency, puts every stored key still inside
 * idem's window back into it (oldest first; a key's age is measured on
 * the wall clock since it was accepted, the window's own clock being
 * monotonic and per process; now is that monotonic second) and then
 * mirrors idem (hb_idem_set_hooks: idem must outlive the store, or be
 * destroyed after it). fresh: the event store started a new epoch, whose
 * offsets the stored keys do not name: they are all dropped. A damaged
 * environment (not LMDB, truncated, a record failing its checksum: that
 * record is dropped) is moved aside as data.mdb.damaged-<time> and started
 * empty (logged). Commits sync as the event store's mode says (always:
 * each commit; batch: hb_idem_store_tick; none: never). map_bytes: the
 * LMDB map (the window's byte bound fits several times over). NULL on an
 * I/O error or out of memory (logged). *restored: keys put back. */
hb_idem_store_t *hb_idem_store_open (const char *dir, hb_idem_t *idem, size_t max_bytes,
                                     hb_fsync_t mode, unsigned interval_ms, bool fresh,
                                     uint64_t now, uint64_t *restored);

/* Commits what is pending, syncs and closes; unhooks idem. NULL-safe. */
void hb_idem_store_close (hb_idem_store_t **self_p);

/* Ends the pending transaction (a no-op when nothing is pending). A
 * failed commit loses its writes (logged; the keys stay in memory). */
void hb_idem_store_commit (hb_idem_store_t *self);

/* Under --fsync batch: syncs when the interval has passed since the first
 * unsynced commit. Returns the milliseconds until a sync is due, or -1. */
long hb_idem_store_tick (hb_idem_store_t *self, uint64_t now_ms);

/* Failed writes, commits and syncs, and damaged records dropped, since open. */
uint64_t hb_idem_store_failures (const hb_idem_store_t *self);

#endif
