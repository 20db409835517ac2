/* lg_client.h -- one load-generator process: N WebSocket clients on one epoll. */
#ifndef HERALD_BENCH_LG_CLIENT_H
#define HERALD_BENCH_LG_CLIENT_H

#include <netinet/in.h>
#include <stdint.h>
#include "lg_hist.h"

typedef enum { LG_HERALD, LG_SOCKETIO, LG_NCHAN } lg_mode_t;

#define LG_TARGETS_MAX 16

/* What every process of one run shares (read-only after fork). */
typedef struct {
    lg_mode_t mode;
    int ntargets;
    struct sockaddr_in target[LG_TARGETS_MAX];
    char host[LG_TARGETS_MAX][64];       /* "127.0.0.1:7400" for Host: */
    const char *path;                    /* herald: /ws; nchan: prefix /sub/ */
    const char *secret;                  /* herald: HS256 key */
    const char *user_prefix;             /* user of client i is prefix + i */
    int concurrency;                     /* handshakes in flight per process */
    int per_source;                      /* clients per 127.0.0.x source address */
    int first_source;                    /* x of the first source address */
} lg_opts_t;

/* Counters of one process, in memory shared with the parent. Only the child
 * writes them; the parent reads them for progress and after the child ends. */
typedef struct {
    uint64_t connected;          /* ready clients (welcome / ack / 101) */
    uint64_t failed;             /* never became ready */
    uint64_t fail_connect, fail_upgrade, fail_auth, fail_timeout;
    uint64_t closed;             /* ready clients the server closed later */
    uint64_t last_close_code;
    uint64_t events;             /* event frames received */
    uint64_t ts_missing;         /* event frames without a "ts" */
    uint64_t other_frames;
    uint64_t first_event_ns, last_event_ns;   /* CLOCK_REALTIME */
    uint64_t connect_begin_ns, connect_end_ns;
    int done_connecting;
    int exited;
    lg_hist_t latency;           /* producer timestamp -> frame read */
    lg_hist_t connect;           /* connect() -> ready */
} lg_stats_t;

/* The memory a run shares between its processes: the parent's stop flag and
 * each child's counters. With --stats-file it is a file mapping, so a
 * producer can read how many events were delivered (closed-loop flow). */
#define LG_PROCS_MAX 32
typedef struct {
    volatile int stop;
    int procs;
    lg_stats_t child[LG_PROCS_MAX];
} lg_shared_t;

/* Events delivered so far across every process of a run. */
uint64_t lg_shared_events (const volatile lg_shared_t *self);

/* Runs clients [first, first + count) until *stop is set or connect_timeout_s
 * passes without them all being ready (the stragglers count as failed).
 * Returns 0, or -1 when it could not start at all. */
int lg_client_run (const lg_opts_t *opts, int first, int count,
                   double connect_timeout_s, lg_stats_t *stats,
                   volatile int *stop);

uint64_t lg_now_ns (void);   /* CLOCK_REALTIME, nanoseconds */

#endif
