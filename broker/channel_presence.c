/* channel_presence.c -- who is in each channel: (user, connection) entries from the gateways' p: topics.
 *
 * Three maps, each record owned by exactly one of them:
 *   entries: topic bytes -> s_entry (one per subscribed presence topic,
 *            i.e. one per (connection, channel)), pointing at its member;
 *   members: channel NUL user -> s_member (one per (channel, user) with at
 *            least one connection), linked into its channel's list;
 *   chans:   channel -> s_chan (one per channel with at least one member):
 *            the member list, the distinct user count and the connections.
 * An entry's removal walks up: a member without connections goes, then a
 * channel without members. Everything is O(1) per subscription message; an
 * answer walks one channel's member list, at most the users it returns. */
#include "channel_presence.h"
#include "refusals.h"
#include "umap.h"

#include <stdlib.h>
#include <string.h>

typedef struct s_chan s_chan_t;
typedef struct s_member s_member_t;

struct s_chan {
    s_member_t *head;           /* its members, newest first */
    size_t      users;          /* members */
    uint64_t    connections;    /* entries, over all members */
    size_t      len;
    char        name[];
};

struct s_member {
    s_chan_t   *chan;
    s_member_t *prev, *next;    /* in chan's list */
    uint64_t    connections;    /* entries of this user in this channel */
    size_t      user_off;       /* where the user starts in key */
    size_t      len;
    char        key[];          /* channel NUL user */
};

typedef struct {
    s_member_t *member;
    size_t      len;
    char        topic[];
} s_entry_t;

struct hb_chanpres {
    size_t         max_entries;
    hb_umap_t     *entries, *members, *chans;
    hb_refusals_t *refusals;    /* topics refused, until they leave */
};

static void
s_free (void *value, void *arg)
{
    (void) arg;
    free (value);
}

void
hb_chanpres_destroy (hb_chanpres_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_chanpres_t *self = *self_p;
    hb_umap_t **maps[] = { &self->entries, &self->members, &self->chans };
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++)
        if (*maps[i]) {
            hb_umap_each (*maps[i], s_free, NULL);
            hb_umap_destroy (maps[i]);
        }
    hb_refusals_destroy (&self->refusals);
    free (self);
    *self_p = NULL;
}

hb_chanpres_t *
hb_chanpres_new (size_t max_entries)
{
    hb_chanpres_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_entries = max_entries;
    self->entries = hb_umap_new (max_entries);
    self->members = hb_umap_new (max_entries);
    self->chans = hb_umap_new (max_entries);
    self->refusals = hb_refusals_new (max_entries);
    if (!self->entries || !self->members || !self->chans || !self->refusals)
        hb_chanpres_destroy (&self);
    return self;
}

int
hb_chanpres_clear (hb_chanpres_t *self)
{
    hb_chanpres_t *fresh = hb_chanpres_new (self->max_entries);
    if (!fresh || hb_refusals_forget (self->refusals) != 0) {
        hb_chanpres_destroy (&fresh);
        return -1;
    }
    hb_chanpres_t old = *self;
    self->entries = fresh->entries;
    self->members = fresh->members;
    self->chans = fresh->chans;
    fresh->entries = old.entries;
    fresh->members = old.members;
    fresh->chans = old.chans;
    hb_chanpres_destroy (&fresh);       /* the old maps and their records */
    return 0;
}

/* The member leaves when its last connection does, the channel with its
 * last member. */
static void
s_member_release (hb_chanpres_t *self, s_member_t *m)
{
    if (m->connections > 0)
        return;
    s_chan_t *c = m->chan;
    if (m->prev)
        m->prev->next = m->next;
    else
        c->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    c->users--;
    hb_umap_remove (self->members, hb_hash (m->key, m->len), m->key, m->len);
    free (m);
    if (c->users == 0) {
        hb_umap_remove (self->chans, hb_hash (c->name, c->len), c->name, c->len);
        free (c);
    }
}

/* The (channel, user) member, made with its channel when new. NULL on out
 * of memory (nothing left behind). */
