/* test_frame.c -- unit tests for proto/frame.c: event and welcome frames. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"
#include "msgpack_build.h"

static msgpack_sbuffer s_sbuf;
static msgpack_packer s_pk;

static void
s_expect (hp_buf_t *out, const char *text)
{
    //  Compare as bytes and print both on mismatch.
    if (out->len != strlen (text) || memcmp (out->data, text, out->len))
        fail_msg ("got %.*s\nwant %s", (int) out->len, out->data, text);
}

static void
test_event_frame (void **state)
{
    hp_envelope_t *env = hp_envelope_new ();
    assert_non_null (env);
    msgpack_sbuffer_init (&s_sbuf);
    msgpack_packer_init (&s_pk, &s_sbuf, msgpack_sbuffer_write);
    //  Keys deliberately out of order in the envelope.
    msgpack_pack_map (&s_pk, 4);
    mpb_str (&s_pk, "id"); mpb_str (&s_pk, "b-991");
    mpb_str (&s_pk, "data"); msgpack_pack_map (&s_pk, 2);
        mpb_str (&s_pk, "amount"); msgpack_pack_int (&s_pk, 120);
        mpb_str (&s_pk, "vendor"); mpb_str (&s_pk, "v7");
    mpb_str (&s_pk, "to"); mpb_str (&s_pk, "alice");
    mpb_str (&s_pk, "event"); mpb_str (&s_pk, "bid");
    assert_int_equal (hp_envelope_decode (env, s_sbuf.data, s_sbuf.size, 65536), HP_ENV_OK);
    hp_buf_t out;
    hp_buf_init (&out, 0);
    assert_int_equal (hp_frame_event (&out, env, 457), 0);
    //  Exactly DESIGN.md's example, keys in the fixed order.
    s_expect (&out, "{\"type\":\"event\",\"event\":\"bid\","
                    "\"data\":{\"amount\":120,\"vendor\":\"v7\"},\"offset\":457,\"id\":\"b-991\"}");

    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_pack_map (&s_pk, 2);
    mpb_str (&s_pk, "event"); mpb_str (&s_pk, "ping");
    mpb_str (&s_pk, "to"); mpb_str (&s_pk, "bob");
    assert_int_equal (hp_envelope_decode (env, s_sbuf.data, s_sbuf.size, 65536), HP_ENV_OK);
    hp_buf_reset (&out);
    assert_int_equal (hp_frame_event (&out, env, 18446744073709551615ULL), 0);
    //  No data becomes null; no id means no "id" key at all.
    s_expect (&out, "{\"type\":\"event\",\"event\":\"ping\",\"data\":null,"
                    "\"offset\":18446744073709551615}");

    //  A frame that does not fit the buffer's limit fails and leaves the
    //  buffer as it was (here: holding "x").
    hp_buf_t small;
    hp_buf_init (&small, 20);
    assert_int_equal (hp_buf_putc (&small, 'x'), 0);
    assert_int_equal (hp_frame_event (&small, env, 1), -1);
    assert_int_equal (small.len, 1);
    hp_buf_free (&small);

    hp_buf_free (&out);
    msgpack_sbuffer_destroy (&s_sbuf);
    hp_envelope_destroy (&env);
    //  destroy nulls the caller's pointer and accepts NULL after.
    assert_null (env);
    hp_envelope_destroy (&env);
}

static void
test_welcome_frame (void **state)
{
    hp_buf_t out;
    hp_buf_init (&out, 0);
    assert_int_equal (hp_frame_welcome (&out, "alice", 5, 0x1234abcdULL, 456, true), 0);
    //  Exactly PROTOCOL.md's shape; epoch as 16 hex digits.
    s_expect (&out, "{\"type\":\"welcome\",\"user\":\"alice\",\"epoch\":\"000000001234abcd\","
                    "\"offset\":456,\"recovered\":true}");
    hp_buf_reset (&out);
    assert_int_equal (hp_frame_welcome (&out, "jo\"e", 4, UINT64_MAX, 0, false), 0);
    //  The user id is JSON-escaped; recovered false.
    s_expect (&out, "{\"type\":\"welcome\",\"user\":\"jo\\\"e\",\"epoch\":\"ffffffffffffffff\","
                    "\"offset\":0,\"recovered\":false}");
    hp_buf_reset (&out);
    //  A channel subscription's welcome: the same shape, naming the channel.
    assert_int_equal (hp_frame_subscribed (&out, "order:17", 8, 0x1234abcdULL, 9, true), 0);
    s_expect (&out, "{\"type\":\"subscribed\",\"channel\":\"order:17\",\"epoch\":\"000000001234abcd\","
                    "\"offset\":9,\"recovered\":true}");
    hp_buf_free (&out);
}

static void
test_channel_and_broadcast_frames (void **state)
{
    hp_envelope_t *env = hp_envelope_new ();
    msgpack_sbuffer_init (&s_sbuf);
    msgpack_packer_init (&s_pk, &s_sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&s_pk, 3);
    mpb_str (&s_pk, "event"); mpb_str (&s_pk, "bid");
    mpb_str (&s_pk, "channel"); mpb_str (&s_pk, "order:17");
    mpb_str (&s_pk, "id"); mpb_str (&s_pk, "x");
    assert_int_equal (hp_envelope_decode (env, s_sbuf.data, s_sbuf.size, 65536), HP_ENV_OK);
    hp_buf_t out;
    hp_buf_init (&out, 0);
    assert_int_equal (hp_frame_event (&out, env, 9), 0);
    //  CHANNELS.md's shape: the channel right after the event name.
    s_expect (&out, "{\"type\":\"event\",\"event\":\"bid\",\"channel\":\"order:17\","
                    "\"data\":null,\"offset\":9,\"id\":\"x\"}");
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_pack_map (&s_pk, 3);
    mpb_str (&s_pk, "event"); mpb_str (&s_pk, "banner");
    mpb_str (&s_pk, "broadcast"); msgpack_pack_true (&s_pk);
    mpb_str (&s_pk, "data"); msgpack_pack_int (&s_pk, 1);
    assert_int_equal (hp_envelope_decode (env, s_sbuf.data, s_sbuf.size, 65536), HP_ENV_OK);
    hp_buf_reset (&out);
    assert_int_equal (hp_frame_event (&out, env, 10), 0);
    s_expect (&out, "{\"type\":\"event\",\"event\":\"banner\",\"broadcast\":true,"
                    "\"data\":1,\"offset\":10}");
    hp_buf_free (&out);
    msgpack_sbuffer_destroy (&s_sbuf);
    hp_envelope_destroy (&env);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_event_frame),
        cmocka_unit_test (test_welcome_frame),
        cmocka_unit_test (test_channel_and_broadcast_frames),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
