/* session.c -- one client connection: auth, sync/resume handshake, outgoing queue. */
#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "auth.h"
#include "frame.h"
#include "queue.h"
#include "upstream.h"
#include "wire.h"

/* A resume request unanswered this long is sent again (the broker may have
 * restarted); a sync that has not come this long is asked for again. */
#define GW_RETRY_USEC (2 * LWS_US_PER_SEC)
/* Frames one WRITEABLE callback writes at most before yielding. */
#define GW_WRITES_PER_WRITEABLE 32

typedef enum {
    GW_AUTH_WAIT = 0,   /* connected, no auth frame yet */
    GW_SYNC_WAIT,       /* authenticated; waiting for the broker's sync on the user topic */
    GW_RESUME_WAIT,     /* resume request sent; live events queue up meanwhile */
    GW_LIVE             /* welcomed; events flow */
} gw_state_t;

/* Kept small on purpose: an idle authenticated connection costs this plus
 * lws's own state. The queue and the receive buffer exist only while used.
 * What gw_session_on_event reads for every live event comes first, so a
 * delivery touches one cache line of the session (the struct spans two). */
struct gw_session {
    struct lws *wsi;
    gw_queue_t *queue;          /* outgoing frames, allocated on first use */
    gw_session_env_t *env;
    uint64_t last_offset;       /* the newest event offset queued to the client */
    uint16_t close_code;        /* set once we decided to close */
    uint16_t peer_code;         /* the close code the client sent, if any */
    uint8_t state;
    uint8_t pongs_due;
    bool has_position;
    bool gap;                   /* LIVE, and the broker link dropped: fill on the next sync */
    bool silent;                /* welcomed already: this resume fills a gap, no new welcome */
    uint8_t rate_count;
    uint32_t rx_len;
    gw_user_t *user;            /* set once authenticated */
    char *rx;                   /* a client message arriving in pieces */
    uint64_t rid;               /* the pending resume request, 0 when none */
    uint64_t resume_epoch;      /* the client's resume position, if any */
    uint64_t resume_offset;
    uint32_t front;             /* gap fill: queued frames that go before the replay */
    uint32_t rate_second;       /* the second rate_count counts frames in */
};

/* Arms this connection's one timer. lws on a foreign libuv loop re-arms its
 * timer wheel only after servicing one of its own descriptors, so a timer set
 * from our ZeroMQ or signal callbacks would sleep until unrelated traffic;
 * lws_cancel_service wakes lws at once (a pipe write). */
static void
s_timer (gw_session_t *self, lws_usec_t usec)
{
    lws_set_timer_usecs (self->wsi, usec);
    lws_cancel_service (lws_get_context (self->wsi));
}

/* --- queue helpers, keeping the queue_bytes gauge true ------------------ */

static int
s_enqueue (gw_session_t *self, gw_blob_t **blob_p, bool replay)
{
    if (!self->queue && !(self->queue = gw_queue_new (self->env->config->max_queue_bytes)))
        return -1;
    uint32_t len = (*blob_p)->len;
    if ((replay ? gw_queue_push_replay (self->queue, blob_p)
                : gw_queue_push (self->queue, blob_p)) != 0)
        return -1;
    self->env->metrics->queue_bytes += len;
    return 0;
}

static gw_blob_t *
s_dequeue (gw_session_t *self)
{
    gw_blob_t *blob = gw_queue_pop (self->queue);
    if (blob)
        self->env->metrics->queue_bytes -= blob->len;
    return blob;
}

/* Frees the whole queue, counting what it held as dropped for `why`. */
static void
s_drop_queue (gw_session_t *self, gw_drop_t why)
{
    if (!self->queue)
        return;
    self->env->metrics->events_dropped_total[why] += gw_queue_count (self->queue);
    self->env->metrics->queue_bytes -= gw_queue_bytes (self->queue);
    gw_queue_destroy (&self->queue);
}

/* --- life cycle ---------------------------------------------------------- */

gw_session_t *
gw_session_new (gw_session_env_t *env, struct lws *wsi)
{
    gw_session_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->env = env;
    self->wsi = wsi;
    env->metrics->connections++;
    env->metrics->connections_total++;
    lws_set_timer_usecs (wsi, (lws_usec_t) (env->config->auth_timeout * LWS_US_PER_SEC));
    return self;
}

void
gw_session_destroy (gw_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_session_t *self = *self_p;
    if (self->user)
        gw_fanout_detach (self->env->fanout, self->user, self);
    s_drop_queue (self, GW_DROP_CLOSED);
    free (self->rx);
    int code = self->close_code ? self->close_code : self->peer_code ? self->peer_code : 1006;
    gw_metrics_count_close (self->env->metrics, code);
    self->env->metrics->connections--;
    free (self);
    *self_p = NULL;
}

