/* ratelog.h -- log lines about bad input, at most one a second per reason. */
#ifndef HERALD_BROKER_RATELOG_H
#define HERALD_BROKER_RATELOG_H

#include <stdint.h>

/* A limiter for up to HB_RATELOG_REASONS distinct reasons (small ints chosen
 * by the caller). Lines go to proto/log.h at level warn; a line printed after a quiet spell
 * says how many were suppressed in between. Single-threaded. */
#define HB_RATELOG_REASONS 32

typedef struct {
    uint64_t last_sec[HB_RATELOG_REASONS];
    uint64_t suppressed[HB_RATELOG_REASONS];
} hb_ratelog_t;

/* Logs <what> at level warn (proto/log.h) unless reason already logged this second. */
void hb_ratelog (hb_ratelog_t *self, unsigned reason, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/* Monotonic seconds (coarse clock), shared by the broker's timers. */
uint64_t hb_now_sec (void);

#endif
