/* test_control.c -- unit tests for proto/control.c: requests and resume replies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "control.h"
#include "wire.h"
#include "msgpack_build.h"

static msgpack_sbuffer s_sbuf;
static msgpack_packer s_pk;
static hp_control_req_t *s_req;

static int
s_setup (void **state)
{
    msgpack_sbuffer_init (&s_sbuf);
    s_req = hp_control_req_new ();
    return s_req ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hp_control_req_destroy (&s_req);
    msgpack_sbuffer_destroy (&s_sbuf);
    return 0;
}

//  Decodes bytes (s_expect: s_sbuf) and checks the outcome: want_why NULL means success.
static void
s_expect_bytes (const char *bytes, size_t len, const char *want_why)
{
    const char *why = NULL;
    int rc = hp_control_req_decode (s_req, bytes, len, &why);
    if (!want_why) {
        if (rc != 0)
            fail_msg ("expected success, got '%s'", why);
    }
    else {
        if (rc != -1)
            fail_msg ("expected '%s', got success", want_why);
        assert_non_null (why);
        assert_string_equal (why, want_why);
    }
}

static void
s_expect (const char *want_why)
{
    s_expect_bytes (s_sbuf.data, s_sbuf.size, want_why);
}

static void
test_presence (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 3);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "users"); msgpack_pack_array (pk, 2); mpb_str (pk, "alice"); mpb_str (pk, "bob");
    mpb_str (pk, "rid"); msgpack_pack_uint64 (pk, 77);
    //  A presence request lists its users in order and echoes rid.
    s_expect (NULL);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_PRESENCE);
    assert_int_equal (hp_control_req_rid (s_req), 77);
    assert_int_equal (hp_control_req_user_count (s_req), 2);
    hp_str_t u = hp_control_req_user (s_req, 1);
    assert_int_equal (u.len, 3);
    assert_memory_equal (u.ptr, "bob", 3);

    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "users"); msgpack_pack_array (pk, 0);
    //  Empty, missing or non-array users are refused.
    s_expect ("bad users");
    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    s_expect ("bad users");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "users"); mpb_str (pk, "alice");
    s_expect ("bad users");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "users"); msgpack_pack_array (pk, 2); mpb_str (pk, "ok"); mpb_str (pk, "bad\x7f");
    //  One invalid user id (DEL) spoils the request.
    s_expect ("bad users");

    //  10,000 users are accepted and 10,001 refused.
    for (int n = HP_PRESENCE_USERS_MAX; n <= HP_PRESENCE_USERS_MAX + 1; n++) {
        pk = mpb_begin (&s_sbuf, &s_pk, 2);
        mpb_str (pk, "op"); mpb_str (pk, "presence");
        mpb_str (pk, "users"); msgpack_pack_array (pk, (size_t) n);
        for (int i = 0; i < n; i++) {
            char user [16];
            snprintf (user, sizeof user, "u%d", i);
            mpb_str (pk, user);
        }
        s_expect (n == HP_PRESENCE_USERS_MAX ? NULL : "bad users");
    }
    assert_int_equal (hp_control_req_user_count (s_req), 0);
}

static void
test_resume_request (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 6);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    mpb_str (pk, "epoch"); mpb_str (pk, "00000000deadbeef");
    mpb_str (pk, "offset"); msgpack_pack_uint64 (pk, 123);
    mpb_str (pk, "rid"); msgpack_pack_uint64 (pk, 7);
    mpb_str (pk, "unknown"); msgpack_pack_nil (pk);
    //  A full resume request; the unknown key is ignored.
    s_expect (NULL);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_RESUME);
    assert_int_equal (hp_control_req_rid (s_req), 7);
    assert_memory_equal (hp_control_req_user (s_req, 0).ptr, "alice", 5);
    assert_true (hp_control_req_has_position (s_req));
    assert_true (hp_control_req_epoch (s_req) == 0xdeadbeefULL);
    assert_int_equal (hp_control_req_offset (s_req), 123);

    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    //  Without epoch/offset: no position, rid 0.
    s_expect (NULL);
    assert_false (hp_control_req_has_position (s_req));
    assert_int_equal (hp_control_req_rid (s_req), 0);

    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    mpb_str (pk, "epoch"); mpb_str (pk, "00000000deadbeef");
    //  epoch without offset, and offset without epoch, are refused.
    s_expect ("epoch and offset go together");
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    mpb_str (pk, "offset"); msgpack_pack_uint64 (pk, 1);
    s_expect ("epoch and offset go together");

    pk = mpb_begin (&s_sbuf, &s_pk, 4);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    mpb_str (pk, "epoch"); mpb_str (pk, "deadbeef");
    mpb_str (pk, "offset"); msgpack_pack_uint64 (pk, 1);
    //  An epoch that is not 16 hex digits is refused.
    s_expect ("bad epoch");
    pk = mpb_begin (&s_sbuf, &s_pk, 4);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    mpb_str (pk, "epoch"); mpb_str (pk, "00000000deadbeef");
    mpb_str (pk, "offset"); msgpack_pack_int (pk, -1);
    //  A negative offset is refused.
    s_expect ("bad offset");

    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    //  The user is required and must be a valid id.
    s_expect ("bad user");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "");
    s_expect ("bad user");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "user"); mpb_str (pk, "bad\xc2\x85");
    s_expect ("bad user");
}

static void
test_malformed_requests (void **state)
{
    const char *why = NULL;
    //  Not msgpack at all, truncated, or followed by junk.
    assert_int_equal (hp_control_req_decode (s_req, "\xc1", 1, &why), -1);
    assert_string_equal (why, "not msgpack");
    assert_int_equal (hp_control_req_decode (s_req, "", 0, &why), -1);
    assert_string_equal (why, "not msgpack");
    assert_int_equal (hp_control_req_decode (s_req, "\x81\xa2op", 4, &why), -1);
    assert_string_equal (why, "not msgpack");
    //  A valid request with a trailing byte is refused.
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 1);
    mpb_str (pk, "op"); mpb_str (pk, "stats");
    s_expect (NULL);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_STATS);
    msgpack_pack_nil (pk);
    s_expect ("not msgpack");
    //  Not a map.
    assert_int_equal (hp_control_req_decode (s_req, "\x91\x01", 2, &why), -1);
    assert_string_equal (why, "not a map");
    //  No op, a non-str op, an unknown op.
    mpb_begin (&s_sbuf, &s_pk, 0);
    s_expect ("missing op");
    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    mpb_str (pk, "op"); msgpack_pack_int (pk, 1);
    s_expect ("missing op");
    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    mpb_str (pk, "op"); mpb_str (pk, "shutdown");
    s_expect ("unknown op");
    //  rid must be a non-negative integer.
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "stats");
    mpb_str (pk, "rid"); mpb_str (pk, "7");
    s_expect ("bad rid");
    //  disconnect names one valid user.
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "disconnect");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    s_expect (NULL);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_DISCONNECT);
    assert_int_equal (hp_control_req_user (s_req, 0).len, 5);
    assert_false (hp_control_req_has_position (s_req));
    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    mpb_str (pk, "op"); mpb_str (pk, "disconnect");
    s_expect ("bad user");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "disconnect");
    mpb_str (pk, "user"); mpb_str (pk, "");
    s_expect ("bad user");
    //  A NULL why is allowed.
    assert_int_equal (hp_control_req_decode (s_req, "\xc1", 1, NULL), -1);
}

static void
test_resume_request_round_trip (void **state)
{
    hp_buf_t out;
    hp_buf_init (&out, 0);
    //  What the gateway packs, the broker decodes to the same values.
    assert_int_equal (hp_control_pack_resume (&out, 99, "alice", 5, true, 0xfeedULL, 41), 0);
    const char *why = NULL;
    assert_int_equal (hp_control_req_decode (s_req, out.data, out.len, &why), 0);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_RESUME);
    assert_int_equal (hp_control_req_rid (s_req), 99);
    assert_memory_equal (hp_control_req_user (s_req, 0).ptr, "alice", 5);
    assert_true (hp_control_req_has_position (s_req));
    assert_true (hp_control_req_epoch (s_req) == 0xfeedULL);
    assert_int_equal (hp_control_req_offset (s_req), 41);

    hp_buf_reset (&out);
    assert_int_equal (hp_control_pack_resume (&out, 1, "bob", 3, false, 0, 0), 0);
    assert_int_equal (hp_control_req_decode (s_req, out.data, out.len, &why), 0);
    assert_false (hp_control_req_has_position (s_req));
    //  The packed form uses the documented string keys.
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, out.data, out.len, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal (u.data.via.map.size, 3);
    msgpack_unpacked_destroy (&u);

    //  A buffer too small for the request fails and is left unchanged.
    hp_buf_t small;
    hp_buf_init (&small, 10);
    assert_int_equal (hp_control_pack_resume (&small, 1, "bob", 3, true, 1, 1), -1);
    assert_int_equal (small.len, 0);
    hp_buf_free (&small);
    hp_buf_free (&out);
}

static void
test_resume_reply_round_trip (void **state)
{
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_packer_init (&s_pk, &s_sbuf, msgpack_sbuffer_write);
    hp_control_pack_resume_reply_begin (&s_pk, 7, "alice", 5, 0xabcULL, 456, true, 2);
    hp_control_pack_resume_reply_event (&s_pk, 124, "{\"a\":1}", 7);
    hp_control_pack_resume_reply_event (&s_pk, 130, "{\"b\":2}", 7);
    hp_control_pack_resume_reply_at_begin (&s_pk, 2);
    hp_control_pack_resume_reply_at (&s_pk, 0);
    hp_control_pack_resume_reply_at (&s_pk, 1764720000123456ULL);
    hp_control_pack_resume_reply_meta_begin (&s_pk, 2);
    hp_control_pack_resume_reply_meta (&s_pk, 0, "ignored", 7);   /* no key flag: no key */
    hp_control_pack_resume_reply_meta (&s_pk, HP_WIRE_FLAG_RECEIPT | HP_WIRE_FLAG_KEY,
                                       "price:EURUSD", 12);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    hp_resume_reply_t reply;
    //  The broker's packed reply decodes to the same fields and events.
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), 0);
    assert_int_equal (reply.rid, 7);
    assert_int_equal (reply.user.len, 5);
    assert_memory_equal (reply.user.ptr, "alice", 5);
    assert_true (reply.epoch == 0xabcULL);
    assert_int_equal (reply.offset, 456);
    assert_true (reply.recovered);
    assert_int_equal (reply.event_count, 2);
    uint64_t at;
    hp_str_t json;
    uint64_t stamp = 1;
    assert_int_equal (hp_control_resume_reply_event (&reply, 1, &at, &json, &stamp), 0);
    assert_int_equal (at, 130);
    assert_int_equal (json.len, 7);
    assert_memory_equal (json.ptr, "{\"b\":2}", 7);
    //  Each event's accept time (us since 1970) comes from the parallel
    //  "at" array; 0 means not known.
    assert_true (stamp == 1764720000123456ULL);
    assert_int_equal (hp_control_resume_reply_event (&reply, 0, &at, &json, &stamp), 0);
    assert_true (stamp == 0);
    //  Each event's wire flags and key come from the parallel "meta" array,
    //  as the live event's header and key frame carried them.
    uint8_t flags = 9;
    hp_str_t key;
    assert_int_equal (hp_control_resume_reply_event_meta (&reply, 0, &flags, &key), 0);
    assert_true (flags == 0 && key.ptr == NULL && key.len == 0);
    assert_int_equal (hp_control_resume_reply_event_meta (&reply, 1, &flags, &key), 0);
    assert_int_equal (flags, HP_WIRE_FLAG_RECEIPT | HP_WIRE_FLAG_KEY);
    assert_int_equal (key.len, 12);
    assert_memory_equal (key.ptr, "price:EURUSD", 12);
    assert_int_equal (hp_control_resume_reply_event_meta (&reply, 2, &flags, &key), -1);
    //  Past the last event is an error, not a read out of bounds.
    assert_int_equal (hp_control_resume_reply_event (&reply, 2, &at, &json, NULL), -1);
    //  The events stay [offset, json] pairs: a reader of an earlier release
    //  unpacks them as it always did.
    assert_int_equal (reply.events [0].via.array.size, 2);

    //  The epoch is on the wire as 16 hex digits.
    size_t off = 0;
    msgpack_unpacked raw;
    msgpack_unpacked_init (&raw);
    assert_int_equal (msgpack_unpack_next (&raw, s_sbuf.data, s_sbuf.size, &off), MSGPACK_UNPACK_SUCCESS);
    int seen_epoch = 0;
    for (uint32_t i = 0; i < raw.data.via.map.size; i++) {
        msgpack_object_kv *kv = &raw.data.via.map.ptr [i];
        if (kv->key.via.str.size == 5 && memcmp (kv->key.via.str.ptr, "epoch", 5) == 0) {
            assert_int_equal (kv->val.type, MSGPACK_OBJECT_STR);
            assert_int_equal (kv->val.via.str.size, 16);
            assert_memory_equal (kv->val.via.str.ptr, "0000000000000abc", 16);
            seen_epoch = 1;
        }
    }
    assert_true (seen_epoch);
    msgpack_unpacked_destroy (&raw);

    //  A reply with no events and recovered false.
    msgpack_sbuffer_clear (&s_sbuf);
    hp_control_pack_resume_reply_begin (&s_pk, 0, "bob", 3, 1, 0, false, 0);
    hp_control_pack_resume_reply_at_begin (&s_pk, 0);
    hp_control_pack_resume_reply_meta_begin (&s_pk, 0);
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), 0);
    assert_false (reply.recovered);
    assert_int_equal (reply.event_count, 0);

    //  An earlier broker's reply (six keys, no "at") decodes, times unknown.
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_pack_map (&s_pk, 6);
    mpb_str (&s_pk, "rid"); msgpack_pack_uint64 (&s_pk, 4);
    mpb_str (&s_pk, "user"); mpb_str (&s_pk, "bob");
    mpb_str (&s_pk, "epoch"); mpb_str (&s_pk, "0000000000000001");
    mpb_str (&s_pk, "offset"); msgpack_pack_uint64 (&s_pk, 9);
    mpb_str (&s_pk, "recovered"); msgpack_pack_true (&s_pk);
    mpb_str (&s_pk, "events"); msgpack_pack_array (&s_pk, 1);
    hp_control_pack_resume_reply_event (&s_pk, 9, "{}", 2);
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), 0);
    stamp = 1;
    assert_int_equal (hp_control_resume_reply_event (&reply, 0, &at, &json, &stamp), 0);
    assert_true (at == 9 && stamp == 0);
    //  ... and without "meta": no flags, no key.
    flags = 9;
    assert_int_equal (hp_control_resume_reply_event_meta (&reply, 0, &flags, &key), 0);
    assert_true (flags == 0 && key.len == 0);

    //  "at" of the wrong length, or holding something else than uints: malformed.
    for (int bad = 0; bad < 2; bad++) {
        msgpack_sbuffer_clear (&s_sbuf);
        hp_control_pack_resume_reply_begin (&s_pk, 1, "bob", 3, 1, 9, true, 1);
        hp_control_pack_resume_reply_event (&s_pk, 9, "{}", 2);
        hp_control_pack_resume_reply_at_begin (&s_pk, bad ? 1 : 2);
        if (bad)
            mpb_str (&s_pk, "soon");
        else {
            hp_control_pack_resume_reply_at (&s_pk, 1);
            hp_control_pack_resume_reply_at (&s_pk, 2);
        }
        hp_control_pack_resume_reply_meta_begin (&s_pk, 1);
        hp_control_pack_resume_reply_meta (&s_pk, 0, NULL, 0);
        assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), -1);
    }

    //  "meta" of the wrong length, a key without the key flag, the key flag
    //  with an empty or NUL-holding key: malformed.
    for (int bad = 0; bad < 4; bad++) {
        msgpack_sbuffer_clear (&s_sbuf);
        hp_control_pack_resume_reply_begin (&s_pk, 1, "bob", 3, 1, 9, true, 1);
        hp_control_pack_resume_reply_event (&s_pk, 9, "{}", 2);
        hp_control_pack_resume_reply_at_begin (&s_pk, 1);
        hp_control_pack_resume_reply_at (&s_pk, 1);
        hp_control_pack_resume_reply_meta_begin (&s_pk, bad == 0 ? 2 : 1);
        msgpack_pack_array (&s_pk, 2);
        msgpack_pack_uint64 (&s_pk, bad == 1 ? 0 : HP_WIRE_FLAG_KEY);
        if (bad == 3)
            msgpack_pack_str_with_body (&s_pk, "a\0b", 3);
        else
            mpb_str (&s_pk, bad == 2 ? "" : "k");
        if (bad == 0) {
            hp_control_pack_resume_reply_meta (&s_pk, 0, NULL, 0);
        }
        assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), -1);
    }

    //  Malformed replies: truncated, an event that is not [uint, str],
    //  a missing field, an error reply.
    msgpack_sbuffer_clear (&s_sbuf);
    hp_control_pack_resume_reply_begin (&s_pk, 1, "bob", 3, 1, 0, false, 1);
    msgpack_pack_array (&s_pk, 2);
    msgpack_pack_uint64 (&s_pk, 5);
    msgpack_pack_int (&s_pk, 5);
    hp_control_pack_resume_reply_at_begin (&s_pk, 1);
    hp_control_pack_resume_reply_at (&s_pk, 0);
    hp_control_pack_resume_reply_meta_begin (&s_pk, 1);
    hp_control_pack_resume_reply_meta (&s_pk, 0, NULL, 0);
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), -1);
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size - 1, &reply), -1);
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_pack_map (&s_pk, 1);
    mpb_str (&s_pk, "error"); mpb_str (&s_pk, "bad user");
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), -1);
    msgpack_unpacked_destroy (&u);
}

