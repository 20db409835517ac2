/* lg_hist.c -- fixed-size log-linear latency histogram (no allocation). */
#include "lg_hist.h"

#define SUB_BITS 7                     /* 128 exact values, then 64 per octave */
#define HALF (1u << (SUB_BITS - 1))

static unsigned
s_index (uint64_t us)
{
    if (us < (1u << SUB_BITS))
        return (unsigned) us;
    unsigned msb = 63 - (unsigned) __builtin_clzll (us);
    unsigned shift = msb - (SUB_BITS - 1);
    uint64_t idx = (uint64_t) shift * HALF + (us >> shift);
    return idx < LG_HIST_BUCKETS ? (unsigned) idx : LG_HIST_BUCKETS - 1;
}

/* Midpoint of the values that land in bucket idx. */
static double
s_value (unsigned idx)
{
    if (idx < (1u << SUB_BITS))
        return idx;
    unsigned shift = idx / HALF - 1;
    uint64_t low = (uint64_t) (idx - shift * HALF) << shift;
    return (double) low + (double) ((uint64_t) 1 << shift) / 2.0;
}

void
lg_hist_record (lg_hist_t *self, uint64_t ns)
{
    uint64_t us = ns / 1000;
    self->bucket[s_index (us)]++;
    self->count++;
    self->sum_us += us;
    if (ns > self->max_ns)
        self->max_ns = ns;
}

void
lg_hist_merge (lg_hist_t *self, const lg_hist_t *src)
{
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
        self->bucket[i] += src->bucket[i];
    self->count += src->count;
    self->sum_us += src->sum_us;
    if (src->max_ns > self->max_ns)
        self->max_ns = src->max_ns;
}

double
lg_hist_quantile_us (const lg_hist_t *self, double q)
{
    if (self->count == 0)
        return 0;
    /* The rank of the q-quantile, 1-based; q = 1 means the last value. */
    uint64_t rank = (uint64_t) (q * (double) self->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > self->count)
        rank = self->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += self->bucket[i];
        if (seen >= rank) {
            double v = s_value (i);
            double max_us = (double) self->max_ns / 1000.0;
            return v > max_us ? max_us : v;
        }
    }
    return (double) self->max_ns / 1000.0;
}
