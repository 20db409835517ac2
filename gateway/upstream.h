/* upstream.h -- the broker link: SUB for user topics, DEALER for resume requests. */
#ifndef HERALD_GW_UPSTREAM_H
#define HERALD_GW_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "fanout.h"
#include "metrics.h"

typedef struct gw_upstream gw_upstream_t;

/* Connects a SUB socket to sub_endpoint (the broker's XPUB) and a DEALER to
 * control_endpoint (the broker's ROUTER), both watched in loop. Broker
 * messages go to fanout. NULL (logged) on failure. */
gw_upstream_t *gw_upstream_new (uv_loop_t *loop, const char *sub_endpoint,
                                const char *control_endpoint, gw_fanout_t *fanout,
                                gw_metrics_t *metrics);

/* Stops watching and closes the sockets; the loop can end after this. */
void gw_upstream_stop (gw_upstream_t *self);

/* Frees what is left once the loop has run the handle closes. Nulls *self_p. */
void gw_upstream_destroy (gw_upstream_t **self_p);

/* Adds / removes one subscription to a user's topic. Return 0 or -1. */
int gw_upstream_subscribe (gw_upstream_t *self, const char *user, size_t len);
int gw_upstream_unsubscribe (gw_upstream_t *self, const char *user, size_t len);

/* A request id no request has used yet (never 0). */
uint64_t gw_upstream_next_rid (gw_upstream_t *self);

/* Sends {"op":"resume",...}. Returns 0, or -1 when it could not be queued
 * (the caller retries on its timer). */
int gw_upstream_send_resume (gw_upstream_t *self, uint64_t rid, const char *user,
                             size_t len, bool has_position, uint64_t epoch,
                             uint64_t offset);

#endif
