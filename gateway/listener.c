/* listener.c -- a listening socket the gateway accepts on itself, with descriptor headroom and accept back-off.
 *
 * lws 4.1's own listener answers a failed accept (EMFILE) by logging and
 * returning to the loop, where the listening socket is still readable: a
 * busy loop with a log line per turn (~1 M lines/s measured). Accepting here
 * lets the gateway stop polling the socket for a while instead (the kernel's
 * backlog holds the connections meanwhile) and keep GW_FD_RESERVE
 * descriptors free for ZeroMQ, whose reconnects fail hard without them. */
#define _GNU_SOURCE
#include "listener.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netdb.h>
#include <stdio.h>

#include <libwebsockets.h>

#include "lwslog.h"

/* Connections taken per wake-up, so one busy listener cannot starve the loop. */
#define GW_ACCEPTS_PER_WAKE 64
#define GW_BACKOFF_MIN_MS 50
#define GW_BACKOFF_MAX_MS 1000

struct gw_listener {
    uv_poll_t poll;
    uv_timer_t backoff;
    int fd;
    unsigned fd_limit;
    unsigned backoff_ms;        /* the next pause; doubles while accepts keep failing */
    int open_handles;
    struct lws_vhost *vhost;
    gw_metrics_t *metrics;
};

static void s_on_readable (uv_poll_t *poll, int status, int events);

static void
s_on_backoff (uv_timer_t *timer)
{
    gw_listener_t *self = timer->data;
    uv_poll_start (&self->poll, UV_READABLE, s_on_readable);
}

/* Stops polling for backoff_ms, then doubles it. */
static void
s_pause (gw_listener_t *self)
{
    uv_poll_stop (&self->poll);
    uv_timer_start (&self->backoff, s_on_backoff, self->backoff_ms, 0);
    self->backoff_ms = self->backoff_ms * 2 > GW_BACKOFF_MAX_MS ? GW_BACKOFF_MAX_MS
                                                                 : self->backoff_ms * 2;
}

static void
s_on_readable (uv_poll_t *poll, int status, int events)
{
    (void) events;
    gw_listener_t *self = poll->data;
    if (status < 0)
        return;
    for (int i = 0; i < GW_ACCEPTS_PER_WAKE; i++) {
        int fd = accept4 (self->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
                continue;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM: out of something the
             * next turn will not have either */
            self->metrics->accept_errors_total++;
            gw_log ("accept: %s; pausing accepts for %u ms", strerror (errno), self->backoff_ms);
            s_pause (self);
            return;
        }
        if ((unsigned) fd + GW_FD_RESERVE >= self->fd_limit) {
            close (fd);
            self->metrics->refused_total[GW_REFUSED_DESCRIPTORS]++;
            gw_log ("descriptor %d is within %d of the limit %u: connection closed, "
                    "pausing accepts for %u ms", fd, GW_FD_RESERVE, self->fd_limit,
                    self->backoff_ms);
            s_pause (self);
            return;
        }
        if (!lws_adopt_socket_vhost (self->vhost, fd)) {
            /* documented: lws has closed the descriptor */
            self->metrics->accept_errors_total++;
            gw_log ("libwebsockets did not take descriptor %d", fd);
            continue;
        }
        self->backoff_ms = GW_BACKOFF_MIN_MS;
    }
}

/* A non-blocking socket bound and listening on host:port (the first
 * address host resolves to), or -1 with errno set. */
static int
s_bind (const char *host, int port)
{
    char service[8];
    snprintf (service, sizeof service, "%d", port);
    struct addrinfo hints, *res = NULL;
    memset (&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo (host, service, &hints, &res);
    if (rc != 0 || !res) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int one = 1;
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (res->ai_family == AF_INET6)
            setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind (fd, res->ai_addr, res->ai_addrlen) != 0 || listen (fd, SOMAXCONN) != 0) {
            int saved = errno;
            close (fd);
            errno = saved;
            fd = -1;
        }
    }
    freeaddrinfo (res);
    return fd;
}

gw_listener_t *
gw_listener_new (uv_loop_t *loop, const char *host, int port, struct lws_vhost *vhost,
                 unsigned fd_limit, gw_metrics_t *metrics)
{
    int fd = s_bind (host, port);
    if (fd < 0) {
        hp_error ("cannot listen on %s:%d: %s", host, port, strerror (errno));
        return NULL;
    }
    gw_listener_t *self = calloc (1, sizeof *self);
    if (!self || uv_poll_init (loop, &self->poll, fd) != 0) {
        free (self);
        close (fd);
        return NULL;
    }
    uv_timer_init (loop, &self->backoff);
    self->poll.data = self->backoff.data = self;
    self->fd = fd;
    self->fd_limit = fd_limit;
    self->backoff_ms = GW_BACKOFF_MIN_MS;
    self->vhost = vhost;
    self->metrics = metrics;
    self->open_handles = 2;
    uv_poll_start (&self->poll, UV_READABLE, s_on_readable);
    return self;
}

static void
s_on_handle_closed (uv_handle_t *handle)
{
    gw_listener_t *self = handle->data;
    if (--self->open_handles == 0)
        free (self);
}

void
gw_listener_close (gw_listener_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_listener_t *self = *self_p;
    uv_close ((uv_handle_t *) &self->poll, s_on_handle_closed);
    uv_close ((uv_handle_t *) &self->backoff, s_on_handle_closed);
    close (self->fd);
    *self_p = NULL;
}
