/* test_pair_catchup.c -- the pair's catch-up: the history cursor, chunks over a real socket, the copy it builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "envelope.h"
#include "history.h"
#include "idempotency.h"
#include "pair_catchup.h"
#include "umap.h"

/* Each test event's accept time, from its offset, so that a check can
 * tell it came back with the event. */
#include "event_meta.h"

#define S_AT(offset) (1764720000000000ULL + (offset))

#define BIG ((size_t) 1 << 30)
#define NOW 1000
#define FRAME_BYTES 1024

static hb_key_t
s_key (const char *k, size_t len)
{
    return (hb_key_t) { k, len, hb_hash (k, len) };
}

/* Stores event offset for one stream key with a FRAME_BYTES frame. */
static void
s_append (hb_history_t *h, uint64_t offset, uint32_t ttl, uint64_t now, const char *key,
          size_t klen)
{
    char json[FRAME_BYTES];
    memset (json, 'x', sizeof json);
    int n = snprintf (json, sizeof json, "{\"offset\":%llu,\"pad\":\"", (unsigned long long) offset);
    json[n] = 'x';
    memcpy (json + sizeof json - 2, "\"}", 2);
    hb_key_t keys[1] = { s_key (key, klen) };
    zmq_msg_t frame;
    zmq_msg_init_size (&frame, sizeof json);
    memcpy (zmq_msg_data (&frame), json, sizeof json);
    hp_event_meta_t meta = s_meta_of (offset);
    assert_int_equal (hb_history_append (h, offset, ttl, now, S_AT (offset), &meta, &frame, keys, 1), 0);
    zmq_msg_close (&frame);
}

typedef struct {
    void *ctx, *push, *pull;
    hb_history_t *copy;
    hb_idem_t *idem;             /* the passive's window, or NULL */
    size_t key_frames;
    hb_key_t *keys;
    uint64_t last;
    size_t chunks, max_event_bytes;
    bool final;
} s_link_t;

static void
s_link_open (s_link_t *l)
{
    memset (l, 0, sizeof *l);
    l->ctx = zmq_ctx_new ();
    l->push = zmq_socket (l->ctx, ZMQ_PUSH);
    l->pull = zmq_socket (l->ctx, ZMQ_PULL);
    assert_int_equal (zmq_bind (l->pull, "inproc://catchup"), 0);
    assert_int_equal (zmq_connect (l->push, "inproc://catchup"), 0);
    l->keys = malloc (HP_RECIPIENTS_MAX * sizeof *l->keys);
}

static void
s_link_close (s_link_t *l)
{
    hb_history_destroy (&l->copy);
    hb_idem_destroy (&l->idem);
    free (l->keys);
    zmq_close (l->push);
    zmq_close (l->pull);
    zmq_ctx_term (l->ctx);
}

/* Receives and applies one chunk as the passive does (pair.c), acking it
 * to tx. Returns false when no chunk was waiting. */
static bool
s_receive_chunk (s_link_t *l, hb_catchup_tx_t *tx, uint64_t now_sec)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, l->pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return false;
    }
    hb_catchup_head_t head;
    assert_int_equal (hb_catchup_head_parse (zmq_msg_data (&msg), zmq_msg_size (&msg), &head), 0);
    assert_int_equal (head.want, 7);
    assert_int_equal (head.seq, l->chunks);
    if (head.seq == 0) {
        hb_history_destroy (&l->copy);
        l->copy = hb_history_new (200, BIG);
        hb_history_lose_upto (l->copy, head.floor);
        l->last = head.floor;
        if (l->idem)
            hb_idem_clear (l->idem);
    }
    size_t event_bytes = 0;
    bool tail_seen = false;
    hb_catchup_tail_t tail;
    while (zmq_msg_more (&msg)) {
        zmq_msg_close (&msg);
        zmq_msg_init (&msg);
        assert_true (zmq_msg_recv (&msg, l->pull, 0) >= 0);
        const unsigned char *f = zmq_msg_data (&msg);
        size_t n = zmq_msg_size (&msg);
        if (f[0] == 'T') {
            assert_int_equal (hb_catchup_tail_parse (f, n, &tail), 0);
            assert_false (zmq_msg_more (&msg));
            tail_seen = true;
            continue;
        }
        if (f[0] == 'k') {
            /* proves: a keys frame keeps its own bound */
            assert_true (n <= HB_CATCHUP_KEYS_FRAME);
            assert_non_null (l->idem);
            assert_true (hb_catchup_apply_keys (l->idem, f, n, now_sec) > 0);
            event_bytes += n;
            l->key_frames++;
            continue;
        }
        if (f[0] == 'e')
            event_bytes += n;
        assert_true (hb_catchup_apply (l->copy, f, n, now_sec, l->keys, &l->last) >= 0);
    }
    zmq_msg_close (&msg);
    assert_true (tail_seen);
    /* the bound: under it, or passed by the one event that crossed it */
    assert_true (event_bytes < HB_CATCHUP_CHUNK_BYTES + FRAME_BYTES + 64);
    if (tail.final) {
        hb_history_lose_upto (l->copy, tail.floor);
        l->last = tail.last;
        l->final = true;
    }
    unsigned char ack[HB_CATCHUP_ACK_LEN];
    hb_catchup_ack_pack (ack, head.want, head.seq);
    hb_catchup_tx_ack (tx, ack, sizeof ack, 0);
    l->chunks++;
    return true;
}