static s_member_t *
s_member_get (hb_chanpres_t *self, hp_str_t channel, hp_str_t user)
{
    char key[HP_CHANNEL_MAX + 1 + HP_USER_MAX];
    if (channel.len > HP_CHANNEL_MAX || user.len > HP_USER_MAX)
        return NULL;
    memcpy (key, channel.ptr, channel.len);
    key[channel.len] = '\0';
    memcpy (key + channel.len + 1, user.ptr, user.len);
    size_t len = channel.len + 1 + user.len;
    uint64_t hash = hb_hash (key, len);
    s_member_t *m = hb_umap_get (self->members, hash, key, len);
    if (m)
        return m;
    uint64_t chash = hb_hash (channel.ptr, channel.len);
    s_chan_t *c = hb_umap_get (self->chans, chash, channel.ptr, channel.len);
    bool new_chan = !c;
    if (new_chan) {
        c = calloc (1, sizeof *c + channel.len);
        if (!c)
            return NULL;
        c->len = channel.len;
        memcpy (c->name, channel.ptr, channel.len);
        if (hb_umap_put (self->chans, chash, c->name, c->len, c) != 0) {
            free (c);
            return NULL;
        }
    }
    m = calloc (1, sizeof *m + len);
    if (m) {
        m->chan = c;
        m->user_off = channel.len + 1;
        m->len = len;
        memcpy (m->key, key, len);
        if (hb_umap_put (self->members, hash, m->key, m->len, m) == 0) {
            m->next = c->head;
            if (c->head)
                c->head->prev = m;
            c->head = m;
            c->users++;
            return m;
        }
        free (m);
    }
    if (new_chan) {
        hb_umap_remove (self->chans, chash, c->name, c->len);
        free (c);
    }
    return NULL;
}

int
hb_chanpres_add (hb_chanpres_t *self, const char *topic, size_t len,
                 hp_str_t channel, hp_str_t user)
{
    uint64_t hash = hb_hash (topic, len);
    if (hb_umap_get (self->entries, hash, topic, len))
        return 0;
    s_member_t *m = NULL;
    s_entry_t *e = NULL;
    if (hb_umap_count (self->entries) >= self->max_entries
    ||  !(m = s_member_get (self, channel, user))
    ||  !(e = malloc (sizeof *e + len)))
        goto refused;
    e->member = m;
    e->len = len;
    memcpy (e->topic, topic, len);
    if (hb_umap_put (self->entries, hash, e->topic, e->len, e) != 0) {
        free (e);
        goto refused;
    }
    m->connections++;
    m->chan->connections++;
    /* refused before, recorded now (its unsubscribe and a new subscribe
     * from a reconnected gateway can cross) */
    hb_refusals_remove (self->refusals, hash);
    return 0;
refused:
    if (m)
        s_member_release (self, m);   /* a member made for it alone goes */
    hb_refusals_add (self->refusals, hash);
    return -1;
}

void
hb_chanpres_remove (hb_chanpres_t *self, const char *topic, size_t len,
                    hp_str_t channel, hp_str_t user)
{
    (void) channel;
    (void) user;                      /* the entry knows its member */
    uint64_t hash = hb_hash (topic, len);
    s_entry_t *e = hb_umap_remove (self->entries, hash, topic, len);
    if (!e) {
        hb_refusals_remove (self->refusals, hash);
        return;
    }
    s_member_t *m = e->member;
    free (e);
    m->connections--;
    m->chan->connections--;
    s_member_release (self, m);
}

size_t
hb_chanpres_users (const hb_chanpres_t *self, const char *channel, size_t len,
                   size_t max, void (*fn) (void *arg, const char *user, size_t len),
                   void *arg, uint64_t *connections)
{
    const s_chan_t *c = hb_umap_get (self->chans, hb_hash (channel, len), channel, len);
    *connections = c ? c->connections : 0;
    if (!c)
        return 0;
    size_t given = 0;
    for (const s_member_t *m = c->head; m && given < max; m = m->next, given++)
        fn (arg, m->key + m->user_off, m->len - m->user_off);
    return c->users;
}

size_t
hb_chanpres_count (const hb_chanpres_t *self)
{
    return hb_umap_count (self->entries);
}

uint64_t
hb_chanpres_refused (const hb_chanpres_t *self)
{
    return hb_refusals_total (self->refusals);
}

size_t
hb_chanpres_overflow (const hb_chanpres_t *self)
{
    return hb_refusals_held (self->refusals);
}

bool
hb_chanpres_exact (const hb_chanpres_t *self)
{
    return hb_refusals_exact (self->refusals);
}
