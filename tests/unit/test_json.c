/* test_json.c -- unit tests for proto/json.c: msgpack -> JSON per PROTOCOL.md. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include <jansson.h>

#include "json.h"

//  Converts raw msgpack bytes to JSON; the text stays valid until the next
//  call. Fails the test when the bytes do not unpack or conversion fails.
static char s_text [1 << 16];

static const char *
s_convert (const char *mp, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, mp, len, &off), MSGPACK_UNPACK_SUCCESS);
    hp_buf_t out;
    hp_buf_init (&out, 0);
    assert_int_equal (hp_json_from_msgpack (&out, &u.data), 0);
    assert_true (out.len < sizeof s_text);
    memcpy (s_text, out.data, out.len);
    s_text [out.len] = 0;
    //  Every output must parse as JSON (jansson is strict RFC 8259; reading
    //  integers as reals lifts its int64-only limit, not a JSON rule).
    json_error_t err;
    json_t *parsed = json_loadb (out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    if (!parsed)
        fail_msg ("not valid JSON: %s (%s)", s_text, err.text);
    json_decref (parsed);
    hp_buf_free (&out);
    msgpack_unpacked_destroy (&u);
    return s_text;
}

#define CONVERT(lit) s_convert (lit, sizeof lit - 1)

//  A packer into a fresh sbuffer, for values easier to pack than to spell.
static msgpack_sbuffer s_sbuf;
static msgpack_packer s_pk;

static msgpack_packer *
s_pack_begin (void)
{
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_packer_init (&s_pk, &s_sbuf, msgpack_sbuffer_write);
    return &s_pk;
}

static const char *
s_pack_end (void)
{
    return s_convert (s_sbuf.data, s_sbuf.size);
}

static int
s_setup (void **state)
{
    msgpack_sbuffer_init (&s_sbuf);
    return 0;
}

static int
s_teardown (void **state)
{
    msgpack_sbuffer_destroy (&s_sbuf);
    return 0;
}

static void
test_scalars (void **state)
{
    //  nil, booleans map to their JSON words.
    assert_string_equal (CONVERT ("\xc0"), "null");
    assert_string_equal (CONVERT ("\xc3"), "true");
    assert_string_equal (CONVERT ("\xc2"), "false");
}

static void
test_integers_exact (void **state)
{
    assert_string_equal (CONVERT ("\x00"), "0");
    assert_string_equal (CONVERT ("\x7f"), "127");
    assert_string_equal (CONVERT ("\xff"), "-1");
    assert_string_equal (CONVERT ("\xe0"), "-32");
    //  int64 min and max and uint64 max come out digit for digit (no
    //  detour through double, which would round them).
    assert_string_equal (CONVERT ("\xd3\x80\x00\x00\x00\x00\x00\x00\x00"),
                         "-9223372036854775808");
    assert_string_equal (CONVERT ("\xd3\x7f\xff\xff\xff\xff\xff\xff\xff"),
                         "9223372036854775807");
    assert_string_equal (CONVERT ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"),
                         "18446744073709551615");
    assert_string_equal (CONVERT ("\xcf\x00\x20\x00\x00\x00\x00\x00\x01"),
                         "9007199254740993");    //  2^53 + 1: not a double
}

static const char *
s_double (double d)
{
    msgpack_pack_double (s_pack_begin (), d);
    return s_pack_end ();
}

static void
test_doubles (void **state)
{
    //  17 significant digits: every double reads back to the same bits.
    assert_string_equal (s_double (0.1), "0.10000000000000001");
    assert_true (strtod (s_double (0.1), NULL) == 0.1);
    assert_string_equal (s_double (1.5), "1.5");
    assert_string_equal (s_double (-0.0), "-0");
    assert_string_equal (s_double (1e300), "1.0000000000000001e+300");
    assert_true (strtod (s_double (1e300), NULL) == 1e300);
    assert_string_equal (s_double (-2.2250738585072014e-308), "-2.2250738585072014e-308");
    assert_string_equal (s_double (5e-324), "4.9406564584124654e-324");
    //  NaN and infinities have no JSON form: null, never "nan"/"inf".
    assert_string_equal (s_double (NAN), "null");
    assert_string_equal (s_double (INFINITY), "null");
    assert_string_equal (s_double (-INFINITY), "null");
    //  float32 is widened exactly.
    msgpack_pack_float (s_pack_begin (), 0.5f);
    assert_string_equal (s_pack_end (), "0.5");
    msgpack_pack_float (s_pack_begin (), NAN);
    assert_string_equal (s_pack_end (), "null");
}

static const char *
s_string (const char *s, size_t n)
{
    msgpack_packer *pk = s_pack_begin ();
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
    return s_pack_end ();
}

#define STRING(lit) s_string (lit, sizeof lit - 1)

static void
test_string_escapes (void **state)
{
    assert_string_equal (STRING ("plain"), "\"plain\"");
    assert_string_equal (STRING (""), "\"\"");
    //  Quote and backslash are escaped; '/' and DEL need not be.
    assert_string_equal (STRING ("a\"b\\c/d\x7f"), "\"a\\\"b\\\\c/d\x7f\"");
    //  The short escapes.
    assert_string_equal (STRING ("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
    //  Valid multi-byte UTF-8 passes through unchanged.
    assert_string_equal (STRING ("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
                         "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    //  U+2028 and U+2029 are escaped so the frame is safe inside <script>.
    assert_string_equal (STRING ("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "\"a\\u2028b\\u2029\"");
}

static void
test_every_control_char (void **state)
{
    //  Each of the 32 C0 controls, NUL included, comes out escaped, with
    //  the short form where JSON has one and \u00XX otherwise.
    for (int c = 0; c < 0x20; c++) {
        char in [1] = { (char) c };
        char expect [16];
        switch (c) {
            case '\b': strcpy (expect, "\"\\b\""); break;
            case '\f': strcpy (expect, "\"\\f\""); break;
            case '\n': strcpy (expect, "\"\\n\""); break;
            case '\r': strcpy (expect, "\"\\r\""); break;
            case '\t': strcpy (expect, "\"\\t\""); break;
            default:   snprintf (expect, sizeof expect, "\"\\u%04x\"", c);
        }
        assert_string_equal (s_string (in, 1), expect);
    }
}

#define FFFD "\xef\xbf\xbd"

static void
test_invalid_utf8 (void **state)
{
    //  Each ill-formed sequence becomes U+FFFD per maximal subpart, and
    //  the text around it survives.
    //  lone continuation byte
    assert_string_equal (STRING ("a\x80z"), "\"a" FFFD "z\"");
    //  truncated 3-byte sequence at the end: one replacement for both bytes
    assert_string_equal (STRING ("a\xe2\x82"), "\"a" FFFD "\"");
    //  truncated sequence followed by ASCII: the ASCII is kept
    assert_string_equal (STRING ("\xe2\x82z"), "\"" FFFD "z\"");
    //  truncated 4-byte sequence
    assert_string_equal (STRING ("\xf0\x9f\x98"), "\"" FFFD "\"");
    //  overlong '/' (c0 af): c0 never starts a sequence, af is lone
    assert_string_equal (STRING ("\xc0\xaf"), "\"" FFFD FFFD "\"");
    //  overlong 3-byte NUL (e0 80 80): e0 needs a0..bf next
    assert_string_equal (STRING ("\xe0\x80\x80"), "\"" FFFD FFFD FFFD "\"");
    //  UTF-16 surrogate U+D800 (ed a0 80)
    assert_string_equal (STRING ("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\"");
    //  past U+10FFFF (f4 90 80 80) and bytes that never occur (f5, ff)
    assert_string_equal (STRING ("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
    assert_string_equal (STRING ("\xf5\xff"), "\"" FFFD FFFD "\"");
    //  The largest code point and the last before the surrogates are fine.
    assert_string_equal (STRING ("\xf4\x8f\xbf\xbf\xed\x9f\xbf"),
                         "\"\xf4\x8f\xbf\xbf\xed\x9f\xbf\"");
}

static void
test_bin_and_ext (void **state)
{
    //  bin becomes standard padded base64, for every remainder length.
    assert_string_equal (CONVERT ("\xc4\x00"), "\"\"");
    assert_string_equal (CONVERT ("\xc4\x01\x01"), "\"AQ==\"");
    assert_string_equal (CONVERT ("\xc4\x02\x01\x02"), "\"AQI=\"");
    assert_string_equal (CONVERT ("\xc4\x03\x01\x02\x03"), "\"AQID\"");
    assert_string_equal (CONVERT ("\xc4\x03\xfb\xff\xfe"), "\"+//+\"");
    //  ext becomes base64 of its data (the type byte is dropped).
    assert_string_equal (CONVERT ("\xd4\x05\xff"), "\"/w==\"");
    assert_string_equal (CONVERT ("\xc7\x03\x01" "abc"), "\"YWJj\"");
}

static void
test_containers (void **state)
{
    assert_string_equal (CONVERT ("\x90"), "[]");
    assert_string_equal (CONVERT ("\x80"), "{}");
    assert_string_equal (CONVERT ("\x93\x01\xc0\xa1x"), "[1,null,\"x\"]");
    //  str keys keep their order; values nest.
    assert_string_equal (CONVERT ("\x82\xa1" "b" "\x91\x01\xa1" "a" "\x80"),
                         "{\"b\":[1],\"a\":{}}");
    //  A str key is escaped like any string.
    assert_string_equal (CONVERT ("\x81\xa2" "\"\n" "\x01"), "{\"\\\"\\n\":1}");
}

static void
test_non_string_keys (void **state)
{
    //  Non-str keys become the string of their JSON text (PROTOCOL.md).
    assert_string_equal (CONVERT ("\x81\x01\xa1" "a"), "{\"1\":\"a\"}");
    assert_string_equal (CONVERT ("\x81\xff\x00"), "{\"-1\":0}");
    assert_string_equal (CONVERT ("\x81\xc3\x01"), "{\"true\":1}");
    assert_string_equal (CONVERT ("\x81\xc2\x01"), "{\"false\":1}");
    assert_string_equal (CONVERT ("\x81\xc0\x01"), "{\"null\":1}");
    assert_string_equal (CONVERT ("\x81\x92\x01\x02\x01"), "{\"[1,2]\":1}");
    //  A nested map key's quotes are escaped inside the key string.
    assert_string_equal (CONVERT ("\x81\x81\xa1" "a" "\x01\x02"), "{\"{\\\"a\\\":1}\":2}");
    //  bin and ext keys are their base64 text, unquoted inside the key.
    assert_string_equal (CONVERT ("\x81\xc4\x01\x01\x00"), "{\"AQ==\":0}");
    assert_string_equal (CONVERT ("\x81\xc4\x00\x00"), "{\"\":0}");   //  empty bin key
    assert_string_equal (CONVERT ("\x81\xd4\x01\xff\x00"), "{\"/w==\":0}");
    msgpack_packer *pk = s_pack_begin ();
    msgpack_pack_map (pk, 1);
    msgpack_pack_double (pk, 2.5);
    msgpack_pack_nil (pk);
    assert_string_equal (s_pack_end (), "{\"2.5\":null}");
}

static void
test_keys_within_keys_linear (void **state)
{
    //  A map key inside a map key: the inner one is written as its text
    //  inside the outer key's string, escaped once (PROTOCOL.md).
    assert_string_equal (CONVERT ("\x81\x81\x81\xa1\"\x01\x01\x01"),
                         "{\"{{\\\"\\\\\\\"\\\":1}:1}\":1}");
    //  31 map keys nested in map keys around a key holding a quote: 65
    //  bytes. Escaping per level doubled the quote's backslashes each
    //  time (2^31 bytes, refused at any sane limit after milliseconds of
    //  work); written once, the output stays a small multiple of the input.
    char mp[128];
    size_t n = 0;
    for (int i = 0; i < 31; i++)
        mp[n++] = (char) 0x81;
    mp[n++] = (char) 0xa1;
    mp[n++] = '"';
    mp[n++] = 0x01;
    for (int i = 0; i < 30; i++)
        mp[n++] = 0x01;
    const char *text = s_convert (mp, n);
    assert_true (strlen (text) < 8 * n);
}

//  Builds `depth` nested one-element containers (arrays, or maps keyed "k")
//  around a 1, by hand: msgpack-c's own unpacker stops at 32 levels, so
//  trees this deep can only reach the converter this way. One allocation
//  holds the nodes and then the map entries; the caller frees it.
static msgpack_object *
s_nest (int depth, bool maps)
{
    size_t n = (size_t) depth + 1;
    msgpack_object *nodes = calloc (n, sizeof *nodes + sizeof (msgpack_object_kv));
    assert_non_null (nodes);
    msgpack_object_kv *kvs = (msgpack_object_kv *) (nodes + n);
    nodes [depth].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    nodes [depth].via.u64 = 1;
    for (int i = depth - 1; i >= 0; i--) {
        if (maps) {
            kvs [i].key.type = MSGPACK_OBJECT_STR;
            kvs [i].key.via.str.ptr = "k";
            kvs [i].key.via.str.size = 1;
            kvs [i].val = nodes [i + 1];
            nodes [i].type = MSGPACK_OBJECT_MAP;
            nodes [i].via.map.size = 1;
            nodes [i].via.map.ptr = &kvs [i];
        }
        else {
            nodes [i].type = MSGPACK_OBJECT_ARRAY;
            nodes [i].via.array.size = 1;
            nodes [i].via.array.ptr = &nodes [i + 1];
        }
    }
    return nodes;
}

static void
test_depth_limit (void **state)
{
    hp_buf_t out;
    hp_buf_init (&out, 0);
    for (int maps = 0; maps <= 1; maps++) {
        msgpack_object *ok = s_nest (HP_JSON_DEPTH_MAX, maps);
        //  Exactly HP_JSON_DEPTH_MAX levels convert in full...
        hp_buf_reset (&out);
        assert_int_equal (hp_json_from_msgpack (&out, ok), 0);
        json_t *parsed = json_loadb (out.data, out.len, JSON_DECODE_ANY, NULL);
        assert_non_null (parsed);
        json_decref (parsed);
        free (ok);
        //  ...and one more level is refused, not truncated.
        msgpack_object *deep = s_nest (HP_JSON_DEPTH_MAX + 1, maps);
        hp_buf_reset (&out);
        assert_int_equal (hp_json_from_msgpack (&out, deep), -1);
        free (deep);
    }
    //  A too-deep tree hidden in a map key is refused the same way.
    msgpack_object *deep = s_nest (HP_JSON_DEPTH_MAX, false);
    msgpack_object_kv kv = { .key = deep [0] };
    kv.val.type = MSGPACK_OBJECT_NIL;
    msgpack_object map = { .type = MSGPACK_OBJECT_MAP };
    map.via.map.size = 1;
    map.via.map.ptr = &kv;
    hp_buf_reset (&out);
    assert_int_equal (hp_json_from_msgpack (&out, &map), -1);
    free (deep);
    hp_buf_free (&out);
}

static void
test_output_limit (void **state)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    const char mp [] = "\x92\xa5hello\xa5world";
    assert_int_equal (msgpack_unpack_next (&u, mp, sizeof mp - 1, NULL), MSGPACK_UNPACK_SUCCESS);
    hp_buf_t out;
    //  A limit one byte short of the 17-byte result fails cleanly...
    hp_buf_init (&out, 16);
    assert_int_equal (hp_json_from_msgpack (&out, &u.data), -1);
    assert_true (out.len <= 16);
    hp_buf_free (&out);
    //  ...and the exact size succeeds.
    hp_buf_init (&out, 17);
    assert_int_equal (hp_json_from_msgpack (&out, &u.data), 0);
    assert_memory_equal (out.data, "[\"hello\",\"world\"]", 17);
    hp_buf_free (&out);
    //  A limited string escape does not leave half a string behind.
    hp_buf_init (&out, 4);
    assert_int_equal (hp_json_put_string (&out, "abcd", 4), -1);
    assert_int_equal (out.len, 0);
    hp_buf_free (&out);
    //  A string whose escaped form fits the limit exactly is accepted,
    //  though its worst case (6 bytes per input byte) would not fit.
    hp_buf_init (&out, 10);
    assert_int_equal (hp_json_put_string (&out, "\n\x01", 2), 0);
    assert_int_equal (out.len, 10);
    assert_memory_equal (out.data, "\"\\n\\u0001\"", 10);
    hp_buf_free (&out);
    msgpack_unpacked_destroy (&u);
}

static void
test_short_string_fast_path (void **state)
{
    //  A buffer with room takes the fast path for strings up to 64 bytes
    //  (overlapping word loads), an empty one the general path: for every
    //  length 0-70 and one byte that needs escaping (or a UTF-8 lead, or
    //  none) at every position, both write the same bytes.
    static const unsigned char specials [] = { 0, '"', '\\', 0x01, 0x1f, 0x7f, 0xc3, 0xff, 'a' };
    unsigned char text [72];
    hp_buf_t fast, slow;
    hp_buf_init (&fast, 0);
    assert_int_equal (hp_buf_reserve (&fast, 1024), 0);
    for (size_t n = 0; n <= 70; n++)
        for (size_t at = 0; at < (n ? n : 1); at++)
            for (size_t k = 0; k < sizeof specials; k++) {
                for (size_t i = 0; i < n; i++)
                    text [i] = (unsigned char) ('A' + i % 26);
                if (n)
                    text [at] = specials [k];
                hp_buf_reset (&fast);
                hp_buf_init (&slow, 0);
                assert_int_equal (hp_json_put_string (&fast, (const char *) text, n), 0);
                assert_int_equal (hp_json_put_string (&slow, (const char *) text, n), 0);
                assert_int_equal (fast.len, slow.len);
                assert_memory_equal (fast.data, slow.data, fast.len);
                hp_buf_free (&slow);
            }
    hp_buf_free (&fast);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_scalars),
        cmocka_unit_test (test_integers_exact),
        cmocka_unit_test (test_doubles),
        cmocka_unit_test (test_string_escapes),
        cmocka_unit_test (test_every_control_char),
        cmocka_unit_test (test_short_string_fast_path),
        cmocka_unit_test (test_invalid_utf8),
        cmocka_unit_test (test_bin_and_ext),
        cmocka_unit_test (test_containers),
        cmocka_unit_test (test_non_string_keys),
        cmocka_unit_test (test_keys_within_keys_linear),
        cmocka_unit_test (test_depth_limit),
        cmocka_unit_test (test_output_limit),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
