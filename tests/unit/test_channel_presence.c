/* test_channel_presence.c -- channel presence from presence topics: users, connections, the bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "channel_presence.h"
#include "topic.h"
#include "../xorshift.h"

/* Builds the presence topic of (channel, user, gateway, connection) and
 * subscribes (sub) or unsubscribes it, as the router does. */
static int
s_topic (hb_chanpres_t *cp, bool sub, const char *channel, const char *user,
         uint64_t gateway, uint64_t conn)
{
    char topic[HP_TOPIC_PRESENCE_MAX];
    size_t len = hp_topic_presence (topic, channel, strlen (channel), user, strlen (user),
                                    gateway, conn);
    assert_true (len > 0);
    hp_str_t c, u, id;
    assert_int_equal (hp_topic_parse_presence (topic, len, &c, &u, &id), 0);
    if (!sub) {
        hb_chanpres_remove (cp, topic, len, c, u);
        return 0;
    }
    return hb_chanpres_add (cp, topic, len, c, u);
}

typedef struct {
    char   names[16][32];
    size_t count;
} s_users_t;

static void
s_collect (void *arg, const char *user, size_t len)
{
    s_users_t *u = arg;
    assert_true (u->count < 16 && len < 32);
    memcpy (u->names[u->count], user, len);
    u->names[u->count++][len] = '\0';
}

static bool
s_has (const s_users_t *u, const char *name)
{
    for (size_t i = 0; i < u->count; i++)
        if (strcmp (u->names[i], name) == 0)
            return true;
    return false;
}

/* Distinct users with their connections counted; a second connection of
 * the same user is one user, two connections; a repeated subscribe of a
 * topic (a gateway's reconnect) counts once; entries leave with their
 * unsubscribe, the user with its last connection, the channel with its
 * last user. Channels do not mix. */
static void
test_users_and_connections (void **state)
{
    hb_chanpres_t *cp = hb_chanpres_new (100);
    assert_non_null (cp);
    assert_int_equal (s_topic (cp, true, "order:17", "alice", 1, 1), 0);
    assert_int_equal (s_topic (cp, true, "order:17", "alice", 1, 2), 0);
    assert_int_equal (s_topic (cp, true, "order:17", "alice", 1, 2), 0);   /* again */
    assert_int_equal (s_topic (cp, true, "order:17", "bob", 2, 1), 0);
    assert_int_equal (s_topic (cp, true, "board", "alice", 1, 1), 0);
    assert_int_equal (hb_chanpres_count (cp), 4);

    s_users_t u = { .count = 0 };
    uint64_t conns;
    assert_int_equal (hb_chanpres_users (cp, "order:17", 8, 16, s_collect, &u, &conns), 2);
    assert_int_equal (conns, 3);
    assert_int_equal (u.count, 2);
    assert_true (s_has (&u, "alice") && s_has (&u, "bob"));

    /* max limits the names given, not the count */
    u.count = 0;
    assert_int_equal (hb_chanpres_users (cp, "order:17", 8, 1, s_collect, &u, &conns), 2);
    assert_int_equal (u.count, 1);

    s_topic (cp, false, "order:17", "alice", 1, 1);
    u.count = 0;
    assert_int_equal (hb_chanpres_users (cp, "order:17", 8, 16, s_collect, &u, &conns), 2);
    assert_int_equal (conns, 2);
    s_topic (cp, false, "order:17", "alice", 1, 2);
    s_topic (cp, false, "order:17", "alice", 1, 2);   /* idempotent */
    u.count = 0;
    assert_int_equal (hb_chanpres_users (cp, "order:17", 8, 16, s_collect, &u, &conns), 1);
    assert_int_equal (conns, 1);
    assert_true (s_has (&u, "bob"));
    s_topic (cp, false, "order:17", "bob", 2, 1);
    assert_int_equal (hb_chanpres_users (cp, "order:17", 8, 16, s_collect, &u, &conns), 0);
    assert_int_equal (conns, 0);
    /* the other channel kept its entry */
    assert_int_equal (hb_chanpres_users (cp, "board", 5, 16, s_collect, &u, &conns), 1);
    assert_int_equal (hb_chanpres_count (cp), 1);
    assert_true (hb_chanpres_exact (cp));
    hb_chanpres_destroy (&cp);
    assert_null (cp);
}

/* Past the bound a subscribe is refused and counted, the answers are not
 * exact while the refused topic is held, and exact again after its
 * unsubscribe; a refused topic accepted later (room came back) leaves the
 * overflow too. Clear forgets everything. */
