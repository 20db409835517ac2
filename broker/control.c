/* control.c -- the broker's control socket: presence, resume, stats, disconnect, publish, upstream.
 *
 * A request is [routing frames...][body]; REQ peers put an empty delimiter
 * among the routing frames, DEALER peers send it themselves. Everything but
 * the last frame is echoed back unchanged, so both kinds of peer work. */
#include "control_srv.h"
#include "confirm.h"
#include "control.h"
#include "ratelog.h"
#include "streamkey.h"
#include "wire.h"
#include "zap.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_FRAMES_MAX HB_CONFIRM_FRAMES_MAX   /* routing frames + body; more is not a sane peer */

struct hb_control {
    void             *sock;
    hb_router_t      *router;
    hb_presence_t    *presence;
    hb_history_t     *history;
    hb_metrics_t     *metrics;
    hp_control_req_t *req;
    hb_history_item_t *items;    /* 2 x events_per_user: a user's and the broadcasts */
    size_t            items_max;
    msgpack_sbuffer   reply;
    hb_ratelog_t      log;
    bool              require_roles;   /* CURVE on: resume for gateways only */
    hb_confirm_t     *confirm;         /* publish requests waiting for their commit */
    hb_zap_t         *zap;             /* CURVE on: revoked keys refused */
    hb_upstream_out_t *upstream;       /* gateways' batches of browsers' messages */
};

/* What s_answer did with a request. */
typedef enum { S_ANSWERED, S_PUBLISH, S_PUBLISH_FORBIDDEN, S_NO_REPLY } s_outcome_t;

hb_control_t *
hb_control_new (void *router_sock, hb_router_t *router, hb_presence_t *presence,
                hb_history_t *history, hb_metrics_t *metrics)
{
    hb_control_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = router_sock;
    self->router = router;
    self->presence = presence;
    self->history = history;
    self->metrics = metrics;
    self->items_max = 2 * hb_history_events_per_user (history);
    self->items = malloc (self->items_max * sizeof *self->items);
    self->req = hp_control_req_new ();
    self->confirm = hb_confirm_new (router_sock, router, metrics);
    msgpack_sbuffer_init (&self->reply);
    if (!self->items || !self->req || !self->confirm) {
        hb_control_destroy (&self);
        return NULL;
    }
    return self;
}

void
hb_control_destroy (hb_control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_control_t *self = *self_p;
    hp_control_req_destroy (&self->req);
    hb_confirm_destroy (&self->confirm);
    free (self->items);
    msgpack_sbuffer_destroy (&self->reply);
    free (self);
    *self_p = NULL;
}

void
hb_control_require_roles (hb_control_t *self, hb_zap_t *zap)
{
    self->require_roles = true;
    self->zap = zap;
}

void
hb_control_set_upstream (hb_control_t *self, hb_upstream_out_t *upstream)
{
    self->upstream = upstream;
}

static void
s_error (hb_control_t *self, msgpack_packer *pk, const char *why)
{
    self->metrics->control_errors++;
    hb_ratelog (&self->log, 0, "control request refused: %s", why);
    msgpack_pack_map (pk, 1);
    hp_control_pack_str (pk, "error", 5);
    hp_control_pack_str (pk, why, strlen (why));
}

static void
s_presence (hb_control_t *self, msgpack_packer *pk)
{
    size_t n = hp_control_req_user_count (self->req);
    msgpack_pack_map (pk, 1);
    hp_control_pack_str (pk, "online", 6);
    msgpack_pack_map (pk, n);
    for (size_t i = 0; i < n; i++) {
        hp_str_t user = hp_control_req_user (self->req, i);
        hp_control_pack_str (pk, user.ptr, user.len);
        if (hb_presence_online (self->presence, hb_hash (user.ptr, user.len), user.ptr, user.len))
            msgpack_pack_true (pk);
        else
            msgpack_pack_false (pk);
    }
}

static void
s_pack_user (void *arg, const char *user, size_t len)
{
    hp_control_pack_str (arg, user, len);
}

/* Who holds a connection subscribed to the channel, from the gateways'
 * presence topics: distinct users (at most HP_CHANNEL_PRESENCE_USERS_MAX,
 * truncated says more were left out) and the connections. */
static void
s_channel_presence (hb_control_t *self, msgpack_packer *pk)
{
    hp_str_t channel = hp_control_req_channel (self->req);
    hb_chanpres_t *cp = hb_router_channel_presence (self->router);
    uint64_t connections = 0;
    size_t users = 0;
    if (cp) {
        /* first the count (the array's length goes first), then the names */
        users = hb_chanpres_users (cp, channel.ptr, channel.len, 0, s_pack_user, pk,
                                   &connections);
    }
    size_t listed = users < HP_CHANNEL_PRESENCE_USERS_MAX ? users : HP_CHANNEL_PRESENCE_USERS_MAX;
    hp_control_pack_channel_presence_begin (pk, channel.ptr, channel.len, connections,
                                            !cp || hb_chanpres_exact (cp), users > listed,
                                            listed);
    if (cp)
        hb_chanpres_users (cp, channel.ptr, channel.len, listed, s_pack_user, pk, &connections);
}

