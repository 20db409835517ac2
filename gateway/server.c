/* server.c -- the libwebsockets side: /ws sessions and the plain HTTP endpoints. */
#include "server.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "blob.h"
#include "http_reply.h"
#include "listener.h"
#include "peers.h"
#include "session.h"
#include "static.h"
#include "tls.h"
#include "upgrade.h"
#include "upmsg.h"

/* Small on purpose: lws keeps one receive buffer of this size per
 * WebSocket connection for its whole life. Client frames are tiny (auth,
 * ping); bigger ones arrive in pieces and session.c collects them. */
#define GW_RX_BUFFER 512
/* A single send() is capped at this; events are at most 64 KiB of msgpack,
 * a little more as JSON, so one send carries one frame. */
#define GW_TX_PACKET (256 * 1024)
/* How long shutdown waits for clients to take their 1001 before the rest
 * are cut (the process must be gone within a second of SIGTERM). */
#define GW_SHUTDOWN_GRACE_MS 600
#define GW_METRICS_MAX (64 * 1024)

/* What lws allocates per connection for us: a tag, one pointer, and what
 * the edge keeps (liveness, the per-address count, the auth state). */
typedef enum { GW_PSS_NONE = 0, GW_PSS_WS, GW_PSS_HTTP } gw_pss_kind_t;
typedef struct gw_pss {
    void *ptr;                  /* gw_session_t * or gw_http_reply_t * */
    struct gw_pss *unauth_prev; /* the unauthenticated pool, oldest first */
    struct gw_pss *unauth_next;
    gw_peer_t *peer;            /* counted in --max-connections-per-ip, or NULL */
    uint32_t last_rx_ms;        /* loop time of the last frame or pong received */
    unsigned char kind;
    bool pinged;                /* a WebSocket ping went out since last_rx_ms */
    bool unauthed;              /* counted in metrics->unauthenticated, in the pool */
    bool answered;              /* the raw fallback wrote its 400 */
    bool requested;             /* a request reached us (HTTP route or upgrade check) */
} gw_pss_t;

struct gw_server {
    uv_loop_t *loop;
    struct lws_context *context;
    struct lws_vhost *vhost;
    struct lws_vhost *metrics_vhost;    /* --metrics, or NULL */
    gw_pss_t *unauth_oldest;            /* the unauthenticated pool, a FIFO */
    gw_pss_t *unauth_newest;
    gw_listener_t *listener;
    gw_listener_t *metrics_listener;
    gw_peers_t *peers;
    void *tls_ctx;              /* the SSL_CTX lws made for --tls-cert, or NULL */
    const gw_config_t *config;
    gw_metrics_t *metrics;
    gw_session_env_t env;
    gw_upstream_t *upstream;    /* the broker link, for /healthz */
    uv_timer_t shutdown_timer;
    uv_timer_t idle_timer;      /* the sweep for dead connections */
    uint32_t idle_ms;           /* --idle-timeout, 0: off */
    bool shutting_down;
    bool finished;
    void (*done) (void *arg);
    void *done_arg;
};

static int s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len);

static int s_raw_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len);

/* The raw protocol's space is a gw_pss_t too: after the fallback lws calls
 * the HTTP protocol's close callbacks with it (found by ASan in the broker). */
