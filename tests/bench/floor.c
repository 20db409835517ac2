/* floor.c -- the machine's floor for small writes to many loopback sockets, no Herald code.
 *
 * What a broadcast costs before any broker logic: one process (the writer,
 * like a gateway) holds N connected sockets and writes one M-byte message
 * to each of them in a loop, R rounds; a forked reader process (like the
 * clients; not pinned to a core) reads them all through epoll. Per round
 * it measures the writer's thread CPU (CLOCK_THREAD_CPUTIME_ID) and wall
 * time for the N writes, and the reader's times from the round's start
 * until the first, the median, the 99th percentile and the last connection
 * had its whole message (CLOCK_MONOTONIC is one clock for both processes).
 * The writer waits for the reader's report and a pause before the next
 * round, so every round starts with drained sockets.
 *
 * --batch K writes K messages per connection per round in one write():
 * if the cost is per write and not per byte, CPU per write barely moves
 * while CPU per message drops by K.
 *
 * --transport unix uses AF_UNIX socketpairs instead of TCP over
 * 127.0.0.1, to show how much of the cost is the TCP/IP loopback path.
 *
 * Known limits: on loopback the writer's core also runs the receive half
 * of TCP (the softirq that delivers to the reader's socket and wakes its
 * epoll), which a real NIC would leave to the other machine; the writer's
 * CPU is therefore the floor for a server whose clients share its machine,
 * as in our benchmarks. The per-round reader times include the reader's
 * own scheduling on a shared 2-core machine.
 *
 * Prints one JSON line; exit status 0 when at least one round completed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MAX_CONNS   9000      /* 2 fds each for unix pairs before fork; 20,000 fd limit */
#define FLOOR_MAX_BYTES   65536     /* one write() per connection per round */
#define FLOOR_MAX_ROUNDS  10000

/* One report from the reader; smaller than PIPE_BUF, so each write() is atomic. */
typedef enum { REP_READY = 1, REP_ROUND = 2, REP_ERROR = 3 } rep_kind_t;
typedef struct {
    int32_t kind;
    int32_t round;
    uint64_t first_ns, p50_ns, p99_ns, last_ns;  /* CLOCK_MONOTONIC, absolute */
    uint64_t reads;           /* read() calls that returned data in this round */
    uint64_t cpu_us;          /* the reader's user + system CPU so far */
    int32_t errors;           /* unexpected bytes, EOFs or read errors so far */
    int32_t pad;
} rep_t;

typedef struct {
    int conns, msg_bytes, batch, rounds, warmup, pause_ms, writer_cpu;
    double max_time;
    bool unix_pairs;
} opts_t;

