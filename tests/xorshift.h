/* xorshift.h -- the tests' and bench tools' one small deterministic PRNG (xorshift64). */
#ifndef HERALD_TESTS_XORSHIFT_H
#define HERALD_TESTS_XORSHIFT_H

#include <stdint.h>

/* Next value of the sequence; *state must start non-zero. Not for anything
 * secret: it only makes test inputs and load repeatable. */
static inline uint64_t
xorshift64 (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

#endif
