/* router.c -- one ingest envelope in, one offset, one JSON frame, one publish per recipient.
 *
 * The hot path: decode once (hp_envelope_decode), build the JSON frame once
 * into a reused buffer, copy it once into a ZeroMQ message that every
 * recipient's publish shares by reference (zmq_msg_copy bumps a refcount),
 * and hash each recipient once for both the presence set and the history. */
#include "router.h"
#include "frame.h"
#include "ratelog.h"
#include "topic.h"
#include "umap.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

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
    hb_ratelog_t      log;
};

/* ratelog reasons: envelope errors use their hp_env_error_t value */
#define S_LOG_SUBSCRIPTION (HP_ENV_ERROR_COUNT + 1)
#define S_LOG_PUBLISH      (HP_ENV_ERROR_COUNT + 2)
#define S_LOG_HISTORY      (HP_ENV_ERROR_COUNT + 3)

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
    if (!self->env || !self->keys) {
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
    free (self);
    *self_p = NULL;
}

/* [topic][header][body]; body is shared by reference, or handed over
 * outright when `last` (saving the shared refcount for the common case of
 * one recipient). Returns 0 or -1. */
static int
s_publish (hb_router_t *self, const char *topic, size_t topic_len,
           const unsigned char *header, zmq_msg_t *body, bool last)
{
    if (zmq_send (self->xpub, topic, topic_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    zmq_send (self->xpub, header, HP_WIRE_HEADER_LEN, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (last)
        return zmq_msg_send (body, self->xpub, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    zmq_msg_t copy;
    zmq_msg_init (&copy);
    zmq_msg_copy (&copy, body);
    if (zmq_msg_send (&copy, self->xpub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&copy);
        return -1;
    }
    return 0;
}

hp_env_error_t
hb_router_route (hb_router_t *self, const char *bytes, size_t len, uint64_t now,
                 hb_route_result_t *result)
{
    hb_metrics_t *m = self->metrics;
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
    uint64_t offset = ++self->offset;
    m->events_accepted++;
    if (result)
        result->offset = offset;

    unsigned char header[HP_WIRE_HEADER_LEN];
    hp_wire_header_pack (header, HP_WIRE_EVENT, self->epoch, offset);
    zmq_msg_t body;
    if (zmq_msg_init_size (&body, self->frame.len) != 0) {
        hb_ratelog (&self->log, S_LOG_PUBLISH, "out of memory publishing offset %llu",
                    (unsigned long long) offset);
        return HP_ENV_OK;
    }
    memcpy (zmq_msg_data (&body), self->frame.data, self->frame.len);

    size_t n = hp_envelope_recipient_count (self->env);
    for (size_t i = 0; i < n; i++) {
        hp_str_t user = hp_envelope_recipient (self->env, i);
        self->keys[i] = (hb_key_t) { user.ptr, user.len, hb_hash (user.ptr, user.len) };
    }
    if (hb_history_append (self->history, offset, hp_envelope_ttl (self->env), now,
                           &body, self->keys, n) != 0) {
        m->history_store_failures++;
        hb_ratelog (&self->log, S_LOG_HISTORY, "out of memory storing offset %llu in history",
                    (unsigned long long) offset);
    }

    hb_undelivered_begin (self->undelivered, self->env, offset);
    /* While presence is exact, an offline user has no subscriber and the
     * XPUB would drop the message anyway; a gateway subscribing right now
     * gets a sync with an offset >= this one and reads it from history. */
    bool exact = hb_presence_exact (self->presence);
    char topic[HP_TOPIC_MAX];
    for (size_t i = 0; i < n; i++) {
        const hb_key_t *key = &self->keys[i];
        bool online = hb_presence_online (self->presence, key->hash, key->ptr, key->len);
        if (i == 0 && result)
            result->first_online = online;
        if (online || !exact) {
            size_t topic_len = hp_topic_user (topic, key->ptr, key->len);
            if (topic_len && s_publish (self, topic, topic_len, header, &body, i + 1 == n) == 0) {
                if (online)
                    m->messages_published++;
            }
        }
        if (!online)
            hb_undelivered_send (self->undelivered, key->ptr, key->len);
    }
    zmq_msg_close (&body);   /* a no-op when the last send took it */
    return HP_ENV_OK;
}

void
hb_router_subscription (hb_router_t *self, const char *bytes, size_t len)
{
    hp_str_t user;
    if (len < 1 || (bytes[0] != 0 && bytes[0] != 1)
        || hp_topic_parse_user (bytes + 1, len - 1, &user) != 0) {
        self->metrics->subscriptions_invalid++;
        hb_ratelog (&self->log, S_LOG_SUBSCRIPTION,
                    "ignored a subscription message of %zu bytes that is not a user topic", len);
        return;
    }
    uint64_t hash = hb_hash (user.ptr, user.len);
    if (bytes[0] == 0) {
        hb_presence_remove (self->presence, hash, user.ptr, user.len);
        return;
    }
    if (hb_presence_add (self->presence, hash, user.ptr, user.len) != 0)
        hb_ratelog (&self->log, S_LOG_SUBSCRIPTION,
                    "presence set full: a user is online but not recorded");
    unsigned char header[HP_WIRE_HEADER_LEN];
    hp_wire_header_pack (header, HP_WIRE_SYNC, self->epoch, self->offset);
    if (zmq_send (self->xpub, bytes + 1, len - 1, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send (self->xpub, header, sizeof header, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || zmq_send (self->xpub, "", 0, ZMQ_DONTWAIT) < 0)
        hb_ratelog (&self->log, S_LOG_PUBLISH, "could not publish a sync: %s",
                    zmq_strerror (zmq_errno ()));
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
hb_router_gauges (const hb_router_t *self, hb_gauges_t *out)
{
    memset (out, 0, sizeof *out);
    out->users_online = hb_presence_count (self->presence);
    out->presence_refused = hb_presence_refused (self->presence);
    out->history_events = hb_history_events (self->history);
    out->history_bytes = hb_history_bytes (self->history);
    out->history_users = hb_history_users (self->history);
    out->evicted_count = hb_history_evicted (self->history, HB_EVICT_COUNT);
    out->evicted_bytes = hb_history_evicted (self->history, HB_EVICT_BYTES);
    out->evicted_ttl = hb_history_evicted (self->history, HB_EVICT_TTL);
    out->offset = self->offset;
}
