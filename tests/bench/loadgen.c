/* loadgen.c -- WebSocket load generator for Herald, socket.io and nchan.
 *
 * Opens N clients spread over P forked processes (each under the 20,000 fd
 * hard limit) and over source addresses 127.0.0.2.., prints one JSON line
 * "ready" when every client is connected (or failed), then counts events and
 * their end-to-end latency (the producer's CLOCK_REALTIME "ts" in each event
 * against the clock when the frame is read) until a stop condition, and
 * prints one JSON line with the results. See BENCHMARKS.md. */
#define _GNU_SOURCE
#include "lg_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROCS_MAX LG_PROCS_MAX
typedef lg_shared_t shared_t;

static shared_t *g_shared;     /* set once before fork; signal handlers use it */

static void
s_on_signal (int sig)
{
    (void) sig;
    if (g_shared)
        g_shared->stop = 1;
}

static void
s_usage (void)
{
    fprintf (stderr,
        "usage: loadgen --mode herald|socketio|nchan --target HOST:PORT [--target ...]\n"
        "  --clients N        clients to open (default 100)\n"
        "  --procs P          processes (default: one per 15,000 clients)\n"
        "  --path P           herald: /ws; nchan: subscriber prefix /sub/\n"
        "  --secret S         herald token secret (default $HERALD_SECRET)\n"
        "  --user-prefix S    user of client i is S<i> (default u)\n"
        "  --concurrency C    handshakes in flight per process (default 256)\n"
        "  --connect-timeout S  clients not ready by then fail (default 60)\n"
        "  --duration S       stop S seconds after ready\n"
        "  --expect E         stop once E events arrived\n"
        "  --idle S           stop S seconds after the last event (once one came)\n"
        "  --max-time S       hard stop (default 600)\n"
        "  --per-source N     clients per 127.0.0.x source (default 10000)\n"
        "  --label L          copied into the JSON output\n"
        "  --stats-file F     share the counters through file F (producer --window)\n");
}

