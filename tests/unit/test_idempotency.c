/* test_idempotency.c -- the window of idempotency keys: duplicates within it, expiry, the byte bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "idempotency.h"

static bool
s_claim (hb_idem_t *w, const char *key, uint64_t offset, uint64_t now, uint64_t *original)
{
    return hb_idem_claim (w, key, strlen (key), offset, now, original);
}

/* A key accepted once is a duplicate for the rest of its window, answered
 * with the first offset; other keys are not. */
static void
test_duplicate_within_window (void **state)
{
    hb_idem_t *w = hb_idem_new (300, 1 << 20);
    assert_non_null (w);
    uint64_t original = 0;
    assert_false (s_claim (w, "order-17-bid-3", 41, 1000, &original));
    assert_true (s_claim (w, "order-17-bid-3", 99, 1000, &original));
    assert_int_equal (original, 41);
    assert_true (s_claim (w, "order-17-bid-3", 100, 1299, &original));
    assert_int_equal (original, 41);
    assert_false (s_claim (w, "order-17-bid-4", 42, 1001, &original));
    hb_idem_stats_t st;
    hb_idem_stats (w, &st);
    assert_int_equal (st.keys, 2);
    assert_int_equal (st.evicted, 0);
    hb_idem_destroy (&w);
    assert_null (w);
}

/* After its window a key is new again (a new window, the new offset);
 * the sweep gives the memory of ended windows back. */
static void
test_window_ends (void **state)
{
    hb_idem_t *w = hb_idem_new (300, 1 << 20);
    uint64_t original = 0;
    assert_false (s_claim (w, "k", 1, 1000, NULL));
    assert_false (s_claim (w, "k", 2, 1300, &original));
    assert_true (s_claim (w, "k", 3, 1301, &original));
    assert_int_equal (original, 2);
    assert_false (s_claim (w, "other", 4, 1400, NULL));
    hb_idem_sweep (w, 1600);          /* "k" (from 1300) ended, "other" has not */
    hb_idem_stats_t st;
    hb_idem_stats (w, &st);
    assert_int_equal (st.keys, 1);
    hb_idem_sweep (w, 1700);
    hb_idem_stats (w, &st);
    assert_int_equal (st.keys, 0);
    assert_int_equal (st.bytes, 0);
    hb_idem_destroy (&w);
}

/* The byte bound: the oldest keys leave first, before their window ends,
 * and each is counted; the bytes never pass the bound. */
static void
test_byte_bound_evicts_oldest (void **state)
{
    size_t bound = 10 * (HB_IDEM_ENTRY_OVERHEAD + 8);
    hb_idem_t *w = hb_idem_new (300, bound);
    char key[16];
    for (int i = 0; i < 25; i++) {
        snprintf (key, sizeof key, "key-%04d", i);    /* 8 bytes */
        assert_false (s_claim (w, key, (uint64_t) i + 1, 1000, NULL));
    }
    hb_idem_stats_t st;
    hb_idem_stats (w, &st);
    assert_int_equal (st.keys, 10);
    assert_int_equal (st.evicted, 15);
    assert_true (st.bytes <= bound);
    uint64_t original = 0;
    assert_false (s_claim (w, "key-0000", 100, 1000, &original));   /* evicted: new again */
    assert_true (s_claim (w, "key-0024", 101, 1000, &original));
    assert_int_equal (original, 25);
    hb_idem_destroy (&w);
}

/* Window 0 turns the feature off: nothing is kept, nothing is a duplicate. */
static void
test_window_off (void **state)
{
    hb_idem_t *w = hb_idem_new (0, 1 << 20);
    assert_false (s_claim (w, "k", 1, 10, NULL));
    assert_false (s_claim (w, "k", 2, 10, NULL));
    hb_idem_stats_t st;
    hb_idem_stats (w, &st);
    assert_int_equal (st.keys, 0);
    hb_idem_destroy (&w);
    hb_idem_destroy (&w);              /* NULL is fine */
}

