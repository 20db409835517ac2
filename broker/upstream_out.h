/* upstream_out.h -- messages from browsers, pushed to the backend's consumers on --upstream. */
#ifndef HERALD_BROKER_UPSTREAM_OUT_H
#define HERALD_BROKER_UPSTREAM_OUT_H

#include <stddef.h>

#include "metrics.h"

/* Why a record from a gateway was not pushed: metrics' upstream_dropped. */
typedef enum {
    HB_UPSTREAM_NO_CONSUMER = 0,    /* no consumer connected, or its queue full */
    HB_UPSTREAM_INVALID,            /* not a well-formed record (proto/upmsg.h) */
    HB_UPSTREAM_FORBIDDEN,          /* in a batch from a peer without the gateway role */
    HB_UPSTREAM_REASONS
} hb_upstream_reason_t;

const char *hb_upstream_reason_name (hb_upstream_reason_t reason);

typedef struct hb_upstream_out hb_upstream_out_t;

/* Uses (does not own) a bound PUSH socket; counts into metrics. NULL on
 * out of memory. */
hb_upstream_out_t *hb_upstream_out_new (void *push, hb_metrics_t *metrics);
/* The PUSH socket is now push (the broker re-created it); the caller owns both. */
void hb_upstream_out_set_push (hb_upstream_out_t *self, void *push);
void hb_upstream_out_destroy (hb_upstream_out_t **self_p);

/* One record from a gateway's batch: checked, then pushed as it is, never
 * blocking: with no consumer connected, or the consumer's queue full
 * (the socket's high-water mark), it is dropped and counted. */
void hb_upstream_out_push (hb_upstream_out_t *self, const char *record, size_t len);

/* count records refused without being read (reason FORBIDDEN). */
void hb_upstream_out_refuse (hb_upstream_out_t *self, size_t count, hb_upstream_reason_t reason);

#endif
