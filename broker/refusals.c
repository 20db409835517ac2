/* refusals.c -- the keys a bounded set refused, followed until they leave (refusals.h says why). */
#include "refusals.h"
#include "umap.h"

#include <stdlib.h>

/* One refused key; the map's key is these 8 bytes. */
typedef struct {
    uint64_t hash;
} s_held_t;

struct hb_refusals {
    size_t     max;
    hb_umap_t *held;         /* s_held_t of refused keys still subscribed */
    bool       lost;         /* held itself was full: exactness is gone */
    uint64_t   total;
};

static void
s_free (void *value, void *arg)
{
    (void) arg;
    free (value);
}

hb_refusals_t *
hb_refusals_new (size_t max)
{
    hb_refusals_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max;
    if (!(self->held = hb_umap_new (max)))
        hb_refusals_destroy (&self);
    return self;
}

void
hb_refusals_destroy (hb_refusals_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_refusals_t *self = *self_p;
    if (self->held) {
        hb_umap_each (self->held, s_free, NULL);
        hb_umap_destroy (&self->held);
    }
    free (self);
    *self_p = NULL;
}

void
hb_refusals_add (hb_refusals_t *self, uint64_t hash)
{
    self->total++;
    if (self->lost || hb_umap_get (self->held, hash, (const char *) &hash, sizeof hash))
        return;
    s_held_t *h = malloc (sizeof *h);
    if (h) {
        h->hash = hash;
        if (hb_umap_put (self->held, hash, (const char *) &h->hash, sizeof h->hash, h) == 0)
            return;
        free (h);
    }
    self->lost = true;   /* cannot follow it any more: not exact until forgotten */
}

void
hb_refusals_remove (hb_refusals_t *self, uint64_t hash)
{
    if (hb_umap_count (self->held))
        free (hb_umap_remove (self->held, hash, (const char *) &hash, sizeof hash));
}

int
hb_refusals_forget (hb_refusals_t *self)
{
    hb_umap_t *fresh = hb_umap_new (self->max);
    if (!fresh)
        return -1;
    hb_umap_each (self->held, s_free, NULL);
    hb_umap_destroy (&self->held);
    self->held = fresh;
    self->lost = false;
    return 0;
}

uint64_t
hb_refusals_total (const hb_refusals_t *self)
{
    return self->total;
}

size_t
hb_refusals_held (const hb_refusals_t *self)
{
    return hb_umap_count (self->held);
}

bool
hb_refusals_exact (const hb_refusals_t *self)
{
    return !self->lost && hb_umap_count (self->held) == 0;
}