static void
test_bound_and_exactness (void **state)
{
    hb_chanpres_t *cp = hb_chanpres_new (2);
    assert_int_equal (s_topic (cp, true, "c", "a", 1, 1), 0);
    assert_int_equal (s_topic (cp, true, "c", "b", 1, 2), 0);
    assert_int_equal (s_topic (cp, true, "c", "x", 1, 3), -1);
    assert_int_equal (s_topic (cp, true, "d", "y", 1, 4), -1);
    assert_int_equal (hb_chanpres_refused (cp), 2);
    assert_int_equal (hb_chanpres_overflow (cp), 2);
    assert_false (hb_chanpres_exact (cp));
    uint64_t conns;
    s_users_t u = { .count = 0 };
    /* a refused topic made no member, and no channel for "d" */
    assert_int_equal (hb_chanpres_users (cp, "c", 1, 16, s_collect, &u, &conns), 2);
    assert_int_equal (hb_chanpres_users (cp, "d", 1, 16, s_collect, &u, &conns), 0);
    s_topic (cp, false, "c", "x", 1, 3);
    assert_int_equal (hb_chanpres_overflow (cp), 1);
    s_topic (cp, false, "c", "a", 1, 1);
    assert_int_equal (s_topic (cp, true, "d", "y", 1, 4), 0);   /* fits now */
    assert_int_equal (hb_chanpres_overflow (cp), 0);
    assert_true (hb_chanpres_exact (cp));
    assert_int_equal (hb_chanpres_clear (cp), 0);
    assert_int_equal (hb_chanpres_count (cp), 0);
    assert_int_equal (hb_chanpres_users (cp, "c", 1, 16, s_collect, &u, &conns), 0);
    hb_chanpres_destroy (&cp);
}

/* Random subscribes and unsubscribes over a small universe (3 channels x 4
 * users x 12 connections) against a plain model of what the set must say:
 * held topics under the bound, per channel its distinct users and
 * connections, the refused count, the overflow and exactness (lost for
 * good once more refused topics are held than the overflow can follow). */
#define M_CHANNELS 3
#define M_USERS    4
#define M_CONNS    12
#define M_TOPICS   (M_CHANNELS * M_USERS * M_CONNS)

static void
s_model (size_t bound, bool expect_lost)
{
    static const char *channels[M_CHANNELS] = { "a", "order:17", "room/x" };
    static const char *users[M_USERS] = { "alice", "bob", "carol", "dave" };
    bool held[M_TOPICS] = { false }, over[M_TOPICS] = { false };
    size_t nheld = 0, nover = 0;
    uint64_t refused = 0;
    bool lost = false;
    hb_chanpres_t *cp = hb_chanpres_new (bound);
    bool was_inexact = false, was_exact_again = false;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    for (int step = 0; step < 20000; step++) {
        int t = (int) (xorshift64 (&rng) % M_TOPICS);
        int c = t / (M_USERS * M_CONNS), u = t / M_CONNS % M_USERS;
        bool sub = xorshift64 (&rng) % 2;
        int rc = s_topic (cp, sub, channels[c], users[u], 7, (uint64_t) t);
        if (sub && !held[t]) {
            if (nheld < bound) {
                held[t] = true;
                nheld++;
                if (over[t]) {
                    over[t] = false;
                    nover--;
                }
                assert_int_equal (rc, 0);
            }
            else {
                refused++;
                if (!over[t] && !lost) {
                    if (nover < bound) {
                        over[t] = true;
                        nover++;
                    }
                    else
                        lost = true;
                }
                assert_int_equal (rc, -1);
            }
        }
        else if (!sub && held[t]) {
            held[t] = false;
            nheld--;
        }
        else if (!sub && over[t]) {
            over[t] = false;
            nover--;
        }
        assert_int_equal (hb_chanpres_count (cp), nheld);
        assert_int_equal (hb_chanpres_refused (cp), refused);
        assert_int_equal (hb_chanpres_overflow (cp), nover);
        assert_true (hb_chanpres_exact (cp) == (!lost && nover == 0));
        was_exact_again |= was_inexact && hb_chanpres_exact (cp);
        was_inexact |= !hb_chanpres_exact (cp);
        for (int k = 0; k < M_CHANNELS; k++) {
            uint64_t want_conns = 0;
            size_t want_users = 0;
            for (int v = 0; v < M_USERS; v++) {
                bool any = false;
                for (int n = 0; n < M_CONNS; n++)
                    if (held[(k * M_USERS + v) * M_CONNS + n]) {
                        want_conns++;
                        any = true;
                    }
                want_users += any;
            }
            s_users_t got = { .count = 0 };
            uint64_t conns;
            assert_int_equal (hb_chanpres_users (cp, channels[k], strlen (channels[k]), 16,
                                                 s_collect, &got, &conns), want_users);
            assert_int_equal (conns, want_conns);
            assert_int_equal (got.count, want_users);
        }
    }
    /* what was exercised: the bound, and either the overflow's bound or
     * exactness coming back */
    assert_true (refused > 1000);
    assert_true (expect_lost ? lost : !lost && was_exact_again);
    hb_chanpres_destroy (&cp);
}

static void
test_against_a_model (void **state)
{
    s_model (20, true);     /* more refused topics held than the overflow follows */
    s_model (60, false);    /* the overflow never fills: exactness comes back */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_users_and_connections),
        cmocka_unit_test (test_bound_and_exactness),
        cmocka_unit_test (test_against_a_model),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