/* For every stream: the copy holds the same events, frames included, and
 * never claims more completeness than the active (its lost_upto is at
 * least the active's). */
static void
s_assert_copy (hb_history_t *active, hb_history_t *copy, const char **keys, size_t nkeys,
               uint64_t now)
{
    static hb_history_item_t a[1000], b[1000];
    for (size_t k = 0; k < nkeys; k++) {
        uint64_t lost_a, lost_b;
        size_t na = hb_history_collect (active, keys[k], strlen (keys[k]), 0, now, a, 1000, &lost_a);
        size_t nb = hb_history_collect (copy, keys[k], strlen (keys[k]), 0, now, b, 1000, &lost_b);
        assert_int_equal (na, nb);
        for (size_t i = 0; i < na; i++) {
            assert_int_equal (a[i].offset, b[i].offset);
            assert_int_equal (a[i].len, b[i].len);
            assert_memory_equal (a[i].json, b[i].json, a[i].len);
            /* the accept time crossed with the event */
            assert_true (a[i].at == b[i].at && a[i].at == S_AT (a[i].offset));
            /* flags, receipt and key crossed the catch-up ('m' records) */
            assert_true (s_meta_is (&b[i].meta, b[i].offset));
        }
        assert_true (lost_b >= lost_a);
    }
}

/* A history of users, a channel and broadcast, larger than two chunks, goes
 * over in several bounded chunks under the window; the active appends and
 * evicts meanwhile; the copy ends equal, and a stream whose unsent newest
 * event expired meanwhile is known to have lost it. */
static void
test_catchup_round_trip (void **state)
{
    (void) state;
    const char *keys[] = { "alice", "bob", "carol", "\x01" "order:17", "\x02" };
    const size_t nkeys = 5;
    hb_history_t *active = hb_history_new (200, BIG);
    uint64_t offset = 0;
    for (int i = 0; i < 600; i++) {
        size_t which = i % 4 == 3 ? 3 + (size_t) (i / 4) % 2 : (size_t) (i % 2);
        const char *k = keys[which];
        s_append (active, ++offset, 3600, NOW, k, strlen (k));
    }
    /* carol: one event early, one late with a short ttl (the cursor will not
     * have reached it when it expires) */
    s_append (active, ++offset, 3600, NOW, "carol", 5);
    for (int i = 0; i < 300; i++)
        s_append (active, ++offset, 3600, NOW, "bob", 3);
    uint64_t carol_late = ++offset;
    s_append (active, carol_late, 5, NOW, "carol", 5);

    s_link_t l;
    s_link_open (&l);
    hb_catchup_tx_t *tx = hb_catchup_tx_new ();
    hb_catchup_tx_want (tx, active, 7, 0);
    assert_int_equal (hb_catchup_tx_state (tx), HB_CATCHUP_RUNNING);
    assert_false (hb_catchup_tx_live (tx, 7));

    /* the first window: two chunks, then nothing until an ack */
    hb_catchup_tx_send (tx, active, l.push, 0xE, offset, NOW, 0, 10000);
    assert_true (s_receive_chunk (&l, tx, NOW));
    assert_true (s_receive_chunk (&l, tx, NOW));
    assert_false (s_receive_chunk (&l, tx, NOW));
    /* meanwhile: carol's late event expires before the cursor reaches it,
     * and new events arrive */
    hb_history_sweep (active, NOW + 10);
    for (int i = 0; i < 10; i++)
        s_append (active, ++offset, 3600, NOW + 10, "alice", 5);
    int done = 0;
    for (int turns = 0; turns < 100 && !l.final; turns++) {
        done |= hb_catchup_tx_send (tx, active, l.push, 0xE, offset, NOW + 10, 0, 10000);
        while (s_receive_chunk (&l, tx, NOW + 10))
            ;
    }
    assert_true (done);
    assert_true (l.final);
    assert_true (l.chunks >= 3);
    assert_int_equal (l.last, offset);
    assert_int_equal (hb_catchup_tx_state (tx), HB_CATCHUP_DONE);
    assert_true (hb_catchup_tx_live (tx, 7));
    assert_false (hb_catchup_tx_live (tx, 8));
    const hb_catchup_stats_t *st = hb_catchup_tx_stats (tx);
    assert_int_equal (st->completed, 1);
    assert_true (st->events >= hb_history_events (active));

    s_assert_copy (active, l.copy, keys, nkeys, NOW + 10);
    uint64_t lost;
    hb_history_item_t items[4];
    hb_history_collect (l.copy, "carol", 5, 0, NOW + 10, items, 4, &lost);
    assert_true (lost >= carol_late);

    /* a new request starts over from the oldest */
    hb_catchup_tx_want (tx, active, 8, 0);
    assert_int_equal (hb_catchup_tx_state (tx), HB_CATCHUP_RUNNING);
    hb_catchup_tx_destroy (&tx, active);
    assert_null (tx);
    s_link_close (&l);
    hb_history_destroy (&active);
}

