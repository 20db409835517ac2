/* client.h -- the browser's frames: collecting them, the flood limit, auth, ping, channels and sends. */
#ifndef HERALD_GW_CLIENT_H
#define HERALD_GW_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "chanset.h"
#include "channel_auth.h"
#include "delivery.h"
#include "ratelimit.h"
#include "sub.h"

/* Client frames above this many bytes close the connection with 1009. */
#define GW_CLIENT_MESSAGE_MAX 8192
/* More client frames than this in one second after auth close with 1008. */
#define GW_CLIENT_RATE_MAX 20

/* The input side of a connection, embedded in it; fields are client.c's.
 * Each frame type is parsed and answered here; what it asks for is done
 * through the connection's delivery (output) and subs (streams). */
typedef struct {
    char *rx;                   /* a client message arriving in pieces */
    uint32_t rx_len;
    uint32_t rate_second;       /* the second the rate counts count frames in */
    uint8_t rate_count;
    uint16_t channel_rate_count;    /* subscribe and unsubscribe frames, apart */
    bool authed;
    gw_ratelimit_t send_rate;   /* send frames: --upstream-rate, apart from both */
    /* Token expiry: at exp (+ leeway) the connection closes with 4002
     * unless a refresh moved exp later. An lws sorted-usec-list entry of
     * its own, since the connection's one lws timer serves the handshake. */
    lws_sorted_usec_list_t expiry;
    double exp;                 /* the current token's exp claim */
    gw_channel_claim_t *channels;   /* the current token's channels claim, or NULL */
    gw_delivery_t *out;         /* set at auth, for the expiry callback */
} gw_client_t;

void gw_client_init (gw_client_t *self);
/* Frees what the client holds and cancels its expiry timer. */
void gw_client_fini (gw_client_t *self);

/* True once the auth frame was accepted. */
static inline bool
gw_client_authed (const gw_client_t *self)
{
    return self->authed;
}

/* A piece of a client message (lws RECEIVE). Handles each complete message:
 * the first must be auth (then user starts following the token's user and
 * the expiry timer runs), later ones ping, refresh, subscribe or
 * unsubscribe (channels: the connection's set, made on the first
 * subscribe), or send (upsend.c checks it, the link takes it to the
 * broker). Returns 0, or -1 when the callback must return -1 to close (the
 * close reason is set on out). */
int gw_client_on_receive (gw_client_t *self, gw_delivery_t *out, gw_sub_t *user,
                          gw_chanset_t **channels, const void *in, size_t len);

/* No auth frame in time: counts it; returns -1 with 4008 set on out. */
int gw_client_on_auth_timeout (gw_client_t *self, gw_delivery_t *out);

#endif
