/* main.c -- herald-broker: wiring of config, sockets, modules, the loop and signals. */
#include "config.h"
#include "log.h"
#include "envcheck.h"
#include "control.h"
#include "control_srv.h"
#include "curve.h"
#include "fdlimit.h"
#include "history.h"
#include "http.h"
#include "http_check.h"
#include "idem_store.h"
#include "idempotency.h"
#include "metrics.h"
#include "pair.h"
#include "presence.h"
#include "ratelog.h"
#include "router.h"
#include "sockmon.h"
#include "store_lmdb.h"
#include "umap.h"
#include "undelivered.h"
#include "upstream_out.h"
#include "wire.h"
#include "zap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* Per loop turn, at most this many messages from each socket, so a flood on
 * one (ingest) cannot starve the others (control, subscriptions). */
#define S_BATCH_INGEST        1024
#define S_BATCH_SUBSCRIPTIONS 1024
#define S_BATCH_CONTROL       64
#define S_BATCH_HTTP          16
#define S_ZAP_ITEMS           (1 + HB_ZAP_SOCKETS)   /* ZAP handler + socket monitors */

#define S_INGEST_HWM      100000
#define S_UNDELIVERED_HWM 10000
/* Records of browsers' messages queued for consumers: at most
 * S_UPSTREAM_HWM x HP_UPMSG_MAX (32 KiB) = 128 MiB held for a stalled
 * consumer, a typing mark's ~100 bytes making it ~400 KB in practice. */
#define S_UPSTREAM_HWM 4096
/* Largest message each reading socket takes; ZeroMQ drops the connection
 * of a peer that sends more, before buffering it. Only options set before
 * zmq_bind apply to the connections it accepts, so s_socket sets them
 * first. Control: HP_CONTROL_REQUEST_MAX (a presence request for 10,000
 * users of 128 bytes is ~1.3 MB). Publish: what the XPUB reads are
 * subscriptions, and a user topic is at most 132 bytes, and gateways'
 * audit requests, at most HP_WIRE_AUDIT_REQUEST_MAX (the same 1 KiB). */
#define S_PUBLISH_MAX_MSG 1024

static int s_signal_pipe[2] = { -1, -1 };

static void
s_on_signal (int sig)
{
    int saved = errno;
    char c = (char) sig;
    if (write (s_signal_pipe[1], &c, 1) < 0) {
        /* the pipe is full: a stop is already pending */
    }
    errno = saved;
}

static int
s_signals_init (void)
{
    if (pipe (s_signal_pipe) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl (s_signal_pipe[i], F_SETFL, O_NONBLOCK);
        fcntl (s_signal_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGHUP, &sa, NULL);      /* re-read --curve-allow */
    signal (SIGPIPE, SIG_IGN);
    return 0;
}

/* Who watches the bound sockets (sockmon.c), and the ZAP handler (or NULL)
 * that hears of their failed handshakes. */
typedef struct {
    hb_sockmon_t *sockmon;
    hb_zap_t *zap;
} s_watch_t;

/* A socket with linger 0 (shutdown must not wait for slow peers), the given
 * options, ZMQ_MAXMSGSIZE when max_msg > 0 and, when curve is set, CURVE with
 * ZAP domain `role` (every option before the bind, or libzmq would not apply
 * it), monitored as broker socket `which` when watch is set (also before
 * the bind, where the monitor learns the listener), bound to endpoint.
 * NULL (logged) on failure. */
static void *
s_socket (void *ctx, int type, const char *endpoint, const char *role,
          const int (*opts)[2], size_t nopts, int64_t max_msg, const hp_curve_t *curve,
          const s_watch_t *watch, hb_zap_socket_t which)
{
    void *sock = zmq_socket (ctx, type);
    if (!sock)
        goto fail;
    int linger = 0;
    if (zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger) != 0)
        goto fail;
    for (size_t i = 0; i < nopts; i++)
        if (zmq_setsockopt (sock, opts[i][0], &opts[i][1], sizeof (int)) != 0)
            goto fail;
    if (max_msg > 0 && zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0)
        goto fail;
    if (curve && hp_curve_apply_server (curve, sock, role) != 0)
        goto fail;
    if (watch && hb_sockmon_watch (watch->sockmon, sock, which, watch->zap) != 0) {
        hp_error ("cannot monitor the %s socket", role);
        goto fail;
    }
    if (zmq_bind (sock, endpoint) != 0)
        goto fail;
    return sock;
fail:
    hp_error ("cannot bind the %s socket to %s: %s",
              role, endpoint, zmq_strerror (zmq_errno ()));
    if (sock)
        zmq_close (sock);
    return NULL;
}

