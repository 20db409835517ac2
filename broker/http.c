/* http.c -- the broker's HTTP server: /message, /channel, /broadcast, /batch, /metrics, /healthz on libwebsockets.
 *
 * Runs in its own thread with its own lws_context and lws's default poll
 * loop: traffic here is low (a backend's occasional POST, a scraper), and
 * keeping it off the main thread keeps the routing loop pure ZeroMQ. Every
 * request that needs broker state becomes a synchronous call over the inproc
 * bridge (see http.h); this thread owns nothing else.
 *
 * One vhost per listener: --http, and --metrics when given (then /metrics
 * and /healthz move there and the --http listener answers only the POSTs).
 * The rules a request must pass are in http_check.c. */
#include "http.h"
#include "log.h"
#include "envelope.h"
#include "http_batch.h"
#include "http_body.h"
#include "http_check.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <zmq.h>

#define S_BRIDGE_TIMEOUT_MS 5000
_Static_assert (HP_CHANNEL_MAX <= HP_USER_MAX, "s_req_t.target holds a channel");
/* Bodies are read to the end (closing on unread input would reset the
 * connection before the client sees the 400), but not without limit. */
#define S_DISCARD_MAX ((size_t) 64 << 20)

/* After accept() fails (descriptors exhausted), the thread stops serving
 * for this long before lws tries again: lws 4.1 retries at once and logs
 * each failure, which spun a core and wrote ~90,000 lines a second. */
#define S_ACCEPT_BACKOFF_MS 100
#define S_CL_VALUES_MAX 4

typedef enum { S_ROLE_MAIN, S_ROLE_METRICS } s_role_t;

struct hb_http {
    struct lws_context *ctx;
    void               *pair;
    pthread_t           thread;
    bool                thread_started;
    atomic_bool         stop;
    uint32_t            seq;
    size_t              max_body;
    hp_buf_t            envelope;
    hp_buf_t            batch;        /* POST /batch's bridge payload */
    hp_buf_t            answer;       /* ... and its answer */
    hb_http_batch_lines_t *lines;     /* ... and its lines' refusals */
    char                key[HB_HTTP_KEY_MAX + 1];
    size_t              key_len;      /* 0: no key */
    bool                split;        /* /metrics and /healthz on their own listener */
    unsigned            body_timeout;
    s_role_t            roles[2];     /* the vhosts' user pointers */
};

/* lws logs through one process-wide hook with no user pointer, so what it
 * reports lives here: set by the hook (this thread's lws_service, or the
 * main thread before the thread starts), read by the service loop. */
static atomic_bool     s_accept_failed;
static atomic_uint_fast64_t s_log_second, s_log_suppressed;

/* Per connection. `req` is reset at the start of each request (keep-alive
 * reuses the connection); `answers` is not. */
typedef struct {
    bool        post;
    bool        batch;            /* POST /batch */
    int         status;           /* an answer decided from the headers */
    const char *why;
    bool        close_after;      /* the framing is unknown: close after it */
    bool        too_large;
    size_t      seen;             /* body bytes read, kept or not */
    char        event[HP_EVENT_NAME_MAX + 1];
    size_t      event_len;
    hb_http_to_t to;              /* the path's addressing */
    char        target[HP_USER_MAX + 1];   /* the user id or the channel (HP_CHANNEL_MAX fits) */
    char        idem_key[HP_IDEMPOTENCY_KEY_MAX + 1];   /* Idempotency-Key, when idem_len */
    size_t      idem_len;
    char        ckey[HP_KEY_MAX + 1];                   /* Herald-Key, when ckey_len */
    size_t      ckey_len;
    uint64_t    receipt;                                /* Herald-Receipt, 0: none */
    size_t      target_len;
    char        content_type[128];
    hp_buf_t    body;
    bool        answered;         /* this request's answer was written */
    char        request_line[HP_USER_MAX * 3 + 96];   /* "POST <path>", for the check below */
    size_t      request_line_len;
    int64_t     started_ms;       /* when the headers were complete */
} s_req_t;

