/* ratelimit.c -- a connection's budget for send frames: a token bucket, and a second one that refused sends drain.
 *
 * Why a second bucket and not "N refusals in a row": a client whose
 * typing marks come a little too fast (a burst of keys) is answered
 * "rate" and keeps its connection; only one that goes on far over the
 * rate -- a loop that ignores the answers -- is closed with 1008, the
 * contract's flooding code. Floats: fractions of a token accumulate
 * between frames; 24 bits of mantissa are exact for any burst we allow. */
#include "ratelimit.h"

gw_rate_result_t
gw_ratelimit_take (gw_ratelimit_t *self, double rate, unsigned burst, uint32_t now_ms)
{
    double full = (double) burst;
    if (self->last_ms == 0) {     /* kept non-zero once started */
        self->tokens = self->flood = (float) full;    /* not started: both full */
        self->last_ms = now_ms ? now_ms : 1;
    }
    /* unsigned difference: right across the 49-day wrap of a u32 of ms */
    uint32_t elapsed = now_ms - self->last_ms;
    if (elapsed) {
        double add = (double) elapsed * rate / 1000.0;
        double tokens = self->tokens + add, flood = self->flood + add;
        self->tokens = (float) (tokens < full ? tokens : full);
        self->flood = (float) (flood < full ? flood : full);
        self->last_ms = now_ms ? now_ms : 1;
    }
    if (self->tokens >= 1.0f) {
        self->tokens -= 1.0f;
        return GW_RATE_OK;
    }
    if (self->flood >= 1.0f) {
        self->flood -= 1.0f;
        return GW_RATE_REFUSED;
    }
    return GW_RATE_FLOOD;
}
