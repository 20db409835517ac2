/* router.c -- one ingest envelope in, one offset, one JSON frame, published per user or multicast.
 *
 * The hot path: decode once (hp_envelope_decode), build the JSON frame once
 * into a reused buffer, copy it once into a ZeroMQ message that every
 * publish shares by reference (zmq_msg_copy bumps a refcount), and hash each
 * recipient once for both the presence set and the history. An event for a
 * few users goes on each user's topic; for HB_MULTICAST_MIN or more it goes
 * once on the multicast topic with the list of users, so a gateway receives
 * it once whatever it holds of them (PROTOCOL.md).
 *
 * A channel event is stored under its channel's stream key and published on
 * the channel's topic only while some gateway subscribes it (the channel
 * set below, fed from c: subscriptions like presence from u: ones); a
 * broadcast is stored under the broadcast key and always published on b:.
 * Neither has recipients to tell the undelivered stream about. */
#include "router.h"
#include "frame.h"
#include "latency.h"
#include "ratelog.h"
#include "streamkey.h"
#include "topic.h"
#include "umap.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* From this many online recipients an event goes out once on the multicast
 * topic. Below it, per-user messages cost less than waking every gateway:
 * a multicast reaches all of them, per-user messages only those that hold a
 * recipient. */
#define HB_MULTICAST_MIN 8

struct hb_router {
    void             *xpub;
    hb_presence_t    *presence;
    hb_history_t     *history;
    hb_undelivered_t *undelivered;
    hb_metrics_t     *metrics;
    uint64_t          epoch;
    uint64_t          offset;
    size_t            max_event_bytes;
    hp_envelope_t    *env;
    hp_buf_t          frame;
    hb_key_t         *keys;       /* HP_RECIPIENTS_MAX */
    unsigned char    *targets;    /* HP_RECIPIENTS_MAX: S_TARGET_* or 0 (skip) */
    uint64_t         *prevs;      /* HP_RECIPIENTS_MAX: each target's prev */
    hb_ratelog_t      log;
    hb_router_replica_t replica;  /* hot standby: NULL fns without a pair */
    hb_idem_t        *idem;       /* idempotency keys, or NULL */
    uint64_t          tick_seq;      /* the last tick's number */
    uint64_t          tick_ms;       /* when it was published */
    uint64_t          tick_offset;   /* the offset it carried */
    /* Channels some gateway subscribes (c: topics), keyed by stream key,
     * each with the channel's prev: the same bounded set as presence. */
    hb_presence_t    *channels;
    hb_streamkey_t    skey;          /* keys[0] of a channel event or broadcast */
    uint64_t          broadcast_last;   /* the previous broadcast of the epoch */
    hb_chanpres_t    *chanpres;      /* channel presence from p: topics, or NULL */
};

/* Channel topics recorded at most (subscribed channels; past it, like a
 * full presence set: counted and published to unrecorded channels too). */
#define S_CHANNELS_MAX ((size_t) 1 << 20)

/* Ticks on the multicast topic: at most this often while events are routed,
 * and at least this often when none are, so a gateway that lost messages
 * sees a tick number jump soon after, whatever else it receives. */
#define S_TICK_BUSY_MS 100
#define S_TICK_IDLE_MS 1000

/* Recipients whose presence slot is prefetched (as history does its own). */
#define S_PREFETCH_MAX 16

/* Whom to publish to: an online user, or (while presence is not exact) a
 * user who may be online. */
#define S_TARGET_ONLINE 1
#define S_TARGET_MAYBE  2

/* ratelog reasons: envelope errors use their hp_env_error_t value */
#define S_LOG_SUBSCRIPTION (HP_ENV_ERROR_COUNT + 1)
#define S_LOG_PUBLISH      (HP_ENV_ERROR_COUNT + 2)
#define S_LOG_HISTORY      (HP_ENV_ERROR_COUNT + 3)

