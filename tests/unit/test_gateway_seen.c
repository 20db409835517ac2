/* test_gateway_seen.c -- unit tests for gateway/seen.c: when a broker message shows a gap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "seen.h"

#define EPOCH 0xabcULL

static gw_seen_t
s_synced (uint64_t at)
{
    gw_seen_t seen = { 0 };
    uint64_t need = 0;
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH, at, 0, &need), GW_SEEN_FIRST_SYNC);
    return seen;
}

static void
test_first_sync_then_contiguous_events (void **state)
{
    gw_seen_t seen = { 0 };
    uint64_t need = 0;
    //  Before the first sync events say nothing: the resume covers them.
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 5, 3, &need), GW_SEEN_IGNORE);
    //  The first sync is reported once, and sets seen to its offset.
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH, 10, 5, &need), GW_SEEN_FIRST_SYNC);
    assert_true (seen.seen == 10);
    //  An event whose prev is at or below seen follows what arrived: no gap.
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 12, 5, &need), GW_SEEN_OK);
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 15, 12, &need), GW_SEEN_OK);
    assert_true (seen.seen == 15);
    //  prev 0 (the user came online again at the broker) is never a gap.
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 20, 0, &need), GW_SEEN_OK);
}

static void
test_event_prev_above_seen_is_a_gap (void **state)
{
    gw_seen_t seen = s_synced (10);
    uint64_t need = 0;
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 11, 10, &need), GW_SEEN_OK);
    //  Event 14 says the user's previous one was 13; 12 and 13 never came.
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 14, 13, &need), GW_SEEN_GAP);
    assert_true (need == 13);
    //  seen moves past the event that showed it: the gap is reported once.
    assert_true (seen.seen == 14);
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 15, 14, &need), GW_SEEN_OK);
}

static void
test_sync_does_not_hide_a_gap (void **state)
{
    gw_seen_t seen = s_synced (10);
    uint64_t need = 0;
    //  Another gateway's subscription makes a sync at offset 40; the user's
    //  last routed event was 30, which never arrived here: a gap, not a jump.
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH, 40, 30, &need), GW_SEEN_GAP);
    assert_true (need == 30);
    assert_true (seen.seen == 40);
    //  A sync with nothing missed just moves seen forward.
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH, 50, 40, &need), GW_SEEN_OK);
    assert_true (seen.seen == 50);
}

static void
test_link_drop_keeps_detecting_and_repairs_at_the_sync (void **state)
{
    gw_seen_t seen = s_synced (10);
    uint64_t need = 0;
    gw_seen_on_link_lost (&seen);
    //  Events that arrive before the resubscription's sync are still checked
    //  (issue 9 item 2: delivering one over a hole made the fill skip it).
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 30, 25, &need), GW_SEEN_GAP);
    assert_true (need == 25);
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 31, 30, &need), GW_SEEN_OK);
    //  The first sync after the drop is a gap up to its offset (the user may
    //  have been offline at the broker, its events not published)...
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH, 40, 0, &need), GW_SEEN_GAP);
    assert_true (need == 40);
    //  ...once: later syncs are checked by prev again.
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH, 41, 31, &need), GW_SEEN_OK);
}

static void
test_audit_finds_trailing_drops (void **state)
{
    gw_seen_t seen = s_synced (10);
    uint64_t need = 0;
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 12, 10, &need), GW_SEEN_OK);
    //  The broker routed up to 12: nothing missing.
    assert_int_equal (gw_seen_on_audit (&seen, EPOCH, 12, &need), GW_SEEN_OK);
    //  The broker routed 13 and 17 after it, and nothing arrived.
    assert_int_equal (gw_seen_on_audit (&seen, EPOCH, 17, &need), GW_SEEN_GAP);
    assert_true (need == 17 && seen.seen == 17);
    //  An answer from another epoch, or before the first sync, says nothing.
    assert_int_equal (gw_seen_on_audit (&seen, EPOCH + 1, 99, &need), GW_SEEN_IGNORE);
    gw_seen_t fresh = { 0 };
    assert_int_equal (gw_seen_on_audit (&fresh, EPOCH, 99, &need), GW_SEEN_IGNORE);
}

static void
test_new_epoch (void **state)
{
    gw_seen_t seen = s_synced (10);
    uint64_t need = 0;
    //  A message from another epoch (the broker restarted) is reported as
    //  such, never as a gap, and counting starts over.
    assert_int_equal (gw_seen_on_sync (&seen, EPOCH + 1, 3, 2, &need), GW_SEEN_EPOCH);
    assert_true (seen.epoch == EPOCH + 1 && seen.seen == 3);
    assert_int_equal (gw_seen_on_event (&seen, EPOCH + 1, 4, 2, &need), GW_SEEN_OK);
    assert_int_equal (gw_seen_on_event (&seen, EPOCH + 2, 2, 1, &need), GW_SEEN_EPOCH);
    assert_true (seen.epoch == EPOCH + 2);
}

static void
test_other_chain_moves_nothing_but_the_epoch (void **state)
{
    gw_seen_t seen = s_synced (10);
    uint64_t need = 0;
    //  A broadcast folded into the user's stream says nothing of the user's
    //  own chain: seen stays, so a user event lost before it still shows.
    assert_int_equal (gw_seen_on_other (&seen, EPOCH, 14), GW_SEEN_OK);
    assert_true (seen.seen == 10);
    assert_int_equal (gw_seen_on_event (&seen, EPOCH, 15, 12, &need), GW_SEEN_GAP);
    assert_true (need == 12);
    //  A broadcast of a new epoch starts it, as an event would.
    assert_int_equal (gw_seen_on_other (&seen, EPOCH + 1, 3), GW_SEEN_EPOCH);
    assert_true (seen.epoch == EPOCH + 1 && seen.seen == 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_first_sync_then_contiguous_events),
        cmocka_unit_test (test_event_prev_above_seen_is_a_gap),
        cmocka_unit_test (test_sync_does_not_hide_a_gap),
        cmocka_unit_test (test_link_drop_keeps_detecting_and_repairs_at_the_sync),
        cmocka_unit_test (test_audit_finds_trailing_drops),
        cmocka_unit_test (test_new_epoch),
        cmocka_unit_test (test_other_chain_moves_nothing_but_the_epoch),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
