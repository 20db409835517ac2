/* delivery.c -- a connection's output: the bounded queue, the write path, pongs, the close. */
#include "delivery.h"

#include <time.h>

#include <libwebsockets.h>

/* Frames one WRITEABLE callback writes at most before yielding. */
#define GW_WRITES_PER_WRITEABLE 32

void
gw_delivery_init (gw_delivery_t *self, gw_session_env_t *env, struct lws *wsi)
{
    *self = (gw_delivery_t) { .wsi = wsi, .env = env };
}

/* Frees the whole queue, counting what it held as dropped for `why`. */
static void
s_drop_queue (gw_delivery_t *self, gw_drop_t why)
{
    if (!self->queue)
        return;
    self->env->metrics->events_dropped_total[why] += gw_queue_count (self->queue);
    self->env->metrics->queue_bytes -= gw_queue_bytes (self->queue);
    gw_queue_destroy (&self->queue);
}

void
gw_delivery_fini (gw_delivery_t *self)
{
    s_drop_queue (self, GW_DROP_CLOSED);
}

/* lws on a foreign libuv loop re-arms its timer wheel only after servicing
 * one of its own descriptors, so a timer set from our ZeroMQ or signal
 * callbacks would sleep until unrelated traffic; lws_cancel_service wakes
 * lws at once (a pipe write). */
void
gw_delivery_timer (gw_delivery_t *self, int64_t usec)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (usec < 1)
        usec = 1;
    if (self->timer_at && self->timer_at <= now + usec)
        return;     /* fires first anyway; whoever is due then re-arms */
    self->timer_at = now + usec;
    lws_set_timer_usecs (self->wsi, (lws_usec_t) usec);
    lws_cancel_service (lws_get_context (self->wsi));
}

void
gw_delivery_timer_fired (gw_delivery_t *self)
{
    self->timer_at = 0;
}

int
gw_delivery_close_now (gw_delivery_t *self, int code)
{
    self->close_code = (uint16_t) code;
    /* 1006 is never sent: it marks a socket a write already failed on */
    if (code != 1006)
        lws_close_reason (self->wsi, (enum lws_close_status) code, NULL, 0);
    return -1;
}

void
gw_delivery_close (gw_delivery_t *self, int code)
{
    if (self->close_code)
        return;
    self->close_code = (uint16_t) code;
    s_drop_queue (self, code == 1013 ? GW_DROP_SLOW_CONSUMER : GW_DROP_CLOSED);
    /* lws 4.1 sends the close frame (and waits for its ack, at most 5 s,
     * then kills a peer that never reads) when a TIMER callback returns
     * -1; returning -1 from WRITEABLE would drop the socket without one */
    gw_delivery_timer (self, 1);
}

void
gw_delivery_on_peer_close (gw_delivery_t *self, int code)
{
    self->peer_code = (uint16_t) code;
}

void
gw_delivery_count_close (gw_delivery_t *self)
{
    int code = self->close_code ? self->close_code : self->peer_code ? self->peer_code : 1006;
    gw_metrics_count_close (self->env->metrics, code);
}

int
gw_delivery_push (gw_delivery_t *self, gw_blob_t **blob_p, bool replay)
{
    gw_metrics_t *metrics = self->env->metrics;
    if (self->close_code) {
        gw_blob_release (blob_p);
        return -1;
    }
    if (!self->queue && !(self->queue = gw_queue_new (self->env->config->max_queue_bytes))) {
        gw_blob_release (blob_p);
        metrics->events_dropped_total[GW_DROP_NO_MEMORY]++;
        gw_delivery_close (self, 1011);
        return -1;
    }
    uint32_t len = (*blob_p)->len;
    if ((replay ? gw_queue_push_replay (self->queue, blob_p)
                : gw_queue_push (self->queue, blob_p)) != 0) {
        gw_blob_release (blob_p);
        metrics->events_dropped_total[GW_DROP_SLOW_CONSUMER]++;
        gw_delivery_close (self, 1013);
        return -1;
    }
    metrics->queue_bytes += len;
    return 0;
}

/* Writes one frame. lws sends what the socket takes and keeps the rest
 * (at most this one frame, as callers check lws_partial_buffered first)
 * until the socket drains, asking for WRITEABLE itself. Returns 0, or -1
 * when the socket failed. */
static int
s_write (gw_delivery_t *self, gw_blob_t *blob)
{
    int n = lws_write (self->wsi, blob->payload, blob->len, LWS_WRITE_TEXT);
    if (n < 0 || (size_t) n < blob->len)
        return -1;
    gw_metrics_t *metrics = self->env->metrics;
    metrics->frames_out_total++;
    /* Latency of an event, the broker's accept to here (the socket took it,
     * or lws holds the rest of this one frame). The blob is shared by every
     * connection and carries the time decoded once from the header, so per
     * connection this costs one clock read (vDSO, ~40 ns measured on the
     * 2-core CI machine under load) and a bucket bump (1-4 compares for
     * sub-millisecond latencies, three adds): no allocation, no encoding,
     * a few percent of the lws_write it follows. */
    if (blob->at)
        hp_latency_observe (&metrics->delivery[blob->replay ? GW_DELIVERY_REPLAY
                                                            : GW_DELIVERY_LIVE],
                            blob->at, hp_latency_now_us ());
    return 0;
}

int
gw_delivery_live (gw_delivery_t *self, gw_blob_t *event)
{
    if (self->close_code)
        return -1;
    if (!self->pongs_due && !self->peer_code && gw_queue_count (self->queue) == 0
    &&  !lws_partial_buffered (self->wsi)) {
        /* Nothing ahead of it: write now rather than queue and wait for
         * WRITEABLE (a poll round trip and four epoll_ctl calls per frame).
         * If the socket is full, lws holds this one frame and later ones
         * queue here, under the bound, as before. */
        if (s_write (self, event) != 0)
            gw_delivery_close (self, 1006);
        return 0;
    }
    gw_blob_t *ref = gw_blob_ref (event);
    if (gw_delivery_push (self, &ref, false) != 0)
        return -1;
    lws_callback_on_writable (self->wsi);
    return 0;
}

void
gw_delivery_kick (gw_delivery_t *self)
{
    lws_callback_on_writable (self->wsi);
}

void
gw_delivery_pong (gw_delivery_t *self)
{
    if (self->pongs_due < UINT8_MAX)
        self->pongs_due++;
    if (self->welcomed)
        lws_callback_on_writable (self->wsi);
}

void
gw_delivery_set_welcomed (gw_delivery_t *self)
{
    self->welcomed = true;
}

static gw_blob_t *
s_dequeue (gw_delivery_t *self)
{
    gw_blob_t *blob = gw_queue_pop (self->queue);
    if (blob)
        self->env->metrics->queue_bytes -= blob->len;
    return blob;
}

int
gw_delivery_on_writeable (gw_delivery_t *self)
{
    /* before the welcome nothing is written (pongs wait for it) */
    if (self->close_code || !self->welcomed)
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
        else if (!(blob = s_dequeue (self)))
            break;
        int rc = s_write (self, blob);
        gw_blob_release (&blob);
        if (rc != 0)
            return -1;
        if (lws_partial_buffered (self->wsi))
            break;      /* lws asked for WRITEABLE already */
    }
    if (self->pongs_due || gw_queue_count (self->queue))
        lws_callback_on_writable (self->wsi);
    else
        gw_queue_compact (self->queue);
    return 0;
}
