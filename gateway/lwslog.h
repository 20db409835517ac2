/* lwslog.h -- the gateway's log lines, libwebsockets' included, through a rate limit. */
#ifndef HERALD_GW_LWSLOG_H
#define HERALD_GW_LWSLOG_H

#include "metrics.h"

/* At most this many of these lines a second reach stderr; the rest are counted in
 * herald_gateway_log_lines_suppressed_total and summed up in one line. */
#define GW_LOG_LINES_PER_SECOND 20

/* Routes lws's ERR and WARN lines through gw_log (NOTICE and below are
 * dropped: per-connection chatter). Call before creating the lws context. */
void gw_log_init (gw_metrics_t *metrics);

/* One line at level warn (proto/log.h), unless the limit is reached. */
void gw_log (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

#endif
