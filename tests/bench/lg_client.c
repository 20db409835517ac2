/* lg_client.c -- one load-generator process: N WebSocket clients on one epoll.
 *
 * Memory per client is one fixed conn_t (576 bytes: the frame parser keeps
 * only a header and the first LG_WS_HEAD payload bytes). Reads go through
 * one 64 KiB buffer per process; nothing is allocated per message. */
#define _GNU_SOURCE
#include "lg_client.h"
#include "lg_jwt.h"
#include "lg_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { C_IDLE, C_CONNECTING, C_HTTP, C_AUTH, C_SIO_OPEN, C_SIO_NS, C_SIO_ACK,
       C_READY, C_DONE };

#define HTTP_MAX 320

typedef struct {
    int fd;
    uint8_t state;
    uint16_t http_len;
    uint64_t t_start;
    lg_ws_parser_t ws;
    char http[HTTP_MAX];
} conn_t;

typedef struct {
    const lg_opts_t *o;
    lg_stats_t *st;
    conn_t *conns;
    int first, count;
    int next;                   /* next local client to launch */
    int inflight;               /* launched, not yet ready or failed */
    int epfd;
    uint32_t rnd;
    uint64_t now;               /* CLOCK_REALTIME of the current read */
    char scratch[65536];
} ctx_t;

typedef struct {
    ctx_t *ctx;
    conn_t *c;
} cb_t;

uint64_t
lg_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + (uint64_t) ts.tv_nsec;
}

uint64_t
lg_shared_events (const volatile lg_shared_t *self)
{
    uint64_t total = 0;
    int procs = self->procs < LG_PROCS_MAX ? self->procs : LG_PROCS_MAX;
    for (int i = 0; i < procs; i++)
        total += self->child[i].events;
    return total;
}

static void
s_user (const ctx_t *ctx, const conn_t *c, char *out, size_t cap)
{
    snprintf (out, cap, "%s%d", ctx->o->user_prefix, ctx->first + (int) (c - ctx->conns));
}

/* Ends a client. Before it was ready that is a failure of the given kind;
 * after, a close by the server. */
static void
s_finish (ctx_t *ctx, conn_t *c, uint64_t *fail_kind)
{
    if (c->fd >= 0)
        close (c->fd);
    c->fd = -1;
    if (c->state == C_READY)
        ctx->st->closed++;
    else if (c->state != C_DONE) {
        ctx->st->failed++;
        if (fail_kind)
            (*fail_kind)++;
        ctx->inflight--;
    }
    c->state = C_DONE;
}

static void
s_ready (ctx_t *ctx, conn_t *c)
{
    c->state = C_READY;
    ctx->inflight--;
    ctx->st->connected++;
    lg_hist_record (&ctx->st->connect, lg_now_ns () - c->t_start);
}

/* Sends one small client frame; a short write on a socket that has sent
 * next to nothing means something is badly wrong, so it fails the client. */
static int
s_send (ctx_t *ctx, conn_t *c, int opcode, const char *payload, size_t len)
{
    char frame[1024];
    ctx->rnd ^= ctx->rnd << 13; ctx->rnd ^= ctx->rnd >> 17; ctx->rnd ^= ctx->rnd << 5;
    size_t n = lg_ws_frame (frame, sizeof frame, opcode, payload, len, ctx->rnd);
    if (n == 0 || write (c->fd, frame, n) != (ssize_t) n)
        return -1;
    return 0;
}

static int
s_starts (const char *head, size_t len, const char *prefix)
{
    size_t pl = strlen (prefix);
    return len >= pl && memcmp (head, prefix, pl) == 0;
}

static void
s_event (ctx_t *ctx, const char *head, size_t len)
{
    lg_stats_t *st = ctx->st;
    st->events++;
    if (st->first_event_ns == 0)
        st->first_event_ns = ctx->now;
    st->last_event_ns = ctx->now;
    uint64_t ts = lg_ws_find_ts (head, len);
    if (ts == 0)
        st->ts_missing++;
    else
        lg_hist_record (&st->latency, ctx->now > ts ? ctx->now - ts : 0);
}

