/* test_streamkey.c -- the history keys of an envelope: user ids, 0x01 + channel, 0x02. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>

#include "streamkey.h"

/* Decodes a msgpack map built from (key, str) pairs plus broadcast:true
 * when asked. */
static hp_envelope_t *
s_decode (msgpack_sbuffer *buf, const char *to1, const char *to2, const char *channel,
          bool broadcast)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (buf);
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "event", 5);
    msgpack_pack_str_with_body (&pk, "e", 1);
    if (to1) {
        msgpack_pack_str_with_body (&pk, "to", 2);
        msgpack_pack_array (&pk, to2 ? 2 : 1);
        msgpack_pack_str_with_body (&pk, to1, strlen (to1));
        if (to2)
            msgpack_pack_str_with_body (&pk, to2, strlen (to2));
    }
    else if (channel) {
        msgpack_pack_str_with_body (&pk, "channel", 7);
        msgpack_pack_str_with_body (&pk, channel, strlen (channel));
    }
    else if (broadcast) {
        msgpack_pack_str_with_body (&pk, "broadcast", 9);
        msgpack_pack_true (&pk);
    }
    hp_envelope_t *env = hp_envelope_new ();
    assert_non_null (env);
    assert_int_equal (hp_envelope_decode (env, buf->data, buf->size, 1 << 16), HP_ENV_OK);
    return env;
}

/* Users keep their ids as keys (unchanged from before streams), a channel
 * gets 0x01 + its name, a broadcast 0x02; each key hashed as umap expects. */
static void
test_keys_by_addressing (void **state)
{
    hb_streamkey_t buf;
    hb_key_t keys[4];
    msgpack_sbuffer sb;

    hp_envelope_t *env = s_decode (&sb, "alice", "bob", NULL, false);
    assert_int_equal (hb_streamkey_envelope (env, &buf, keys), 2);
    assert_int_equal (keys[0].len, 5);
    assert_memory_equal (keys[0].ptr, "alice", 5);
    assert_true (keys[1].hash == hb_hash ("bob", 3));
    hp_envelope_destroy (&env);
    msgpack_sbuffer_destroy (&sb);

    env = s_decode (&sb, NULL, NULL, "order:17", false);
    assert_int_equal (hb_streamkey_envelope (env, &buf, keys), 1);
    assert_int_equal (keys[0].len, 9);
    assert_memory_equal (keys[0].ptr, "\x01order:17", 9);
    assert_true (keys[0].ptr == buf.bytes);
    assert_true (keys[0].hash == hb_hash ("\x01order:17", 9));
    hp_envelope_destroy (&env);
    msgpack_sbuffer_destroy (&sb);

    env = s_decode (&sb, NULL, NULL, NULL, true);
    assert_int_equal (hb_streamkey_envelope (env, &buf, keys), 1);
    assert_int_equal (keys[0].len, 1);
    assert_int_equal (keys[0].ptr[0], '\x02');
    hp_envelope_destroy (&env);
    msgpack_sbuffer_destroy (&sb);

    /* a stream that is not valid has no key */
    hp_stream_t bad = hp_stream_channel ("a b", 3);
    assert_int_equal (hb_streamkey_make (&bad, &buf, &keys[0]), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keys_by_addressing),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
