/* idempotency.h -- the window of producers' idempotency keys: an envelope whose key was accepted lately is not routed again. */
#ifndef HERALD_BROKER_IDEMPOTENCY_H
#define HERALD_BROKER_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keys of accepted events with their offsets, each kept for window_s
 * seconds after it was accepted, in at most max_bytes (each key counts its
 * bytes plus HB_IDEM_ENTRY_OVERHEAD). Past the byte bound the oldest keys
 * leave first, before their window ends (counted in evicted): a retry of
 * such a key is accepted again. Single-threaded (the broker's loop). */
typedef struct hb_idem hb_idem_t;

/* What one key costs besides its bytes: its record and its share of the
 * map's slots (64-byte slots, at most half full). */
#define HB_IDEM_ENTRY_OVERHEAD 176

/* NULL on out of memory. window_s 0 turns the window off (claim never
 * finds a key and keeps none). */
hb_idem_t *hb_idem_new (uint64_t window_s, size_t max_bytes);
void hb_idem_destroy (hb_idem_t **self_p);

/* Looks key (1-128 bytes) up at monotonic second now. When it was accepted
 * within the window: returns true and sets *original (may be NULL) to its
 * offset. Otherwise remembers key -> offset from now on and returns false.
 * Keys past their window are dropped on the way. */
bool hb_idem_claim (hb_idem_t *self, const char *key, size_t len, uint64_t offset,
                    uint64_t now, uint64_t *original);

/* Puts back a key accepted age_s seconds before now (a broker restarted
 * on its data directory, idem_store.c): as claim would have left it, but
 * without the keep hook. Keys must come oldest first. Returns true when
 * kept, false when its window has ended (or memory ran out). */
bool hb_idem_restore (hb_idem_t *self, const char *key, size_t len, uint64_t offset,
                      uint64_t age_s, uint64_t now);

/* Puts a key accepted age_s seconds before now by a pair's active peer
 * into the window (a passive's catch-up, pair_catchup.c): as restore, but
 * with the keep hook, so a data directory keeps it too. Keys must come
 * oldest first. Returns true when held (already, or now). */
bool hb_idem_learn (hb_idem_t *self, const char *key, size_t len, uint64_t offset,
                    uint64_t age_s, uint64_t now);

/* Drops every key (the drop hook called for each): a passive's copy
 * starting over takes its active peer's window instead. */
void hb_idem_clear (hb_idem_t *self);

/* Persistence (idem_store.c): keep is called for every key claim or learn
 * remembers (age_s: how long ago it was accepted, 0 for claim), drop for
 * every key that leaves (its window ended, the byte bound, clear), with
 * the key's bytes valid during the call. */
typedef struct {
    void  *arg;
    void (*keep) (void *arg, const char *key, size_t len, uint64_t offset, uint64_t age_s);
    void (*drop) (void *arg, const char *key, size_t len);
} hb_idem_hooks_t;
void hb_idem_set_hooks (hb_idem_t *self, const hb_idem_hooks_t *hooks);

/* Drops the keys whose window has ended (the loop calls it once a second,
 * so an idle broker gives the memory back). */
void hb_idem_sweep (hb_idem_t *self, uint64_t now);

/* A cursor over the window, oldest first, that keys accepted meanwhile
 * extend and keys leaving meanwhile do not break (the pair's catch-up,
 * pair_catchup.c; one at a time). next gives the next key still inside
 * its window: its bytes (valid until the window next changes), offset and
 * age at now; false when none is left for now (a later call may find keys
 * accepted since). */
typedef struct {
    const char *key;
    size_t      len;
    uint64_t    offset;
    uint64_t    age;         /* seconds since it was accepted */
} hb_idem_key_t;
void hb_idem_cursor_start (hb_idem_t *self);
bool hb_idem_cursor_next (hb_idem_t *self, uint64_t now, hb_idem_key_t *out);
void hb_idem_cursor_stop (hb_idem_t *self);

typedef struct {
    uint64_t keys;       /* held now */
    uint64_t bytes;      /* accounted now */
    uint64_t evicted;    /* dropped before their window ended (byte bound) */
} hb_idem_stats_t;
void hb_idem_stats (const hb_idem_t *self, hb_idem_stats_t *out);

#endif