static const struct lws_protocols s_protocols[] = {
    { "herald", s_callback, sizeof (gw_pss_t), GW_RX_BUFFER, 0, NULL, GW_TX_PACKET },
    { "herald-raw", s_raw_callback, sizeof (gw_pss_t), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* --- HTTP ---------------------------------------------------------------- */

/* True when wsi came in on the --metrics listener. Told by the local
 * port, not lws_get_vhost: lws 4.1 re-binds an HTTP request to the vhost
 * its Host header names among vhosts on the same port, and two
 * non-listening vhosts count as the same port (both end up on "herald"). */
static bool
s_on_metrics_port (gw_server_t *self, struct lws *wsi)
{
    if (!self->metrics_listener)
        return false;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int fd = lws_get_socket_fd (wsi);
    if (fd < 0 || getsockname (fd, (struct sockaddr *) &addr, &len) != 0)
        return false;
    int port = addr.ss_family == AF_INET6 ? ntohs (((struct sockaddr_in6 *) &addr)->sin6_port)
                                          : ntohs (((struct sockaddr_in *) &addr)->sin_port);
    return port == self->config->metrics_port;
}

static gw_http_reply_t *
s_route (gw_server_t *self, struct lws *wsi, const char *uri)
{
    if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) <= 0)
        return gw_http_reply_new (HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
    /* with --metrics, /metrics and /healthz live on their own listener
     * only, and that listener serves nothing else */
    bool on_metrics = s_on_metrics_port (self, wsi);
    bool ops = strcmp (uri, "/healthz") == 0 || strcmp (uri, "/metrics") == 0;
    if (self->metrics_vhost && ops != on_metrics)
        return gw_http_reply_new (HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n", 10);
    if (strcmp (uri, "/healthz") == 0) {
        /* 503 while no broker link is live: a balancer sends no browser
         * here that would wait for a welcome that cannot come */
        char why[512], body[600];
        if (gw_upstream_health (self->upstream, why, sizeof why) == GW_HEALTH_UP)
            return gw_http_reply_new (HTTP_STATUS_OK, "text/plain", "ok\n", 3);
        int n = snprintf (body, sizeof body, "no broker link: %s\n", why);
        return gw_http_reply_new (HTTP_STATUS_SERVICE_UNAVAILABLE, "text/plain", body,
                            n > 0 && (size_t) n < sizeof body ? (size_t) n : strlen (body));
    }
    if (strcmp (uri, "/metrics") == 0) {
        hp_buf_t text;
        hp_buf_init (&text, GW_METRICS_MAX);
        self->metrics->users = gw_fanout_user_count (self->env.fanout);
        char why[8];
        self->metrics->broker_link_up = gw_upstream_health (self->upstream, why, sizeof why) == GW_HEALTH_UP;
        gw_http_reply_t *reply = gw_metrics_render (self->metrics, &text) == 0
            ? gw_http_reply_new (HTTP_STATUS_OK, "text/plain; version=0.0.4", text.data, text.len)
            : gw_http_reply_new (HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", "error\n", 6);
        hp_buf_free (&text);
        return reply;
    }
    if (strcmp (uri, "/herald.js") == 0) {
        const unsigned char *js;
        size_t len;
        const char *etag;
        if (gw_static_herald_js (&js, &len, &etag) == 0) {
            /* Pages on the application's own origin import this module, and
             * browsers load cross-origin modules only with CORS. no-cache
             * + ETag: a browser asks again on every load (so a new gateway
             * build is picked up at once) and gets a body-less 304 while
             * its copy is current. A header too long to copy is no match. */
            char inm[256];
            bool current = lws_hdr_copy (wsi, inm, sizeof inm, WSI_TOKEN_HTTP_IF_NONE_MATCH) > 0
                        && gw_static_etag_matches (inm, etag);
            gw_http_reply_t *reply = current
                ? gw_http_reply_new (HTTP_STATUS_NOT_MODIFIED, NULL, NULL, 0)
                : gw_http_reply_new (HTTP_STATUS_OK, "application/javascript", js, len);
            if (reply) {
                reply->any_origin = true;
                reply->etag = etag;
            }
            return reply;
        }
    }
    return gw_http_reply_new (HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n", 10);
}

/* --- dead connections ---------------------------------------------------- */

/* Marks LWS_CALLBACK_USER calls that come from the idle sweep. */
static char s_sweep_tag;

static void
s_touch (gw_server_t *self, gw_pss_t *pss)
{
    pss->last_rx_ms = (uint32_t) uv_now (self->loop);
    pss->pinged = false;
}

/* One connection in the sweep. Silent for half the bound: a WebSocket ping
 * (every RFC 6455 client answers it, browsers included); silent for the
 * whole bound: the peer is gone (a half-open TCP connection, a frozen
 * process), so the socket is killed without a close frame nobody would
 * read. Its CLOSED callback then detaches the user at once, which is what
 * makes presence true again. */
static void
s_idle_check (gw_server_t *self, struct lws *wsi, gw_pss_t *pss)
{
    uint32_t silent = (uint32_t) uv_now (self->loop) - pss->last_rx_ms;
    if (silent >= self->idle_ms) {
        self->metrics->idle_closes_total++;
        pss->last_rx_ms = (uint32_t) uv_now (self->loop);   /* once */
        lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        lws_cancel_service (self->context);
        return;
    }
    if (silent >= self->idle_ms / 2 && !pss->pinged && !lws_partial_buffered (wsi)) {
        /* written directly, as session.c writes events: a whole frame while
         * lws holds nothing partial cannot split another frame */
        /* one byte: lws 4.1 gave no RECEIVE_PONG for the empty pong an empty
         * ping gets back (seen in test_gateway_idle) */
        unsigned char ping[LWS_PRE + 4] = { [LWS_PRE] = 'h' };
        pss->pinged = true;
        if (lws_write (wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0) {
            lws_set_timeout (wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
            lws_cancel_service (self->context);
        }
        else
            self->metrics->pings_sent_total++;
    }
}

/* A walk of every connection each sixteenth of the bound (at most 1 s): O(connections) per
 * sweep instead of re-sorting lws's timer list on every received frame
 * (what lws_validity_confirmed would cost per frame). */
static void
s_on_idle_timer (uv_timer_t *timer)
{
    gw_server_t *self = timer->data;
    if (self->metrics->connections)
        lws_callback_all_protocol_vhost_args (self->vhost,
                                     lws_vhost_name_to_protocol (self->vhost, s_protocols[0].name),
                                              LWS_CALLBACK_USER, &s_sweep_tag, 0);
}

/* --- shutdown ------------------------------------------------------------ */

static void
s_on_shutdown_timer (uv_timer_t *timer)
{
    gw_server_t *self = timer->data;
    if (self->finished)
        return;
    self->finished = true;
    gw_listener_close (&self->listener);
    gw_listener_close (&self->metrics_listener);
    uv_close ((uv_handle_t *) &self->shutdown_timer, NULL);
    uv_close ((uv_handle_t *) &self->idle_timer, NULL);
    /* hard-closes whatever is left; lws finishes in the loop */
    lws_context_destroy (self->context);
    if (self->done)
        self->done (self->done_arg);
}

void
gw_server_shutdown (gw_server_t *self, void (*done) (void *arg), void *arg)
{
    if (self->shutting_down)
        return;
    self->shutting_down = true;
    self->done = done;
    self->done_arg = arg;
    /* calls s_callback with LWS_CALLBACK_USER on every connection; the
     * vhost holds its own copy of the protocol, so look that one up */
    lws_callback_all_protocol_vhost_args (self->vhost,
                                     lws_vhost_name_to_protocol (self->vhost, s_protocols[0].name),
                                          LWS_CALLBACK_USER, NULL, 0);
    uv_timer_start (&self->shutdown_timer, s_on_shutdown_timer,
                    self->metrics->connections ? GW_SHUTDOWN_GRACE_MS : 0, 0);
}

/* --- the unauthenticated pool ---------------------------------------------- */

/* A new connection joins the pool (ESTABLISHED). */
static void
s_unauth_join (gw_server_t *self, gw_pss_t *pss)
{
    pss->unauthed = true;
    pss->unauth_next = NULL;
    pss->unauth_prev = self->unauth_newest;
    if (self->unauth_newest)
        self->unauth_newest->unauth_next = pss;
    else
        self->unauth_oldest = pss;
    self->unauth_newest = pss;
    self->metrics->unauthenticated++;
}

/* It leaves: authenticated, closed or evicted. Idempotent. */
static void
s_unauth_leave (gw_server_t *self, gw_pss_t *pss)
{
    if (!pss->unauthed)
        return;
    pss->unauthed = false;
    if (pss->unauth_prev)
        pss->unauth_prev->unauth_next = pss->unauth_next;
    else
        self->unauth_oldest = pss->unauth_next;
    if (pss->unauth_next)
        pss->unauth_next->unauth_prev = pss->unauth_prev;
    else
        self->unauth_newest = pss->unauth_prev;
    pss->unauth_prev = pss->unauth_next = NULL;
    self->metrics->unauthenticated--;
}

/* The pool is full and a new upgrade passed every other check: the
 * oldest unauthenticated connection is closed with 4008 (as if its auth
 * timeout had come) and leaves the pool now, its close follows. */
static bool
s_unauth_evict (void *arg)
{
    gw_server_t *self = arg;
    gw_pss_t *oldest = self->unauth_oldest;
    if (!oldest || !oldest->ptr)
        return false;
    s_unauth_leave (self, oldest);
    gw_session_close (oldest->ptr, 4008);
    self->metrics->unauthenticated_evicted_total++;
    return true;
}

/* --- the one lws callback ------------------------------------------------ */

static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    gw_pss_t *pss = user;
    struct lws_context *context = lws_get_context (wsi);
    gw_server_t *self = context ? lws_context_user (context) : NULL;

    switch (reason) {
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        /* made once, for the one vhost with a certificate (--listen's) */
        if (self && !self->tls_ctx)
            self->tls_ctx = user;
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (pss)
            pss->requested = true;
        return gw_upgrade_check (wsi, self->config, self->metrics, self->peers,
                                 self->shutting_down, !s_on_metrics_port (self, wsi),
                                 s_unauth_evict, self);

    case LWS_CALLBACK_ESTABLISHED:
        pss->kind = GW_PSS_WS;
        s_touch (self, pss);
        pss->peer = NULL;
        if (self->config->max_connections_per_ip) {
            struct sockaddr_storage addr;
            if (gw_upgrade_peer (wsi, &addr) == 0)
                pss->peer = gw_peers_hold (self->peers, (struct sockaddr *) &addr);
        }
        pss->ptr = gw_session_new (&self->env, wsi);
        if (!pss->ptr)
            return -1;
        s_unauth_join (self, pss);
        return 0;

    case LWS_CALLBACK_RECEIVE_PONG:
        if (pss && pss->kind == GW_PSS_WS)
            s_touch (self, pss);
        return 0;

    case LWS_CALLBACK_RECEIVE: {
        if (pss->kind != GW_PSS_WS || !pss->ptr)
            return -1;
        s_touch (self, pss);
        int rc = gw_session_on_receive (pss->ptr, in, len);
        if (pss->unauthed && gw_session_authed (pss->ptr))
            s_unauth_leave (self, pss);
        return rc;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->kind == GW_PSS_WS && pss->ptr ? gw_session_on_writeable (pss->ptr) : 0;

    case LWS_CALLBACK_TIMER:
        return pss && pss->kind == GW_PSS_WS && pss->ptr ? gw_session_on_timer (pss->ptr) : 0;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (pss->kind == GW_PSS_WS && pss->ptr) {
            const unsigned char *p = in;
            gw_session_on_peer_close (pss->ptr, len >= 2 ? (p[0] << 8) | p[1] : 1005);
        }
        return 0;

    case LWS_CALLBACK_CLOSED:
        if (pss && pss->kind == GW_PSS_WS) {
            gw_session_destroy ((gw_session_t **) &pss->ptr);
            pss->kind = GW_PSS_NONE;
            s_unauth_leave (self, pss);
            if (pss->peer) {
                gw_peers_release (self->peers, pss->peer);
                pss->peer = NULL;
            }
            if (self->shutting_down && !self->finished && self->metrics->connections == 0)
                uv_timer_start (&self->shutdown_timer, s_on_shutdown_timer, 0, 0);
        }
        return 0;

    case LWS_CALLBACK_USER:     /* the idle sweep, or shutdown (gw_server_shutdown) */
        if (pss && pss->kind == GW_PSS_WS && pss->ptr) {
            if (in == &s_sweep_tag)
                s_idle_check (self, wsi, pss);
            else
                gw_session_close (pss->ptr, 1001);
        }
        return 0;

    case LWS_CALLBACK_HTTP:
        pss->kind = GW_PSS_HTTP;
        pss->requested = true;
        gw_http_reply_destroy ((gw_http_reply_t **) &pss->ptr);   /* keep-alive: a new request */
        if (!(pss->ptr = s_route (self, wsi, in)))
            return -1;
        lws_callback_on_writable (wsi);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss && pss->kind == GW_PSS_HTTP ? gw_http_reply_write (wsi, (gw_http_reply_t **) &pss->ptr) : 0;

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->kind == GW_PSS_HTTP) {
            gw_http_reply_destroy ((gw_http_reply_t **) &pss->ptr);
            pss->kind = GW_PSS_NONE;
        }
        /* Closed before any request reached us: lws's own answers to a bad
         * %-escape (403) or %00 in the path (none), which fail inside its
         * URL decoding with no callback first, its header timeout, and
         * peers that sent nothing. Counted, as on the broker's --http. */
        if (reason == LWS_CALLBACK_CLOSED_HTTP && (!pss || !pss->requested) && self && !self->shutting_down)
            self->metrics->http_unanswered_total++;
        return 0;

    default:
        return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

/* --- requests lws cannot parse ------------------------------------------- */

/* A first line lws cannot parse as HTTP (an unknown method such as TRACE,
 * FOO or CONNECT, bytes that are not HTTP): lws 4.1 would answer its own
 * 403 HTML page (CONNECT: nothing until its timeout). The vhosts'
 * fallback hands such a connection over as raw bytes instead: a JSON 400,
 * counted in refused_total{reason="bad_request"}, and closed. */
#define GW_RAW_BODY "{\"error\":\"not an HTTP request we serve\"}\n"
_Static_assert (sizeof GW_RAW_BODY - 1 == 41, "the content-length below");
static const char s_raw_answer[] =
    "HTTP/1.1 400 Bad Request\r\nserver: herald-gateway\r\ncontent-type: application/json\r\n"
    "content-length: 41\r\nconnection: close\r\n\r\n" GW_RAW_BODY;

static int
s_raw_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    gw_pss_t *pss = user;
    gw_server_t *self = lws_context_user (lws_get_context (wsi));
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
    case LWS_CALLBACK_RAW_RX:
        lws_callback_on_writable (wsi);
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE: {
        if (!pss || pss->answered)
            return -1;
        pss->answered = true;
        self->metrics->refused_total[GW_REFUSED_BAD_REQUEST]++;
        unsigned char out[LWS_PRE + sizeof s_raw_answer];
        memcpy (out + LWS_PRE, s_raw_answer, sizeof s_raw_answer - 1);
        if (lws_write (wsi, out + LWS_PRE, sizeof s_raw_answer - 1, LWS_WRITE_RAW) < 0)
            return -1;
        lws_set_timeout (wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
        return 0;
    }
    default:
        return 0;
    }
}

/* --- life cycle ---------------------------------------------------------- */

gw_server_t *
gw_server_new (uv_loop_t *loop, const gw_config_t *config, gw_metrics_t *metrics,
               gw_fanout_t *fanout, gw_upstream_t *upstream)
{
    gw_server_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = loop;
    self->config = config;
    self->metrics = metrics;
    self->env.config = config;
    self->env.metrics = metrics;
    self->env.fanout = fanout;
    self->env.link = gw_upstream_link (upstream);
    self->upstream = upstream;
    hp_buf_init (&self->env.scratch, 4096);
    hp_buf_init (&self->env.record, HP_UPMSG_MAX);
    static const char pong[] = "{\"type\":\"pong\"}";
    self->env.pong = gw_blob_new (pong, sizeof pong - 1, 0, 0);
    if (!self->env.pong)
        goto fail;

    /* lws sizes its descriptor tables by this and indexes them by fd
     * number, so leave room above the WebSocket limit for plain HTTP,
     * ZeroMQ and libuv descriptors */
    struct rlimit rl;
    unsigned fds = config->max_connections + 1024;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < fds)
        fds = (unsigned) rl.rlim_cur;

    if (!(self->peers = gw_peers_new ()))
        goto fail;
    void *foreign_loops[1] = { loop };
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    /* the vhosts listen on nothing: listener.c accepts and hands each
     * connection over (descriptor headroom, back-off at EMFILE) */
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = s_protocols;
    info.foreign_loops = foreign_loops;
    /* explicit vhosts: one for /ws and the endpoints, one for --metrics.
     * No LWS_SERVER_OPTION_VALIDATE_UTF8: jansson refuses invalid UTF-8
     * in the whole message, which closes with our documented 4000 rather
     * than lws's 1007. */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS
                 | LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
    info.listen_accept_role = "raw-skt";
    info.listen_accept_protocol = "herald-raw";
    if (config->tls_cert) {
        /* wss:// on --listen: lws (OpenSSL) does the handshake on each
         * adopted socket; /metrics stays plain (its own vhost) */
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = config->tls_cert;
        info.ssl_private_key_filepath = config->tls_key;
    }
    info.user = self;
    info.pcontext = &self->context;
    info.fd_limit_per_thread = fds;
    info.timeout_secs = 10;
    info.max_http_header_data = 4096;
    info.server_string = "herald-gateway";
    info.vhost_name = "herald";
    self->context = lws_create_context (&info);
    if (!self->context || !(self->vhost = lws_create_vhost (self->context, &info))) {
        hp_error ("cannot create the libwebsockets context");
        goto fail;
    }
    if (!(self->listener = gw_listener_new (loop, config->listen_host, config->listen_port,
                                            self->vhost, fds, metrics)))
        goto fail;
    if (config->tls_cert && !self->tls_ctx) {
        hp_error ("TLS context not set up for %s", config->tls_cert);
        goto fail;
    }
    if (config->metrics_port) {
        info.vhost_name = "metrics";
        info.ssl_cert_filepath = info.ssl_private_key_filepath = NULL;
        if (!(self->metrics_vhost = lws_create_vhost (self->context, &info))
        ||  !(self->metrics_listener = gw_listener_new (loop, config->metrics_host,
                                                        config->metrics_port,
                                                        self->metrics_vhost, fds, metrics)))
            goto fail;
    }
    uv_timer_init (loop, &self->shutdown_timer);
    self->shutdown_timer.data = self;
    uv_timer_init (loop, &self->idle_timer);
    self->idle_timer.data = self;
    self->idle_ms = (uint32_t) (config->idle_timeout * 1000);
    if (self->idle_ms) {
        uint64_t every = self->idle_ms / 16;
        every = every < 50 ? 50 : every > 1000 ? 1000 : every;
        uv_timer_start (&self->idle_timer, s_on_idle_timer, every, every);
    }
    return self;
fail:
    gw_server_destroy (&self);
    return NULL;
}

void
gw_server_reload_tls (gw_server_t *self)
{
    if (!self || !self->config->tls_cert)
        return;
    char why[256];
    if (gw_tls_reload (self->tls_ctx, self->config->tls_cert, self->config->tls_key,
                       why, sizeof why) == 0) {
        self->metrics->tls_reloads_total[1]++;
        hp_info ("SIGHUP: TLS certificate %s reloaded",
                 self->config->tls_cert);
    }
    else {
        self->metrics->tls_reloads_total[0]++;
        hp_error ("SIGHUP: TLS certificate %s not reloaded (%s); "
                  "the previous one stays", self->config->tls_cert, why);
    }
}

void
gw_server_destroy (gw_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_server_t *self = *self_p;
    gw_listener_close (&self->listener);
    gw_listener_close (&self->metrics_listener);
    if (self->context)
        lws_context_destroy (self->context);
    gw_peers_destroy (&self->peers);
    gw_blob_release (&self->env.pong);
    hp_buf_free (&self->env.scratch);
    hp_buf_free (&self->env.record);
    free (self);
    *self_p = NULL;
}
