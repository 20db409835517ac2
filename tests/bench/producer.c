/* producer.c -- bench event source: ZeroMQ PUSH to Herald, or HTTP POSTs.
 *
 * Every event carries "ts" (CLOCK_REALTIME ns when it was sent) in its data,
 * so loadgen can measure end-to-end latency. Modes:
 *   zmq        msgpack envelope over PUSH to the broker's PULL (fan-out: one
 *              envelope with a `to` array)
 *   socketio   POST /message/<event>/<user> to the socket.io peer
 *   herald-http  the same path on the broker's HTTP port
 *   herald-batch POST /batch on the broker's HTTP port: up to --batch events
 *              (one JSON line per recipient) per request
 *   nchan      POST /pub/<user> to nginx+nchan
 * HTTP modes keep --conns keep-alive connections with up to --pipeline
 * requests in flight on each; an event to K users is K requests that share
 * one "ts" (taken when the first is sent). Prints one JSON line at the end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <msgpack.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>
#include <sys/mman.h>
#include "lg_client.h"
#include "../xorshift.h"

#define CONNS_MAX 64
#define OUT_CAP (256 * 1024)
#define IN_CAP (256 * 1024)

typedef enum { P_ZMQ, P_SOCKETIO, P_HERALD_HTTP, P_NCHAN, P_HERALD_BATCH } p_mode_t;

typedef struct {
    p_mode_t mode;
    const char *target;
    const char *event;
    const char *prefix;
    int users, to_count, seq, pad, conns, pipeline, hwm, batch;
    double rate, duration;
    long long count;
    long long window;            /* max events sent but not yet delivered */
    const volatile lg_shared_t *stats;   /* loadgen's counters, for window */
} p_opts_t;

typedef struct {
    long long events;            /* logical events started */
    long long requests;          /* HTTP requests (or recipients) sent */
    long long ok, not_found, other, failed_conns;
} p_result_t;

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static double
s_mono (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint64_t g_rng = 88172645463325252ull;
static unsigned
s_rand (unsigned n)
{
    return (unsigned) (xorshift64 (&g_rng) % n);
}

/* The recipient of the r-th recipient slot of event e. */
static int
s_recipient (const p_opts_t *o, long long e, int r)
{
    if (o->to_count > 1)
        return r;
    return o->seq ? (int) (e % o->users) : (int) s_rand ((unsigned) o->users);
}

/* How many events may have started by now under the rate (or all of them). */
static long long
s_due (const p_opts_t *o, double start)
{
    if (o->rate <= 0)
        return o->count > 0 ? o->count : (long long) 1 << 62;
    long long due = (long long) ((s_mono () - start) * o->rate) + 1;
    return o->count > 0 && due > o->count ? o->count : due;
}

/* Closed-loop flow: with --window, an event may start only while fewer
 * than window deliveries are outstanding (sent recipients - delivered). */
static int
s_window_full (const p_opts_t *o, long long requests)
{
    if (o->window <= 0 || !o->stats)
        return 0;
    return requests - (long long) lg_shared_events (o->stats) >= o->window;
}

static int
s_finished (const p_opts_t *o, long long events, double start)
{
    if (o->count > 0 && events >= o->count)
        return 1;
    return o->duration > 0 && s_mono () - start >= o->duration;
}

static void
s_pause (void)
{
    struct timespec nap = { 0, 200 * 1000 };
    nanosleep (&nap, NULL);
}

static int
s_run_zmq (const p_opts_t *o, p_result_t *r)
{
    void *zctx = zmq_ctx_new ();
    void *sock = zctx ? zmq_socket (zctx, ZMQ_PUSH) : NULL;
    int linger = 10000;
    if (!sock || zmq_setsockopt (sock, ZMQ_SNDHWM, &o->hwm, sizeof o->hwm) != 0
        || zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger) != 0
        || zmq_connect (sock, o->target) != 0) {
        fprintf (stderr, "producer: cannot connect PUSH to %s: %s\n", o->target, zmq_strerror (errno));
        return -1;
    }
    char *pad = malloc ((size_t) o->pad + 1);
    memset (pad, 'x', (size_t) o->pad);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    char user[64];
    double start = s_mono ();
    while (!s_finished (o, r->events, start)) {
        long long due = s_due (o, start);
        if (r->events >= due || s_window_full (o, r->requests)) {
            s_pause ();
            continue;
        }
        /* The buffer is reused: after the first event nothing is allocated. */
        msgpack_sbuffer_clear (&sbuf);
        msgpack_pack_map (&pk, 3);
        msgpack_pack_str_with_body (&pk, "event", 5);
        msgpack_pack_str_with_body (&pk, o->event, strlen (o->event));
        msgpack_pack_str_with_body (&pk, "to", 2);
        int k = o->to_count > 1 ? o->to_count : 1;
        if (k > 1)
            msgpack_pack_array (&pk, (size_t) k);
        for (int i = 0; i < k; i++) {
            int n = snprintf (user, sizeof user, "%s%d", o->prefix, s_recipient (o, r->events, i));
            msgpack_pack_str_with_body (&pk, user, (size_t) n);
        }
        msgpack_pack_str_with_body (&pk, "data", 4);
        msgpack_pack_map (&pk, o->pad > 0 ? 3 : 2);
        msgpack_pack_str_with_body (&pk, "ts", 2);
        msgpack_pack_uint64 (&pk, s_now_ns ());
        msgpack_pack_str_with_body (&pk, "seq", 3);
        msgpack_pack_uint64 (&pk, (uint64_t) r->events);
        if (o->pad > 0) {
            msgpack_pack_str_with_body (&pk, "pad", 3);
            msgpack_pack_str_with_body (&pk, pad, (size_t) o->pad);
        }
        if (zmq_send (sock, sbuf.data, sbuf.size, 0) < 0) {
            fprintf (stderr, "producer: zmq_send: %s\n", zmq_strerror (errno));
            break;
        }
        r->events++;
        r->requests += k;
        r->ok += k;
    }
    msgpack_sbuffer_destroy (&sbuf);
    free (pad);
    zmq_close (sock);             /* lingers until the queue is flushed */
    zmq_ctx_term (zctx);
    return 0;
}

