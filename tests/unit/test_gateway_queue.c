/* test_gateway_queue.c -- refcounted frames and the bounded per-connection queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "blob.h"
#include "buf.h"
#include "metrics.h"
#include "queue.h"

/* A blob copies its bytes, and the last release frees it. */
static void
test_blob_refcount (void **state)
{
    size_t live = gw_blob_live_count ();
    gw_blob_t *blob = gw_blob_new ("hello", 5, 42, 0);
    assert_non_null (blob);
    assert_int_equal (blob->len, 5);
    assert_int_equal (blob->offset, 42);
    assert_memory_equal (blob->payload, "hello", 5);
    gw_blob_t *second = gw_blob_ref (blob);
    assert_ptr_equal (second, blob);
    gw_blob_release (&second);
    assert_null (second);
    assert_int_equal (gw_blob_live_count (), live + 1);   /* one reference left */
    gw_blob_release (&blob);
    assert_int_equal (gw_blob_live_count (), live);
    gw_blob_release (&blob);                               /* NULL is fine */
}

/* Frames come out in the order they went in, across ring growth. */
static void
test_queue_fifo (void **state)
{
    gw_queue_t *queue = gw_queue_new (1 << 20);
    assert_non_null (queue);
    for (uint64_t i = 1; i <= 100; i++) {
        gw_blob_t *blob = gw_blob_new ("x", 1, i, 0);
        assert_int_equal (gw_queue_push (queue, &blob), 0);
        assert_null (blob);                                /* the queue took it */
        if (i % 3 == 0) {                                  /* wrap the ring */
            gw_blob_t *out = gw_queue_pop (queue);
            assert_int_equal (out->offset, i / 3);
            gw_blob_release (&out);
        }
    }
    assert_int_equal (gw_queue_count (queue), 100 - 33);
    assert_int_equal (gw_queue_bytes (queue), 100 - 33);
    for (uint64_t expect = 34; expect <= 100; expect++) {
        assert_int_equal (gw_queue_peek (queue)->offset, expect);
        gw_blob_t *out = gw_queue_pop (queue);
        assert_int_equal (out->offset, expect);
        gw_blob_release (&out);
    }
    assert_null (gw_queue_pop (queue));
    assert_int_equal (gw_queue_bytes (queue), 0);
    gw_queue_compact (queue);
    gw_queue_destroy (&queue);
    assert_null (queue);
}

/* Past the byte bound a push is refused and the caller keeps its reference. */
static void
test_queue_bound (void **state)
{
    gw_queue_t *queue = gw_queue_new (10);
    gw_blob_t *a = gw_blob_new ("123456", 6, 1, 0);
    gw_blob_t *b = gw_blob_new ("123456", 6, 2, 0);
    assert_int_equal (gw_queue_push (queue, &a), 0);
    assert_int_equal (gw_queue_push (queue, &b), -1);
    assert_non_null (b);
    assert_int_equal (gw_queue_count (queue), 1);
    assert_int_equal (gw_queue_bytes (queue), 6);
    gw_blob_release (&b);
    gw_queue_destroy (&queue);
}

/* Replay frames pass the bound and do not count against later pushes; the
 * allowance goes as they are written. */
static void
test_queue_replay_exempt (void **state)
{
    gw_queue_t *queue = gw_queue_new (10);
    for (int i = 0; i < 3; i++) {
        gw_blob_t *replay = gw_blob_new ("12345678", 8, (uint64_t) i + 1, 0);
        assert_int_equal (gw_queue_push_replay (queue, &replay), 0);
    }
    gw_blob_t *live = gw_blob_new ("12345678", 8, 4, 0);
    assert_int_equal (gw_queue_push (queue, &live), 0);      /* 8 live bytes <= 10 */
    gw_blob_t *more = gw_blob_new ("123", 3, 5, 0);
    assert_int_equal (gw_queue_push (queue, &more), -1);     /* 11 live bytes > 10 */
    assert_int_equal (gw_queue_bytes (queue), 32);
    for (uint64_t expect = 1; expect <= 4; expect++) {
        gw_blob_t *out = gw_queue_pop (queue);
        assert_int_equal (out->offset, expect);
        gw_blob_release (&out);
    }
    assert_int_equal (gw_queue_push (queue, &more), 0);
    gw_queue_destroy (&queue);
}

/* Destroying a queue releases every reference it held; a shared blob lives
 * on in the other holder. */
static void
test_queue_destroy_releases (void **state)
{
    size_t live = gw_blob_live_count ();
    gw_blob_t *shared = gw_blob_new ("event", 5, 9, 0);
    gw_queue_t *one = gw_queue_new (1024), *two = gw_queue_new (1024);
    gw_blob_t *ref1 = gw_blob_ref (shared), *ref2 = gw_blob_ref (shared);
    assert_int_equal (gw_queue_push (one, &ref1), 0);
    assert_int_equal (gw_queue_push (two, &ref2), 0);
    gw_blob_release (&shared);
    gw_queue_destroy (&one);
    assert_int_equal (gw_blob_live_count (), live + 1);
    assert_int_equal (gw_queue_peek (two)->offset, 9);
    gw_queue_destroy (&two);
    assert_int_equal (gw_blob_live_count (), live);
}

/* The metrics text has every documented family and a sample per label. */
static void
test_metrics_render (void **state)
{
    gw_metrics_t metrics;
    memset (&metrics, 0, sizeof metrics);
    gw_metrics_count_close (&metrics, 4001);
    gw_metrics_count_close (&metrics, 3999);
    metrics.auth_failures_total[gw_metrics_authfail_of (GW_AUTH_EXPIRED)]++;
    metrics.resumes_total[1] = 7;
    hp_buf_t out;
    hp_buf_init (&out, 1 << 16);
    assert_int_equal (gw_metrics_render (&metrics, &out), 0);
    assert_int_equal (hp_buf_putc (&out, '\0'), 0);
    assert_non_null (strstr (out.data, "herald_gateway_closes_total{code=\"4001\"} 1\n"));
    assert_non_null (strstr (out.data, "herald_gateway_closes_total{code=\"other\"} 1\n"));
    assert_non_null (strstr (out.data, "herald_gateway_auth_failures_total{reason=\"expired\"} 1\n"));
    assert_non_null (strstr (out.data, "herald_gateway_resumes_total{recovered=\"true\"} 7\n"));
    const char *names[] = { "connections", "users", "connections_total", "events_in_total",
                            "frames_out_total", "events_dropped_total", "queue_bytes" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char want[128];
        snprintf (want, sizeof want, "# TYPE herald_gateway_%s ", names[i]);
        assert_non_null (strstr (out.data, want));
    }
    hp_buf_free (&out);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_blob_refcount),
        cmocka_unit_test (test_queue_fifo),
        cmocka_unit_test (test_queue_bound),
        cmocka_unit_test (test_queue_replay_exempt),
        cmocka_unit_test (test_queue_destroy_releases),
        cmocka_unit_test (test_metrics_render),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
