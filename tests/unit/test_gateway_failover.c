/* test_gateway_failover.c -- "EP1,EP2" parsing and when control requests move to the other broker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "failover.h"

static void
test_parse (void **state)
{
    (void) state;
    gw_failover_t f;
    assert_int_equal (gw_failover_parse (&f, "tcp://a:1"), 0);
    assert_int_equal (f.count, 1);
    assert_int_equal (gw_failover_parse (&f, "tcp://a:1,tcp://b:2"), 0);
    assert_int_equal (f.count, 2);
    assert_string_equal (f.ep[0], "tcp://a:1");
    assert_string_equal (f.ep[1], "tcp://b:2");
    assert_int_equal (f.at, 0);
    assert_int_equal (gw_failover_parse (&f, ""), -1);
    assert_int_equal (gw_failover_parse (&f, "tcp://a:1,"), -1);
    assert_int_equal (gw_failover_parse (&f, ",tcp://a:1"), -1);
    assert_int_equal (gw_failover_parse (&f, "a,b,c"), -1);
    char long_ep[GW_FAILOVER_EP_MAX + 8];
    memset (long_ep, 'x', sizeof long_ep - 1);
    long_ep[sizeof long_ep - 1] = '\0';
    assert_int_equal (gw_failover_parse (&f, long_ep), -1);
}

/* Unanswered for the timeout: move; an answer resets the clock. One
 * endpoint never moves. */
static void
test_timeout (void **state)
{
    (void) state;
    gw_failover_t f;
    gw_failover_parse (&f, "a,b");
    assert_false (gw_failover_sent (&f, 1000));
    assert_false (gw_failover_sent (&f, 1999));
    assert_false (gw_failover_answered (&f, false, 2000));
    assert_false (gw_failover_sent (&f, 2500));
    assert_true (gw_failover_sent (&f, 3500));
    assert_int_equal (gw_failover_switch (&f, 3500, true), 1);
    assert_false (gw_failover_sent (&f, 3600));
    gw_failover_t one;
    gw_failover_parse (&one, "a");
    assert_false (gw_failover_sent (&one, 1000));
    assert_false (gw_failover_sent (&one, 99000));
}

/* A passive refusal sends us back, unless the other endpoint went silent
 * recently: then we stay, and our next request is the passive's vote. */
static void
test_passive (void **state)
{
    (void) state;
    gw_failover_t f;
    gw_failover_parse (&f, "a,b");
    assert_true (gw_failover_answered (&f, true, 1000));   /* a is passive: try b */
    gw_failover_switch (&f, 1000, false);
    assert_int_equal (f.at, 1);
    gw_failover_sent (&f, 2000);
    assert_true (gw_failover_sent (&f, 3000));             /* b is silent */
    gw_failover_switch (&f, 3000, true);
    assert_int_equal (f.at, 0);
    assert_false (gw_failover_answered (&f, true, 3100)); /* a passive, b silent: stay */
    assert_true (gw_failover_answered (&f, true, 8100));  /* b silent long ago: try it */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse),
        cmocka_unit_test (test_timeout),
        cmocka_unit_test (test_passive),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
