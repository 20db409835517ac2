/* peers.h -- open WebSocket connections per client address, for --max-connections-per-ip. */
#ifndef HERALD_GW_PEERS_H
#define HERALD_GW_PEERS_H

#include <stdbool.h>
#include <sys/socket.h>

typedef struct gw_peers gw_peers_t;
typedef struct gw_peer gw_peer_t;

/* NULL on out of memory. */
gw_peers_t *gw_peers_new (void);
void gw_peers_destroy (gw_peers_t **self_p);

/* Connections counted for this address (an IPv6 address counts by its
 * /64: one subscriber holds a whole prefix); 0 when it has none. */
unsigned gw_peers_count (gw_peers_t *self, const struct sockaddr *addr);

/* Counts one more connection for the address and returns its entry (to
 * release later). NULL on out of memory or an address family other than
 * IPv4/IPv6 (nothing counted then). */
gw_peer_t *gw_peers_hold (gw_peers_t *self, const struct sockaddr *addr);

/* Counts one less; the entry is freed at zero. */
void gw_peers_release (gw_peers_t *self, gw_peer_t *peer);

/* Entries held (addresses with at least one connection). */
unsigned gw_peers_size (const gw_peers_t *self);

#endif
