/* brokersub.c -- the broker-alone bench: a ZeroMQ SUB that stands in for gateways.
 *
 * Subscribes to the topics of users <prefix>0 .. <prefix>N-1 on the broker's
 * XPUB (one subscription per user, as a gateway holding them all would),
 * and to the multicast topic, waits for the broker's sync message on each,
 * prints a "ready" JSON line, then counts events per recipient (a
 * [topic+header][json] message counts one, a multicast message one per
 * user it lists; PROTOCOL.md) and their latency
 * from the producer's "ts" until --expect arrived or --idle seconds pass
 * without one. Prints one JSON result line. */
#define _GNU_SOURCE
#include "lg_hist.h"
#include "lg_ws.h"
#include "wire.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

int
main (int argc, char **argv)
{
    const char *endpoint = "tcp://127.0.0.1:7402", *prefix = "u";
    int users = 1000;
    unsigned long long expect = 0;
    double idle = 3, max_time = 120;
    static struct option longopts[] = {
        {"broker", 1, 0, 'b'}, {"users", 1, 0, 'u'}, {"user-prefix", 1, 0, 'U'},
        {"expect", 1, 0, 'e'}, {"idle", 1, 0, 'i'}, {"max-time", 1, 0, 'M'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b': endpoint = optarg; break;
        case 'u': users = atoi (optarg); break;
        case 'U': prefix = optarg; break;
        case 'e': expect = strtoull (optarg, NULL, 10); break;
        case 'i': idle = atof (optarg); break;
        case 'M': max_time = atof (optarg); break;
        default:
            fprintf (stderr, "usage: brokersub --broker EP (XPUB) [--users N] [--user-prefix S]\n"
                             "  [--expect N] [--idle S] [--max-time S]\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (users <= 0)
        return 2;
    void *ctx = zmq_ctx_new ();
    void *sub = zmq_socket (ctx, ZMQ_SUB);
    int hwm = 0;                 /* no drop on our side: we measure the broker */
    zmq_setsockopt (sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    /* Subscriptions travel through the SUB's outgoing pipe; at the default
     * SNDHWM of 1,000 libzmq silently drops the ones past it. */
    zmq_setsockopt (sub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_connect (sub, endpoint) != 0) {
        fprintf (stderr, "brokersub: connect %s: %s\n", endpoint, zmq_strerror (errno));
        return 1;
    }
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, HP_WIRE_MULTICAST_TOPIC, HP_WIRE_MULTICAST_TOPIC_LEN);
    for (int i = 0; i < users; i++) {
        char topic[80];
        int n = snprintf (topic, sizeof topic, "u:%s%d", prefix, i);
        zmq_setsockopt (sub, ZMQ_SUBSCRIBE, topic, (size_t) n + 1);   /* + the NUL */
    }
    int timeout_ms = 200;
    zmq_setsockopt (sub, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);

    lg_hist_t *lat = calloc (1, sizeof *lat);
    zmq_msg_t head;
    char body[65536];
    zmq_msg_init (&head);
    unsigned long long syncs = 0, events = 0, bad = 0;
    uint64_t start = s_now_ns (), first = 0, last = 0, ready_ns = 0;
    int ready = 0;
    for (;;) {
        uint64_t now = s_now_ns ();
        if ((double) (now - start) / 1e9 > max_time)
            break;
        if (expect && events >= expect)
            break;
        if (events > 0 && (double) (now - last) / 1e9 >= idle)
            break;
        if (!ready && (syncs >= (unsigned long long) users || (double) (now - start) / 1e9 > 30)) {
            ready = 1;
            ready_ns = now;
            printf ("{\"tool\":\"brokersub\",\"kind\":\"ready\",\"users\":%d,\"syncs\":%llu,\"subscribe_s\":%.3f}\n",
                    users, syncs, (double) (now - start) / 1e9);
            fflush (stdout);
        }
        if (zmq_msg_recv (&head, sub, 0) < 0)
            continue;
        int more = zmq_msg_more (&head), bn = -1, parts = 1;
        while (more) {
            int n = zmq_recv (sub, body, sizeof body, 0);
            if (parts++ == 1)
                bn = n;
            int flag = 0;
            size_t fl = sizeof flag;
            zmq_getsockopt (sub, ZMQ_RCVMORE, &flag, &fl);
            more = flag;
        }
        hp_wire_head_t h;
        if (parts != 2 || bn < 0
        ||  hp_wire_head_parse (zmq_msg_data (&head), zmq_msg_size (&head), &h) != 0) {
            bad++;
            continue;
        }
        if (h.kind != HP_WIRE_EVENT) {
            /* syncs are counted; ticks (PROTOCOL.md) are not events and
             * must not stretch the first-to-last span */
            syncs += h.kind == HP_WIRE_SYNC;
            continue;
        }
        unsigned long long count = h.recipient_count;
        now = s_now_ns ();
        events += count;
        if (!first)
            first = now;
        last = now;
        size_t scan = (size_t) bn < sizeof body ? (size_t) bn : sizeof body;
        uint64_t ts = lg_ws_find_ts (body, scan < 256 ? scan : 256);
        for (unsigned long long i = 0; ts && i < count; i++)
            lg_hist_record (lat, now > ts ? now - ts : 0);
    }
    zmq_msg_close (&head);
    double span = last > first ? (double) (last - first) / 1e9 : 0;
    printf ("{\"tool\":\"brokersub\",\"kind\":\"result\",\"users\":%d,\"syncs\":%llu,"
            "\"events\":%llu,\"bad\":%llu,\"first_to_last_s\":%.6f,\"events_per_s\":%.1f,"
            "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},\"ready_s\":%.3f}\n",
            users, syncs, events, bad, span, span > 0 ? (double) events / span : 0,
            lg_hist_quantile_us (lat, 0.5), lg_hist_quantile_us (lat, 0.99),
            (double) lat->max_ns / 1e3, ready_ns ? (double) (ready_ns - start) / 1e9 : 0);
    free (lat);
    zmq_close (sub);
    zmq_ctx_term (ctx);
    return 0;
}