static void
test_channel_requests (void **state)
{
    //  presence by channel: its own op, the channel kept.
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "channel"); mpb_str (pk, "order:17");
    s_expect (NULL);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_CHANNEL_PRESENCE);
    assert_int_equal (hp_control_req_channel (s_req).len, 8);
    //  users and channel together, a bad or oversized channel: refused.
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "channel"); mpb_str (pk, "order:17");
    mpb_str (pk, "users"); msgpack_pack_array (pk, 1); mpb_str (pk, "alice");
    s_expect ("users or channel");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "channel"); mpb_str (pk, "a b");
    s_expect ("bad channel");
    char big [HP_CHANNEL_MAX + 1];
    memset (big, 'c', sizeof big);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "channel"); mpb_str_n (pk, big, sizeof big);
    s_expect ("bad channel");
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    mpb_str (pk, "op"); mpb_str (pk, "presence");
    mpb_str (pk, "channel"); msgpack_pack_int (pk, 3);
    s_expect ("bad channel");
    //  resume of a channel, with and without a position; user + channel refused.
    hp_buf_t out;
    hp_buf_init (&out, 0);
    hp_stream_t st = hp_stream_channel ("board", 5);
    assert_int_equal (hp_control_pack_resume_stream (&out, 4, &st, true, 0xabcULL, 9), 0);
    s_expect_bytes (out.data, out.len, NULL);
    assert_int_equal (hp_control_req_op (s_req), HP_OP_RESUME);
    hp_stream_t back = hp_control_req_stream (s_req);
    assert_true (back.kind == HP_STREAM_CHANNEL && back.name.len == 5);
    assert_true (hp_control_req_has_position (s_req) && hp_control_req_offset (s_req) == 9);
    assert_true (hp_control_req_epoch (s_req) == 0xabcULL && hp_control_req_rid (s_req) == 4);
    //  a user resume still reads as a user stream
    hp_buf_reset (&out);
    assert_int_equal (hp_control_pack_resume (&out, 4, "alice", 5, false, 0, 0), 0);
    s_expect_bytes (out.data, out.len, NULL);
    back = hp_control_req_stream (s_req);
    assert_true (back.kind == HP_STREAM_USER && back.name.len == 5);
    assert_null (hp_control_req_channel (s_req).ptr);
    //  a broadcast stream is not resumed alone
    st = hp_stream_broadcast ();
    assert_int_equal (hp_control_pack_resume_stream (&out, 4, &st, false, 0, 0), -1);
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "channel"); mpb_str (pk, "board");
    mpb_str (pk, "user"); mpb_str (pk, "alice");
    s_expect ("user or channel");
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    mpb_str (pk, "op"); mpb_str (pk, "resume");
    mpb_str (pk, "channel"); mpb_str (pk, "board");
    mpb_str (pk, "offset"); msgpack_pack_uint64 (pk, 3);
    s_expect ("epoch and offset go together");
    hp_buf_free (&out);
}