typedef struct {
    void *ingest, *publish, *control, *undelivered, *bridge, *upstream;
} s_sockets_t;

static void
s_sockets_close (s_sockets_t *s)
{
    void **all[] = { &s->ingest, &s->publish, &s->control, &s->undelivered, &s->bridge,
                     &s->upstream };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) {
            zmq_close (*all[i]);
            *all[i] = NULL;
        }
}

/* Control and the HTTP bridge: bound from the start, also by a broker of
 * a pair that does not serve (a client's request there is its vote). */
static int
s_sockets_open_base (s_sockets_t *s, void *ctx, const hb_config_t *cfg, const hp_curve_t *curve,
                     const s_watch_t *watch)
{
    const int control_opts[][2] = { { ZMQ_RCVHWM, 10000 }, { ZMQ_SNDHWM, 10000 } };
    s->control = s_socket (ctx, ZMQ_ROUTER, cfg->control, HP_ZAP_DOMAIN_CONTROL, control_opts, 2,
                           HP_CONTROL_REQUEST_MAX, curve, watch, HB_ZAP_CONTROL);
    s->bridge = s_socket (ctx, ZMQ_PAIR, HB_HTTP_BRIDGE_ENDPOINT, "http bridge", NULL, 0, 0, NULL,
                          NULL, HB_ZAP_SOCKETS);
    return s->control && s->bridge ? 0 : -1;
}

/* The publish socket: the send HWM bounds what a stalled gateway pins, in
 * bytes as well as messages: gateways find and repair what it drops
 * (PROTOCOL.md). */
static void *
s_open_publish (void *ctx, const hb_config_t *cfg, const hp_curve_t *curve, const s_watch_t *watch)
{
    const int publish_opts[][2] = { { ZMQ_SNDHWM, hb_config_publish_hwm (cfg) },
                                    { ZMQ_XPUB_VERBOSE, 1 } };
    return s_socket (ctx, ZMQ_XPUB, cfg->publish, HP_ZAP_DOMAIN_PUBLISH, publish_opts, 2,
                     S_PUBLISH_MAX_MSG, curve, watch, HB_ZAP_PUBLISH);
}

/* The undelivered socket: a PUSH reads nothing from its peers but their handshake. */
static void *
s_open_undelivered (void *ctx, const hb_config_t *cfg, const hp_curve_t *curve,
                    const s_watch_t *watch)
{
    const int undelivered_opts[][2] = { { ZMQ_SNDHWM, S_UNDELIVERED_HWM } };
    return s_socket (ctx, ZMQ_PUSH, cfg->undelivered, HP_ZAP_DOMAIN_UNDELIVERED,
                     undelivered_opts, 1, 4096, curve, watch, HB_ZAP_UNDELIVERED);
}

/* The upstream socket: browsers' messages to consumers; like undelivered,
 * its peers send nothing but their handshake. */
static void *
s_open_upstream (void *ctx, const hb_config_t *cfg, const hp_curve_t *curve,
                 const s_watch_t *watch)
{
    const int upstream_opts[][2] = { { ZMQ_SNDHWM, S_UPSTREAM_HWM } };
    return s_socket (ctx, ZMQ_PUSH, cfg->upstream, HP_ZAP_DOMAIN_UPSTREAM,
                     upstream_opts, 1, 4096, curve, watch, HB_ZAP_UPSTREAM);
}

/* Ingest, publish, undelivered and upstream: bound only by a broker that serves, so
 * producers and gateways connected to both brokers of a pair reach only
 * the active one (with ZMQ_IMMEDIATE a connection that never completes
 * takes no messages). */
