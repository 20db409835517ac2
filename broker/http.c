/* http.c -- the broker's HTTP server: /message, /metrics, /healthz on libwebsockets.
 *
 * Runs in its own thread with its own lws_context and lws's default poll
 * loop: traffic here is low (a backend's occasional POST, a scraper), and
 * keeping it off the main thread keeps the routing loop pure ZeroMQ. Every
 * request that needs broker state becomes a synchronous call over the inproc
 * bridge (see http.h); this thread owns nothing else. */
#include "http.h"
#include "envelope.h"
#include "http_body.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_BRIDGE_TIMEOUT_MS 5000
/* Bodies are read to the end (closing on unread input would reset the
 * connection before the client sees the 400), but not without limit. */
#define S_DISCARD_MAX ((size_t) 64 << 20)

struct hb_http {
    struct lws_context *ctx;
    void               *pair;
    pthread_t           thread;
    bool                thread_started;
    atomic_bool         stop;
    uint32_t            seq;
    size_t              max_body;
    hp_buf_t            envelope;
};

/* Per connection; reset at the start of each request (keep-alive reuses it). */
typedef struct {
    bool        post;
    const char *why;              /* a 400 decided from the headers */
    bool        too_large;
    size_t      seen;             /* body bytes read, kept or not */
    char        event[HP_EVENT_NAME_MAX + 1];
    size_t      event_len;
    char        user[HP_USER_MAX + 1];
    size_t      user_len;
    char        content_type[128];
    hp_buf_t    body;
    bool        answered;         /* this request's answer was written */
    char        request_line[HP_USER_MAX * 3 + 96];   /* "POST <path>", for the check below */
    size_t      request_line_len;
} s_pss_t;

/* --- the bridge, this thread's side -------------------------------------- */

static void
s_put_u32 (unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24); p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);  p[3] = (unsigned char) v;
}

static uint32_t
s_get_u32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends a request and waits for its reply (stale replies of timed-out calls
 * are skipped by seq). With want_reply false it only sends. Returns 0 with
 * *reply filled (caller closes it), or -1. */
static int
s_bridge_call (hb_http_t *self, char kind, const void *payload, size_t len,
               bool want_reply, zmq_msg_t *reply)
{
    uint32_t seq = ++self->seq;
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, 5 + len) != 0)
        return -1;
    unsigned char *p = zmq_msg_data (&msg);
    p[0] = (unsigned char) kind;
    s_put_u32 (p + 1, seq);
    if (len)
        memcpy (p + 5, payload, len);
    if (zmq_msg_send (&msg, self->pair, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return -1;
    }
    if (!want_reply)
        return 0;
    int64_t deadline = s_now_ms () + S_BRIDGE_TIMEOUT_MS;
    for (;;) {
        long left = (long) (deadline - s_now_ms ());
        if (left <= 0 || atomic_load (&self->stop))
            return -1;   /* a stopping broker answers no more */
        zmq_pollitem_t item = { self->pair, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, left < 100 ? left : 100) <= 0)
            continue;
        zmq_msg_init (reply);
        if (zmq_msg_recv (reply, self->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (reply);
            continue;
        }
        if (zmq_msg_size (reply) >= 4 && s_get_u32 (zmq_msg_data (reply)) == seq)
            return 0;
        zmq_msg_close (reply);
    }
}

/* --- responses ------------------------------------------------------------ */

