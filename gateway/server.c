/* server.c -- the libwebsockets side: /ws sessions and the plain HTTP endpoints. */
#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <libwebsockets.h>

#include "blob.h"
#include "session.h"
#include "static.h"

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

/* What lws allocates per connection for us: a tag and one pointer. */
typedef enum { GW_PSS_NONE = 0, GW_PSS_WS, GW_PSS_HTTP } gw_pss_kind_t;
typedef struct {
    void *ptr;                  /* gw_session_t * or gw_http_reply_t * */
    unsigned char kind;
} gw_pss_t;

/* One HTTP answer waiting for WRITEABLE. */
typedef struct {
    int status;
    const char *content_type;
    bool headers_sent;
    bool any_origin;            /* Access-Control-Allow-Origin: * */
    size_t len;
    unsigned char *storage;     /* LWS_PRE + len */
    const unsigned char *body;  /* storage + LWS_PRE */
} gw_http_reply_t;

struct gw_server {
    struct lws_context *context;
    struct lws_vhost *vhost;
    const gw_config_t *config;
    gw_metrics_t *metrics;
    gw_session_env_t env;
    uv_timer_t shutdown_timer;
    bool shutting_down;
    bool finished;
    void (*done) (void *arg);
    void *done_arg;
};

static int s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                       void *in, size_t len);

static const struct lws_protocols s_protocols[] = {
    { "herald", s_callback, sizeof (gw_pss_t), GW_RX_BUFFER, 0, NULL, GW_TX_PACKET },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* --- HTTP ---------------------------------------------------------------- */

/* Prepares a reply holding a copy of body: lws_write wants writable
 * headroom before the payload, so even static bodies are copied (/herald.js
 * is small and rarely fetched). */
static gw_http_reply_t *
s_reply_new (int status, const char *content_type, const void *body, size_t len)
{
    gw_http_reply_t *reply = calloc (1, sizeof *reply);
    if (!reply)
        return NULL;
    reply->status = status;
    reply->content_type = content_type;
    reply->len = len;
    reply->storage = malloc (LWS_PRE + len + 1);
    if (!reply->storage) {
        free (reply);
        return NULL;
    }
    if (len)
        memcpy (reply->storage + LWS_PRE, body, len);
    reply->body = reply->storage + LWS_PRE;
    return reply;
}

static void
s_reply_destroy (gw_http_reply_t **reply_p)
{
    if (*reply_p) {
        free ((*reply_p)->storage);
        free (*reply_p);
        *reply_p = NULL;
    }
}

static gw_http_reply_t *
s_route (gw_server_t *self, struct lws *wsi, const char *uri)
{
    if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) <= 0)
        return s_reply_new (HTTP_STATUS_METHOD_NOT_ALLOWED, "text/plain", "GET only\n", 9);
    if (strcmp (uri, "/healthz") == 0)
        return s_reply_new (HTTP_STATUS_OK, "text/plain", "ok\n", 3);
    if (strcmp (uri, "/metrics") == 0) {
        hp_buf_t text;
        hp_buf_init (&text, GW_METRICS_MAX);
        self->metrics->users = gw_fanout_user_count (self->env.fanout);
        gw_http_reply_t *reply = gw_metrics_render (self->metrics, &text) == 0
            ? s_reply_new (HTTP_STATUS_OK, "text/plain; version=0.0.4", text.data, text.len)
            : s_reply_new (HTTP_STATUS_INTERNAL_SERVER_ERROR, "text/plain", "error\n", 6);
        hp_buf_free (&text);
        return reply;
    }
    if (strcmp (uri, "/herald.js") == 0) {
        const unsigned char *js;
        size_t len;
        if (gw_static_herald_js (&js, &len) == 0) {
            /* Pages on the application's own origin import this module, and
             * browsers load cross-origin modules only with CORS. */
            gw_http_reply_t *reply = s_reply_new (HTTP_STATUS_OK, "application/javascript", js, len);
            if (reply)
                reply->any_origin = true;
            return reply;
        }
    }
    return s_reply_new (HTTP_STATUS_NOT_FOUND, "text/plain", "not found\n", 10);
}

/* Writes headers on the first WRITEABLE, the body on the second. */
static int
s_http_write (struct lws *wsi, gw_pss_t *pss)
{
    gw_http_reply_t *reply = pss->ptr;
    if (!reply)
        return 0;
    if (!reply->headers_sent) {
        unsigned char headers[LWS_PRE + 512];
        unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
        if (lws_add_http_common_headers (wsi, (unsigned) reply->status, reply->content_type,
                                         reply->len, &p, end)
        ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                          (const unsigned char *) "no-store", 8, &p, end)
        ||  (reply->any_origin
             && lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_ACCESS_CONTROL_ALLOW_ORIGIN,
                                              (const unsigned char *) "*", 1, &p, end))
        ||  lws_finalize_write_http_header (wsi, start, &p, end))
            return -1;
        reply->headers_sent = true;
        lws_callback_on_writable (wsi);
        return 0;
    }
    int n = lws_write (wsi, (unsigned char *) reply->body, reply->len, LWS_WRITE_HTTP_FINAL);
    bool failed = n < 0 || (size_t) n < reply->len;
    s_reply_destroy ((gw_http_reply_t **) &pss->ptr);
    if (failed)
        return -1;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

