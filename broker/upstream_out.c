/* upstream_out.c -- messages from browsers, pushed to the backend's consumers on --upstream.
 *
 * Gateways send records in batches on the control socket (control.c hands
 * each one here); each is checked (proto/upmsg.h) and pushed as the bytes
 * the gateway packed: one copy into a ZeroMQ message, no re-encoding.
 * What the socket will not take now is dropped and counted, exactly as
 * the undelivered stream does: a missing or slow consumer never slows
 * routing and never makes the broker hold more than the PUSH socket's
 * high-water mark (main.c: S_UPSTREAM_HWM records of at most HP_UPMSG_MAX
 * bytes). At most once: a record is never retried. */
#include "upstream_out.h"
#include "ratelog.h"
#include "upmsg.h"

#include <stdlib.h>
#include <zmq.h>

static const char *s_reason_names[HB_UPSTREAM_REASONS] = {
    "no_consumer", "invalid", "forbidden",
};

struct hb_upstream_out {
    void *push;
    hb_metrics_t *metrics;
    hp_upmsg_checker_t *checker;
    hb_ratelog_t log;
};

_Static_assert (HB_UPSTREAM_REASONS == HB_UPSTREAM_DROP_REASONS, "metrics.h and upstream_out.h agree");

const char *
hb_upstream_reason_name (hb_upstream_reason_t reason)
{
    return reason < HB_UPSTREAM_REASONS ? s_reason_names[reason] : "other";
}

hb_upstream_out_t *
hb_upstream_out_new (void *push, hb_metrics_t *metrics)
{
    hb_upstream_out_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->push = push;
    self->metrics = metrics;
    if (!(self->checker = hp_upmsg_checker_new ())) {
        free (self);
        return NULL;
    }
    return self;
}

void
hb_upstream_out_set_push (hb_upstream_out_t *self, void *push)
{
    self->push = push;
}

void
hb_upstream_out_destroy (hb_upstream_out_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hp_upmsg_checker_destroy (&(*self_p)->checker);
    free (*self_p);
    *self_p = NULL;
}

void
hb_upstream_out_push (hb_upstream_out_t *self, const char *record, size_t len)
{
    self->metrics->upstream_received++;
    const char *why = "not a bin";
    if (!record || hp_upmsg_check (self->checker, record, len, &why) != 0) {
        self->metrics->upstream_dropped[HB_UPSTREAM_INVALID]++;
        hb_ratelog (&self->log, 0, "dropped a record from a gateway: %s", why);
        return;
    }
    if (!self->push || zmq_send (self->push, record, len, ZMQ_DONTWAIT) < 0) {
        self->metrics->upstream_dropped[HB_UPSTREAM_NO_CONSUMER]++;
        return;
    }
    self->metrics->upstream_pushed++;
}

void
hb_upstream_out_refuse (hb_upstream_out_t *self, size_t count, hb_upstream_reason_t reason)
{
    self->metrics->upstream_received += count;
    self->metrics->upstream_dropped[reason < HB_UPSTREAM_REASONS ? reason : 0] += count;
}
