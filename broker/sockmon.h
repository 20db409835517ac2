/* sockmon.h -- what the broker learns from its bound ZeroMQ sockets' monitors: failed accepts, failed handshakes. */
#ifndef HERALD_BROKER_SOCKMON_H
#define HERALD_BROKER_SOCKMON_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

#include "metrics.h"
#include "zap.h"

typedef struct hb_sockmon hb_sockmon_t;

/* One reserve descriptor is opened here and kept (see sockmon.c).
 * NULL (logged) on failure. */
hb_sockmon_t *hb_sockmon_new (void *ctx, hb_metrics_t *metrics);
void hb_sockmon_destroy (hb_sockmon_t **self_p);

/* Monitors sock as broker socket `which`: call it before zmq_bind (the
 * monitor learns the listener from the bind). Failed handshakes are
 * reported to zap (hb_zap_handshake_failed) when zap is set. Watching the
 * same `which` again (a re-created socket) replaces the old monitor.
 * 0 or -1. */
int hb_sockmon_watch (hb_sockmon_t *self, void *sock, hb_zap_socket_t which, hb_zap_t *zap);

/* Fills up to max poll items for the caller's zmq_poll; returns how many. */
size_t hb_sockmon_pollitems (hb_sockmon_t *self, zmq_pollitem_t *items, size_t max);

/* Handles what the items (as filled above, after zmq_poll) say is waiting,
 * a bounded batch per monitor. Returns true when a batch was full. */
bool hb_sockmon_handle (hb_sockmon_t *self, const zmq_pollitem_t *items);

#endif
