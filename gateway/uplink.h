/* uplink.h -- the gateway's batches of browser messages to the broker: a DEALER of their own on the control socket. */
#ifndef HERALD_GW_UPLINK_H
#define HERALD_GW_UPLINK_H

#include <stddef.h>

#include <uv.h>

#include "curve.h"
#include "metrics.h"

typedef struct gw_uplink gw_uplink_t;

/* A DEALER in zctx connected to endpoint (the control endpoint the
 * gateway's requests use), a CURVE client when curve is given (its keys
 * are copied), flushed from loop. NULL (logged) on failure. */
gw_uplink_t *gw_uplink_new (uv_loop_t *loop, void *zctx, const char *endpoint,
                            const hp_curve_t *curve, gw_metrics_t *metrics);

/* Adds one record (proto/upmsg.h) to the batch, which goes to the broker
 * when this loop turn ends, or at once when the record would take it past
 * its bound. Returns 0; -1 when it cannot be taken (out of memory), counted
 * as dropped. A batch the socket refuses (no completed connection, its
 * queue full) is dropped whole and its records counted. */
int gw_uplink_add (gw_uplink_t *self, const char *record, size_t len);

/* The gateway's control requests moved to another broker of a pair: so do the batches. */
void gw_uplink_switch (gw_uplink_t *self, const char *from, const char *to);

/* Sends what is batched, closes the socket and the loop handle (run the
 * loop after for its close); destroy frees the rest and nulls *self_p. */
void gw_uplink_stop (gw_uplink_t *self);
void gw_uplink_destroy (gw_uplink_t **self_p);

#endif
