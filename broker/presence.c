/* presence.c -- the set of users whose topic some gateway subscribes to. */
#include "presence.h"
#include "refusals.h"
#include "umap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One allocation per online user: the map's key points into it. last is
 * the offset of the last event routed to the user since they came online
 * (the "prev" the next one carries, PROTOCOL.md). */
typedef struct {
    uint64_t last;
    size_t len;
    char   user[];
} s_entry_t;

struct hb_presence {
    size_t         max_users;
    hb_umap_t     *map;
    hb_refusals_t *refusals;  /* users refused by the full map, until they leave */
};

hb_presence_t *
hb_presence_new (size_t max_users)
{
    hb_presence_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_users = max_users;
    self->map = hb_umap_new (max_users);
    self->refusals = hb_refusals_new (max_users);
    if (!self->map || !self->refusals) {
        hb_presence_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_free_entry (void *value, void *arg)
{
    free (value);
}

void
hb_presence_destroy (hb_presence_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_presence_t *self = *self_p;
    if (self->map) {
        hb_umap_each (self->map, s_free_entry, NULL);
        hb_umap_destroy (&self->map);
    }
    hb_refusals_destroy (&self->refusals);
    free (self);
    *self_p = NULL;
}

int
hb_presence_clear (hb_presence_t *self)
{
    hb_umap_t *fresh = hb_umap_new (self->max_users);
    if (!fresh || hb_refusals_forget (self->refusals) != 0) {
        hb_umap_destroy (&fresh);
        return -1;
    }
    hb_umap_each (self->map, s_free_entry, NULL);
    hb_umap_destroy (&self->map);
    self->map = fresh;
    return 0;
}

int
hb_presence_add (hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    if (hb_umap_get (self->map, hash, user, len))
        return 0;
    s_entry_t *entry = malloc (sizeof *entry + len);
    if (!entry) {
        hb_refusals_add (self->refusals, hash);
        return -1;
    }
    entry->last = 0;
    entry->len = len;
    memcpy (entry->user, user, len);
    if (hb_umap_put (self->map, hash, entry->user, len, entry) != 0) {
        free (entry);
        hb_refusals_add (self->refusals, hash);
        return -1;
    }
    /* Refused before, recorded now (another gateway subscribed it after
     * room came back): the set knows it again. */
    hb_refusals_remove (self->refusals, hash);
    return 0;
}

void
hb_presence_remove (hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    void *entry = hb_umap_remove (self->map, hash, user, len);
    if (entry)
        free (entry);
    else
        hb_refusals_remove (self->refusals, hash);
}

bool
hb_presence_online (const hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    return hb_umap_get (self->map, hash, user, len) != NULL;
}

uint64_t *
hb_presence_last (const hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    s_entry_t *entry = hb_umap_get (self->map, hash, user, len);
    return entry ? &entry->last : NULL;
}

void
hb_presence_prefetch (const hb_presence_t *self, uint64_t hash)
{
    hb_umap_prefetch (self->map, hash);
}

size_t
hb_presence_count (const hb_presence_t *self)
{
    return hb_umap_count (self->map);
}

uint64_t
hb_presence_refused (const hb_presence_t *self)
{
    return hb_refusals_total (self->refusals);
}

size_t
hb_presence_overflow (const hb_presence_t *self)
{
    return hb_refusals_held (self->refusals);
}

bool
hb_presence_exact (const hb_presence_t *self)
{
    return hb_refusals_exact (self->refusals);
}