static void
test_channel_replies (void **state)
{
    //  A channel's resume reply names the channel, not a user.
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_packer_init (&s_pk, &s_sbuf, msgpack_sbuffer_write);
    hp_stream_t st = hp_stream_channel ("board", 5);
    hp_control_pack_resume_reply_begin_stream (&s_pk, 3, &st, 1, 20, false, 1);
    hp_control_pack_resume_reply_event (&s_pk, 19, "{}", 2);
    hp_control_pack_resume_reply_at_begin (&s_pk, 1);
    hp_control_pack_resume_reply_at (&s_pk, 7);
    hp_control_pack_resume_reply_meta_begin (&s_pk, 1);
    hp_control_pack_resume_reply_meta (&s_pk, HP_WIRE_FLAG_KEY, "board:last", 10);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    hp_resume_reply_t reply;
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), 0);
    assert_int_equal (reply.stream.kind, HP_STREAM_CHANNEL);
    assert_true (reply.stream.name.len == 5 && memcmp (reply.stream.name.ptr, "board", 5) == 0);
    assert_int_equal (reply.user.len, 0);
    assert_int_equal (reply.event_count, 1);
    //  A user reply sets both user and stream.
    msgpack_sbuffer_clear (&s_sbuf);
    hp_control_pack_resume_reply_begin (&s_pk, 3, "bob", 3, 1, 20, true, 0);
    hp_control_pack_resume_reply_at_begin (&s_pk, 0);
    hp_control_pack_resume_reply_meta_begin (&s_pk, 0);
    assert_int_equal (hp_control_resume_reply_decode (&u, s_sbuf.data, s_sbuf.size, &reply), 0);
    assert_true (reply.stream.kind == HP_STREAM_USER && reply.user.len == 3);
    msgpack_unpacked_destroy (&u);

    //  The channel presence reply's shape.
    msgpack_sbuffer_clear (&s_sbuf);
    hp_control_pack_channel_presence_begin (&s_pk, "board", 5, 3, true, false, 2);
    hp_control_pack_str (&s_pk, "alice", 5);
    hp_control_pack_str (&s_pk, "bob", 3);
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, s_sbuf.data, s_sbuf.size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal (u.data.via.map.size, 5);
    const char *keys [] = { "channel", "connections", "exact", "truncated", "users" };
    for (uint32_t i = 0; i < 5; i++) {
        msgpack_object_kv *kv = &u.data.via.map.ptr [i];
        assert_int_equal (kv->key.via.str.size, strlen (keys [i]));
        assert_memory_equal (kv->key.via.str.ptr, keys [i], strlen (keys [i]));
    }
    assert_int_equal (u.data.via.map.ptr [1].val.via.u64, 3);
    assert_true (u.data.via.map.ptr [2].val.via.boolean);
    assert_int_equal (u.data.via.map.ptr [4].val.via.array.size, 2);
    msgpack_unpacked_destroy (&u);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_channel_requests),
        cmocka_unit_test (test_channel_replies),
        cmocka_unit_test (test_presence),
        cmocka_unit_test (test_resume_request),
        cmocka_unit_test (test_malformed_requests),
        cmocka_unit_test (test_resume_request_round_trip),
        cmocka_unit_test (test_resume_reply_round_trip),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