static int
s_sockets_open (s_sockets_t *s, void *ctx, const hb_config_t *cfg, const hp_curve_t *curve,
                const s_watch_t *watch)
{
    /* Frames somewhat over the event limit are read and counted as
     * too_large; far bigger ones make ZeroMQ drop the sender's connection
     * before the bytes are buffered. */
    int64_t max_in = (int64_t) cfg->max_event_bytes * 16;
    if (max_in < (1 << 20))
        max_in = 1 << 20;
    const int ingest_opts[][2] = { { ZMQ_RCVHWM, S_INGEST_HWM } };
    s->ingest = s_socket (ctx, ZMQ_PULL, cfg->ingest, HP_ZAP_DOMAIN_INGEST, ingest_opts, 1,
                          max_in, curve, watch, HB_ZAP_INGEST);
    s->publish = s_open_publish (ctx, cfg, curve, watch);
    s->undelivered = s_open_undelivered (ctx, cfg, curve, watch);
    s->upstream = s_open_upstream (ctx, cfg, curve, watch);
    if (!s->upstream && !cfg->upstream_given)
        /* Only the default endpoint: a broker whose other sockets were
         * moved (tests, several brokers on one host) still starts when
         * another took 7406, as it did before this stream existed. */
        hp_warn ("running without the upstream stream: its default endpoint %s is not "
                 "free (give --upstream); messages from browsers are dropped and counted "
                 "(herald_broker_upstream_dropped_total{reason=\"no_consumer\"})",
                 cfg->upstream);
    return s->ingest && s->publish && s->undelivered
        && (s->upstream || !cfg->upstream_given) ? 0 : -1;
}

typedef struct {
    hb_metrics_t      metrics;
    hb_presence_t    *presence;
    hb_chanpres_t    *chanpres;       /* channel presence (p: topics) */
    hb_history_t     *history;
    hb_undelivered_t *undelivered;
    hb_upstream_out_t *upstream;      /* browsers' messages to consumers */
    hb_router_t      *router;
    hb_control_t     *control;
    hb_http_t        *http;
    hb_zap_t         *zap;          /* NULL without CURVE */
    hb_sockmon_t     *sockmon;      /* the bound sockets' monitors */
    hb_store_t       *store;          /* --data-dir, or NULL */
    hb_pair_t        *pair;           /* --role, or NULL */
    hb_idem_t        *idem;           /* idempotency keys (--idempotency-window) */
    hb_idem_store_t  *idem_store;     /* their copy in --data-dir, or NULL */
    bool              serving;        /* sockets bound, router running */
    const hb_config_t *cfg;
    void             *ctx;
    hp_curve_t       *curve;          /* the server keys, for sockets made anew */
    char              http_key[HB_HTTP_KEY_MAX + 1];   /* --http-key-file, until HTTP starts */
    int               http_key_len;
    hp_buf_t          metrics_text;
    zmq_msg_t        *batch;          /* S_BATCH_INGEST, with a store */
    hb_route_pending_t *pending;      /* S_BATCH_INGEST, with a store */
} s_broker_t;

static void
s_broker_destroy (s_broker_t *b)
{
    hb_http_destroy (&b->http);   /* first: it calls into the others via the bridge */
    hb_control_destroy (&b->control);
    hb_upstream_out_destroy (&b->upstream);
    hb_router_destroy (&b->router);
    hb_undelivered_destroy (&b->undelivered);
    hb_history_destroy (&b->history);
    hb_store_close (&b->store);       /* after the history that wrote to it */
    hb_presence_destroy (&b->presence);
    hb_chanpres_destroy (&b->chanpres);   /* after the router that fed it */
    hb_pair_destroy (&b->pair);
    hb_idem_store_close (&b->idem_store);   /* unhooks the window */
    hb_idem_destroy (&b->idem);       /* after the router and pair that used it */
    hb_zap_destroy (&b->zap);
    hb_sockmon_destroy (&b->sockmon);
    hp_curve_destroy (&b->curve);
    memset (b->http_key, 0, sizeof b->http_key);
    hp_buf_free (&b->metrics_text);
    free (b->batch);
    free (b->pending);
}

/* With CURVE: false (counted) for a message from a connection whose key
 * was removed from --curve-allow since it connected (zap.c, revocation). */
static bool
s_key_current (s_broker_t *b, zmq_msg_t *msg, hb_zap_socket_t which, unsigned role)
{
    if (!b->zap || hb_zap_user_current (b->zap, zmq_msg_gets (msg, "User-Id"), role))
        return true;
    b->metrics.revoked_messages[which]++;
    return false;
}

