/* confirm.c -- confirmed publishing for herald-push: the control op publish, events in flight, retries and pair failover.
 *
 * Each event is one control request [tag][empty][envelope] on a DEALER;
 * the broker echoes every frame before the body (broker/control.c), so
 * the 8-byte tag matches an answer to its event while up to
 * HT_CONFIRM_WINDOW wait. The broker answers a publish only after its
 * commit (store and passive), so an answer with an offset means the event
 * survives this broker; no answer means nothing is known, and the event
 * is sent again with the same idempotency key: the broker's window
 * (broker/idempotency.c) turns a retry of an event it already accepted
 * into {"duplicate":true} with the first offset, never a second event.
 *
 * Failover follows the gateway's control rules (gateway/failover.c, the
 * same numbers but a longer attempt timeout, see confirm.h): silence moves
 * every event in flight to the other endpoint of a pair, a passive's
 * refusal does too unless the other was silent lately. A move closes the
 * socket and opens a new one, so no answer from an abandoned attempt can
 * arrive later and nothing queued for a dead broker is kept. Events in
 * flight are sent again in the order they were added. */
#include "confirm.h"
#include "endpoints.h"
#include "envelope.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define S_EPS     HP_ENDPOINTS_MAX
#define S_EP_MAX  HP_ENDPOINT_MAX
#define S_TEXT_MAX 64            /* longest error/reason/epoch string kept */

typedef struct {
    bool     live;
    uint64_t tag;
    long     line;
    char     key[HP_IDEMPOTENCY_KEY_MAX + 1];
    char    *bytes;              /* owned */
    size_t   len;
    uint64_t first_ms;           /* first sent: the give-up clock */
    uint64_t sent_ms;            /* the attempt in flight (0: none, send at due_ms) */
    uint64_t due_ms;
} s_entry_t;

struct ht_confirm {
    void             *ctx;
    const hp_curve_t *curve;
    char              ep[S_EPS][S_EP_MAX];
    int               count;     /* 1, or 2 for a pair */
    int               at;        /* the endpoint requests go to */
    uint64_t          silent_ms[S_EPS];   /* when each last timed out (0: never) */
    void             *sock;
    s_entry_t         ring[HT_CONFIRM_WINDOW];   /* in the order added */
    size_t            head, used;          /* ring span, holes included */
    size_t            live, bytes;
    uint64_t          next_tag;
    uint64_t          give_up_ms;
    ht_confirm_fn    *fn;
    void             *arg;
};

uint64_t
ht_confirm_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000 + 1;   /* never 0 */
}

static int
s_parse (ht_confirm_t *self, const char *list)
{
    int count = hp_endpoints_parse (list, self->ep);
    if (count < 0)
        return -1;
    self->count = count;
    return 0;
}

/* A fresh DEALER to the current endpoint (the old one closed with what it
 * held). -1 with errno when ZeroMQ refuses (sock stays NULL: the next
 * timeout tries again). */
static int
s_open (ht_confirm_t *self)
{
    if (self->sock)
        zmq_close (self->sock);
    int linger = 0;
    self->sock = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!self->sock)
        return -1;
    if (zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0
    ||  (self->curve && hp_curve_apply_client (self->curve, self->sock) != 0)
    ||  zmq_connect (self->sock, self->ep[self->at]) != 0) {
        int saved = errno;
        zmq_close (self->sock);
        self->sock = NULL;
        errno = saved;
        return -1;
    }
    return 0;
}

