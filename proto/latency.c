/* latency.c -- a fixed-bucket latency histogram (0.1 ms to 10 s) across processes, and its Prometheus text.
 *
 * Why fixed buckets and not an HDR or t-digest sketch: Prometheus adds up
 * histograms of many gateways only when their buckets are the same, and a
 * bump of one counter is the cheapest thing a per-connection write can do.
 * 1-2.5-5 steps keep a quantile's error within a factor of 2.5 of the true
 * value across five decades, which is what an operator needs to tell
 * "sub-millisecond" from "a slow consumer's queue" from "a replay of
 * yesterday's events". */
#include "latency.h"

#include <string.h>
#include <time.h>

const uint64_t hp_latency_bounds_us [HP_LATENCY_BOUNDS] = {
    100, 250, 500,
    1000, 2500, 5000,
    10000, 25000, 50000,
    100000, 250000, 500000,
    1000000, 2500000, 5000000,
    10000000
};

//  The same bounds as Prometheus reads them (seconds), written once.
static const char *s_le [HP_LATENCY_BOUNDS + 1] = {
    "0.0001", "0.00025", "0.0005",
    "0.001", "0.0025", "0.005",
    "0.01", "0.025", "0.05",
    "0.1", "0.25", "0.5",
    "1", "2.5", "5",
    "10", "+Inf"
};

uint64_t
hp_latency_now_us (void)
{
    struct timespec ts;
    //  Through the vDSO on Linux: no system call (about 20-40 ns).
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

void
hp_latency_observe (hp_latency_t *self, uint64_t start_us, uint64_t end_us)
{
    uint64_t us = 0;
    if (end_us >= start_us)
        us = end_us - start_us;
    else
        self->clamped++;
    //  Short latencies are the common case, so a scan from the smallest
    //  bound ends soonest where it matters most.
    size_t i = 0;
    while (i < HP_LATENCY_BOUNDS && us > hp_latency_bounds_us [i])
        i++;
    self->buckets [i]++;
    self->count++;
    self->sum_us += us;
}

//  name + suffix + {labels[,]extra}
static int
s_series (hp_buf_t *out, const char *name, const char *suffix, const char *labels,
          const char *le)
{
    int rc = hp_buf_puts (out, name) | hp_buf_puts (out, suffix);
    if (labels || le) {
        rc |= hp_buf_putc (out, '{');
        if (labels)
            rc |= hp_buf_puts (out, labels);
        if (labels && le)
            rc |= hp_buf_putc (out, ',');
        if (le)
            rc |= hp_buf_puts (out, "le=\"") | hp_buf_puts (out, le) | hp_buf_putc (out, '"');
        rc |= hp_buf_putc (out, '}');
    }
    return rc | hp_buf_putc (out, ' ');
}

int
hp_latency_render (const hp_latency_t *self, const char *name, const char *labels,
                   hp_buf_t *out)
{
    int rc = 0;
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= HP_LATENCY_BOUNDS; i++) {
        cumulative += self->buckets [i];
        rc |= s_series (out, name, "_bucket", labels, s_le [i]);
        rc |= hp_buf_put_u64 (out, cumulative) | hp_buf_putc (out, '\n');
    }
    //  Seconds with six decimals, from integers: exact, and no locale can
    //  turn the point into a comma.
    char frac [6];
    uint64_t micros = self->sum_us % 1000000u;
    for (int d = 5; d >= 0; d--, micros /= 10)
        frac [d] = (char) ('0' + micros % 10);
    rc |= s_series (out, name, "_sum", labels, NULL);
    rc |= hp_buf_put_u64 (out, self->sum_us / 1000000u) | hp_buf_putc (out, '.')
        | hp_buf_append (out, frac, 6) | hp_buf_putc (out, '\n');
    rc |= s_series (out, name, "_count", labels, NULL);
    rc |= hp_buf_put_u64 (out, self->count) | hp_buf_putc (out, '\n');
    return rc ? -1 : 0;
}
