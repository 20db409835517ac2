/* lwslog.c -- the gateway's log lines, libwebsockets' included, through a rate limit.
 *
 * A flood (descriptors exhausted, thousands of bad handshakes a second) must
 * not turn into a flood of log lines: the issue measured a million lines a
 * second from lws's accept loop. One process-wide budget per second. */
#include "lwslog.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

static gw_metrics_t *s_metrics;
static time_t s_second;
static unsigned s_lines;            /* printed in s_second */
static unsigned long long s_held;   /* suppressed since the last summary */

/* True when one more line may go out now; prints the summary of what the
 * last busy second suppressed first. */
static int
s_admit (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    if (ts.tv_sec != s_second) {
        s_second = ts.tv_sec;
        s_lines = 0;
        if (s_held) {
            hp_warn ("%llu log lines suppressed (over %d a second)", s_held,
                     GW_LOG_LINES_PER_SECOND);
            s_held = 0;
            s_lines = 1;
        }
    }
    if (s_lines >= GW_LOG_LINES_PER_SECOND) {
        s_held++;
        if (s_metrics)
            s_metrics->log_lines_suppressed_total++;
        return 0;
    }
    s_lines++;
    return 1;
}

void
gw_log (const char *fmt, ...)
{
    if (!hp_log_enabled (HP_LOG_WARN) || !s_admit ())
        return;
    char line[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    hp_warn ("%s", line);
}

static void
s_emit (int level, const char *line)
{
    hp_log_level_t ours = level & LLL_ERR ? HP_LOG_ERROR : HP_LOG_WARN;
    if (!hp_log_enabled (ours))
        return;
    /* our refusals write their own answer and are counted by reason */
    if (strstr (line, "User code denied connection"))
        return;
    if (!s_admit ())
        return;
    size_t len = strlen (line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    hp_log (ours, "lws: %.*s", (int) len, line);
}

void
gw_log_init (gw_metrics_t *metrics)
{
    s_metrics = metrics;
    lws_set_log_level (LLL_ERR | LLL_WARN, s_emit);
}
