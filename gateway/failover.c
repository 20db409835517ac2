/* failover.c -- a broker endpoint list "EP1,EP2" (a hot standby pair) and which one control requests use. */
#include "failover.h"

#include <string.h>

int
gw_failover_parse (gw_failover_t *self, const char *list)
{
    memset (self, 0, sizeof *self);
    const char *p = list;
    for (;;) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        if (len == 0 || len >= GW_FAILOVER_EP_MAX || self->count == GW_FAILOVER_EPS)
            return -1;
        memcpy (self->ep[self->count], p, len);
        self->ep[self->count][len] = '\0';
        self->count++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

bool
gw_failover_sent (gw_failover_t *self, uint64_t now_ms)
{
    if (self->count < 2)
        return false;
    if (!self->unanswered_ms) {
        self->unanswered_ms = now_ms ? now_ms : 1;
        return false;
    }
    return now_ms - self->unanswered_ms >= GW_FAILOVER_TIMEOUT_MS;
}

bool
gw_failover_answered (gw_failover_t *self, bool passive, uint64_t now_ms)
{
    self->unanswered_ms = 0;
    if (!passive || self->count < 2)
        return false;
    uint64_t other = self->timed_out_ms[1 - self->at];
    return !other || now_ms - other >= GW_FAILOVER_STAY_MS;
}

int
gw_failover_switch (gw_failover_t *self, uint64_t now_ms, bool timed_out)
{
    if (self->count < 2)
        return self->at;
    if (timed_out)
        self->timed_out_ms[self->at] = now_ms ? now_ms : 1;
    self->at = 1 - self->at;
    self->unanswered_ms = 0;
    return self->at;
}