/* Closes from inside this connection's callback: the caller returns -1. */
static int
s_close_now (gw_session_t *self, int code)
{
    self->close_code = (uint16_t) code;
    /* 1006 is never sent: it marks a socket a write already failed on */
    if (code != 1006)
        lws_close_reason (self->wsi, (enum lws_close_status) code, NULL, 0);
    return -1;
}

void
gw_session_close (gw_session_t *self, int code)
{
    if (self->close_code)
        return;
    self->close_code = (uint16_t) code;
    s_drop_queue (self, code == 1013 ? GW_DROP_SLOW_CONSUMER : GW_DROP_CLOSED);
    /* lws 4.1 sends the close frame (and waits for its ack, at most 5 s,
     * then kills a peer that never reads) when a TIMER callback returns
     * -1; returning -1 from WRITEABLE would drop the socket without one */
    s_timer (self, 1);
}

void
gw_session_on_peer_close (gw_session_t *self, int code)
{
    self->peer_code = (uint16_t) code;
}

/* --- the handshake: auth -> sync -> resume -> live ------------------------- */

static void
s_request_resume (gw_session_t *self)
{
    size_t len;
    const char *name = gw_user_name (self->user, &len);
    /* a fresh rid per attempt, so a late answer to an old one is ignored */
    self->rid = gw_upstream_next_rid (self->env->upstream);
    self->state = GW_RESUME_WAIT;
    /* on failure the retry timer sends it again */
    gw_upstream_send_resume (self->env->upstream, self->rid, name, len, self->has_position,
                             self->resume_epoch, self->resume_offset);
    s_timer (self, GW_RETRY_USEC);
}

/* Returns 0, or the close code for a bad resume object. */
static int
s_parse_resume (gw_session_t *self, json_t *resume)
{
    if (!resume || json_is_null (resume))
        return 0;
    json_t *epoch = json_object_get (resume, "epoch");
    json_t *offset = json_object_get (resume, "offset");
    if (!json_is_object (resume) || !json_is_string (epoch) || !json_is_integer (offset)
    ||  json_integer_value (offset) < 0
    ||  hp_epoch_parse (json_string_value (epoch), json_string_length (epoch),
                        &self->resume_epoch) != 0)
        return 4000;
    self->resume_offset = (uint64_t) json_integer_value (offset);
    self->has_position = true;
    return 0;
}

/* The first frame. Returns 0 or the close code. */
static int
s_handle_auth (gw_session_t *self, const char *msg, size_t len)
{
    gw_metrics_t *metrics = self->env->metrics;
    json_t *root = json_loadb (msg, len, 0, NULL);
    json_t *type = json_object_get (root, "type");
    if (!json_is_object (root) || !json_is_string (type)
    ||  strcmp (json_string_value (type), "auth") != 0
    ||  s_parse_resume (self, json_object_get (root, "resume")) != 0) {
        json_decref (root);
        metrics->auth_failures_total[GW_AUTHFAIL_MALFORMED]++;
        return 4000;
    }
    json_t *token = json_object_get (root, "token");
    char user[HP_USER_MAX + 1];
    size_t user_len = 0;
    const gw_config_t *config = self->env->config;
    gw_auth_result_t result = json_is_string (token)
        ? gw_auth_verify (config->secret, config->secret_len, json_string_value (token),
                          time (NULL), user, &user_len)
        : GW_AUTH_BAD_TOKEN;
    json_decref (root);
    if (result != GW_AUTH_OK) {
        metrics->auth_failures_total[gw_metrics_authfail_of (result)]++;
        return result == GW_AUTH_EXPIRED ? 4002 : 4001;
    }
    self->user = gw_fanout_attach (self->env->fanout, user, user_len, self);
    if (!self->user)
        return 1011;
    if (gw_user_synced (self->user))
        s_request_resume (self);
    else {
        self->state = GW_SYNC_WAIT;
        s_timer (self, GW_RETRY_USEC);
    }
    return 0;
}

/* A frame after auth. Returns 0 or the close code. */
static int
s_handle_frame (gw_session_t *self, const char *msg, size_t len)
{
    json_t *root = json_loadb (msg, len, 0, NULL);
    json_t *type = json_object_get (root, "type");
    bool ping = json_is_string (type) && strcmp (json_string_value (type), "ping") == 0;
    json_decref (root);
    if (!ping)
        return 4000;    /* not JSON, a second auth, or an unknown type */
    if (self->pongs_due < UINT8_MAX)
        self->pongs_due++;
    if (self->state == GW_LIVE)
        lws_callback_on_writable (self->wsi);
    return 0;
}