static int
s_parse_target (lg_opts_t *o, const char *arg)
{
    if (o->ntargets >= LG_TARGETS_MAX)
        return -1;
    char host[64];
    const char *colon = strrchr (arg, ':');
    if (!colon || (size_t) (colon - arg) >= sizeof host)
        return -1;
    memcpy (host, arg, (size_t) (colon - arg));
    host[colon - arg] = '\0';
    struct sockaddr_in *sa = &o->target[o->ntargets];
    sa->sin_family = AF_INET;
    sa->sin_port = htons ((uint16_t) atoi (colon + 1));
    if (inet_pton (AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    snprintf (o->host[o->ntargets], sizeof o->host[0], "%s", arg);
    o->ntargets++;
    return 0;
}

static double
s_mono (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Sums the per-process counters (histograms included) into out. */
static void
s_total (const shared_t *sh, int procs, lg_stats_t *out)
{
    memset (out, 0, sizeof *out);
    out->done_connecting = 1;
    for (int i = 0; i < procs; i++) {
        const lg_stats_t *c = &sh->child[i];
        out->connected += c->connected;
        out->failed += c->failed;
        out->fail_connect += c->fail_connect;
        out->fail_upgrade += c->fail_upgrade;
        out->fail_auth += c->fail_auth;
        out->fail_timeout += c->fail_timeout;
        out->closed += c->closed;
        if (c->last_close_code)
            out->last_close_code = c->last_close_code;
        out->events += c->events;
        out->ts_missing += c->ts_missing;
        out->other_frames += c->other_frames;
        if (c->first_event_ns && (!out->first_event_ns || c->first_event_ns < out->first_event_ns))
            out->first_event_ns = c->first_event_ns;
        if (c->last_event_ns > out->last_event_ns)
            out->last_event_ns = c->last_event_ns;
        if (!out->connect_begin_ns || c->connect_begin_ns < out->connect_begin_ns)
            out->connect_begin_ns = c->connect_begin_ns;
        if (c->connect_end_ns > out->connect_end_ns)
            out->connect_end_ns = c->connect_end_ns;
        out->done_connecting &= c->done_connecting | c->exited;
        lg_hist_merge (&out->latency, &c->latency);
        lg_hist_merge (&out->connect, &c->connect);
    }
}

static const char *
s_mode_name (lg_mode_t m)
{
    return m == LG_HERALD ? "herald" : m == LG_SOCKETIO ? "socketio" : "nchan";
}

static void
s_print (const char *kind, const char *label, const lg_opts_t *o, int clients,
         int procs, const lg_stats_t *t)
{
    double span = t->last_event_ns > t->first_event_ns
                  ? (double) (t->last_event_ns - t->first_event_ns) / 1e9 : 0;
    printf ("{\"tool\":\"loadgen\",\"kind\":\"%s\",\"label\":\"%s\",\"mode\":\"%s\","
            "\"clients\":%d,\"procs\":%d,\"targets\":%d,\"connected\":%llu,\"failed\":%llu,"
            "\"fail_connect\":%llu,\"fail_upgrade\":%llu,\"fail_auth\":%llu,\"fail_timeout\":%llu,"
            "\"closed\":%llu,\"last_close_code\":%llu,\"connect_s\":%.3f,"
            "\"connect_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
            "\"events\":%llu,\"ts_missing\":%llu,\"other_frames\":%llu,"
            "\"first_to_last_s\":%.6f,\"events_per_s\":%.1f,"
            "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f}}\n",
            kind, label, s_mode_name (o->mode), clients, procs, o->ntargets,
            (unsigned long long) t->connected, (unsigned long long) t->failed,
            (unsigned long long) t->fail_connect, (unsigned long long) t->fail_upgrade,
            (unsigned long long) t->fail_auth, (unsigned long long) t->fail_timeout,
            (unsigned long long) t->closed, (unsigned long long) t->last_close_code,
            t->connect_end_ns > t->connect_begin_ns
                ? (double) (t->connect_end_ns - t->connect_begin_ns) / 1e9 : 0,
            lg_hist_quantile_us (&t->connect, 0.5) / 1e3,
            lg_hist_quantile_us (&t->connect, 0.99) / 1e3,
            (double) t->connect.max_ns / 1e6,
            (unsigned long long) t->events, (unsigned long long) t->ts_missing,
            (unsigned long long) t->other_frames, span,
            span > 0 ? (double) t->events / span : 0,
            lg_hist_quantile_us (&t->latency, 0.5), lg_hist_quantile_us (&t->latency, 0.9),
            lg_hist_quantile_us (&t->latency, 0.99), lg_hist_quantile_us (&t->latency, 0.999),
            (double) t->latency.max_ns / 1e3,
            t->latency.count ? (double) t->latency.sum_us / (double) t->latency.count : 0);
    fflush (stdout);
}

int
main (int argc, char **argv)
{
    lg_opts_t o = { .mode = LG_HERALD, .user_prefix = "u", .concurrency = 256,
                    .per_source = 10000, .first_source = 2,
                    .secret = getenv ("HERALD_SECRET") };
    int clients = 100, procs = 0;
    double connect_timeout = 60, duration = 0, idle = 0, max_time = 600;
    unsigned long long expect = 0;
    const char *label = "", *path = NULL, *stats_file = NULL;
    static struct option longopts[] = {
        {"mode", 1, 0, 'm'}, {"target", 1, 0, 't'}, {"clients", 1, 0, 'n'},
        {"procs", 1, 0, 'p'}, {"path", 1, 0, 'P'}, {"secret", 1, 0, 's'},
        {"user-prefix", 1, 0, 'u'}, {"concurrency", 1, 0, 'c'},
        {"connect-timeout", 1, 0, 'T'}, {"duration", 1, 0, 'd'},
        {"expect", 1, 0, 'e'}, {"idle", 1, 0, 'i'}, {"max-time", 1, 0, 'M'},
        {"per-source", 1, 0, 'S'}, {"label", 1, 0, 'l'}, {"stats-file", 1, 0, 'F'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            if (!strcmp (optarg, "herald")) o.mode = LG_HERALD;
            else if (!strcmp (optarg, "socketio")) o.mode = LG_SOCKETIO;
            else if (!strcmp (optarg, "nchan")) o.mode = LG_NCHAN;
            else { fprintf (stderr, "loadgen: unknown mode %s\n", optarg); return 2; }
            break;
        case 't':
            if (s_parse_target (&o, optarg) != 0) {
                fprintf (stderr, "loadgen: bad target %s (want IPv4:PORT)\n", optarg);
                return 2;
            }
            break;
        case 'n': clients = atoi (optarg); break;
        case 'p': procs = atoi (optarg); break;
        case 'P': path = optarg; break;
        case 's': o.secret = optarg; break;
        case 'u': o.user_prefix = optarg; break;
        case 'c': o.concurrency = atoi (optarg); break;
        case 'T': connect_timeout = atof (optarg); break;
        case 'd': duration = atof (optarg); break;
        case 'e': expect = strtoull (optarg, NULL, 10); break;
        case 'i': idle = atof (optarg); break;
        case 'M': max_time = atof (optarg); break;
        case 'S': o.per_source = atoi (optarg); break;
        case 'l': label = optarg; break;
        case 'F': stats_file = optarg; break;
        default: s_usage (); return opt == 'h' ? 0 : 2;
        }
    }
    if (o.ntargets == 0 || clients <= 0 || o.concurrency <= 0 || o.per_source <= 0) {
        s_usage ();
        return 2;
    }
    if (o.mode == LG_HERALD && !o.secret) {
        fprintf (stderr, "loadgen: herald mode needs --secret or HERALD_SECRET\n");
        return 2;
    }
    o.path = path ? path : o.mode == LG_NCHAN ? "/sub/" : "/ws";
    if (procs <= 0)
        procs = (clients + 14999) / 15000;
    if (procs > PROCS_MAX)
        procs = PROCS_MAX;

    /* Each process needs one fd per client plus a few; the hard limit is
     * the ceiling, so raise the soft limit to it. */
    struct rlimit rl;
    if (getrlimit (RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit (RLIMIT_NOFILE, &rl);
        if ((rlim_t) (clients / procs + 64) > rl.rlim_cur)
            fprintf (stderr, "loadgen: warning: %d clients per process over the fd limit %llu\n",
                     clients / procs, (unsigned long long) rl.rlim_cur);
    }
    int fd = -1;
    if (stats_file) {
        fd = open (stats_file, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || ftruncate (fd, sizeof (shared_t)) != 0) {
            perror ("loadgen: stats file");
            return 1;
        }
    }
    g_shared = mmap (NULL, sizeof (shared_t), PROT_READ | PROT_WRITE,
                     MAP_SHARED | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);
    if (g_shared == MAP_FAILED) {
        perror ("loadgen: mmap");
        return 1;
    }
    memset (g_shared, 0, sizeof *g_shared);
    g_shared->procs = procs;
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGUSR1, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    pid_t pids[PROCS_MAX];
    pid_t parent = getpid ();
    for (int i = 0; i < procs; i++) {
        int first = (int) ((long) clients * i / procs);
        int last = (int) ((long) clients * (i + 1) / procs);
        pids[i] = fork ();
        if (pids[i] == 0) {
            prctl (PR_SET_PDEATHSIG, SIGTERM);
            if (getppid () != parent)
                _exit (1);
            int rc = lg_client_run (&o, first, last - first, connect_timeout,
                                    &g_shared->child[i], &g_shared->stop);
            g_shared->child[i].exited = 1;
            _exit (rc == 0 ? 0 : 1);
        }
        if (pids[i] < 0) {
            perror ("loadgen: fork");
            g_shared->stop = 1;
            procs = i;
            break;
        }
    }

    double start = s_mono (), ready_at = 0, last_change = 0;
    uint64_t last_events = 0;
    lg_stats_t *t = calloc (1, sizeof *t);
    if (!t)
        return 1;
    while (!g_shared->stop) {
        struct timespec nap = { 0, 20 * 1000000 };
        nanosleep (&nap, NULL);
        double now = s_mono ();
        s_total (g_shared, procs, t);
        if (!ready_at && t->done_connecting) {
            ready_at = now;
            s_print ("ready", label, &o, clients, procs, t);
        }
        if (t->events != last_events) {
            last_events = t->events;
            last_change = now;
        }
        if (now - start > max_time
            || (ready_at && duration > 0 && now - ready_at >= duration)
            || (expect && t->events >= expect)
            || (idle > 0 && last_events > 0 && now - last_change >= idle))
            g_shared->stop = 1;
    }
    for (int i = 0; i < procs; i++)
        waitpid (pids[i], NULL, 0);
    s_total (g_shared, procs, t);
    s_print ("result", label, &o, clients, procs, t);
    free (t);
    return 0;
}
