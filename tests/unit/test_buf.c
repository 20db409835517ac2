/* test_buf.c -- unit tests for proto/buf.c: growth, limits, integer text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <stdio.h>
#include <cmocka.h>

#include "buf.h"
#include "../xorshift.h"

static void
test_append_grows_and_keeps_bytes (void **state)
{
    hp_buf_t b;
    hp_buf_init (&b, 0);
    //  An empty buffer owns nothing until the first append.
    assert_null (b.data);
    for (int i = 0; i < 1000; i++)
        assert_int_equal (hp_buf_append (&b, "abcdefghij", 10), 0);
    //  10,000 bytes went in through many reallocations and all are there.
    assert_int_equal (b.len, 10000);
    assert_memory_equal (b.data + 9990, "abcdefghij", 10);
    assert_int_equal (hp_buf_putc (&b, 'x'), 0);
    assert_int_equal (hp_buf_puts (&b, "yz"), 0);
    assert_memory_equal (b.data + 10000, "xyz", 3);
    //  reset keeps storage: the steady state does not reallocate.
    char *storage = b.data;
    hp_buf_reset (&b);
    assert_int_equal (b.len, 0);
    assert_int_equal (hp_buf_puts (&b, "again"), 0);
    assert_ptr_equal (b.data, storage);
    hp_buf_free (&b);
    assert_null (b.data);
    assert_int_equal (b.len, 0);
}

static void
test_limit_is_hard (void **state)
{
    hp_buf_t b;
    hp_buf_init (&b, 8);
    assert_int_equal (hp_buf_append (&b, "12345678", 8), 0);
    //  The limit is reached exactly; one more byte of any kind is refused
    //  and leaves the buffer unchanged.
    assert_int_equal (hp_buf_putc (&b, 'x'), -1);
    assert_int_equal (hp_buf_append (&b, "x", 1), -1);
    assert_int_equal (hp_buf_put_u64 (&b, 1), -1);
    assert_int_equal (b.len, 8);
    assert_true (b.cap <= 8);       //  never allocates past what it may hold
    //  A reserve whose size would overflow len + more is refused, not wrapped.
    assert_int_equal (hp_buf_reserve (&b, SIZE_MAX), -1);
    hp_buf_free (&b);

    hp_buf_init (&b, 3);
    //  A negative number that does not fit leaves no stray '-' behind.
    assert_int_equal (hp_buf_put_i64 (&b, -1234), -1);
    assert_int_equal (b.len, 0);
    hp_buf_free (&b);
}

static void
s_expect_u64 (unsigned long long v, const char *text)
{
    hp_buf_t b;
    hp_buf_init (&b, 0);
    assert_int_equal (hp_buf_put_u64 (&b, v), 0);
    assert_int_equal (b.len, strlen (text));
    assert_memory_equal (b.data, text, b.len);
    hp_buf_free (&b);
}

static void
s_expect_i64 (long long v, const char *text)
{
    hp_buf_t b;
    hp_buf_init (&b, 0);
    assert_int_equal (hp_buf_put_i64 (&b, v), 0);
    assert_int_equal (b.len, strlen (text));
    assert_memory_equal (b.data, text, b.len);
    hp_buf_free (&b);
}

static void
test_integers_exact (void **state)
{
    //  Decimal text is exact at both ends of both ranges.
    s_expect_u64 (0, "0");
    s_expect_u64 (9, "9");
    s_expect_u64 (10, "10");
    s_expect_u64 (ULLONG_MAX, "18446744073709551615");
    s_expect_i64 (0, "0");
    s_expect_i64 (-1, "-1");
    s_expect_i64 (LLONG_MAX, "9223372036854775807");
    s_expect_i64 (LLONG_MIN, "-9223372036854775808");
}

static void
test_integers_match_printf (void **state)
{
    //  Every digit count, each power of ten and its neighbours (where the
    //  8-digit blocks and pairs change), and random values across all
    //  magnitudes are written exactly as printf writes them, also when
    //  appended after other bytes and when the buffer must grow.
    hp_buf_t b;
    hp_buf_init (&b, 0);
    char want [32];
    unsigned long long values [4000];
    size_t count = 0;
    for (unsigned long long p = 1;; p *= 10) {
        values [count++] = p - 1;
        values [count++] = p;
        values [count++] = p + 1;
        if (p > ULLONG_MAX / 10)
            break;
    }
    values [count++] = ULLONG_MAX;
    values [count++] = ULLONG_MAX - 1;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    while (count < sizeof values / sizeof values [0]) {
        xorshift64 (&rng);
        values [count++] = rng >> (rng % 64);
    }
    for (size_t k = 0; k < count; k++) {
        unsigned long long v = values [k];
        hp_buf_reset (&b);
        assert_int_equal (hp_buf_putc (&b, 'x'), 0);
        assert_int_equal (hp_buf_put_u64 (&b, v), 0);
        int n = snprintf (want, sizeof want, "x%llu", v);
        assert_int_equal (b.len, (size_t) n);
        assert_memory_equal (b.data, want, (size_t) n);
        long long sv = (long long) v;
        hp_buf_reset (&b);
        assert_int_equal (hp_buf_put_i64 (&b, sv), 0);
        n = snprintf (want, sizeof want, "%lld", sv);
        assert_int_equal (b.len, (size_t) n);
        assert_memory_equal (b.data, want, (size_t) n);
    }
    hp_buf_free (&b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_append_grows_and_keeps_bytes),
        cmocka_unit_test (test_limit_is_hard),
        cmocka_unit_test (test_integers_exact),
        cmocka_unit_test (test_integers_match_printf),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
