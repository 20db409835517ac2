/* latency.h -- a fixed-bucket latency histogram (0.1 ms to 10 s) across processes, and its Prometheus text. */
#ifndef HERALD_PROTO_LATENCY_H
#define HERALD_PROTO_LATENCY_H

#include <stdint.h>

#include "buf.h"

/* Times are microseconds since the Unix epoch (CLOCK_REALTIME): the broker
 * stamps an event when it accepts it and a gateway, perhaps on another
 * host, compares that with its own clock when it writes the frame, so only
 * a clock both hosts keep in step (NTP, chrony) can say anything. 0 means
 * "no time known" (an event stored by an earlier release). */
uint64_t hp_latency_now_us (void);

/* Upper bounds of the buckets, in microseconds: 1-2.5-5 steps from 0.1 ms
 * to 10 s, then +Inf. Fixed, so that every gateway's series add up in
 * Prometheus (histogram_quantile over sum by (le)). */
#define HP_LATENCY_BOUNDS 16
extern const uint64_t hp_latency_bounds_us[HP_LATENCY_BOUNDS];

/* Transparent so that an owner embeds it in its counters (no allocation);
 * only hp_latency_observe and hp_latency_render touch the fields.
 * buckets[i] counts observations in (bound[i-1], bound[i]] -- not
 * cumulative; the rendering sums them -- and buckets[HP_LATENCY_BOUNDS]
 * those above 10 s. */
typedef struct {
    uint64_t buckets[HP_LATENCY_BOUNDS + 1];
    uint64_t count;
    uint64_t sum_us;
    uint64_t clamped;   /* end before start (clocks out of step): put in the first bucket */
} hp_latency_t;

/* Counts one latency from start_us to end_us (hp_latency_now_us values).
 * An end before the start -- the other host's clock runs ahead -- counts
 * as 0 (the first bucket) and in clamped. Cost: a few compares (the scan
 * stops at the first bound that holds it, so sub-millisecond latencies
 * take 1-4) and three adds; no allocation, no call out. */
void hp_latency_observe (hp_latency_t *self, uint64_t start_us, uint64_t end_us);

/* Appends the series lines of one histogram (not the # HELP / # TYPE
 * lines, which a family with several label sets writes once):
 *   name_bucket{labels,le="0.0001"} N ... name_bucket{labels,le="+Inf"} N
 *   name_sum{labels} seconds (6 decimals)   name_count{labels} N
 * with cumulative buckets. labels is label text without braces
 * ("kind=\"live\"") or NULL. Returns 0 or -1 (out's limit). */
int hp_latency_render (const hp_latency_t *self, const char *name, const char *labels,
                       hp_buf_t *out);

#endif