static uint64_t
s_clock_ns (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

/* Value at quantile q of a sorted array (nearest rank). */
static uint64_t
s_quantile (const uint64_t *sorted, int n, double q)
{
    int i = (int) (q * n + 0.999999) - 1;
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return sorted[i];
}

static int
s_set_nonblock (int fd)
{
    int fl = fcntl (fd, F_GETFL);
    return fl < 0 ? -1 : fcntl (fd, F_SETFL, fl | O_NONBLOCK);
}

static uint64_t
s_self_cpu_us (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u
           + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static void
s_send_report (int fd, const rep_t *rep)
{
    /* A lost report makes the writer time out on this round and say so. */
    if (write (fd, rep, sizeof *rep) != (ssize_t) sizeof *rep)
        _exit (3);
}

/* ---------------------------------------------------------------- reader */

/* The reader process: reads every connection and reports each completed
 * round with its CPU so far. Ends on EOF of ctl_fd (the writer is done) or
 * its deadline. Never returns. */
static void
s_reader_run (int *fds, int n, int ctl_fd, int rep_fd, uint64_t per_round, uint64_t deadline_ns)
{
    rep_t rep = {.kind = REP_ERROR};
    uint64_t *got = calloc ((size_t) n, sizeof *got);
    uint64_t *done_at = calloc ((size_t) n, sizeof *done_at);
    static char buf[FLOOR_MAX_BYTES];
    struct epoll_event evs[512];
    int ep = epoll_create1 (0);
    if (!got || !done_at || ep < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t) n};
    if (epoll_ctl (ep, EPOLL_CTL_ADD, ctl_fd, &ev))
        goto fail;
    for (int i = 0; i < n; i++) {
        ev.data.u32 = (uint32_t) i;
        if (s_set_nonblock (fds[i]) || epoll_ctl (ep, EPOLL_CTL_ADD, fds[i], &ev))
            goto fail;
    }
    rep.kind = REP_READY;
    rep.cpu_us = s_self_cpu_us ();
    s_send_report (rep_fd, &rep);

    int round = 0, done = 0, errors = 0;
    uint64_t reads = 0, first = 0;
    bool writer_done = false;
    while (!writer_done && s_clock_ns (CLOCK_MONOTONIC) < deadline_ns) {
        int k = epoll_wait (ep, evs, 512, 200);
        if (k < 0 && errno != EINTR)
            break;
        for (int e = 0; e < k; e++) {
            uint32_t i = evs[e].data.u32;
            if (i == (uint32_t) n) {
                writer_done = true;    /* EOF or a byte: either way the writer is finished */
                continue;
            }
            ssize_t r = read (fds[i], buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                /* EOF or error: the writer closes sockets only after ctl, so count it */
                if (!writer_done)
                    errors++;
                epoll_ctl (ep, EPOLL_CTL_DEL, fds[i], NULL);
                continue;
            }
            uint64_t now = s_clock_ns (CLOCK_MONOTONIC);
            if (reads++ == 0)
                first = now;
            got[i] += (uint64_t) r;
            uint64_t want = per_round * (uint64_t) (round + 1);
            if (got[i] > want)
                errors++;              /* the writer started a round before we reported */
            else if (got[i] == want) {
                done_at[done++] = now;
                if (done == n) {
                    qsort (done_at, (size_t) n, sizeof *done_at, s_cmp_u64);
                    rep = (rep_t) {.kind = REP_ROUND, .round = round, .first_ns = first,
                                   .p50_ns = s_quantile (done_at, n, 0.5),
                                   .p99_ns = s_quantile (done_at, n, 0.99),
                                   .last_ns = done_at[n - 1], .reads = reads,
                                   .cpu_us = s_self_cpu_us (), .errors = errors};
                    s_send_report (rep_fd, &rep);
                    reads = 0;
                    done = 0;
                    round++;
                }
            }
        }
    }
    _exit (0);
fail:
    fprintf (stderr, "floor: reader setup failed: %s\n", strerror (errno));
    s_send_report (rep_fd, &rep);
    _exit (1);
}

/* Reader side of the TCP transport: connect n sockets to the writer's port.
 * Blocking connects are fine: the writer accepts concurrently. */
static int
s_reader_connect (int *fds, int n, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                             .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
    int one = 1;
    for (int i = 0; i < n; i++) {
        fds[i] = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fds[i] < 0 || connect (fds[i], (struct sockaddr *) &sa, sizeof sa)) {
            fprintf (stderr, "floor: connect %d/%d: %s\n", i, n, strerror (errno));
            return -1;
        }
        setsockopt (fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return 0;
}

/* ---------------------------------------------------------------- writer */

/* Wait for one report, up to deadline. Returns 0, or -1 on timeout/EOF. */
static int
s_recv_report (int fd, rep_t *rep, uint64_t deadline_ns)
{
    size_t have = 0;
    while (have < sizeof *rep) {
        uint64_t now = s_clock_ns (CLOCK_MONOTONIC);
        if (now >= deadline_ns)
            return -1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = (int) ((deadline_ns - now) / 1000000u) + 1;
        if (poll (&p, 1, ms) <= 0)
            continue;
        ssize_t r = read (fd, (char *) rep + have, sizeof *rep - have);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        have += (size_t) r;
    }
    return 0;
}

/* Writer side of the TCP transport: accept n connections until deadline;
 * *got counts the fds stored, so the caller closes them on failure too. */
static int
s_writer_accept (int lfd, int *fds, int n, int *got, uint64_t deadline_ns)
{
    int one = 1;
    for (int i = 0; i < n;) {
        if (s_clock_ns (CLOCK_MONOTONIC) >= deadline_ns) {
            fprintf (stderr, "floor: accepted only %d of %d before the deadline\n", i, n);
            return -1;
        }
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll (&p, 1, 100) <= 0)
            continue;
        int fd = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf (stderr, "floor: accept: %s\n", strerror (errno));
            return -1;
        }
        setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fds[i++] = fd;
        *got = i;
    }
    return 0;
}

