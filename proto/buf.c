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

//  Two digits per step from a table: half the divisions of digit by digit
//  (offsets and timestamps are 10-19 digits long).
static const char s_digit_pairs [201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int
hp_buf_put_u64 (hp_buf_t *self, unsigned long long v)
{
    char digits [24];
    size_t at = sizeof digits;
    while (v >= 100) {
        unsigned pair = (unsigned) (v % 100) * 2;
        v /= 100;
        digits [--at] = s_digit_pairs [pair + 1];
        digits [--at] = s_digit_pairs [pair];
    }
    if (v >= 10) {
        digits [--at] = s_digit_pairs [v * 2 + 1];
        digits [--at] = s_digit_pairs [v * 2];
    }
    else
        digits [--at] = (char) ('0' + v);
    return hp_buf_append (self, digits + at, sizeof digits - at);
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