/* Events after the requested offset when the epoch is ours; none (and not
 * recovered) for a fresh connection or another broker's epoch, whose
 * offsets mean nothing here. A channel's resume reads its stream; a user's
 * reads the user's and the broadcast stream together (a broadcast reaches
 * every user, so it is part of each user's resume), complete only when
 * neither lost anything after the offset. */
static void
s_resume (hb_control_t *self, msgpack_packer *pk, uint64_t now)
{
    hp_stream_t stream = hp_control_req_stream (self->req);
    uint64_t epoch = hb_router_epoch (self->router);
    size_t count = 0;
    bool recovered = false;
    if (hp_control_req_has_position (self->req) && hp_control_req_epoch (self->req) == epoch) {
        uint64_t after = hp_control_req_offset (self->req);
        hb_streamkey_t buf[2];
        hb_key_t keys[2];
        size_t nkeys = 1;
        hp_stream_t broadcast = hp_stream_broadcast ();
        if (stream.kind == HP_STREAM_USER) {
            keys[0] = (hb_key_t) { stream.name.ptr, stream.name.len,
                                   hb_hash (stream.name.ptr, stream.name.len) };
            hb_streamkey_make (&broadcast, &buf[1], &keys[1]);
            nkeys = 2;
        }
        else
            hb_streamkey_make (&stream, &buf[0], &keys[0]);   /* checked by the decoder */
        uint64_t lost_upto;
        count = hb_history_collect_streams (self->history, keys, nkeys, after, now,
                                            self->items, self->items_max, &lost_upto);
        recovered = lost_upto <= after;
    }
    if (recovered)
        self->metrics->resumes_recovered++;
    else
        self->metrics->resumes_unrecovered++;
    hp_control_pack_resume_reply_begin_stream (pk, hp_control_req_rid (self->req), &stream,
                                               epoch, hb_router_offset (self->router),
                                               recovered, count);
    for (size_t i = 0; i < count; i++)
        hp_control_pack_resume_reply_event (pk, self->items[i].offset,
                                            self->items[i].json, self->items[i].len);
    hp_control_pack_resume_reply_at_begin (pk, count);
    for (size_t i = 0; i < count; i++)
        hp_control_pack_resume_reply_at (pk, self->items[i].at);
    hp_control_pack_resume_reply_meta_begin (pk, count);
    for (size_t i = 0; i < count; i++)
        hp_control_pack_resume_reply_meta (pk, self->items[i].meta.flags,
                                           self->items[i].meta.key.ptr,
                                           self->items[i].meta.key.len);
}

/* The backend asks every gateway to close the user's connections (4003).
 * The reply says whether the user was online (some gateway subscribed to
 * them, so the message reached it) and whether it was published; the
 * broker does not learn how many connections closed. */
