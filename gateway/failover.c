/* failover.c -- a broker endpoint list "EP1,EP2" (a hot standby pair) and which one control requests use. */
#include "failover.h"

#include <string.h>

int
gw_failover_parse (gw_failover_t *self, const char *list)
{
    memset (self, 0, sizeof *self);
    int count = hp_endpoints_parse (list, self->ep);
    if (count < 0)
        return -1;
    self->count = count;
    return 0;
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
