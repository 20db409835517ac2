/* sockmon.c -- what the broker learns from its bound ZeroMQ sockets' monitors: failed accepts, failed handshakes.
 *
 * Why: libzmq 4.3's TCP listener answers a failed accept() (EMFILE, ENFILE)
 * by reporting it to the monitor and returning to its poller, where the
 * listening socket is still readable because the connection is still in the
 * kernel's backlog: the I/O thread spins at 100% of a core for as long as
 * descriptors stay exhausted (measured: tests/security/test_broker_descriptors.py).
 * libzmq has no way to pause one listener. zmq_unbind is no pause either:
 * on Debian's libzmq 4.3.4 it closes the listener and the connections still
 * in their handshake, but leaves every established connection of that
 * endpoint open at the TCP level with no pipe behind it, so a gateway or
 * producer is silently cut off and never reconnects (checked with a DEALER
 * and ss(8): ESTABLISHED, messages dropped, no DISCONNECTED event).
 *
 * So the broker sheds instead: the monitor's LISTENING event names the
 * listener's descriptor; on an accept failure with EMFILE a short-lived
 * thread with its own copy of the descriptor table (unshare CLONE_FILES)
 * closes its copy of a reserve descriptor, accepts and closes what waits
 * in the backlog (a bounded batch) until it would block, and ends. Freeing
 * the reserve in the shared table instead loses the slot to libzmq's I/O
 * thread, which calls accept() in its loop all the while (seen in about
 * one run in two of the test). The listener stops being readable, the
 * spin stops, and each connection made while descriptors are exhausted
 * costs one accept and one close instead of a busy loop. Established
 * connections are untouched. Counted per socket
 * (herald_broker_zmq_accept_failures_total,
 * herald_broker_zmq_connections_shed_total), logged at most once a second.
 *
 * The listener's descriptor is libzmq's: it is only ever accept()ed on here
 * (never closed or polled), and only while getsockname() still gives the
 * address it had at LISTENING and it is still a listening socket.
 *
 * The same monitors report failed handshakes to the ZAP handler (zap.c):
 * libzmq keeps one monitor per socket. */
#define _GNU_SOURCE
#include "sockmon.h"
#include "log.h"
#include "ratelog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_BATCH       64     /* monitor events per socket per turn */
#define S_SHED_BATCH  256    /* connections closed per failed accept */

typedef struct {
    void *pair;                  /* receives the socket's monitor events */
    hb_zap_t *zap;               /* handshake failures go here, or NULL */
    int listener;                /* libzmq's listening descriptor, or -1 */
    struct sockaddr_storage addr;
    socklen_t addr_len;
} s_watch_t;

struct hb_sockmon {
    void *ctx;
    s_watch_t watches[HB_ZAP_SOCKETS];
    unsigned generation;         /* makes each monitor endpoint name unique */
    hb_zap_socket_t polled[HB_ZAP_SOCKETS];    /* whose pair each poll item is */
    size_t polled_count;
    int reserve;                 /* see s_reserve_open */
    hb_metrics_t *metrics;
    hb_ratelog_t log;
};

/* A descriptor that is always open, so a shedding thread has one to close
 * in its own copy of the table. */
static int
s_reserve_open (void)
{
    return open ("/dev/null", O_RDONLY | O_CLOEXEC);
}

hb_sockmon_t *
hb_sockmon_new (void *ctx, hb_metrics_t *metrics)
{
    hb_sockmon_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->metrics = metrics;
    for (int i = 0; i < HB_ZAP_SOCKETS; i++)
        self->watches[i].listener = -1;
    self->reserve = s_reserve_open ();
    if (self->reserve < 0) {
        hp_error ("cannot open a reserve descriptor: %s", strerror (errno));
        hb_sockmon_destroy (&self);
    }
    return self;
}

static void
s_watch_close (s_watch_t *w)
{
    if (w->pair)
        zmq_close (w->pair);
    *w = (s_watch_t) { .listener = -1 };
}

void
hb_sockmon_destroy (hb_sockmon_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_sockmon_t *self = *self_p;
    for (int i = 0; i < HB_ZAP_SOCKETS; i++)
        s_watch_close (&self->watches[i]);
    if (self->reserve >= 0)
        close (self->reserve);
    free (self);
    *self_p = NULL;
}

int
hb_sockmon_watch (hb_sockmon_t *self, void *sock, hb_zap_socket_t which, hb_zap_t *zap)
{
    if (which >= HB_ZAP_SOCKETS)
        return -1;
    s_watch_t *w = &self->watches[which];
    s_watch_close (w);
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://herald-monitor-%d-%u", (int) which, self->generation++);
    int events = ZMQ_EVENT_LISTENING | ZMQ_EVENT_ACCEPT_FAILED;
    if (zap)
        events |= ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    void *pair = NULL;
    int linger = 0;
    if (zmq_socket_monitor (sock, ep, events) != 0
    ||  !(pair = zmq_socket (self->ctx, ZMQ_PAIR))
    ||  zmq_setsockopt (pair, ZMQ_LINGER, &linger, sizeof linger) != 0
    ||  zmq_connect (pair, ep) != 0) {
        if (pair)
            zmq_close (pair);
        return -1;
    }
    w->pair = pair;
    w->zap = zap;
    return 0;
}

size_t
hb_sockmon_pollitems (hb_sockmon_t *self, zmq_pollitem_t *items, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < HB_ZAP_SOCKETS && n < max; i++)
        if (self->watches[i].pair) {
            self->polled[n] = (hb_zap_socket_t) i;
            items[n++] = (zmq_pollitem_t) { self->watches[i].pair, 0, ZMQ_POLLIN, 0 };
        }
    self->polled_count = n;
    return n;
}