static double
s_ms (uint64_t ns)
{
    return (double) ns / 1e6;
}

/* The writer's thread usage summed over the measured rounds. */
typedef struct {
    int64_t user_us, sys_us;
    long nvcsw, nivcsw;          /* voluntary (blocked) and involuntary (preempted) switches */
} usage_t;

/* Per-round figures of the writer and the reader, relative to the round's start. */
typedef struct {
    uint64_t wall_ns, cpu_ns, first_ns, p50_ns, p99_ns, last_ns;
} round_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: herald-bench-floor [--conns N (<= %d, default 5000)] [--bytes M (150)]\n"
             "  [--batch K (1): K messages per connection in one write()] [--rounds R (20)]\n"
             "  [--warmup W (1): unmeasured rounds first] [--pause-ms P (100)]\n"
             "  [--transport tcp|unix (tcp)] [--writer-cpu C (unpinned)] [--max-time S (60)]\n",
             FLOOR_MAX_CONNS);
}

static int
s_parse (int argc, char **argv, opts_t *o)
{
    static struct option longopts[] = {
        {"conns", 1, 0, 'n'}, {"bytes", 1, 0, 'm'}, {"batch", 1, 0, 'k'},
        {"rounds", 1, 0, 'r'}, {"warmup", 1, 0, 'w'}, {"pause-ms", 1, 0, 'p'},
        {"transport", 1, 0, 't'}, {"writer-cpu", 1, 0, 'c'}, {"max-time", 1, 0, 'M'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (opts_t) {.conns = 5000, .msg_bytes = 150, .batch = 1, .rounds = 20, .warmup = 1,
                   .pause_ms = 100, .writer_cpu = -1, .max_time = 60};
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n': o->conns = atoi (optarg); break;
        case 'm': o->msg_bytes = atoi (optarg); break;
        case 'k': o->batch = atoi (optarg); break;
        case 'r': o->rounds = atoi (optarg); break;
        case 'w': o->warmup = atoi (optarg); break;
        case 'p': o->pause_ms = atoi (optarg); break;
        case 'c': o->writer_cpu = atoi (optarg); break;
        case 'M': o->max_time = atof (optarg); break;
        case 't':
            if (strcmp (optarg, "tcp") && strcmp (optarg, "unix")) {
                fprintf (stderr, "floor: --transport is tcp or unix\n");
                return -1;
            }
            o->unix_pairs = !strcmp (optarg, "unix");
            break;
        case 'h': s_usage (stdout); exit (0);
        default: s_usage (stderr); return -1;
        }
    }
    if (o->conns < 1 || o->conns > FLOOR_MAX_CONNS || o->msg_bytes < 1 || o->batch < 1
        || (long) o->msg_bytes * o->batch > FLOOR_MAX_BYTES || o->rounds < 1
        || o->rounds > FLOOR_MAX_ROUNDS || o->warmup < 0 || o->pause_ms < 0
        || o->max_time <= 0) {
        fprintf (stderr, "floor: bad arguments (conns 1..%d, bytes x batch <= %d, rounds 1..%d)\n",
                 FLOOR_MAX_CONNS, FLOOR_MAX_BYTES, FLOOR_MAX_ROUNDS);
        return -1;
    }
    return 0;
}

