/* fanout.c -- stream -> local subscribers map; routes broker messages to them.
 *
 * Broker messages come down from upstream and go on to the subs (one per
 * connection following the stream); this file never calls upstream, it
 * sends its subscriptions through the gw_link_t interface. */
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
    size_t len;
    char name[];                /* len bytes + NUL */
};

struct gw_fanout {
    gw_stream_t **buckets;
    size_t bucket_count;        /* power of two */
    size_t stream_count;
    size_t user_count;
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
         uint64_t epoch, uint64_t offset)
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
            gw_sub_on_gap (stream->subs[i], need);
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
    gw_stream_t *stream = s_find_user (self, head->user);
    if (!stream)
        return;     /* unsubscribed meanwhile */
    uint64_t need = 0;
    gw_seen_verdict_t verdict = gw_seen_on_sync (&stream->seen, head->epoch, head->offset,
                                                 head->aux, &need);
    s_apply (self, stream, verdict, need, head->epoch, head->offset);
}

/* One event for one stream held here: the gap check, then every sub. */
static void
s_deliver (gw_fanout_t *self, gw_stream_t *stream, const hp_wire_head_t *head, uint64_t prev,
           gw_blob_t *blob)
{
    uint64_t need = 0;
    gw_seen_verdict_t verdict = gw_seen_on_event (&stream->seen, head->epoch, head->offset,
                                                  prev, &need);
    s_apply (self, stream, verdict, need, head->epoch, head->offset ? head->offset - 1 : 0);
    for (uint32_t i = 0; i < stream->count; i++)
        gw_sub_on_event (stream->subs[i], blob);
}

void
gw_fanout_on_event (gw_fanout_t *self, const hp_wire_head_t *head, const void *json,
                    size_t len)
{
    gw_stream_t *stream = s_find_user (self, head->user);
    if (!stream || stream->count == 0) {
        self->metrics->events_dropped_total[GW_DROP_NO_SESSION]++;
        return;
    }
    /* one copy of the frame for all of this stream's connections */
    gw_blob_t *blob = gw_blob_new (json, len, head->offset);
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
        if (!blob && !(blob = gw_blob_new (json, len, head->offset))) {
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
        gw_stream_t *stream = s_find_user (self, name);
        if (!stream)
            continue;   /* gone since the request */
        uint64_t need = 0;
        gw_seen_verdict_t verdict = gw_seen_on_audit (&stream->seen, head->epoch, last, &need);
        s_apply (self, stream, verdict, need, head->epoch, head->offset);
    }
    if (rc != 0)
        self->metrics->events_dropped_total[GW_DROP_MALFORMED]++;
    gw_audit_on_answer (self->audit, head->aux);
}

size_t
gw_fanout_list_users (const gw_fanout_t *self, gw_fanout_cursor_t *cursor, hp_buf_t *out,
                      size_t max, size_t max_bytes)
{
    size_t n = 0;
    for (; cursor->bucket < self->bucket_count; cursor->bucket++, cursor->skip = 0) {
        size_t i = 0;
        for (gw_stream_t *stream = self->buckets[cursor->bucket]; stream;
             stream = stream->next, i++) {
            if (i < cursor->skip || stream->kind != GW_STREAM_USER)
                continue;
            if (n == max || out->len + stream->len + 1 > max_bytes
            ||  hp_buf_append (out, stream->name, stream->len + 1) != 0) {
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
    gw_stream_t *stream = s_find_user (self, reply->user);
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