static int
s_respond (hb_http_t *self, struct lws *wsi, int status, const char *type,
           const char *body, size_t len)
{
    unsigned char code[2] = { (unsigned char) (status >> 8), (unsigned char) status };
    s_bridge_call (self, HB_BRIDGE_CODE, code, 2, false, NULL);

    unsigned char head[LWS_PRE + 512];
    unsigned char *start = &head[LWS_PRE], *p = start, *end = &head[sizeof head - 1];
    if (lws_add_http_common_headers (wsi, (unsigned int) status, type, len, &p, end)
        || lws_finalize_write_http_header (wsi, start, &p, end))
        return -1;
    unsigned char *out = malloc (LWS_PRE + len);
    if (!out)
        return -1;
    memcpy (out + LWS_PRE, body, len);
    int n = lws_write (wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free (out);
    if (n < (int) len)
        return -1;
    s_pss_t *pss = lws_wsi_user (wsi);
    pss->answered = true;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}

static int
s_respond_error (hb_http_t *self, struct lws *wsi, int status, const char *why)
{
    char body[256];
    int n = snprintf (body, sizeof body, "{\"error\":\"%s\"}\n", why);
    return s_respond (self, wsi, status, "application/json", body,
                      n > 0 && (size_t) n < sizeof body ? (size_t) n : 0);
}

/* --- requests ------------------------------------------------------------- */

/* "/message/<event>/<to>", validated so a bad part is a 400 with its reason.
 * lws has already URL-decoded the path (%XX, and also '+' as a space, so a
 * '+' in a user id must be sent as %2B); it refuses %00 by closing. Since
 * the event name cannot hold '/', everything after the second slash is the
 * user id, which may contain (encoded) slashes. */
static const char *
s_parse_message_path (s_pss_t *pss, const char *path, size_t len)
{
    static const char prefix[] = "/message/";
    size_t plen = sizeof prefix - 1;
    if (len < plen || memcmp (path, prefix, plen) != 0)
        return "not found";
    const char *rest = path + plen;
    size_t rlen = len - plen;
    const char *slash = memchr (rest, '/', rlen);
    if (!slash)
        return "not found";
    size_t elen = (size_t) (slash - rest);
    size_t ulen = rlen - elen - 1;
    if (!hp_event_name_valid (rest, elen))
        return "bad event name";
    if (!hp_user_id_valid (slash + 1, ulen))
        return "bad user id";
    memcpy (pss->event, rest, elen);
    pss->event_len = elen;
    memcpy (pss->user, slash + 1, ulen);
    pss->user_len = ulen;
    return NULL;
}

static int
s_post_message (hb_http_t *self, struct lws *wsi, s_pss_t *pss)
{
    if (pss->why)
        return s_respond_error (self, wsi, strcmp (pss->why, "not found") ? 400 : 404, pss->why);
    if (pss->too_large)
        return s_respond_error (self, wsi, 400, "body too large");
    const char *why = NULL;
    hp_buf_reset (&self->envelope);
    if (hb_http_body_envelope (&self->envelope, pss->event, pss->event_len, pss->user,
                               pss->user_len, pss->content_type, pss->body.data,
                               pss->body.len, &why) != 0)
        return s_respond_error (self, wsi, 400, why);
    zmq_msg_t reply;
    if (s_bridge_call (self, HB_BRIDGE_POST, self->envelope.data, self->envelope.len,
                       true, &reply) != 0)
        return s_respond_error (self, wsi, 503, "broker busy");
    const unsigned char *r = zmq_msg_data (&reply);
    int rc;
    if (zmq_msg_size (&reply) < 4 + 10)
        rc = s_respond_error (self, wsi, 500, "bad bridge reply");
    else if (r[4] != HP_ENV_OK)
        rc = s_respond_error (self, wsi, 400, hp_env_error_name ((hp_env_error_t) r[4]));
    else {
        uint64_t offset = 0;
        for (int i = 0; i < 8; i++)
            offset = offset << 8 | r[6 + i];
        bool online = r[5] != 0;
        char body[96];
        int n = snprintf (body, sizeof body, "{\"online\":%s,\"offset\":%llu}\n",
                          online ? "true" : "false", (unsigned long long) offset);
        rc = s_respond (self, wsi, online ? 200 : 404, "application/json", body, (size_t) n);
    }
    zmq_msg_close (&reply);
    return rc;
}

static int
s_get (hb_http_t *self, struct lws *wsi, const char *path)
{
    if (strcmp (path, "/healthz") == 0)
        return s_respond (self, wsi, 200, "text/plain", "ok\n", 3);
    if (strcmp (path, "/metrics") == 0) {
        zmq_msg_t reply;
        if (s_bridge_call (self, HB_BRIDGE_METRICS, NULL, 0, true, &reply) != 0)
            return s_respond_error (self, wsi, 503, "broker busy");
        int rc = s_respond (self, wsi, 200, "text/plain; version=0.0.4",
                            (const char *) zmq_msg_data (&reply) + 4, zmq_msg_size (&reply) - 4);
        zmq_msg_close (&reply);
        return rc;
    }
    return s_respond_error (self, wsi, 404, "not found");
}

/* lws 4.1 mishandles HTTP pipelining: when a POST arrives in the same read
 * as the end of the previous request, it hands over the request's own
 * first bytes ("POST /message/...") as its body, and once the connection
 * holds such leftovers its service loop can spin. A client that waits for
 * each answer (keep-alive, one request in flight) never triggers this. So
 * a body that starts like this request's own request line is taken as that
 * case and the connection is closed: the answers already written stand,
 * nothing is misrouted, nothing spins. (A body that really starts with its
 * own "POST <path> " is refused the same way; no JSON body can.) */
static bool
s_is_misparsed_pipeline (const s_pss_t *pss, const char *chunk, size_t len)
{
    size_t n = len < pss->request_line_len ? len : pss->request_line_len;
    return n > 0 && memcmp (chunk, pss->request_line, n) == 0;
}

static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    hb_http_t *self = lws_context_user (lws_get_context (wsi));
    s_pss_t *pss = user;
    switch (reason) {
        case LWS_CALLBACK_HTTP: {
            hp_buf_free (&pss->body);
            memset (pss, 0, sizeof *pss);
            hp_buf_init (&pss->body, self->max_body);
            const char *path = in;
            if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0)
                return s_get (self, wsi, path);
            if (lws_hdr_total_length (wsi, WSI_TOKEN_POST_URI) <= 0)
                return s_respond_error (self, wsi, 405, "method not allowed");
            pss->post = true;
            pss->why = s_parse_message_path (pss, path, strlen (path));
            int rl = snprintf (pss->request_line, sizeof pss->request_line, "POST %s ", path);
            pss->request_line_len = rl > 0 && (size_t) rl < sizeof pss->request_line ? (size_t) rl : 0;
            if (lws_hdr_copy (wsi, pss->content_type, sizeof pss->content_type,
                              WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
                pss->content_type[0] = '\0';
            char clen[32] = "";
            bool has_len = lws_hdr_copy (wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
            bool chunked = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
            if (has_len && strtoull (clen, NULL, 10) > S_DISCARD_MAX)
                return -1;   /* not worth reading: close */
            if (chunked && !has_len) {
                /* lws 4.1 does not decode chunked request bodies: say so
                 * rather than wait for a body that never surfaces. lws then
                 * reads the chunk bytes as a bad next request and closes. */
                return s_respond_error (self, wsi, 400,
                                        "chunked bodies are not supported, send Content-Length");
            }
            if (!has_len || strtoull (clen, NULL, 10) == 0)
                return s_post_message (self, wsi, pss);   /* no body follows */
            return 0;   /* the body arrives in LWS_CALLBACK_HTTP_BODY */
        }
        case LWS_CALLBACK_HTTP_BODY:
            if (pss->seen == 0 && s_is_misparsed_pipeline (pss, in, len))
                return -1;
            pss->seen += len;
            if (pss->seen > S_DISCARD_MAX)
                return -1;
            if (!pss->too_large && !pss->why && hp_buf_append (&pss->body, in, len) != 0)
                pss->too_large = true;
            return 0;
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            if (!pss->post || pss->answered)
                return -1;   /* never answer one request twice */
            return s_post_message (self, wsi, pss);
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        case LWS_CALLBACK_CLOSED_HTTP:
            if (pss)
                hp_buf_free (&pss->body);
            return 0;
        default:
            return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_protocols[] = {
    { "herald-broker-http", s_callback, sizeof (s_pss_t), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void *
s_thread (void *arg)
{
    hb_http_t *self = arg;
    while (!atomic_load (&self->stop))
        if (lws_service (self->ctx, 0) < 0)
            break;
    return NULL;
}

hb_http_t *
hb_http_new (void *zmq_ctx, const char *host, int port, size_t max_body)
{
    hb_http_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_body = max_body;
    atomic_init (&self->stop, false);
    hp_buf_init (&self->envelope, max_body * 4 + 1024);
    self->pair = zmq_socket (zmq_ctx, ZMQ_PAIR);
    int linger = 0;
    if (!self->pair
        || zmq_setsockopt (self->pair, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_connect (self->pair, HB_HTTP_BRIDGE_ENDPOINT) != 0) {
        fprintf (stderr, "herald-broker: http bridge: %s\n", zmq_strerror (zmq_errno ()));
        hb_http_destroy (&self);
        return NULL;
    }

    lws_set_log_level (LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    info.protocols = s_protocols;
    info.user = self;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr (host, ':') == NULL);
    self->ctx = lws_create_context (&info);
    if (!self->ctx) {
        fprintf (stderr, "herald-broker: cannot serve HTTP on %s:%d\n", host, port);
        hb_http_destroy (&self);
        return NULL;
    }
    /* The thread must not take SIGINT/SIGTERM: the main thread handles them. */
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, &old);
    int rc = pthread_create (&self->thread, NULL, s_thread, self);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        fprintf (stderr, "herald-broker: cannot start the HTTP thread\n");
        hb_http_destroy (&self);
        return NULL;
    }
    self->thread_started = true;
    return self;
}

void
hb_http_destroy (hb_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_http_t *self = *self_p;
    if (self->thread_started) {
        atomic_store (&self->stop, true);
        lws_cancel_service (self->ctx);
        pthread_join (self->thread, NULL);
    }
    if (self->ctx)
        lws_context_destroy (self->ctx);
    if (self->pair)
        zmq_close (self->pair);
    hp_buf_free (&self->envelope);
    free (self);
    *self_p = NULL;
}
