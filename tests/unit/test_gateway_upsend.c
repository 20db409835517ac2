/* test_gateway_upsend.c -- unit tests for gateway/upsend.c (and proto/upmsg.c): a send frame's checks and its record. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <msgpack.h>

#include "upmsg.h"
#include "upsend.h"

static const gw_upsend_policy_t s_policy = {
    .events = "typing,seen", .max_bytes = 64, .rate = 1.0, .burst = 100,
    .gateway = "00000000deadbeef", .gateway_len = 16,
};

static gw_upsend_result_t
s_prepare (const gw_upsend_policy_t *policy, gw_ratelimit_t *bucket, const char *event,
           const char *data_json, hp_buf_t *out)
{
    json_t *data = data_json ? json_loads (data_json, JSON_DECODE_ANY, NULL) : NULL;
    gw_upsend_result_t rc = gw_upsend_prepare (policy, bucket, 1000, 1764748800123ull, "alice", 5,
                                               event, event ? strlen (event) : 0, data, out);
    json_decref (data);
    return rc;
}

static const msgpack_object *
s_get (const msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen (key)
        &&  memcmp (k->via.str.ptr, key, k->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static void
test_record_is_the_five_keys (void **state)
{
    gw_ratelimit_t bucket = { 0 };
    hp_buf_t out;
    hp_buf_init (&out, HP_UPMSG_MAX);
    assert_int_equal (s_prepare (&s_policy, &bucket, "typing", "{\"order\":17}", &out), GW_UPSEND_OK);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, out.data, out.len, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal (u.data.via.map.size, 5);
    const msgpack_object *user = s_get (&u.data, "user"), *gw = s_get (&u.data, "gateway");
    assert_memory_equal (user->via.str.ptr, "alice", 5);
    assert_memory_equal (s_get (&u.data, "event")->via.str.ptr, "typing", 6);
    assert_memory_equal (gw->via.str.ptr, "00000000deadbeef", 16);
    assert_true (s_get (&u.data, "at")->via.u64 == 1764748800123ull);
    const msgpack_object *data = s_get (&u.data, "data");
    assert_int_equal (data->type, MSGPACK_OBJECT_MAP);
    assert_true (s_get (data, "order")->via.u64 == 17);
    //  and the broker's check accepts exactly it
    hp_upmsg_checker_t *checker = hp_upmsg_checker_new ();
    const char *why = NULL;
    assert_int_equal (hp_upmsg_check (checker, out.data, out.len, &why), 0);
    //  without data: null
    assert_int_equal (s_prepare (&s_policy, &bucket, "seen", NULL, &out), GW_UPSEND_OK);
    assert_int_equal (msgpack_unpack_next (&u, out.data, out.len, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (s_get (&u.data, "data")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal (hp_upmsg_check (checker, out.data, out.len, &why), 0);
    hp_upmsg_checker_destroy (&checker);
    msgpack_unpacked_destroy (&u);
    hp_buf_free (&out);
}

static void
test_refusals_in_order (void **state)
{
    gw_ratelimit_t bucket = { 0 };
    hp_buf_t out;
    hp_buf_init (&out, HP_UPMSG_MAX);
    //  not allowed, invalid, missing: upstream, with out empty
    assert_int_equal (s_prepare (&s_policy, &bucket, "chat", "1", &out), GW_UPSEND_UPSTREAM);
    assert_int_equal (out.len, 0);
    assert_int_equal (s_prepare (&s_policy, &bucket, "typ ing", "1", &out), GW_UPSEND_UPSTREAM);
    assert_int_equal (s_prepare (&s_policy, &bucket, NULL, "1", &out), GW_UPSEND_UPSTREAM);
    //  a prefix or a longer name is not the name
    assert_int_equal (s_prepare (&s_policy, &bucket, "typ", "1", &out), GW_UPSEND_UPSTREAM);
    assert_int_equal (s_prepare (&s_policy, &bucket, "seen2", "1", &out), GW_UPSEND_UPSTREAM);
    //  64 bytes of data as msgpack pass, 65 do not (a str of 62 + its 2-byte head)
    char json[80];
    memset (json, 'x', sizeof json);
    json[0] = '"';
    json[63] = '"';
    json[64] = '\0';
    assert_int_equal (s_prepare (&s_policy, &bucket, "typing", json, &out), GW_UPSEND_OK);
    json[63] = 'x';
    json[64] = '"';
    json[65] = '\0';
    assert_int_equal (s_prepare (&s_policy, &bucket, "typing", json, &out), GW_UPSEND_TOO_LARGE);
    assert_int_equal (out.len, 0);
    //  nested 32 deep: too deep for the broker's readers, too large
    char deep[80] = "";
    for (int i = 0; i < 32; i++)
        strcat (deep, "[");
    for (int i = 0; i < 32; i++)
        strcat (deep, "]");
    gw_upsend_policy_t roomy = s_policy;
    roomy.max_bytes = 4096;
    assert_int_equal (s_prepare (&roomy, &bucket, "typing", deep, &out), GW_UPSEND_TOO_LARGE);
    deep[31] = '\0';
    deep[32] = '\0';
    memset (deep + 31, ']', 31);
    deep[62] = '\0';
    assert_int_equal (s_prepare (&roomy, &bucket, "typing", deep, &out), GW_UPSEND_OK);
    //  the feature off: nothing is allowed
    gw_upsend_policy_t off = s_policy;
    off.events = NULL;
    assert_int_equal (s_prepare (&off, &bucket, "typing", NULL, &out), GW_UPSEND_UPSTREAM);
    //  the rate comes first: a dry bucket refuses even an unknown event
    gw_upsend_policy_t tight = s_policy;
    tight.burst = 1;
    gw_ratelimit_t one = { 0 };
    assert_int_equal (s_prepare (&tight, &one, "typing", NULL, &out), GW_UPSEND_OK);
    assert_int_equal (s_prepare (&tight, &one, "chat", NULL, &out), GW_UPSEND_RATE);
    assert_int_equal (s_prepare (&tight, &one, "typing", NULL, &out), GW_UPSEND_FLOOD);
    assert_string_equal (gw_upsend_result_name (GW_UPSEND_RATE), "rate");
    assert_string_equal (gw_upsend_result_name (GW_UPSEND_TOO_LARGE), "too_large");
    assert_string_equal (gw_upsend_result_name (GW_UPSEND_UPSTREAM), "upstream");
    hp_buf_free (&out);
}

static void
test_events_list_validation (void **state)
{
    assert_true (gw_upsend_events_valid (""));
    assert_true (gw_upsend_events_valid ("typing"));
    assert_true (gw_upsend_events_valid ("typing,seen,order:read.v2"));
    assert_false (gw_upsend_events_valid ("typing,"));
    assert_false (gw_upsend_events_valid (",typing"));
    assert_false (gw_upsend_events_valid ("typing,,seen"));
    assert_false (gw_upsend_events_valid ("typ ing"));
    char many[64 * 3 + 8] = "";
    for (int i = 0; i < 65; i++)
        strcat (many, i ? ",e" : "e");
    assert_false (gw_upsend_events_valid (many));
}

static void
test_broker_check_refuses_what_is_not_a_record (void **state)
{
    hp_upmsg_checker_t *checker = hp_upmsg_checker_new ();
    const char *why;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    //  a record with a sixth key
    hp_upmsg_pack_begin (&pk, "alice", 5, "typing", 6);
    msgpack_pack_nil (&pk);
    hp_upmsg_pack_end (&pk, "g", 1, 1);
    assert_int_equal (hp_upmsg_check (checker, sb.data, sb.size, &why), 0);
    sb.data[0] = (char) 0x86;   /* now it claims six pairs: fails to decode */
    assert_int_equal (hp_upmsg_check (checker, sb.data, sb.size, &why), -1);
    assert_string_equal (why, "malformed");
    //  a bad user id, an empty gateway, a negative time
    const struct { const char *user; size_t ul; const char *gw; size_t gl; } bad[] = {
        { "", 0, "g", 1 }, { "a\x01", 2, "g", 1 }, { "alice", 5, "", 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msgpack_sbuffer_clear (&sb);
        hp_upmsg_pack_begin (&pk, bad[i].user, bad[i].ul, "typing", 6);
        msgpack_pack_nil (&pk);
        hp_upmsg_pack_end (&pk, bad[i].gw, bad[i].gl, 1);
        assert_int_equal (hp_upmsg_check (checker, sb.data, sb.size, &why), -1);
    }
    msgpack_sbuffer_clear (&sb);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_nil (&pk);
    msgpack_pack_nil (&pk);
    assert_int_equal (hp_upmsg_check (checker, sb.data, sb.size, &why), -1);
    //  over the size bound
    static char big[HP_UPMSG_MAX + 1];
    assert_int_equal (hp_upmsg_check (checker, big, sizeof big, &why), -1);
    assert_string_equal (why, "too_large");
    //  the batch head announces its count
    unsigned char head[HP_UPMSG_BATCH_HEAD + HP_UPMSG_BIN_HEAD + 1];
    hp_upmsg_batch_head (head, 1);
    hp_upmsg_bin_head (head + HP_UPMSG_BATCH_HEAD, 1);
    head[HP_UPMSG_BATCH_HEAD + HP_UPMSG_BIN_HEAD] = (char) 0xc0;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, (const char *) head, sizeof head, NULL),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (u.data.type, MSGPACK_OBJECT_MAP);
    assert_int_equal (u.data.via.map.ptr[1].val.via.array.size, 1);
    assert_int_equal (u.data.via.map.ptr[1].val.via.array.ptr[0].type, MSGPACK_OBJECT_BIN);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
    hp_upmsg_checker_destroy (&checker);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_record_is_the_five_keys),
        cmocka_unit_test (test_refusals_in_order),
        cmocka_unit_test (test_events_list_validation),
        cmocka_unit_test (test_broker_check_refuses_what_is_not_a_record),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