/* --- shutdown ------------------------------------------------------------ */

static void
s_on_shutdown_timer (uv_timer_t *timer)
{
    gw_server_t *self = timer->data;
    if (self->finished)
        return;
    self->finished = true;
    uv_close ((uv_handle_t *) &self->shutdown_timer, NULL);
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

/* --- the one lws callback ------------------------------------------------ */

static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    gw_pss_t *pss = user;
    struct lws_context *context = lws_get_context (wsi);
    gw_server_t *self = context ? lws_context_user (context) : NULL;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[8];
        if (lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) != 3 || strcmp (uri, "/ws") != 0
        ||  self->shutting_down || self->metrics->connections >= self->config->max_connections) {
            self->metrics->http_refused_total++;
            return -1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        pss->kind = GW_PSS_WS;
        pss->ptr = gw_session_new (&self->env, wsi);
        return pss->ptr ? 0 : -1;

    case LWS_CALLBACK_RECEIVE:
        return pss->kind == GW_PSS_WS && pss->ptr ? gw_session_on_receive (pss->ptr, in, len) : -1;

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
            if (self->shutting_down && !self->finished && self->metrics->connections == 0)
                uv_timer_start (&self->shutdown_timer, s_on_shutdown_timer, 0, 0);
        }
        return 0;

    case LWS_CALLBACK_USER:     /* shutdown, from gw_server_shutdown */
        if (pss && pss->kind == GW_PSS_WS && pss->ptr)
            gw_session_close (pss->ptr, 1001);
        return 0;

    case LWS_CALLBACK_HTTP:
        pss->kind = GW_PSS_HTTP;
        s_reply_destroy ((gw_http_reply_t **) &pss->ptr);   /* keep-alive: a new request */
        if (!(pss->ptr = s_route (self, wsi, in)))
            return -1;
        lws_callback_on_writable (wsi);
        return 0;

    case LWS_CALLBACK_HTTP_WRITEABLE:
        return pss && pss->kind == GW_PSS_HTTP ? s_http_write (wsi, pss) : 0;

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (pss && pss->kind == GW_PSS_HTTP) {
            s_reply_destroy ((gw_http_reply_t **) &pss->ptr);
            pss->kind = GW_PSS_NONE;
        }
        return 0;

    default:
        return lws_callback_http_dummy (wsi, reason, user, in, len);
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
    self->config = config;
    self->metrics = metrics;
    self->env.config = config;
    self->env.metrics = metrics;
    self->env.fanout = fanout;
    self->env.link = gw_upstream_link (upstream);
    hp_buf_init (&self->env.scratch, 4096);
    static const char pong[] = "{\"type\":\"pong\"}";
    self->env.pong = gw_blob_new (pong, sizeof pong - 1, 0);
    if (!self->env.pong)
        goto fail;

    /* lws sizes its descriptor tables by this and indexes them by fd
     * number, so leave room above the WebSocket limit for plain HTTP,
     * ZeroMQ and libuv descriptors */
    struct rlimit rl;
    unsigned fds = config->max_connections + 1024;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < fds)
        fds = (unsigned) rl.rlim_cur;

    void *foreign_loops[1] = { loop };
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = config->listen_port;
    info.iface = config->listen_host;
    info.protocols = s_protocols;
    info.foreign_loops = foreign_loops;
    /* explicit vhost: lws 4.1 returns a context even when the default
     * vhost cannot bind, so we create the vhost ourselves and check it.
     * No LWS_SERVER_OPTION_VALIDATE_UTF8: jansson refuses invalid UTF-8
     * in the whole message, which closes with our documented 4000 rather
     * than lws's 1007. */
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    if (!strchr (config->listen_host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    info.user = self;
    info.pcontext = &self->context;
    info.fd_limit_per_thread = fds;
    info.timeout_secs = 10;
    info.max_http_header_data = 4096;
    info.server_string = "herald-gateway";
    info.vhost_name = "herald";
    self->context = lws_create_context (&info);
    if (!self->context || !(self->vhost = lws_create_vhost (self->context, &info))) {
        fprintf (stderr, "herald-gateway: cannot listen on %s:%d\n",
                 config->listen_host, config->listen_port);
        goto fail;
    }
    uv_timer_init (loop, &self->shutdown_timer);
    self->shutdown_timer.data = self;
    return self;
fail:
    gw_server_destroy (&self);
    return NULL;
}

void
gw_server_destroy (gw_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_server_t *self = *self_p;
    if (self->context)
        lws_context_destroy (self->context);
    gw_blob_release (&self->env.pong);
    hp_buf_free (&self->env.scratch);
    free (self);
    *self_p = NULL;
}