/* The idempotency window goes with the history: 3,000 keys of 100 bytes
 * (more than a chunk) accepted before the catch-up, some while it runs,
 * one whose window ends meanwhile; the copy then answers each as a
 * duplicate with its first offset, for what is left of its window, and
 * holds neither the one that ended nor the keys it held before. */
static void
test_catchup_carries_idempotency_keys (void **state)
{
    (void) state;
    hb_history_t *active = hb_history_new (200, BIG);
    hb_idem_t *window = hb_idem_new (300, 64u << 20);
    uint64_t offset = 0;
    char key[101];
    uint64_t t = NOW - 290;
    assert_false (hb_idem_claim (window, "early", 5, ++offset, t, NULL));   /* ends at NOW + 10 */
    s_append (active, offset, 3600, NOW, "alice", 5);
    for (int i = 0; i < 3000; i++) {
        snprintf (key, sizeof key, "%0100d", i);
        assert_false (hb_idem_claim (window, key, 100, ++offset, NOW - 100, NULL));
        s_append (active, offset, 3600, NOW, i % 2 ? "alice" : "bob", i % 2 ? 5 : 3);
    }
    s_link_t l;
    s_link_open (&l);
    l.idem = hb_idem_new (300, 64u << 20);
    assert_false (hb_idem_claim (l.idem, "stale", 5, 1, NOW, NULL));  /* from an older copy */
    hb_catchup_tx_t *tx = hb_catchup_tx_new ();
    hb_catchup_tx_set_idem (tx, window);
    hb_catchup_tx_want (tx, active, 7, 0);
    hb_catchup_tx_send (tx, active, l.push, 0xE, offset, NOW, 0, 10000);
    while (s_receive_chunk (&l, tx, NOW))
        ;
    /* meanwhile: more keys (and their events), and "early"'s window ends */
    for (int i = 3000; i < 3010; i++) {
        snprintf (key, sizeof key, "%0100d", i);
        assert_false (hb_idem_claim (window, key, 100, ++offset, NOW + 20, NULL));
        s_append (active, offset, 3600, NOW + 20, "alice", 5);
    }
    for (int turns = 0; turns < 100 && !l.final; turns++) {
        hb_catchup_tx_send (tx, active, l.push, 0xE, offset, NOW + 20, 0, 10000);
        while (s_receive_chunk (&l, tx, NOW + 20))
            ;
    }
    assert_true (l.final);
    assert_int_equal (l.last, offset);
    assert_true (l.key_frames >= 2);
    /* proves: every key inside its window when the cursor reached it went
     * ("early" too), counted */
    assert_int_equal (hb_catchup_tx_stats (tx)->keys, 3011);
    hb_idem_stats_t st;
    hb_idem_stats (l.idem, &st);
    assert_int_equal (st.keys, 3011);
    uint64_t original = 0;
    for (int i = 0; i < 3010; i++) {
        snprintf (key, sizeof key, "%0100d", i);
        /* proves: a retry on the copy is a duplicate of the first offset */
        assert_true (hb_idem_claim (l.idem, key, 100, 999999, NOW + 21, &original));
        assert_int_equal (original, (uint64_t) i + 2);
    }
    /* proves: the ages came along: keys accepted at NOW - 100 end at NOW + 200 */
    snprintf (key, sizeof key, "%0100d", 0);
    assert_false (hb_idem_claim (l.idem, key, 100, 999999, NOW + 200, NULL));
    /* proves: a key carried with its age ends when it would have on the
     * active ("early", at NOW + 10), and the old copy's key is gone */
    assert_false (hb_idem_claim (l.idem, "early", 5, 999999, NOW + 21, NULL));
    assert_false (hb_idem_claim (l.idem, "stale", 5, 999999, NOW + 21, NULL));
    hb_catchup_tx_destroy (&tx, active);
    s_link_close (&l);
    hb_idem_destroy (&window);
    hb_history_destroy (&active);
}

