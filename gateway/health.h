/* health.h -- whether the gateway has a live link to a broker: /healthz,
 * herald_gateway_broker_link_up and the link lost/back log lines.
 *
 * Live means: a message from the broker arrived within GW_HEALTH_SILENCE_MS
 * and no publish (XSUB) connection was lost since, leaving none. The broker publishes a tick on the multicast topic
 * at least every second (PROTOCOL.md, kind T) even when idle, so a broker
 * that is stopped (SIGSTOP), wedged or cut off without a TCP reset is
 * noticed within that bound too. Pure state, no I/O: upstream.c feeds it. */
#ifndef HERALD_GW_HEALTH_H
#define HERALD_GW_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Three missed idle ticks. */
#define GW_HEALTH_SILENCE_MS 3000

typedef enum {
    GW_HEALTH_UP,           /* linked, and the broker spoke within the bound */
    GW_HEALTH_NO_LINK,      /* no publish connection with a completed handshake */
    GW_HEALTH_WAITING,      /* connected, nothing received yet */
    GW_HEALTH_SILENT        /* connected, nothing received for the bound */
} gw_health_state_t;

typedef struct {
    int      links_up;      /* XSUB connections whose handshake succeeded */
    bool     heard;         /* anything received since the last link was lost */
    uint64_t heard_ms;      /* when (loop milliseconds) */
    bool     epoch_known;
    uint64_t epoch;         /* the broker epoch last seen */
} gw_health_t;

/* A handshake succeeded (up) or a connection went away (down). */
void gw_health_link (gw_health_t *self, bool up);

/* A broker message of epoch arrived at now_ms. Returns true when it names
 * another epoch than the one seen before (the broker restarted without
 * --data-dir, or a pair's backup took over a new epoch); *was gets the old. */
bool gw_health_heard (gw_health_t *self, uint64_t now_ms, uint64_t epoch, uint64_t *was);

gw_health_state_t gw_health_state (const gw_health_t *self, uint64_t now_ms);

/* Why the link is not live ("not connected to EP", ...: one line for
 * /healthz and the log; "" when it is live), naming endpoints (the --broker text). Returns the state. */
gw_health_state_t gw_health_reason (const gw_health_t *self, uint64_t now_ms,
                                    const char *endpoints, char *buf, size_t cap);

#endif
