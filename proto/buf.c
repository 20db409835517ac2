/* buf.c -- growable byte buffer with a hard size limit, reused on hot paths. */
#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
hp_buf_init (hp_buf_t *self, size_t limit)
{
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
    self->limit = limit;
}

void
hp_buf_free (hp_buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->len = 0;
    self->cap = 0;
}

int
hp_buf_reserve (hp_buf_t *self, size_t more)
{
    size_t limit = self->limit ? self->limit : SIZE_MAX;
    //  The limit check is written so that it cannot overflow: len <= limit
    //  always holds, so limit - len is the room left.
    if (self->len > limit || more > limit - self->len)
        return -1;
    size_t need = self->len + more;
    if (need <= self->cap)
        return 0;
    //  Doubling keeps appends amortised O(1); clamp to the limit so a buffer
    //  near its bound does not allocate twice what it may ever hold.
    size_t cap = self->cap ? self->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > limit)
        cap = limit;
    char *data = realloc (self->data, cap);
    if (!data)
        return -1;
    self->data = data;
    self->cap = cap;
    return 0;
}

int
hp_buf_append (hp_buf_t *self, const void *bytes, size_t n)
{
    if (n == 0)
        return 0;
    if (hp_buf_reserve (self, n))
        return -1;
    memcpy (self->data + self->len, bytes, n);
    self->len += n;
    return 0;
}

int
hp_buf_putc (hp_buf_t *self, char c)
{
    if (self->len >= self->cap && hp_buf_reserve (self, 1))
        return -1;
    if (self->limit && self->len >= self->limit)
        return -1;
    self->data [self->len++] = c;
    return 0;
}

int
hp_buf_puts (hp_buf_t *self, const char *s)
{
    return hp_buf_append (self, s, strlen (s));
}

//  Two digits per step from a table: half the divisions of digit by digit.
static const char s_digit_pairs [201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

//  Writes the 4 digits of v (< 10,000, zero-padded) at w.
static inline void
s_put4 (char *w, uint32_t v)
{
    uint32_t hi = v / 100, lo = v % 100;
    memcpy (w, s_digit_pairs + 2 * hi, 2);
    memcpy (w + 2, s_digit_pairs + 2 * lo, 2);
}

//  Writes the decimal digits of v ending at end; returns where they start.
//  Blocks of 8 digits come off with one 64-bit division each and are split
//  in 32-bit arithmetic (offsets and nanosecond timestamps have 10-19
//  digits: this is about a third of the instructions of a /100 loop).
static inline char *
s_u64_digits (char *end, unsigned long long v)
{
    char *w = end;
    while (v >= 100000000ULL) {
        uint32_t block = (uint32_t) (v % 100000000ULL);
        v /= 100000000ULL;
        w -= 8;
        s_put4 (w, block / 10000);
        s_put4 (w + 4, block % 10000);
    }
    uint32_t x = (uint32_t) v;
    while (x >= 100) {
        uint32_t pair = x % 100;
        x /= 100;
        w -= 2;
        memcpy (w, s_digit_pairs + 2 * pair, 2);
    }
    if (x >= 10) {
        w -= 2;
        memcpy (w, s_digit_pairs + 2 * x, 2);
    }
    else
        *--w = (char) ('0' + x);
    return w;
}

int
hp_buf_put_u64 (hp_buf_t *self, unsigned long long v)
{
    char digits [24];
    char *end = digits + sizeof digits;
    char *start = s_u64_digits (end, v);
    size_t n = (size_t) (end - start);
    //  Room below cap needs no limit check (cap never exceeds the limit).
    if (self->cap - self->len >= n) {
        memcpy (self->data + self->len, start, n);
        self->len += n;
        return 0;
    }
    return hp_buf_append (self, start, n);
}

int
hp_buf_put_i64 (hp_buf_t *self, long long v)
{
    if (v >= 0)
        return hp_buf_put_u64 (self, (unsigned long long) v);
    //  Negate in unsigned arithmetic: -LLONG_MIN does not fit a long long.
    unsigned long long magnitude = (unsigned long long) (-(v + 1)) + 1;
    size_t mark = self->len;
    if (hp_buf_putc (self, '-') || hp_buf_put_u64 (self, magnitude)) {
        self->len = mark;
        return -1;
    }
    return 0;
}