/* --- HTTP modes ---------------------------------------------------------- */

typedef struct {
    int fd;
    int inflight;
    size_t out_len, out_off, in_len;
    char out[OUT_CAP];
    char in[IN_CAP];
} hconn_t;

/* Parses every complete response at the front of c->in; returns how many
 * it consumed, or -1 on a malformed answer. Bodies may be sized by
 * Content-Length or chunked (nginx may use either). */
static int
s_parse_responses (hconn_t *c, p_result_t *r)
{
    int done = 0;
    size_t pos = 0;
    while (pos < c->in_len) {
        char *base = c->in + pos;
        size_t avail = c->in_len - pos;
        char *end = memmem (base, avail, "\r\n\r\n", 4);
        if (!end)
            break;
        if (avail < 12 || strncmp (base, "HTTP/1.", 7) != 0)
            return -1;
        int status = atoi (base + 9);
        size_t hlen = (size_t) (end + 4 - base);
        size_t body = 0;
        int chunked = 0;
        for (char *line = base; line < end; ) {
            char *nl = memmem (line, (size_t) (end + 2 - line), "\r\n", 2);
            if (!nl)
                break;
            if (!strncasecmp (line, "content-length:", 15))
                body = strtoul (line + 15, NULL, 10);
            else if (!strncasecmp (line, "transfer-encoding:", 18)
                     && memmem (line, (size_t) (nl - line), "chunked", 7))
                chunked = 1;
            line = nl + 2;
        }
        size_t total = hlen + body;
        if (chunked) {
            size_t p = hlen;
            total = 0;
            while (p < avail) {
                char *nl = memmem (base + p, avail - p, "\r\n", 2);
                if (!nl)
                    break;
                size_t sz = strtoul (base + p, NULL, 16);
                size_t next = (size_t) (nl - base) + 2 + sz + 2;
                if (sz == 0) {
                    total = (size_t) (nl - base) + 4;   /* no trailers */
                    break;
                }
                p = next;
            }
            if (total == 0 || total > avail)
                break;
        }
        if (total > avail)
            break;
        if (status >= 200 && status < 300) r->ok++;
        else if (status == 404) r->not_found++;
        else r->other++;
        pos += total;
        done++;
    }
    memmove (c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return done;
}

static int
s_connect (const char *target)
{
    char host[64];
    const char *colon = strrchr (target, ':');
    if (!colon || (size_t) (colon - target) >= sizeof host)
        return -1;
    memcpy (host, target, (size_t) (colon - target));
    host[colon - target] = '\0';
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) atoi (colon + 1)) };
    if (inet_pton (AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    /* Non-blocking from here: a full send buffer must never stall reading. */
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* herald-batch: appends one POST /batch holding up to o->batch lines (one
 * per recipient slot) to c->out. Returns the lines written (0: none due). */
static int
s_put_batch (const p_opts_t *o, p_result_t *r, hconn_t *c, long long *slot, uint64_t *ts,
             int k, long long due, double start, const char *pad, char *body)
{
    size_t bl = 0;
    int lines = 0;
    while (lines < o->batch) {
        if (*slot == 0 && (r->events >= due || s_finished (o, r->events, start)
                           || s_window_full (o, r->requests)))
            break;
        if (*slot == 0)
            *ts = s_now_ns ();
        int user = s_recipient (o, r->events, (int) *slot);
        bl += (size_t) snprintf (body + bl, (size_t) o->batch * (160 + (size_t) o->pad) - bl, "{\"event\":\"%s\",\"to\":\"%s%d\",\"data\":"
                                 "{\"ts\":%llu,\"seq\":%lld%s", o->event, o->prefix, user,
                                 (unsigned long long) *ts, r->events, o->pad > 0 ? ",\"pad\":\"" : "}");
        if (o->pad > 0) {
            memcpy (body + bl, pad, (size_t) o->pad);
            bl += (size_t) o->pad;
            memcpy (body + bl, "\"}", 2);
            bl += 2;
        }
        memcpy (body + bl, "}\n", 2);
        bl += 2;
        lines++;
        r->requests++;
        if (++*slot == k) {
            *slot = 0;
            r->events++;
        }
    }
    if (lines == 0)
        return 0;
    char *w = c->out + c->out_len;
    int n = snprintf (w, OUT_CAP - c->out_len, "POST /batch HTTP/1.1\r\nHost: %s\r\n"
                      "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
                      o->target, bl);
    memcpy (w + n, body, bl);
    c->out_len += (size_t) n + bl;
    c->inflight++;
    return lines;
}

static int
s_run_http (const p_opts_t *o, p_result_t *r)
{
    hconn_t *conns = calloc ((size_t) o->conns, sizeof (hconn_t));
    char *pad = calloc (1, (size_t) o->pad + 1);
    if (!conns || !pad)
        return -1;
    memset (pad, 'x', (size_t) o->pad);
    for (int i = 0; i < o->conns; i++) {
        conns[i].fd = s_connect (o->target);
        if (conns[i].fd < 0) {
            fprintf (stderr, "producer: cannot connect to %s\n", o->target);
            return -1;
        }
    }
    int k = o->to_count > 1 ? o->to_count : 1;
    long long slot = 0;               /* recipient slot within the current event */
    uint64_t ts = 0;
    long long answered = 0, sent = 0;   /* HTTP requests */
    size_t line_max = 160 + (size_t) o->pad;
    char *batch_body = o->mode == P_HERALD_BATCH ? malloc ((size_t) o->batch * line_max) : NULL;
    if (o->mode == P_HERALD_BATCH && !batch_body)
        return -1;
    double start = s_mono (), drain_deadline = 0;
    struct pollfd pfd[CONNS_MAX];
    for (;;) {
        int finished = s_finished (o, r->events, start) && slot == 0;
        if (finished && answered >= sent)
            break;
        if (finished && drain_deadline == 0)
            drain_deadline = s_mono () + 15;
        if (drain_deadline && s_mono () > drain_deadline) {
            fprintf (stderr, "producer: %lld requests unanswered after 15 s\n", sent - answered);
            break;
        }
        long long due = s_due (o, start);
        for (int i = 0; i < o->conns && !finished; i++) {
            hconn_t *c = &conns[i];
            if (o->mode == P_HERALD_BATCH) {
                while (c->inflight < o->pipeline
                       && c->out_len + 512 + (size_t) o->batch * line_max < OUT_CAP
                       && s_put_batch (o, r, c, &slot, &ts, k, due, start, pad, batch_body) > 0)
                    sent++;
                continue;
            }
            while (c->inflight < o->pipeline && c->out_len + 1024 + (size_t) o->pad < OUT_CAP) {
                if (slot == 0 && (r->events >= due || s_finished (o, r->events, start)
                                  || s_window_full (o, r->requests)))
                    break;
                if (slot == 0)
                    ts = s_now_ns ();
                int user = s_recipient (o, r->events, (int) slot);
                char body[256];
                int bl = snprintf (body, sizeof body, "{\"ts\":%llu,\"seq\":%lld%s",
                                   (unsigned long long) ts, r->events, o->pad > 0 ? ",\"pad\":\"" : "}");
                char *w = c->out + c->out_len;
                size_t room = OUT_CAP - c->out_len;
                int n = o->mode == P_NCHAN
                    ? snprintf (w, room, "POST /pub/%s%d HTTP/1.1\r\nHost: %s\r\n", o->prefix, user, o->target)
                    : snprintf (w, room, "POST /message/%s/%s%d HTTP/1.1\r\nHost: %s\r\n",
                                o->event, o->prefix, user, o->target);
                n += snprintf (w + n, room - (size_t) n,
                               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                               bl + (o->pad > 0 ? o->pad + 2 : 0), body);
                if (o->pad > 0) {
                    memcpy (w + n, pad, (size_t) o->pad);
                    memcpy (w + n + o->pad, "\"}", 2);
                    n += o->pad + 2;
                }
                c->out_len += (size_t) n;
                c->inflight++;
                sent++;
                r->requests++;
                if (++slot == k) {
                    slot = 0;
                    r->events++;
                }
            }
        }
        for (int i = 0; i < o->conns; i++) {
            pfd[i].fd = conns[i].fd;
            pfd[i].events = POLLIN | (conns[i].out_len > conns[i].out_off ? POLLOUT : 0);
        }
        int timeout = o->rate > 0 ? 1 : 50;
        if (poll (pfd, (nfds_t) o->conns, timeout) < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < o->conns; i++) {
            hconn_t *c = &conns[i];
            if (pfd[i].revents & POLLOUT) {
                ssize_t n = write (c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (n > 0)
                    c->out_off += (size_t) n;
                if (c->out_off == c->out_len)
                    c->out_off = c->out_len = 0;
            }
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = read (c->fd, c->in + c->in_len, IN_CAP - c->in_len);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                if (n <= 0) {
                    fprintf (stderr, "producer: connection %d closed by the server\n", i);
                    r->failed_conns++;
                    return -1;
                }
                c->in_len += (size_t) n;
                int got = s_parse_responses (c, r);
                if (got < 0) {
                    fprintf (stderr, "producer: malformed HTTP answer\n");
                    return -1;
                }
                c->inflight -= got;
                answered += got;
            }
        }
    }
    for (int i = 0; i < o->conns; i++)
        close (conns[i].fd);
    free (conns);
    free (pad);
    free (batch_body);
    return 0;
}

int
main (int argc, char **argv)
{
    p_opts_t o = { .mode = P_ZMQ, .target = "tcp://127.0.0.1:7401", .event = "bench",
                   .prefix = "u", .users = 100, .conns = 4, .pipeline = 32, .hwm = 100000,
                   .batch = 100 };
    static struct option longopts[] = {
        {"mode", 1, 0, 'm'}, {"target", 1, 0, 't'}, {"users", 1, 0, 'u'},
        {"seq", 0, 0, 'q'}, {"to-count", 1, 0, 'k'}, {"rate", 1, 0, 'r'},
        {"count", 1, 0, 'c'}, {"duration", 1, 0, 'd'}, {"pad", 1, 0, 'p'},
        {"event", 1, 0, 'e'}, {"conns", 1, 0, 'C'}, {"pipeline", 1, 0, 'w'},
        {"user-prefix", 1, 0, 'U'}, {"hwm", 1, 0, 'H'}, {"window", 1, 0, 'W'},
        {"stats-file", 1, 0, 'F'}, {"batch", 1, 0, 'B'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *stats_file = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            if (!strcmp (optarg, "zmq")) o.mode = P_ZMQ;
            else if (!strcmp (optarg, "socketio")) o.mode = P_SOCKETIO;
            else if (!strcmp (optarg, "herald-http")) o.mode = P_HERALD_HTTP;
            else if (!strcmp (optarg, "nchan")) o.mode = P_NCHAN;
            else if (!strcmp (optarg, "herald-batch")) o.mode = P_HERALD_BATCH;
            else { fprintf (stderr, "producer: unknown mode %s\n", optarg); return 2; }
            break;
        case 't': o.target = optarg; break;
        case 'u': o.users = atoi (optarg); break;
        case 'q': o.seq = 1; break;
        case 'k': o.to_count = atoi (optarg); break;
        case 'r': o.rate = atof (optarg); break;
        case 'c': o.count = atoll (optarg); break;
        case 'd': o.duration = atof (optarg); break;
        case 'p': o.pad = atoi (optarg); break;
        case 'e': o.event = optarg; break;
        case 'C': o.conns = atoi (optarg); break;
        case 'w': o.pipeline = atoi (optarg); break;
        case 'U': o.prefix = optarg; break;
        case 'H': o.hwm = atoi (optarg); break;
        case 'W': o.window = atoll (optarg); break;
        case 'F': stats_file = optarg; break;
        case 'B': o.batch = atoi (optarg); break;
        default:
            fprintf (stderr,
                "usage: producer --mode zmq|socketio|herald-http|herald-batch|nchan --target EP|HOST:PORT\n"
                "  [--users N] [--seq] [--to-count K] [--rate EV/S (0 = as fast as accepted)]\n"
                "  [--count N] [--duration S] [--pad BYTES] [--event NAME]\n"
                "  [--conns C] [--pipeline W] [--user-prefix S] [--hwm N]\n"
                "  [--window N --stats-file F]  at most N deliveries outstanding, read\n"
                "                               from a loadgen --stats-file\n"
                "  [--batch N]  herald-batch: events per POST /batch (1-1000, default 100)\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if ((o.count <= 0 && o.duration <= 0) || o.users <= 0 || o.conns < 1
        || o.conns > CONNS_MAX || o.pipeline < 1 || o.pad < 0 || o.pad > 60000
        || o.to_count > 10000 || o.batch < 1 || o.batch > 1000) {
        fprintf (stderr, "producer: need --count or --duration; check the limits\n");
        return 2;
    }
    if (stats_file) {
        int fd = open (stats_file, O_RDONLY);
        void *m = fd < 0 ? MAP_FAILED
                : mmap (NULL, sizeof (lg_shared_t), PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED) {
            fprintf (stderr, "producer: cannot map %s\n", stats_file);
            return 2;
        }
        o.stats = m;
    }
    p_result_t r = { 0 };
    double start = s_mono ();
    int rc = o.mode == P_ZMQ ? s_run_zmq (&o, &r) : s_run_http (&o, &r);
    double elapsed = s_mono () - start;
    static const char *names[] = { "zmq", "socketio", "herald-http", "nchan", "herald-batch" };
    printf ("{\"tool\":\"producer\",\"mode\":\"%s\",\"events\":%lld,\"requests\":%lld,"
            "\"ok\":%lld,\"not_found\":%lld,\"other\":%lld,\"elapsed_s\":%.3f,"
            "\"events_per_s\":%.1f,\"requests_per_s\":%.1f,\"error\":%s}\n",
            names[o.mode], r.events, r.requests, r.ok, r.not_found, r.other, elapsed,
            elapsed > 0 ? (double) r.events / elapsed : 0,
            elapsed > 0 ? (double) r.requests / elapsed : 0, rc == 0 ? "false" : "true");
    return rc == 0 ? 0 : 1;
}
