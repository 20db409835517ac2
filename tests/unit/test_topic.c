/* test_topic.c -- unit tests for proto/topic.c: per-user topics and isolation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "topic.h"

//  ZeroMQ SUB matching is a byte prefix test; this is the same test.
static int
s_prefix_matches (const char *sub, size_t sub_len, const char *topic, size_t topic_len)
{
    return sub_len <= topic_len && memcmp (sub, topic, sub_len) == 0;
}

static void
test_topic_layout (void **state)
{
    char t [HP_TOPIC_MAX];
    size_t n = hp_topic_user (t, "alice", 5);
    //  "u:" + id + one NUL.
    assert_int_equal (n, 8);
    assert_memory_equal (t, "u:alice\0", 8);
}

static void
test_topic_isolation (void **state)
{
    char alice [HP_TOPIC_MAX], alice2 [HP_TOPIC_MAX];
    size_t a = hp_topic_user (alice, "alice", 5);
    size_t a2 = hp_topic_user (alice2, "alice2", 6);
    //  alice's subscription does not receive alice2's messages and vice
    //  versa: the trailing NUL stops the prefix match.
    assert_false (s_prefix_matches (alice, a, alice2, a2));
    assert_false (s_prefix_matches (alice2, a2, alice, a));
    //  Each still matches its own topic.
    assert_true (s_prefix_matches (alice, a, alice, a));
}

static void
test_topic_bounds (void **state)
{
    char t [HP_TOPIC_MAX];
    char id [HP_USER_MAX + 1];
    memset (id, 'x', sizeof id);
    //  Empty and 129-byte ids get no topic; 128 bytes fit HP_TOPIC_MAX.
    assert_int_equal (hp_topic_user (t, id, 0), 0);
    assert_int_equal (hp_topic_user (t, id, HP_USER_MAX + 1), 0);
    assert_int_equal (hp_topic_user (t, id, HP_USER_MAX), HP_TOPIC_MAX);
    //  An embedded NUL would break isolation, so it is refused too.
    assert_int_equal (hp_topic_user (t, "al\0ce", 5), 0);
}

static void
test_topic_parse (void **state)
{
    char t [HP_TOPIC_MAX];
    hp_str_t user;
    size_t n = hp_topic_user (t, "bob", 3);
    //  Parsing gives back the id, pointing into the topic.
    assert_int_equal (hp_topic_parse_user (t, n, &user), 0);
    assert_int_equal (user.len, 3);
    assert_memory_equal (user.ptr, "bob", 3);
    assert_ptr_equal (user.ptr, t + 2);
    //  Malformed topics: no NUL, wrong prefix, empty id, inner NUL, too long.
    assert_int_equal (hp_topic_parse_user ("u:bob", 5, &user), -1);
    assert_int_equal (hp_topic_parse_user ("x:bob\0", 6, &user), -1);
    assert_int_equal (hp_topic_parse_user ("u:\0", 3, &user), -1);
    assert_int_equal (hp_topic_parse_user ("u:b\0b\0", 6, &user), -1);
    assert_int_equal (hp_topic_parse_user ("u", 1, &user), -1);
    char big [HP_TOPIC_MAX + 1];
    memset (big, 'y', sizeof big);
    memcpy (big, "u:", 2);
    big [sizeof big - 1] = 0;
    assert_int_equal (hp_topic_parse_user (big, sizeof big, &user), -1);
    big [sizeof big - 2] = 0;
    assert_int_equal (hp_topic_parse_user (big, sizeof big - 1, &user), 0);
    assert_int_equal (user.len, HP_USER_MAX);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_topic_layout),
        cmocka_unit_test (test_topic_isolation),
        cmocka_unit_test (test_topic_bounds),
        cmocka_unit_test (test_topic_parse),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
