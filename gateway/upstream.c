/* upstream.c -- the broker link: XSUB for stream topics, DEALER for control requests.
 *
 * XSUB rather than SUB: the broker's XPUB already sends only what we
 * subscribed to, and a SUB would match every message against its own
 * subscription trie once more (4.5 % of the loop thread at saturation).
 * XSUB sends the same subscribe/unsubscribe messages, counts them the same
 * way and re-sends them when the link reconnects. */
#include "upstream.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <zmq.h>

#include "control.h"
#include "failover.h"
#include "health.h"
#include "curve.h"
#include "topic.h"
#include "uplink.h"
#include "wire.h"

/* Messages handled per wake-up before yielding to the WebSocket side; the
 * rest are read on the next loop iteration (an idle handle keeps it going). */
#define GW_UPSTREAM_BATCH 512
/* ZeroMQ queue bounds (messages). The broker's XPUB has its own. */
#define GW_SUB_RCVHWM 100000
#define GW_SUB_SNDHWM 1000000   /* subscribe/unsubscribe messages queued */
/* With a pair: a ZMTP PING to each broker this often; no traffic for three
 * of them drops the connection (s_socket). */
#define GW_SUB_HEARTBEAT_MS 1000
#define GW_DEALER_SNDHWM 10000
/* A control reply bigger than this is refused (a resume reply holds at most
 * the broker's per-user history). */
#define GW_REPLY_MAX (64u * 1024 * 1024)

/* Bits of gw_upstream.pending, in the order they are read. */
#define S_MONITOR 1u
#define S_SUB     2u
#define S_DEALER  4u
#define S_SOCKS   3

struct gw_upstream {
    void *zctx;
    void *sub;
    void *dealer;
    void *monitor;              /* PAIR receiving the SUB socket's disconnect events */
    uv_poll_t sub_poll;
    uv_poll_t dealer_poll;
    uv_poll_t monitor_poll;
    uv_idle_t idle;             /* active while a socket may hold more messages */
    unsigned pending;           /* S_MONITOR | S_SUB | S_DEALER: sockets to read */
    bool handles_open;
    gw_fanout_t *fanout;
    gw_metrics_t *metrics;
    uint64_t next_rid;
    uint64_t id;                /* this gateway's, for its own topic (audit answers) */
    gw_link_t link;             /* the requests, for fanout and subs */
    hp_buf_t request;           /* reused for every request */
    /* a hot standby pair ("EP1,EP2"): the XSUB connects to both (only the
     * active broker binds its publish socket), control requests go to one
     * and move to the other when unanswered or refused (failover.h), and
     * while no link is up a ping every S_PING_MS is the vote a passive
     * broker needs to take over */
    uv_loop_t *loop;
    gw_failover_t control_eps;
    gw_failover_t sub_eps;
    uv_timer_t ping_timer;
    gw_health_t health;         /* XSUB handshakes, the last message heard */
    bool reported_up;           /* what the log said last: up, */
    bool reported_down;         /* or down (neither before the first word) */
    uint64_t started_ms;
    uv_timer_t health_timer;    /* notices silence, logs lost/back */
    const char *sub_text;       /* --broker as given, for messages */
    gw_uplink_t *uplink;        /* browsers' messages, batched to control (uplink.c) */
};

#define S_PING_MS 500

static void s_on_poll (uv_poll_t *handle, int status, int events);
static void s_on_idle (uv_idle_t *handle);
static void s_on_ping_timer (uv_timer_t *handle);
static void s_on_health_timer (uv_timer_t *handle);
static void s_kick (gw_upstream_t *self, unsigned sock);
static int s_link_subscribe (void *ctx, gw_stream_kind_t kind, const char *name, size_t len,
                             bool on);
static uint64_t s_link_next_rid (void *ctx);
static int s_link_audit (void *ctx, uint64_t rid, const char *ids, size_t ids_len);
static int s_link_resume (void *ctx, uint64_t rid, gw_stream_kind_t kind, const char *name,
                          size_t len, bool has_position, uint64_t epoch, uint64_t offset);
static int s_link_presence (void *ctx, const char *channel, size_t channel_len,
                            const char *user, size_t user_len, uint64_t conn_id, bool on);
