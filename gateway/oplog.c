/* oplog.c -- failed auths summed up for the operator, at most a line per 10 s (oplog.h). */
#include "oplog.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

int
gw_oplog_check (gw_oplog_t *self, uint64_t now_ms, bool force)
{
    if (!force && self->lines && now_ms - self->last_line_ms < GW_OPLOG_QUIET_S * 1000u)
        return 0;
    char text[512];
    size_t len = 0;
    uint64_t total = 0;
    for (int i = 0; i < GW_AUTHFAIL_LABELS; i++) {
        uint64_t gained = self->metrics->auth_failures_total[i] - self->seen[i];
        if (!gained)
            continue;
        total += gained;
        int n = snprintf (text + len, sizeof text - len, "%s%s %llu", len ? ", " : "",
                          gw_metrics_authfail_name ((gw_authfail_t) i), (unsigned long long) gained);
        if (n > 0 && (size_t) n < sizeof text - len)
            len += (size_t) n;
    }
    if (!total)
        return 0;
    memcpy (self->seen, self->metrics->auth_failures_total, sizeof self->seen);
    if (self->lines)
        hp_warn ("%llu failed authentications in the last %llu s (%s)", (unsigned long long) total,
                 (unsigned long long) ((now_ms - self->last_line_ms + 500) / 1000), text);
    else
        hp_warn ("%llu failed authentications (%s); counted in "
                 "herald_gateway_auth_failures_total, summed up here at most every %d s",
                 (unsigned long long) total, text, GW_OPLOG_QUIET_S);
    self->last_line_ms = now_ms;
    self->lines++;
    return 1;
}

static void
s_on_timer (uv_timer_t *handle)
{
    gw_oplog_t *self = handle->data;
    gw_oplog_check (self, uv_now (handle->loop), false);
}

void
gw_oplog_start (gw_oplog_t *self, uv_loop_t *loop, const gw_metrics_t *metrics)
{
    memset (self, 0, sizeof *self);
    self->metrics = metrics;
    uv_timer_init (loop, &self->timer);
    self->timer.data = self;
    uv_timer_start (&self->timer, s_on_timer, 1000, 1000);
}

void
gw_oplog_stop (gw_oplog_t *self)
{
    if (self->timer.loop && !uv_is_closing ((uv_handle_t *) &self->timer))
        uv_close ((uv_handle_t *) &self->timer, NULL);
}
