/* presence.c -- the set of users whose topic some gateway subscribes to. */
#include "presence.h"
#include "umap.h"

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
    hb_umap_t *map;
    uint64_t   refused;
};

hb_presence_t *
hb_presence_new (size_t max_users)
{
    hb_presence_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->map = hb_umap_new (max_users);
    if (!self->map) {
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
    free (self);
    *self_p = NULL;
}

int
hb_presence_add (hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    if (hb_umap_get (self->map, hash, user, len))
        return 0;
    s_entry_t *entry = malloc (sizeof *entry + len);
    if (!entry) {
        self->refused++;
        return -1;
    }
    entry->last = 0;
    entry->len = len;
    memcpy (entry->user, user, len);
    if (hb_umap_put (self->map, hash, entry->user, len, entry) != 0) {
        free (entry);
        self->refused++;
        return -1;
    }
    return 0;
}

void
hb_presence_remove (hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    free (hb_umap_remove (self->map, hash, user, len));
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
    return self->refused;
}

bool
hb_presence_exact (const hb_presence_t *self)
{
    return self->refused == 0;
}
