/* chanset.c -- a connection's channel subscriptions: the bounded set, presence, start after the welcome, leave.
 *
 * Broker messages never pass through here: fanout reaches each channel sub
 * directly (its gw_sub_t is what the stream lists). This file only adds and
 * removes them and drives their timers, for client.c and session.c. */
#include "chanset.h"

#include <stdlib.h>
#include <string.h>

#include "fanout.h"

/* A sub that waits for the connection's welcome looks again this often. */
#define GW_WELCOME_POLL_USEC (50 * 1000)

typedef struct {
    gw_sub_t sub;               /* first: fanout holds &entry->sub */
    gw_stream_t *stream;        /* the channel's, while attached */
    bool waiting;               /* subscribed before the welcome: not started */
    bool presence;              /* its presence topic is subscribed */
} gw_chansub_t;

struct gw_chanset {
    gw_delivery_t *out;
    const gw_sub_t *user;
    uint64_t conn_id;           /* names the connection in its presence topics */
    gw_chansub_t **subs;        /* each its own allocation: fanout keeps pointers */
    uint32_t count, cap;
};

gw_chanset_t *
gw_chanset_new (gw_delivery_t *out, const gw_sub_t *user)
{
    gw_chanset_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->out = out;
    self->user = user;
    self->conn_id = ++out->env->next_conn_id;
    return self;
}

static void
s_presence (gw_chanset_t *self, gw_chansub_t *entry, bool on)
{
    const gw_link_t *link = self->out->env->link;
    size_t len, user_len;
    const char *name = gw_stream_name (entry->stream, &len);
    const char *user = gw_stream_name (self->user->stream, &user_len);
    /* a subscription the link could not take: the presence count misses
     * this connection until it resubscribes (the XSUB's queue is far above
     * any burst, upstream.c) */
    if (link && link->presence (link->ctx, name, len, user, user_len, self->conn_id, on) == 0)
        entry->presence = on;
}

static void
s_leave (gw_chanset_t *self, gw_chansub_t *entry)
{
    gw_session_env_t *env = self->out->env;
    if (entry->presence)
        s_presence (self, entry, false);
    gw_sub_fini (&entry->sub);
    gw_fanout_detach (env->fanout, entry->stream, &entry->sub);
    env->metrics->channel_subscriptions--;
    free (entry);
}

void
gw_chanset_destroy (gw_chanset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_chanset_t *self = *self_p;
    for (uint32_t i = 0; i < self->count; i++)
        s_leave (self, self->subs[i]);
    free (self->subs);
    free (self);
    *self_p = NULL;
}

size_t
gw_chanset_count (const gw_chanset_t *self)
{
    return self ? self->count : 0;
}

static int
s_index (const gw_chanset_t *self, const char *name, size_t len)
{
    for (uint32_t i = 0; i < self->count; i++) {
        size_t n;
        const char *held = gw_stream_name (self->subs[i]->stream, &n);
        if (n == len && memcmp (held, name, len) == 0)
            return (int) i;
    }
    return -1;
}

gw_sub_t *
gw_chanset_find (gw_chanset_t *self, const char *name, size_t len)
{
    int i = self ? s_index (self, name, len) : -1;
    return i < 0 ? NULL : &self->subs[i]->sub;
}

int
gw_chanset_add (gw_chanset_t *self, const char *name, size_t len, bool has_position,
                uint64_t epoch, uint64_t offset)
{
    gw_session_env_t *env = self->out->env;
    if (self->count == self->cap) {
        uint32_t cap = self->cap ? self->cap * 2 : 4;
        gw_chansub_t **subs = realloc (self->subs, cap * sizeof *subs);
        if (!subs)
            return -1;
        self->subs = subs;
        self->cap = cap;
    }
    gw_chansub_t *entry = calloc (1, sizeof *entry);
    if (!entry)
        return -1;
    gw_sub_init (&entry->sub, self->out);
    if (has_position)
        gw_sub_set_position (&entry->sub, epoch, offset);
    entry->stream = gw_fanout_attach (env->fanout, GW_STREAM_CHANNEL, name, len, &entry->sub);
    if (!entry->stream) {
        free (entry);
        return -1;
    }
    self->subs[self->count++] = entry;
    env->metrics->channel_subscriptions++;
    s_presence (self, entry, true);
    if (self->out->welcomed)
        gw_sub_start (&entry->sub, entry->stream);
    else {
        /* Until then it is attached but idle: what the stream brings is
         * covered by the resume it sends once started. */
        entry->waiting = true;
        gw_delivery_timer (self->out, GW_WELCOME_POLL_USEC);
    }
    return 0;
}

int
gw_chanset_remove (gw_chanset_t *self, const char *name, size_t len)
{
    int i = self ? s_index (self, name, len) : -1;
    if (i < 0)
        return -1;
    gw_chansub_t *entry = self->subs[i];
    self->subs[i] = self->subs[--self->count];
    s_leave (self, entry);
    return 0;
}

void
gw_chanset_on_timer (gw_chanset_t *self)
{
    if (!self)
        return;
    bool still_waiting = false;
    for (uint32_t i = 0; i < self->count; i++) {
        gw_chansub_t *entry = self->subs[i];
        if (!entry->waiting)
            gw_sub_on_timer (&entry->sub);
        else if (self->out->welcomed) {
            entry->waiting = false;
            gw_sub_start (&entry->sub, entry->stream);
        }
        else
            still_waiting = true;
    }
    if (still_waiting)
        gw_delivery_timer (self->out, GW_WELCOME_POLL_USEC);
}