/* Keys are bytes: 128-byte keys and keys differing only past the 32 bytes
 * the map keeps inline are told apart. */
static void
test_long_keys (void **state)
{
    hb_idem_t *w = hb_idem_new (60, 1 << 20);
    char a[129], b[129];
    memset (a, 'x', 128);
    memcpy (b, a, 128);
    a[128] = b[128] = '\0';
    b[127] = 'y';
    uint64_t original = 0;
    assert_false (s_claim (w, a, 1, 5, NULL));
    assert_false (s_claim (w, b, 2, 5, NULL));
    assert_true (s_claim (w, b, 3, 5, &original));
    assert_int_equal (original, 2);
    hb_idem_destroy (&w);
}

/* What the hooks saw (idem_store.c mirrors the window through them). */
typedef struct {
    int  kept, dropped;
    char last_kept[32], last_dropped[32];
    uint64_t last_offset, last_age;
} s_seen_t;

static void
s_keep (void *arg, const char *key, size_t len, uint64_t offset, uint64_t age_s)
{
    s_seen_t *seen = arg;
    seen->kept++;
    seen->last_age = age_s;
    snprintf (seen->last_kept, sizeof seen->last_kept, "%.*s", (int) len, key);
    seen->last_offset = offset;
}

static void
s_drop (void *arg, const char *key, size_t len)
{
    s_seen_t *seen = arg;
    seen->dropped++;
    snprintf (seen->last_dropped, sizeof seen->last_dropped, "%.*s", (int) len, key);
}

/* keep for each key claim remembers (not for duplicates), drop for each
 * key that leaves by its window or the byte bound, none at destroy. */
static void
test_hooks (void **state)
{
    hb_idem_t *w = hb_idem_new (10, 1 << 20);
    s_seen_t seen = { 0 };
    hb_idem_set_hooks (w, &(hb_idem_hooks_t) { &seen, s_keep, s_drop });
    assert_false (s_claim (w, "a", 1, 100, NULL));
    assert_true (s_claim (w, "a", 2, 101, NULL));
    assert_false (s_claim (w, "b", 3, 105, NULL));
    assert_int_equal (seen.kept, 2);
    assert_string_equal (seen.last_kept, "b");
    assert_int_equal (seen.last_offset, 3);
    hb_idem_sweep (w, 110);                 /* a's window ends */
    assert_int_equal (seen.dropped, 1);
    assert_string_equal (seen.last_dropped, "a");
    hb_idem_destroy (&w);
    assert_int_equal (seen.dropped, 1);
}

/* Restored keys are duplicates for what is left of their window, oldest
 * first; one older than the window is not kept; restore calls no keep. */
static void
test_restore (void **state)
{
    hb_idem_t *w = hb_idem_new (300, 1 << 20);
    s_seen_t seen = { 0 };
    hb_idem_set_hooks (w, &(hb_idem_hooks_t) { &seen, s_keep, s_drop });
    assert_false (hb_idem_restore (w, "old", 3, 5, 300, 1000));
    assert_true (hb_idem_restore (w, "k1", 2, 7, 290, 1000));
    assert_true (hb_idem_restore (w, "k2", 2, 8, 10, 1000));
    assert_int_equal (seen.kept, 0);
    uint64_t original = 0;
    assert_true (s_claim (w, "k1", 50, 1005, &original));
    assert_int_equal (original, 7);
    assert_false (s_claim (w, "k1", 51, 1010, &original));   /* 290 + 10 s: its window ended */
    assert_int_equal (seen.dropped, 1);
    assert_true (s_claim (w, "k2", 52, 1200, &original));
    assert_int_equal (original, 8);
    hb_idem_destroy (&w);
    /* a clock younger than the age (a reboot) clamps at 0: kept, not
     * wrapped, its window ending at 300 */
    w = hb_idem_new (300, 1 << 20);
    assert_true (hb_idem_restore (w, "k3", 2, 9, 200, 50));
    assert_true (s_claim (w, "k3", 60, 299, &original));
    assert_false (s_claim (w, "k3", 61, 300, &original));
    hb_idem_destroy (&w);
}

