/* idempotency.c -- the window of producers' idempotency keys: an envelope whose key was accepted lately is not routed again.
 *
 * A FIFO of records in the order their keys were accepted, which is also
 * the order their windows end (the loop's clock is monotonic), so both
 * expiry and the byte bound take from the head: O(1) per key, no timer
 * wheel. A map (umap.c, keyed by the record's own copy of the key) finds a
 * key. A key claimed again after its window ended starts a new window. */
#include "idempotency.h"
#include "umap.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_entry {
    struct s_entry *next;        /* the next younger key */
    uint64_t        offset;
    uint64_t        at;          /* monotonic second it was accepted */
    uint64_t        hash;
    size_t          len;
    char            key[];
} s_entry_t;

struct hb_idem {
    hb_umap_t *map;
    s_entry_t *head, *tail;      /* oldest, youngest */
    uint64_t   window;
    size_t     max_bytes;
    hb_idem_stats_t stats;
    hb_idem_hooks_t hooks;
    bool       cursor_on;
    s_entry_t *cursor_last;      /* the last key the cursor gave; NULL: none yet, or dropped */
};

hb_idem_t *
hb_idem_new (uint64_t window_s, size_t max_bytes)
{
    hb_idem_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->window = window_s;
    self->max_bytes = max_bytes;
    /* the byte bound holds fewer keys than this, so the map never refuses
     * one the bound admitted */
    self->map = hb_umap_new (max_bytes / HB_IDEM_ENTRY_OVERHEAD + 1);
    if (!self->map) {
        free (self);
        return NULL;
    }
    return self;
}

static size_t
s_cost (const s_entry_t *e)
{
    return e->len + HB_IDEM_ENTRY_OVERHEAD;
}

/* Unlinks and frees the oldest record. */
static void
s_drop_head (hb_idem_t *self)
{
    s_entry_t *e = self->head;
    if (self->hooks.drop)
        self->hooks.drop (self->hooks.arg, e->key, e->len);
    hb_umap_remove (self->map, e->hash, e->key, e->len);
    /* keys leave from the head only: whatever the cursor gave before this
     * one is gone too, so it goes on from the new head */
    if (self->cursor_last == e)
        self->cursor_last = NULL;
    self->head = e->next;
    if (!self->head)
        self->tail = NULL;
    self->stats.keys--;
    self->stats.bytes -= s_cost (e);
    free (e);
}

void
hb_idem_set_hooks (hb_idem_t *self, const hb_idem_hooks_t *hooks)
{
    self->hooks = *hooks;
}

void
hb_idem_destroy (hb_idem_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_idem_t *self = *self_p;
    self->hooks.drop = NULL;            /* going away is not the keys leaving */
    while (self->head)
        s_drop_head (self);
    hb_umap_destroy (&self->map);
    free (self);
    *self_p = NULL;
}

static bool
s_expired (const hb_idem_t *self, const s_entry_t *e, uint64_t now)
{
    return now >= e->at + self->window;
}

void
hb_idem_sweep (hb_idem_t *self, uint64_t now)
{
    while (self->head && s_expired (self, self->head, now))
        s_drop_head (self);
}

/* Appends key (not held) accepted at monotonic second at; the byte bound
 * evicts the oldest first. 0, or -1 when not kept (memory, or a key over
 * the whole bound). */
static int
s_insert (hb_idem_t *self, const char *key, size_t len, uint64_t hash, uint64_t offset,
          uint64_t at)
{
    s_entry_t *e = malloc (sizeof *e + len);
    if (!e)
        return -1;        /* not remembered: a retry would be routed again */
    *e = (s_entry_t) { NULL, offset, at, hash, len };
    memcpy (e->key, key, len);
    while (self->head && self->stats.bytes + s_cost (e) > self->max_bytes) {
        s_drop_head (self);
        self->stats.evicted++;
    }
    if (s_cost (e) > self->max_bytes || hb_umap_put (self->map, hash, e->key, len, e) != 0) {
        free (e);
        return -1;
    }
    if (self->tail)
        self->tail->next = e;
    else
        self->head = e;
    self->tail = e;
    self->stats.keys++;
    self->stats.bytes += s_cost (e);
    return 0;
}

bool
hb_idem_claim (hb_idem_t *self, const char *key, size_t len, uint64_t offset,
               uint64_t now, uint64_t *original)
{
    if (self->window == 0 || len == 0)
        return false;
    hb_idem_sweep (self, now);
    uint64_t hash = hb_hash (key, len);
    s_entry_t *found = hb_umap_get (self->map, hash, key, len);
    if (found) {
        /* still in its window: the sweep above dropped every expired one */
        if (original)
            *original = found->offset;
        return true;
    }
    if (s_insert (self, key, len, hash, offset, now) == 0 && self->hooks.keep)
        self->hooks.keep (self->hooks.arg, key, len, offset, 0);
    return false;
}

/* A key accepted age_s seconds before now, from elsewhere (restore, learn);
 * keep: tell the keep hook. */
static bool
s_put_aged (hb_idem_t *self, const char *key, size_t len, uint64_t offset, uint64_t age_s,
            uint64_t now, bool keep)
{
    if (self->window == 0 || len == 0 || age_s >= self->window)
        return false;
    /* a clock that started late (a reboot) clamps at 0: the key then keeps
     * its window somewhat longer, never shorter */
    uint64_t at = now > age_s ? now - age_s : 0;
    uint64_t hash = hb_hash (key, len);
    if (hb_umap_get (self->map, hash, key, len))
        return true;
    if (s_insert (self, key, len, hash, offset, at) != 0)
        return false;
    if (keep && self->hooks.keep)
        self->hooks.keep (self->hooks.arg, key, len, offset, age_s);
    return true;
}

bool
hb_idem_restore (hb_idem_t *self, const char *key, size_t len, uint64_t offset,
                 uint64_t age_s, uint64_t now)
{
    return s_put_aged (self, key, len, offset, age_s, now, false);
}

bool
hb_idem_learn (hb_idem_t *self, const char *key, size_t len, uint64_t offset,
               uint64_t age_s, uint64_t now)
{
    return s_put_aged (self, key, len, offset, age_s, now, true);
}

void
hb_idem_clear (hb_idem_t *self)
{
    while (self->head)
        s_drop_head (self);
}

void
hb_idem_cursor_start (hb_idem_t *self)
{
    self->cursor_on = true;
    self->cursor_last = NULL;
}

bool
hb_idem_cursor_next (hb_idem_t *self, uint64_t now, hb_idem_key_t *out)
{
    if (!self->cursor_on)
        return false;
    for (;;) {
        s_entry_t *e = self->cursor_last ? self->cursor_last->next : self->head;
        if (!e)
            return false;             /* at the youngest: cursor_last stays on it */
        self->cursor_last = e;
        if (s_expired (self, e, now))
            continue;                 /* not swept yet: a copy must not hold it longer */
        *out = (hb_idem_key_t) { e->key, e->len, e->offset, now > e->at ? now - e->at : 0 };
        return true;
    }
}

void
hb_idem_cursor_stop (hb_idem_t *self)
{
    self->cursor_on = false;
    self->cursor_last = NULL;
}

void
hb_idem_stats (const hb_idem_t *self, hb_idem_stats_t *out)
{
    *out = self->stats;
}