/* One complete server frame, dispatched on the client's state and mode. */
static int
s_on_frame (void *arg, int opcode, const char *head, size_t len, uint64_t total)
{
    cb_t *cb = arg;
    ctx_t *ctx = cb->ctx;
    conn_t *c = cb->c;
    lg_mode_t mode = ctx->o->mode;
    if (opcode == LG_WS_CLOSE) {
        ctx->st->last_close_code = len >= 2 ? ((uint8_t) head[0] << 8 | (uint8_t) head[1]) : 1005;
        s_finish (ctx, c, &ctx->st->fail_auth);
        return -1;
    }
    if (opcode == LG_WS_PING)
        return total <= 125 && s_send (ctx, c, LG_WS_PONG, head, len) == 0 ? 0 : -1;
    if (opcode != LG_WS_TEXT && opcode != 0) {
        ctx->st->other_frames++;
        return 0;
    }
    /* Engine.IO heartbeat: the server pings, the client must pong. */
    if (mode == LG_SOCKETIO && len == 1 && head[0] == '2')
        return s_send (ctx, c, LG_WS_TEXT, "3", 1);
    char buf[256];
    switch (c->state) {
    case C_READY:
        if (mode == LG_NCHAN
            || (mode == LG_SOCKETIO && s_starts (head, len, "42"))
            || (mode == LG_HERALD && memmem (head, len, "\"type\":\"event\"", 14)))
            s_event (ctx, head, len);
        else
            ctx->st->other_frames++;
        return 0;
    case C_AUTH:
        if (!memmem (head, len, "\"welcome\"", 9)) {
            s_finish (ctx, c, &ctx->st->fail_auth);
            return -1;
        }
        s_ready (ctx, c);
        return 0;
    case C_SIO_OPEN:
        if (!s_starts (head, len, "0{"))
            break;
        c->state = C_SIO_NS;
        return s_send (ctx, c, LG_WS_TEXT, "40", 2);
    case C_SIO_NS: {
        if (!s_starts (head, len, "40"))
            break;
        char user[64];
        s_user (ctx, c, user, sizeof user);
        /* Ack id 0: the server's ack "430" says the name is registered. */
        int n = snprintf (buf, sizeof buf, "420[\"username\",\"%s\"]", user);
        c->state = C_SIO_ACK;
        return s_send (ctx, c, LG_WS_TEXT, buf, (size_t) n);
    }
    case C_SIO_ACK:
        if (!s_starts (head, len, "430"))
            break;
        s_ready (ctx, c);
        return 0;
    }
    s_finish (ctx, c, &ctx->st->fail_auth);
    return -1;
}

/* After the 101: what the client says first, per mode. */
static int
s_upgraded (ctx_t *ctx, conn_t *c)
{
    if (ctx->o->mode == LG_NCHAN) {
        s_ready (ctx, c);
        return 0;
    }
    if (ctx->o->mode == LG_SOCKETIO) {
        c->state = C_SIO_OPEN;
        return 0;
    }
    char user[64], token[512], auth[640];
    s_user (ctx, c, user, sizeof user);
    if (lg_jwt_mint (token, sizeof token, ctx->o->secret, user,
                     (long) (lg_now_ns () / 1000000000ull) + 86400) == 0)
        return -1;
    int n = snprintf (auth, sizeof auth, "{\"type\":\"auth\",\"token\":\"%s\"}", token);
    c->state = C_AUTH;
    return s_send (ctx, c, LG_WS_TEXT, auth, (size_t) n);
}

/* Bytes of the HTTP answer to the upgrade; the rest goes to the frame parser. */
static void
s_on_http (ctx_t *ctx, conn_t *c, const char *data, size_t n)
{
    size_t before = c->http_len;
    size_t room = HTTP_MAX - 1 - before;
    size_t take = n < room ? n : room;
    memcpy (c->http + before, data, take);
    c->http_len += take;
    c->http[c->http_len] = '\0';
    char *end = strstr (c->http, "\r\n\r\n");
    if (!end) {
        if (c->http_len >= HTTP_MAX - 1)
            s_finish (ctx, c, &ctx->st->fail_upgrade);
        return;
    }
    if (strncmp (c->http, "HTTP/1.1 101", 12) != 0) {
        s_finish (ctx, c, &ctx->st->fail_upgrade);
        return;
    }
    size_t used = (size_t) (end + 4 - c->http) - before;
    if (s_upgraded (ctx, c) != 0) {
        s_finish (ctx, c, &ctx->st->fail_auth);
        return;
    }
    if (used < n) {
        cb_t cb = { ctx, c };
        if (lg_ws_parser_feed (&c->ws, data + used, n - used, s_on_frame, &cb) != 0
            && c->state != C_DONE)
            s_finish (ctx, c, &ctx->st->fail_auth);
    }
}

static void
s_on_readable (ctx_t *ctx, conn_t *c)
{
    for (int round = 0; round < 4 && c->state != C_DONE; round++) {
        ssize_t n = read (c->fd, ctx->scratch, sizeof ctx->scratch);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            s_finish (ctx, c, c->state == C_HTTP ? &ctx->st->fail_upgrade : &ctx->st->fail_auth);
            return;
        }
        ctx->now = lg_now_ns ();
        if (c->state == C_HTTP)
            s_on_http (ctx, c, ctx->scratch, (size_t) n);
        else {
            cb_t cb = { ctx, c };
            if (lg_ws_parser_feed (&c->ws, ctx->scratch, (size_t) n, s_on_frame, &cb) != 0
                && c->state != C_DONE)
                s_finish (ctx, c, &ctx->st->fail_auth);
        }
        if ((size_t) n < sizeof ctx->scratch)
            return;
    }
}