/* LISTENING: remember the listener and the address it is bound to, and
 * make it non-blocking. libzmq 4.3 leaves its listener blocking (it only
 * accepts when epoll says a connection waits) and takes EAGAIN from
 * accept() as a normal outcome, which is what it now gets when this
 * thread took the connection first; this thread must never block in
 * accept() on a connection libzmq took first. */
static void
s_on_listening (s_watch_t *w, int fd)
{
    w->listener = -1;
    w->addr_len = sizeof w->addr;
    int flags = fcntl (fd, F_GETFL);
    if (getsockname (fd, (struct sockaddr *) &w->addr, &w->addr_len) != 0
    ||  flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return;
    w->listener = fd;
}

/* True while w->listener is still the listening socket it was. */
static bool
s_listener_same (const s_watch_t *w)
{
    if (w->listener < 0)
        return false;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int listening = 0;
    socklen_t optlen = sizeof listening;
    int flags = fcntl (w->listener, F_GETFL);
    return getsockname (w->listener, (struct sockaddr *) &addr, &len) == 0
        && len == w->addr_len && memcmp (&addr, &w->addr, len) == 0
        && getsockopt (w->listener, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) == 0
        && listening
        && flags >= 0 && (flags & O_NONBLOCK);     /* never block the main thread */
}

/* What a shedding thread is given and reports. */
typedef struct {
    int listener;
    int spare;          /* the reserve: closed in the thread's own table only */
    unsigned shed;
    int err;            /* unshare's errno, or 0 */
} s_shed_job_t;

/* Runs with a private copy of the descriptor table (unshare CLONE_FILES):
 * closing its copy of the reserve frees a slot that only this thread can
 * fill, so libzmq's I/O thread, spinning on the same listener, cannot take
 * it first; its accepts land in this table and are closed here. The table
 * goes when the thread ends; the main one never changed. */
static void *
s_shed_thread (void *arg)
{
    s_shed_job_t *job = arg;
    if (unshare (CLONE_FILES) != 0) {
        job->err = errno;
        return NULL;
    }
    close (job->spare);
    while (job->shed < S_SHED_BATCH) {
        int conn = accept4 (job->listener, NULL, NULL, SOCK_CLOEXEC);
        if (conn < 0)
            break;      /* EAGAIN: the backlog is empty */
        close (conn);
        job->shed++;
    }
    return NULL;
}

/* ACCEPT_FAILED with errno err on socket which. */
static void
s_on_accept_failed (hb_sockmon_t *self, hb_zap_socket_t which, int err)
{
    s_watch_t *w = &self->watches[which];
    if (err == EAGAIN || err == EWOULDBLOCK)
        return;     /* a shedding thread took the connection first */
    self->metrics->zmq_accept_failures[which]++;
    unsigned reason = (unsigned) which * 2;
    if (err != EMFILE) {
        /* ENFILE is the whole system's table: a private table cannot make
         * room in it (the reserve's file stays open in the main one) */
        hb_ratelog (&self->log, reason, "accept failed on the %s socket: %s",
                    hb_zap_socket_name (which), strerror (err));
        return;
    }
    s_shed_job_t job = { .listener = w->listener, .spare = self->reserve };
    pthread_t thread;
    int rc = s_listener_same (w) ? pthread_create (&thread, NULL, s_shed_thread, &job) : -1;
    if (rc == 0)
        pthread_join (thread, NULL);
    if (rc != 0 || job.err) {
        hb_ratelog (&self->log, reason + 1, "out of descriptors on the %s socket and cannot "
                    "shed its waiting connections (%s)", hb_zap_socket_name (which),
                    rc > 0 ? strerror (rc) : job.err ? strerror (job.err) : "no listener");
        return;
    }
    self->metrics->zmq_connections_shed[which] += job.shed;
    if (job.shed)
        hb_ratelog (&self->log, reason, "out of descriptors on the %s socket (%s): closed "
                    "connections waiting to be accepted (raise ulimit -n)",
                    hb_zap_socket_name (which), strerror (err));
}

/* One monitor event: [u16 event, u32 value][endpoint]. */
static bool
s_monitor_event (hb_sockmon_t *self, hb_zap_socket_t which)
{
    s_watch_t *w = &self->watches[which];
    zmq_msg_t part;
    zmq_msg_init (&part);
    if (zmq_msg_recv (&part, w->pair, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&part);
        return false;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    if (zmq_msg_size (&part) >= 6) {
        memcpy (&event, zmq_msg_data (&part), 2);
        memcpy (&value, (char *) zmq_msg_data (&part) + 2, 4);
    }
    while (zmq_msg_more (&part)) {      /* the endpoint: not needed */
        zmq_msg_close (&part);
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, w->pair, ZMQ_DONTWAIT) < 0)
            break;
    }
    zmq_msg_close (&part);
    if (event == ZMQ_EVENT_LISTENING)
        s_on_listening (w, (int) value);
    else if (event == ZMQ_EVENT_ACCEPT_FAILED)
        s_on_accept_failed (self, which, (int) value);
    else if (event && w->zap)
        hb_zap_handshake_failed (w->zap, which);
    return true;
}

bool
hb_sockmon_handle (hb_sockmon_t *self, const zmq_pollitem_t *items)
{
    bool full = false;
    for (size_t i = 0; i < self->polled_count; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        int n;
        for (n = 0; n < S_BATCH && s_monitor_event (self, self->polled[i]); n++)
            ;
        full |= n == S_BATCH;
    }
    return full;
}
