/* health.c -- is the broker link live? (health.h) */
#include "health.h"

#include <stdio.h>

void
gw_health_link (gw_health_t *self, bool up)
{
    if (up)
        self->links_up++;
    else {
        if (self->links_up > 0)
            self->links_up--;
        if (self->links_up == 0)
            self->heard = false;    /* gone: live again once the broker speaks */
    }
}

bool
gw_health_heard (gw_health_t *self, uint64_t now_ms, uint64_t epoch, uint64_t *was)
{
    self->heard = true;
    self->heard_ms = now_ms;
    bool changed = self->epoch_known && self->epoch != epoch;
    if (was)
        *was = self->epoch;
    self->epoch = epoch;
    self->epoch_known = true;
    return changed;
}

gw_health_state_t
gw_health_state (const gw_health_t *self, uint64_t now_ms)
{
    /* a message is proof of a link even when its handshake event came
     * before the monitor was attached (libzmq does not replay it) */
    if (!self->heard)
        return self->links_up > 0 ? GW_HEALTH_WAITING : GW_HEALTH_NO_LINK;
    if (now_ms > self->heard_ms && now_ms - self->heard_ms > GW_HEALTH_SILENCE_MS)
        return GW_HEALTH_SILENT;
    return GW_HEALTH_UP;
}

gw_health_state_t
gw_health_reason (const gw_health_t *self, uint64_t now_ms, const char *endpoints,
                  char *buf, size_t cap)
{
    gw_health_state_t state = gw_health_state (self, now_ms);
    switch (state) {
    case GW_HEALTH_UP:
        snprintf (buf, cap, "%s", "");
        break;
    case GW_HEALTH_NO_LINK:
        snprintf (buf, cap, "not connected to %s", endpoints);
        break;
    case GW_HEALTH_WAITING:
        snprintf (buf, cap, "connected to %s, nothing received yet", endpoints);
        break;
    case GW_HEALTH_SILENT:
        snprintf (buf, cap, "nothing from %s for %.1f s (it ticks every second)",
                  endpoints, (double) (now_ms - self->heard_ms) / 1000.0);
        break;
    }
    return state;
}
