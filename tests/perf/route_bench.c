/* route_bench.c -- CPU cost per event of the broker's routing path, measured in-process.
 *
 * Builds the broker's real modules (presence, history, undelivered, router)
 * on a real ZeroMQ XPUB bound to tcp loopback, with a SUB in its own thread
 * subscribed to every user and draining what is published, and measures the
 * calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID) per event, so time
 * spent by ZeroMQ's I/O thread and by the drainer is not counted.
 *
 * Cases:
 *   decode+frame    hp_envelope_decode + hp_frame_event only
 *   unicast         hb_router_route, one recipient, ~100-byte data
 *   10 recipients   hb_router_route, ten recipients, same data (one multicast
 *                   message: 8 or more online recipients)
 *   pull+unicast    main.c's ingest loop: zmq_msg_recv from a PULL fed by a
 *                   PUSH thread (inproc), then hb_router_route
 *   channel         hb_router_route, a channel event (the unicast case's data,
 *                   "channel" instead of "to") to one of 100 subscribed
 *                   channels: stored in the channel's ring, one publish
 *   bench           what `scripts/bench --only broker` sends: the producer's
 *                   small envelope ({ts, seq} data) to one user picked at
 *                   random among 10,000, so presence, history and the
 *                   XPUB's topic trie are as cold as in that run
 *
 * Every recipient is online and history is on (100 events per user,
 * 64 MiB), so steady state evicts one ring entry per recipient per event
 * (bench: the byte bound evicts the globally oldest event instead).
 * Each case warms up (fills the rings) before it is timed.
 *
 * usage: route_bench [events-per-case [case]]   (default 1,000,000, all cases;
 *        case: decode, unicast, fanout, pull, channel or bench, to profile one alone) */
#define _GNU_SOURCE                 /* pthread_setname_np */
#include "envelope.h"
#include "frame.h"
#include "history.h"
#include "metrics.h"
#include "presence.h"
#include "ratelog.h"
#include "router.h"
#include "umap.h"
#include "undelivered.h"
#include "../xorshift.h"
#include "wire.h"

#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_USERS     1000        /* recipients of the unicast and fanout cases */
#define S_SUBSCRIBED 10000      /* users online (the SUB's topics) */
#define S_POOL      1024        /* distinct envelopes cycled through */
#define S_BENCH_POOL 65536      /* bench case: random recipients, read in order */
#define S_FANOUT    10
#define S_CHANNELS  100         /* channels the SUB subscribes (channel case) */

typedef struct {
    char  *data;
    size_t len;
} s_env_t;

static atomic_bool s_stop;
static atomic_ullong s_drained;

static double
s_thread_cpu_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double
s_wall_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
s_buf_write (void *data, const char *bytes, size_t len)
{
    msgpack_sbuffer_write (data, bytes, len);
    return 0;
}

static void
s_pack_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

/* A small bidding-style event: about 100 bytes of data with strings,
 * integers and one float, to `fanout` users starting at `first` (fanout 0:
 * to the channel "room:<first % S_CHANNELS>"). */
