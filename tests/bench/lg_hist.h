/* lg_hist.h -- fixed-size log-linear latency histogram (no allocation). */
#ifndef HERALD_BENCH_LG_HIST_H
#define HERALD_BENCH_LG_HIST_H

#include <stdint.h>

/* Values are microseconds. Below 128 every value has its own bucket; above,
 * each power of two is split into 64 buckets, so a reported percentile is
 * within ~1.6% of the true value. 4096 buckets reach far past an hour. */
#define LG_HIST_BUCKETS 4096

typedef struct {
    uint64_t count;
    uint64_t max_ns;             /* exact maximum, not bucketed */
    uint64_t sum_us;
    uint64_t bucket[LG_HIST_BUCKETS];
} lg_hist_t;

/* Records one value given in nanoseconds. */
void lg_hist_record (lg_hist_t *self, uint64_t ns);

/* Adds every count of src into self. */
void lg_hist_merge (lg_hist_t *self, const lg_hist_t *src);

/* The value (in microseconds, bucket midpoint) below which fraction q (0..1)
 * of the recorded values lie; 0 when nothing was recorded. */
double lg_hist_quantile_us (const lg_hist_t *self, double q);

#endif