static void
s_disconnect (hb_control_t *self, msgpack_packer *pk)
{
    hp_str_t user = hp_control_req_user (self->req, 0);
    bool online = hb_presence_online (self->presence, hb_hash (user.ptr, user.len),
                                      user.ptr, user.len);
    bool sent = hb_router_disconnect (self->router, user.ptr, user.len) == 0;
    if (sent)
        self->metrics->disconnects++;
    msgpack_pack_map (pk, 3);
    hp_control_pack_str (pk, "user", 4);
    hp_control_pack_str (pk, user.ptr, user.len);
    hp_control_pack_str (pk, "online", 6);
    if (online)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    hp_control_pack_str (pk, "sent", 4);
    if (sent)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

/* user_id: the request's ZAP User-Id (NULL without CURVE). A publish is
 * left to confirm.c (its answer waits for the commit). */
static s_outcome_t
s_answer (hb_control_t *self, const char *bytes, size_t len, uint64_t now,
          const char *user_id)
{
    msgpack_sbuffer_clear (&self->reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->reply, msgpack_sbuffer_write);
    const char *why = NULL;
    if (self->zap && !hb_zap_user_current (self->zap, user_id, HB_ROLE_GATEWAY | HB_ROLE_PRODUCER)) {
        self->metrics->revoked_messages[HB_ZAP_CONTROL]++;
        s_error (self, &pk, "revoked");
        return S_ANSWERED;
    }
    if (hp_control_req_decode (self->req, bytes, len, &why) != 0) {
        s_error (self, &pk, why ? why : "bad request");
        return S_ANSWERED;
    }
    switch (hp_control_req_op (self->req)) {
        case HP_OP_PRESENCE:
            s_presence (self, &pk);
            break;
        case HP_OP_CHANNEL_PRESENCE:
            s_channel_presence (self, &pk);
            break;
        case HP_OP_RESUME:
            /* a user's history is for the gateway holding them, not for
             * producers (who may ask presence and stats) */
            if (self->require_roles && !hb_zap_user_has_role (user_id, HB_ROLE_GATEWAY)) {
                self->metrics->control_forbidden++;
                s_error (self, &pk, "forbidden");
                break;
            }
            s_resume (self, &pk, now);
            break;
        case HP_OP_DISCONNECT:
            s_disconnect (self, &pk);
            break;
        case HP_OP_STATS: {
            hb_gauges_t gauges;
            hb_router_gauges (self->router, &gauges);
            hb_metrics_pack (self->metrics, &gauges, &pk);
            break;
        }
        case HP_OP_UPSTREAM: {
            /* what browsers send comes from gateways only, and is never
             * answered (a gateway's batches are fire and forget) */
            size_t n = hp_control_req_send_count (self->req);
            if (self->require_roles && !hb_zap_user_has_role (user_id, HB_ROLE_GATEWAY)) {
                self->metrics->control_forbidden++;
                if (self->upstream)
                    hb_upstream_out_refuse (self->upstream, n, HB_UPSTREAM_FORBIDDEN);
                s_error (self, &pk, "forbidden");
                break;
            }
            for (size_t i = 0; i < n && self->upstream; i++) {
                hp_str_t record = hp_control_req_send (self->req, i);
                hb_upstream_out_push (self->upstream, record.ptr, record.len);
            }
            return S_NO_REPLY;
        }
        case HP_OP_PUBLISH:
            /* with CURVE, only producers publish (as only they reach ingest) */
            if (self->require_roles && !hb_zap_user_has_role (user_id, HB_ROLE_PRODUCER)) {
                self->metrics->control_forbidden++;
                return S_PUBLISH_FORBIDDEN;
            }
            return S_PUBLISH;
        default:
            s_error (self, &pk, "unknown op");
    }
    return S_ANSWERED;
}

void
hb_control_settle (hb_control_t *self)
{
    hb_confirm_settle (self->confirm);
}

int
hb_control_handle (hb_control_t *self, uint64_t now)
{
    zmq_msg_t frames[S_FRAMES_MAX];
    size_t count = 0;
    bool overflow = false;
    for (;;) {
        zmq_msg_t *msg = &frames[count < S_FRAMES_MAX ? count : S_FRAMES_MAX - 1];
        if (count >= S_FRAMES_MAX) {
            zmq_msg_close (msg);   /* keep draining into the last slot */
            overflow = true;
        }
        zmq_msg_init (msg);
        if (zmq_msg_recv (msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (msg);
            if (count == 0)
                return 0;
            break;   /* cannot happen mid-message: ZeroMQ delivers whole messages */
        }
        if (count < S_FRAMES_MAX)
            count++;
        if (!zmq_msg_more (msg))
            break;
    }
    size_t kept = count;
    if (overflow || count < 2) {
        /* No routing identity to answer to, or an absurd envelope. */
        self->metrics->control_requests++;
        self->metrics->control_errors++;
        hb_ratelog (&self->log, 1, "dropped a control message of %zu frames", count);
        for (size_t i = 0; i < kept; i++)
            zmq_msg_close (&frames[i]);
        return 1;
    }
    self->metrics->control_requests++;
    zmq_msg_t *body = &frames[count - 1];
    s_outcome_t outcome = s_answer (self, zmq_msg_data (body), zmq_msg_size (body), now,
                                    zmq_msg_gets (body, "User-Id"));
    if (outcome == S_PUBLISH) {
        hb_confirm_take (self->confirm, frames, count, now);
        return 1;
    }
    if (outcome == S_PUBLISH_FORBIDDEN) {
        hb_confirm_refuse_forbidden (self->confirm, frames, count);
        return 1;
    }
    if (outcome == S_NO_REPLY) {
        for (size_t i = 0; i < count; i++)
            zmq_msg_close (&frames[i]);
        return 1;
    }
    for (size_t i = 0; i + 1 < count; i++) {
        if (zmq_msg_send (&frames[i], self->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            zmq_msg_close (&frames[i]);
    }
    /* A peer that went away or is over its high-water mark loses its reply. */
    zmq_send (self->sock, self->reply.data, self->reply.size, ZMQ_DONTWAIT);
    zmq_msg_close (body);
    return 1;
}
