/* test_gateway_ratelimit.c -- unit tests for gateway/ratelimit.c: the send budget and its flood close. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

static void
test_burst_then_refused_then_flood (void **state)
{
    gw_ratelimit_t r = { 0 };
    uint32_t t = 5000;
    //  a fresh connection has the whole burst at once
    for (int i = 0; i < 5; i++)
        assert_int_equal (gw_ratelimit_take (&r, 1.0, 5, t), GW_RATE_OK);
    //  then each send is refused, drawing on the flood bucket (also 5)
    for (int i = 0; i < 5; i++)
        assert_int_equal (gw_ratelimit_take (&r, 1.0, 5, t), GW_RATE_REFUSED);
    //  and once both are dry: close
    assert_int_equal (gw_ratelimit_take (&r, 1.0, 5, t), GW_RATE_FLOOD);
}

static void
test_refill_at_the_rate_up_to_the_burst (void **state)
{
    gw_ratelimit_t r = { 0 };
    uint32_t t = 1;
    for (int i = 0; i < 3; i++)
        assert_int_equal (gw_ratelimit_take (&r, 2.0, 3, t), GW_RATE_OK);
    assert_int_equal (gw_ratelimit_take (&r, 2.0, 3, t), GW_RATE_REFUSED);
    //  2 per second: 499 ms is not yet one token, 500 ms is
    assert_int_equal (gw_ratelimit_take (&r, 2.0, 3, t + 499), GW_RATE_REFUSED);
    assert_int_equal (gw_ratelimit_take (&r, 2.0, 3, t + 500 + 499), GW_RATE_OK);
    //  a long silence refills to the burst, never past it
    t += 3600 * 1000;
    for (int i = 0; i < 3; i++)
        assert_int_equal (gw_ratelimit_take (&r, 2.0, 3, t), GW_RATE_OK);
    assert_int_equal (gw_ratelimit_take (&r, 2.0, 3, t), GW_RATE_REFUSED);
}

/* Steady traffic for 60 s at `per_second` sends (evenly spaced): the counts
 * of each outcome. */
static void
s_steady (double rate, unsigned burst, unsigned per_second, unsigned *ok, unsigned *refused,
          unsigned *flood)
{
    gw_ratelimit_t r = { 0 };
    *ok = *refused = *flood = 0;
    for (unsigned i = 0; i < 60 * per_second; i++) {
        uint32_t t = 1000 + i * 1000 / per_second;
        switch (gw_ratelimit_take (&r, rate, burst, t)) {
            case GW_RATE_OK: (*ok)++; break;
            case GW_RATE_REFUSED: (*refused)++; break;
            case GW_RATE_FLOOD: (*flood)++; return;
        }
    }
}

static void
test_up_to_twice_the_rate_stays_open (void **state)
{
    unsigned ok, refused, flood;
    //  at the rate: everything passes
    s_steady (10.0, 20, 10, &ok, &refused, &flood);
    assert_int_equal (flood, 0);
    assert_int_equal (refused, 0);
    //  at twice the rate: about half refused, never closed
    s_steady (10.0, 20, 20, &ok, &refused, &flood);
    assert_int_equal (flood, 0);
    assert_in_range (ok, 600, 620);
    assert_in_range (refused, 580, 600);
    //  at three times: closed after about burst / (30 - 2 x 10) = 2 s past the bursts
    s_steady (10.0, 20, 30, &ok, &refused, &flood);
    assert_int_equal (flood, 1);
    assert_in_range (ok + refused, 80, 200);
}

static void
test_clock_wrap (void **state)
{
    //  the u32 millisecond clock wraps every 49.7 days: the difference is
    //  still the time that passed
    gw_ratelimit_t r = { 0 };
    uint32_t t = UINT32_MAX - 100;
    assert_int_equal (gw_ratelimit_take (&r, 1.0, 1, t), GW_RATE_OK);
    assert_int_equal (gw_ratelimit_take (&r, 1.0, 1, t), GW_RATE_REFUSED);
    assert_int_equal (gw_ratelimit_take (&r, 1.0, 1, t + 1001), GW_RATE_OK);   /* wrapped */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_burst_then_refused_then_flood),
        cmocka_unit_test (test_refill_at_the_rate_up_to_the_burst),
        cmocka_unit_test (test_up_to_twice_the_rate_stays_open),
        cmocka_unit_test (test_clock_wrap),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
