/* test_envelope.c -- unit tests for proto/envelope.c: every envelope rule. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "envelope.h"
#include "wire.h"
#include "msgpack_build.h"

#define MAX HP_EVENT_BYTES_DEFAULT

static msgpack_sbuffer s_sbuf;
static msgpack_packer s_pk;
static hp_envelope_t *s_env;

static int
s_setup (void **state)
{
    msgpack_sbuffer_init (&s_sbuf);
    s_env = hp_envelope_new ();
    return s_env ? 0 : -1;
}

static int
s_teardown (void **state)
{
    hp_envelope_destroy (&s_env);
    msgpack_sbuffer_destroy (&s_sbuf);
    return 0;
}

#define STR(pk, lit) mpb_str_n (pk, lit, sizeof lit - 1)

static hp_env_error_t
s_decode (void)
{
    return hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, MAX);
}

//  {"event":"bid","to":<user bytes>} -- to test one user id.
static hp_env_error_t
s_decode_user (const char *user, size_t n)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); mpb_str_n (pk, user, n);
    return s_decode ();
}

static void
test_minimal_and_full (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); STR (pk, "alice");
    //  The smallest valid envelope: defaults fill the optional fields.
    assert_int_equal (s_decode (), HP_ENV_OK);
    hp_str_t ev = hp_envelope_event (s_env);
    assert_int_equal (ev.len, 3);
    assert_memory_equal (ev.ptr, "bid", 3);
    assert_int_equal (hp_envelope_recipient_count (s_env), 1);
    assert_memory_equal (hp_envelope_recipient (s_env, 0).ptr, "alice", 5);
    assert_null (hp_envelope_data (s_env));
    assert_null (hp_envelope_id (s_env).ptr);
    assert_int_equal (hp_envelope_ttl (s_env), HP_TTL_DEFAULT);

    pk = mpb_begin (&s_sbuf, &s_pk, 6);
    STR (pk, "event"); STR (pk, "order.bid:new-1_x");
    STR (pk, "to"); msgpack_pack_array (pk, 2); STR (pk, "alice"); STR (pk, "bob");
    STR (pk, "data"); msgpack_pack_map (pk, 1); STR (pk, "amount"); msgpack_pack_int (pk, 120);
    STR (pk, "id"); STR (pk, "b-991");
    STR (pk, "ttl"); msgpack_pack_uint32 (pk, 30);
    STR (pk, "extra"); msgpack_pack_array (pk, 0);
    //  Every field is read; the unknown "extra" key is ignored.
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_recipient_count (s_env), 2);
    assert_memory_equal (hp_envelope_recipient (s_env, 1).ptr, "bob", 3);
    const msgpack_object *data = hp_envelope_data (s_env);
    assert_non_null (data);
    assert_int_equal (data->type, MSGPACK_OBJECT_MAP);
    hp_str_t id = hp_envelope_id (s_env);
    assert_int_equal (id.len, 5);
    assert_memory_equal (id.ptr, "b-991", 5);
    assert_int_equal (hp_envelope_ttl (s_env), 30);
    //  Strings point into the caller's bytes, not copies.
    assert_true (id.ptr >= s_sbuf.data && id.ptr < s_sbuf.data + s_sbuf.size);

    pk = mpb_begin (&s_sbuf, &s_pk, 4);
    STR (pk, "event"); STR (pk, "e");
    STR (pk, "to"); STR (pk, "u");
    STR (pk, "ttl"); msgpack_pack_uint32 (pk, 0);
    STR (pk, "id"); STR (pk, "");
    //  ttl 0 ("never stored") and an empty id are valid; the empty id is
    //  still present (non-NULL ptr), not absent.
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_ttl (s_env), 0);
    assert_non_null (hp_envelope_id (s_env).ptr);
    assert_int_equal (hp_envelope_id (s_env).len, 0);
}

static void
test_not_msgpack_and_size (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); STR (pk, "alice");
    //  One byte over the limit is too_large, checked before parsing.
    assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, s_sbuf.size - 1),
                      HP_ENV_TOO_LARGE);
    assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, s_sbuf.size),
                      HP_ENV_OK);
    //  Every truncation of a valid envelope is not_msgpack.
    for (size_t n = 0; n < s_sbuf.size; n++)
        assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, n, MAX), HP_ENV_NOT_MSGPACK);
    //  Trailing bytes after the one object are refused.
    msgpack_pack_nil (pk);
    assert_int_equal (s_decode (), HP_ENV_NOT_MSGPACK);
    //  0xc1 is never valid msgpack.
    assert_int_equal (hp_envelope_decode (s_env, "\xc1", 1, MAX), HP_ENV_NOT_MSGPACK);
    //  An array32 claiming 4 billion elements in 5 bytes is refused
    //  without trying to allocate for them.
    assert_int_equal (hp_envelope_decode (s_env, "\xdd\xff\xff\xff\xff", 5, MAX),
                      HP_ENV_NOT_MSGPACK);
    //  A map16 claiming more pairs than the bytes can hold likewise.
    assert_int_equal (hp_envelope_decode (s_env, "\xde\x00\x10\xc0\xc0", 5, MAX),
                      HP_ENV_NOT_MSGPACK);
}

static void
test_not_map (void **state)
{
    //  Valid msgpack that is not a map: array, str, int, nil.
    assert_int_equal (hp_envelope_decode (s_env, "\x90", 1, MAX), HP_ENV_NOT_MAP);
    assert_int_equal (hp_envelope_decode (s_env, "\xa1x", 2, MAX), HP_ENV_NOT_MAP);
    assert_int_equal (hp_envelope_decode (s_env, "\x01", 1, MAX), HP_ENV_NOT_MAP);
    assert_int_equal (hp_envelope_decode (s_env, "\xc0", 1, MAX), HP_ENV_NOT_MAP);
}

static void
test_nesting (void **state)
{
    //  data nested as deep as msgpack-c unpacks (32 containers counting
    //  the envelope map) is accepted; one level more is not_msgpack.
    for (int extra = 0; extra <= 1; extra++) {
        msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 3);
        STR (pk, "event"); STR (pk, "bid");
        STR (pk, "to"); STR (pk, "alice");
        STR (pk, "data");
        for (int i = 0; i < 31 + extra; i++)
            msgpack_pack_array (pk, 1);
        msgpack_pack_nil (pk);
        assert_int_equal (s_decode (), extra ? HP_ENV_NOT_MSGPACK : HP_ENV_OK);
    }
}

static void
test_bad_event (void **state)
{
    const char *bad [] = { "", "has space", "slash/no", "quote\"", "\xc3\xa9", "nul\0x" };
    size_t bad_len [] = { 0, 9, 8, 6, 2, 5 };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
        STR (pk, "event"); mpb_str_n (pk, bad [i], bad_len [i]);
        STR (pk, "to"); STR (pk, "alice");
        //  Empty names and any byte outside [A-Za-z0-9_.:-] are bad_event.
        assert_int_equal (s_decode (), HP_ENV_BAD_EVENT);
    }
    char name [HP_EVENT_NAME_MAX + 1];
    memset (name, 'e', sizeof name);
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); mpb_str_n (pk, name, HP_EVENT_NAME_MAX);
    STR (pk, "to"); STR (pk, "alice");
    //  64 bytes is the longest name...
    assert_int_equal (s_decode (), HP_ENV_OK);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); mpb_str_n (pk, name, HP_EVENT_NAME_MAX + 1);
    STR (pk, "to"); STR (pk, "alice");
    //  ...65 is bad_event.
    assert_int_equal (s_decode (), HP_ENV_BAD_EVENT);
    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    STR (pk, "to"); STR (pk, "alice");
    //  A missing event, or one that is not a str, is bad_event.
    assert_int_equal (s_decode (), HP_ENV_BAD_EVENT);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); msgpack_pack_int (pk, 1);
    STR (pk, "to"); STR (pk, "alice");
    assert_int_equal (s_decode (), HP_ENV_BAD_EVENT);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); msgpack_pack_bin (pk, 3); msgpack_pack_bin_body (pk, "bid", 3);
    STR (pk, "to"); STR (pk, "alice");
    assert_int_equal (s_decode (), HP_ENV_BAD_EVENT);
}

static void
test_bad_to (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 1);
    STR (pk, "event"); STR (pk, "bid");
    //  Missing to.
    assert_int_equal (s_decode (), HP_ENV_BAD_TO);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_array (pk, 0);
    //  An empty recipient list.
    assert_int_equal (s_decode (), HP_ENV_BAD_TO);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_int (pk, 5);
    //  Neither str nor array.
    assert_int_equal (s_decode (), HP_ENV_BAD_TO);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_map (pk, 0);
    assert_int_equal (s_decode (), HP_ENV_BAD_TO);
}

static void
s_pack_many (size_t n, bool distinct)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_array (pk, n);
    for (size_t i = 0; i < n; i++) {
        char user [32];
        int len = snprintf (user, sizeof user, "user-%zu", distinct ? i : i % 7);
        mpb_str_n (pk, user, (size_t) len);
    }
}

static void
test_recipient_limits (void **state)
{
    //  10,000 distinct recipients are accepted (under a 1 MiB limit, the
    //  size check being a separate rule) and all kept...
    s_pack_many (HP_RECIPIENTS_MAX, true);
    assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, 1 << 20), HP_ENV_OK);
    assert_int_equal (hp_envelope_recipient_count (s_env), HP_RECIPIENTS_MAX);
    //  ...in input order.
    assert_memory_equal (hp_envelope_recipient (s_env, 0).ptr, "user-0", 6);
    assert_memory_equal (hp_envelope_recipient (s_env, 9999).ptr, "user-9999", 9);
    //  10,001 is bad_to.
    s_pack_many (HP_RECIPIENTS_MAX + 1, true);
    assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, 1 << 20), HP_ENV_BAD_TO);
    //  10,000 entries naming 7 users dedupe to 7 (and fast: sorting, not
    //  pairwise comparison).
    s_pack_many (HP_RECIPIENTS_MAX, false);
    assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, 1 << 20), HP_ENV_OK);
    assert_int_equal (hp_envelope_recipient_count (s_env), 7);
}

static void
test_dedup_keeps_first_order (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_array (pk, 6);
    STR (pk, "carol"); STR (pk, "alice"); STR (pk, "carol");
    STR (pk, "alice2"); STR (pk, "alice"); STR (pk, "bob");
    //  A user listed twice is delivered once; the order of first mention
    //  is kept; "alice" and "alice2" stay distinct.
    assert_int_equal (s_decode (), HP_ENV_OK);
    const char *expect [] = { "carol", "alice", "alice2", "bob" };
    assert_int_equal (hp_envelope_recipient_count (s_env), 4);
    for (size_t i = 0; i < 4; i++) {
        hp_str_t u = hp_envelope_recipient (s_env, i);
        assert_int_equal (u.len, strlen (expect [i]));
        assert_memory_equal (u.ptr, expect [i], u.len);
    }
}

static void
test_bad_user (void **state)
{
    //  Each of these user ids is bad_user, whether alone or in an array.
    struct { const char *s; size_t n; const char *why; } bad [] = {
        { "", 0, "empty" },
        { "al\0ce", 5, "NUL byte" },
        { "tab\tx", 5, "C0 control" },
        { "del\x7f", 4, "DEL" },
        { "c1\xc2\x80", 4, "C1 control U+0080" },
        { "c1\xc2\x9f", 4, "C1 control U+009F" },
        { "bad\xff", 4, "invalid byte" },
        { "\x80", 1, "lone continuation" },
        { "\xe2\x82", 2, "truncated sequence" },
        { "\xc0\xaf", 2, "overlong" },
        { "\xed\xa0\x80", 3, "surrogate" },
        { "\xf4\x90\x80\x80", 4, "past U+10FFFF" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        if (s_decode_user (bad [i].s, bad [i].n) != HP_ENV_BAD_USER)
            fail_msg ("user id with %s was not bad_user", bad [i].why);
        assert_false (hp_user_id_valid (bad [i].s, bad [i].n));
        msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
        STR (pk, "event"); STR (pk, "bid");
        STR (pk, "to"); msgpack_pack_array (pk, 2); STR (pk, "ok"); mpb_str_n (pk, bad [i].s, bad [i].n);
        if (s_decode () != HP_ENV_BAD_USER)
            fail_msg ("user id with %s in an array was not bad_user", bad [i].why);
    }
    char id [HP_USER_MAX + 1];
    memset (id, 'u', sizeof id);
    //  128 bytes is the longest id, 129 is bad_user.
    assert_int_equal (s_decode_user (id, HP_USER_MAX), HP_ENV_OK);
    assert_int_equal (s_decode_user (id, HP_USER_MAX + 1), HP_ENV_BAD_USER);
    //  Non-ASCII UTF-8 ids are fine: é, U+00A0 (first after C1), emoji, U+10FFFF.
    assert_int_equal (s_decode_user ("jos\xc3\xa9", 5), HP_ENV_OK);
    assert_int_equal (s_decode_user ("\xc2\xa0", 2), HP_ENV_OK);
    assert_int_equal (s_decode_user ("\xf0\x9f\x98\x80", 4), HP_ENV_OK);
    assert_int_equal (s_decode_user ("\xf4\x8f\xbf\xbf", 4), HP_ENV_OK);
    //  A non-str element of the to array is bad_user.
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_array (pk, 1); msgpack_pack_int (pk, 7);
    assert_int_equal (s_decode (), HP_ENV_BAD_USER);
}

static void
test_bad_id_and_ttl (void **state)
{
    char id [HP_ID_MAX + 1];
    memset (id, 'i', sizeof id);
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    STR (pk, "id"); mpb_str_n (pk, id, HP_ID_MAX);
    //  A 128-byte id is fine...
    assert_int_equal (s_decode (), HP_ENV_OK);
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    STR (pk, "id"); mpb_str_n (pk, id, HP_ID_MAX + 1);
    //  ...129 bytes is bad_id, and so is an id that is not a str.
    assert_int_equal (s_decode (), HP_ENV_BAD_ID);
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    STR (pk, "id"); msgpack_pack_int (pk, 5);
    assert_int_equal (s_decode (), HP_ENV_BAD_ID);

    //  ttl: negative int, float, str and nil are bad_ttl.
    for (int kind = 0; kind < 4; kind++) {
        pk = mpb_begin (&s_sbuf, &s_pk, 3);
        STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
        STR (pk, "ttl");
        switch (kind) {
            case 0: msgpack_pack_int (pk, -1); break;
            case 1: msgpack_pack_double (pk, 1.5); break;
            case 2: STR (pk, "60"); break;
            case 3: msgpack_pack_nil (pk); break;
        }
        assert_int_equal (s_decode (), HP_ENV_BAD_TTL);
    }
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    STR (pk, "ttl"); msgpack_pack_uint64 (pk, UINT64_MAX);
    //  A ttl past uint32 is clamped ("as good as forever"), not refused.
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_ttl (s_env), UINT32_MAX);
}

static void
test_reuse_resets_state (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 5);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); msgpack_pack_array (pk, 2); STR (pk, "a"); STR (pk, "b");
    STR (pk, "id"); STR (pk, "x");
    STR (pk, "ttl"); msgpack_pack_uint32 (pk, 9);
    STR (pk, "data"); msgpack_pack_true (pk);
    assert_int_equal (s_decode (), HP_ENV_OK);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "e2"); STR (pk, "to"); STR (pk, "c");
    //  A second decode on the same decoder forgets everything of the first.
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_recipient_count (s_env), 1);
    assert_null (hp_envelope_id (s_env).ptr);
    assert_null (hp_envelope_data (s_env));
    assert_int_equal (hp_envelope_ttl (s_env), HP_TTL_DEFAULT);
    //  Many decodes of a large envelope through one decoder (leaks would
    //  show under the sanitizer build).
    s_pack_many (2000, true);
    for (int i = 0; i < 200; i++)
        assert_int_equal (hp_envelope_decode (s_env, s_sbuf.data, s_sbuf.size, 1 << 20), HP_ENV_OK);
}

//  idempotency_key: 1-128 bytes of str, else bad_idempotency_key; absent is NULL.
static void
test_idempotency_key (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    STR (pk, "idempotency_key"); STR (pk, "order-17:bid-3");
    assert_int_equal (s_decode (), HP_ENV_OK);
    hp_str_t key = hp_envelope_idempotency_key (s_env);
    assert_int_equal (key.len, 14);
    assert_memory_equal (key.ptr, "order-17:bid-3", 14);
    char big [HP_IDEMPOTENCY_KEY_MAX + 1];
    memset (big, 'k', sizeof big);
    for (int kind = 0; kind < 5; kind++) {
        pk = mpb_begin (&s_sbuf, &s_pk, 3);
        STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
        STR (pk, "idempotency_key");
        switch (kind) {
            case 0: mpb_str_n (pk, big, HP_IDEMPOTENCY_KEY_MAX); break;
            case 1: mpb_str_n (pk, big, HP_IDEMPOTENCY_KEY_MAX + 1); break;
            case 2: mpb_str_n (pk, big, 0); break;
            case 3: msgpack_pack_int (pk, 7); break;
            case 4: msgpack_pack_nil (pk); break;
        }
        assert_int_equal (s_decode (), kind == 0 ? HP_ENV_OK : HP_ENV_BAD_IDEMPOTENCY_KEY);
    }
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_null (hp_envelope_idempotency_key (s_env).ptr);
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_IDEMPOTENCY_KEY), "bad_idempotency_key");
}

//  receipt: an integer of 1-3600 seconds, else bad_receipt; key: 1-128
//  bytes of str without a NUL, else bad_key; both absent: none. The meta
//  says the same in wire flags.
static void
test_receipt_and_key (void **state)
{
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 4);
    STR (pk, "event"); STR (pk, "price"); STR (pk, "channel"); STR (pk, "fx");
    STR (pk, "receipt"); msgpack_pack_uint64 (pk, 30);
    STR (pk, "key"); STR (pk, "price:EURUSD");
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_receipt (s_env), 30);
    hp_str_t key = hp_envelope_key (s_env);
    assert_int_equal (key.len, 12);
    assert_memory_equal (key.ptr, "price:EURUSD", 12);
    hp_event_meta_t meta = hp_envelope_meta (s_env);
    assert_int_equal (meta.flags, HP_WIRE_FLAG_RECEIPT | HP_WIRE_FLAG_KEY);
    assert_int_equal (meta.receipt, 30);
    assert_true (meta.key.ptr == key.ptr && meta.key.len == 12);

    //  the bounds of receipt: 1 and 3600 pass; 0, 3601, negative, a
    //  float, a string and nil are refused
    for (int kind = 0; kind < 8; kind++) {
        pk = mpb_begin (&s_sbuf, &s_pk, 3);
        STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
        STR (pk, "receipt");
        switch (kind) {
            case 0: msgpack_pack_uint64 (pk, 1); break;
            case 1: msgpack_pack_uint64 (pk, HP_RECEIPT_MAX); break;
            case 2: msgpack_pack_uint64 (pk, 0); break;
            case 3: msgpack_pack_uint64 (pk, HP_RECEIPT_MAX + 1); break;
            case 4: msgpack_pack_int (pk, -5); break;
            case 5: msgpack_pack_double (pk, 2.5); break;
            case 6: STR (pk, "30"); break;
            case 7: msgpack_pack_nil (pk); break;
        }
        assert_int_equal (s_decode (), kind < 2 ? HP_ENV_OK : HP_ENV_BAD_RECEIPT);
        if (kind < 2) {
            assert_int_equal (hp_envelope_meta (s_env).flags, HP_WIRE_FLAG_RECEIPT);
            assert_null (hp_envelope_key (s_env).ptr);
        }
    }

    //  the bounds of key: 1 and 128 bytes pass; empty, 129 bytes, a NUL
    //  inside, a number and nil are refused
    char big [HP_KEY_MAX + 1];
    memset (big, 'k', sizeof big);
    for (int kind = 0; kind < 7; kind++) {
        pk = mpb_begin (&s_sbuf, &s_pk, 3);
        STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
        STR (pk, "key");
        switch (kind) {
            case 0: mpb_str_n (pk, big, 1); break;
            case 1: mpb_str_n (pk, big, HP_KEY_MAX); break;
            case 2: mpb_str_n (pk, big, 0); break;
            case 3: mpb_str_n (pk, big, HP_KEY_MAX + 1); break;
            case 4: mpb_str_n (pk, "a\0b", 3); break;
            case 5: msgpack_pack_int (pk, 7); break;
            case 6: msgpack_pack_nil (pk); break;
        }
        assert_int_equal (s_decode (), kind < 2 ? HP_ENV_OK : HP_ENV_BAD_KEY);
        if (kind < 2) {
            assert_int_equal (hp_envelope_meta (s_env).flags, HP_WIRE_FLAG_KEY);
            assert_int_equal (hp_envelope_receipt (s_env), 0);
        }
    }

    //  absent: no receipt, no key, no flags (a decoder reused after a
    //  keyed envelope forgets it)
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid"); STR (pk, "to"); STR (pk, "a");
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_receipt (s_env), 0);
    assert_null (hp_envelope_key (s_env).ptr);
    assert_int_equal (hp_envelope_meta (s_env).flags, 0);
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_RECEIPT), "bad_receipt");
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_KEY), "bad_key");
}

static void
test_error_names (void **state)
{
    //  Metric labels are the snake_case names PROTOCOL.md lists.
    assert_string_equal (hp_env_error_name (HP_ENV_TOO_LARGE), "too_large");
    assert_string_equal (hp_env_error_name (HP_ENV_NOT_MSGPACK), "not_msgpack");
    assert_string_equal (hp_env_error_name (HP_ENV_NOT_MAP), "not_map");
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_EVENT), "bad_event");
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_TO), "bad_to");
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_USER), "bad_user");
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_ID), "bad_id");
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_TTL), "bad_ttl");
    assert_string_equal (hp_env_error_name (HP_ENV_ERROR_COUNT), "unknown");
}

static void
test_validators_every_byte_every_position (void **state)
{
    //  The validators check 8 bytes at a time (user ids) or by table (event
    //  names): every byte value at every position of a 20-byte id or name,
    //  the rest plain, gets the same answer as the rule checked byte by
    //  byte. (Bytes >= 0x80 alone are never valid UTF-8, so refused.)
    char text [20];
    for (size_t at = 0; at < sizeof text; at++)
        for (int b = 0; b < 256; b++) {
            memset (text, 'a', sizeof text);
            text [at] = (char) b;
            bool user_ok = b >= 0x20 && b < 0x7f;
            bool name_ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
                        || (b >= '0' && b <= '9') || b == '_' || b == '.'
                        || b == ':' || b == '-';
            if (hp_user_id_valid (text, sizeof text) != user_ok)
                fail_msg ("user id with byte 0x%02x at %zu", b, at);
            if (hp_event_name_valid (text, sizeof text) != name_ok)
                fail_msg ("event name with byte 0x%02x at %zu", b, at);
        }
}

static void
test_channel_and_broadcast (void **state)
{
    //  A channel event: no user recipients, the channel's name kept.
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "channel"); STR (pk, "order:17/eu@acme=x-_.");
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_addressing (s_env), HP_ADDR_CHANNEL);
    assert_int_equal (hp_envelope_recipient_count (s_env), 0);
    hp_str_t c = hp_envelope_channel (s_env);
    assert_int_equal (c.len, 21);
    assert_memory_equal (c.ptr, "order:17/eu@acme=x-_.", 21);

    //  A broadcast: broadcast:true alone.
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "banner");
    STR (pk, "broadcast"); msgpack_pack_true (pk);
    assert_int_equal (s_decode (), HP_ENV_OK);
    assert_int_equal (hp_envelope_addressing (s_env), HP_ADDR_BROADCAST);
    assert_int_equal (hp_envelope_recipient_count (s_env), 0);
    assert_null (hp_envelope_channel (s_env).ptr);

    //  Decoding a user envelope after them resets the addressing.
    assert_int_equal (s_decode_user ("alice", 5), HP_ENV_OK);
    assert_int_equal (hp_envelope_addressing (s_env), HP_ADDR_USERS);
    assert_null (hp_envelope_channel (s_env).ptr);
}

static void
test_bad_addressing (void **state)
{
    //  broadcast other than true: false, 1, "true" are refused as addressing.
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "broadcast"); msgpack_pack_false (pk);
    assert_int_equal (s_decode (), HP_ENV_ADDRESSING);
    pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "broadcast"); msgpack_pack_int (pk, 1);
    assert_int_equal (s_decode (), HP_ENV_ADDRESSING);

    //  Two addressings at once: to + channel, channel + broadcast, all three.
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); STR (pk, "alice");
    STR (pk, "channel"); STR (pk, "board");
    assert_int_equal (s_decode (), HP_ENV_ADDRESSING);
    assert_int_equal (hp_envelope_recipient_count (s_env), 0);
    pk = mpb_begin (&s_sbuf, &s_pk, 3);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "channel"); STR (pk, "board");
    STR (pk, "broadcast"); msgpack_pack_true (pk);
    assert_int_equal (s_decode (), HP_ENV_ADDRESSING);
    assert_null (hp_envelope_channel (s_env).ptr);
    pk = mpb_begin (&s_sbuf, &s_pk, 4);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "to"); STR (pk, "alice");
    STR (pk, "channel"); STR (pk, "board");
    STR (pk, "broadcast"); msgpack_pack_true (pk);
    assert_int_equal (s_decode (), HP_ENV_ADDRESSING);

    //  None of them is still bad_to, as before channels.
    pk = mpb_begin (&s_sbuf, &s_pk, 1);
    STR (pk, "event"); STR (pk, "bid");
    assert_int_equal (s_decode (), HP_ENV_BAD_TO);
}

static void
test_bad_channel (void **state)
{
    char name [HP_CHANNEL_MAX + 1];
    memset (name, 'c', sizeof name);
    struct { const char *s; size_t n; hp_env_error_t want; } cases [] = {
        { name, HP_CHANNEL_MAX, HP_ENV_OK },            //  128 bytes: the bound
        { name, HP_CHANNEL_MAX + 1, HP_ENV_BAD_CHANNEL },   //  129: over it
        { "", 0, HP_ENV_BAD_CHANNEL },
        { "a b", 3, HP_ENV_BAD_CHANNEL },
        { "a\0b", 3, HP_ENV_BAD_CHANNEL },
        { "caf\xc3\xa9", 5, HP_ENV_BAD_CHANNEL },        //  non-ASCII
        { "a*", 2, HP_ENV_BAD_CHANNEL },                //  '*' is for claims' prefixes only
        { "\x01x", 2, HP_ENV_BAD_CHANNEL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
        STR (pk, "event"); STR (pk, "bid");
        STR (pk, "channel"); mpb_str_n (pk, cases [i].s, cases [i].n);
        if (s_decode () != cases [i].want)
            fail_msg ("channel case %zu", i);
    }
    //  Not a string.
    msgpack_packer *pk = mpb_begin (&s_sbuf, &s_pk, 2);
    STR (pk, "event"); STR (pk, "bid");
    STR (pk, "channel"); msgpack_pack_array (pk, 1); STR (pk, "board");
    assert_int_equal (s_decode (), HP_ENV_BAD_CHANNEL);
    //  Every byte at every position against the charset.
    for (unsigned b = 0; b < 256; b++) {
        char text [3] = { 'a', (char) b, 'z' };
        bool ok = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
               || b == '_' || b == '.' || b == ':' || b == '-' || b == '@' || b == '/' || b == '=';
        if (hp_channel_name_valid (text, 3) != ok)
            fail_msg ("channel name with byte 0x%02x", b);
    }
    assert_string_equal (hp_env_error_name (HP_ENV_BAD_CHANNEL), "bad_channel");
    assert_string_equal (hp_env_error_name (HP_ENV_ADDRESSING), "addressing");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_minimal_and_full),
        cmocka_unit_test (test_not_msgpack_and_size),
        cmocka_unit_test (test_not_map),
        cmocka_unit_test (test_nesting),
        cmocka_unit_test (test_bad_event),
        cmocka_unit_test (test_bad_to),
        cmocka_unit_test (test_recipient_limits),
        cmocka_unit_test (test_dedup_keeps_first_order),
        cmocka_unit_test (test_bad_user),
        cmocka_unit_test (test_validators_every_byte_every_position),
        cmocka_unit_test (test_bad_id_and_ttl),
        cmocka_unit_test (test_reuse_resets_state),
        cmocka_unit_test (test_idempotency_key),
        cmocka_unit_test (test_receipt_and_key),
        cmocka_unit_test (test_error_names),
        cmocka_unit_test (test_channel_and_broadcast),
        cmocka_unit_test (test_bad_addressing),
        cmocka_unit_test (test_bad_channel),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