/* A keys frame that does not add up is refused. */
static void
test_apply_keys_refuses_bad_frames (void **state)
{
    (void) state;
    hb_idem_t *w = hb_idem_new (300, 1 << 20);
    /* 'k' age=1 offset=5 klen=2 "ab" */
    unsigned char rec[] = { 'k', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 2, 'a', 'b' };
    assert_int_equal (hb_catchup_apply_keys (w, rec, sizeof rec - 1, NOW), -1);   /* key cut */
    assert_int_equal (hb_catchup_apply_keys (w, rec, 10, NOW), -1);               /* head cut */
    unsigned char zero[] = { 'k', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0 };
    assert_int_equal (hb_catchup_apply_keys (w, zero, sizeof zero, NOW), -1);     /* empty key */
    assert_int_equal (hb_catchup_apply_keys (w, rec + 1, sizeof rec - 1, NOW), -1);
    assert_int_equal (hb_catchup_apply_keys (w, rec, sizeof rec, NOW), 1);
    uint64_t original = 0;
    assert_true (hb_idem_claim (w, "ab", 2, 9, NOW, &original));
    assert_int_equal (original, 5);
    hb_idem_destroy (&w);
}

/* Malformed records are refused, nothing applied: a truncated key list, a
 * length that does not add up, an offset that does not follow. */
static void
test_apply_refuses_bad_records (void **state)
{
    (void) state;
    hb_history_t *h = hb_history_new (3, BIG);
    hb_key_t *keys = malloc (HP_RECIPIENTS_MAX * sizeof *keys);
    uint64_t last = 10;
    /* 'e' offset=11 ttl=60 n=1 json_len=2 at=0x0102..08, key "al" lost 0, json "{}" */
    unsigned char rec[] = { 'e', 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0, 60, 0, 1, 0, 0, 0, 2,
                            1, 2, 3, 4, 5, 6, 7, 8,
                            0, 2, 'a', 'l', 0, 0, 0, 0, 0, 0, 0, 0, '{', '}' };
    assert_int_equal (hb_catchup_apply (h, rec, sizeof rec - 1, NOW, keys, &last), -1);
    assert_int_equal (hb_catchup_apply (h, rec, 29, NOW, keys, &last), -1);
    assert_int_equal (hb_catchup_apply (h, rec, 26, NOW, keys, &last), -1);   /* head cut short */
    assert_int_equal (hb_catchup_apply (h, (const unsigned char *) "x", 1, NOW, keys, &last), -1);
    assert_int_equal (hb_history_events (h), 0);
    assert_int_equal (hb_catchup_apply (h, rec, sizeof rec, NOW, keys, &last), 1);
    assert_int_equal (last, 11);
    assert_int_equal (hb_history_events (h), 1);
    /* the record's accept time is stored with the event */
    hb_history_item_t item;
    uint64_t lost;
    assert_int_equal (hb_history_collect (h, "al", 2, 0, NOW, &item, 1, &lost), 1);
    assert_true (item.at == 0x0102030405060708ULL);
    assert_int_equal (hb_catchup_apply (h, rec, sizeof rec, NOW, keys, &last), -1);  /* not after 11 */
    unsigned char lostrec[] = { 'L', 0, 0, 0, 0, 0, 0, 0, 9, 0, 5 };   /* key cut short */
    assert_int_equal (hb_catchup_apply (h, lostrec, sizeof lostrec, NOW, keys, &last), -1);
    hb_catchup_head_t head;
    hb_catchup_tail_t tail;
    assert_int_equal (hb_catchup_head_parse (rec, sizeof rec, &head), -1);
    unsigned char badtail[HB_CATCHUP_TAIL_LEN] = { 'T', 2 };
    assert_int_equal (hb_catchup_tail_parse (badtail, sizeof badtail, &tail), -1);
    free (keys);
    hb_history_destroy (&h);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_catchup_round_trip),
        cmocka_unit_test (test_apply_refuses_bad_records),
        cmocka_unit_test (test_catchup_carries_idempotency_keys),
        cmocka_unit_test (test_apply_keys_refuses_bad_frames),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