static s_env_t
s_envelope (int first, int fanout, int seq)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, s_buf_write);
    char text[64];
    msgpack_pack_map (&pk, 4);
    s_pack_str (&pk, "event");
    s_pack_str (&pk, "bid.placed");
    if (fanout == 0) {
        s_pack_str (&pk, "channel");
        snprintf (text, sizeof text, "room:%d", first % S_CHANNELS);
        s_pack_str (&pk, text);
    }
    else
        s_pack_str (&pk, "to");
    if (fanout > 1)
        msgpack_pack_array (&pk, (size_t) fanout);
    for (int i = 0; i < fanout; i++) {
        snprintf (text, sizeof text, "user%d", (first + i * 97) % S_USERS);
        s_pack_str (&pk, text);
    }
    s_pack_str (&pk, "data");
    msgpack_pack_map (&pk, 6);
    s_pack_str (&pk, "item");
    snprintf (text, sizeof text, "lot-%06d", seq);
    s_pack_str (&pk, text);
    s_pack_str (&pk, "price");
    msgpack_pack_double (&pk, 1000.0 + seq * 0.25);
    s_pack_str (&pk, "bidder");
    snprintf (text, sizeof text, "user%d", (seq * 7) % S_USERS);
    s_pack_str (&pk, text);
    s_pack_str (&pk, "ts");
    msgpack_pack_uint64 (&pk, 1764170000000000000ULL + (uint64_t) seq * 1000);
    s_pack_str (&pk, "seq");
    msgpack_pack_uint64 (&pk, (uint64_t) seq);
    s_pack_str (&pk, "note");
    s_pack_str (&pk, "outbid by a small margin");
    s_pack_str (&pk, "id");
    snprintf (text, sizeof text, "b-%d", seq);
    s_pack_str (&pk, text);
    /* A tight copy: msgpack's sbuffer reserves 8 KiB, and 1024 of those
     * would make every read of an envelope a cache and TLB miss. */
    char *copy = malloc (sbuf.size);
    memcpy (copy, sbuf.data, sbuf.size);
    s_env_t env = { copy, sbuf.size };
    msgpack_sbuffer_destroy (&sbuf);
    return env;
}

/* What tests/bench/producer.c sends in zmq mode: {"event":"bench",
 * "to":"user<random>","data":{"ts":<ns>,"seq":<n>}}. */
static s_env_t
s_bench_envelope (int user, int seq)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, s_buf_write);
    char text[64];
    msgpack_pack_map (&pk, 3);
    s_pack_str (&pk, "event");
    s_pack_str (&pk, "bench");
    s_pack_str (&pk, "to");
    snprintf (text, sizeof text, "user%d", user);
    s_pack_str (&pk, text);
    s_pack_str (&pk, "data");
    msgpack_pack_map (&pk, 2);
    s_pack_str (&pk, "ts");
    msgpack_pack_uint64 (&pk, 1764170000000000000ULL + (uint64_t) seq * 1000);
    s_pack_str (&pk, "seq");
    msgpack_pack_uint64 (&pk, (uint64_t) seq);
    char *copy = malloc (sbuf.size);
    memcpy (copy, sbuf.data, sbuf.size);
    s_env_t env = { copy, sbuf.size };
    msgpack_sbuffer_destroy (&sbuf);
    return env;
}

/* --- the SUB that drains the XPUB -------------------------------------- */

/* Counts deliveries: one per user message, one per listed recipient of a
 * multicast message (as a gateway would deliver them); syncs count none. */
static void *
s_drainer (void *sub)
{
    pthread_setname_np (pthread_self (), "drainer");   /* apart in profiles */
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (!atomic_load (&s_stop)) {
        zmq_pollitem_t item = { sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 50) <= 0)
            continue;
        bool head = true;
        while (zmq_msg_recv (&msg, sub, ZMQ_DONTWAIT) >= 0) {
            hp_wire_head_t h;
            if (head && hp_wire_head_parse (zmq_msg_data (&msg), zmq_msg_size (&msg), &h) == 0
                && h.kind == HP_WIRE_EVENT) {
                /* a channel event is one delivery per gateway (its topic lists nobody) */
                atomic_fetch_add (&s_drained, h.recipient_count ? h.recipient_count : 1);
            }
            head = !zmq_msg_more (&msg);
        }
    }
    zmq_msg_close (&msg);
    return NULL;
}

/* --- the PUSH that feeds the pull case ---------------------------------- */

typedef struct {
    void    *push;
    s_env_t *pool;
    long     count;
} s_feeder_t;

