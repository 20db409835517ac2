/* server.h -- the libwebsockets side: /ws sessions and the plain HTTP endpoints. */
#ifndef HERALD_GW_SERVER_H
#define HERALD_GW_SERVER_H

#include <uv.h>

#include "config.h"
#include "fanout.h"
#include "metrics.h"
#include "upstream.h"

typedef struct gw_server gw_server_t;

/* Listens on config's address inside loop (lws joins it as a foreign loop).
 * NULL (logged) on failure, e.g. the port is taken. */
gw_server_t *gw_server_new (uv_loop_t *loop, const gw_config_t *config, gw_metrics_t *metrics,
                            gw_fanout_t *fanout, gw_upstream_t *upstream);

/* Refuses new connections, closes every client with 1001, and once they are
 * gone (or after a short deadline) destroys the lws context and calls
 * done(arg) from the loop. Only the first call counts. */
void gw_server_shutdown (gw_server_t *self, void (*done) (void *arg), void *arg);

/* With --tls-cert/--tls-key: loads both files into a scratch SSL_CTX, and
 * if they load and match, into the listener's, so new connections get the
 * new certificate and open ones keep theirs. Logged and counted in
 * herald_gateway_tls_reloads_total{result}. Nothing without TLS. */
void gw_server_reload_tls (gw_server_t *self);

/* Frees the server after the loop has finished. Nulls *self_p. */
void gw_server_destroy (gw_server_t **self_p);

#endif