/* True when this frame passes the flood limit. */
static bool
s_rate_ok (gw_session_t *self)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    uint32_t second = (uint32_t) ts.tv_sec;
    if (second != self->rate_second) {
        self->rate_second = second;
        self->rate_count = 0;
    }
    return ++self->rate_count <= GW_CLIENT_RATE_MAX;
}

int
gw_session_on_receive (gw_session_t *self, const void *in, size_t len)
{
    if (self->close_code)
        return 0;       /* closing: the rest of what the peer sends is ignored */
    struct lws *wsi = self->wsi;
    if (lws_frame_is_binary (wsi)) {
        if (self->state == GW_AUTH_WAIT)
            self->env->metrics->auth_failures_total[GW_AUTHFAIL_MALFORMED]++;
        return s_close_now (self, 4000);
    }
    size_t remaining = lws_remaining_packet_payload (wsi);
    if (self->rx_len + len + remaining > GW_CLIENT_MESSAGE_MAX) {
        /* Mid-frame, lws 4.1 does not send the close frame when RECEIVE
         * returns -1 (the connection just hangs until its timeout), so
         * this close goes through the timer like the asynchronous ones. */
        gw_session_close (self, 1009);
        return 0;
    }
    bool complete = lws_is_final_fragment (wsi) && remaining == 0;
    const char *msg = in;
    size_t msg_len = len;
    if (!complete || self->rx_len) {
        /* pieces of one message: collect them (bounded above) */
        if (!self->rx && !(self->rx = malloc (GW_CLIENT_MESSAGE_MAX)))
            return s_close_now (self, 1011);
        memcpy (self->rx + self->rx_len, in, len);
        self->rx_len += (uint32_t) len;
        if (!complete)
            return 0;
        msg = self->rx;
        msg_len = self->rx_len;
    }
    int code;
    if (self->state == GW_AUTH_WAIT)
        code = s_handle_auth (self, msg, msg_len);
    else
        code = s_rate_ok (self) ? s_handle_frame (self, msg, msg_len) : 1008;
    if (self->rx) {
        free (self->rx);
        self->rx = NULL;
        self->rx_len = 0;
    }
    return code ? s_close_now (self, code) : 0;
}

int
gw_session_on_timer (gw_session_t *self)
{
    if (self->close_code)
        return s_close_now (self, self->close_code);   /* from gw_session_close */
    switch (self->state) {
    case GW_AUTH_WAIT:
        self->env->metrics->auth_failures_total[GW_AUTHFAIL_TIMEOUT]++;
        return s_close_now (self, 4008);
    case GW_SYNC_WAIT:
        /* the sync may have been lost (broker restart, XPUB high-water
         * mark): subscribing again makes the broker publish a new one */
        gw_fanout_resubscribe (self->env->fanout, self->user);
        s_timer (self, GW_RETRY_USEC);
        return 0;
    case GW_RESUME_WAIT:
        s_request_resume (self);
        return 0;
    case GW_LIVE:
        if (self->gap) {        /* as in SYNC_WAIT: the sync is overdue */
            gw_fanout_resubscribe (self->env->fanout, self->user);
            s_timer (self, GW_RETRY_USEC);
        }
        return 0;
    default:
        return 0;
    }
}

/* Writes one frame. lws sends what the socket takes and keeps the rest
 * (at most this one frame, as callers check lws_partial_buffered first)
 * until the socket drains, asking for WRITEABLE itself. Returns 0, or -1
 * when the socket failed. */
static int
s_write (gw_session_t *self, gw_blob_t *blob)
{
    int n = lws_write (self->wsi, blob->payload, blob->len, LWS_WRITE_TEXT);
    if (n < 0 || (size_t) n < blob->len)
        return -1;
    self->env->metrics->frames_out_total++;
    return 0;
}

int
gw_session_on_writeable (gw_session_t *self)
{
    /* before the welcome nothing is written; during a gap fill only the
     * frames queued before it (the replay goes after them) */
    bool live = self->state == GW_LIVE;
    if (self->close_code || !(live || self->silent))
        return 0;
    /* Several frames per WRITEABLE while the socket takes them whole: one
     * poll round trip per frame (lws turns POLLOUT on and off through
     * uv_poll_start, two epoll_ctl calls each) cost more than the write.
     * The cap keeps one backlogged connection from holding the loop. */
    for (int i = 0; i < GW_WRITES_PER_WRITEABLE; i++) {
        gw_blob_t *blob;
        if (self->pongs_due) {
            self->pongs_due--;
            blob = gw_blob_ref (self->env->pong);
        }
        else if ((!live && self->front == 0) || !(blob = s_dequeue (self)))
            break;
        else if (!live)
            self->front--;
        int rc = s_write (self, blob);
        gw_blob_release (&blob);
        if (rc != 0)
            return -1;
        if (lws_partial_buffered (self->wsi))
            break;      /* lws asked for WRITEABLE already */
    }
    if (self->pongs_due || (live ? gw_queue_count (self->queue) : self->front))
        lws_callback_on_writable (self->wsi);
    else
        gw_queue_compact (self->queue);
    return 0;
}

