/* session.h -- one client connection: owns its input (client), output (delivery) and streams (subs). */
#ifndef HERALD_GW_SESSION_H
#define HERALD_GW_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "env.h"

struct lws;
typedef struct gw_session gw_session_t;

/* A session for a freshly upgraded connection; arms the auth timer. NULL on
 * out of memory. The wsi must outlive the session (destroy it in CLOSED). */
gw_session_t *gw_session_new (gw_session_env_t *env, struct lws *wsi);

/* Detaches from its streams, releases what it queued (counted as dropped),
 * counts the close and frees. Nulls *self_p. */
void gw_session_destroy (gw_session_t **self_p);

/* lws events, from the server's callback. Each returns 0, or -1 when the
 * callback must return -1 to close the connection (the close reason is set). */
int gw_session_on_receive (gw_session_t *self, const void *in, size_t len);
int gw_session_on_writeable (gw_session_t *self);
int gw_session_on_timer (gw_session_t *self);

/* The peer sent a close frame with this code. */
void gw_session_on_peer_close (gw_session_t *self, int code);

/* Closes from outside an lws callback of this connection: frees the queue
 * now, sends the close frame with code at the next chance, and has lws kill
 * the socket if that chance does not come within two seconds. */
void gw_session_close (gw_session_t *self, int code);

/* True once the connection's auth frame was accepted (for the server's
 * count of unauthenticated connections). */
bool gw_session_authed (const gw_session_t *self);

#endif