/* With a store: the turn's ingest is stored and committed in one
 * transaction before any of it is published, so no gateway, client or
 * fallback worker ever sees an event the store could lose to a crash of
 * this process (and, under --fsync always, to a power failure). Returns the
 * number of frames read. */
static int
s_ingest_stored (s_broker_t *b, void *ingest, uint64_t now)
{
    int n = 0, reads;
    for (reads = 0; reads < S_BATCH_INGEST; reads++) {
        zmq_msg_init (&b->batch[n]);
        if (zmq_msg_recv (&b->batch[n], ingest, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&b->batch[n]);
            break;
        }
        if (!s_key_current (b, &b->batch[n], HB_ZAP_INGEST, HB_ROLE_PRODUCER)) {
            zmq_msg_close (&b->batch[n]);
            continue;
        }
        hb_router_accept (b->router, zmq_msg_data (&b->batch[n]), zmq_msg_size (&b->batch[n]),
                          now, &b->pending[n]);
        n++;
    }
    if (n > 0)
        hb_router_commit (b->router);
    /* a takeover happened while this broker was stopped: the batch is not
     * its to publish (the loop's next pair turn stops it) */
    bool publish = !(b->pair && hb_pair_superseded (b->pair));
    for (int i = 0; i < n; i++) {
        if (publish && b->pending[i].ready)
            hb_router_publish (b->router, zmq_msg_data (&b->batch[i]), zmq_msg_size (&b->batch[i]),
                               &b->pending[i], NULL);
        else if (b->pending[i].ready)
            zmq_msg_close (&b->pending[i].body);
        zmq_msg_close (&b->batch[i]);
    }
    return reads;
}

/* Drains the signal pipe: true to stop (SIGINT/SIGTERM), false when it was
 * only SIGHUP, which re-reads --curve-allow. */