/* Sorted copy of one field of the rounds, for its quantiles. */
static void
s_field_sorted (const round_t *rs, int n, size_t offset, uint64_t *out)
{
    for (int i = 0; i < n; i++)
        out[i] = *(const uint64_t *) ((const char *) &rs[i] + offset);
    qsort (out, (size_t) n, sizeof *out, s_cmp_u64);
}

/* Prints the one result line from the measured rounds. */
static void
s_print_result (const opts_t *o, const round_t *rs, int measured, const usage_t *ru,
                uint64_t reader_cpu_us, uint64_t reader_reads, int errors, bool truncated)
{
    uint64_t sum_cpu = 0, sum_wall = 0;
    for (int i = 0; i < measured; i++) {
        sum_cpu += rs[i].cpu_ns;
        sum_wall += rs[i].wall_ns;
    }
    double writes = (double) measured * o->conns, msgs = writes * o->batch;
    double cpu_us = (double) (ru->user_us + ru->sys_us);
    printf ("{\"tool\":\"floor\",\"transport\":\"%s\",\"cpus\":%ld,\"writer_cpu\":%d,"
            "\"conns\":%d,\"bytes\":%d,\"batch\":%d,\"warmup_rounds\":%d,\"rounds\":%d,"
            "\"rounds_measured\":%d,\"writes\":%.0f,\"messages\":%.0f,\"errors\":%d,"
            "\"truncated\":%s",
            o->unix_pairs ? "unix" : "tcp-loopback", sysconf (_SC_NPROCESSORS_ONLN),
            o->writer_cpu, o->conns, o->msg_bytes, o->batch, o->warmup, o->rounds, measured,
            writes, msgs, errors, truncated ? "true" : "false");
    if (measured > 0) {
        static uint64_t v[FLOOR_MAX_ROUNDS];
        printf (",\"writer_cpu_us_per_write\":%.3f,\"writer_cpu_us_per_message\":%.3f,"
                "\"writer_wall_us_per_write\":%.3f,\"writes_per_cpu_s\":%.0f,"
                "\"writes_per_wall_s\":%.0f,\"writer_sys_share\":%.3f,"
                "\"writer_ctx_switches\":%ld,\"writer_preempted\":%ld",
                s_ms (sum_cpu) * 1000 / writes, s_ms (sum_cpu) * 1000 / msgs,
                s_ms (sum_wall) * 1000 / writes, writes / (sum_cpu / 1e9),
                writes / (sum_wall / 1e9), cpu_us > 0 ? (double) ru->sys_us / cpu_us : 0,
                ru->nvcsw, ru->nivcsw);
        s_field_sorted (rs, measured, offsetof (round_t, wall_ns), v);
        printf (",\"round_wall_ms_p50\":%.2f,\"round_wall_ms_max\":%.2f",
                s_ms (s_quantile (v, measured, 0.5)), s_ms (v[measured - 1]));
        s_field_sorted (rs, measured, offsetof (round_t, cpu_ns), v);
        printf (",\"round_cpu_ms_p50\":%.2f,\"round_cpu_ms_max\":%.2f",
                s_ms (s_quantile (v, measured, 0.5)), s_ms (v[measured - 1]));
        s_field_sorted (rs, measured, offsetof (round_t, first_ns), v);
        printf (",\"reader_first_ms_p50\":%.2f", s_ms (s_quantile (v, measured, 0.5)));
        s_field_sorted (rs, measured, offsetof (round_t, p50_ns), v);
        printf (",\"reader_median_conn_ms_p50\":%.2f", s_ms (s_quantile (v, measured, 0.5)));
        s_field_sorted (rs, measured, offsetof (round_t, p99_ns), v);
        printf (",\"reader_p99_conn_ms_p50\":%.2f", s_ms (s_quantile (v, measured, 0.5)));
        s_field_sorted (rs, measured, offsetof (round_t, last_ns), v);
        printf (",\"reader_last_conn_ms_p50\":%.2f,\"reader_last_conn_ms_min\":%.2f,"
                "\"reader_last_conn_ms_max\":%.2f",
                s_ms (s_quantile (v, measured, 0.5)), s_ms (v[0]), s_ms (v[measured - 1]));
        printf (",\"reader_cpu_us_per_message\":%.3f,\"reader_reads_per_round\":%.0f",
                (double) reader_cpu_us / msgs, (double) reader_reads / measured);
    }
    printf ("}\n");
    fflush (stdout);
}