void
hb_router_set_xpub (hb_router_t *self, void *xpub)
{
    self->xpub = xpub;
    /* the new socket's gateways subscribe their channels again */
    if (hb_presence_clear (self->channels) != 0
    ||  (self->chanpres && hb_chanpres_clear (self->chanpres) != 0))
        hb_ratelog (&self->log, S_LOG_SUBSCRIPTION, "out of memory clearing the channel set");
}

hb_router_t *
hb_router_new (void *xpub, hb_presence_t *presence, hb_history_t *history,
               hb_undelivered_t *undelivered, hb_metrics_t *metrics,
               uint64_t epoch, size_t max_event_bytes)
{
    hb_router_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->xpub = xpub;
    self->presence = presence;
    self->history = history;
    self->undelivered = undelivered;
    self->metrics = metrics;
    self->epoch = epoch;
    self->max_event_bytes = max_event_bytes;
    /* msgpack -> JSON can grow a payload (a control character becomes six
     * bytes), so the frame's bound is a multiple of the envelope's. */
    hp_buf_init (&self->frame, max_event_bytes * 8 + 4096);
    self->env = hp_envelope_new ();
    self->keys = malloc (HP_RECIPIENTS_MAX * sizeof *self->keys);
    self->targets = malloc (HP_RECIPIENTS_MAX * sizeof *self->targets);
    self->prevs = malloc (HP_RECIPIENTS_MAX * sizeof *self->prevs);
    self->channels = hb_presence_new (S_CHANNELS_MAX);
    if (!self->env || !self->keys || !self->targets || !self->prevs || !self->channels) {
        hb_router_destroy (&self);
        return NULL;
    }
    return self;
}

void
hb_router_destroy (hb_router_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_router_t *self = *self_p;
    hp_envelope_destroy (&self->env);
    hp_buf_free (&self->frame);
    free (self->keys);
    free (self->targets);
    free (self->prevs);
    hb_presence_destroy (&self->channels);
    free (self);
    *self_p = NULL;
}

/* The body is shared by reference, or handed over outright when `last`
 * (saving the shared refcount for the common case of one recipient). An
 * event with a conflation key (meta->flags HP_WIRE_FLAG_KEY) ends with a
 * third frame holding it (wire.h). Returns 0 or -1. */
static int
s_send_body (hb_router_t *self, zmq_msg_t *body, bool last, const hp_event_meta_t *meta)
{
    bool keyed = meta && (meta->flags & HP_WIRE_FLAG_KEY);
    int more = keyed ? ZMQ_SNDMORE : 0;
    if (last) {
        if (zmq_msg_send (body, self->xpub, ZMQ_DONTWAIT | more) < 0)
            return -1;
    }
    else {
        zmq_msg_t copy;
        zmq_msg_init (&copy);
        zmq_msg_copy (&copy, body);
        if (zmq_msg_send (&copy, self->xpub, ZMQ_DONTWAIT | more) < 0) {
            zmq_msg_close (&copy);
            return -1;
        }
    }
    /* ZeroMQ takes a multipart message whole or not at all: once its first
     * frame went, the rest does too */
    if (keyed && zmq_send (self->xpub, meta->key.ptr, meta->key.len, ZMQ_DONTWAIT) < 0)
        return -1;
    return 0;
}

