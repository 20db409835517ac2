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

static void
test_stream_topics (void **state)
{
    char t [HP_TOPIC_MAX];
    hp_stream_t st = hp_stream_channel ("order:17", 8), back;
    size_t n = hp_topic_stream (t, &st);
    //  "c:" + name + NUL; "b:" + NUL; a user stream is the user topic.
    assert_int_equal (n, 11);
    assert_memory_equal (t, "c:order:17\0", 11);
    assert_int_equal (hp_topic_parse_stream (t, n, &back), 0);
    assert_int_equal (back.kind, HP_STREAM_CHANNEL);
    assert_true (back.name.len == 8 && back.name.ptr == t + 2);
    st = hp_stream_broadcast ();
    n = hp_topic_stream (t, &st);
    assert_int_equal (n, 3);
    assert_memory_equal (t, "b:\0", 3);
    assert_int_equal (hp_topic_parse_stream (t, n, &back), 0);
    assert_int_equal (back.kind, HP_STREAM_BROADCAST);
    st = hp_stream_user ("bob", 3);
    n = hp_topic_stream (t, &st);
    assert_memory_equal (t, "u:bob\0", 6);
    assert_int_equal (hp_topic_parse_stream (t, n, &back), 0);
    assert_true (back.kind == HP_STREAM_USER && back.name.len == 3);
    //  A channel topic never prefix-matches another channel's or a user's.
    char a [HP_TOPIC_MAX], b [HP_TOPIC_MAX];
    hp_stream_t sa = hp_stream_channel ("x", 1), sb = hp_stream_channel ("xy", 2);
    size_t na = hp_topic_stream (a, &sa), nb = hp_topic_stream (b, &sb);
    assert_false (s_prefix_matches (a, na, b, nb));
    //  Bad names get no topic; malformed topics do not parse.
    st = hp_stream_channel ("a b", 3);
    assert_int_equal (hp_topic_stream (t, &st), 0);
    char name [HP_CHANNEL_MAX + 1];
    memset (name, 'c', sizeof name);
    st = hp_stream_channel (name, HP_CHANNEL_MAX + 1);
    assert_int_equal (hp_topic_stream (t, &st), 0);
    st = hp_stream_channel (name, HP_CHANNEL_MAX);
    assert_int_equal (hp_topic_stream (t, &st), HP_TOPIC_MAX);
    assert_int_equal (hp_topic_parse_stream ("c:\0", 3, &back), -1);
    assert_int_equal (hp_topic_parse_stream ("c:a b\0", 6, &back), -1);
    assert_int_equal (hp_topic_parse_stream ("c:ab", 4, &back), -1);
    assert_int_equal (hp_topic_parse_stream ("b:x\0", 4, &back), -1);
    assert_int_equal (hp_topic_parse_stream ("m:\0", 3, &back), -1);
}

static void
test_presence_topics (void **state)
{
    char t [HP_TOPIC_PRESENCE_MAX];
    size_t n = hp_topic_presence (t, "board", 5, "alice", 5, 0xabULL, 0x1234ULL);
    //  "p:" + channel + NUL + user + NUL + 16 + 16 hex digits.
    assert_int_equal (n, 2 + 5 + 1 + 5 + 1 + 32);
    assert_memory_equal (t, "p:board\0alice\0" "00000000000000ab" "0000000000001234", n);
    hp_str_t channel, user, id;
    assert_int_equal (hp_topic_parse_presence (t, n, &channel, &user, &id), 0);
    assert_true (channel.len == 5 && memcmp (channel.ptr, "board", 5) == 0);
    assert_true (user.len == 5 && memcmp (user.ptr, "alice", 5) == 0);
    assert_true (id.len == 32 && id.ptr == t + n - 32);
    //  The longest fits HP_TOPIC_PRESENCE_MAX.
    char c [HP_CHANNEL_MAX], u [HP_USER_MAX];
    memset (c, 'c', sizeof c);
    memset (u, 'u', sizeof u);
    assert_int_equal (hp_topic_presence (t, c, sizeof c, u, sizeof u, 1, 2), HP_TOPIC_PRESENCE_MAX);
    assert_int_equal (hp_topic_parse_presence (t, HP_TOPIC_PRESENCE_MAX, &channel, &user, &id), 0);
    //  Bad parts: no topic, or no parse.
    assert_int_equal (hp_topic_presence (t, "a b", 3, "alice", 5, 1, 2), 0);
    assert_int_equal (hp_topic_presence (t, "board", 5, "", 0, 1, 2), 0);
    n = hp_topic_presence (t, "board", 5, "alice", 5, 1, 2);
    assert_int_equal (hp_topic_parse_presence (t, n - 1, &channel, &user, &id), -1);
    t [n - 1] = 'g';
    assert_int_equal (hp_topic_parse_presence (t, n, &channel, &user, &id), -1);
    assert_int_equal (hp_topic_parse_presence ("p:board\0alice", 13, &channel, &user, &id), -1);
    assert_int_equal (hp_topic_parse_presence ("u:alice\0", 8, &channel, &user, &id), -1);
    //  A user part holding a NUL (three parts) does not parse.
    n = hp_topic_presence (t, "board", 5, "al", 2, 1, 2);
    char three [64];
    memcpy (three, t, 10);          //  "p:board\0al"
    three [10] = 0;
    memcpy (three + 11, t + 10, n - 10);
    assert_int_equal (hp_topic_parse_presence (three, n + 1, &channel, &user, &id), -1);
}

static void
test_stream_keys (void **state)
{
    char key [HP_STREAM_KEY_MAX];
    hp_stream_t st = hp_stream_channel ("board", 5), back;
    //  0x01 + name for a channel, 0x02 for broadcast, the id for a user.
    assert_int_equal (hp_stream_key (key, &st), 6);
    assert_memory_equal (key, "\x01" "board", 6);
    assert_int_equal (hp_stream_from_key (key, 6, &back), 0);
    assert_true (back.kind == HP_STREAM_CHANNEL && back.name.len == 5);
    st = hp_stream_broadcast ();
    assert_int_equal (hp_stream_key (key, &st), 1);
    assert_int_equal (key [0], 2);
    assert_int_equal (hp_stream_from_key (key, 1, &back), 0);
    assert_int_equal (back.kind, HP_STREAM_BROADCAST);
    st = hp_stream_user ("alice", 5);
    assert_int_equal (hp_stream_key (key, &st), 5);
    assert_int_equal (hp_stream_from_key ("alice", 5, &back), 0);
    assert_int_equal (back.kind, HP_STREAM_USER);
    //  Invalid keys: broadcast with a name, a bad channel, control bytes.
    assert_int_equal (hp_stream_from_key ("\x02x", 2, &back), -1);
    assert_int_equal (hp_stream_from_key ("\x01", 1, &back), -1);
    assert_int_equal (hp_stream_from_key ("\x01" "a b", 4, &back), -1);
    assert_int_equal (hp_stream_from_key ("\x03x", 2, &back), -1);
    assert_int_equal (hp_stream_from_key ("", 0, &back), -1);
    char name [HP_CHANNEL_MAX];
    memset (name, 'n', sizeof name);
    st = hp_stream_channel (name, sizeof name);
    assert_int_equal (hp_stream_key (key, &st), HP_STREAM_KEY_MAX);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_stream_topics),
        cmocka_unit_test (test_presence_topics),
        cmocka_unit_test (test_stream_keys),
        cmocka_unit_test (test_topic_layout),
        cmocka_unit_test (test_topic_isolation),
        cmocka_unit_test (test_topic_bounds),
        cmocka_unit_test (test_topic_parse),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