static int64_t
s_tv_us (struct timeval tv)
{
    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}

int
main (int argc, char **argv)
{
    opts_t o;
    if (s_parse (argc, argv, &o))
        return 2;
    signal (SIGPIPE, SIG_IGN);
    uint64_t start = s_clock_ns (CLOCK_MONOTONIC);
    uint64_t deadline = start + (uint64_t) (o.max_time * 1e9);
    int n = o.conns, total_rounds = o.warmup + o.rounds, rc = 1;
    size_t len = (size_t) o.msg_bytes * (size_t) o.batch;
    int *wfds = malloc ((size_t) n * sizeof *wfds), *rfds = malloc ((size_t) n * sizeof *rfds);
    round_t *rs = calloc ((size_t) o.rounds, sizeof *rs);
    char *msg = malloc (len);
    int ctl[2] = {-1, -1}, rep[2] = {-1, -1}, lfd = -1, port = 0, nw = 0, nr = 0;
    pid_t pid = -1;
    if (!wfds || !rfds || !rs || !msg) {
        fprintf (stderr, "floor: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < len; i++)
        msg[i] = (char) ('a' + i % 26);
    if (pipe2 (ctl, O_CLOEXEC) || pipe2 (rep, O_CLOEXEC)) {
        fprintf (stderr, "floor: pipe: %s\n", strerror (errno));
        goto out;
    }
    if (o.unix_pairs) {
        for (; nw < n; nw++, nr++) {
            int sv[2];
            if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
                fprintf (stderr, "floor: socketpair %d: %s\n", nw, strerror (errno));
                goto out;
            }
            wfds[nw] = sv[0];
            rfds[nr] = sv[1];
            s_set_nonblock (sv[0]);
        }
    } else {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
        socklen_t sl = sizeof sa;
        lfd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (lfd < 0 || bind (lfd, (struct sockaddr *) &sa, sizeof sa) || listen (lfd, n)
            || getsockname (lfd, (struct sockaddr *) &sa, &sl)) {
            fprintf (stderr, "floor: listen on 127.0.0.1: %s\n", strerror (errno));
            goto out;
        }
        port = ntohs (sa.sin_port);
    }

    pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "floor: fork: %s\n", strerror (errno));
        goto out;
    }
    if (pid == 0) {
        /* The reader: keep only its own ends; not pinned, as a real client. */
        close (ctl[1]);
        close (rep[0]);
        for (int i = 0; i < nw; i++)
            close (wfds[i]);
        if (lfd >= 0)
            close (lfd);
        if (!o.unix_pairs && s_reader_connect (rfds, n, port)) {
            rep_t r = {.kind = REP_ERROR};
            s_send_report (rep[1], &r);
            _exit (1);
        }
        s_reader_run (rfds, n, ctl[0], rep[1], (uint64_t) len, deadline + 5000000000ull);
    }
    close (ctl[0]);
    close (rep[1]);
    ctl[0] = rep[1] = -1;
    for (int i = 0; i < nr; i++)
        close (rfds[i]);
    nr = 0;
    if (o.writer_cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO (&set);
        CPU_SET (o.writer_cpu, &set);
        if (sched_setaffinity (0, sizeof set, &set))
            fprintf (stderr, "floor: --writer-cpu %d: %s (running unpinned)\n", o.writer_cpu,
                     strerror (errno));
    }
    if (!o.unix_pairs) {
        if (s_writer_accept (lfd, wfds, n, &nw, deadline))
            goto out;
    }
    rep_t r;
    if (s_recv_report (rep[0], &r, deadline) || r.kind != REP_READY) {
        fprintf (stderr, "floor: the reader did not get ready\n");
        goto out;
    }

    struct rusage ru0, ru1;
    usage_t use = {0};
    int measured = 0, errors = 0, reader_errors = 0;
    uint64_t reader_cpu_prev = r.cpu_us, reader_cpu0 = 0, reader_cpu1 = 0, reader_reads = 0;
    bool truncated = false;
    for (int round = 0; round < total_rounds; round++) {
        /* The pause lets the reader go idle, as between two events. */
        struct timespec pause = {o.pause_ms / 1000, (long) (o.pause_ms % 1000) * 1000000L};
        nanosleep (&pause, NULL);
        if (s_clock_ns (CLOCK_MONOTONIC) >= deadline) {
            truncated = true;
            break;
        }
        getrusage (RUSAGE_THREAD, &ru0);
        uint64_t t0 = s_clock_ns (CLOCK_MONOTONIC), c0 = s_clock_ns (CLOCK_THREAD_CPUTIME_ID);
        int bad = 0;
        for (int i = 0; i < n; i++)
            if (write (wfds[i], msg, len) != (ssize_t) len)
                bad++;
        uint64_t c1 = s_clock_ns (CLOCK_THREAD_CPUTIME_ID), t1 = s_clock_ns (CLOCK_MONOTONIC);
        getrusage (RUSAGE_THREAD, &ru1);
        if (bad) {
            /* Sockets are drained between rounds, so this is a real failure. */
            fprintf (stderr, "floor: %d short or failed writes in round %d\n", bad, round);
            errors += bad;
            truncated = true;
            break;
        }
        if (s_recv_report (rep[0], &r, deadline) || r.kind != REP_ROUND || r.round != round) {
            fprintf (stderr, "floor: no reader report for round %d before the deadline\n", round);
            truncated = true;
            break;
        }
        reader_errors = r.errors;      /* the reader's count is cumulative */
        if (round == o.warmup)
            reader_cpu0 = reader_cpu_prev;
        reader_cpu_prev = r.cpu_us;
        if (round < o.warmup)
            continue;
        use.user_us += s_tv_us (ru1.ru_utime) - s_tv_us (ru0.ru_utime);
        use.sys_us += s_tv_us (ru1.ru_stime) - s_tv_us (ru0.ru_stime);
        use.nvcsw += ru1.ru_nvcsw - ru0.ru_nvcsw;
        use.nivcsw += ru1.ru_nivcsw - ru0.ru_nivcsw;
        rs[measured++] = (round_t) {.wall_ns = t1 - t0, .cpu_ns = c1 - c0,
                                    .first_ns = r.first_ns - t0, .p50_ns = r.p50_ns - t0,
                                    .p99_ns = r.p99_ns - t0, .last_ns = r.last_ns - t0};
        reader_cpu1 = r.cpu_us;
        reader_reads += r.reads;
    }
    errors += reader_errors;
    s_print_result (&o, rs, measured, &use, reader_cpu1 - reader_cpu0, reader_reads, errors,
                    truncated);
    rc = measured > 0 && errors == 0 ? 0 : 1;
out:
    for (int i = 0; i < nw; i++)
        close (wfds[i]);
    for (int i = 0; i < nr; i++)
        close (rfds[i]);
    if (lfd >= 0)
        close (lfd);
    if (ctl[1] >= 0)
        close (ctl[1]);            /* EOF tells the reader to finish */
    if (pid > 0) {
        uint64_t until = s_clock_ns (CLOCK_MONOTONIC) + 5000000000ull;
        int st;
        while (waitpid (pid, &st, WNOHANG) == 0) {
            if (s_clock_ns (CLOCK_MONOTONIC) >= until) {
                fprintf (stderr, "floor: reader did not exit; killing it\n");
                kill (pid, SIGKILL);
                waitpid (pid, &st, 0);
                break;
            }
            struct pollfd none = {.fd = -1};
            poll (&none, 0, 20);
        }
    }
    if (ctl[0] >= 0)
        close (ctl[0]);
    if (rep[0] >= 0)
        close (rep[0]);
    if (rep[1] >= 0)
        close (rep[1]);
    free (wfds);
    free (rfds);
    free (rs);
    free (msg);
    return rc;
}
