/* ratelog.c -- log lines about bad input, at most one a second per reason. */
#include "ratelog.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

uint64_t
hb_now_sec (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t) ts.tv_sec;
}

void
hb_ratelog (hb_ratelog_t *self, unsigned reason, const char *fmt, ...)
{
    if (reason >= HB_RATELOG_REASONS)
        reason = HB_RATELOG_REASONS - 1;
    /* +1 so second 0 of the clock is distinguishable from "never logged" */
    uint64_t now = hb_now_sec () + 1;
    if (!hp_log_enabled (HP_LOG_WARN))
        return;
    if (self->last_sec[reason] == now) {
        self->suppressed[reason]++;
        return;
    }
    self->last_sec[reason] = now;
    char line[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    if (self->suppressed[reason])
        hp_warn ("%s (%llu similar lines suppressed)", line,
                 (unsigned long long) self->suppressed[reason]);
    else
        hp_warn ("%s", line);
    self->suppressed[reason] = 0;
}
