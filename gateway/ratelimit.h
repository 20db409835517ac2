/* ratelimit.h -- a connection's budget for send frames: a token bucket, and a second one that refused sends drain. */
#ifndef HERALD_GW_RATELIMIT_H
#define HERALD_GW_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* Embedded in a connection (12 bytes); zeroed is "not started": the first
 * take fills both buckets. Pure: the caller passes the time. */
typedef struct {
    float tokens;       /* sends the connection may make now */
    float flood;        /* refused sends it may make before it is closed */
    uint32_t last_ms;   /* when both were last refilled (a monotonic clock, wrapping) */
} gw_ratelimit_t;

typedef enum {
    GW_RATE_OK = 0,     /* took a token: send it */
    GW_RATE_REFUSED,    /* none left: answer it {"type":"error","reason":"rate"} */
    GW_RATE_FLOOD,      /* none left and the flood bucket empty too: close 1008 */
} gw_rate_result_t;

/* Takes one token at now_ms. Both buckets hold at most burst and refill at
 * rate per second; a refused send takes from the flood bucket instead. So a
 * client sending at up to twice the rate (after the bursts) is refused the
 * part above it and stays, and one sending faster is closed once the flood
 * bucket runs dry: after burst / (sent - 2 x rate) seconds. rate > 0, burst >= 1. */
gw_rate_result_t gw_ratelimit_take (gw_ratelimit_t *self, double rate, unsigned burst,
                                    uint32_t now_ms);

#endif
