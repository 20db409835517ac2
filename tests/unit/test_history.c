/* test_history.c -- history bounds (count, bytes, ttl), sharing, lost_upto, floor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "history.h"
#include "umap.h"

/* Each test event's accept time, from its offset, so that a check can
 * tell it came back with the event. */
#include "event_meta.h"

#define S_AT(offset) (1764720000000000ULL + (offset))

#define BIG ((size_t) 1 << 30)

static hb_key_t
s_key (const char *user)
{
    return (hb_key_t) { user, strlen (user), hb_hash (user, strlen (user)) };
}

/* Stores event `offset` for the given users with a small JSON frame. */
static int
s_append (hb_history_t *h, uint64_t offset, uint32_t ttl, uint64_t now,
          const char *u1, const char *u2)
{
    char json[64];
    int n = snprintf (json, sizeof json, "{\"offset\":%llu}", (unsigned long long) offset);
    hb_key_t keys[2] = { s_key (u1), u2 ? s_key (u2) : s_key ("") };
    zmq_msg_t frame;
    zmq_msg_init_size (&frame, (size_t) n);
    memcpy (zmq_msg_data (&frame), json, (size_t) n);
    hp_event_meta_t meta = s_meta_of (offset);
    int rc = hb_history_append (h, offset, ttl, now, S_AT (offset), &meta, &frame, keys, u2 ? 2 : 1);
    zmq_msg_close (&frame);   /* the history holds its own reference */
    return rc;
}

static size_t
s_collect (hb_history_t *h, const char *user, uint64_t after, uint64_t now,
           hb_history_item_t *items, uint64_t *lost)
{
    return hb_history_collect (h, user, strlen (user), after, now, items, 1000, lost);
}

/* Events come back in order with their exact frames and accept times; nothing lost means
 * lost_upto is 0 (complete from any offset). */
static void
test_order_and_frames (void **state)
{
    hb_history_t *h = hb_history_new (10, BIG);
    for (uint64_t o = 1; o <= 5; o++)
        assert_int_equal (s_append (h, o, 120, 1000, "alice", NULL), 0);
    hb_history_item_t items[1000];
    uint64_t lost;
    size_t n = s_collect (h, "alice", 2, 1000, items, &lost);
    assert_int_equal (n, 3);
    assert_int_equal (items[0].offset, 3);
    assert_int_equal (items[2].offset, 5);
    assert_int_equal (items[0].len, strlen ("{\"offset\":3}"));
    assert_memory_equal (items[0].json, "{\"offset\":3}", items[0].len);
    /* each event keeps its accept time, for a replay's latency */
    assert_true (items[0].at == S_AT (3) && items[2].at == S_AT (5));
    /* and with their flags, receipt and key, as stored */
    assert_true (s_meta_is (&items[0].meta, 3) && s_meta_is (&items[1].meta, 4)
                 && s_meta_is (&items[2].meta, 5));
    assert_true (items[0].meta.receipt == 4 && items[1].meta.receipt == 0 && items[2].meta.flags == 0);
    assert_int_equal (lost, 0);
    assert_int_equal (hb_history_events (h), 5);
    hb_history_destroy (&h);
    assert_null (h);
}

/* The per-user bound keeps the newest N and reports the newest dropped
 * offset, so a resume from before it is incomplete and one after it is not. */
static void
test_count_bound (void **state)
{
    hb_history_t *h = hb_history_new (3, BIG);
    for (uint64_t o = 1; o <= 5; o++)
        s_append (h, o, 120, 1000, "alice", NULL);
    hb_history_item_t items[1000];
    uint64_t lost;
    size_t n = s_collect (h, "alice", 0, 1000, items, &lost);
    assert_int_equal (n, 3);
    assert_int_equal (items[0].offset, 3);
    assert_int_equal (lost, 2);
    assert_int_equal (hb_history_evicted (h, HB_EVICT_COUNT), 2);
    assert_int_equal (hb_history_events (h), 3);   /* dropped records freed */
    hb_history_destroy (&h);
}

/* One record is shared by its recipients: bob's ring keeps event 1 after
 * alice's bound pushed it out of hers, and bob's lost_upto is untouched. */