static void
s_on_connected (ctx_t *ctx, conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        s_finish (ctx, c, &ctx->st->fail_connect);
        return;
    }
    int local = (int) (c - ctx->conns);
    int t = (ctx->first + local) % ctx->o->ntargets;
    char path[256], user[64], req[512];
    if (ctx->o->mode == LG_NCHAN) {
        s_user (ctx, c, user, sizeof user);
        snprintf (path, sizeof path, "%s%s", ctx->o->path, user);
    } else if (ctx->o->mode == LG_SOCKETIO)
        snprintf (path, sizeof path, "/socket.io/?EIO=4&transport=websocket");
    else
        snprintf (path, sizeof path, "%s", ctx->o->path);
    size_t n = lg_ws_request (req, sizeof req, ctx->o->host[t], path);
    if (n == 0 || write (c->fd, req, n) != (ssize_t) n) {
        s_finish (ctx, c, &ctx->st->fail_connect);
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) local };
    epoll_ctl (ctx->epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->state = C_HTTP;
}

static void
s_launch (ctx_t *ctx)
{
    int local = ctx->next++;
    conn_t *c = &ctx->conns[local];
    int global = ctx->first + local;
    const lg_opts_t *o = ctx->o;
    ctx->inflight++;
    c->t_start = lg_now_ns ();
    c->state = C_CONNECTING;
    c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        s_finish (ctx, c, &ctx->st->fail_connect);
        return;
    }
    int one = 1;
    setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Spreading sources over 127.0.0.x keeps each below the ephemeral port
     * range; NO_PORT lets the kernel pick the port at connect, per 4-tuple. */
    setsockopt (c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = { .sin_family = AF_INET };
    src.sin_addr.s_addr = htonl ((127u << 24) | (uint32_t) (o->first_source + global / o->per_source));
    const struct sockaddr_in *dst = &o->target[global % o->ntargets];
    if (bind (c->fd, (struct sockaddr *) &src, sizeof src) != 0
        || (connect (c->fd, (const struct sockaddr *) dst, sizeof *dst) != 0
            && errno != EINPROGRESS)) {
        s_finish (ctx, c, &ctx->st->fail_connect);
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t) local };
    if (epoll_ctl (ctx->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        s_finish (ctx, c, &ctx->st->fail_connect);
}

int
lg_client_run (const lg_opts_t *opts, int first, int count,
               double connect_timeout_s, lg_stats_t *stats, volatile int *stop)
{
    ctx_t *ctx = calloc (1, sizeof *ctx);
    if (!ctx)
        return -1;
    ctx->o = opts;
    ctx->st = stats;
    ctx->first = first;
    ctx->count = count;
    ctx->rnd = 2463534242u ^ (uint32_t) first;
    ctx->conns = calloc ((size_t) (count > 0 ? count : 1), sizeof (conn_t));
    ctx->epfd = epoll_create1 (EPOLL_CLOEXEC);
    if (!ctx->conns || ctx->epfd < 0) {
        fprintf (stderr, "loadgen: out of memory or epoll for %d clients\n", count);
        free (ctx->conns);
        free (ctx);
        return -1;
    }
    for (int i = 0; i < count; i++)
        ctx->conns[i].fd = -1;
    stats->connect_begin_ns = lg_now_ns ();
    uint64_t deadline = stats->connect_begin_ns + (uint64_t) (connect_timeout_s * 1e9);
    struct epoll_event evs[1024];
    while (!*stop) {
        while (ctx->next < count && ctx->inflight < opts->concurrency)
            s_launch (ctx);
        if (!stats->done_connecting && ctx->next == count && ctx->inflight == 0) {
            stats->connect_end_ns = lg_now_ns ();
            stats->done_connecting = 1;
        }
        if (!stats->done_connecting && lg_now_ns () > deadline) {
            /* Whoever is not ready by the deadline has failed. */
            for (int i = 0; i < ctx->next; i++)
                if (ctx->conns[i].state != C_READY && ctx->conns[i].state != C_DONE)
                    s_finish (ctx, &ctx->conns[i], &stats->fail_timeout);
            while (ctx->next < count) {
                ctx->conns[ctx->next++].state = C_DONE;
                stats->failed++;
                stats->fail_timeout++;
            }
            continue;
        }
        int n = epoll_wait (ctx->epfd, evs, 1024, 50);
        for (int i = 0; i < n; i++) {
            conn_t *c = &ctx->conns[evs[i].data.u32];
            if (c->state == C_CONNECTING)
                s_on_connected (ctx, c);
            else if (c->state != C_DONE)
                s_on_readable (ctx, c);
        }
    }
    for (int i = 0; i < count; i++)
        if (ctx->conns[i].fd >= 0)
            close (ctx->conns[i].fd);
    close (ctx->epfd);
    free (ctx->conns);
    free (ctx);
    return 0;
}
