/* test_latency.c -- unit tests for proto/latency.c: bucket placement, clamps, the Prometheus text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "latency.h"

/* The bucket index an observation of us microseconds landed in. */
static size_t
s_bucket_of (uint64_t us)
{
    hp_latency_t h;
    memset (&h, 0, sizeof h);
    hp_latency_observe (&h, 1000000000ull, 1000000000ull + us);
    for (size_t i = 0; i <= HP_LATENCY_BOUNDS; i++)
        if (h.buckets [i])
            return i;
    fail_msg ("observation of %llu us landed nowhere", (unsigned long long) us);
    return 0;
}

static void
test_bucket_placement (void **state)
{
    (void) state;
    //  A bound belongs to its own bucket (Prometheus's le: less or equal),
    //  one microsecond more to the next.
    for (size_t i = 0; i < HP_LATENCY_BOUNDS; i++) {
        uint64_t bound = hp_latency_bounds_us [i];
        assert_int_equal (s_bucket_of (bound), i);
        assert_int_equal (s_bucket_of (bound + 1), i + 1);
        if (i > 0)
            assert_int_equal (s_bucket_of (hp_latency_bounds_us [i - 1] + 1), i);
    }
    //  0 is in the first bucket, anything over 10 s in +Inf.
    assert_int_equal (s_bucket_of (0), 0);
    assert_int_equal (s_bucket_of (10000001), HP_LATENCY_BOUNDS);
    assert_int_equal (s_bucket_of (3600ull * 1000000), HP_LATENCY_BOUNDS);
    //  The bounds resolve 0.1 ms to 10 s and increase.
    assert_int_equal (hp_latency_bounds_us [0], 100);
    assert_int_equal (hp_latency_bounds_us [HP_LATENCY_BOUNDS - 1], 10000000);
    for (size_t i = 1; i < HP_LATENCY_BOUNDS; i++)
        assert_true (hp_latency_bounds_us [i] > hp_latency_bounds_us [i - 1]);
}

static void
test_clamps_skew (void **state)
{
    (void) state;
    hp_latency_t h;
    memset (&h, 0, sizeof h);
    //  An end before its start (the broker's clock ahead of the gateway's)
    //  counts as 0: first bucket, nothing added to the sum, and clamped.
    hp_latency_observe (&h, 5000000, 4000000);
    hp_latency_observe (&h, 5000000, 5000300);
    assert_int_equal (h.buckets [0], 1);
    assert_int_equal (h.buckets [2], 1);
    assert_int_equal (h.count, 2);
    assert_int_equal (h.sum_us, 300);
    assert_int_equal (h.clamped, 1);
}

/* The value of the line starting with prefix (then a space) in text. */
static const char *
s_value (const char *text, const char *prefix)
{
    size_t n = strlen (prefix);
    for (const char *p = text; p && *p; p = strchr (p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp (p, prefix, n) == 0 && p [n] == ' ')
            return p + n + 1;
    fail_msg ("no line %s in:\n%s", prefix, text);
    return NULL;
}

static void
test_exposition_text (void **state)
{
    (void) state;
    hp_latency_t h;
    memset (&h, 0, sizeof h);
    hp_latency_observe (&h, 0, 50);          /* 0.1 ms bucket */
    hp_latency_observe (&h, 0, 100);         /* 0.1 ms bucket, on its bound */
    hp_latency_observe (&h, 0, 1200);        /* 2.5 ms */
    hp_latency_observe (&h, 0, 20000000);    /* +Inf */
    hp_buf_t out;
    hp_buf_init (&out, 0);
    assert_int_equal (hp_latency_render (&h, "herald_x_seconds", "kind=\"live\"", &out), 0);
    assert_int_equal (hp_buf_putc (&out, '\0'), 0);
    const char *text = out.data;
    //  Buckets are cumulative, carry the labels before le, and end at +Inf
    //  with the count.
    assert_int_equal (atoi (s_value (text, "herald_x_seconds_bucket{kind=\"live\",le=\"0.0001\"}")), 2);
    assert_int_equal (atoi (s_value (text, "herald_x_seconds_bucket{kind=\"live\",le=\"0.001\"}")), 2);
    assert_int_equal (atoi (s_value (text, "herald_x_seconds_bucket{kind=\"live\",le=\"0.0025\"}")), 3);
    assert_int_equal (atoi (s_value (text, "herald_x_seconds_bucket{kind=\"live\",le=\"10\"}")), 3);
    assert_int_equal (atoi (s_value (text, "herald_x_seconds_bucket{kind=\"live\",le=\"+Inf\"}")), 4);
    assert_int_equal (atoi (s_value (text, "herald_x_seconds_count{kind=\"live\"}")), 4);
    //  The sum is seconds with six decimals, exact: 50 + 100 + 1200 us + 20 s.
    assert_memory_equal (s_value (text, "herald_x_seconds_sum{kind=\"live\"}"), "20.001350\n", 10);
    //  Every line is a bucket, the sum or the count: 17 + 2 lines.
    size_t lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal (lines, HP_LATENCY_BOUNDS + 1 + 2);
    //  Each bucket's value is at least the one before it (monotone).
    unsigned long long before = 0;
    const char *p = text;
    for (size_t i = 0; i <= HP_LATENCY_BOUNDS; i++) {
        const char *sp = strchr (p, ' ');
        unsigned long long v = strtoull (sp + 1, NULL, 10);
        assert_true (v >= before);
        before = v;
        p = strchr (p, '\n') + 1;
    }
    hp_buf_free (&out);

    //  Without labels the braces hold only le; an empty histogram renders
    //  zeros and a sum of 0.000000.
    memset (&h, 0, sizeof h);
    hp_buf_init (&out, 0);
    assert_int_equal (hp_latency_render (&h, "herald_y_seconds", NULL, &out), 0);
    assert_int_equal (hp_buf_putc (&out, '\0'), 0);
    assert_int_equal (atoi (s_value (out.data, "herald_y_seconds_bucket{le=\"+Inf\"}")), 0);
    assert_memory_equal (s_value (out.data, "herald_y_seconds_sum"), "0.000000\n", 9);
    assert_int_equal (atoi (s_value (out.data, "herald_y_seconds_count")), 0);
    hp_buf_free (&out);

    //  A buffer at its limit makes the rendering fail rather than cut a line.
    hp_buf_init (&out, 64);
    assert_int_equal (hp_latency_render (&h, "herald_y_seconds", NULL, &out), -1);
    hp_buf_free (&out);
}

static void
test_now_is_wall_clock (void **state)
{
    (void) state;
    //  Microseconds since 1970 (the wall clock, comparable across hosts),
    //  not a monotonic count: past 2020-01-01 and before 2100.
    uint64_t a = hp_latency_now_us ();
    assert_true (a > 1577836800ull * 1000000);
    assert_true (a < 4102444800ull * 1000000);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bucket_placement),
        cmocka_unit_test (test_clamps_skew),
        cmocka_unit_test (test_exposition_text),
        cmocka_unit_test (test_now_is_wall_clock),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
