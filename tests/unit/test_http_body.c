/* test_http_body.c -- publishing POST bodies (/message, /channel, /broadcast) become the right msgpack envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>

#include "envelope.h"
#include "http_body.h"

/* Unpacks the envelope in out and prints its "data" in msgpack-c's debug
 * notation ({"k"=>v}), enough to compare structure and values. */
static void
s_data_text (hp_buf_t *out, char *text, size_t cap)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, out->data, out->len, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal (u.data.via.map.size, 3);
    const msgpack_object_kv *kv = u.data.via.map.ptr;
    assert_memory_equal (kv[0].key.via.str.ptr, "event", 5);
    assert_memory_equal (kv[1].val.via.str.ptr, "alice", 5);
    msgpack_object_print_buffer (text, cap, kv[2].val);
    msgpack_unpacked_destroy (&u);
}

static void
s_check (const char *type, const char *body, const char *want)
{
    hp_buf_t out;
    hp_buf_init (&out, 1 << 16);
    const char *why = NULL;
    assert_int_equal (hb_http_body_envelope (&out, "bid", 3, "alice", 5, type, body,
                                             strlen (body), &why), 0);
    char text[512];
    s_data_text (&out, text, sizeof text);
    assert_string_equal (text, want);
    hp_buf_free (&out);
}

/* JSON bodies keep their structure; an empty body is nil. */
static void
test_json (void **state)
{
    s_check ("application/json", "{\"a\":[1,2.5,true,null,\"x\"]}",
             "{\"a\"=>[1, 2.500000, true, nil, \"x\"]}");
    s_check ("application/json; charset=utf-8", "42", "42");
    s_check ("application/json", "", "nil");
}

/* Form bodies become a map of strings, URL-decoded, '+' as space, last
 * duplicate wins. */
static void
test_form (void **state)
{
    s_check ("application/x-www-form-urlencoded", "a=1&b=x+y%21&a=2&c",
             "{\"a\"=>\"2\", \"b\"=>\"x y!\", \"c\"=>\"\"}");
}

/* Bad JSON, bad form escapes, unknown types and deep nesting are refused
 * with a reason. */
static void
test_refusals (void **state)
{
    hp_buf_t out;
    hp_buf_init (&out, 1 << 16);
    const char *why = NULL;
    assert_int_equal (hb_http_body_envelope (&out, "e", 1, "u", 1, "application/json", "{", 1, &why), -1);
    assert_non_null (why);
    why = NULL;
    assert_int_equal (hb_http_body_envelope (&out, "e", 1, "u", 1,
                      "application/x-www-form-urlencoded", "a=%zz", 5, &why), -1);
    assert_non_null (why);
    why = NULL;
    assert_int_equal (hb_http_body_envelope (&out, "e", 1, "u", 1, "text/plain", "x", 1, &why), -1);
    assert_non_null (why);
    char deep[300];
    memset (deep, '[', 150);
    memset (deep + 150, ']', 150);
    why = NULL;
    hp_buf_reset (&out);
    assert_int_equal (hb_http_body_envelope (&out, "e", 1, "u", 1, "application/json", deep, 300, &why), -1);
    assert_non_null (why);
    /* 31 nested arrays is the most data may hold; 32 is refused */
    memset (deep, '[', 31);
    memset (deep + 31, ']', 31);
    hp_buf_reset (&out);
    assert_int_equal (hb_http_body_envelope (&out, "e", 1, "u", 1, "application/json", deep, 62, &why), 0);
    memset (deep, '[', 32);
    memset (deep + 32, ']', 32);
    hp_buf_reset (&out);
    assert_int_equal (hb_http_body_envelope (&out, "e", 1, "u", 1, "application/json", deep, 64, &why), -1);
    hp_buf_free (&out);
}

/* /channel and /broadcast build envelopes the broker's decoder reads as
 * a channel event and a broadcast, with the body as data and the
 * Idempotency-Key as idempotency_key; /message still addresses a user. */
static void
test_addressing (void **state)
{
    hp_envelope_t *env = hp_envelope_new ();
    assert_non_null (env);
    hp_buf_t out;
    hp_buf_init (&out, 1 << 16);
    const char *why = NULL;
    assert_int_equal (hb_http_body_publish (&out, "bid", 3, HB_HTTP_TO_CHANNEL, "order:17", 8,
                                            "application/json", "{\"a\":1}", 7, "k-1", 3, &why), 0);
    assert_int_equal (hp_envelope_decode (env, out.data, out.len, 1 << 16), HP_ENV_OK);
    assert_int_equal (hp_envelope_addressing (env), HP_ADDR_CHANNEL);
    hp_str_t channel = hp_envelope_channel (env);
    assert_int_equal (channel.len, 8);
    assert_memory_equal (channel.ptr, "order:17", 8);
    assert_int_equal (hp_envelope_recipient_count (env), 0);
    assert_int_equal (hp_envelope_idempotency_key (env).len, 3);
    assert_int_equal (hp_envelope_data (env)->type, MSGPACK_OBJECT_MAP);

    hp_buf_reset (&out);
    assert_int_equal (hb_http_body_publish (&out, "banner", 6, HB_HTTP_TO_BROADCAST, "", 0,
                                            "application/json", "", 0, NULL, 0, &why), 0);
    assert_int_equal (hp_envelope_decode (env, out.data, out.len, 1 << 16), HP_ENV_OK);
    assert_int_equal (hp_envelope_addressing (env), HP_ADDR_BROADCAST);
    assert_null (hp_envelope_idempotency_key (env).ptr);

    hp_buf_reset (&out);
    assert_int_equal (hb_http_body_publish (&out, "bid", 3, HB_HTTP_TO_USER, "alice", 5,
                                            "application/json", "1", 1, NULL, 0, &why), 0);
    assert_int_equal (hp_envelope_decode (env, out.data, out.len, 1 << 16), HP_ENV_OK);
    assert_int_equal (hp_envelope_addressing (env), HP_ADDR_USERS);
    assert_int_equal (hp_envelope_recipient_count (env), 1);
    hp_buf_free (&out);
    hp_envelope_destroy (&env);
}

/* URL decoding: escapes, plus handling, malformed escapes. */
static void
test_url_decode (void **state)
{
    char out[32];
    assert_int_equal (hb_url_decode (out, "a%2Fb+c", 7, 1), 5);
    assert_memory_equal (out, "a/b c", 5);
    assert_int_equal (hb_url_decode (out, "a+c", 3, 0), 3);
    assert_memory_equal (out, "a+c", 3);
    assert_int_equal (hb_url_decode (out, "%4", 2, 1), -1);
    assert_int_equal (hb_url_decode (out, "%", 1, 1), -1);
    assert_int_equal (hb_url_decode (out, "%g0", 3, 1), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_json),
        cmocka_unit_test (test_form),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_addressing),
        cmocka_unit_test (test_url_decode),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
