/* upgrade.h -- the checks a WebSocket upgrade passes before it becomes a session. */
#ifndef HERALD_GW_UPGRADE_H
#define HERALD_GW_UPGRADE_H

#include <stdbool.h>

#include "config.h"
#include "metrics.h"
#include "peers.h"

struct lws;

/* Makes room in a full --max-unauthenticated pool (closes its oldest
 * connection); true when it did. */
typedef bool (gw_upgrade_evict_fn) (void *arg);

/* Decides an upgrade request in FILTER_PROTOCOL_CONNECTION: path /ws,
 * not shutting down, Sec-WebSocket-Version 13 (426 otherwise, with
 * Sec-WebSocket-Version: 13), Origin in --allowed-origins (403), then the
 * bounds: --max-connections, --max-connections-per-ip (503), and last
 * --max-unauthenticated: when that pool is full, evict (if set) makes room
 * and the upgrade goes through; 503 only when it cannot. Returns 0 to let
 * it through; otherwise the HTTP answer has been written, the refusal
 * counted, and the callback returns -1. */
int gw_upgrade_check (struct lws *wsi, const gw_config_t *config, gw_metrics_t *metrics,
                      gw_peers_t *peers, bool shutting_down, bool ws_allowed,
                      gw_upgrade_evict_fn *evict, void *evict_arg);

/* The peer address of wsi into addr (at least sizeof (struct sockaddr_storage)).
 * Returns 0 or -1. */
int gw_upgrade_peer (struct lws *wsi, void *addr);

#endif