/* --- broker side ----------------------------------------------------------- */

void
gw_session_on_sync (gw_session_t *self)
{
    if (self->close_code)
        return;
    if (self->state == GW_SYNC_WAIT)
        s_request_resume (self);
    else if (self->state == GW_LIVE && self->gap) {
        /* The link is back: ask for what this client may have missed while
         * it was down, from its last offset, holding live events as for a
         * first resume. Frames already queued still go first. */
        self->gap = false;
        self->silent = true;
        self->has_position = true;
        self->resume_epoch = gw_user_epoch (self->user);
        self->resume_offset = self->last_offset;
        self->front = (uint32_t) gw_queue_count (self->queue);
        s_request_resume (self);
    }
}

/* Keeps the first `front` queued frames, drops the rest (counted for why). */
static void
s_drop_held (gw_session_t *self, gw_drop_t why)
{
    gw_queue_t *held = self->queue;
    self->queue = NULL;
    self->env->metrics->queue_bytes -= gw_queue_bytes (held);
    for (uint32_t i = 0; i < self->front; i++) {
        gw_blob_t *blob = gw_queue_pop (held);
        if (blob && s_enqueue (self, &blob, blob->replay) != 0) {
            gw_blob_release (&blob);
            self->env->metrics->events_dropped_total[GW_DROP_NO_MEMORY]++;
        }
    }
    self->env->metrics->events_dropped_total[why] += gw_queue_count (held);
    gw_queue_destroy (&held);
    self->front = (uint32_t) gw_queue_count (self->queue);
}

void
gw_session_on_link_lost (gw_session_t *self)
{
    if (self->close_code)
        return;
    if (self->state == GW_LIVE) {
        self->gap = true;
        s_timer (self, GW_RETRY_USEC);
    }
    else if (self->state == GW_RESUME_WAIT) {
        /* what it held may have a hole now: wait for the new sync */
        s_drop_held (self, GW_DROP_LINK_LOST);
        self->rid = 0;
        self->state = GW_SYNC_WAIT;
        s_timer (self, GW_RETRY_USEC);
    }
}

/* Queues a frame or, past the bound, closes with 1013. Takes *blob_p. */
static int
s_push_frame (gw_session_t *self, gw_blob_t **blob_p, bool replay)
{
    if (s_enqueue (self, blob_p, replay) == 0)
        return 0;
    gw_blob_release (blob_p);
    self->env->metrics->events_dropped_total[GW_DROP_SLOW_CONSUMER]++;
    gw_session_close (self, 1013);
    return -1;
}

static int
s_push (gw_session_t *self, gw_blob_t **blob_p)
{
    return s_push_frame (self, blob_p, false);
}

/* Builds a welcome frame into a blob. NULL on out of memory. */
static gw_blob_t *
s_welcome (gw_session_t *self, uint64_t epoch, uint64_t offset, bool recovered)
{
    size_t len;
    const char *name = gw_user_name (self->user, &len);
    hp_buf_t *buf = &self->env->scratch;
    hp_buf_reset (buf);
    if (hp_frame_welcome (buf, name, len, epoch, offset, recovered) != 0)
        return NULL;
    return gw_blob_new (buf->data, buf->len, 0);
}

void
gw_session_on_event (gw_session_t *self, gw_blob_t *event)
{
    if (self->close_code)
        return;
    if (self->state == GW_LIVE) {
        if (event->offset <= self->last_offset) {
            self->env->metrics->events_dropped_total[GW_DROP_DUPLICATE]++;
            return;
        }
        if (!self->pongs_due && !self->peer_code && gw_queue_count (self->queue) == 0
        &&  !lws_partial_buffered (self->wsi)) {
            /* Nothing ahead of it: write now rather than queue and wait
             * for WRITEABLE (a poll round trip and four epoll_ctl calls
             * per frame). If the socket is full, lws holds this one frame
             * and later ones queue here, under the bound, as before. */
            self->last_offset = event->offset;
            if (s_write (self, event) != 0)
                gw_session_close (self, 1006);
            return;
        }
        gw_blob_t *ref = gw_blob_ref (event);
        if (s_push (self, &ref) == 0) {
            self->last_offset = event->offset;
            lws_callback_on_writable (self->wsi);
        }
    }
    else if (self->state == GW_RESUME_WAIT) {
        /* held until the reply says where the replay ends */
        gw_blob_t *ref = gw_blob_ref (event);
        s_push (self, &ref);
    }
    /* before the sync the resume reply will cover it */
}