static int s_link_upstream (void *ctx, const char *record, size_t len);

static void *
s_socket (gw_upstream_t *self, int type, const gw_failover_t *eps, const hp_curve_t *curve)
{
    void *sock = zmq_socket (self->zctx, type);
    int zero = 0;
    if (!sock)
        return NULL;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    /* before connect, or libzmq would not apply it */
    if (curve && hp_curve_apply_client (curve, sock) != 0) {
        hp_error ("cannot set CURVE on the broker link: %s",
                  zmq_strerror (errno));
        zmq_close (sock);
        return NULL;
    }
    if (type == ZMQ_XSUB) {
        int hwm = GW_SUB_RCVHWM;
        zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
        /* Subscriptions travel as messages on the SUB's outgoing pipe, and
         * libzmq drops those past the send HWM without a word (default 1000:
         * a burst of new users would lose some). One per connection opened
         * or closed, so this bound is far above any real burst. */
        hwm = GW_SUB_SNDHWM;
        zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (eps->count > 1) {
            /* A pair: a broker that stops answering without closing its
             * connections (stopped, cut off from us) must count as down,
             * or no control ping -- the passive's vote -- ever starts. */
            int ivl = GW_SUB_HEARTBEAT_MS, timeout = 3 * GW_SUB_HEARTBEAT_MS;
            zmq_setsockopt (sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
            zmq_setsockopt (sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
        }
    }
    else {
        int hwm = GW_DEALER_SNDHWM;
        int64_t max = GW_REPLY_MAX;
        zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &max, sizeof max);
    }
    /* the XSUB to every endpoint of the list, the DEALER to the current one */
    for (int i = type == ZMQ_XSUB ? 0 : eps->at; i < eps->count; i++) {
        if (zmq_connect (sock, eps->ep[i]) != 0) {
            hp_error ("cannot connect to %s: %s", eps->ep[i],
                      zmq_strerror (errno));
            zmq_close (sock);
            return NULL;
        }
        if (type != ZMQ_XSUB)
            break;
    }
    return sock;
}

static int
s_watch (gw_upstream_t *self, uv_loop_t *loop, void *sock, uv_poll_t *poll)
{
    int fd;
    size_t size = sizeof fd;
    if (zmq_getsockopt (sock, ZMQ_FD, &fd, &size) != 0 || uv_poll_init (loop, poll, fd) != 0)
        return -1;
    poll->data = self;
    return uv_poll_start (poll, UV_READABLE, s_on_poll);
}

/* An XSUB (un)subscribes by sending 1 or 0 and the topic. It never blocks:
 * past the send HWM libzmq would drop it, which GW_SUB_SNDHWM rules out.
 * Presence topics are the longest. */
static int
s_subscription (gw_upstream_t *self, char op, const char *topic, size_t len)
{
    char msg[1 + HP_TOPIC_PRESENCE_MAX];
    if (!self->sub || len > HP_TOPIC_PRESENCE_MAX)
        return -1;
    msg[0] = op;
    memcpy (msg + 1, topic, len);
    return zmq_send (self->sub, msg, len + 1, ZMQ_DONTWAIT) == (int) (len + 1) ? 0 : -1;
}

gw_upstream_t *
gw_upstream_new (uv_loop_t *loop, const char *sub_endpoint, const char *control_endpoint,
                 const char *curve_cert, const char *curve_server,
                 gw_fanout_t *fanout, gw_metrics_t *metrics)
{
    gw_upstream_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fanout = fanout;
    self->metrics = metrics;
    self->next_rid = 1;
    self->id = hp_epoch_new ();
    self->link = (gw_link_t) { .ctx = self, .subscribe = s_link_subscribe,
                               .next_rid = s_link_next_rid, .resume = s_link_resume,
                               .audit = s_link_audit, .presence = s_link_presence,
                               .upstream = s_link_upstream };
    snprintf (self->link.gateway_hex, sizeof self->link.gateway_hex, "%016llx",
              (unsigned long long) self->id);
    hp_buf_init (&self->request, 64 * 1024);
    self->loop = loop;
    self->sub_text = sub_endpoint;
    self->started_ms = uv_now (loop);
    if (gw_failover_parse (&self->sub_eps, sub_endpoint) != 0
    ||  gw_failover_parse (&self->control_eps, control_endpoint) != 0) {
        hp_error ("--broker and --control take one endpoint, or two "
                  "separated by a comma (a hot standby pair, primary first)");
        free (self);
        return NULL;
    }
    hp_curve_t *curve = NULL;
    if (curve_cert) {
        char err[512];
        if (!(curve = hp_curve_new (curve_cert, curve_server, err, sizeof err))) {
            hp_error ("--curve-cert/--curve-server: %s", err);
            goto fail;
        }
    }
    else if (!hp_endpoint_is_loopback (sub_endpoint) || !hp_endpoint_is_loopback (control_endpoint))
        hp_warn ("the broker link to %s leaves this host "
                 "without CURVE (--curve-cert/--curve-server)", sub_endpoint);
    self->zctx = zmq_ctx_new ();
    if (self->zctx) {
        self->sub = s_socket (self, ZMQ_XSUB, &self->sub_eps, curve);
        if (self->sub)
            self->dealer = s_socket (self, ZMQ_DEALER, &self->control_eps, curve);
        if (self->dealer)
            self->uplink = gw_uplink_new (loop, self->zctx,
                                          self->control_eps.ep[self->control_eps.at], curve,
                                          metrics);
    }
    hp_curve_destroy (&curve);      /* each socket keeps its own copy of the keys */
    if (!self->uplink)
        goto fail;
    /* Events published while the SUB link is down are lost to it; the
     * monitor tells fanout, which has open connections fill the gap from
     * history once the link is back (see gw_fanout_on_link_lost). */
    char monitor_ep[64];
    snprintf (monitor_ep, sizeof monitor_ep, "inproc://gw-sub-monitor-%p", (void *) self);
    if (zmq_socket_monitor (self->sub, monitor_ep,
                            ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0
    ||  !(self->monitor = zmq_socket (self->zctx, ZMQ_PAIR))
    ||  zmq_connect (self->monitor, monitor_ep) != 0) {
        hp_error ("cannot monitor the broker link: %s", zmq_strerror (errno));
        goto fail;
    }
    uv_idle_init (loop, &self->idle);
    self->idle.data = self;
    /* events for many users come once on the multicast topic, broadcasts
     * (for every connection) on theirs, and the answers to our audits on
     * our own topic */
    char own[HP_WIRE_GATEWAY_TOPIC_LEN];
    hp_wire_gateway_topic (own, self->id);
    if (s_subscription (self, 1, HP_WIRE_MULTICAST_TOPIC, HP_WIRE_MULTICAST_TOPIC_LEN) != 0
    ||  s_subscription (self, 1, HP_WIRE_BROADCAST_TOPIC, HP_WIRE_BROADCAST_TOPIC_LEN) != 0
    ||  s_subscription (self, 1, own, sizeof own) != 0) {
        hp_error ("cannot subscribe to multicast: %s", zmq_strerror (errno));
        goto fail;
    }
    if (s_watch (self, loop, self->sub, &self->sub_poll) != 0
    ||  s_watch (self, loop, self->dealer, &self->dealer_poll) != 0
    ||  s_watch (self, loop, self->monitor, &self->monitor_poll) != 0) {
        hp_error ("cannot watch the broker sockets");
        goto fail;
    }
    self->handles_open = true;
    if (self->control_eps.count > 1 || self->sub_eps.count > 1) {
        uv_timer_init (loop, &self->ping_timer);
        self->ping_timer.data = self;
        uv_timer_start (&self->ping_timer, s_on_ping_timer, S_PING_MS, S_PING_MS);
    }
    uv_timer_init (loop, &self->health_timer);
    self->health_timer.data = self;
    uv_timer_start (&self->health_timer, s_on_health_timer, 500, 500);
    s_kick (self, S_MONITOR | S_SUB | S_DEALER);   /* setup may have taken an edge */
    return self;
fail:
    /* handles, if initialised, are closed by stop; the loop runs them */
    self->handles_open = true;
    gw_upstream_stop (self);
    uv_run (loop, UV_RUN_NOWAIT);
    gw_upstream_destroy (&self);
    return NULL;
}

void
gw_upstream_stop (gw_upstream_t *self)
{
    if (!self || !self->handles_open)
        return;
    self->handles_open = false;
    uv_handle_t *handles[] = { (uv_handle_t *) &self->sub_poll,
                               (uv_handle_t *) &self->dealer_poll,
                               (uv_handle_t *) &self->monitor_poll,
                               (uv_handle_t *) &self->idle,
                               (uv_handle_t *) &self->ping_timer,
                               (uv_handle_t *) &self->health_timer };
    for (size_t i = 0; i < sizeof handles / sizeof *handles; i++)
        if (handles[i]->loop && !uv_is_closing (handles[i]))
            uv_close (handles[i], NULL);
    /* the pollers no longer watch the descriptors ZeroMQ is about to close */
    if (self->sub) {
        zmq_socket_monitor (self->sub, NULL, 0);
        zmq_close (self->sub);
    }
    if (self->monitor)
        zmq_close (self->monitor);
    if (self->dealer)
        zmq_close (self->dealer);
    self->sub = self->dealer = self->monitor = NULL;
    gw_uplink_stop (self->uplink);
}

void
gw_upstream_destroy (gw_upstream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_upstream_t *self = *self_p;
    if (self->sub)
        zmq_close (self->sub);
    if (self->monitor)
        zmq_close (self->monitor);
    if (self->dealer)
        zmq_close (self->dealer);
    gw_uplink_destroy (&self->uplink);      /* closes its socket: before the context */
    if (self->zctx)
        zmq_ctx_term (self->zctx);
    hp_buf_free (&self->request);
    free (self);
    *self_p = NULL;
}

/* ZMQ_FD only signals edges, and any call on a socket may consume one, so
 * after we touch a socket we read it again on the next loop turn. */
static void
s_kick (gw_upstream_t *self, unsigned sock)
{
    self->pending |= sock;
    if (self->handles_open)
        uv_idle_start (&self->idle, s_on_idle);
}

/* --- incoming ------------------------------------------------------------- */

/* Logs the link going (warn) and coming back (info) once per change, a
 * gateway that never got a link once after GW_HEALTH_SILENCE_MS, and keeps
 * herald_gateway_broker_link_up current. */
static void
s_health_update (gw_upstream_t *self)
{
    char why[512];
    uint64_t now = uv_now (self->loop);
    bool up = gw_health_reason (&self->health, now, self->sub_text, why, sizeof why) == GW_HEALTH_UP;
    self->metrics->broker_link_up = up;
    if (up && !self->reported_up)
        hp_info ("broker link up (%s), epoch %016llx", self->sub_text,
                 (unsigned long long) self->health.epoch);
    else
    if (!up && self->reported_up)
        hp_warn ("broker link lost: %s; /healthz answers 503 until it is back", why);
    else
    if (!up && !self->reported_down && now - self->started_ms > GW_HEALTH_SILENCE_MS)
        hp_warn ("no broker link yet: %s; /healthz answers 503 until there is", why);
    else
        return;
    self->reported_up = up;
    self->reported_down = !up;
}

static void
s_on_health_timer (uv_timer_t *handle)
{
    s_health_update (handle->data);
}

static void
s_handle_broadcast (gw_upstream_t *self, zmq_msg_t *parts, int count)
{
    hp_wire_head_t head;
    /* [head][body], or [head][body][key] for an event whose flags say it
     * has a conflation key (wire.h): any other count is malformed */
    if (count < 2 || count > 3
    ||  hp_wire_head_parse (zmq_msg_data (&parts[0]), zmq_msg_size (&parts[0]), &head) != 0
    ||  (count == 3) != ((head.flags & HP_WIRE_FLAG_KEY) != 0)
    ||  (count == 3 && hp_wire_head_set_key (&head, zmq_msg_data (&parts[2]),
                                             zmq_msg_size (&parts[2])) != 0)) {
        self->metrics->events_dropped_total[GW_DROP_MALFORMED]++;
        return;
    }
    uint64_t was;
    if (gw_health_heard (&self->health, uv_now (self->loop), head.epoch, &was))
        hp_warn ("broker epoch changed from %016llx to %016llx (a broker restart without "
                 "--data-dir, or a new epoch after a takeover)", (unsigned long long) was,
                 (unsigned long long) head.epoch);
    if (!self->reported_up)
        s_health_update (self);
    const void *json = zmq_msg_data (&parts[1]);
    size_t json_len = zmq_msg_size (&parts[1]);
    if (head.multicast) {
        if (head.kind == HP_WIRE_TICK)
            gw_fanout_on_tick (self->fanout, &head);
        else
            gw_fanout_on_multicast (self->fanout, &head, json, json_len);
    }
    else if (head.gateway) {
        if (head.gateway_id == self->id)
            gw_fanout_on_audit_answer (self->fanout, &head, json, json_len);
    }
    else if (head.kind == HP_WIRE_SYNC)
        gw_fanout_on_sync (self->fanout, &head);
    else if (head.kind == HP_WIRE_DISCONNECT)
        gw_fanout_on_disconnect (self->fanout, head.user);
    else {
        self->metrics->events_in_total++;
        gw_fanout_on_event (self->fanout, &head, json, json_len);
    }
}

/* Control requests move to the other endpoint of a pair: what was queued
 * for the old one is dropped with its connection, and each sub's retry
 * timer asks again. */
static void
s_control_switch (gw_upstream_t *self, bool timed_out)
{
    gw_failover_t *eps = &self->control_eps;
    const char *from = eps->ep[eps->at];
    zmq_disconnect (self->dealer, from);
    int to = gw_failover_switch (eps, uv_now (self->loop), timed_out);
    hp_warn ("control %s %s: trying %s", from,
             timed_out ? "does not answer" : "is passive", eps->ep[to]);
    if (zmq_connect (self->dealer, eps->ep[to]) != 0)
        hp_error ("cannot connect to %s: %s", eps->ep[to],
                  zmq_strerror (errno));
    gw_uplink_switch (self->uplink, from, eps->ep[to]);
}

/* What a control reply is besides a resume reply: a passive broker's
 * refusal {"error":"passive"}, or the answer to our ping (a stats map). */
static void
s_reply_kind (msgpack_unpacked *u, const char *data, size_t len, bool *passive, bool *ping)
{
    if (msgpack_unpack_next (u, data, len, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  u->data.type != MSGPACK_OBJECT_MAP)
        return;
    const msgpack_object_map *map = &u->data.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        if (k->via.str.size == 5 && memcmp (k->via.str.ptr, "error", 5) == 0
        &&  v->type == MSGPACK_OBJECT_STR && v->via.str.size == 7
        &&  memcmp (v->via.str.ptr, "passive", 7) == 0)
            *passive = true;
        if (k->via.str.size == 20 && memcmp (k->via.str.ptr, "herald_broker_offset", 20) == 0)
            *ping = true;
    }
}

static void
s_handle_reply (gw_upstream_t *self, zmq_msg_t *parts, int count)
{
    /* [empty delimiter][reply] */
    if (count != 2 || zmq_msg_size (&parts[0]) != 0) {
        self->metrics->events_dropped_total[GW_DROP_MALFORMED]++;
        return;
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    bool passive = false, ping = false;
    s_reply_kind (&unpacked, zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]), &passive, &ping);
    if (gw_failover_answered (&self->control_eps, passive, uv_now (self->loop)))
        s_control_switch (self, false);
    if (passive || ping) {
        msgpack_unpacked_destroy (&unpacked);
        return;
    }
    hp_resume_reply_t reply;
    if (hp_control_resume_reply_decode (&unpacked, zmq_msg_data (&parts[1]),
                                        zmq_msg_size (&parts[1]), &reply) == 0)
        gw_fanout_on_resume_reply (self->fanout, &reply);
    else
        self->metrics->events_dropped_total[GW_DROP_MALFORMED]++;
    msgpack_unpacked_destroy (&unpacked);
}

/* A monitor event is [u16 event, u32 value][endpoint]; we asked only for
 * disconnects of the SUB socket. */
static void
s_handle_monitor (gw_upstream_t *self, zmq_msg_t *parts, int count)
{
    uint16_t event;
    if (count < 1 || zmq_msg_size (&parts[0]) < sizeof event)
        return;
    memcpy (&event, zmq_msg_data (&parts[0]), sizeof event);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        gw_health_link (&self->health, true);
    if (event == ZMQ_EVENT_DISCONNECTED) {
        gw_health_link (&self->health, false);
        gw_fanout_on_link_lost (self->fanout);
    }
    s_health_update (self);
}

/* Reads up to a batch of messages. Returns 1 when the socket may hold more,
 * 0 when it is drained. */
static int
s_drain (gw_upstream_t *self, void *sock)
{
    enum { PARTS_MAX = 3 };     /* [head][body][key] at most (wire.h) */
    for (int n = 0; n < GW_UPSTREAM_BATCH; n++) {
        zmq_msg_t parts[PARTS_MAX];
        zmq_msg_t surplus;
        int count = 0;
        bool extra = false;
        int err = 0;
        for (;;) {
            zmq_msg_t *part = count < PARTS_MAX ? &parts[count] : &surplus;
            zmq_msg_init (part);
            if (zmq_msg_recv (part, sock, ZMQ_DONTWAIT) < 0) {
                err = errno;
                zmq_msg_close (part);
                break;  /* only before a first part: ZeroMQ delivers whole messages */
            }
            bool more = zmq_msg_more (part);
            if (count < PARTS_MAX)
                count++;
            else {
                zmq_msg_close (part);   /* more frames than any message has */
                extra = true;
            }
            if (!more)
                break;
        }
        if (count == 0) {
            if (err == EINTR)
                continue;
            return 0;   /* EAGAIN (or the socket went away): drained */
        }
        if (sock == self->monitor)
            s_handle_monitor (self, parts, count);
        else if (extra)
            self->metrics->events_dropped_total[GW_DROP_MALFORMED]++;
        else if (sock == self->sub)
            s_handle_broadcast (self, parts, count);
        else
            s_handle_reply (self, parts, count);
        for (int i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
    }
    return 1;
}

/* Drains the sockets marked pending. Each zmq_msg_recv that finds nothing
 * costs two syscalls (libzmq checks its mailbox), so a wake-up reads only
 * the socket whose descriptor fired or that we touched, not all three. A
 * link's disconnect (monitor) cannot overtake what the next link brings:
 * ZeroMQ reconnects only after its reconnect interval (100 ms). */
static void
s_drain_pending (gw_upstream_t *self)
{
    if (!self->handles_open)
        return;
    void *socks[S_SOCKS] = { self->monitor, self->sub, self->dealer };
    for (int i = 0; i < S_SOCKS; i++)
        if ((self->pending & (1u << i)) && s_drain (self, socks[i]) == 0)
            self->pending &= ~(1u << i);
    if (self->pending)
        uv_idle_start (&self->idle, s_on_idle);
    else
        uv_idle_stop (&self->idle);
}

static void
s_on_poll (uv_poll_t *handle, int status, int events)
{
    gw_upstream_t *self = handle->data;
    self->pending |= handle == &self->monitor_poll ? S_MONITOR
                   : handle == &self->sub_poll ? S_SUB : S_DEALER;
    s_drain_pending (self);
}

static void
s_on_idle (uv_idle_t *handle)
{
    s_drain_pending (handle->data);
}

/* --- outgoing: the gw_link_t requests ------------------------------------- */

static int
s_link_subscribe (void *ctx, gw_stream_kind_t kind, const char *name, size_t len, bool on)
{
    gw_upstream_t *self = ctx;
    char topic[HP_TOPIC_MAX];
    hp_stream_t stream = kind == GW_STREAM_USER ? hp_stream_user (name, len)
                                                : hp_stream_channel (name, len);
    size_t topic_len = kind == GW_STREAM_USER ? hp_topic_user (topic, name, len)
                                              : hp_topic_stream (topic, &stream);
    if (!topic_len || s_subscription (self, on ? 1 : 0, topic, topic_len) != 0)
        return -1;
    s_kick (self, S_SUB);
    return 0;
}

static int
s_link_presence (void *ctx, const char *channel, size_t channel_len, const char *user,
                 size_t user_len, uint64_t conn_id, bool on)
{
    gw_upstream_t *self = ctx;
    char topic[HP_TOPIC_PRESENCE_MAX];
    size_t topic_len = hp_topic_presence (topic, channel, channel_len, user, user_len,
                                          self->id, conn_id);
    if (!topic_len || s_subscription (self, on ? 1 : 0, topic, topic_len) != 0)
        return -1;
    s_kick (self, S_SUB);
    return 0;
}

static uint64_t
s_link_next_rid (void *ctx)
{
    gw_upstream_t *self = ctx;
    return self->next_rid++;
}

static int
s_link_resume (void *ctx, uint64_t rid, gw_stream_kind_t kind, const char *name, size_t len,
               bool has_position, uint64_t epoch, uint64_t offset)
{
    gw_upstream_t *self = ctx;
    if (!self->dealer)
        return -1;
    hp_buf_reset (&self->request);
    hp_stream_t stream = kind == GW_STREAM_USER ? hp_stream_user (name, len)
                                                : hp_stream_channel (name, len);
    if (hp_control_pack_resume_stream (&self->request, rid, &stream, has_position, epoch,
                                       offset) != 0)
        return -1;
    int rc = 0;
    if (zmq_send (self->dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) != 0
    ||  zmq_send (self->dealer, self->request.data, self->request.len, ZMQ_DONTWAIT) < 0)
        rc = -1;    /* high-water mark: the sub's retry timer sends again */
    if (gw_failover_sent (&self->control_eps, uv_now (self->loop)))
        s_control_switch (self, true);
    s_kick (self, S_DEALER);
    return rc;
}

/* While no broker link is up, a pair's gateway asks the control endpoint
 * it uses for stats: unanswered, it moves to the other one, and there the
 * request is the vote a passive broker takes over on (pair_fsm.h). */
static void
s_on_ping_timer (uv_timer_t *handle)
{
    gw_upstream_t *self = handle->data;
    if (self->health.links_up > 0 || !self->dealer)
        return;
    static const char stats[] = "\x81\xa2op\xa5stats";   /* {"op":"stats"} */
    if (zmq_send (self->dealer, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        zmq_send (self->dealer, stats, sizeof stats - 1, ZMQ_DONTWAIT);
    if (gw_failover_sent (&self->control_eps, uv_now (self->loop)))
        s_control_switch (self, true);
    s_kick (self, S_DEALER);
}

/* In band on the XSUB: the broker's XPUB hands a message whose first byte
 * is no subscription's to the broker like a subscription, after every
 * subscription sent before it. */
static int
s_link_audit (void *ctx, uint64_t rid, const char *ids, size_t ids_len)
{
    gw_upstream_t *self = ctx;
    if (!self->sub)
        return -1;
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, HP_WIRE_AUDIT_REQUEST_HEAD + ids_len) != 0)
        return -1;
    unsigned char *p = zmq_msg_data (&msg);
    hp_wire_audit_request_head (p, self->id, rid);
    memcpy (p + HP_WIRE_AUDIT_REQUEST_HEAD, ids, ids_len);
    if (zmq_msg_send (&msg, self->sub, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    s_kick (self, S_SUB);
    return 0;
}

/* A browser's message: batched to the broker while the link is live;
 * without one it could only pile up for a broker that may not come back,
 * so it is dropped and counted (at most once, like every PUSH). */
static int
s_link_upstream (void *ctx, const char *record, size_t len)
{
    gw_upstream_t *self = ctx;
    if (!self->reported_up || !self->uplink) {
        self->metrics->upstream_dropped_total++;
        return -1;
    }
    return gw_uplink_add (self->uplink, record, len);
}

gw_health_state_t
gw_upstream_health (gw_upstream_t *self, char *why, size_t cap)
{
    return gw_health_reason (&self->health, uv_now (self->loop), self->sub_text, why, cap);
}

const gw_link_t *
gw_upstream_link (gw_upstream_t *self)
{
    return &self->link;
}