static void
test_shared_event_survives_one_ring (void **state)
{
    hb_history_t *h = hb_history_new (2, BIG);
    s_append (h, 1, 120, 1000, "alice", "bob");
    s_append (h, 2, 120, 1000, "alice", NULL);
    s_append (h, 3, 120, 1000, "alice", NULL);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (h, "bob", 0, 1000, items, &lost), 1);
    assert_int_equal (items[0].offset, 1);
    assert_int_equal (lost, 0);
    assert_int_equal (s_collect (h, "alice", 0, 1000, items, &lost), 2);
    assert_int_equal (lost, 1);
    assert_int_equal (hb_history_events (h), 3);
    hb_history_destroy (&h);
}

/* The byte bound evicts the globally oldest events, never exceeds the bound
 * after an append, and marks the loss for every recipient. */
static void
test_byte_bound (void **state)
{
    hb_history_t *h = hb_history_new (1000, 4096);
    for (uint64_t o = 1; o <= 200; o++) {
        s_append (h, o, 120, 1000, o % 2 ? "alice" : "bob", NULL);
        assert_true (hb_history_bytes (h) <= 4096);
    }
    assert_true (hb_history_evicted (h, HB_EVICT_BYTES) > 0);
    hb_history_item_t items[1000];
    uint64_t lost;
    size_t n = s_collect (h, "alice", 0, 1000, items, &lost);
    assert_true (n > 0 && n < 100);
    assert_true (lost > 0);
    assert_true (items[0].offset > lost);         /* nothing kept at or below the loss */
    assert_int_equal (items[n - 1].offset, 199);  /* the newest stays */
    hb_history_destroy (&h);
}

/* ttl 0 stores nothing and counts as no loss. */
static void
test_ttl_zero_not_stored (void **state)
{
    hb_history_t *h = hb_history_new (10, BIG);
    s_append (h, 1, 0, 1000, "alice", NULL);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (h, "alice", 0, 1000, items, &lost), 0);
    assert_int_equal (lost, 0);
    assert_int_equal (hb_history_events (h), 0);
    hb_history_destroy (&h);
}

/* An event is readable until its ttl runs out; after that a resume sees it
 * as lost even before the sweep, and the sweep frees it and counts it. */
static void
test_ttl_expiry (void **state)
{
    hb_history_t *h = hb_history_new (10, BIG);
    hb_history_sweep (h, 100);
    s_append (h, 1, 5, 100, "alice", NULL);
    s_append (h, 2, 60, 100, "alice", NULL);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (h, "alice", 0, 104, items, &lost), 2);
    assert_int_equal (lost, 0);
    assert_int_equal (s_collect (h, "alice", 0, 105, items, &lost), 1);
    assert_int_equal (lost, 1);
    hb_history_sweep (h, 105);
    assert_int_equal (hb_history_events (h), 1);
    assert_int_equal (hb_history_evicted (h, HB_EVICT_TTL), 1);
    assert_int_equal (s_collect (h, "alice", 1, 105, items, &lost), 1);
    assert_int_equal (lost, 1);   /* complete after 1, incomplete before */
    hb_history_destroy (&h);
}

/* A short-lived event between two long-lived ones leaves from the middle of
 * the ring; order and the others stay intact. */
static void
test_ttl_middle_removal (void **state)
{
    hb_history_t *h = hb_history_new (10, BIG);
    hb_history_sweep (h, 100);
    s_append (h, 1, 100, 100, "alice", NULL);
    s_append (h, 2, 1, 100, "alice", NULL);
    s_append (h, 3, 100, 100, "alice", NULL);
    hb_history_sweep (h, 101);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (h, "alice", 0, 101, items, &lost), 2);
    assert_int_equal (items[0].offset, 1);
    assert_int_equal (items[1].offset, 3);
    assert_int_equal (lost, 2);
    hb_history_destroy (&h);
}

/* A sweep after a gap longer than the wheel still finds everything due. */
static void
test_sweep_after_long_gap (void **state)
{
    hb_history_t *h = hb_history_new (10, BIG);
    hb_history_sweep (h, 10);
    s_append (h, 1, 3, 10, "alice", NULL);
    s_append (h, 2, 2000, 10, "alice", NULL);
    hb_history_sweep (h, 5000);
    assert_int_equal (hb_history_events (h), 0);
    assert_int_equal (hb_history_evicted (h, HB_EVICT_TTL), 2);
    hb_history_destroy (&h);
}

/* When a user's record is dropped entirely (idle, then byte pressure), its
 * lost_upto becomes a floor: a user without a record answers the floor, so
 * no resume from below it claims to be complete. */
