/* test_presence.c -- the presence set and the hash map under it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "presence.h"
#include "umap.h"

static bool
s_online (hb_presence_t *p, const char *user)
{
    return hb_presence_online (p, hb_hash (user, strlen (user)), user, strlen (user));
}

static int
s_add (hb_presence_t *p, const char *user)
{
    return hb_presence_add (p, hb_hash (user, strlen (user)), user, strlen (user));
}

static void
s_remove (hb_presence_t *p, const char *user)
{
    hb_presence_remove (p, hb_hash (user, strlen (user)), user, strlen (user));
}

/* A subscribe makes a user online; an unsubscribe offline; both idempotent. */
static void
test_add_remove (void **state)
{
    hb_presence_t *p = hb_presence_new (100);
    assert_non_null (p);
    assert_false (s_online (p, "alice"));
    assert_int_equal (s_add (p, "alice"), 0);
    assert_int_equal (s_add (p, "alice"), 0);
    assert_true (s_online (p, "alice"));
    assert_int_equal (hb_presence_count (p), 1);
    s_remove (p, "alice");
    s_remove (p, "alice");
    assert_false (s_online (p, "alice"));
    assert_int_equal (hb_presence_count (p), 0);
    hb_presence_destroy (&p);
    assert_null (p);
}

/* "alice" and "alice2" and "alic" are distinct keys (no prefix matching). */
static void
test_distinct_prefixes (void **state)
{
    hb_presence_t *p = hb_presence_new (100);
    s_add (p, "alice2");
    assert_false (s_online (p, "alice"));
    assert_false (s_online (p, "alic"));
    assert_true (s_online (p, "alice2"));
    hb_presence_destroy (&p);
}

/* The set refuses past its bound, counts the refusal and stops being exact. */
static void
test_bound (void **state)
{
    hb_presence_t *p = hb_presence_new (3);
    assert_int_equal (s_add (p, "a"), 0);
    assert_int_equal (s_add (p, "b"), 0);
    assert_int_equal (s_add (p, "c"), 0);
    assert_true (hb_presence_exact (p));
    assert_int_equal (s_add (p, "d"), -1);
    assert_false (s_online (p, "d"));
    assert_int_equal (hb_presence_refused (p), 1);
    assert_false (hb_presence_exact (p));
    hb_presence_destroy (&p);
}

/* Exactness comes back once every refused user has unsubscribed: "d" and
 * "e" are refused (twice for "d", as two gateways would report it), room
 * comes back, "e" is recorded by a later subscribe, "d" unsubscribes. */
static void
test_exact_recovers (void **state)
{
    hb_presence_t *p = hb_presence_new (2);
    assert_int_equal (s_add (p, "a"), 0);
    assert_int_equal (s_add (p, "b"), 0);
    assert_int_equal (s_add (p, "d"), -1);
    assert_int_equal (s_add (p, "d"), -1);
    assert_int_equal (s_add (p, "e"), -1);
    assert_int_equal (hb_presence_refused (p), 3);
    assert_int_equal (hb_presence_overflow (p), 2);
    assert_false (hb_presence_exact (p));
    s_remove (p, "a");                      //  room, but d and e still out there
    assert_false (hb_presence_exact (p));
    assert_int_equal (s_add (p, "e"), 0);   //  e's next subscribe fits
    assert_true (s_online (p, "e"));
    assert_int_equal (hb_presence_overflow (p), 1);
    assert_false (hb_presence_exact (p));
    s_remove (p, "nobody");                 //  an unknown user changes nothing
    assert_int_equal (hb_presence_overflow (p), 1);
    s_remove (p, "d");                      //  d's one unsubscribe
    assert_int_equal (hb_presence_overflow (p), 0);
    assert_true (hb_presence_exact (p));
    assert_int_equal (hb_presence_refused (p), 3);   //  the counter stays cumulative
    hb_presence_destroy (&p);
}

/* Many keys in and out in mixed order: every lookup stays right (exercises
 * growth and backward-shift deletion across probe runs). */
static void
test_many_churn (void **state)
{
    enum { N = 20000 };
    hb_presence_t *p = hb_presence_new (N);
    char user[32];
    for (int i = 0; i < N; i++) {
        snprintf (user, sizeof user, "user-%d", i);
        assert_int_equal (s_add (p, user), 0);
    }
    for (int i = 0; i < N; i += 3) {
        snprintf (user, sizeof user, "user-%d", i);
        s_remove (p, user);
    }
    for (int i = 0; i < N; i++) {
        snprintf (user, sizeof user, "user-%d", i);
        assert_int_equal (s_online (p, user), i % 3 != 0);
    }
    assert_int_equal (hb_presence_count (p), N - (N + 2) / 3);
    hb_presence_destroy (&p);
}

/* Keys with bytes 0x80-0xff and lengths around the 8-byte word boundary hash
 * and compare by their full bytes. */
static void
test_binary_keys (void **state)
{
    hb_umap_t *m = hb_umap_new (64);
    const char *keys[] = { "12345678", "123456789", "1234567", "\xc3\xa9t\xc3\xa9", "" };
    int values[5];
    for (int i = 0; i < 4; i++)
        assert_int_equal (hb_umap_put (m, hb_hash (keys[i], strlen (keys[i])), keys[i],
                                       strlen (keys[i]), &values[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal (hb_umap_get (m, hb_hash (keys[i], strlen (keys[i])), keys[i],
                                       strlen (keys[i])), &values[i]);
    assert_null (hb_umap_get (m, hb_hash ("123456780", 9), "123456780", 9));
    assert_ptr_equal (hb_umap_remove (m, hb_hash ("1234567", 7), "1234567", 7), &values[2]);
    assert_null (hb_umap_get (m, hb_hash ("1234567", 7), "1234567", 7));
    assert_int_equal (hb_umap_count (m), 3);
    hb_umap_destroy (&m);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_add_remove),
        cmocka_unit_test (test_distinct_prefixes),
        cmocka_unit_test (test_bound),
        cmocka_unit_test (test_exact_recovers),
        cmocka_unit_test (test_many_churn),
        cmocka_unit_test (test_binary_keys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
