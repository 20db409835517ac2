/* uplink.c -- the gateway's batches of browser messages to the broker: a DEALER of their own on the control socket.
 *
 * Why the control socket, and why a socket of its own (PROTOCOL.md,
 * "Messages from the browser"): the broker's control ROUTER is the one
 * socket a gateway already reaches under its CURVE role, that follows a
 * pair's failover, and whose messages the broker checks per key
 * (revocation). A DEALER apart from the resume requests' keeps them out of
 * each other's way: the ROUTER reads its peers in turn, so a burst of
 * batches never stands in front of a resume, and this socket's bound
 * (GW_UPLINK_HWM, ZMQ_IMMEDIATE) drops batches, counted, instead of
 * filling the requests' queue. Nothing comes back: the broker answers a
 * batch only when it is passive (a pair), and those answers are left to
 * the receive high-water mark (a few messages) without being read.
 *
 * One batch per loop turn: every record taken while the loop handles
 * ready sockets goes out in one ZeroMQ message when the turn's polling is
 * done (a uv_check handle), so a thousand typing marks cost one send, not
 * a thousand, and none waits longer than the turn it arrived in. */
#include "uplink.h"
#include "log.h"
#include "upmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

/* A batch goes out once it holds this many bytes (or records): one record
 * may take it past, up to HP_UPMSG_MAX. */
#define GW_UPLINK_BATCH_BYTES (16 * 1024)
#define GW_UPLINK_BATCH_RECORDS 1024
/* Batches queued for the broker: with GW_UPLINK_BATCH_BYTES, ~16 MiB at most. */
#define GW_UPLINK_HWM 1000
#define GW_UPLINK_RCVHWM 8

struct gw_uplink {
    void *sock;
    uv_check_t check;
    bool check_open;
    bool armed;                 /* check started: a batch waits for the turn's end */
    hp_buf_t batch;             /* head, then each record as a bin */
    uint32_t count;
    gw_metrics_t *metrics;
};

static void s_on_check (uv_check_t *handle);

gw_uplink_t *
gw_uplink_new (uv_loop_t *loop, void *zctx, const char *endpoint, const hp_curve_t *curve,
               gw_metrics_t *metrics)
{
    gw_uplink_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->metrics = metrics;
    hp_buf_init (&self->batch, GW_UPLINK_BATCH_BYTES + HP_UPMSG_MAX + HP_UPMSG_BATCH_HEAD
                               + HP_UPMSG_BIN_HEAD);
    self->sock = zmq_socket (zctx, ZMQ_DEALER);
    int zero = 0, one = 1, hwm = GW_UPLINK_HWM, rcvhwm = GW_UPLINK_RCVHWM;
    if (!self->sock
    ||  zmq_setsockopt (self->sock, ZMQ_LINGER, &zero, sizeof zero) != 0
    ||  zmq_setsockopt (self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0
    ||  zmq_setsockopt (self->sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm) != 0
        /* queue only to a broker whose connection completed: with none,
         * a send fails at once (counted) instead of piling up */
    ||  zmq_setsockopt (self->sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0
    ||  (curve && hp_curve_apply_client (curve, self->sock) != 0)
    ||  zmq_connect (self->sock, endpoint) != 0) {
        hp_error ("cannot open the upstream link to %s: %s", endpoint, zmq_strerror (errno));
        gw_uplink_destroy (&self);
        return NULL;
    }
    uv_check_init (loop, &self->check);
    self->check.data = self;
    self->check_open = true;
    return self;
}

/* Sends the batch ([empty delimiter][batch]) and starts a new one. */
static void
s_flush (gw_uplink_t *self)
{
    if (self->count == 0)
        return;
    hp_upmsg_batch_head ((unsigned char *) self->batch.data, self->count);
    if (zmq_send (self->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0
    &&  zmq_send (self->sock, self->batch.data, self->batch.len, ZMQ_DONTWAIT) >= 0)
        self->metrics->upstream_batches_total++;
    else
        self->metrics->upstream_dropped_total += self->count;   /* no broker, or queue full */
    hp_buf_reset (&self->batch);
    self->count = 0;
}

static void
s_on_check (uv_check_t *handle)
{
    gw_uplink_t *self = handle->data;
    s_flush (self);
    uv_check_stop (&self->check);
    self->armed = false;
}

int
gw_uplink_add (gw_uplink_t *self, const char *record, size_t len)
{
    if (!self->sock || len > HP_UPMSG_MAX) {
        self->metrics->upstream_dropped_total++;
        return -1;
    }
    if (self->count > 0
    &&  (self->batch.len + HP_UPMSG_BIN_HEAD + len > GW_UPLINK_BATCH_BYTES
         || self->count >= GW_UPLINK_BATCH_RECORDS))
        s_flush (self);
    if (self->count == 0 && hp_buf_reserve (&self->batch, HP_UPMSG_BATCH_HEAD) == 0)
        self->batch.len = HP_UPMSG_BATCH_HEAD;      /* filled at the flush */
    unsigned char bin[HP_UPMSG_BIN_HEAD];
    hp_upmsg_bin_head (bin, (uint32_t) len);
    size_t was = self->batch.len;
    if (self->batch.len < HP_UPMSG_BATCH_HEAD
    ||  hp_buf_append (&self->batch, bin, sizeof bin) != 0
    ||  hp_buf_append (&self->batch, record, len) != 0) {
        self->batch.len = self->count ? was : 0;
        self->metrics->upstream_dropped_total++;
        return -1;
    }
    self->count++;
    if (!self->armed && self->check_open) {
        uv_check_start (&self->check, s_on_check);
        self->armed = true;
    }
    return 0;
}

void
gw_uplink_switch (gw_uplink_t *self, const char *from, const char *to)
{
    if (!self->sock)
        return;
    zmq_disconnect (self->sock, from);
    if (zmq_connect (self->sock, to) != 0)
        hp_error ("cannot connect the upstream link to %s: %s", to, zmq_strerror (errno));
}

void
gw_uplink_stop (gw_uplink_t *self)
{
    if (!self)
        return;
    if (self->sock) {
        s_flush (self);
        zmq_close (self->sock);
        self->sock = NULL;
    }
    if (self->check_open && !uv_is_closing ((uv_handle_t *) &self->check))
        uv_close ((uv_handle_t *) &self->check, NULL);
}

void
gw_uplink_destroy (gw_uplink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_uplink_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    hp_buf_free (&self->batch);
    free (self);
    *self_p = NULL;
}