static void
test_floor_after_record_dropped (void **state)
{
    hb_history_t *h = hb_history_new (1000, 2048);
    hb_history_sweep (h, 100);
    s_append (h, 1, 1, 100, "carol", NULL);
    hb_history_sweep (h, 101);                    /* carol's event expires: idle */
    assert_int_equal (hb_history_events (h), 0);
    hb_history_item_t items[1000];
    uint64_t lost;
    s_collect (h, "carol", 0, 101, items, &lost);
    assert_int_equal (lost, 1);                   /* idle record remembers */
    for (uint64_t o = 2; o <= 100; o++)           /* pressure drops carol's record */
        s_append (h, o, 120, 101, "dave", NULL);
    s_collect (h, "carol", 0, 101, items, &lost);
    assert_true (lost >= 1);
    s_collect (h, "nobody", 0, 101, items, &lost);
    assert_true (lost >= 1);
    hb_history_destroy (&h);
}

/* An event count-evicted from one user whose record is then dropped must not
 * leave a dangling recipient behind when the event itself is evicted later
 * (AddressSanitizer checks this path). */
static void
test_no_dangling_recipient (void **state)
{
    hb_history_t *h = hb_history_new (1, 1500);
    hb_history_sweep (h, 100);
    s_append (h, 1, 120, 100, "erin", "frank");   /* shared */
    s_append (h, 2, 1, 100, "erin", NULL);        /* pushes 1 out of erin's ring */
    hb_history_sweep (h, 101);                    /* 2 expires: erin idle */
    char user[32];
    for (uint64_t o = 3; o <= 60; o++) {          /* drops erin, then evicts 1 */
        snprintf (user, sizeof user, "gina-%llu", (unsigned long long) o);
        s_append (h, o, 120, 101, user, NULL);
    }
    hb_history_item_t items[1000];
    uint64_t lost;
    s_collect (h, "frank", 0, 101, items, &lost);
    assert_true (lost >= 1);
    hb_history_destroy (&h);
}

/* Two streams collected together (a user's and the broadcast stream's)
 * come back merged in offset order, skipping what is at or before the
 * offset, and lost_upto is the higher of the two: a trimmed broadcast
 * makes the user's resume incomplete. With one stream unknown, the floor
 * stands in for it. */
static void
test_collect_streams_merges (void **state)
{
    hb_history_t *h = hb_history_new (2, BIG);
    const char *bc = "\x02";
    s_append (h, 1, 120, 1000, bc, NULL);      /* leaves with 4 */
    s_append (h, 2, 120, 1000, "alice", NULL);
    s_append (h, 3, 120, 1000, bc, NULL);
    s_append (h, 4, 120, 1000, bc, NULL);
    s_append (h, 5, 120, 1000, "alice", NULL);
    hb_key_t keys[2] = { s_key ("alice"), s_key (bc) };
    hb_history_item_t items[8];
    uint64_t lost;
    size_t n = hb_history_collect_streams (h, keys, 2, 0, 1000, items, 8, &lost);
    assert_int_equal (n, 4);
    uint64_t want[] = { 2, 3, 4, 5 };
    for (size_t i = 0; i < n; i++)
        assert_int_equal (items[i].offset, want[i]);
    assert_int_equal (lost, 1);
    n = hb_history_collect_streams (h, keys, 2, 3, 1000, items, 8, &lost);
    assert_int_equal (n, 2);
    assert_int_equal (items[0].offset, 4);
    assert_int_equal (items[1].offset, 5);
    /* the newest per stream: what the router's broadcast prev starts from */
    assert_int_equal (hb_history_newest (h, &keys[1]), 4);
    hb_key_t none = s_key ("\x01nochannel");
    assert_int_equal (hb_history_newest (h, &none), 0);
    /* a stream without a record: the floor (0 here) */
    keys[1] = none;
    n = hb_history_collect_streams (h, keys, 2, 0, 1000, items, 8, &lost);
    assert_int_equal (n, 2);
    assert_int_equal (lost, 0);
    hb_history_destroy (&h);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_order_and_frames),
        cmocka_unit_test (test_count_bound),
        cmocka_unit_test (test_shared_event_survives_one_ring),
        cmocka_unit_test (test_byte_bound),
        cmocka_unit_test (test_ttl_zero_not_stored),
        cmocka_unit_test (test_ttl_expiry),
        cmocka_unit_test (test_ttl_middle_removal),
        cmocka_unit_test (test_sweep_after_long_gap),
        cmocka_unit_test (test_floor_after_record_dropped),
        cmocka_unit_test (test_no_dangling_recipient),
        cmocka_unit_test (test_collect_streams_merges),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