ht_confirm_t *
ht_confirm_new (void *ctx, const char *endpoints, const hp_curve_t *curve, uint64_t give_up_ms,
                ht_confirm_fn *fn, void *arg, char *err, size_t errlen)
{
    ht_confirm_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    self->ctx = ctx;
    self->curve = curve;
    self->give_up_ms = give_up_ms;
    self->fn = fn;
    self->arg = arg;
    self->next_tag = 1;
    if (s_parse (self, endpoints) != 0) {
        snprintf (err, errlen, "--control takes one endpoint, or two separated by a comma "
                  "(a hot standby pair): \"%.200s\"", endpoints);
        free (self);
        return NULL;
    }
    /* every endpoint is checked once here, so a typo fails at start */
    for (int i = self->count - 1; i >= 0; i--) {
        self->at = i;
        if (s_open (self) != 0) {
            snprintf (err, errlen, "bad control endpoint \"%s\": %s", self->ep[i],
                      zmq_strerror (errno));
            ht_confirm_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
ht_confirm_destroy (ht_confirm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    ht_confirm_t *self = *self_p;
    for (size_t i = 0; i < HT_CONFIRM_WINDOW; i++)
        free (self->ring[i].bytes);
    if (self->sock)
        zmq_close (self->sock);
    free (self);
    *self_p = NULL;
}

bool
ht_confirm_room (const ht_confirm_t *self)
{
    return self->used < HT_CONFIRM_WINDOW
        && (self->live == 0 || self->bytes < HT_CONFIRM_WINDOW_BYTES);
}

size_t
ht_confirm_pending (const ht_confirm_t *self)
{
    return self->live;
}

void *
ht_confirm_socket (const ht_confirm_t *self)
{
    return self->sock;
}

static s_entry_t *
s_at (ht_confirm_t *self, size_t i)
{
    return &self->ring[(self->head + i) % HT_CONFIRM_WINDOW];
}

/* One attempt. A send ZeroMQ does not take (no socket, a full pipe) counts
 * as sent: its timeout retries it like a lost answer. */
static void
s_send (ht_confirm_t *self, s_entry_t *e, uint64_t now)
{
    e->sent_ms = now;
    if (!e->first_ms)
        e->first_ms = now;
    if (!self->sock)
        return;
    unsigned char tag[8];
    memcpy (tag, &e->tag, sizeof tag);     /* only we read it back */
    if (zmq_send (self->sock, tag, sizeof tag, ZMQ_SNDMORE | ZMQ_DONTWAIT) == sizeof tag
    &&  zmq_send (self->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) == 0)
        zmq_send (self->sock, e->bytes, e->len, ZMQ_DONTWAIT);
}

/* Reports the event and frees its slot; the ring's front moves past
 * settled slots, so the window opens in order. */
static void
s_settle (ht_confirm_t *self, s_entry_t *e, ht_confirm_outcome_t *out)
{
    out->line = e->line;
    out->key = e->key;
    self->fn (self->arg, out);
    free (e->bytes);
    e->bytes = NULL;
    e->live = false;
    self->live--;
    self->bytes -= e->len;
    while (self->used && !s_at (self, 0)->live) {
        self->head = (self->head + 1) % HT_CONFIRM_WINDOW;
        self->used--;
    }
}

int
ht_confirm_add (ht_confirm_t *self, const char *bytes, size_t len, long line, const char *key,
                uint64_t now_ms)
{
    if (self->used == HT_CONFIRM_WINDOW)
        return -1;
    s_entry_t *e = s_at (self, self->used);
    char *copy = malloc (len ? len : 1);
    if (!copy)
        return -1;
    memcpy (copy, bytes, len);
    *e = (s_entry_t) { .live = true, .tag = self->next_tag++, .line = line, .bytes = copy,
                       .len = len };
    snprintf (e->key, sizeof e->key, "%s", key);
    self->used++;
    self->live++;
    self->bytes += len;
    s_send (self, e, now_ms);
    return 0;
}

/* Every event in flight goes to the other endpoint (or, alone, to a new
 * connection to the same one), in order. */
static void
s_fail_over (ht_confirm_t *self, uint64_t now, bool silent)
{
    if (silent)
        self->silent_ms[self->at] = now;
    if (self->count == S_EPS)
        self->at = 1 - self->at;
    s_open (self);
    for (size_t i = 0; i < self->used; i++) {
        s_entry_t *e = s_at (self, i);
        if (e->live)
            s_send (self, e, now);
    }
}

/* Copies a msgpack str into out (cut to S_TEXT_MAX). */
static void
s_text (const msgpack_object *o, char *out)
{
    size_t n = o->type == MSGPACK_OBJECT_STR ? o->via.str.size : 0;
    if (n > S_TEXT_MAX)
        n = S_TEXT_MAX;
    memcpy (out, n ? o->via.str.ptr : "", n);
    out[n] = '\0';
}

/* One answer to the event e. */
static void
s_answer (ht_confirm_t *self, s_entry_t *e, const char *body, size_t len, uint64_t now)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    if (msgpack_unpack_next (&u, body, len, NULL) != MSGPACK_UNPACK_SUCCESS
    ||  u.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy (&u);
        return;                         /* not an answer we know: its timeout retries */
    }
    char epoch[S_TEXT_MAX + 1] = "", error[S_TEXT_MAX + 1] = "", reason[S_TEXT_MAX + 1] = "";
    bool has_offset = false, duplicate = false;
    uint64_t offset = 0;
    const msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        const char *name = k->via.str.ptr;
        size_t n = k->via.str.size;
        if (n == 6 && !memcmp (name, "offset", 6) && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            has_offset = true;
            offset = v->via.u64;
        }
        else if (n == 5 && !memcmp (name, "epoch", 5))
            s_text (v, epoch);
        else if (n == 9 && !memcmp (name, "duplicate", 9) && v->type == MSGPACK_OBJECT_BOOLEAN)
            duplicate = v->via.boolean;
        else if (n == 5 && !memcmp (name, "error", 5))
            s_text (v, error);
        else if (n == 6 && !memcmp (name, "reason", 6))
            s_text (v, reason);
    }
    msgpack_unpacked_destroy (&u);

    ht_confirm_outcome_t out = { .epoch = epoch, .error = error, .reason = reason };
    if (has_offset && *epoch && !*error) {
        out.result = HT_CONFIRM_OK;
        out.offset = offset;
        out.duplicate = duplicate;
        s_settle (self, e, &out);
        return;
    }
    if (!e->sent_ms)
        return;                         /* a refusal of an attempt already retried */
    if (!strcmp (error, "passive")) {
        uint64_t other = self->silent_ms[1 - self->at];
        if (self->count == S_EPS && (!other || now - other >= HT_CONFIRM_STAY_MS)) {
            s_fail_over (self, now, false);
            return;
        }
        e->sent_ms = 0;                 /* the passive is about to take over: ask again */
        e->due_ms = now + HT_CONFIRM_RETRY_MS;
        return;
    }
    if (!strcmp (error, "busy")) {
        e->sent_ms = 0;
        e->due_ms = now + HT_CONFIRM_RETRY_MS;
        return;
    }
    if (!*error)
        return;
    out.result = HT_CONFIRM_REFUSED;
    s_settle (self, e, &out);
}

static s_entry_t *
s_find (ht_confirm_t *self, uint64_t tag)
{
    for (size_t i = 0; i < self->used; i++) {
        s_entry_t *e = s_at (self, i);
        if (e->live && e->tag == tag)
            return e;
    }
    return NULL;
}

/* Drains the socket: [tag(8)][empty][body] each. */
static void
s_read (ht_confirm_t *self, uint64_t now)
{
    while (self->sock) {
        zmq_msg_t parts[3];
        size_t count = 0;
        bool more = true;
        while (more) {
            zmq_msg_t msg;
            zmq_msg_init (&msg);
            if (zmq_msg_recv (&msg, self->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&msg);
                for (size_t i = 0; i < count; i++)
                    zmq_msg_close (&parts[i]);
                return;                 /* nothing more (a message arrives whole) */
            }
            more = zmq_msg_more (&msg);
            if (count < 3)
                parts[count++] = msg;
            else
                zmq_msg_close (&msg);   /* not our shape: dropped below */
        }
        void *sock = self->sock;
        if (count == 3 && zmq_msg_size (&parts[0]) == 8 && zmq_msg_size (&parts[1]) == 0) {
            uint64_t tag;
            memcpy (&tag, zmq_msg_data (&parts[0]), sizeof tag);
            s_entry_t *e = s_find (self, tag);
            if (e)
                s_answer (self, e, zmq_msg_data (&parts[2]), zmq_msg_size (&parts[2]), now);
        }
        for (size_t i = 0; i < count; i++)
            zmq_msg_close (&parts[i]);
        if (self->sock != sock)
            return;                     /* failed over: the old socket's rest is moot */
    }
}

void
ht_confirm_service (ht_confirm_t *self, uint64_t now)
{
    s_read (self, now);
    for (size_t i = 0; i < self->used; i++) {
        s_entry_t *e = s_at (self, i);
        if (e->live && now - e->first_ms >= self->give_up_ms) {
            ht_confirm_outcome_t out = { .result = HT_CONFIRM_UNCONFIRMED, .epoch = "",
                                         .error = "", .reason = "" };
            s_settle (self, e, &out);
            i = (size_t) -1;            /* the ring may have moved: start over */
        }
    }
    for (size_t i = 0; i < self->used; i++) {
        s_entry_t *e = s_at (self, i);
        if (e->live && e->sent_ms && now - e->sent_ms >= HT_CONFIRM_ATTEMPT_MS) {
            s_fail_over (self, now, true);
            break;
        }
    }
    for (size_t i = 0; i < self->used; i++) {
        s_entry_t *e = s_at (self, i);
        if (e->live && !e->sent_ms && e->due_ms <= now)
            s_send (self, e, now);
    }
}

long
ht_confirm_wait_ms (const ht_confirm_t *self, uint64_t now)
{
    long wait = -1;
    for (size_t i = 0; i < self->used; i++) {
        const s_entry_t *e = &self->ring[(self->head + i) % HT_CONFIRM_WINDOW];
        if (!e->live)
            continue;
        uint64_t due = e->sent_ms ? e->sent_ms + HT_CONFIRM_ATTEMPT_MS : e->due_ms;
        if (e->first_ms + self->give_up_ms < due)
            due = e->first_ms + self->give_up_ms;
        long left = due > now ? (long) (due - now) : 0;
        if (wait < 0 || left < wait)
            wait = left;
    }
    return wait;
}
