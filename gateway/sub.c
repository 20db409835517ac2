/* sub.c -- a connection's subscription to one stream: sync -> resume -> live, and its repair.
 *
 * The same machine serves a user's stream and each channel a connection
 * follows; only the frame that opens it differs (welcome, subscribed). */
#include "sub.h"

#include <time.h>

#include <libwebsockets.h>

#include "fanout.h"
#include "frame.h"

/* A resume request unanswered this long is sent again (the broker may have
 * restarted); a sync that has not come this long is asked for again. */
#define GW_RETRY_USEC (2 * LWS_US_PER_SEC)

typedef enum {
    GW_SUB_IDLE = 0,    /* not started (connection not authenticated yet) */
    GW_SUB_SYNC_WAIT,   /* waiting for the broker's sync on the stream's topic */
    GW_SUB_RESUME_WAIT, /* resume request sent; live events are held meanwhile */
    GW_SUB_LIVE         /* welcomed; events flow */
} gw_sub_state_t;

void
gw_sub_init (gw_sub_t *self, gw_delivery_t *out)
{
    *self = (gw_sub_t) { .out = out };
}

void
gw_sub_set_position (gw_sub_t *self, uint64_t epoch, uint64_t offset)
{
    self->has_position = true;
    self->resume_epoch = epoch;
    self->resume_offset = offset;
}

static void s_repair (gw_sub_t *self);

static gw_metrics_t *
s_metrics (const gw_sub_t *self)
{
    return self->out->env->metrics;
}

