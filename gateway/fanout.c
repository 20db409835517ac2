/* fanout.c -- user -> local sessions map; routes broker messages to sessions. */
#include "fanout.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "upstream.h"

/* Chained hash table keyed by user id. It holds only users with a local
 * session, so its size is bounded by --max-connections; buckets double when
 * the load passes 1 and never shrink (a few KB at most per 1,000 users). */
#define GW_FANOUT_BUCKETS_MIN 64
#define GW_RESUBSCRIBE_MAX 8

struct gw_user {
    gw_user_t *next;            /* bucket chain */
    gw_session_t **sessions;    /* this user's local sessions, unordered */
    uint32_t count, cap;
    uint32_t hash;
    uint32_t subscriptions;     /* ZMQ_SUBSCRIBE calls to undo on removal */
    bool synced;                /* a sync arrived since we subscribed */
    bool epoch_known;
    uint64_t epoch;             /* the broker epoch of the last sync/event */
    size_t len;
    char name[];                /* len bytes + NUL */
};

struct gw_fanout {
    gw_user_t **buckets;
    size_t bucket_count;        /* power of two */
    size_t user_count;
    gw_metrics_t *metrics;
    gw_upstream_t *upstream;
};

static uint32_t
s_hash (const char *s, size_t len)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char) s[i];
        h *= 16777619u;
    }
    return h;
}

gw_fanout_t *
gw_fanout_new (gw_metrics_t *metrics)
{
    gw_fanout_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->bucket_count = GW_FANOUT_BUCKETS_MIN;
    self->buckets = calloc (self->bucket_count, sizeof *self->buckets);
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    self->metrics = metrics;
    return self;
}