/* [user topic + header][body] */
static int
s_publish_user (hb_router_t *self, const hb_key_t *key, uint64_t offset, uint64_t prev,
                uint64_t at, const hp_event_meta_t *meta, zmq_msg_t *body, bool last)
{
    unsigned char head[HP_WIRE_HEAD_MAX];
    size_t head_len = hp_wire_head_user (head, key->ptr, key->len, HP_WIRE_EVENT,
                                         self->epoch, offset, prev, at, meta->flags);
    if (!head_len || zmq_send (self->xpub, head, head_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    return s_send_body (self, body, last, meta);
}

/* [multicast topic + header + each target's id, NUL and prev][body]: one message
 * that every gateway receives once, whatever the number of recipients. */
static int
s_publish_multicast (hb_router_t *self, size_t n, size_t names_len, uint64_t offset,
                     uint64_t at, const hp_event_meta_t *meta, zmq_msg_t *body)
{
    zmq_msg_t head;
    if (zmq_msg_init_size (&head, HP_WIRE_MULTICAST_TOPIC_LEN + HP_WIRE_HEADER_LEN
                                  + names_len) != 0)
        return -1;
    unsigned char *p = zmq_msg_data (&head);
    p += hp_wire_head_multicast (p, HP_WIRE_EVENT, self->epoch, offset, 0, at, meta->flags);
    for (size_t i = 0; i < n; i++)
        if (self->targets[i])
            p = hp_wire_put_entry (p, self->keys[i].ptr, self->keys[i].len, self->prevs[i]);
    if (zmq_msg_send (&head, self->xpub, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&head);
        return -1;
    }
    return s_send_body (self, body, true, meta);
}

/* Fills self->keys from the decoded envelope: each recipient hashed once
 * for presence and history. */
static size_t
s_keys (hb_router_t *self)
{
    size_t n = hp_envelope_recipient_count (self->env);
    for (size_t i = 0; i < n; i++) {
        hp_str_t user = hp_envelope_recipient (self->env, i);
        self->keys[i] = (hb_key_t) { user.ptr, user.len, hb_hash (user.ptr, user.len) };
        /* Each recipient is looked up in history, then in presence; both
         * miss the cache for a random user. Starting the presence line now
         * overlaps it with the history's misses (the route_bench bench case
         * alternating without and with it: 2-15% less CPU per event on the
         * routing thread in 14 of 16 runs). */
        if (i < S_PREFETCH_MAX)
            hb_presence_prefetch (self->presence, self->keys[i].hash);
    }
    return n;
}

/* A channel event or a broadcast, its body taken over. A channel event goes
 * out on its topic with the channel's prev while the channel is subscribed
 * (or, while the channel set is not exact, may be); a broadcast always, with
 * the previous broadcast's offset. Returns whether a gateway subscribed to
 * it (true for a broadcast: every gateway does). */
static bool
s_publish_stream (hb_router_t *self, uint64_t offset, uint64_t at, const hp_event_meta_t *meta,
                  zmq_msg_t *body)
{
    hb_metrics_t *m = self->metrics;
    hp_stream_t stream;
    uint64_t prev;
    bool subscribed = true;
    if (hp_envelope_addressing (self->env) == HP_ADDR_BROADCAST) {
        m->broadcasts++;
        stream = hp_stream_broadcast ();
        prev = self->broadcast_last;
        self->broadcast_last = offset;
    }
    else {
        m->channel_events++;
        hp_str_t name = hp_envelope_channel (self->env);
        stream = hp_stream_channel (name.ptr, name.len);
        hb_key_t key;
        hb_streamkey_make (&stream, &self->skey, &key);   /* valid: the decoder checked it */
        uint64_t *last = hb_presence_last (self->channels, key.hash, key.ptr, key.len);
        subscribed = last != NULL;
        prev = last ? *last : 0;
        if (last)
            *last = offset;
        if (!last && hb_presence_exact (self->channels)) {
            zmq_msg_close (body);   /* stored only: nobody subscribes */
            return false;
        }
    }
    unsigned char head[HP_WIRE_HEAD_MAX];
    size_t head_len = hp_wire_head_stream (head, &stream, HP_WIRE_EVENT, self->epoch, offset,
                                           prev, at, meta->flags);
    if (head_len && zmq_send (self->xpub, head, head_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) == (int) head_len
    &&  s_send_body (self, body, true, meta) == 0) {
        if (subscribed)
            m->messages_published++;
    }
    zmq_msg_close (body);   /* a no-op when the send took it */
    return subscribed;
}

/* Whether the decoded envelope has someone online right now (what the
 * HTTP answer's 200/404 says): its first user, some gateway subscribing its
 * channel, or, for a broadcast, any user at all. Answers a duplicate, which
 * is not published again. */
static bool
s_anyone (hb_router_t *self)
{
    switch (hp_envelope_addressing (self->env)) {
        case HP_ADDR_USERS: {
            hp_str_t first = hp_envelope_recipient (self->env, 0);
            return hb_presence_online (self->presence, hb_hash (first.ptr, first.len),
                                       first.ptr, first.len);
        }
        case HP_ADDR_CHANNEL: {
            hp_str_t name = hp_envelope_channel (self->env);
            hp_stream_t stream = hp_stream_channel (name.ptr, name.len);
            hb_key_t key;
            hb_streamkey_make (&stream, &self->skey, &key);
            return hb_presence_last (self->channels, key.hash, key.ptr, key.len) != NULL;
        }
        default:
            return hb_presence_count (self->presence) > 0;
    }
}

/* Accept -> handed to the publish socket (herald_broker_route_seconds),
 * for an event some gateway subscribes (one stored only, or for offline
 * users only, is not published): the store's commit and the pair's ack lie
 * in between. One clock read per event, as at accept. */
static void
s_route_time (hb_router_t *self, uint64_t at)
{
    hp_latency_observe (&self->metrics->route, at, hp_latency_now_us ());
}

hp_env_error_t
hb_router_route (hb_router_t *self, const char *bytes, size_t len, uint64_t now,
                 hb_route_result_t *result)
{
    hb_route_pending_t pending;
    hp_env_error_t err = hb_router_accept (self, bytes, len, now, &pending);
    if (err != HP_ENV_OK)
        return err;
    hb_router_commit (self);
    hb_router_publish (self, NULL, 0, &pending, result);
    return HP_ENV_OK;
}

void
hb_router_commit (hb_router_t *self)
{
    hb_history_commit (self->history, self->offset);
    if (self->replica.flush)
        self->replica.flush (self->replica.ctx);
}

void
hb_router_set_replica (hb_router_t *self, const hb_router_replica_t *replica)
{
    self->replica = *replica;
}

hp_env_error_t
hb_router_accept (hb_router_t *self, const char *bytes, size_t len, uint64_t now,
                  hb_route_pending_t *pending)
{
    hb_metrics_t *m = self->metrics;
    pending->ready = false;
    pending->duplicate = false;
    m->events_received++;
    hp_env_error_t err = hp_envelope_decode (self->env, bytes, len, self->max_event_bytes);
    if (err == HP_ENV_OK) {
        hp_buf_reset (&self->frame);
        if (hp_frame_event (&self->frame, self->env, self->offset + 1) != 0)
            err = HP_ENV_TOO_LARGE;   /* the JSON outgrew its bound */
    }
    if (err != HP_ENV_OK) {
        m->rejected[err]++;
        hb_ratelog (&self->log, err, "dropped an envelope of %zu bytes: %s",
                    len, hp_env_error_name (err));
        return err;
    }
    hp_str_t ikey = hp_envelope_idempotency_key (self->env);
    if (ikey.ptr && self->idem
    &&  hb_idem_claim (self->idem, ikey.ptr, ikey.len, self->offset + 1, now, &pending->offset)) {
        pending->duplicate = true;
        m->duplicates++;
        return HP_ENV_OK;
    }
    uint64_t offset = ++self->offset;
    m->events_accepted++;
    pending->offset = offset;
    /* The accept time travels with the event (wire header, history, store,
     * the pair's copy) so that every gateway can tell how long it took to
     * reach a socket: one vDSO clock read per event. */
    pending->at = hp_latency_now_us ();
    if (self->replica.add)
        self->replica.add (self->replica.ctx, offset, pending->at, bytes, len);

    zmq_msg_t *body = &pending->body;
    if (zmq_msg_init_size (body, self->frame.len) != 0) {
        hb_ratelog (&self->log, S_LOG_PUBLISH, "out of memory publishing offset %llu",
                    (unsigned long long) offset);
        return HP_ENV_OK;
    }
    memcpy (zmq_msg_data (body), self->frame.data, self->frame.len);
    pending->ready = true;

    size_t n = hp_envelope_addressing (self->env) == HP_ADDR_USERS
             ? s_keys (self) : hb_streamkey_envelope (self->env, &self->skey, self->keys);
    hp_event_meta_t meta = hp_envelope_meta (self->env);
    if (hb_history_append (self->history, offset, hp_envelope_ttl (self->env), now,
                           pending->at, &meta, body, self->keys, n) != 0) {
        m->history_store_failures++;
        hb_ratelog (&self->log, S_LOG_HISTORY, "could not store offset %llu in history",
                    (unsigned long long) offset);
    }
    return HP_ENV_OK;
}

void
hb_router_publish (hb_router_t *self, const char *bytes, size_t len,
                   hb_route_pending_t *pending, hb_route_result_t *result)
{
    hb_metrics_t *m = self->metrics;
    uint64_t offset = pending->offset;
    if (result) {
        result->offset = offset;
        result->first_online = false;
        result->duplicate = pending->duplicate;
    }
    if (!pending->ready) {
        if (result && pending->duplicate && !bytes)
            result->first_online = s_anyone (self);
        return;
    }
    zmq_msg_t body;                   /* taken over: the last send or the close below ends it */
    zmq_msg_init (&body);
    zmq_msg_move (&body, &pending->body);
    pending->ready = false;
    /* Published after other envelopes were accepted: decode it again (it
     * passed once, so it passes again) to get its recipients and fields. */
    if (bytes && hp_envelope_decode (self->env, bytes, len, self->max_event_bytes) != HP_ENV_OK) {
        zmq_msg_close (&body);
        return;
    }
    uint64_t at = pending->at;
    hp_event_meta_t meta = hp_envelope_meta (self->env);
    if (hp_envelope_addressing (self->env) != HP_ADDR_USERS) {
        bool subscribed = s_publish_stream (self, offset, at, &meta, &body);
        if (result)
            result->first_online = hp_envelope_addressing (self->env) == HP_ADDR_CHANNEL
                                 ? subscribed : hb_presence_count (self->presence) > 0;
        if (subscribed)
            s_route_time (self, at);
        return;
    }
    size_t n = bytes ? s_keys (self) : hp_envelope_recipient_count (self->env);

    hb_undelivered_begin (self->undelivered, self->env, offset);
    /* While presence is exact, an offline user has no subscriber and the
     * XPUB would drop the message anyway; a gateway subscribing right now
     * gets a sync with an offset >= this one and reads it from history. */
    bool exact = hb_presence_exact (self->presence);
    size_t targets = 0, names_len = 0, online_count = 0;
    for (size_t i = 0; i < n; i++) {
        const hb_key_t *key = &self->keys[i];
        /* the user's last routed offset is the prev this event carries, so
         * a gateway that missed one can tell (PROTOCOL.md); a "maybe" user
         * (presence not exact) has none: 0 */
        uint64_t *last = hb_presence_last (self->presence, key->hash, key->ptr, key->len);
        bool online = last != NULL;
        if (i == 0 && result)
            result->first_online = online;
        self->targets[i] = online ? S_TARGET_ONLINE : !exact ? S_TARGET_MAYBE : 0;
        self->prevs[i] = 0;
        if (online) {
            self->prevs[i] = *last;
            *last = offset;
        }
        if (self->targets[i]) {
            targets++;
            names_len += key->len + 9;
        }
        if (online)
            online_count++;
        else
            hb_undelivered_send (self->undelivered, key->ptr, key->len);
    }
    if (targets >= HB_MULTICAST_MIN) {
        if (s_publish_multicast (self, n, names_len, offset, at, &meta, &body) == 0)
            m->messages_published += online_count;
    }
    else
        for (size_t i = 0, left = targets; i < n; i++) {
            if (!self->targets[i])
                continue;
            left--;
            if (s_publish_user (self, &self->keys[i], offset, self->prevs[i], at, &meta, &body,
                                left == 0) == 0
            &&  self->targets[i] == S_TARGET_ONLINE)
                m->messages_published++;
        }
    zmq_msg_close (&body);   /* a no-op when the last send took it */
    if (targets)
        s_route_time (self, at);
}

/* [head][body] on a gateway's own topic. */
static void
s_publish_gateway (hb_router_t *self, uint64_t gateway_id, uint64_t rid, zmq_msg_t *body)
{
    unsigned char head[HP_WIRE_GATEWAY_TOPIC_LEN + HP_WIRE_HEADER_LEN];
    size_t head_len = hp_wire_head_gateway (head, gateway_id, HP_WIRE_AUDIT, self->epoch,
                                            self->offset, rid);
    if (zmq_send (self->xpub, head, head_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
    ||  zmq_msg_send (body, self->xpub, ZMQ_DONTWAIT) < 0)
        hb_ratelog (&self->log, S_LOG_PUBLISH, "could not publish an audit answer: %s",
                    zmq_strerror (zmq_errno ()));
}

/* The last offset routed to a stream, named by its key (an audit entry):
 * a user's or a channel's since some gateway subscribed it (0 when none
 * does), the broadcast stream's last broadcast of the epoch. */
static uint64_t
s_stream_last (hb_router_t *self, hp_str_t key)
{
    hp_stream_t stream;
    if (hp_stream_from_key (key.ptr, key.len, &stream) == 0 && stream.kind == HP_STREAM_BROADCAST)
        return self->broadcast_last;
    /* a channel's key is what the channel set holds; anything else is
     * looked up as a user (an id no gateway subscribes answers 0) */
    hb_presence_t *set = key.len > 0 && key.ptr[0] == HP_STREAM_KEY_CHANNEL
                       ? self->channels : self->presence;
    uint64_t *last = hb_presence_last (set, hb_hash (key.ptr, key.len), key.ptr, key.len);
    return last ? *last : 0;
}

/* A gateway asks, in band on its subscription pipe, for the last offset
 * routed to each of its users; the answer goes out on its own topic, behind
 * every event already published, so whatever it names that the gateway has
 * not seen by then was lost on the way (PROTOCOL.md, gap repair). */
static void
s_audit (hb_router_t *self, const char *bytes, size_t len)
{
    uint64_t gateway_id, rid;
    const char *ids;
    size_t ids_len;
    if (hp_wire_audit_request_parse (bytes, len, &gateway_id, &rid, &ids, &ids_len) != 0)
        goto bad;
    /* first pass: check and size; the answer repeats each id with 8 bytes */
    const char *cursor = ids, *end = ids + ids_len;
    hp_str_t id;
    size_t count = 0;
    int rc;
    while ((rc = hp_wire_next_entry (&cursor, end, false, &id, NULL)) == 1)
        count++;
    if (rc != 0 || count > HP_WIRE_AUDIT_USERS_MAX)
        goto bad;
    zmq_msg_t body;
    if (zmq_msg_init_size (&body, ids_len + 8 * count) != 0)
        return;
    unsigned char *p = zmq_msg_data (&body);
    for (cursor = ids; hp_wire_next_entry (&cursor, end, false, &id, NULL) == 1; )
        p = hp_wire_put_entry (p, id.ptr, id.len, s_stream_last (self, id));
    s_publish_gateway (self, gateway_id, rid, &body);
    zmq_msg_close (&body);
    return;
bad:
    self->metrics->subscriptions_invalid++;
    hb_ratelog (&self->log, S_LOG_SUBSCRIPTION, "ignored a malformed audit request of %zu bytes", len);
}

/* A presence topic (PROTOCOL.md "Presence topics") came or went. Nothing
 * is published on it; a p: topic never makes a user online. 0, or -1 when
 * it is malformed. */
static int
s_presence_topic (hb_router_t *self, const char *topic, size_t len, bool sub)
{
    hp_str_t channel, user, id;
    if (hp_topic_parse_presence (topic, len, &channel, &user, &id) != 0)
        return -1;
    if (!self->chanpres)
        return 0;
    if (!sub)
        hb_chanpres_remove (self->chanpres, topic, len, channel, user);
    else if (hb_chanpres_add (self->chanpres, topic, len, channel, user) != 0)
        hb_ratelog (&self->log, S_LOG_SUBSCRIPTION,
                    "channel presence full: a connection's channel is not recorded");
    return 0;
}

/* [topic + 'S' header][empty]: the stream's sync (latest offset, its prev). */
static void
s_publish_sync (hb_router_t *self, const hp_stream_t *stream, uint64_t prev)
{
    unsigned char head[HP_WIRE_HEAD_MAX];
    size_t head_len = hp_wire_head_stream (head, stream, HP_WIRE_SYNC, self->epoch,
                                           self->offset, prev, 0, 0);
    if (!head_len || zmq_send (self->xpub, head, head_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send (self->xpub, "", 0, ZMQ_DONTWAIT) < 0)
        hb_ratelog (&self->log, S_LOG_PUBLISH, "could not publish a sync: %s",
                    zmq_strerror (zmq_errno ()));
}

/* A user's or a channel's topic came (sub) or went: its set (presence or
 * the channel set) follows; a subscribe answers a sync carrying the
 * stream's prev, so a gateway that already follows the stream checks it as
 * it checks an event's (a sync must not hide a gap). */
static void
s_stream_subscription (hb_router_t *self, const hp_stream_t *stream, bool sub)
{
    hb_presence_t *set = stream->kind == HP_STREAM_USER ? self->presence : self->channels;
    hb_streamkey_t buf;
    hb_key_t key;
    if (stream->kind == HP_STREAM_USER)
        key = (hb_key_t) { stream->name.ptr, stream->name.len,
                           hb_hash (stream->name.ptr, stream->name.len) };
    else
        hb_streamkey_make (stream, &buf, &key);   /* valid: the topic parsed */
    if (!sub) {
        hb_presence_remove (set, key.hash, key.ptr, key.len);
        return;
    }
    if (hb_presence_add (set, key.hash, key.ptr, key.len) != 0)
        hb_ratelog (&self->log, S_LOG_SUBSCRIPTION, stream->kind == HP_STREAM_USER
                    ? "presence set full: a user is online but not recorded"
                    : "channel set full: a channel is subscribed but not recorded");
    uint64_t *last = hb_presence_last (set, key.hash, key.ptr, key.len);
    s_publish_sync (self, stream, last ? *last : 0);
}

void
hb_router_subscription (hb_router_t *self, const char *bytes, size_t len)
{
    if (len == 1 + HP_WIRE_MULTICAST_TOPIC_LEN
    &&  memcmp (bytes + 1, HP_WIRE_MULTICAST_TOPIC, HP_WIRE_MULTICAST_TOPIC_LEN) == 0)
        return;     /* a gateway joining (or the last one leaving) multicast */
    if (len == 1 + HP_WIRE_GATEWAY_TOPIC_LEN && (bytes[0] == 0 || bytes[0] == 1)
    &&  bytes[1] == 'g' && bytes[2] == ':')
        return;     /* a gateway's own topic, for its audit answers */
    if (len >= 1 && bytes[0] == HP_WIRE_AUDIT_REQUEST) {
        s_audit (self, bytes, len);
        return;
    }
    hp_stream_t stream;
    if (len >= 1 && (bytes[0] == 0 || bytes[0] == 1)) {
        const char *topic = bytes + 1;
        size_t topic_len = len - 1;
        if (topic_len > 2 && memcmp (topic, HP_TOPIC_PRESENCE_PREFIX, 2) == 0) {
            if (s_presence_topic (self, topic, topic_len, bytes[0] == 1) == 0)
                return;
        }
        else
        if (hp_topic_parse_stream (topic, topic_len, &stream) == 0) {
            if (stream.kind != HP_STREAM_BROADCAST)   /* b: needs no sync: nothing is resumed alone */
                s_stream_subscription (self, &stream, bytes[0] == 1);
            return;
        }
    }
    self->metrics->subscriptions_invalid++;
    hb_ratelog (&self->log, S_LOG_SUBSCRIPTION,
                "ignored a subscription message of %zu bytes that is no known topic", len);
}

void
hb_router_tick (hb_router_t *self, uint64_t now_ms)
{
    uint64_t since = now_ms - self->tick_ms;
    if (since < S_TICK_BUSY_MS || (self->offset == self->tick_offset && since < S_TICK_IDLE_MS))
        return;
    self->tick_ms = now_ms;
    self->tick_offset = self->offset;
    unsigned char head[HP_WIRE_MULTICAST_TOPIC_LEN + HP_WIRE_HEADER_LEN];
    size_t head_len = hp_wire_head_multicast (head, HP_WIRE_TICK, self->epoch, self->offset,
                                              ++self->tick_seq, 0, 0);
    if (zmq_send (self->xpub, head, head_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
    ||  zmq_send (self->xpub, "", 0, ZMQ_DONTWAIT) < 0)
        hb_ratelog (&self->log, S_LOG_PUBLISH, "could not publish a tick: %s",
                    zmq_strerror (zmq_errno ()));
}

int
hb_router_disconnect (hb_router_t *self, const char *user, size_t len)
{
    unsigned char head[HP_WIRE_HEAD_MAX];
    size_t head_len = hp_wire_head_user (head, user, len, HP_WIRE_DISCONNECT,
                                         self->epoch, self->offset, 0, 0, 0);
    if (!head_len || zmq_send (self->xpub, head, head_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send (self->xpub, "", 0, ZMQ_DONTWAIT) < 0) {
        hb_ratelog (&self->log, S_LOG_PUBLISH, "could not publish a disconnect: %s",
                    zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

uint64_t
hb_router_offset (const hb_router_t *self)
{
    return self->offset;
}

uint64_t
hb_router_epoch (const hb_router_t *self)
{
    return self->epoch;
}

void
hb_router_set_idempotency (hb_router_t *self, hb_idem_t *idem)
{
    self->idem = idem;
}

void
hb_router_start_at (hb_router_t *self, uint64_t offset)
{
    self->offset = offset;
    /* the epoch goes on (a data directory, a takeover): the next broadcast's
     * prev is the last one history holds */
    hb_streamkey_t buf;
    hb_key_t key;
    hp_stream_t broadcast = hp_stream_broadcast ();
    hb_streamkey_make (&broadcast, &buf, &key);
    self->broadcast_last = hb_history_newest (self->history, &key);
}

void
hb_router_gauges (const hb_router_t *self, hb_gauges_t *out)
{
    memset (out, 0, sizeof *out);
    out->users_online = hb_presence_count (self->presence);
    out->presence_refused = hb_presence_refused (self->presence);
    out->presence_overflow = hb_presence_overflow (self->presence);
    out->undelivered_bytes = hb_undelivered_queued_bytes (self->undelivered);
    out->history_events = hb_history_events (self->history);
    out->history_bytes = hb_history_bytes (self->history);
    out->history_users = hb_history_users (self->history);
    out->evicted_count = hb_history_evicted (self->history, HB_EVICT_COUNT);
    out->evicted_bytes = hb_history_evicted (self->history, HB_EVICT_BYTES);
    out->evicted_ttl = hb_history_evicted (self->history, HB_EVICT_TTL);
    out->offset = self->offset;
    out->channels_subscribed = hb_presence_count (self->channels);
    if (self->chanpres) {
        out->channel_presence = hb_chanpres_count (self->chanpres);
        out->channel_presence_refused = hb_chanpres_refused (self->chanpres);
        out->channel_presence_overflow = hb_chanpres_overflow (self->chanpres);
    }
    hb_store_t *store = hb_history_store (self->history);
    if (store) {
        hb_store_stats_t st;
        hb_store_stats (store, &st);
        out->store_commits = st.commits;
        out->store_failures = st.failures;
        out->store_syncs = st.syncs;
        out->store_bytes = st.bytes;
    }
    if (self->replica.gauges)
        self->replica.gauges (self->replica.ctx, out);
    if (self->idem) {
        hb_idem_stats_t st;
        hb_idem_stats (self->idem, &st);
        out->idem_keys = st.keys;
        out->idem_bytes = st.bytes;
        out->idem_evicted = st.evicted;
    }
}

void
hb_router_set_channel_presence (hb_router_t *self, hb_chanpres_t *chanpres)
{
    self->chanpres = chanpres;
}

hb_chanpres_t *
hb_router_channel_presence (const hb_router_t *self)
{
    return self->chanpres;
}