static int64_t
s_now_usec (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* This sub's retry in usec. Several subs share the connection's one lws
 * timer: each keeps its own deadline and the delivery arms the earliest. */
static void
s_arm (gw_sub_t *self, int64_t usec)
{
    self->retry_at = s_now_usec () + usec;
    gw_delivery_timer (self->out, usec);
}

/* Frees the held events, counting them as dropped for why. */
static void
s_drop_held (gw_sub_t *self, gw_drop_t why)
{
    if (!self->held)
        return;
    s_metrics (self)->events_dropped_total[why] += gw_queue_count (self->held);
    s_metrics (self)->queue_bytes -= gw_queue_bytes (self->held);
    gw_queue_destroy (&self->held);
}

void
gw_sub_fini (gw_sub_t *self)
{
    s_drop_held (self, GW_DROP_CLOSED);
}

static void
s_request_resume (gw_sub_t *self)
{
    size_t len;
    const char *name = gw_stream_name (self->stream, &len);
    const gw_link_t *link = self->out->env->link;
    /* a fresh rid per attempt, so a late answer to an old one is ignored */
    self->rid = link->next_rid (link->ctx);
    self->state = GW_SUB_RESUME_WAIT;
    /* on failure the retry timer sends it again */
    link->resume (link->ctx, self->rid, gw_stream_kind (self->stream), name, len,
                  self->has_position, self->resume_epoch, self->resume_offset);
    s_arm (self, GW_RETRY_USEC);
}

static int s_push_welcome (gw_sub_t *self, uint64_t epoch, uint64_t offset, bool recovered);

/* A connection with no position to resume from needs nothing of the
 * broker's history: once its stream is synced over a whole link, every
 * later event about the stream arrives on it, so it is welcomed at once at
 * the stream's latest offset (recovered:false, as the broker would
 * answer), without the resume round trip (issue 14: connection storms). */
static bool
s_needs_no_resume (const gw_sub_t *self)
{
    return !self->has_position && !self->epoch_start && !self->silent
        && gw_stream_synced (self->stream) && !gw_stream_relinking (self->stream);
}

static void
s_welcome_fresh (gw_sub_t *self)
{
    uint64_t at = gw_stream_latest (self->stream);
    self->state = GW_SUB_LIVE;
    self->retry_at = 0;
    self->last_offset = at;
    self->covered = at;     /* what came before it is not this connection's */
    s_metrics (self)->resumes_total[0]++;
    s_metrics (self)->welcomes_without_resume_total++;
    if (s_push_welcome (self, gw_stream_epoch (self->stream), at, false) == 0)
        gw_delivery_kick (self->out);
}

void
gw_sub_start (gw_sub_t *self, gw_stream_t *stream)
{
    self->stream = stream;
    if (s_needs_no_resume (self))
        s_welcome_fresh (self);
    else if (gw_stream_synced (stream))
        s_request_resume (self);
    else {
        self->state = GW_SUB_SYNC_WAIT;
        s_arm (self, GW_RETRY_USEC);
    }
}

void
gw_sub_on_timer (gw_sub_t *self)
{
    if (!self->retry_at)
        return;
    int64_t now = s_now_usec ();
    if (self->retry_at > now) {
        /* the timer fired for another sub of the connection */
        gw_delivery_timer (self->out, self->retry_at - now);
        return;
    }
    self->retry_at = 0;
    switch (self->state) {
    case GW_SUB_SYNC_WAIT:
        /* the sync may have been lost (broker restart, XPUB high-water
         * mark): subscribing again makes the broker publish a new one */
        gw_fanout_resubscribe (self->out->env->fanout, self->stream);
        s_arm (self, GW_RETRY_USEC);
        break;
    case GW_SUB_RESUME_WAIT:
        s_request_resume (self);
        break;
    case GW_SUB_LIVE:
        /* as in SYNC_WAIT: the sync after a link drop is overdue */
        if (self->relink && gw_stream_relinking (self->stream)) {
            gw_fanout_resubscribe (self->out->env->fanout, self->stream);
            s_arm (self, GW_RETRY_USEC);
        }
        else {
            self->relink = false;
            if (self->held) {
                self->relink_repair = true;
                s_repair (self);    /* what was held while relinking goes out after it */
            }
        }
        break;
    default:
        break;
    }
}

void
gw_sub_on_sync (gw_sub_t *self)
{
    if (gw_delivery_closing (self->out))
        return;
    if (self->state == GW_SUB_SYNC_WAIT) {
        if (s_needs_no_resume (self))
            s_welcome_fresh (self);
        else
            s_request_resume (self);
    }
}

/* Starts a silent resume from this connection's last offset (frames queued
 * already go first; live events are held as for a first resume). */
static void
s_repair (gw_sub_t *self)
{
    self->silent = true;
    gw_sub_set_position (self, gw_stream_epoch (self->stream), self->last_offset);
    s_request_resume (self);
}

/* True when a live event of the chain other than the gapped one went out
 * above the hole's start: the hole may lie below the client's position. */
static bool
s_overtaken (const gw_sub_t *self, uint64_t from, gw_chain_t chain)
{
    uint64_t start = from > self->covered ? from : self->covered;
    return self->live[chain == GW_CHAIN_OWN ? GW_CHAIN_BROADCAST : GW_CHAIN_OWN] > start;
}

void
gw_sub_on_gap (gw_sub_t *self, uint64_t need, uint64_t from, gw_chain_t chain)
{
    if (gw_delivery_closing (self->out))
        return;
    /* A hole wholly at or below what the last resume covered was filled by
     * it: that replay held every event of the stream up to its offset, of
     * both chains. The other chain often shows such a hole only later
     * (after a link drop the users' relink repairs replay the broadcasts
     * lost meanwhile, and the first broadcast that arrives afterwards names
     * them in its prev): nothing is missing, so nothing was overtaken
     * either. Taking it as a hole gave recovered:false to most
     * connections after every relink (issue 11). */
    if (need <= self->covered)
        return;
    /* After a link drop nothing went out (held) until the relink repair
     * replies, so that repair, from the last offset, is in order: what the
     * drop lost lies above what had arrived before it. That holds for every
     * hole found while it is pending, of either chain (the broadcast
     * chain's shows only with the next broadcast), not just the first. */
    if (!self->relink && !self->relink_repair && s_overtaken (self, from, chain))
        self->overtaken = true;
    if (self->state == GW_SUB_LIVE) {
        self->relink_repair = self->relink;
        self->relink = false;
        self->need = need;
        self->repairing = true;
        self->replayed = 0;
        self->unrecovered = false;
        s_repair (self);
    }
    else if (self->state == GW_SUB_RESUME_WAIT) {
        /* the events it holds have a hole: the reply must reach past it */
        if (need > self->need)
            self->need = need;
        self->repairing = true;
    }
    /* before the sync the resume it starts covers everything */
}

void
gw_sub_on_link_lost (gw_sub_t *self)
{
    if (gw_delivery_closing (self->out))
        return;
    /* Events may be lost until the link is back. The first event after it
     * shows a gap through its prev; the sync that comes back covers what
     * the broker did not publish meanwhile (seen.c). Until then, keep
     * asking for that sync. A resume in progress keeps what it holds: a
     * hole in it raises its need like any gap. */
    if (self->state == GW_SUB_LIVE) {
        self->relink = true;
        s_arm (self, GW_RETRY_USEC);
    }
}

/* Holds a live event until the pending reply says where the replay ends.
 * Bounded like the output queue; past it the connection closes with 1013. */
static void
s_hold (gw_sub_t *self, gw_blob_t *event)
{
    gw_metrics_t *metrics = s_metrics (self);
    if (!self->held
    &&  !(self->held = gw_queue_new (self->out->env->config->max_queue_bytes))) {
        metrics->events_dropped_total[GW_DROP_NO_MEMORY]++;
        gw_delivery_close (self->out, 1011);
        return;
    }
    gw_blob_t *ref = gw_blob_ref (event);
    if (gw_queue_push (self->held, &ref) != 0) {
        gw_blob_release (&ref);
        metrics->events_dropped_total[GW_DROP_SLOW_CONSUMER]++;
        s_drop_held (self, GW_DROP_SLOW_CONSUMER);
        gw_delivery_close (self->out, 1013);
        return;
    }
    metrics->queue_bytes += event->len;
}

void
gw_sub_on_event (gw_sub_t *self, gw_blob_t *event, gw_chain_t chain)
{
    if (gw_delivery_closing (self->out))
        return;
    if (self->state == GW_SUB_LIVE) {
        if (event->offset <= self->last_offset) {
            s_metrics (self)->events_dropped_total[GW_DROP_DUPLICATE]++;
            return;
        }
        if (self->relink) {
            s_hold (self, event);
            return;
        }
        if (gw_delivery_live (self->out, event) == 0) {
            self->last_offset = event->offset;
            self->live[chain] = event->offset;
        }
    }
    else if (self->state == GW_SUB_RESUME_WAIT)
        s_hold (self, event);
    /* before the sync the resume reply will cover it */
}

/* Builds a welcome frame into a blob. NULL on out of memory. */
static gw_blob_t *
s_welcome (gw_sub_t *self, uint64_t epoch, uint64_t offset, bool recovered)
{
    size_t len;
    const char *name = gw_stream_name (self->stream, &len);
    hp_buf_t *buf = &self->out->env->scratch;
    hp_buf_reset (buf);
    if ((gw_stream_kind (self->stream) == GW_STREAM_USER
         ? hp_frame_welcome (buf, name, len, epoch, offset, recovered)
         : hp_frame_subscribed (buf, name, len, epoch, offset, recovered)) != 0)
        return NULL;
    return gw_blob_new (buf->data, buf->len, 0, 0);
}

/* Queues a welcome. Returns 0 or -1 (the connection is closing). */
static int
s_push_welcome (gw_sub_t *self, uint64_t epoch, uint64_t offset, bool recovered)
{
    gw_blob_t *welcome = s_welcome (self, epoch, offset, recovered);
    if (!welcome) {
        gw_delivery_close (self->out, 1011);
        return -1;
    }
    if (gw_delivery_push (self->out, &welcome, false) != 0)
        return -1;
    gw_delivery_set_welcomed (self->out);
    return 0;
}

void
gw_sub_on_epoch_change (gw_sub_t *self, uint64_t epoch, uint64_t offset)
{
    (void) offset;
    if (gw_delivery_closing (self->out))
        return;
    bool welcomed = self->state == GW_SUB_LIVE || self->silent || self->epoch_start;
    /* offsets start over: the old epoch's say nothing of the new one */
    self->live[GW_CHAIN_OWN] = self->live[GW_CHAIN_BROADCAST] = self->covered = 0;
    self->overtaken = false;
    self->silent = false;
    self->relink = false;
    self->relink_repair = false;
    self->need = 0;
    self->repairing = false;
    if (self->state == GW_SUB_RESUME_WAIT || self->state == GW_SUB_LIVE)
        s_drop_held (self, GW_DROP_EPOCH_CHANGE);
    if (welcomed) {
        /* The broker restarted (without its data): this connection gets the
         * new welcome, then every event of the new epoch still in history
         * from its first offset, so that what a producer buffered during the
         * restart (routed before we subscribed again) is not skipped. */
        self->epoch_start = true;
        gw_sub_set_position (self, epoch, 0);
        s_request_resume (self);
    }
    else if (self->state == GW_SUB_RESUME_WAIT)
        s_request_resume (self);    /* the pending reply speaks of the old broker */
    else if (self->state == GW_SUB_SYNC_WAIT && gw_stream_synced (self->stream))
        s_request_resume (self);    /* the new epoch's first sync was its sync */
}

bool
gw_sub_again (gw_sub_t *self)
{
    if (self->state != GW_SUB_LIVE || gw_delivery_closing (self->out))
        return false;
    if (s_push_welcome (self, gw_stream_epoch (self->stream), self->last_offset, true) == 0)
        gw_delivery_kick (self->out);
    return true;
}

uint64_t
gw_sub_rid (const gw_sub_t *self)
{
    return self->state == GW_SUB_RESUME_WAIT && !gw_delivery_closing (self->out) ? self->rid : 0;
}

/* A repair finished: counted once, when it found something (a prev gap is
 * real; a relink sync may find that nothing was missed). */
static void
s_count_repair (gw_sub_t *self)
{
    if (self->repairing && (self->unrecovered || self->replayed))
        s_metrics (self)->gaps_total[self->unrecovered ? GW_GAP_UNREPAIRED : GW_GAP_REPAIRED]++;
    self->repairing = false;
    self->unrecovered = false;
    self->replayed = 0;
    self->need = 0;
}

void
gw_sub_on_resume_reply (gw_sub_t *self, const hp_resume_reply_t *reply)
{
    if (gw_delivery_closing (self->out) || self->state != GW_SUB_RESUME_WAIT
    ||  reply->rid != self->rid)
        return;
    gw_metrics_t *metrics = s_metrics (self);
    gw_delivery_t *out = self->out;
    self->retry_at = 0;     /* a timer already armed finds nothing to do */
    self->rid = 0;
    self->state = GW_SUB_LIVE;
    bool same_epoch = self->has_position && reply->epoch == self->resume_epoch;
    /* a repair overtaken by the other chain is told as history that no
     * longer reaches back: the client reloads rather than miss it */
    bool reply_recovered = reply->recovered && !self->overtaken;
    self->overtaken = false;
    /* a gap fill the history covered needs no new welcome */
    bool fill = self->silent && reply_recovered && same_epoch;
    bool silent = self->silent;
    self->silent = false;
    /* a new epoch's welcome always says recovered:false (the old epoch's
     * history is gone) and offset 0, where its replay starts, so a client
     * that tracks its position (herald.js) takes every event after it */
    bool epoch_start = self->epoch_start;
    self->epoch_start = false;
    bool recovered = reply_recovered && !epoch_start;
    uint64_t welcome_offset = epoch_start && same_epoch ? 0 : reply->offset;
    metrics->resumes_total[recovered ? 1 : 0]++;

    /* The replay starts after the client's position when it names this
     * broker's epoch; otherwise the client starts over at the latest. A
     * repair history no longer covers starts over too: its welcome says
     * recovered:false at the broker's latest, and herald.js moves there. */
    uint64_t last = reply->offset;
    if (same_epoch && self->resume_offset < reply->offset && (!silent || reply_recovered))
        last = self->resume_offset;
    if (silent && !reply_recovered)
        self->unrecovered = true;

    /* after what is queued already: the welcome, then the replay, then what
     * arrived live meanwhile, each strictly after the previous */
    int rc = fill ? 0 : s_push_welcome (self, reply->epoch, welcome_offset, recovered);
    gw_blob_t *blob;
    for (size_t i = 0; rc == 0 && i < reply->event_count; i++) {
        uint64_t offset, at;
        hp_str_t json, key;
        uint8_t flags;
        if (hp_control_resume_reply_event (reply, i, &offset, &json, &at) != 0
        ||  hp_control_resume_reply_event_meta (reply, i, &flags, &key) != 0) {
            metrics->events_dropped_total[GW_DROP_MALFORMED]++;
            continue;
        }
        if (offset <= last)
            continue;
        if (!(blob = gw_blob_new_event (json.ptr, json.len, offset, at, flags, key.ptr,
                                        key.len))) {
            gw_delivery_close (out, 1011);
            rc = -1;
        }
        else if ((rc = gw_delivery_push (out, &blob, true)) == 0) {
            last = offset;
            self->replayed++;
        }
    }
    if (rc != 0)
        return;     /* closing; the held events go with the sub */
    self->last_offset = last;
    if (self->need > reply->offset && reply->epoch == gw_stream_epoch (self->stream)) {
        /* everything up to the reply's offset went out in order */
        if (reply->epoch == self->resume_epoch)
            self->covered = reply->offset;
        /* A hole among the held events lies past what this reply covers
         * (it was found after the broker answered): ask again from here,
         * still holding them. Each round reaches the broker's latest offset
         * at the time, so this ends once the gaps stop. */
        s_repair (self);
        gw_delivery_kick (out);
        return;
    }
    gw_queue_t *held = self->held;
    self->held = NULL;
    metrics->queue_bytes -= gw_queue_bytes (held);
    while (rc == 0 && (blob = gw_queue_pop (held))) {
        if (blob->offset <= last) {
            metrics->events_dropped_total[GW_DROP_DUPLICATE]++;
            gw_blob_release (&blob);
            continue;
        }
        uint64_t offset = blob->offset;
        gw_chain_t chain = blob->broadcast ? GW_CHAIN_BROADCAST : GW_CHAIN_OWN;
        if ((rc = gw_delivery_push (out, &blob, false)) == 0) {
            last = offset;
            /* sent live, as in gw_sub_on_event: a later hole of the other
             * chain below it is overtaken */
            self->live[chain] = offset;
        }
    }
    if (rc != 0) {
        metrics->events_dropped_total[GW_DROP_SLOW_CONSUMER] += gw_queue_count (held);
        gw_queue_destroy (&held);
        return;
    }
    gw_queue_destroy (&held);
    self->last_offset = last;
    /* in order up to the reply's offset: a later hole starts above it */
    self->covered = reply->offset;
    self->relink_repair = false;
    s_count_repair (self);
    gw_delivery_kick (out);
}
