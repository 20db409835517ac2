/* failover.h -- a broker endpoint list "EP1,EP2" (a hot standby pair) and which one control requests use. */
#ifndef HERALD_GW_FAILOVER_H
#define HERALD_GW_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoints.h"

#define GW_FAILOVER_EPS    HP_ENDPOINTS_MAX
#define GW_FAILOVER_EP_MAX HP_ENDPOINT_MAX
/* A control endpoint that answers nothing for this long after a request is
 * left for the other one. */
#define GW_FAILOVER_TIMEOUT_MS 1000
/* A passive broker's refusal sends us back to the other endpoint, unless
 * that one went unanswered this recently (the passive is about to take
 * over: it needs the vote). */
#define GW_FAILOVER_STAY_MS 5000

typedef struct {
    char     ep[GW_FAILOVER_EPS][GW_FAILOVER_EP_MAX];
    int      count;              /* 1, or 2 for a pair (primary first) */
    int      at;                 /* the one control requests go to */
    uint64_t unanswered_ms;      /* first request since the last answer (0: none) */
    uint64_t timed_out_ms[GW_FAILOVER_EPS];
} gw_failover_t;

/* "EP" or "EP1,EP2". 0, or -1 (empty, more than two, too long). */
int gw_failover_parse (gw_failover_t *self, const char *list);

/* A request went out at now_ms. True when the current endpoint has been
 * silent for GW_FAILOVER_TIMEOUT_MS: the caller moves to the other
 * (gw_failover_switch). Never with one endpoint. */
bool gw_failover_sent (gw_failover_t *self, uint64_t now_ms);

/* An answer came. passive: it was a passive broker's refusal. True when
 * the caller should move to the other endpoint. */
bool gw_failover_answered (gw_failover_t *self, bool passive, uint64_t now_ms);

/* Moves to the other endpoint; returns its index. */
int gw_failover_switch (gw_failover_t *self, uint64_t now_ms, bool timed_out);

#endif
