/* umap.h -- bounded open-addressing hash map from user id bytes to a pointer. */
#ifndef HERALD_BROKER_UMAP_H
#define HERALD_BROKER_UMAP_H

#include <stddef.h>
#include <stdint.h>

/* Keys are byte strings the caller keeps alive while they are in the map (the
 * map stores the pointer, not a copy): presence and history both embed the
 * key in the record the value points to. Values are never NULL. */
typedef struct hb_umap hb_umap_t;

/* A key with its hash, computed once per recipient and handed to every map. */
typedef struct {
    const char *ptr;
    size_t      len;
    uint64_t    hash;
} hb_key_t;

/* The hash every umap call takes (hp_hash: SipHash-1-3 under a random key
 * per process, so a producer cannot choose user ids that all land in one
 * probe chain); computed once per key by the caller and reused for lookups
 * in several maps. */
uint64_t hb_hash (const char *key, size_t len);

/* A map holding at most max_entries keys. NULL on out of memory. */
hb_umap_t *hb_umap_new (size_t max_entries);
void hb_umap_destroy (hb_umap_t **self_p);

/* The value for key, or NULL. */
void *hb_umap_get (const hb_umap_t *self, uint64_t hash, const char *key, size_t len);

/* Starts loading the cache line where a lookup of hash begins. A hint: it
 * reads nothing and is safe with any hash. */
void hb_umap_prefetch (const hb_umap_t *self, uint64_t hash);

/* Inserts key -> value; the key must not be present. Returns 0, or -1 when
 * the map is full (max_entries) or memory ran out. */
int hb_umap_put (hb_umap_t *self, uint64_t hash, const char *key, size_t len, void *value);

/* Removes key and returns its value, or NULL when absent. */
void *hb_umap_remove (hb_umap_t *self, uint64_t hash, const char *key, size_t len);

size_t hb_umap_count (const hb_umap_t *self);

/* Calls fn for every value (order unspecified); fn must not modify the map. */
void hb_umap_each (const hb_umap_t *self, void (*fn) (void *value, void *arg), void *arg);

#endif
