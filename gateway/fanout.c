/* fanout.c -- stream -> local subscribers map; routes broker messages to them.
 *
 * Broker messages come down from upstream and go on to the subs (one per
 * connection following the stream); this file never calls upstream, it
 * sends its subscriptions through the gw_link_t interface. Streams are
 * users' and channels'; broadcasts have no stream of their own here: they
 * go into every user stream (a user's resume at the broker covers them),
 * with their own prev chain checked in `broadcast`. */
#include "fanout.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "seen.h"
#include "sub.h"

/* Chained hash table keyed by (kind, name). It holds only streams with a
 * local subscriber, so its size is bounded by --max-connections; buckets
 * double when the load passes 1 and never shrink (a few KB at most per
 * 1,000 streams). */
#define GW_FANOUT_BUCKETS_MIN 64
#define GW_RESUBSCRIBE_MAX 8

struct gw_stream {
    gw_stream_t *next;          /* bucket chain */
    gw_sub_t **subs;            /* the local connections following it, unordered */
    uint32_t count, cap;
    uint32_t hash;
    uint32_t subscriptions;     /* ZMQ_SUBSCRIBE calls to undo on removal */
    uint8_t kind;               /* gw_stream_kind_t */
    gw_seen_t seen;             /* epoch, how far the link is complete */
    uint64_t latest;            /* the offset of the last sync or event about it */
    size_t len;
    char name[];                /* len bytes + NUL */
};

struct gw_fanout {
    gw_stream_t **buckets;
    size_t bucket_count;        /* power of two */
    size_t stream_count;
    size_t user_count;
    size_t channel_count;
    gw_seen_t broadcast;        /* the broadcast chain: how far it arrived */
    gw_metrics_t *metrics;
    const gw_link_t *link;
    gw_audit_t *audit;
    uint64_t tick_epoch;        /* the last tick's epoch and number */
    uint64_t tick_seq;
};

/* Keyed (proto/hash.c): stream names come from tokens and producers, so
 * the unseeded FNV-1a this was let anyone choose names sharing a bucket. */
static uint32_t
s_hash (gw_stream_kind_t kind, const char *s, size_t len)
{
    /* The kind folds into the key's top bits: channels and users may share
     * names, and still land apart. */
    return (uint32_t) (hp_hash (s, len) ^ ((uint64_t) kind << 29));
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
    /* broadcasts need no sync: every gateway subscribes their topic at
     * start, before any user's, so each user's first resume covers what
     * came before the first broadcast that arrives here */
    self->broadcast.synced = true;
    return self;
}

