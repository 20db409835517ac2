/* test_gateway_health.c -- unit tests for gateway/health.c: when the broker link counts as live. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "health.h"

static void
test_states (void **state)
{
    gw_health_t h = { 0 };
    char why[256];
    assert_int_equal (gw_health_reason (&h, 0, "tcp://b:7402", why, sizeof why), GW_HEALTH_NO_LINK);
    assert_string_equal (why, "not connected to tcp://b:7402");
    gw_health_link (&h, true);
    /* connected is not live until the broker says something */
    assert_int_equal (gw_health_state (&h, 10), GW_HEALTH_WAITING);
    assert_false (gw_health_heard (&h, 100, 7, NULL));
    assert_int_equal (gw_health_reason (&h, 100, "x", why, sizeof why), GW_HEALTH_UP);
    assert_string_equal (why, "");
    assert_int_equal (gw_health_state (&h, 100 + GW_HEALTH_SILENCE_MS), GW_HEALTH_UP);
    assert_int_equal (gw_health_reason (&h, 101 + GW_HEALTH_SILENCE_MS, "x", why, sizeof why),
                      GW_HEALTH_SILENT);
    assert_non_null (strstr (why, "nothing from x for 3.0 s"));
    gw_health_heard (&h, 5000, 7, NULL);
    assert_int_equal (gw_health_state (&h, 5000), GW_HEALTH_UP);
    /* the link drops: down at once, whatever was heard */
    gw_health_link (&h, false);
    assert_int_equal (gw_health_state (&h, 5000), GW_HEALTH_NO_LINK);
    gw_health_link (&h, false);     /* never below zero */
    assert_int_equal (h.links_up, 0);
    /* back: waits for the broker again */
    gw_health_link (&h, true);
    assert_int_equal (gw_health_state (&h, 5001), GW_HEALTH_WAITING);
}

static void
test_message_without_handshake (void **state)
{
    /* the handshake event can come before the monitor is attached: the
     * broker's tick is proof enough, and a disconnect still counts */
    gw_health_t h = { 0 };
    gw_health_heard (&h, 10, 1, NULL);
    assert_int_equal (gw_health_state (&h, 11), GW_HEALTH_UP);
    gw_health_link (&h, false);
    assert_int_equal (gw_health_state (&h, 12), GW_HEALTH_NO_LINK);
}

static void
test_two_links (void **state)
{
    /* a pair: a gateway linked to one of two brokers is live */
    gw_health_t h = { 0 };
    gw_health_link (&h, true);
    gw_health_link (&h, true);
    gw_health_heard (&h, 1, 1, NULL);
    gw_health_link (&h, false);
    assert_int_equal (gw_health_state (&h, 2), GW_HEALTH_UP);
}

static void
test_epoch_change (void **state)
{
    gw_health_t h = { 0 };
    uint64_t was = 0;
    assert_false (gw_health_heard (&h, 1, 0xAA, &was));
    assert_false (gw_health_heard (&h, 2, 0xAA, &was));
    assert_true (gw_health_heard (&h, 3, 0xBB, &was));
    assert_int_equal (was, 0xAA);
    assert_int_equal (h.epoch, 0xBB);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_states),
        cmocka_unit_test (test_two_links),
        cmocka_unit_test (test_message_without_handshake),
        cmocka_unit_test (test_epoch_change),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