void
gw_session_on_epoch_change (gw_session_t *self, uint64_t epoch, uint64_t offset)
{
    if (self->close_code)
        return;
    /* a welcomed client filling a gap must hear of the new epoch: its
     * reply (old epoch asked) is not recovered and brings a welcome */
    self->silent = false;
    self->gap = false;
    if (self->state == GW_RESUME_WAIT) {
        /* the pending reply (if any) speaks of the old broker: ask again */
        s_drop_held (self, GW_DROP_EPOCH_CHANGE);
        s_request_resume (self);
        return;
    }
    if (self->state != GW_LIVE)
        return;
    gw_blob_t *welcome = s_welcome (self, epoch, offset, false);
    if (!welcome) {
        gw_session_close (self, 1011);
        return;
    }
    if (s_push (self, &welcome) == 0) {
        self->last_offset = offset;
        self->env->metrics->resumes_total[0]++;
        lws_callback_on_writable (self->wsi);
    }
}

uint64_t
gw_session_rid (const gw_session_t *self)
{
    return self->state == GW_RESUME_WAIT && !self->close_code ? self->rid : 0;
}

void
gw_session_on_resume_reply (gw_session_t *self, const hp_resume_reply_t *reply)
{
    if (self->close_code || self->state != GW_RESUME_WAIT || reply->rid != self->rid)
        return;
    gw_metrics_t *metrics = self->env->metrics;
    lws_set_timer_usecs (self->wsi, LWS_SET_TIMER_USEC_CANCEL);
    self->rid = 0;
    self->state = GW_LIVE;
    metrics->resumes_total[reply->recovered ? 1 : 0]++;
    /* a gap fill the history covered needs no new welcome */
    bool fill = self->silent && reply->recovered && reply->epoch == self->resume_epoch;
    self->silent = false;
    uint32_t front = self->front;
    self->front = 0;

    /* The replay starts after the client's position when it names this
     * broker's epoch; otherwise the client starts over at the latest. */
    uint64_t last = reply->offset;
    if (self->has_position && reply->epoch == self->resume_epoch
    &&  self->resume_offset < reply->offset)
        last = self->resume_offset;

    /* welcome, then the replay, then what arrived live meanwhile, each
     * strictly after the previous: rebuild the queue in that order */
    gw_queue_t *held = self->queue;
    self->queue = NULL;
    metrics->queue_bytes -= gw_queue_bytes (held);
    int rc = 0;
    gw_blob_t *blob;
    for (uint32_t i = 0; rc == 0 && i < front && (blob = gw_queue_pop (held)); i++)
        rc = s_push_frame (self, &blob, blob->replay);   /* accepted before the gap */
    if (rc == 0 && !fill) {
        blob = s_welcome (self, reply->epoch, reply->offset, reply->recovered);
        rc = blob ? s_push (self, &blob) : -1;
    }
    for (size_t i = 0; rc == 0 && i < reply->event_count; i++) {
        uint64_t offset;
        hp_str_t json;
        if (hp_control_resume_reply_event (reply, i, &offset, &json) != 0) {
            metrics->events_dropped_total[GW_DROP_MALFORMED]++;
            continue;
        }
        if (offset <= last)
            continue;
        blob = gw_blob_new (json.ptr, json.len, offset);
        rc = blob ? s_push_frame (self, &blob, true) : -1;
        if (rc == 0)
            last = offset;
    }
    while (rc == 0 && (blob = gw_queue_pop (held))) {
        if (blob->offset <= last) {
            metrics->events_dropped_total[GW_DROP_DUPLICATE]++;
            gw_blob_release (&blob);
            continue;
        }
        uint64_t offset = blob->offset;
        if ((rc = s_push (self, &blob)) == 0)
            last = offset;
    }
    if (rc != 0) {
        metrics->events_dropped_total[GW_DROP_SLOW_CONSUMER] += gw_queue_count (held);
        gw_queue_destroy (&held);
        gw_session_close (self, self->close_code ? self->close_code : 1011);
        return;
    }
    gw_queue_destroy (&held);
    self->last_offset = last;
    lws_callback_on_writable (self->wsi);
}
