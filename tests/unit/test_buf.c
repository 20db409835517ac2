/* test_buf.c -- unit tests for proto/buf.c: growth, limits, integer text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <limits.h>
#include <cmocka.h>

#include "buf.h"

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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_append_grows_and_keeps_bytes),
        cmocka_unit_test (test_limit_is_hard),
        cmocka_unit_test (test_integers_exact),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
