/* test_undelivered.c -- the undelivered stream's byte bound: drop and count past it, give bytes back as ZeroMQ frees them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>
#include <zmq.h>

#include "undelivered.h"

/* An envelope with a data string of data_len bytes. */
static size_t
s_envelope (char *out, size_t cap, size_t data_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    msgpack_pack_str_with_body (&pk, "event", 5);
    msgpack_pack_str_with_body (&pk, "bid", 3);
    msgpack_pack_str_with_body (&pk, "to", 2);
    msgpack_pack_str_with_body (&pk, "u", 1);
    msgpack_pack_str_with_body (&pk, "data", 4);
    msgpack_pack_str (&pk, data_len);
    static char filler[70000];
    memset (filler, 'x', sizeof filler);
    msgpack_pack_str_body (&pk, filler, data_len);
    assert_true (sb.size <= cap);
    memcpy (out, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy (&sb);
    return n;
}

/* One 60 KB event to many offline users, a worker that does not read:
 * the notices queued stop at the byte bound, the rest are dropped and
 * counted; reading them gives the bytes back, to 0. */
static void
test_byte_bound (void **state)
{
    void *ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    void *pull = zmq_socket (ctx, ZMQ_PULL);
    int hwm = 100000;
    zmq_setsockopt (push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    assert_int_equal (zmq_bind (push, "inproc://undelivered-test"), 0);
    assert_int_equal (zmq_connect (pull, "inproc://undelivered-test"), 0);

    hb_metrics_t metrics;
    memset (&metrics, 0, sizeof metrics);
    const size_t bound = 1 << 20;
    hb_undelivered_t *u = hb_undelivered_new (push, &metrics, 65536, bound);
    assert_non_null (u);
    hp_envelope_t *env = hp_envelope_new ();
    static char bytes[70000];
    size_t len = s_envelope (bytes, sizeof bytes, 60000);
    assert_int_equal (hp_envelope_decode (env, bytes, len, 65536), HP_ENV_OK);
    hb_undelivered_begin (u, env, 1);
    char user[32];
    for (int i = 0; i < 1000; i++) {
        int n = snprintf (user, sizeof user, "user-%d", i);
        hb_undelivered_send (u, user, (size_t) n);
    }
    //  1 MiB holds 17 notices of ~60 KB; 1000 - 17 were dropped.
    assert_int_equal (metrics.undelivered_sent, 17);
    assert_int_equal (metrics.undelivered_over_bytes, 1000 - 17);
    assert_int_equal (metrics.undelivered_dropped, 1000 - 17);
    size_t queued = hb_undelivered_queued_bytes (u);
    assert_true (queued > 16 * 60000 && queued <= bound);

    zmq_msg_t msg;
    zmq_msg_init (&msg);
    for (int i = 0; i < 17; i++) {
        assert_true (zmq_msg_recv (&msg, pull, 0) > 60000);
        zmq_msg_close (&msg);
        zmq_msg_init (&msg);
    }
    //  inproc hands the message itself over: closing it here is the free.
    assert_int_equal (hb_undelivered_queued_bytes (u), 0);
    hb_undelivered_send (u, "again", 5);
    assert_int_equal (metrics.undelivered_sent, 18);

    //  Destroyed with a notice still queued: the count it shares lives on
    //  until ZeroMQ frees that notice at close (ASan would see otherwise).
    hb_undelivered_destroy (&u);
    hp_envelope_destroy (&env);
    zmq_close (pull);
    zmq_close (push);
    zmq_ctx_term (ctx);
}

/* With no worker at all, a notice is dropped at once and its bytes come back. */
static void
test_no_worker (void **state)
{
    void *ctx = zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    assert_int_equal (zmq_bind (push, "inproc://undelivered-none"), 0);
    hb_metrics_t metrics;
    memset (&metrics, 0, sizeof metrics);
    hb_undelivered_t *u = hb_undelivered_new (push, &metrics, 65536, 1 << 20);
    hp_envelope_t *env = hp_envelope_new ();
    static char bytes[70000];
    size_t len = s_envelope (bytes, sizeof bytes, 100);
    assert_int_equal (hp_envelope_decode (env, bytes, len, 65536), HP_ENV_OK);
    hb_undelivered_begin (u, env, 1);
    hb_undelivered_send (u, "alice", 5);
    assert_int_equal (metrics.undelivered_dropped, 1);
    assert_int_equal (metrics.undelivered_over_bytes, 0);
    assert_int_equal (hb_undelivered_queued_bytes (u), 0);
    hb_undelivered_destroy (&u);
    hp_envelope_destroy (&env);
    zmq_close (push);
    zmq_ctx_term (ctx);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_byte_bound),
        cmocka_unit_test (test_no_worker),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
