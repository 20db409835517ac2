/* oplog.h -- the gateway's periodic lines for the operator: failed auths.
 *
 * A browser can fail to authenticate as often as it likes, so failures are
 * not logged one by one: once a second at most a line sums up what the
 * counters (herald_gateway_auth_failures_total{reason}) gained since the
 * last line, and after a line the next waits GW_OPLOG_QUIET_S seconds. */
#ifndef HERALD_GW_OPLOG_H
#define HERALD_GW_OPLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "metrics.h"

#define GW_OPLOG_QUIET_S 10

typedef struct {
    uv_timer_t timer;
    const gw_metrics_t *metrics;
    uint64_t seen[GW_AUTHFAIL_LABELS];  /* the counters at the last line */
    uint64_t last_line_ms;
    int      lines;
} gw_oplog_t;

/* Starts the once-a-second check in loop. */
void gw_oplog_start (gw_oplog_t *self, uv_loop_t *loop, const gw_metrics_t *metrics);

/* Stops it (the timer is closed through the loop). */
void gw_oplog_stop (gw_oplog_t *self);

/* The check itself, at now_ms: logs a line when due (with force, whenever
 * there is something to tell: at shutdown). Returns 1 if it did. */
int gw_oplog_check (gw_oplog_t *self, uint64_t now_ms, bool force);

#endif