static bool
s_signalled_stop (s_broker_t *b)
{
    char sigs[16];
    ssize_t n;
    bool stop = false;
    while ((n = read (s_signal_pipe[0], sigs, sizeof sigs)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (sigs[i] != (char) SIGHUP)
                stop = true;
            else if (b->zap)
                hb_zap_refresh (b->zap, true);
        }
    return stop;
}

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* The router's replication hooks (router.h): the pair's, and, at each
 * commit, the idempotency store's commit right after the event store's and
 * before anything is published or answered (idem_store.h says why). */
static void
s_replica_add (void *ctx, uint64_t offset, uint64_t at, const char *bytes, size_t len)
{
    s_broker_t *b = ctx;
    hb_pair_add (b->pair, offset, at, bytes, len);
}

static void
s_replica_flush (void *ctx)
{
    s_broker_t *b = ctx;
    hb_idem_store_commit (b->idem_store);
    if (b->pair)
        hb_pair_flush (b->pair);
}

static void
s_replica_gauges (const void *ctx, hb_gauges_t *out)
{
    const s_broker_t *b = ctx;
    hb_pair_gauges (b->pair, out);
}

/* Binds ingest, publish and undelivered and starts routing: at start, or
 * when a broker of a pair becomes active. epoch and after: where offsets
 * continue. 0, or -1 (logged). */
static int
s_serve (s_broker_t *b, s_sockets_t *s, uint64_t epoch, uint64_t after)
{
    const hb_config_t *cfg = b->cfg;
    s_watch_t watch = { b->sockmon, b->zap };
    if (s_sockets_open (s, b->ctx, cfg, b->curve, &watch) != 0)
        return -1;
    if (b->presence && b->history)
        b->undelivered = hb_undelivered_new (s->undelivered, &b->metrics,
                                             cfg->max_event_bytes, cfg->undelivered_bytes);
    if (b->undelivered)
        b->router = hb_router_new (s->publish, b->presence, b->history, b->undelivered,
                                   &b->metrics, epoch, cfg->max_event_bytes);
    if (b->router) {
        hb_router_start_at (b->router, after);
        hb_router_set_channel_presence (b->router, b->chanpres);
        hb_router_set_idempotency (b->router, b->idem);
        if (b->pair || b->idem_store) {
            hb_router_replica_t replica = { b, b->pair ? s_replica_add : NULL, s_replica_flush,
                                            b->pair ? s_replica_gauges : NULL };
            hb_router_set_replica (b->router, &replica);
        }
        b->control = hb_control_new (s->control, b->router, b->presence, b->history,
                                     &b->metrics);
    }
    if (b->control)
        b->upstream = hb_upstream_out_new (s->upstream, &b->metrics);
    if (b->upstream)
        hb_control_set_upstream (b->control, b->upstream);
    if (b->control && b->zap)
        hb_control_require_roles (b->control, b->zap);
    if (!b->batch)
        b->batch = malloc (S_BATCH_INGEST * sizeof *b->batch);
    if (!b->pending)
        b->pending = malloc (S_BATCH_INGEST * sizeof *b->pending);
    if (!b->control || !b->upstream || !b->batch || !b->pending) {
        hp_error ("out of memory at start");
        return -1;
    }
    hb_http_options_t http_options = {
        .host = cfg->http_host, .port = cfg->http_port,
        .metrics_host = cfg->metrics_host[0] ? cfg->metrics_host : NULL,
        .metrics_port = cfg->metrics_port,
        .key = b->http_key_len > 0 ? b->http_key : NULL, .key_len = (size_t) b->http_key_len,
        .max_body = cfg->max_event_bytes,
        .body_timeout = (unsigned) cfg->http_body_timeout,
        .idle_timeout = (unsigned) cfg->http_idle_timeout,
    };
    b->http = hb_http_new (b->ctx, &http_options);
    memset (b->http_key, 0, sizeof b->http_key);
    if (!b->http)
        return -1;
    b->serving = true;
    char epoch_text[HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (epoch_text, epoch);
    hp_info ("epoch %s; ingest %s, publish %s, control %s, "
             "undelivered %s, upstream %s%s, http %s:%d; %s; offsets continue after %llu",
             epoch_text, cfg->ingest, cfg->publish, cfg->control, cfg->undelivered,
             cfg->upstream, s->upstream ? "" : " (not bound)", cfg->http_host, cfg->http_port,
             b->zap ? "CURVE on" : cfg->insecure ? "no CURVE (--insecure)" : "no CURVE (loopback)",
             (unsigned long long) after);
    if (cfg->metrics_host[0])
        hp_info ("/metrics and /healthz on %s:%d",
                 cfg->metrics_host, cfg->metrics_port);
    hp_info ("POST /message %s", b->http_key_len > 0
             ? "needs the Bearer key of --http-key-file" : "is open to whoever reaches --http");
    return 0;
}

/* A broker of a pair: the link's messages and heartbeats, and, while it
 * does not serve, its start when the pair says so or a client votes.
 * control_waiting: a request is on the control socket. Returns 0, or -1 to
 * stop (fatal for the pair, or serving failed to start). */
static int
s_pair_turn (s_broker_t *b, s_sockets_t *s, bool control_waiting, int *exit_code)
{
    uint64_t now_ms = s_now_ms ();
    if (hb_pair_handle (b->pair, now_ms) == HB_PAIR_FATAL) {
        hp_error ("pair: this broker (%s) and its peer cannot both be "
                  "what they are (two actives after a partition, a takeover while this one "
                  "was stopped, two passives, or the same --role twice): stopping; restarted, it joins its peer as passive",
                  hb_pair_state_name (hb_pair_state (b->pair)));
        *exit_code = 3;
        return -1;
    }
    if (b->serving)
        return 0;
    bool start = hb_pair_state (b->pair) == HB_PAIR_ACTIVE;
    if (!start && control_waiting) {
        start = hb_pair_vote (b->pair, now_ms);
        if (!start)
            while (hb_pair_refuse (b->pair, s->control))
                ;
    }
    if (start && s_serve (b, s, hb_pair_epoch (b->pair), hb_pair_start_offset (b->pair)) != 0) {
        *exit_code = 1;
        return -1;
    }
    return 0;
}

/* A reload of --curve-allow removed a key (or a role): the publish,
 * undelivered and upstream sockets, whose peers send nothing that names their key, are
 * made anew so that every peer handshakes through ZAP again and a revoked
 * one is refused. (zmq_unbind would not do: on libzmq 4.3.4 it leaves
 * established connections open with no pipe behind them; closing the
 * socket closes them.) Gateways see their link drop and come back: they
 * subscribe again (presence starts empty and refills) and repair what
 * they missed meanwhile from history. 0, or -1 (logged) when a socket
 * cannot be bound again. */
static int
s_sockets_recut (s_broker_t *b, s_sockets_t *s)
{
    s_watch_t watch = { b->sockmon, b->zap };
    bool upstream = s->upstream != NULL;    /* bound at start (its default may not be) */
    zmq_close (s->publish);
    zmq_close (s->undelivered);
    if (upstream)
        zmq_close (s->upstream);
    s->publish = s->undelivered = s->upstream = NULL;
    /* libzmq's reaper closes the old listeners a moment later: until then
     * the port may still be taken */
    for (int tries = 0; tries < 50 && !(s->publish && s->undelivered && (s->upstream || !upstream));
         tries++) {
        if (tries)
            nanosleep (&(struct timespec) { 0, 10 * 1000 * 1000 }, NULL);
        if (!s->publish)
            s->publish = s_open_publish (b->ctx, b->cfg, b->curve, &watch);
        if (!s->undelivered)
            s->undelivered = s_open_undelivered (b->ctx, b->cfg, b->curve, &watch);
        if (!s->upstream && upstream)
            s->upstream = s_open_upstream (b->ctx, b->cfg, b->curve, &watch);
    }
    if (!s->publish || !s->undelivered || (upstream && !s->upstream))
        return -1;
    hb_router_set_xpub (b->router, s->publish);
    hb_undelivered_set_push (b->undelivered, s->undelivered);
    hb_upstream_out_set_push (b->upstream, s->upstream);
    if (hb_presence_clear (b->presence) != 0)
        hp_error ("out of memory clearing presence after a revocation");
    hp_info ("publish, undelivered and upstream sockets made anew: every "
             "gateway and worker connects again through ZAP");
    return 0;
}

/* Runs until SIGINT/SIGTERM (or a fatal pair event). */
static int
s_loop (s_broker_t *b, s_sockets_t *s)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    uint64_t swept = 0;
    bool busy = false;
    int exit_code = 0;
    for (;;) {
        zmq_pollitem_t items[6 + S_ZAP_ITEMS] = {
            { NULL, s_signal_pipe[0], ZMQ_POLLIN, 0 },
            { s->control, 0, ZMQ_POLLIN, 0 },
        };
        size_t nitems = 2;
        if (b->pair)
            items[nitems++] = (zmq_pollitem_t) { hb_pair_socket (b->pair), 0, ZMQ_POLLIN, 0 };
        if (b->serving) {
            items[nitems++] = (zmq_pollitem_t) { s->ingest, 0, ZMQ_POLLIN, 0 };
            items[nitems++] = (zmq_pollitem_t) { s->publish, 0, ZMQ_POLLIN, 0 };
            items[nitems++] = (zmq_pollitem_t) { s->bridge, 0, ZMQ_POLLIN, 0 };
        }
        size_t zap_at = nitems;
        if (b->zap)
            items[nitems++] = hb_zap_pollitem (b->zap);
        size_t mon_at = nitems;
        nitems += hb_sockmon_pollitems (b->sockmon, items + mon_at, HB_ZAP_SOCKETS);
        /* The ttl sweep runs once a second; a busy loop polls without
         * waiting; under --fsync batch the loop wakes for the next sync; a
         * pair's heartbeats go out every 100 ms. */
        long timeout = busy ? 0 : b->pair ? 50 : 250;
        if (b->store) {
            long due = hb_store_tick (b->store, s_now_ms ());
            if (due >= 0 && due < timeout)
                timeout = due;
            due = hb_idem_store_tick (b->idem_store, s_now_ms ());
            if (due >= 0 && due < timeout)
                timeout = due;
        }
        if (zmq_poll (items, (int) nitems, timeout) < 0 && zmq_errno () != EINTR)
            break;
        if ((items[0].revents & ZMQ_POLLIN) && s_signalled_stop (b))
            break;
        if (b->zap && hb_zap_take_revoked (b->zap) && b->serving
        &&  s_sockets_recut (b, s) != 0) {
            exit_code = 1;
            break;
        }
        uint64_t now = hb_now_sec ();
        busy = false;
        /* Handshakes first: a connection waits for its ZAP answer. */
        if (b->zap)
            busy |= hb_zap_handle (b->zap, items + zap_at);
        busy |= hb_sockmon_handle (b->sockmon, items + mon_at);
        if (b->pair && s_pair_turn (b, s, (items[1].revents & ZMQ_POLLIN) != 0, &exit_code) != 0)
            break;
        if (!b->serving) {
            if (now != swept) {
                hb_history_sweep (b->history, now);
                hb_idem_sweep (b->idem, now);
                swept = now;
            }
            /* the keys a passive learned from its copy, and swept ones */
            hb_idem_store_commit (b->idem_store);
            continue;
        }
        int n;
        if (b->store || b->pair)
            n = s_ingest_stored (b, s->ingest, now);
        else
            for (n = 0; n < S_BATCH_INGEST; n++) {
                if (zmq_msg_recv (&msg, s->ingest, ZMQ_DONTWAIT) < 0)
                    break;
                if (s_key_current (b, &msg, HB_ZAP_INGEST, HB_ROLE_PRODUCER))
                    hb_router_route (b->router, zmq_msg_data (&msg), zmq_msg_size (&msg), now, NULL);
            }
        busy |= n == S_BATCH_INGEST;
        for (n = 0; n < S_BATCH_SUBSCRIPTIONS; n++) {
            if (zmq_msg_recv (&msg, s->publish, ZMQ_DONTWAIT) < 0)
                break;
            hb_router_subscription (b->router, zmq_msg_data (&msg), zmq_msg_size (&msg));
        }
        busy |= n == S_BATCH_SUBSCRIPTIONS;
        for (n = 0; n < S_BATCH_CONTROL && hb_control_handle (b->control, now); n++)
            ;
        hb_control_settle (b->control);   /* before HTTP routes anything */
        busy |= n == S_BATCH_CONTROL;
        for (n = 0; n < S_BATCH_HTTP
                    && hb_http_bridge_handle (s->bridge, b->router, &b->metrics, now, &b->metrics_text);
             n++)
            ;
        busy |= n == S_BATCH_HTTP;
        hb_router_tick (b->router, s_now_ms ());
        if (now != swept) {
            hb_history_sweep (b->history, now);
            hb_idem_sweep (b->idem, now);
            if (b->zap)
                hb_zap_refresh (b->zap, false);
            swept = now;
            hb_idem_store_commit (b->idem_store);   /* the keys the sweep dropped */
        }
    }
    zmq_msg_close (&msg);
    return exit_code;
}

int
main (int argc, char **argv)
{
    hb_config_t cfg;
    hp_log_init ("herald-broker");
    int rc = hb_config_load (&cfg, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    hp_log_configure (cfg.log_format, cfg.log_level);
    hp_env_report ();
    /* lws stops accepting at half the limit (http.c); sockmon.c sheds
     * what libzmq's listeners cannot accept: headroom first */
    hp_fd_limit_raise ();
    if (s_signals_init () != 0) {
        perror ("herald-broker: signal pipe");
        return 1;
    }

    void *ctx = zmq_ctx_new ();
    if (!ctx) {
        hp_error ("zmq_ctx_new: %s", zmq_strerror (zmq_errno ()));
        return 1;
    }
    s_sockets_t sockets = { 0 };
    s_broker_t broker;
    memset (&broker, 0, sizeof broker);
    broker.cfg = &cfg;
    broker.ctx = ctx;
    hp_buf_init (&broker.metrics_text, 1 << 20);
    uint64_t epoch = hp_epoch_new ();
    int exit_code = 1;
    hb_store_state_t stored = { 0 };
    char partner[41] = "";            /* with CURVE: the pair partner's public key */

    if (cfg.data_dir[0]) {
        bool refused;
        broker.store = hb_store_open (cfg.data_dir, cfg.history_bytes, (hb_fsync_t) cfg.fsync,
                                      (unsigned) cfg.fsync_interval_ms, epoch, &stored, &refused);
        if (!broker.store) {
            exit_code = refused ? 2 : 1;
            goto done;
        }
        epoch = stored.epoch;
    }
    if (cfg.curve_cert[0]) {
        char err[512];
        if (!(broker.curve = hp_curve_new (cfg.curve_cert, NULL, err, sizeof err))) {
            hp_error ("--curve-cert: %s", err);
            goto done;
        }
        /* the handler must be bound before any CURVE socket, or libzmq
         * would let every key in */
        if (!(broker.zap = hb_zap_new (ctx, cfg.curve_allow, &broker.metrics)))
            goto done;
        /* a pair's partner key, before anything is bound */
        if (cfg.role != HB_ROLE_NONE
        &&  hb_zap_pair_partner (broker.zap, hp_curve_public_txt (broker.curve), partner) != 0) {
            exit_code = 2;
            goto done;
        }
    }
    if (!(broker.sockmon = hb_sockmon_new (ctx, &broker.metrics)))
        goto done;
    s_watch_t watch = { broker.sockmon, broker.zap };
    if (s_sockets_open_base (&sockets, ctx, &cfg, broker.curve, &watch) != 0)
        goto done;
    broker.presence = hb_presence_new (cfg.max_online_users);
    broker.chanpres = hb_chanpres_new (cfg.max_channel_presence);
    broker.history = hb_history_new (cfg.history_events, cfg.history_bytes);
    broker.idem = hb_idem_new (cfg.idempotency_window, cfg.idempotency_bytes);
    if (!broker.presence || !broker.chanpres || !broker.history || !broker.idem) {
        hp_error ("out of memory at start");
        goto done;
    }
    if (cfg.http_key_file[0]
        && (broker.http_key_len = hb_http_key_load (cfg.http_key_file, broker.http_key,
                                                    sizeof broker.http_key)) < 0)
        goto done;
    if (broker.store
        && hb_history_attach (broker.history, broker.store, &stored, hb_now_sec ()) != 0)
        hp_error ("out of memory rebuilding history: some events are "
                  "missing from it (resumes that needed them answer recovered:false)");
    if (broker.store && cfg.idempotency_window > 0) {
        uint64_t restored = 0;
        broker.idem_store = hb_idem_store_open (cfg.data_dir, broker.idem, cfg.idempotency_bytes,
                                                (hb_fsync_t) cfg.fsync,
                                                (unsigned) cfg.fsync_interval_ms, stored.fresh,
                                                hb_now_sec (), &restored);
        if (!broker.idem_store)
            goto done;
        hp_info ("idempotency: %llu key(s) still inside the %zu s window "
                 "restored from the data dir", (unsigned long long) restored,
                 cfg.idempotency_window);
    }
    if (broker.store)
        hp_info ("data dir %s (--fsync %s): %s epoch, %llu events stored, "
                 "%zu kept in history, offsets continue after %llu", cfg.data_dir,
                 hb_fsync_name ((hb_fsync_t) cfg.fsync), stored.fresh ? "new" : "same",
                 (unsigned long long) stored.events, hb_history_events (broker.history),
                 (unsigned long long) stored.last);
    if (cfg.role != HB_ROLE_NONE) {
        hb_pair_config_t pc = { cfg.role == HB_ROLE_PRIMARY, cfg.pair_bind, cfg.pair_connect,
                                cfg.pair_timeout_ms, cfg.max_event_bytes, cfg.history_events,
                                cfg.history_bytes, stored.last, broker.store != NULL,
                                broker.curve, partner, broker.sockmon, broker.zap };
        broker.pair = hb_pair_new (ctx, &pc, &broker.history, &broker.metrics, epoch, s_now_ms ());
        if (!broker.pair)
            goto done;
        hb_pair_set_idempotency (broker.pair, broker.idem);
        if (broker.zap)
            hb_pair_set_zap (broker.pair, broker.zap);
        hp_info ("pair: starting as %s (bind %s, partner %s, timeout "
                 "%zu ms, %s); control %s answers while not active",
                 cfg.role == HB_ROLE_PRIMARY ? "primary" : "backup", cfg.pair_bind,
                 cfg.pair_connect, cfg.pair_timeout_ms, broker.zap ? "CURVE" : "no CURVE",
                 cfg.control);
    }
    else if (s_serve (&broker, &sockets, epoch, stored.last) != 0)
        goto done;
    exit_code = s_loop (&broker, &sockets);
    /* what the operator loses with this process, in one line */
    hp_info ("stopping (exit %d): %zu users online, %llu events accepted, last offset %llu",
             exit_code, broker.presence ? hb_presence_count (broker.presence) : 0,
             (unsigned long long) broker.metrics.events_accepted,
             (unsigned long long) (broker.router ? hb_router_offset (broker.router) : 0));
done:
    s_broker_destroy (&broker);
    s_sockets_close (&sockets);
    zmq_ctx_term (ctx);
    close (s_signal_pipe[0]);
    close (s_signal_pipe[1]);
    return exit_code;
}