/* The catch-up's cursor: oldest first, each key with its offset and age;
 * keys leaving from the head (the sweep) do not break it, keys accepted
 * meanwhile extend it, an expired key not yet swept is skipped. */
static void
test_cursor (void **state)
{
    hb_idem_t *w = hb_idem_new (300, 1 << 20);
    hb_idem_key_t k;
    assert_false (hb_idem_cursor_next (w, 100, &k));      /* not started */
    s_claim (w, "a", 1, 100, NULL);
    s_claim (w, "b", 2, 110, NULL);
    s_claim (w, "c", 3, 120, NULL);
    hb_idem_cursor_start (w);
    assert_true (hb_idem_cursor_next (w, 130, &k));
    assert_int_equal (k.len, 1);
    assert_memory_equal (k.key, "a", 1);
    assert_int_equal (k.offset, 1);
    assert_int_equal (k.age, 30);
    hb_idem_sweep (w, 400);               /* a (the key just given) leaves */
    s_claim (w, "d", 4, 405, NULL);
    const char *want[] = { "b", "c", "d" };
    for (int i = 0; i < 3; i++) {
        assert_true (hb_idem_cursor_next (w, 405, &k));
        assert_memory_equal (k.key, want[i], 1);
        assert_int_equal (k.offset, 2 + i);
    }
    assert_false (hb_idem_cursor_next (w, 405, &k));      /* at the youngest */
    s_claim (w, "e", 5, 406, NULL);
    assert_true (hb_idem_cursor_next (w, 406, &k));        /* accepted since: given */
    assert_memory_equal (k.key, "e", 1);
    assert_false (hb_idem_cursor_next (w, 406, &k));
    /* from the start again at 415: b's window ended, not swept: skipped */
    hb_idem_cursor_start (w);
    assert_true (hb_idem_cursor_next (w, 415, &k));
    assert_memory_equal (k.key, "c", 1);
    hb_idem_cursor_stop (w);
    assert_false (hb_idem_cursor_next (w, 415, &k));
    hb_idem_destroy (&w);
}

/* A passive learns its active's keys with their age: duplicates for what
 * is left of each window, told to the keep hook with that age; clear
 * drops every key through the drop hook. */
static void
test_learn_and_clear (void **state)
{
    hb_idem_t *w = hb_idem_new (300, 1 << 20);
    s_seen_t seen = { 0 };
    hb_idem_set_hooks (w, &(hb_idem_hooks_t) { &seen, s_keep, s_drop });
    assert_false (hb_idem_learn (w, "late", 4, 1, 300, 1000));    /* its window is over */
    assert_true (hb_idem_learn (w, "b", 1, 2, 10, 1000));
    assert_int_equal (seen.kept, 1);
    assert_int_equal (seen.last_age, 10);
    assert_true (hb_idem_learn (w, "b", 1, 2, 10, 1000));         /* held already */
    assert_int_equal (seen.kept, 1);
    s_claim (w, "c", 3, 1001, NULL);
    assert_int_equal (seen.last_age, 0);
    uint64_t original = 0;
    assert_true (s_claim (w, "b", 9, 1289, &original));
    assert_int_equal (original, 2);
    hb_idem_clear (w);
    assert_int_equal (seen.dropped, 2);
    hb_idem_stats_t st;
    hb_idem_stats (w, &st);
    assert_int_equal (st.keys, 0);
    assert_int_equal (st.bytes, 0);
    assert_false (s_claim (w, "c", 10, 1002, NULL));              /* gone: routed again */
    hb_idem_destroy (&w);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_duplicate_within_window),
        cmocka_unit_test (test_window_ends),
        cmocka_unit_test (test_byte_bound_evicts_oldest),
        cmocka_unit_test (test_window_off),
        cmocka_unit_test (test_long_keys),
        cmocka_unit_test (test_hooks),
        cmocka_unit_test (test_restore),
        cmocka_unit_test (test_cursor),
        cmocka_unit_test (test_learn_and_clear),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
