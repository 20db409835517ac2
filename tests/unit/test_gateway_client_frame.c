/* test_gateway_client_frame.c -- unit tests for gateway/client_frame.c: a browser's bytes -> a frame or 4000. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "client_frame.h"

#define EPOCH_TEXT "00000000deadbeef"

static int
s_parse (gw_client_frame_t *frame, const char *text)
{
    return gw_client_frame_parse (frame, text, strlen (text));
}

static void
s_malformed (const char *text)
{
    gw_client_frame_t frame;
    if (s_parse (&frame, text) != GW_CLIENT_FRAME_MALFORMED)
        fail_msg ("accepted as a frame: %s", text);
    //  A failed parse holds nothing: fini is harmless, fields are zero.
    assert_null (frame.token);
    assert_null (frame.channel);
    assert_false (frame.has_resume);
    gw_client_frame_fini (&frame);
}

static void
test_auth_with_token_and_resume (void **state)
{
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, "{\"type\":\"auth\",\"token\":\"a.b.c\","
                               "\"resume\":{\"epoch\":\"" EPOCH_TEXT "\",\"offset\":42},\"x\":[1]}"), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_AUTH);
    assert_string_equal (frame.token, "a.b.c");
    assert_int_equal (frame.token_len, 5);
    assert_true (frame.has_resume);
    assert_true (frame.resume_epoch == 0xdeadbeefULL);
    assert_true (frame.resume_offset == 42);
    gw_client_frame_fini (&frame);
    assert_null (frame.token);
}

static void
test_auth_without_resume_or_null_resume (void **state)
{
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, "{\"type\":\"auth\",\"token\":\"t\"}"), 0);
    assert_false (frame.has_resume);
    gw_client_frame_fini (&frame);
    assert_int_equal (s_parse (&frame, "{\"type\":\"auth\",\"token\":\"t\",\"resume\":null}"), 0);
    assert_false (frame.has_resume);
    gw_client_frame_fini (&frame);
}

static void
test_token_missing_or_not_a_string_is_no_token (void **state)
{
    //  Not a malformed frame: the caller answers it as a bad token (4001).
    const char *texts[] = {
        "{\"type\":\"auth\"}", "{\"type\":\"auth\",\"token\":7}",
        "{\"type\":\"auth\",\"token\":null}", "{\"type\":\"refresh\",\"token\":[\"t\"]}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        gw_client_frame_t frame;
        assert_int_equal (s_parse (&frame, texts[i]), 0);
        assert_null (frame.token);
        gw_client_frame_fini (&frame);
    }
}

static void
test_ping_and_refresh (void **state)
{
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, " {\"type\" : \"ping\"} "), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_PING);
    assert_null (frame.token);
    gw_client_frame_fini (&frame);
    assert_int_equal (s_parse (&frame, "{\"token\":\"x.y.z\",\"type\":\"refresh\"}"), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_REFRESH);
    assert_string_equal (frame.token, "x.y.z");
    gw_client_frame_fini (&frame);
    //  Only auth reads resume: a ping carrying a bad one is still a ping.
    assert_int_equal (s_parse (&frame, "{\"type\":\"ping\",\"resume\":5}"), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_PING);
    gw_client_frame_fini (&frame);
}

static void
test_subscribe_and_unsubscribe (void **state)
{
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, "{\"type\":\"subscribe\",\"channel\":\"order:17\","
                               "\"resume\":{\"epoch\":\"" EPOCH_TEXT "\",\"offset\":9},"
                               "\"token\":\"s.u.b\"}"), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_SUBSCRIBE);
    assert_string_equal (frame.channel, "order:17");
    assert_int_equal (frame.channel_len, 8);
    assert_true (frame.has_resume);
    assert_true (frame.resume_epoch == 0xdeadbeefULL && frame.resume_offset == 9);
    assert_string_equal (frame.token, "s.u.b");
    gw_client_frame_fini (&frame);
    assert_null (frame.channel);

    //  resume and token are optional
    assert_int_equal (s_parse (&frame, "{\"type\":\"subscribe\",\"channel\":\"board\"}"), 0);
    assert_string_equal (frame.channel, "board");
    assert_false (frame.has_resume);
    assert_null (frame.token);
    gw_client_frame_fini (&frame);

    assert_int_equal (s_parse (&frame, "{\"type\":\"unsubscribe\",\"channel\":\"board\","
                               "\"token\":\"t\",\"resume\":7}"), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_UNSUBSCRIBE);
    assert_string_equal (frame.channel, "board");
    //  an unsubscribe reads neither token nor resume
    assert_null (frame.token);
    assert_false (frame.has_resume);
    gw_client_frame_fini (&frame);
}

static void
test_channel_missing_or_not_a_string_is_no_channel (void **state)
{
    //  Not malformed: the gateway answers {"type":"error","reason":"bad_channel"}.
    //  Names are not checked here (that is the caller's bad_channel too).
    const char *texts[] = {
        "{\"type\":\"subscribe\"}", "{\"type\":\"subscribe\",\"channel\":7}",
        "{\"type\":\"unsubscribe\",\"channel\":null}",
        "{\"type\":\"subscribe\",\"channel\":[\"a\"]}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        gw_client_frame_t frame;
        assert_int_equal (s_parse (&frame, texts[i]), 0);
        assert_null (frame.channel);
        gw_client_frame_fini (&frame);
    }
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, "{\"type\":\"subscribe\",\"channel\":\"not valid!\"}"), 0);
    assert_string_equal (frame.channel, "not valid!");
    gw_client_frame_fini (&frame);
    //  other frames carry no channel
    assert_int_equal (s_parse (&frame, "{\"type\":\"ping\",\"channel\":\"board\"}"), 0);
    assert_null (frame.channel);
    gw_client_frame_fini (&frame);
}

static void
test_not_an_object_or_bad_type_is_malformed (void **state)
{
    s_malformed ("");
    s_malformed ("not json");
    s_malformed ("[\"auth\"]");
    s_malformed ("\"auth\"");
    s_malformed ("null");
    s_malformed ("{}");
    s_malformed ("{\"type\":1}");
    s_malformed ("{\"type\":\"pong\"}");
    s_malformed ("{\"type\":\"AUTH\"}");
    s_malformed ("{\"type\":\"Subscribe\",\"channel\":\"c\"}");
    //  jansson refuses \u0000 in any string: no NUL reaches the JWT code.
    s_malformed ("{\"type\":\"ping\\u0000\"}");
    s_malformed ("{\"type\":\"auth\",\"token\":\"a\\u0000b\"}");
    s_malformed ("{\"type\":\"ping\"");
    s_malformed ("{\"type\":\"ping\"} x");
}

static void
test_bad_resume_is_malformed (void **state)
{
    s_malformed ("{\"type\":\"auth\",\"token\":\"t\",\"resume\":5}");
    s_malformed ("{\"type\":\"auth\",\"token\":\"t\",\"resume\":{}}");
    s_malformed ("{\"type\":\"auth\",\"resume\":{\"epoch\":\"" EPOCH_TEXT "\"}}");
    s_malformed ("{\"type\":\"auth\",\"resume\":{\"epoch\":\"" EPOCH_TEXT "\",\"offset\":-1}}");
    s_malformed ("{\"type\":\"auth\",\"resume\":{\"epoch\":\"" EPOCH_TEXT "\",\"offset\":1.5}}");
    s_malformed ("{\"type\":\"auth\",\"resume\":{\"epoch\":\"xyz\",\"offset\":1}}");
    s_malformed ("{\"type\":\"auth\",\"resume\":{\"epoch\":7,\"offset\":1}}");
    //  a subscribe's resume follows the same rule
    s_malformed ("{\"type\":\"subscribe\",\"channel\":\"c\",\"resume\":5}");
    s_malformed ("{\"type\":\"subscribe\",\"channel\":\"c\",\"resume\":{\"epoch\":\"x\",\"offset\":1}}");
    s_malformed ("{\"type\":\"subscribe\",\"channel\":\"c\",\"resume\":{\"epoch\":\"" EPOCH_TEXT "\"}}");
}

static void
test_bytes_need_no_terminator (void **state)
{
    //  The parser reads exactly len bytes: what follows is not part of it.
    const char text[] = "{\"type\":\"ping\"}garbage";
    gw_client_frame_t frame;
    assert_int_equal (gw_client_frame_parse (&frame, text, 15), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_PING);
    gw_client_frame_fini (&frame);
    assert_int_equal (gw_client_frame_parse (&frame, text, 14), GW_CLIENT_FRAME_MALFORMED);
}

static void
test_send_event_and_data (void **state)
{
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, "{\"type\":\"send\",\"event\":\"typing\","
                               "\"data\":{\"order\":17},\"user\":\"mallory\"}"), 0);
    assert_int_equal (frame.type, GW_CLIENT_FRAME_SEND);
    assert_string_equal (frame.event, "typing");
    assert_int_equal (frame.event_len, 6);
    //  data is the value as parsed; the frame's "user" is not kept anywhere
    assert_true (json_is_object (frame.data));
    assert_int_equal (json_integer_value (json_object_get (frame.data, "order")), 17);
    assert_null (frame.token);
    assert_null (frame.channel);
    gw_client_frame_fini (&frame);
    assert_null (frame.event);
    assert_null (frame.data);
}

static void
test_send_without_data_or_event_is_not_malformed (void **state)
{
    //  The caller answers these with an error frame (upstream), not 4000.
    gw_client_frame_t frame;
    assert_int_equal (s_parse (&frame, "{\"type\":\"send\",\"event\":\"seen\"}"), 0);
    assert_string_equal (frame.event, "seen");
    assert_null (frame.data);
    gw_client_frame_fini (&frame);
    const char *texts[] = {
        "{\"type\":\"send\"}", "{\"type\":\"send\",\"event\":7}",
        "{\"type\":\"send\",\"event\":null,\"data\":1}",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        assert_int_equal (s_parse (&frame, texts[i]), 0);
        assert_int_equal (frame.type, GW_CLIENT_FRAME_SEND);
        assert_null (frame.event);
        gw_client_frame_fini (&frame);
    }
    //  data null is a JSON null, present
    assert_int_equal (s_parse (&frame, "{\"type\":\"send\",\"event\":\"e\",\"data\":null}"), 0);
    assert_true (json_is_null (frame.data));
    gw_client_frame_fini (&frame);
    //  the type's name is exact
    s_malformed ("{\"type\":\"Send\",\"event\":\"e\"}");
    s_malformed ("{\"type\":\"sends\",\"event\":\"e\"}");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_auth_with_token_and_resume),
        cmocka_unit_test (test_auth_without_resume_or_null_resume),
        cmocka_unit_test (test_token_missing_or_not_a_string_is_no_token),
        cmocka_unit_test (test_ping_and_refresh),
        cmocka_unit_test (test_subscribe_and_unsubscribe),
        cmocka_unit_test (test_channel_missing_or_not_a_string_is_no_channel),
        cmocka_unit_test (test_not_an_object_or_bad_type_is_malformed),
        cmocka_unit_test (test_bad_resume_is_malformed),
        cmocka_unit_test (test_bytes_need_no_terminator),
        cmocka_unit_test (test_send_event_and_data),
        cmocka_unit_test (test_send_without_data_or_event_is_not_malformed),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