static void *
s_feed (void *arg)
{
    s_feeder_t *f = arg;
    pthread_setname_np (pthread_self (), "feeder");
    for (long i = 0; i < f->count && !atomic_load (&s_stop); i++) {
        const s_env_t *e = &f->pool[i % S_POOL];
        if (zmq_send (f->push, e->data, e->len, 0) < 0)
            break;
    }
    return NULL;
}

/* --- the broker under test ---------------------------------------------- */

typedef struct {
    void             *ctx, *xpub, *sub, *upush;
    hb_metrics_t      metrics;
    hb_presence_t    *presence;
    hb_history_t     *history;
    hb_undelivered_t *undelivered;
    hb_router_t      *router;
    pthread_t         drainer;
} s_broker_t;

static int
s_broker_start (s_broker_t *b)
{
    memset (b, 0, sizeof *b);
    b->ctx = zmq_ctx_new ();
    b->xpub = zmq_socket (b->ctx, ZMQ_XPUB);
    b->sub = zmq_socket (b->ctx, ZMQ_SUB);
    b->upush = zmq_socket (b->ctx, ZMQ_PUSH);
    int hwm = 1000000, one = 1, linger = 0;
    zmq_setsockopt (b->xpub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (b->xpub, ZMQ_XPUB_VERBOSE, &one, sizeof one);
    zmq_setsockopt (b->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (b->sub, ZMQ_SNDHWM, &hwm, sizeof hwm);   /* past 1000 subscriptions */
    zmq_setsockopt (b->xpub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (b->sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (b->upush, ZMQ_LINGER, &linger, sizeof linger);
    char endpoint[64];
    size_t elen = sizeof endpoint;
    if (zmq_bind (b->xpub, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt (b->xpub, ZMQ_LAST_ENDPOINT, endpoint, &elen) != 0
        || zmq_connect (b->sub, endpoint) != 0
        || zmq_bind (b->upush, "inproc://route-bench-undelivered") != 0) {
        fprintf (stderr, "route_bench: sockets: %s\n", zmq_strerror (zmq_errno ()));
        return -1;
    }
    /* Events to 8 or more online users come once on the multicast topic. */
    zmq_setsockopt (b->sub, ZMQ_SUBSCRIBE, HP_WIRE_MULTICAST_TOPIC, HP_WIRE_MULTICAST_TOPIC_LEN);
    char topic[64];
    for (int i = 0; i < S_SUBSCRIBED; i++) {
        int n = snprintf (topic, sizeof topic, "u:user%d", i);
        zmq_setsockopt (b->sub, ZMQ_SUBSCRIBE, topic, (size_t) n + 1);   /* with the NUL */
    }
    for (int i = 0; i < S_CHANNELS; i++) {
        int n = snprintf (topic, sizeof topic, "c:room:%d", i);
        zmq_setsockopt (b->sub, ZMQ_SUBSCRIBE, topic, (size_t) n + 1);
    }
    b->presence = hb_presence_new (1 << 20);
    b->history = hb_history_new (100, 64 << 20);
    if (b->presence && b->history)
        b->undelivered = hb_undelivered_new (b->upush, &b->metrics, HP_EVENT_BYTES_DEFAULT, 16u << 20);
    if (b->undelivered)
        b->router = hb_router_new (b->xpub, b->presence, b->history, b->undelivered,
                                   &b->metrics, 0x1234abcd5678ef00ULL, HP_EVENT_BYTES_DEFAULT);
    if (!b->router)
        return -1;
    /* Every user is online once the XPUB has reported each subscription
     * (the router sends each a sync, which the drainer will count). */
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    int seen = 0;
    double deadline = s_wall_ns () + 10e9;
    while (seen < S_SUBSCRIBED + 1 + S_CHANNELS && s_wall_ns () < deadline) {   /* + multicast */
        zmq_pollitem_t item = { b->xpub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, 100) <= 0)
            continue;
        while (zmq_msg_recv (&msg, b->xpub, ZMQ_DONTWAIT) >= 0) {
            hb_router_subscription (b->router, zmq_msg_data (&msg), zmq_msg_size (&msg));
            seen++;
        }
    }
    zmq_msg_close (&msg);
    if (hb_presence_count (b->presence) != S_SUBSCRIBED) {
        fprintf (stderr, "route_bench: only %zu of %d users came online\n",
                 hb_presence_count (b->presence), S_SUBSCRIBED);
        return -1;
    }
    hb_gauges_t gauges;
    hb_router_gauges (b->router, &gauges);
    if (gauges.channels_subscribed != S_CHANNELS) {
        fprintf (stderr, "route_bench: only %llu of %d channels subscribed\n",
                 (unsigned long long) gauges.channels_subscribed, S_CHANNELS);
        return -1;
    }
    return pthread_create (&b->drainer, NULL, s_drainer, b->sub) == 0 ? 0 : -1;
}

static void
s_broker_stop (s_broker_t *b)
{
    atomic_store (&s_stop, true);
    pthread_join (b->drainer, NULL);
    hb_router_destroy (&b->router);
    hb_undelivered_destroy (&b->undelivered);
    hb_history_destroy (&b->history);
    hb_presence_destroy (&b->presence);
    zmq_close (b->xpub);
    zmq_close (b->sub);
    zmq_close (b->upush);
    zmq_ctx_term (b->ctx);
}

/* Waits until the drainer has caught up (bounded), so one case's backlog
 * does not load the next one's measurement. */
static void
s_settle (unsigned long long expect)
{
    double deadline = s_wall_ns () + 10e9;
    while (atomic_load (&s_drained) < expect && s_wall_ns () < deadline) {
        struct timespec ts = { 0, 1000000 };
        nanosleep (&ts, NULL);
    }
}

typedef struct {
    const char *name;
    double      cpu_ns;      /* per event, calling thread (median slice) */
    double      best_ns;     /* per event, best slice */
    double      wall_ns;     /* per event */
    long        events;
    int         failures;    /* events the code refused (must be 0) */
} s_result_t;

/* The machine is shared: each case is timed in S_CHUNKS slices and the
 * table shows the median and the best slice (the least disturbed). */
#define S_CHUNKS 10

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_summarise (s_result_t *r, double *slices, int n)
{
    qsort (slices, (size_t) n, sizeof *slices, s_cmp_double);
    r->cpu_ns = slices[n / 2];
    r->best_ns = slices[0];
}

/* One timed slice, apart so a profiler can collect it alone
 * (valgrind --tool=callgrind --collect-atstart=no --toggle-collect=s_route_slice). */
static __attribute__ ((noinline)) int
s_route_slice (s_broker_t *b, s_env_t *pool, long pool_size, long from, long n, uint64_t now)
{
    int failures = 0;
    for (long i = from; i < from + n; i++)
        failures += hb_router_route (b->router, pool[i % pool_size].data,
                                     pool[i % pool_size].len, now, NULL) != HP_ENV_OK;
    return failures;
}

/* warm: events routed before timing; the bench case needs ~250,000 for the
 * history to reach its byte bound (steady state: one eviction per event). */
static void
s_route_case (s_broker_t *b, s_env_t *pool, long pool_size, long count, long warm,
              int recipients, const char *name, s_result_t *r)
{
    uint64_t now = hb_now_sec ();
    int failures = 0;
    for (long i = 0; i < warm; i++)
        failures += hb_router_route (b->router, pool[i % pool_size].data,
                                     pool[i % pool_size].len, now, NULL) != HP_ENV_OK;
    s_settle (b->metrics.messages_published);
    uint64_t published = b->metrics.messages_published;
    long per = count / S_CHUNKS + 1, done = 0;
    double slices[S_CHUNKS];
    double w0 = s_wall_ns ();
    for (int c = 0; c < S_CHUNKS; c++) {
        double c0 = s_thread_cpu_ns ();
        failures += s_route_slice (b, pool, pool_size, warm + done, per, now);
        done += per;
        slices[c] = (s_thread_cpu_ns () - c0) / per;
    }
    double w1 = s_wall_ns ();
    if (b->metrics.messages_published - published != (uint64_t) done * (uint64_t) recipients)
        failures++;
    s_settle (b->metrics.messages_published);
    *r = (s_result_t) { .name = name, .wall_ns = (w1 - w0) / done, .events = done,
                        .failures = failures };
    s_summarise (r, slices, S_CHUNKS);
}

static void
s_decode_case (s_env_t *pool, long count, s_result_t *r)
{
    hp_envelope_t *env = hp_envelope_new ();
    hp_buf_t frame;
    hp_buf_init (&frame, 1 << 20);
    int failures = 0;
    long warm = count / 5 + 1000, per = count / S_CHUNKS + 1;
    double slices[S_CHUNKS];
    double w0 = 0;
    for (int c = -1; c < S_CHUNKS; c++) {        /* slice -1 warms up */
        long n = c < 0 ? warm : per;
        if (c == 0)
            w0 = s_wall_ns ();
        double c0 = s_thread_cpu_ns ();
        for (long i = 0; i < n; i++) {
            const s_env_t *e = &pool[i % S_POOL];
            hp_buf_reset (&frame);
            if (hp_envelope_decode (env, e->data, e->len, HP_EVENT_BYTES_DEFAULT) != HP_ENV_OK
                || hp_frame_event (&frame, env, (uint64_t) (i + 1)) != 0)
                failures++;
        }
        if (c >= 0)
            slices[c] = (s_thread_cpu_ns () - c0) / n;
    }
    double w1 = s_wall_ns ();
    hp_buf_free (&frame);
    hp_envelope_destroy (&env);
    *r = (s_result_t) { .name = "decode+frame", .wall_ns = (w1 - w0) / (per * S_CHUNKS),
                        .events = per * S_CHUNKS, .failures = failures };
    s_summarise (r, slices, S_CHUNKS);
}

/* main.c's ingest turn: up to 1024 zmq_msg_recv into one reused message,
 * each routed; the feeder thread pushes `count` envelopes over inproc. */
static void
s_pull_case (s_broker_t *b, s_env_t *pool, long count, s_result_t *r)
{
    void *pull = zmq_socket (b->ctx, ZMQ_PULL);
    void *push = zmq_socket (b->ctx, ZMQ_PUSH);
    int hwm = 100000, linger = 0;
    zmq_setsockopt (pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (pull, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (push, ZMQ_LINGER, &linger, sizeof linger);
    zmq_bind (pull, "inproc://route-bench-ingest");
    zmq_connect (push, "inproc://route-bench-ingest");
    s_feeder_t feeder = { push, pool, count };
    pthread_t thread;
    int failures = 0;
    long got = 0;
    double c0 = s_thread_cpu_ns (), w0 = s_wall_ns ();
    if (pthread_create (&thread, NULL, s_feed, &feeder) != 0)
        failures++;
    else {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        uint64_t now = hb_now_sec ();
        double deadline = s_wall_ns () + 120e9;
        while (got < count && s_wall_ns () < deadline) {
            zmq_pollitem_t item = { pull, 0, ZMQ_POLLIN, 0 };
            if (zmq_poll (&item, 1, 100) <= 0)
                continue;
            for (int n = 0; n < 1024; n++) {
                if (zmq_msg_recv (&msg, pull, ZMQ_DONTWAIT) < 0)
                    break;
                got++;
                failures += hb_router_route (b->router, zmq_msg_data (&msg), zmq_msg_size (&msg),
                                             now, NULL) != HP_ENV_OK;
            }
        }
        zmq_msg_close (&msg);
        pthread_join (thread, NULL);
    }
    double c1 = s_thread_cpu_ns (), w1 = s_wall_ns ();
    if (got != count)
        failures++;
    zmq_close (pull);
    zmq_close (push);
    s_settle (b->metrics.messages_published);
    *r = (s_result_t) { "pull+unicast", (c1 - c0) / count, (c1 - c0) / count, (w1 - w0) / count,
                        count, failures };
}

int
main (int argc, char **argv)
{
    long count = argc > 1 ? atol (argv[1]) : 1000000;
    const char *only = argc > 2 ? argv[2] : NULL;
    if (count < 1) {
        fprintf (stderr, "usage: route_bench [events-per-case [case]]\n");
        return 2;
    }
    s_env_t uni[S_POOL], fan[S_POOL], chan[S_POOL];
    for (int i = 0; i < S_POOL; i++) {
        uni[i] = s_envelope (i, 1, i);
        fan[i] = s_envelope (i, S_FANOUT, i);
        chan[i] = s_envelope (i, 0, i);
    }
    /* The producer's xorshift, so the recipients are as scattered. */
    s_env_t *bench = malloc (S_BENCH_POOL * sizeof *bench);
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; bench && i < S_BENCH_POOL; i++) {
        xorshift64 (&rng);
        bench[i] = s_bench_envelope ((int) (rng % S_SUBSCRIBED), i);
    }
    if (!bench)
        return 1;
    s_broker_t broker;
    if (s_broker_start (&broker) != 0)
        return 1;
    s_result_t results[6];
    int ran = 0;
    if (!only || strcmp (only, "decode") == 0)
        s_decode_case (uni, count, &results[ran++]);
    if (!only || strcmp (only, "unicast") == 0)
        s_route_case (&broker, uni, S_POOL, count, count / 5 + 1000, 1, "unicast",
                      &results[ran++]);
    if (!only || strcmp (only, "fanout") == 0)
        s_route_case (&broker, fan, S_POOL, count / S_FANOUT + 1, count / 50 + 1000, S_FANOUT,
                      "10 recipients", &results[ran++]);
    if (!only || strcmp (only, "pull") == 0)
        s_pull_case (&broker, uni, count, &results[ran++]);
    if (!only || strcmp (only, "channel") == 0)
        s_route_case (&broker, chan, S_POOL, count, count / 5 + 1000, 1, "channel",
                      &results[ran++]);
    if (!only || strcmp (only, "bench") == 0)
        s_route_case (&broker, bench, S_BENCH_POOL, count, count >= 100000 ? 300000 : count / 5 + 1000,
                      1, "bench", &results[ran++]);
    s_broker_stop (&broker);

    printf ("route_bench: %d users online, history 100/user, envelope %zu bytes "
            "(unicast), %zu bytes (10 recipients), %zu bytes (bench)\n", S_SUBSCRIBED,
            uni[0].len, fan[0].len, bench[0].len);
    printf ("%-14s %9s %11s %9s %10s %11s %7s\n", "case", "events", "cpu ns/ev",
            "best", "wall ns/ev", "M ev/s/core", "errors");
    int failures = 0;
    for (int i = 0; i < ran; i++) {
        const s_result_t *r = &results[i];
        printf ("%-14s %9ld %11.0f %9.0f %10.0f %11.2f %7d\n", r->name, r->events, r->cpu_ns,
                r->best_ns, r->wall_ns, 1e3 / r->cpu_ns, r->failures);
        failures += r->failures;
    }
    printf ("cpu ns/ev: the calling thread's CPU time per event (median of %d slices; "
            "pull+unicast: whole run);\nbest: the least disturbed slice; "
            "M ev/s/core: 1e3 / cpu ns/ev\n", S_CHUNKS);
    for (int i = 0; i < S_POOL; i++) {
        free (uni[i].data);
        free (fan[i].data);
        free (chan[i].data);
    }
    for (int i = 0; i < S_BENCH_POOL; i++)
        free (bench[i].data);
    free (bench);
    return failures ? 1 : 0;
}
