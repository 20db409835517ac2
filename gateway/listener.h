/* listener.h -- a listening socket the gateway accepts on itself, with descriptor headroom and accept back-off. */
#ifndef HERALD_GW_LISTENER_H
#define HERALD_GW_LISTENER_H

#include <uv.h>

#include "metrics.h"

struct lws_vhost;
typedef struct gw_listener gw_listener_t;

/* Descriptors kept free below the limit for ZeroMQ, libuv, logs: an accept
 * that would eat into them is closed at once and accepting pauses. */
#define GW_FD_RESERVE 32

/* Binds host:port (numeric IPv4 or IPv6) and hands every accepted
 * connection to vhost (lws_adopt_socket_vhost). fd_limit is the lowest
 * descriptor number that may not be handed to lws (its table size, or
 * RLIMIT_NOFILE). NULL (logged) when the address cannot be bound. */
gw_listener_t *gw_listener_new (uv_loop_t *loop, const char *host, int port,
                                struct lws_vhost *vhost, unsigned fd_limit, gw_metrics_t *metrics);

/* Stops accepting and closes the socket; the memory goes with the loop's
 * close callbacks. Nulls *self_p. */
void gw_listener_close (gw_listener_t **self_p);

#endif