void
gw_fanout_destroy (gw_fanout_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_fanout_t *self = *self_p;
    for (size_t i = 0; i < self->bucket_count; i++) {
        gw_user_t *user = self->buckets[i];
        while (user) {
            gw_user_t *next = user->next;
            free (user->sessions);
            free (user);
            user = next;
        }
    }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

void
gw_fanout_set_upstream (gw_fanout_t *self, gw_upstream_t *upstream)
{
    self->upstream = upstream;
}

static gw_user_t *
s_find (const gw_fanout_t *self, const char *name, size_t len, uint32_t hash)
{
    gw_user_t *user = self->buckets[hash & (self->bucket_count - 1)];
    for (; user; user = user->next)
        if (user->hash == hash && user->len == len && memcmp (user->name, name, len) == 0)
            return user;
    return NULL;
}

static void
s_grow (gw_fanout_t *self)
{
    size_t count = self->bucket_count * 2;
    gw_user_t **buckets = calloc (count, sizeof *buckets);
    if (!buckets)
        return;     /* longer chains, still correct */
    for (size_t i = 0; i < self->bucket_count; i++) {
        gw_user_t *user = self->buckets[i];
        while (user) {
            gw_user_t *next = user->next;
            size_t b = user->hash & (count - 1);
            user->next = buckets[b];
            buckets[b] = user;
            user = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->bucket_count = count;
}

gw_user_t *
gw_fanout_attach (gw_fanout_t *self, const char *name, size_t len, gw_session_t *session)
{
    uint32_t hash = s_hash (name, len);
    gw_user_t *user = s_find (self, name, len, hash);
    bool fresh = !user;
    if (fresh) {
        user = calloc (1, sizeof *user + len + 1);
        if (!user)
            return NULL;
        user->hash = hash;
        user->len = len;
        memcpy (user->name, name, len);
    }
    if (user->count == user->cap) {
        uint32_t cap = user->cap ? user->cap * 2 : 1;
        gw_session_t **sessions = realloc (user->sessions, cap * sizeof *sessions);
        if (!sessions) {
            if (fresh)
                free (user);
            return NULL;
        }
        user->sessions = sessions;
        user->cap = cap;
    }
    user->sessions[user->count++] = session;
    if (fresh) {
        if (self->user_count >= self->bucket_count)
            s_grow (self);
        size_t b = hash & (self->bucket_count - 1);
        user->next = self->buckets[b];
        self->buckets[b] = user;
        self->user_count++;
        self->metrics->users = self->user_count;
        if (self->upstream && gw_upstream_subscribe (self->upstream, name, len) == 0)
            user->subscriptions = 1;
    }
    return user;
}

static void
s_remove_user (gw_fanout_t *self, gw_user_t *user)
{
    gw_user_t **link = &self->buckets[user->hash & (self->bucket_count - 1)];
    while (*link != user)
        link = &(*link)->next;
    *link = user->next;
    self->user_count--;
    self->metrics->users = self->user_count;
    /* the SUB socket counts subscriptions; each one we added must go */
    for (; user->subscriptions; user->subscriptions--)
        if (self->upstream)
            gw_upstream_unsubscribe (self->upstream, user->name, user->len);
    free (user->sessions);
    free (user);
}

void
gw_fanout_detach (gw_fanout_t *self, gw_user_t *user, gw_session_t *session)
{
    if (!user)
        return;
    for (uint32_t i = 0; i < user->count; i++)
        if (user->sessions[i] == session) {
            user->sessions[i] = user->sessions[--user->count];
            break;
        }
    if (user->count == 0)
        s_remove_user (self, user);
}

void
gw_fanout_resubscribe (gw_fanout_t *self, gw_user_t *user)
{
    /* A few extra subscriptions are enough to recover a lost sync; past
     * that the broker is down, and ZeroMQ re-sends the subscription (and the
     * broker a sync) when it reconnects. The cap keeps the unsubscribe loop
     * at removal short. */
    if (self->upstream && user->subscriptions < GW_RESUBSCRIBE_MAX
    &&  gw_upstream_subscribe (self->upstream, user->name, user->len) == 0) {
        user->subscriptions++;
        self->metrics->resubscribes_total++;
    }
}

/* A broker restart shows up as a new epoch on a sync or an event: every
 * session of the user starts over from the given offset (PROTOCOL.md,
 * client protocol item 4). */
static void
s_check_epoch (gw_user_t *user, uint64_t epoch, uint64_t offset)
{
    if (user->epoch_known && user->epoch == epoch)
        return;
    bool changed = user->epoch_known;
    user->epoch = epoch;
    user->epoch_known = true;
    if (!changed)
        return;
    /* a session may close itself inside the callback but stays in the
     * array until its CLOSED callback, so the loop is safe */
    for (uint32_t i = 0; i < user->count; i++)
        gw_session_on_epoch_change (user->sessions[i], epoch, offset);
}

void
gw_fanout_on_sync (gw_fanout_t *self, hp_str_t name, uint64_t epoch, uint64_t offset)
{
    gw_user_t *user = s_find (self, name.ptr, name.len, s_hash (name.ptr, name.len));
    if (!user)
        return;     /* unsubscribed meanwhile */
    s_check_epoch (user, epoch, offset);
    if (user->synced)
        return;
    user->synced = true;
    for (uint32_t i = 0; i < user->count; i++)
        gw_session_on_sync (user->sessions[i]);
}

void
gw_fanout_on_event (gw_fanout_t *self, hp_str_t name, uint64_t epoch, uint64_t offset,
                    const void *json, size_t len)
{
    gw_user_t *user = s_find (self, name.ptr, name.len, s_hash (name.ptr, name.len));
    if (!user || user->count == 0) {
        self->metrics->events_dropped_total[GW_DROP_NO_SESSION]++;
        return;
    }
    s_check_epoch (user, epoch, offset ? offset - 1 : 0);
    /* one copy of the frame for all of this user's sessions */
    gw_blob_t *blob = gw_blob_new (json, len, offset);
    if (!blob) {
        self->metrics->events_dropped_total[GW_DROP_NO_MEMORY] += user->count;
        return;
    }
    for (uint32_t i = 0; i < user->count; i++)
        gw_session_on_event (user->sessions[i], blob);
    gw_blob_release (&blob);
}

void
gw_fanout_on_multicast (gw_fanout_t *self, const hp_wire_head_t *head,
                        const void *json, size_t len)
{
    gw_blob_t *blob = NULL;     /* made for the first recipient held here */
    const char *cursor = head->recipients;
    hp_str_t name;
    while (hp_wire_next_recipient (head, &cursor, &name)) {
        gw_user_t *user = s_find (self, name.ptr, name.len, s_hash (name.ptr, name.len));
        if (!user || user->count == 0)
            continue;   /* held by another gateway, or gone meanwhile */
        if (!blob && !(blob = gw_blob_new (json, len, head->offset))) {
            self->metrics->events_dropped_total[GW_DROP_NO_MEMORY] += user->count;
            continue;
        }
        self->metrics->events_in_total++;
        s_check_epoch (user, head->epoch, head->offset ? head->offset - 1 : 0);
        for (uint32_t i = 0; i < user->count; i++)
            gw_session_on_event (user->sessions[i], blob);
    }
    gw_blob_release (&blob);
}

void
gw_fanout_on_resume_reply (gw_fanout_t *self, const hp_resume_reply_t *reply)
{
    gw_user_t *user = s_find (self, reply->user.ptr, reply->user.len,
                              s_hash (reply->user.ptr, reply->user.len));
    if (user && reply->rid)
        for (uint32_t i = 0; i < user->count; i++)
            if (gw_session_rid (user->sessions[i]) == reply->rid) {
                gw_session_on_resume_reply (user->sessions[i], reply);
                return;
            }
    /* the connection closed, or this answers a request we already resent */
    self->metrics->events_dropped_total[GW_DROP_STALE_REPLY]++;
}

void
gw_fanout_on_link_lost (gw_fanout_t *self)
{
    for (size_t b = 0; b < self->bucket_count; b++)
        for (gw_user_t *user = self->buckets[b]; user; user = user->next) {
            user->synced = false;
            for (uint32_t i = 0; i < user->count; i++)
                gw_session_on_link_lost (user->sessions[i]);
        }
}

size_t
gw_fanout_user_count (const gw_fanout_t *self)
{
    return self->user_count;
}

const char *
gw_user_name (const gw_user_t *user, size_t *len)
{
    if (len)
        *len = user->len;
    return user->name;
}

bool
gw_user_synced (const gw_user_t *user)
{
    return user->synced;
}

uint64_t
gw_user_epoch (const gw_user_t *user)
{
    return user->epoch;
}