void
gw_fanout_destroy (gw_fanout_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_fanout_t *self = *self_p;
    for (size_t i = 0; i < self->bucket_count; i++) {
        gw_stream_t *stream = self->buckets[i];
        while (stream) {
            gw_stream_t *next = stream->next;
            free (stream->subs);
            free (stream);
            stream = next;
        }
    }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

void
gw_fanout_set_link (gw_fanout_t *self, const gw_link_t *link)
{
    self->link = link;
}

void
gw_fanout_set_audit (gw_fanout_t *self, gw_audit_t *audit)
{
    self->audit = audit;
}

static int
s_subscribe (gw_fanout_t *self, const gw_stream_t *stream, bool on)
{
    const gw_link_t *link = self->link;
    return link ? link->subscribe (link->ctx, (gw_stream_kind_t) stream->kind,
                                   stream->name, stream->len, on) : -1;
}

static gw_stream_t *
s_find (const gw_fanout_t *self, gw_stream_kind_t kind, const char *name, size_t len,
        uint32_t hash)
{
    gw_stream_t *stream = self->buckets[hash & (self->bucket_count - 1)];
    for (; stream; stream = stream->next)
        if (stream->hash == hash && stream->len == len && stream->kind == kind
        &&  memcmp (stream->name, name, len) == 0)
            return stream;
    return NULL;
}

static gw_stream_t *
s_find_user (const gw_fanout_t *self, hp_str_t name)
{
    return s_find (self, GW_STREAM_USER, name.ptr, name.len,
                   s_hash (GW_STREAM_USER, name.ptr, name.len));
}

/* The local stream a user's or channel's head or reply names, or NULL
 * (also for the broadcast stream, which has none). */
static gw_stream_t *
s_find_stream (const gw_fanout_t *self, const hp_stream_t *stream)
{
    gw_stream_kind_t kind;
    switch (stream->kind) {
    case HP_STREAM_USER:    kind = GW_STREAM_USER; break;
    case HP_STREAM_CHANNEL: kind = GW_STREAM_CHANNEL; break;
    default:                return NULL;
    }
    return s_find (self, kind, stream->name.ptr, stream->name.len,
                   s_hash (kind, stream->name.ptr, stream->name.len));
}

static void
s_grow (gw_fanout_t *self)
{
    size_t count = self->bucket_count * 2;
    gw_stream_t **buckets = calloc (count, sizeof *buckets);
    if (!buckets)
        return;     /* longer chains, still correct */
    for (size_t i = 0; i < self->bucket_count; i++) {
        gw_stream_t *stream = self->buckets[i];
        while (stream) {
            gw_stream_t *next = stream->next;
            size_t b = stream->hash & (count - 1);
            stream->next = buckets[b];
            buckets[b] = stream;
            stream = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->bucket_count = count;
}

static void
s_count (gw_fanout_t *self, const gw_stream_t *stream, int delta)
{
    self->stream_count += (size_t) delta;
    if (stream->kind == GW_STREAM_USER) {
        self->user_count += (size_t) delta;
        self->metrics->users = self->user_count;
    }
    else {
        self->channel_count += (size_t) delta;
        self->metrics->channels = self->channel_count;
    }
}

gw_stream_t *
gw_fanout_attach (gw_fanout_t *self, gw_stream_kind_t kind, const char *name, size_t len,
                  gw_sub_t *sub)
{
    uint32_t hash = s_hash (kind, name, len);
    gw_stream_t *stream = s_find (self, kind, name, len, hash);
    bool fresh = !stream;
    if (fresh) {
        stream = calloc (1, sizeof *stream + len + 1);
        if (!stream)
            return NULL;
        stream->hash = hash;
        stream->kind = (uint8_t) kind;
        stream->len = len;
        memcpy (stream->name, name, len);
    }
    if (stream->count == stream->cap) {
        uint32_t cap = stream->cap ? stream->cap * 2 : 1;
        gw_sub_t **subs = realloc (stream->subs, cap * sizeof *subs);
        if (!subs) {
            if (fresh)
                free (stream);
            return NULL;
        }
        stream->subs = subs;
        stream->cap = cap;
    }
    stream->subs[stream->count++] = sub;
    if (fresh) {
        if (self->stream_count >= self->bucket_count)
            s_grow (self);
        size_t b = hash & (self->bucket_count - 1);
        stream->next = self->buckets[b];
        self->buckets[b] = stream;
        s_count (self, stream, 1);
        if (s_subscribe (self, stream, true) == 0)
            stream->subscriptions = 1;
    }
    return stream;
}

static void
s_remove (gw_fanout_t *self, gw_stream_t *stream)
{
    gw_stream_t **link = &self->buckets[stream->hash & (self->bucket_count - 1)];
    while (*link != stream)
        link = &(*link)->next;
    *link = stream->next;
    s_count (self, stream, -1);
    /* the XSUB socket counts subscriptions; each one we added must go */
    for (; stream->subscriptions; stream->subscriptions--)
        s_subscribe (self, stream, false);
    free (stream->subs);
    free (stream);
}

void
gw_fanout_detach (gw_fanout_t *self, gw_stream_t *stream, gw_sub_t *sub)
{
    if (!stream)
        return;
    for (uint32_t i = 0; i < stream->count; i++)
        if (stream->subs[i] == sub) {
            stream->subs[i] = stream->subs[--stream->count];
            break;
        }
    if (stream->count == 0)
        s_remove (self, stream);
}

void
gw_fanout_resubscribe (gw_fanout_t *self, gw_stream_t *stream)
{
    /* A few extra subscriptions are enough to recover a lost sync; past
     * that the broker is down, and ZeroMQ re-sends the subscription (and the
     * broker a sync) when it reconnects. The cap keeps the unsubscribe loop
     * at removal short. */
    if (stream->subscriptions < GW_RESUBSCRIBE_MAX && s_subscribe (self, stream, true) == 0) {
        stream->subscriptions++;
        self->metrics->resubscribes_total++;
    }
}

/* Acts on seen.c's verdict for a stream, before the message (if an event)
 * is delivered: a sub that starts a repair now holds that event. */
static void
s_apply (gw_fanout_t *self, gw_stream_t *stream, gw_seen_verdict_t verdict, uint64_t need,
         uint64_t from, uint64_t epoch, uint64_t offset)
{
    /* a connection may close itself inside a callback but stays in the
     * array until its CLOSED callback, so the loops are safe */
    switch (verdict) {
    case GW_SEEN_FIRST_SYNC:
        for (uint32_t i = 0; i < stream->count; i++)
            gw_sub_on_sync (stream->subs[i]);
        break;
    case GW_SEEN_GAP:
        for (uint32_t i = 0; i < stream->count; i++)
            gw_sub_on_gap (stream->subs[i], need, from, GW_CHAIN_OWN);
        /* what was lost here may have been lost for others too, with no
         * later message to show it */
        gw_audit_suspect (self->audit, GW_AUDIT_GAP);
        break;
    case GW_SEEN_EPOCH:
        /* a broker restart: every sub starts over (PROTOCOL.md, client
         * protocol item 4) */
        for (uint32_t i = 0; i < stream->count; i++)
            gw_sub_on_epoch_change (stream->subs[i], epoch, offset);
        break;
    default:
        break;
    }
}

void
gw_fanout_on_sync (gw_fanout_t *self, const hp_wire_head_t *head)
{
    gw_stream_t *stream = s_find_stream (self, &head->stream);
    if (!stream)
        return;     /* unsubscribed meanwhile */
    uint64_t need = 0, from = stream->seen.seen;
    stream->latest = head->offset;   /* before s_apply: a fresh sub welcomes at it */
    gw_seen_verdict_t verdict = gw_seen_on_sync (&stream->seen, head->epoch, head->offset,
                                                 head->aux, &need);
    s_apply (self, stream, verdict, need, from, head->epoch, head->offset);
}

/* One event for one stream held here: the gap check, then every sub. */
static void
s_deliver (gw_fanout_t *self, gw_stream_t *stream, const hp_wire_head_t *head, uint64_t prev,
           gw_blob_t *blob)
{
    uint64_t need = 0, from = stream->seen.seen;
    stream->latest = head->offset;
    gw_seen_verdict_t verdict = gw_seen_on_event (&stream->seen, head->epoch, head->offset,
                                                  prev, &need);
    s_apply (self, stream, verdict, need, from, head->epoch, head->offset ? head->offset - 1 : 0);
    for (uint32_t i = 0; i < stream->count; i++)
        gw_sub_on_event (stream->subs[i], blob, GW_CHAIN_OWN);
}

/* Calls fn on every sub of every user stream: O(streams) per call, as a
 * broadcast reaches every connection anyway. */
static void
s_each_user_sub (gw_fanout_t *self, void (*fn) (gw_fanout_t *, gw_stream_t *, void *),
                 void *arg)
{
    for (size_t b = 0; b < self->bucket_count; b++)
        for (gw_stream_t *stream = self->buckets[b]; stream; stream = stream->next)
            if (stream->kind == GW_STREAM_USER)
                fn (self, stream, arg);
}

typedef struct {
    const hp_wire_head_t *head;
    gw_blob_t *blob;
    uint64_t need, from;        /* a gap of the broadcast chain: (from, need] */
} s_broadcast_t;

static void
s_broadcast_gap (gw_fanout_t *self, gw_stream_t *stream, void *arg)
{
    (void) self;
    const s_broadcast_t *b = arg;
    for (uint32_t i = 0; i < stream->count; i++)
        gw_sub_on_gap (stream->subs[i], b->need, b->from, GW_CHAIN_BROADCAST);
}

static void
s_broadcast_one (gw_fanout_t *self, gw_stream_t *stream, void *arg)
{
    const s_broadcast_t *b = arg;
    const hp_wire_head_t *head = b->head;
    /* a broadcast of a new epoch restarts the user's subs as any event of
     * it would; the user's own chain is not moved (seen.c) */
    stream->latest = head->offset;
    gw_seen_verdict_t verdict = gw_seen_on_other (&stream->seen, head->epoch, head->offset);
    s_apply (self, stream, verdict, 0, 0, head->epoch, head->offset ? head->offset - 1 : 0);
    for (uint32_t i = 0; i < stream->count; i++)
        gw_sub_on_event (stream->subs[i], b->blob, GW_CHAIN_BROADCAST);
    self->metrics->broadcast_frames_total += stream->count;
}

/* A broadcast: into every local user's stream, one shared frame. A hole in
 * the broadcast chain (prev above what arrived) is a gap for every user
 * stream: each connection repairs through its user resume, which covers
 * broadcasts. */
static void
s_on_broadcast (gw_fanout_t *self, const hp_wire_head_t *head, const void *json, size_t len)
{
    s_broadcast_t b = { .head = head, .from = self->broadcast.seen };
    gw_seen_verdict_t verdict = gw_seen_on_event (&self->broadcast, head->epoch, head->offset,
                                                  head->aux, &b.need);
    if (verdict == GW_SEEN_GAP) {
        s_each_user_sub (self, s_broadcast_gap, &b);
        gw_audit_suspect (self->audit, GW_AUDIT_GAP);
    }
    if (self->user_count == 0)
        return;
    if (!(b.blob = gw_blob_new_event (json, len, head->offset, head->at, head->flags,
                                      head->key.ptr, head->key.len))) {
        self->metrics->events_dropped_total[GW_DROP_NO_MEMORY]++;
        return;
    }
    b.blob->broadcast = true;
    s_each_user_sub (self, s_broadcast_one, &b);
    gw_blob_release (&b.blob);
}

void
gw_fanout_on_event (gw_fanout_t *self, const hp_wire_head_t *head, const void *json,
                    size_t len)
{
    if (head->stream.kind == HP_STREAM_BROADCAST) {
        s_on_broadcast (self, head, json, len);
        return;
    }
    gw_stream_t *stream = s_find_stream (self, &head->stream);
    if (!stream || stream->count == 0) {
        self->metrics->events_dropped_total[GW_DROP_NO_SESSION]++;
        return;
    }
    if (stream->kind == GW_STREAM_CHANNEL)
        self->metrics->channel_frames_total += stream->count;
    /* one copy of the frame for all of this stream's connections */
    gw_blob_t *blob = gw_blob_new_event (json, len, head->offset, head->at, head->flags,
                                         head->key.ptr, head->key.len);
    if (!blob) {
        self->metrics->events_dropped_total[GW_DROP_NO_MEMORY] += stream->count;
        return;
    }
    s_deliver (self, stream, head, head->aux, blob);
    gw_blob_release (&blob);
}

void
gw_fanout_on_multicast (gw_fanout_t *self, const hp_wire_head_t *head,
                        const void *json, size_t len)
{
    gw_blob_t *blob = NULL;     /* made for the first recipient held here */
    const char *cursor = head->recipients;
    hp_str_t name;
    uint64_t prev;
    while (hp_wire_next_recipient (head, &cursor, &name, &prev)) {
        gw_stream_t *stream = s_find_user (self, name);
        if (!stream || stream->count == 0)
            continue;   /* held by another gateway, or gone meanwhile */
        if (!blob && !(blob = gw_blob_new_event (json, len, head->offset, head->at, head->flags,
                                                 head->key.ptr, head->key.len))) {
            self->metrics->events_dropped_total[GW_DROP_NO_MEMORY] += stream->count;
            continue;
        }
        self->metrics->events_in_total++;
        s_deliver (self, stream, head, prev, blob);
    }
    gw_blob_release (&blob);
}

void
gw_fanout_on_tick (gw_fanout_t *self, const hp_wire_head_t *head)
{
    /* every gateway receives every tick, so a number skipped means this
     * link dropped messages (the broker's high-water mark), perhaps a
     * user's last events that nothing after them will reveal */
    if (head->epoch == self->tick_epoch && head->aux != self->tick_seq + 1)
        gw_audit_suspect (self->audit, GW_AUDIT_TICK);
    self->tick_epoch = head->epoch;
    self->tick_seq = head->aux;
}

void
gw_fanout_on_audit_answer (gw_fanout_t *self, const hp_wire_head_t *head,
                           const void *body, size_t len)
{
    const char *cursor = body, *end = (const char *) body + len;
    hp_str_t name;
    uint64_t last;
    int rc;
    while ((rc = hp_wire_next_entry (&cursor, end, true, &name, &last)) == 1) {
        hp_stream_t key;
        if (hp_stream_from_key (name.ptr, name.len, &key) != 0) {
            rc = -1;
            break;
        }
        uint64_t need = 0;
        if (key.kind == HP_STREAM_BROADCAST) {
            /* broadcasts the broker routed after the last one that came */
            uint64_t from = self->broadcast.seen;
            if (gw_seen_on_audit (&self->broadcast, head->epoch, last, &need) == GW_SEEN_GAP) {
                s_broadcast_t b = { .head = head, .need = need, .from = from };
                s_each_user_sub (self, s_broadcast_gap, &b);
            }
            continue;
        }
        gw_stream_t *stream = s_find_stream (self, &key);
        if (!stream)
            continue;   /* gone since the request */
        uint64_t from = stream->seen.seen;
        gw_seen_verdict_t verdict = gw_seen_on_audit (&stream->seen, head->epoch, last, &need);
        s_apply (self, stream, verdict, need, from, head->epoch, head->offset);
    }
    if (rc != 0)
        self->metrics->events_dropped_total[GW_DROP_MALFORMED]++;
    gw_audit_on_answer (self->audit, head->aux);
}

/* Appends a stream's key and a NUL to out within max_bytes: 0 or -1. */
static int
s_put_key (hp_buf_t *out, const hp_stream_t *stream, size_t max_bytes)
{
    unsigned char entry[HP_WIRE_ENTRY_MAX];
    unsigned char *end = hp_wire_put_stream_entry (entry, stream, false, 0);
    size_t len = end ? (size_t) (end - entry) : 0;
    if (!end || out->len + len > max_bytes)
        return -1;
    return hp_buf_append (out, entry, len);
}

size_t
gw_fanout_list_keys (const gw_fanout_t *self, gw_fanout_cursor_t *cursor, hp_buf_t *out,
                     size_t max, size_t max_bytes)
{
    size_t n = 0;
    if (!cursor->broadcast_listed) {
        /* the broadcast chain first: it concerns every connection */
        hp_stream_t broadcast = hp_stream_broadcast ();
        if (max == 0 || s_put_key (out, &broadcast, max_bytes) != 0)
            return 0;
        cursor->broadcast_listed = true;
        n++;
    }
    for (; cursor->bucket < self->bucket_count; cursor->bucket++, cursor->skip = 0) {
        size_t i = 0;
        for (gw_stream_t *stream = self->buckets[cursor->bucket]; stream;
             stream = stream->next, i++) {
            if (i < cursor->skip)
                continue;
            hp_stream_t key = stream->kind == GW_STREAM_USER
                            ? hp_stream_user (stream->name, stream->len)
                            : hp_stream_channel (stream->name, stream->len);
            if (n == max || s_put_key (out, &key, max_bytes) != 0) {
                cursor->skip = i;
                return n;
            }
            n++;
        }
    }
    return n;
}

void
gw_fanout_on_disconnect (gw_fanout_t *self, hp_str_t name)
{
    gw_stream_t *stream = s_find_user (self, name);
    if (!stream)
        return;
    /* closing connections stay in the array until their CLOSED callback */
    for (uint32_t i = 0; i < stream->count; i++) {
        gw_delivery_t *out = stream->subs[i]->out;
        if (!gw_delivery_closing (out))
            self->metrics->disconnects_total++;
        gw_delivery_close (out, 4003);
    }
}

void
gw_fanout_on_resume_reply (gw_fanout_t *self, const hp_resume_reply_t *reply)
{
    gw_stream_t *stream = s_find_stream (self, &reply->stream);
    if (stream && reply->rid)
        for (uint32_t i = 0; i < stream->count; i++)
            if (gw_sub_rid (stream->subs[i]) == reply->rid) {
                gw_sub_on_resume_reply (stream->subs[i], reply);
                return;
            }
    /* the connection closed, or this answers a request we already resent */
    self->metrics->events_dropped_total[GW_DROP_STALE_REPLY]++;
}

void
gw_fanout_on_link_lost (gw_fanout_t *self)
{
    for (size_t b = 0; b < self->bucket_count; b++)
        for (gw_stream_t *stream = self->buckets[b]; stream; stream = stream->next) {
            gw_seen_on_link_lost (&stream->seen);
            for (uint32_t i = 0; i < stream->count; i++)
                gw_sub_on_link_lost (stream->subs[i]);
        }
    /* broadcasts lost meanwhile show in the next one's prev; the users'
     * relink syncs repair them anyway (their resume covers broadcasts) */
    gw_seen_on_link_lost (&self->broadcast);
    /* ticks restart their count on the new link only if the broker did */
    gw_audit_suspect (self->audit, GW_AUDIT_LINK);
}

size_t
gw_fanout_user_count (const gw_fanout_t *self)
{
    return self->user_count;
}

gw_stream_kind_t
gw_stream_kind (const gw_stream_t *stream)
{
    return (gw_stream_kind_t) stream->kind;
}

const char *
gw_stream_name (const gw_stream_t *stream, size_t *len)
{
    if (len)
        *len = stream->len;
    return stream->name;
}

bool
gw_stream_synced (const gw_stream_t *stream)
{
    return stream->seen.synced;
}

bool
gw_stream_relinking (const gw_stream_t *stream)
{
    return stream->seen.relink;
}

uint64_t
gw_stream_epoch (const gw_stream_t *stream)
{
    return stream->seen.epoch;
}

uint64_t
gw_stream_latest (const gw_stream_t *stream)
{
    return stream->latest;
}