typedef struct {
    s_req_t  req;
    uint64_t answers;
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

static void
s_report (hb_http_t *self, hb_http_event_t event)
{
    unsigned char e = (unsigned char) event;
    s_bridge_call (self, HB_BRIDGE_EVENT, &e, 1, false, NULL);
}

/* Writes one whole answer. Returns what the callback returns: 0 to keep
 * the connection for the next request, -1 to close it (on error, or when
 * the request's framing is unknown: its leftover bytes cannot be trusted
 * to start a request). */
static int
s_respond (hb_http_t *self, struct lws *wsi, int status, const char *type,
           const char *body, size_t len)
{
    unsigned char code[2] = { (unsigned char) (status >> 8), (unsigned char) status };
    s_bridge_call (self, HB_BRIDGE_CODE, code, 2, false, NULL);

    s_pss_t *pss = lws_wsi_user (wsi);
    bool close_after = pss && pss->req.close_after;
    unsigned char head[LWS_PRE + 512];
    unsigned char *start = &head[LWS_PRE], *p = start, *end = &head[sizeof head - 1];
    if (lws_add_http_common_headers (wsi, (unsigned int) status, type, len, &p, end))
        return -1;
    if (status == 401
        && lws_add_http_header_by_name (wsi, (const unsigned char *) "www-authenticate:",
                                        (const unsigned char *) "Bearer", 6, &p, end))
        return -1;
    if (close_after
        && lws_add_http_header_by_token (wsi, WSI_TOKEN_CONNECTION,
                                         (const unsigned char *) "close", 5, &p, end))
        return -1;
    if (lws_finalize_write_http_header (wsi, start, &p, end))
        return -1;
    unsigned char *out = malloc (LWS_PRE + len);
    if (!out)
        return -1;
    memcpy (out + LWS_PRE, body, len);
    int n = lws_write (wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free (out);
    if (n < (int) len)
        return -1;
    if (pss) {
        pss->req.answered = true;
        pss->answers++;
    }
    if (close_after)
        return -1;
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

/* POST /batch, its body read: one bridge call routes every line. */
static int
s_post_batch (hb_http_t *self, struct lws *wsi, s_req_t *req)
{
    const char *why = NULL;
    if (hb_http_batch_pack (&self->batch, req->body.data, req->body.len, self->max_body,
                            self->lines, &why) != 0)
        return s_respond_error (self, wsi, 400, why);
    zmq_msg_t reply;
    if (s_bridge_call (self, HB_BRIDGE_BATCH, self->batch.data, self->batch.len,
                       true, &reply) != 0)
        return s_respond_error (self, wsi, 503, "broker busy");
    hp_buf_reset (&self->answer);
    int rc;
    if (hb_http_batch_render (&self->answer, self->lines,
                              (const unsigned char *) zmq_msg_data (&reply) + 4,
                              zmq_msg_size (&reply) - 4) != 0)
        rc = s_respond_error (self, wsi, 500, "answer too large");
    else
        rc = s_respond (self, wsi, 200, "application/json", self->answer.data, self->answer.len);
    zmq_msg_close (&reply);
    return rc;
}

static int
s_post_message (hb_http_t *self, struct lws *wsi, s_pss_t *pss)
{
    s_req_t *req = &pss->req;
    if (req->why)
        return s_respond_error (self, wsi, req->status, req->why);
    if (req->too_large)
        return s_respond_error (self, wsi, 400, "body too large");
    if (req->batch)
        return s_post_batch (self, wsi, req);
    const char *why = NULL;
    hp_buf_reset (&self->envelope);
    hb_http_fields_t fields = { req->idem_len ? req->idem_key : NULL, req->idem_len,
                                req->receipt, req->ckey_len ? req->ckey : NULL, req->ckey_len };
    if (hb_http_body_publish_fields (&self->envelope, req->event, req->event_len, req->to,
                                     req->target, req->target_len, req->content_type,
                                     req->body.data, req->body.len, &fields, &why) != 0)
        return s_respond_error (self, wsi, 400, why);
    zmq_msg_t reply;
    if (s_bridge_call (self, HB_BRIDGE_POST, self->envelope.data, self->envelope.len,
                       true, &reply) != 0)
        return s_respond_error (self, wsi, 503, "broker busy");
    const unsigned char *r = zmq_msg_data (&reply);
    int rc;
    if (zmq_msg_size (&reply) < 4 + 11)
        rc = s_respond_error (self, wsi, 500, "bad bridge reply");
    else if (r[4] != HP_ENV_OK)
        rc = s_respond_error (self, wsi, 400, hp_env_error_name ((hp_env_error_t) r[4]));
    else {
        uint64_t offset = 0;
        for (int i = 0; i < 8; i++)
            offset = offset << 8 | r[6 + i];
        bool online = r[5] != 0;
        char body[96];
        int n = snprintf (body, sizeof body, "{\"online\":%s,\"offset\":%llu%s}\n",
                          online ? "true" : "false", (unsigned long long) offset,
                          r[14] ? ",\"duplicate\":true" : "");
        rc = s_respond (self, wsi, online ? 200 : 404, "application/json", body, (size_t) n);
    }
    zmq_msg_close (&reply);
    return rc;
}

static int
s_get (hb_http_t *self, struct lws *wsi, const char *path, s_role_t role)
{
    if (role == S_ROLE_MAIN && self->split) {
        bool moved = strcmp (path, "/healthz") == 0 || strcmp (path, "/metrics") == 0;
        return s_respond_error (self, wsi, 404, moved ? "not found here: see --metrics"
                                                      : "not found");
    }
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
s_is_misparsed_pipeline (const s_req_t *pss, const char *chunk, size_t len)
{
    size_t n = len < pss->request_line_len ? len : pss->request_line_len;
    return n > 0 && memcmp (chunk, pss->request_line, n) == 0;
}

/* A refusal decided from the headers; answered once the body has been
 * read (closing on unread input would reset the connection before the
 * client sees the answer). */
static void
s_refuse_later (s_req_t *req, int status, const char *why)
{
    if (!req->why) {
        req->status = status;
        req->why = why;
    }
}

/* The headers of a POST are complete. */
static int
s_post_headers (hb_http_t *self, struct lws *wsi, s_pss_t *pss, const char *path)
{
    s_req_t *req = &pss->req;
    req->post = true;
    int rl = snprintf (req->request_line, sizeof req->request_line, "POST %s ", path);
    req->request_line_len = rl > 0 && (size_t) rl < sizeof req->request_line ? (size_t) rl : 0;

    char values[S_CL_VALUES_MAX][32];
    const char *lengths[S_CL_VALUES_MAX];
    size_t count = 0;
    for (int i = 0; i < S_CL_VALUES_MAX; i++) {
        int n = lws_hdr_copy_fragment (wsi, values[i], sizeof values[i],
                                       WSI_TOKEN_HTTP_CONTENT_LENGTH, i);
        if (n < 0) {
            if (lws_hdr_fragment_length (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, i) <= 0)
                break;
            strcpy (values[i], "x");   /* too long for any sane length */
        }
        lengths[count++] = values[i];
    }
    bool te = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
    uint64_t length;
    const char *why;
    if (hb_http_framing (lengths, count, te, &length, &why) != 0) {
        req->close_after = true;
        return s_respond_error (self, wsi, 400, why);
    }
    if (length > S_DISCARD_MAX) {
        req->close_after = true;
        return s_respond_error (self, wsi, 400, "body too large");
    }
    if (self->key_len) {
        char auth[HB_HTTP_KEY_MAX + 64];
        int n = lws_hdr_copy (wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION);
        if (n <= 0 || !hb_http_bearer_ok (auth, self->key, self->key_len))
            s_refuse_later (req, 401, "unauthorized: send Authorization: Bearer <key>");
    }
    const char *event = NULL, *target = NULL;
    size_t event_len = 0, target_len = 0;
    req->batch = strcmp (path, HB_HTTP_BATCH_PATH) == 0;
    why = req->batch ? NULL : hb_http_publish_path (path, strlen (path), &req->to, &event,
                                                    &event_len, &target, &target_len);
    if (req->batch)
        hp_buf_init (&req->body, HB_HTTP_BATCH_BYTES_MAX);   /* still empty */
    else if (why)
        s_refuse_later (req, strcmp (why, "not found") ? 400 : 404, why);
    else {
        memcpy (req->event, event, event_len);
        req->event_len = event_len;
        memcpy (req->target, target, target_len);
        req->target_len = target_len;
    }
    /* Idempotency-Key: the envelope's idempotency_key (1-128 bytes) */
    int ik = lws_hdr_custom_length (wsi, "idempotency-key:", 16);
    req->idem_len = 0;
    if (ik > 0 && ik <= HP_IDEMPOTENCY_KEY_MAX
    &&  lws_hdr_custom_copy (wsi, req->idem_key, sizeof req->idem_key, "idempotency-key:", 16) == ik)
        req->idem_len = (size_t) ik;
    else if (ik >= 0)
        s_refuse_later (req, 400, "Idempotency-Key must be 1-128 bytes");
    if (req->batch && ik >= 0)
        s_refuse_later (req, 400, "Idempotency-Key: give each line its idempotency_key");
    /* Herald-Receipt: the envelope's receipt (seconds); Herald-Key: its
     * conflation key. Checked here for a clear 400; the router checks the
     * envelope again as any producer's. */
    char num[16];
    int hr = lws_hdr_custom_length (wsi, "herald-receipt:", 15);
    req->receipt = 0;
    if (hr > 0 && hr < (int) sizeof num
    &&  lws_hdr_custom_copy (wsi, num, sizeof num, "herald-receipt:", 15) == hr
    &&  strspn (num, "0123456789") == (size_t) hr && hr <= 4
    &&  strtoul (num, NULL, 10) >= 1 && strtoul (num, NULL, 10) <= HP_RECEIPT_MAX)
        req->receipt = strtoul (num, NULL, 10);
    else if (hr >= 0)
        s_refuse_later (req, 400, "Herald-Receipt must be 1-3600 seconds");
    int kl = lws_hdr_custom_length (wsi, "herald-key:", 11);
    req->ckey_len = 0;
    if (kl > 0 && kl <= HP_KEY_MAX
    &&  lws_hdr_custom_copy (wsi, req->ckey, sizeof req->ckey, "herald-key:", 11) == kl)
        req->ckey_len = (size_t) kl;
    else if (kl >= 0)
        s_refuse_later (req, 400, "Herald-Key must be 1-128 bytes");
    if (req->batch && (hr >= 0 || kl >= 0))
        s_refuse_later (req, 400, "Herald-Receipt, Herald-Key: give each line its receipt and key");
    if (lws_hdr_copy (wsi, req->content_type, sizeof req->content_type,
                      WSI_TOKEN_HTTP_CONTENT_TYPE) < 0)
        req->content_type[0] = '\0';
    if (req->batch && !hb_http_batch_type_ok (req->content_type))
        s_refuse_later (req, 400, "POST /batch takes application/x-ndjson: one JSON envelope per line");
    else if (!req->batch
         &&  !hb_http_content_allowed (req->content_type, (size_t) length, self->key_len > 0, &why))
        s_refuse_later (req, 400, why);
    if (length == 0)
        return s_post_message (self, wsi, pss);   /* no body follows */
    return 0;   /* the body arrives in LWS_CALLBACK_HTTP_BODY */
}

static int
s_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
            void *in, size_t len)
{
    hb_http_t *self = lws_context_user (lws_get_context (wsi));
    s_pss_t *pss = user;
    switch (reason) {
        case LWS_CALLBACK_HTTP: {
            hp_buf_free (&pss->req.body);
            memset (&pss->req, 0, sizeof pss->req);
            hp_buf_init (&pss->req.body, self->max_body);
            pss->req.started_ms = s_now_ms ();
            const s_role_t *role = lws_vhost_user (lws_get_vhost (wsi));
            s_role_t r = role ? *role : S_ROLE_MAIN;
            const char *path = in;
            if (lws_hdr_total_length (wsi, WSI_TOKEN_GET_URI) > 0)
                return s_get (self, wsi, path, r);
            if (lws_hdr_total_length (wsi, WSI_TOKEN_POST_URI) <= 0 || r == S_ROLE_METRICS) {
                /* A body may follow that we will not read. */
                pss->req.close_after = lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0
                                    || lws_hdr_total_length (wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
                return s_respond_error (self, wsi, 405, "method not allowed");
            }
            return s_post_headers (self, wsi, pss, path);
        }
        case LWS_CALLBACK_HTTP_BODY: {
            s_req_t *req = &pss->req;
            if (req->seen == 0 && s_is_misparsed_pipeline (req, in, len))
                return -1;
            /* lws re-arms its own timeout on every chunk, so a body sent a
             * byte at a time would never end; this one counts from the
             * headers. */
            if (s_now_ms () - req->started_ms > (int64_t) self->body_timeout * 1000) {
                req->close_after = true;
                return s_respond_error (self, wsi, 408, "request body too slow");
            }
            req->seen += len;
            if (req->seen > S_DISCARD_MAX)
                return -1;
            if (!req->too_large && !req->why && hp_buf_append (&req->body, in, len) != 0)
                req->too_large = true;
            return 0;
        }
        case LWS_CALLBACK_HTTP_BODY_COMPLETION:
            if (!pss->req.post || pss->req.answered)
                return -1;   /* never answer one request twice */
            return s_post_message (self, wsi, pss);
        case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
            if (pss)
                hp_buf_free (&pss->req.body);
            return 0;
        case LWS_CALLBACK_CLOSED_HTTP:
            if (pss) {
                hp_buf_free (&pss->req.body);
                /* lws's own refusals (403 for a bad request line, nothing
                 * for CONNECT), its timeouts, peers that sent nothing. */
                if (pss->answers == 0 && !atomic_load (&self->stop))
                    s_report (self, HB_HTTP_UNANSWERED);
            }
            return 0;
        default:
            return lws_callback_http_dummy (wsi, reason, user, in, len);
    }
}

/* A connection whose first line lws cannot parse as HTTP (an unknown
 * method such as TRACE or FOO, a bad %-escape, bytes that are not HTTP):
 * lws would answer 403 with an HTML page of its own. Its fallback hands
 * such a connection over as raw bytes instead, and it gets a counted JSON
 * 400 and is closed. */
#define S_RAW_BODY "{\"error\":\"not an HTTP request we serve\"}\n"
_Static_assert (sizeof S_RAW_BODY - 1 == 41, "the content-length below");
static const char s_raw_answer[] =
    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
    "content-length: 41\r\nconnection: close\r\n\r\n" S_RAW_BODY;

static int
s_raw_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user,
                void *in, size_t len)
{
    hb_http_t *self = lws_context_user (lws_get_context (wsi));
    /* The same per-connection struct as the HTTP protocol's: lws calls the
     * HTTP protocol's close callbacks with this connection's user space
     * after the fallback (ASan caught a 1-byte one read as an s_pss_t). */
    s_pss_t *pss = user;
    switch (reason) {
        case LWS_CALLBACK_RAW_ADOPT:
        case LWS_CALLBACK_RAW_RX:
            lws_callback_on_writable (wsi);
            return 0;
        case LWS_CALLBACK_RAW_WRITEABLE: {
            if (!pss || pss->answers)
                return -1;
            unsigned char out[LWS_PRE + sizeof s_raw_answer];
            memcpy (out + LWS_PRE, s_raw_answer, sizeof s_raw_answer - 1);
            pss->answers++;
            unsigned char code[2] = { 400 >> 8, 400 & 0xff };
            s_bridge_call (self, HB_BRIDGE_CODE, code, 2, false, NULL);
            if (lws_write (wsi, out + LWS_PRE, sizeof s_raw_answer - 1, LWS_WRITE_RAW) < 0)
                return -1;
            lws_set_timeout (wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
            return 0;
        }
        default:
            return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    { "herald-broker-http", s_callback, sizeof (s_pss_t), 0, 0, NULL, 0 },
    { "herald-broker-raw", s_raw_callback, sizeof (s_pss_t), 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* lws's log hook: at most one line a second (with how many were dropped
 * before it), and an accept() failure noted for the service loop. */
static void
s_lws_log (int level, const char *line)
{
    if (strstr (line, "accept"))
        atomic_store (&s_accept_failed, true);
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t) ts.tv_sec;
    if (atomic_load (&s_log_second) == now) {
        atomic_fetch_add (&s_log_suppressed, 1);
        return;
    }
    atomic_store (&s_log_second, now);
    uint64_t dropped = atomic_exchange (&s_log_suppressed, 0);
    if (dropped)
        hp_warn ("http: (%llu similar lines suppressed)",
                 (unsigned long long) dropped);
    hp_warn ("http: %s", line);
}

static void *
s_thread (void *arg)
{
    hb_http_t *self = arg;
    while (!atomic_load (&self->stop)) {
        if (lws_service (self->ctx, 0) < 0)
            break;
        if (atomic_exchange (&s_accept_failed, false)) {
            s_report (self, HB_HTTP_ACCEPT_FAILED);
            struct timespec pause = { 0, S_ACCEPT_BACKOFF_MS * 1000000L };
            nanosleep (&pause, NULL);
        }
    }
    return NULL;
}

/* lws stops accepting (takes the listeners out of its poll set) once it
 * holds this many descriptors, and lets them back in as connections
 * close: half the process's limit, so ZeroMQ's peers, the sockets and the
 * files the broker opens keep theirs. */
static unsigned
s_fd_limit (void)
{
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 4096;
    rlim_t half = rl.rlim_cur / 2;
    return half < 16 ? 16 : half > 65536 ? 65536 : (unsigned) half;
}

static int
s_vhost (hb_http_t *self, const char *name, const char *host, int port,
         s_role_t *role, const hb_http_options_t *o)
{
    struct lws_context_creation_info vi;
    memset (&vi, 0, sizeof vi);
    vi.vhost_name = name;
    vi.port = port;
    vi.iface = host;
    vi.protocols = s_protocols;
    vi.user = role;
    vi.options = LWS_SERVER_OPTION_DISABLE_IPV6 * (strchr (host, ':') == NULL)
               | LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
    vi.listen_accept_role = "raw-skt";
    vi.listen_accept_protocol = "herald-broker-raw";
    vi.timeout_secs = o->body_timeout;          /* a step that sees no bytes */
    vi.timeout_secs_ah_idle = o->body_timeout;  /* headers that never end */
    vi.keepalive_timeout = (int) o->idle_timeout;
    if (!lws_create_vhost (self->ctx, &vi)) {
        hp_error ("cannot serve HTTP on %s:%d", host, port);
        return -1;
    }
    return 0;
}

hb_http_t *
hb_http_new (void *zmq_ctx, const hb_http_options_t *o)
{
    hb_http_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_body = o->max_body;
    self->body_timeout = o->body_timeout;
    self->split = o->metrics_host != NULL;
    if (o->key && o->key_len && o->key_len <= HB_HTTP_KEY_MAX) {
        memcpy (self->key, o->key, o->key_len);
        self->key_len = o->key_len;
    }
    self->roles[0] = S_ROLE_MAIN;
    self->roles[1] = S_ROLE_METRICS;
    atomic_init (&self->stop, false);
    hp_buf_init (&self->envelope, o->max_body * 4 + 1024);
    /* JSON -> msgpack grows a body at most ~3x (a "1.5," becomes a 9-byte
     * double); a line whose envelope passes this is refused too_large. */
    hp_buf_init (&self->batch, 4 * HB_HTTP_BATCH_BYTES_MAX + 4 * HB_HTTP_BATCH_LINES_MAX);
    hp_buf_init (&self->answer, (size_t) HB_HTTP_BATCH_LINES_MAX * 96 + 64);
    self->lines = calloc (1, sizeof *self->lines);
    self->pair = zmq_socket (zmq_ctx, ZMQ_PAIR);
    int linger = 0;
    if (!self->lines || !self->pair
        || zmq_setsockopt (self->pair, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_connect (self->pair, HB_HTTP_BRIDGE_ENDPOINT) != 0) {
        hp_error ("http bridge: %s", zmq_strerror (zmq_errno ()));
        hb_http_destroy (&self);
        return NULL;
    }

    lws_set_log_level (LLL_ERR, s_lws_log);
    struct lws_context_creation_info info;
    memset (&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = self;
    info.fd_limit_per_thread = s_fd_limit ();
    self->ctx = lws_create_context (&info);
    if (!self->ctx
        || s_vhost (self, "http", o->host, o->port, &self->roles[0], o) != 0
        || (self->split && s_vhost (self, "metrics", o->metrics_host, o->metrics_port,
                                    &self->roles[1], o) != 0)) {
        if (!self->ctx)
            hp_error ("cannot start libwebsockets");
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
        hp_error ("cannot start the HTTP thread");
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
    atomic_store (&self->stop, true);
    if (self->thread_started) {
        lws_cancel_service (self->ctx);
        pthread_join (self->thread, NULL);
    }
    if (self->ctx)
        lws_context_destroy (self->ctx);
    if (self->pair)
        zmq_close (self->pair);
    hp_buf_free (&self->envelope);
    hp_buf_free (&self->batch);
    hp_buf_free (&self->answer);
    free (self->lines);
    free (self);
    *self_p = NULL;
}
