/* umap.c -- bounded open-addressing hash map from user id bytes to a pointer.
 *
 * Linear probing over a power-of-two table kept at most 1/2 full, with
 * backward-shift deletion (no tombstones, so lookups never slow down after
 * churn). Each probe is another cache line and the broker looks up random
 * users among thousands, so most lookups miss the cache: the load factor
 * is what costs. At most 3/4 full, a hit read ~1.8 lines on average; at
 * most 1/2, ~1.2 (callgrind, route_bench's bench case, 10,000 users: 3.4 ->
 * 2.5 L1 misses per event for the presence and history lookups). The
 * table takes twice the memory; the lines in use stay as many.
 * Each slot keeps the full 64-bit hash so most mismatches are decided
 * without touching the key bytes, and a copy of the key's first 32 bytes, so
 * a hit on a key of up to 32 bytes (most user ids) is confirmed within the
 * slot's own cache line: following the key pointer into the owner's record
 * was a cache miss per lookup (two per recipient: presence and history).
 * Slots are one 64-byte line each, so the table costs twice what a bare
 * 32-byte slot would. */
#include "umap.h"
#include "hash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define S_INLINE_KEY 32

typedef struct {
    uint64_t    hash;
    const char *key;     /* NULL: empty slot */
    size_t      len;
    void       *value;
    char        inline_key[S_INLINE_KEY];   /* the key's first bytes */
} s_slot_t;

_Static_assert (sizeof (s_slot_t) == 64, "one slot per cache line");

struct hb_umap {
    s_slot_t *slots;
    size_t    mask;      /* capacity - 1 */
    size_t    count;
    size_t    max_entries;
};

/* The keyed SipHash of proto/hash.c: the multiplicative hash this map had
 * before was seeded, but its collisions did not depend on the seed (256
 * printable 128-byte ids shared one 64-bit hash whatever the seed, making
 * lookups 16x slower), so a producer could still choose a probe chain. */
uint64_t
hb_hash (const char *key, size_t len)
{
    return hp_hash (key, len);
}

/* Zeroed slots on a cache-line boundary. */
static s_slot_t *
s_slots_new (size_t count)
{
    if (count > SIZE_MAX / sizeof (s_slot_t))
        return NULL;
    s_slot_t *slots = aligned_alloc (64, count * sizeof (s_slot_t));
    if (slots)
        memset (slots, 0, count * sizeof (s_slot_t));
    return slots;
}

hb_umap_t *
hb_umap_new (size_t max_entries)
{
    hb_umap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_entries = max_entries;
    self->mask = 15;
    self->slots = s_slots_new (self->mask + 1);
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

void
hb_umap_destroy (hb_umap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->slots);
    free (*self_p);
    *self_p = NULL;
}

static inline bool
s_match (const s_slot_t *s, uint64_t hash, const char *key, size_t len)
{
    if (s->hash != hash || s->len != len)
        return false;
    if (len <= S_INLINE_KEY)
        return memcmp (s->inline_key, key, len) == 0;
    return memcmp (s->key, key, len) == 0;
}

void *
hb_umap_get (const hb_umap_t *self, uint64_t hash, const char *key, size_t len)
{
    size_t i = hash & self->mask;
    for (;;) {
        const s_slot_t *s = &self->slots[i];
        if (!s->key)
            return NULL;
        if (s_match (s, hash, key, len))
            return s->value;
        i = (i + 1) & self->mask;
    }
}

void
hb_umap_prefetch (const hb_umap_t *self, uint64_t hash)
{
    __builtin_prefetch (&self->slots[hash & self->mask]);
}

static int
s_grow (hb_umap_t *self)
{
    size_t cap = (self->mask + 1) * 2;
    s_slot_t *slots = s_slots_new (cap);
    if (!slots)
        return -1;
    for (size_t i = 0; i <= self->mask; i++) {
        s_slot_t *s = &self->slots[i];
        if (!s->key)
            continue;
        size_t j = s->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free (self->slots);
    self->slots = slots;
    self->mask = cap - 1;
    return 0;
}

int
hb_umap_put (hb_umap_t *self, uint64_t hash, const char *key, size_t len, void *value)
{
    if (self->count >= self->max_entries)
        return -1;
    if ((self->count + 1) * 2 > self->mask + 1 && s_grow (self) != 0)
        return -1;
    size_t i = hash & self->mask;
    while (self->slots[i].key)
        i = (i + 1) & self->mask;
    s_slot_t *s = &self->slots[i];
    s->hash = hash;
    s->key = key;
    s->len = len;
    s->value = value;
    memcpy (s->inline_key, key, len < S_INLINE_KEY ? len : S_INLINE_KEY);
    self->count++;
    return 0;
}

void *
hb_umap_remove (hb_umap_t *self, uint64_t hash, const char *key, size_t len)
{
    size_t i = hash & self->mask;
    for (;;) {
        s_slot_t *s = &self->slots[i];
        if (!s->key)
            return NULL;
        if (s_match (s, hash, key, len))
            break;
        i = (i + 1) & self->mask;
    }
    void *value = self->slots[i].value;
    /* Backward shift: pull later members of the probe run into the hole
     * unless that would move them before their home slot. */
    size_t hole = i;
    size_t j = i;
    for (;;) {
        j = (j + 1) & self->mask;
        s_slot_t *s = &self->slots[j];
        if (!s->key)
            break;
        size_t home = s->hash & self->mask;
        /* distance from home to j vs from home to hole (cyclic) */
        if (((j - home) & self->mask) >= ((j - hole) & self->mask)) {
            self->slots[hole] = *s;
            hole = j;
        }
    }
    self->slots[hole] = (s_slot_t) { 0 };
    self->count--;
    return value;
}

size_t
hb_umap_count (const hb_umap_t *self)
{
    return self->count;
}

void
hb_umap_each (const hb_umap_t *self, void (*fn) (void *value, void *arg), void *arg)
{
    for (size_t i = 0; i <= self->mask; i++)
        if (self->slots[i].key)
            fn (self->slots[i].value, arg);
}
