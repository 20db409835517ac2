/* upstream.h -- the broker link: XSUB for stream topics, DEALER for control requests. */
#ifndef HERALD_GW_UPSTREAM_H
#define HERALD_GW_UPSTREAM_H

#include <uv.h>

#include "fanout.h"
#include "health.h"
#include "link.h"
#include "metrics.h"

typedef struct gw_upstream gw_upstream_t;

/* Connects an XSUB socket to sub_endpoint (the broker's XPUB) and a DEALER
 * to control_endpoint (the broker's ROUTER), both watched in loop. Broker
 * messages go down to fanout. With curve_cert and curve_server (certificate
 * files, proto/curve.h) both links are CURVE clients; NULL for neither.
 * NULL (logged) on failure. */
gw_upstream_t *gw_upstream_new (uv_loop_t *loop, const char *sub_endpoint,
                                const char *control_endpoint, const char *curve_cert,
                                const char *curve_server, gw_fanout_t *fanout,
                                gw_metrics_t *metrics);

/* Stops watching and closes the sockets; the loop can end after this. */
void gw_upstream_stop (gw_upstream_t *self);

/* Frees what is left once the loop has run the handle closes. Nulls *self_p. */
void gw_upstream_destroy (gw_upstream_t **self_p);

/* The requests towards the broker (subscriptions, resume), for the modules
 * below this one. Valid until destroy. */
const gw_link_t *gw_upstream_link (gw_upstream_t *self);

/* Whether the broker link is live (health.h); why gets the reason when not. */
gw_health_state_t gw_upstream_health (gw_upstream_t *self, char *why, size_t cap);

#endif
