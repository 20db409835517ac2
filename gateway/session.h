/* session.h -- one client connection: auth, sync/resume handshake, outgoing queue. */
#ifndef HERALD_GW_SESSION_H
#define HERALD_GW_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "buf.h"
#include "config.h"
#include "control.h"
#include "fanout.h"
#include "metrics.h"

struct lws;
typedef struct gw_upstream gw_upstream_t;

/* What every session shares: settings, counters, the map and the broker
 * link, plus a reusable scratch buffer for welcome frames. Owned by the
 * server; sessions only point at it. */
typedef struct {
    const gw_config_t *config;
    gw_metrics_t *metrics;
    gw_fanout_t *fanout;
    gw_upstream_t *upstream;
    gw_blob_t *pong;          /* the one {"type":"pong"} frame, shared */
    hp_buf_t scratch;
} gw_session_env_t;

/* Client frames above this many bytes close the connection with 1009. */
#define GW_CLIENT_MESSAGE_MAX 8192
/* More client frames than this in one second after auth close with 1008. */
#define GW_CLIENT_RATE_MAX 20

/* A session for a freshly upgraded connection; arms the auth timer. NULL on
 * out of memory. The wsi must outlive the session (destroy it in CLOSED). */
gw_session_t *gw_session_new (gw_session_env_t *env, struct lws *wsi);

/* Detaches from the fanout map, releases the queue (counted as dropped),
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

/* From the fanout map. */
void gw_session_on_sync (gw_session_t *self);
void gw_session_on_link_lost (gw_session_t *self);
void gw_session_on_event (gw_session_t *self, gw_blob_t *event);
void gw_session_on_epoch_change (gw_session_t *self, uint64_t epoch, uint64_t offset);
uint64_t gw_session_rid (const gw_session_t *self);
void gw_session_on_resume_reply (gw_session_t *self, const hp_resume_reply_t *reply);

#endif
