/* presence.c -- the set of users whose topic some gateway subscribes to. */
#include "presence.h"
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

/* A user subscribed at the XPUB but refused by the full set, known only by
 * its hash (the map's key is these 8 bytes): while any is left the set
 * is not exact. Tracking them is what lets exactness come back: ZeroMQ
 * reports an unsubscribe only for a topic it held and only once its last
 * subscriber left, so each refused user's unsubscribe arrives exactly once,
 * and a set that only counted refusals (every gateway's subscribe of the
 * same user is reported) could never tell when the last one went. Two
 * refused users with one 64-bit keyed hash would make exactness return
 * early; the hash is SipHash under a random key, so nobody can pick them. */
typedef struct {
    uint64_t hash;
} s_overflow_t;

struct hb_presence {
    size_t     max_users;
    hb_umap_t *map;
    hb_umap_t *overflow;     /* s_overflow_t of refused users still subscribed */
    bool       lost;         /* overflow itself was full: exactness is gone */
    uint64_t   refused;
};

hb_presence_t *
hb_presence_new (size_t max_users)
{
    hb_presence_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_users = max_users;
    self->map = hb_umap_new (max_users);
    self->overflow = hb_umap_new (max_users);
    if (!self->map || !self->overflow) {
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
    if (self->overflow) {
        hb_umap_each (self->overflow, s_free_entry, NULL);
        hb_umap_destroy (&self->overflow);
    }
    free (self);
    *self_p = NULL;
}

int
hb_presence_clear (hb_presence_t *self)
{
    hb_presence_t *fresh = hb_presence_new (self->max_users);
    if (!fresh)
        return -1;
    hb_umap_t *map = self->map, *overflow = self->overflow;
    self->map = fresh->map;
    self->overflow = fresh->overflow;
    self->lost = false;
    fresh->map = map;
    fresh->overflow = overflow;
    hb_presence_destroy (&fresh);       /* the old maps and their entries */
    return 0;
}

/* Records a refused user in the overflow (once). */
static void
s_overflow_add (hb_presence_t *self, uint64_t hash)
{
    self->refused++;
    if (self->lost || hb_umap_get (self->overflow, hash, (const char *) &hash, sizeof hash))
        return;
    s_overflow_t *o = malloc (sizeof *o);
    if (o) {
        o->hash = hash;
        if (hb_umap_put (self->overflow, hash, (const char *) &o->hash, sizeof o->hash, o) == 0)
            return;
        free (o);
    }
    self->lost = true;   /* cannot follow it any more: never exact again */
}

static void
s_overflow_remove (hb_presence_t *self, uint64_t hash)
{
    free (hb_umap_remove (self->overflow, hash, (const char *) &hash, sizeof hash));
}

int
hb_presence_add (hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    if (hb_umap_get (self->map, hash, user, len))
        return 0;
    s_entry_t *entry = malloc (sizeof *entry + len);
    if (!entry) {
        s_overflow_add (self, hash);
        return -1;
    }
    entry->last = 0;
    entry->len = len;
    memcpy (entry->user, user, len);
    if (hb_umap_put (self->map, hash, entry->user, len, entry) != 0) {
        free (entry);
        s_overflow_add (self, hash);
        return -1;
    }
    /* Refused before, recorded now (another gateway subscribed it after
     * room came back): the set knows it again. */
    if (hb_umap_count (self->overflow))
        s_overflow_remove (self, hash);
    return 0;
}

void
hb_presence_remove (hb_presence_t *self, uint64_t hash, const char *user, size_t len)
{
    void *entry = hb_umap_remove (self->map, hash, user, len);
    if (entry)
        free (entry);
    else if (hb_umap_count (self->overflow))
        s_overflow_remove (self, hash);
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

size_t
hb_presence_overflow (const hb_presence_t *self)
{
    return hb_umap_count (self->overflow);
}

bool
hb_presence_exact (const hb_presence_t *self)
{
    return !self->lost && hb_umap_count (self->overflow) == 0;
}
