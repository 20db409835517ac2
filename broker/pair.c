/* pair.c -- the hot standby pair's link: heartbeats, replication to the passive, its acks.
 *
 * One PULL bound, one PUSH connected to the partner (ZMQ_IMMEDIATE: nothing
 * queues towards a partner that is not there). The active replicates each
 * batch before publishing it and waits for the ack while the passive is in
 * step, so every event a gateway may have seen is in the passive's history
 * under the same epoch and offset; a passive that misses anything (it
 * started late, the link dropped, it fell behind) starts its copy over with
 * everything before the first event it holds marked lost, so a takeover
 * never answers recovered:true for what it does not hold. */
#include "pair.h"
#include "pair_catchup.h"
#include "log.h"
#include "envelope.h"
#include "frame.h"
#include "ratelog.h"
#include "streamkey.h"
#include "umap.h"
#include "wire.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_HEARTBEAT_MS 100
#define S_PUSH_HWM     100000     /* messages: heartbeats and batches towards the peer */
#define S_HEAD_LEN     17         /* type(1) + [state(1)] epoch(8) last(8), H and K */
#define S_HEARTBEAT_LEN 22        /* H: ... want(4), the passive's catch-up request */
#define S_FRAMES_MAX   8          /* control envelope frames a refusal answers */

#define S_LOG_APPLY 1
#define S_LOG_LINK  2
#define S_LOG_COPY  3
#define S_LOG_CHUNK 4
#define S_LOG_REVOKED 5

struct hb_pair {
    hb_pair_fsm_t  fsm;
    void          *in, *out;
    hb_history_t **history;
    hb_metrics_t  *metrics;
    hb_pair_config_t cfg;
    uint64_t       epoch;          /* ours, or the active peer's once we copy it */
    uint64_t       last;           /* last offset given (active) or held (passive) */
    bool           copying;        /* passive: the copy follows the peer's epoch */
    bool           took_over;
    bool           holding;        /* s_hold: hearing the peer after a stall */
    bool           superseded;     /* a takeover happened while we were stopped */
    uint64_t       peer_epoch, peer_last;
    hb_pair_state_t peer_state;    /* 0 until heard */
    uint64_t       peer_heard_ms;
    uint64_t       heartbeat_ms;
    /* active */
    bool           batch_open;     /* an R message is being sent */
    bool           lagging;        /* no ack in time: serve without waiting */
    uint64_t       sent_last;
    /* passive: rebuilding frames */
    hp_envelope_t *env;
    hp_buf_t       frame;
    hb_key_t      *keys;
    hb_streamkey_t skey;           /* a channel's or the broadcast key, for keys[0] */
    hb_ratelog_t   log;
    hb_idem_t     *idem;           /* keys of copied events, or NULL */
    hb_zap_t      *zap;            /* CURVE on: revoked partners refused */
    /* catch-up (pair_catchup.h) */
    hb_catchup_tx_t *tx;           /* active: the passive peer's */
    uint32_t       peer_want;      /* the peer's last heartbeat: its request, 0 live */
    bool           catching_up;    /* passive: the copy is not whole yet */
    uint32_t       want;           /* passive: its request, 0 when live */
    uint32_t       rx_seq;         /* passive: the chunk expected; UINT32_MAX: only a seq 0 */
    hb_catchup_stats_t rx;
    uint64_t       chunks_refused; /* passive: malformed chunks dropped */
    uint64_t       takeovers, replicated, sent, ack_timeouts, restarts;
};

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
s_put64 (unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint64_t
s_get64 (const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

hb_pair_t *
hb_pair_new (void *ctx, const hb_pair_config_t *cfg, hb_history_t **history,
             hb_metrics_t *metrics, uint64_t epoch, uint64_t now_ms)
{
    hb_pair_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    self->history = history;
    self->metrics = metrics;
    self->epoch = epoch;
    self->last = cfg->stored_last;
    hb_pair_fsm_init (&self->fsm, cfg->primary, now_ms, cfg->timeout_ms);
    self->env = hp_envelope_new ();
    self->keys = malloc (HP_RECIPIENTS_MAX * sizeof *self->keys);
    hp_buf_init (&self->frame, cfg->max_event_bytes * 8 + 4096);
    self->tx = hb_catchup_tx_new ();
    if (!self->env || !self->keys || !self->tx)
        goto fail;
    int zero = 0, one = 1, hwm = S_PUSH_HWM;
    /* a catch-up record: a frame (at most 8 x the envelope, escaped, plus
     * its head) and its stream keys (within the envelope) with 10 bytes each */
    int64_t max_msg = (int64_t) cfg->max_event_bytes * 16 + 10 * HP_RECIPIENTS_MAX + 8192;
    self->in = zmq_socket (ctx, ZMQ_PULL);
    self->out = zmq_socket (ctx, ZMQ_PUSH);
    if (!self->in || !self->out
    ||  zmq_setsockopt (self->in, ZMQ_LINGER, &zero, sizeof zero) != 0
    ||  zmq_setsockopt (self->in, ZMQ_MAXMSGSIZE, &max_msg, sizeof max_msg) != 0
    ||  zmq_setsockopt (self->out, ZMQ_LINGER, &zero, sizeof zero) != 0
    ||  zmq_setsockopt (self->out, ZMQ_IMMEDIATE, &one, sizeof one) != 0
    ||  zmq_setsockopt (self->out, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0) {
        hp_error ("pair sockets: %s", zmq_strerror (zmq_errno ()));
        goto fail;
    }
    /* CURVE before bind and connect, or libzmq would not apply it; the
     * partner passes ZAP under domain pair (role pair, zap.c) */
    if (cfg->curve && (hp_curve_apply_server (cfg->curve, self->in, HP_ZAP_DOMAIN_PAIR) != 0
                       || hp_curve_apply_client_key (cfg->curve, self->out, cfg->partner_key) != 0)) {
        hp_error ("pair sockets: CURVE: %s", zmq_strerror (zmq_errno ()));
        goto fail;
    }
    /* the monitor before the bind, where it learns the listener: at
     * EMFILE the backlog of --pair-bind is shed like the other listeners' */
    if (cfg->sockmon && hb_sockmon_watch (cfg->sockmon, self->in, HB_ZAP_PAIR,
                                          cfg->handshakes) != 0) {
        hp_error ("cannot monitor the pair socket");
        goto fail;
    }
    if (zmq_bind (self->in, cfg->bind) != 0) {
        hp_error ("cannot bind --pair-bind %s: %s", cfg->bind,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    if (zmq_connect (self->out, cfg->connect) != 0) {
        hp_error ("cannot connect --pair-connect %s: %s", cfg->connect,
                  zmq_strerror (zmq_errno ()));
        goto fail;
    }
    return self;
fail:
    hb_pair_destroy (&self);
    return NULL;
}

void
hb_pair_destroy (hb_pair_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_pair_t *self = *self_p;
    if (self->in)
        zmq_close (self->in);
    if (self->out)
        zmq_close (self->out);
    hb_catchup_tx_destroy (&self->tx, self->history ? *self->history : NULL);
    hp_envelope_destroy (&self->env);
    hp_buf_free (&self->frame);
    free (self->keys);
    free (self);
    *self_p = NULL;
}

void *
hb_pair_socket (hb_pair_t *self)
{
    return self->in;
}

hb_pair_state_t
hb_pair_state (const hb_pair_t *self)
{
    return self->fsm.state;
}

uint64_t
hb_pair_epoch (const hb_pair_t *self)
{
    return self->epoch;
}

uint64_t
hb_pair_start_offset (const hb_pair_t *self)
{
    uint64_t known = self->last > self->peer_last ? self->last : self->peer_last;
    return self->took_over ? known + HB_PAIR_OFFSET_SKIP : self->last;
}

/* [type][state][epoch][last], and for H [want] (K's state slot is 0). */
static void
s_send_small (hb_pair_t *self, char type, uint64_t last)
{
    unsigned char msg[S_HEARTBEAT_LEN];
    msg[0] = (unsigned char) type;
    msg[1] = (unsigned char) self->fsm.state;
    s_put64 (msg + 2, self->epoch);
    s_put64 (msg + 10, last);
    uint32_t want = self->catching_up ? self->want : 0;
    for (int i = 3; i >= 0; i--, want >>= 8)
        msg[18 + i] = (unsigned char) want;
    /* dropped when the peer is not connected or its queue is full: the
     * next heartbeat says the same */
    zmq_send (self->out, msg, type == 'H' ? S_HEARTBEAT_LEN : 1 + S_HEAD_LEN, ZMQ_DONTWAIT);
}

/* A passive in step holds every event its active peer last reported; a
 * copy still being caught up holds part of the history only. */
static bool
s_in_step (const hb_pair_t *self)
{
    return self->copying && !self->catching_up && self->epoch == self->peer_epoch
        && self->last >= self->peer_last;
}

/* Replaces the history with a new empty one of epoch where everything up
 * to floor counts as lost; with a --data-dir store, the store is emptied
 * into that epoch first and the new history writes through to it. 0, or
 * -1 (logged; the old history stays). */
static int
s_new_history (hb_pair_t *self, uint64_t epoch, uint64_t floor)
{
    hb_store_t *store = hb_history_store (*self->history);
    hb_history_t *fresh = hb_history_new (self->cfg.history_events, self->cfg.history_bytes);
    if (!fresh || (store && hb_store_reset (store, epoch, floor) != 0)) {
        hb_ratelog (&self->log, S_LOG_COPY, "%s: the copy cannot start over",
                    fresh ? "the data directory could not be emptied" : "out of memory");
        hb_history_destroy (&fresh);
        return -1;
    }
    hb_history_destroy (self->history);
    *self->history = fresh;
    if (store) {
        hb_store_state_t state = { .epoch = epoch, .last = floor, .floor = floor };
        if (hb_history_attach (fresh, store, &state, hb_now_sec ()) != 0)
            hb_ratelog (&self->log, S_LOG_COPY, "out of memory attaching the data directory");
    }
    hb_history_lose_upto (fresh, floor);
    return 0;
}

/* Starts the copy over: asks the active peer for a catch-up (its history,
 * then its live batches) under a new request number. The history in hand
 * is replaced when the first chunk comes; until the last one the copy is
 * not in step (no takeover). */
static void
s_start_copy (hb_pair_t *self, uint64_t epoch, uint64_t floor, const char *why)
{
    if (self->copying)
        self->restarts++;
    uint32_t want;
    do
        want = (uint32_t) hp_epoch_new ();
    while (want == 0 || want == self->want);
    hp_info ("pair: copying epoch %016llx: asking the active peer for its "
             "history, catch-up %08x (%s)", (unsigned long long) epoch, want, why);
    self->copying = true;
    self->catching_up = true;
    self->want = want;
    self->rx_seq = UINT32_MAX;
    self->epoch = epoch;
    self->last = floor;
}

/* A copy being caught up whose active peer restarted (or that cannot go
 * on): part of another broker's epoch, which this one must never serve or
 * vouch for. It becomes an empty history of a new epoch. */
static void
s_drop_partial (hb_pair_t *self)
{
    uint64_t fresh = hp_epoch_new ();
    hp_info ("pair: the peer restarted during catch-up %08x: the partial "
             "copy is dropped; new epoch %016llx", self->want, (unsigned long long) fresh);
    if (s_new_history (self, fresh, 0) == 0) {
        self->epoch = fresh;
        self->last = 0;
    }
    self->catching_up = false;
    self->want = 0;
}

static hb_pair_result_t
s_on_heartbeat (hb_pair_t *self, const unsigned char *p, uint64_t now_ms)
{
    hb_pair_state_t peer = (hb_pair_state_t) p[1];
    if (peer < HB_PAIR_PRIMARY || peer > HB_PAIR_PASSIVE)
        return HB_PAIR_OK;
    if (self->holding && self->fsm.state == HB_PAIR_ACTIVE && peer == HB_PAIR_ACTIVE) {
        /* we were stopped long enough for a vote to make the peer active:
         * it has served since, we have not; whatever our role, we yield */
        self->superseded = true;
        return HB_PAIR_FATAL;
    }
    self->peer_state = peer;
    self->peer_epoch = s_get64 (p + 2);
    self->peer_last = s_get64 (p + 10);
    self->peer_want = (uint32_t) p[18] << 24 | (uint32_t) p[19] << 16 | (uint32_t) p[20] << 8 | p[21];
    self->peer_heard_ms = now_ms;
    hb_pair_state_t before = self->fsm.state;
    hb_pair_result_t r = hb_pair_fsm_event (&self->fsm, (hb_pair_event_t) peer, now_ms,
                                            s_in_step (self));
    hb_pair_state_t after = self->fsm.state;
    /* a copy of this active starts at what it has given so far; a stored
     * copy (--data-dir) goes on only when it holds exactly that */
    if (after == HB_PAIR_PASSIVE && peer == HB_PAIR_ACTIVE && self->cfg.stored && !self->copying
    &&  self->peer_epoch == self->epoch && self->peer_last == self->last) {
        self->copying = true;
        hp_info ("pair: the stored copy (epoch %016llx up to offset %llu) "
                 "is in step with the active peer: going on with it",
                 (unsigned long long) self->epoch, (unsigned long long) self->last);
    }
    if (after == HB_PAIR_PASSIVE && peer == HB_PAIR_ACTIVE
    &&  (!self->copying || self->peer_epoch != self->epoch))
        s_start_copy (self, self->peer_epoch, self->peer_last,
                      self->cfg.stored && !self->copying
                      ? "joined an active peer; the stored copy is behind or of another epoch"
                      : "joined an active peer");
    if ((after == HB_PAIR_PASSIVE && peer == HB_PAIR_ACTIVE) || after == HB_PAIR_ACTIVE)
        self->cfg.stored = false;     /* decided once: the stored copy is used or gone */
    /* a primary starting on its data directory next to a backup that went
     * further in the same epoch (it took over and served after we died):
     * that epoch's later offsets are not ours to give again */
    if (before == HB_PAIR_PRIMARY && after == HB_PAIR_ACTIVE && peer == HB_PAIR_BACKUP
    &&  self->peer_epoch == self->epoch && self->peer_last > self->last) {
        uint64_t fresh = hp_epoch_new ();
        hp_info ("pair: the backup holds epoch %016llx up to offset %llu, "
                 "past this broker's %llu: starting a new epoch %016llx",
                 (unsigned long long) self->epoch, (unsigned long long) self->peer_last,
                 (unsigned long long) self->last, (unsigned long long) fresh);
        if (s_new_history (self, fresh, 0) != 0)
            return HB_PAIR_FATAL;     /* cannot serve that epoch, nor leave it */
        self->epoch = fresh;
        self->last = 0;
    }
    if (before == HB_PAIR_PASSIVE && after != HB_PAIR_PASSIVE) {
        if (after == HB_PAIR_ACTIVE) {
            self->took_over = true;
            self->takeovers++;
            hp_info ("pair: peer restarted; taking over epoch %016llx "
                     "after offset %llu", (unsigned long long) self->epoch,
                     (unsigned long long) self->last);
        }
        else {
            if (self->catching_up)
                s_drop_partial (self);
            self->copying = false;    /* our copy was not in step: start over */
        }
    }
    /* the active serves a passive peer's catch-up request (pair_catchup.c) */
    if (self->fsm.state == HB_PAIR_ACTIVE) {
        if (peer == HB_PAIR_PASSIVE)
            hb_catchup_tx_want (self->tx, *self->history, self->peer_want, now_ms);
        else
            hb_catchup_tx_cancel (self->tx, *self->history);
    }
    if (after == HB_PAIR_ACTIVE && before != HB_PAIR_ACTIVE && !self->took_over)
        hp_info ("pair: active (peer is %s)", hb_pair_state_name (peer));
    if (self->fsm.state == HB_PAIR_ACTIVE && self->lagging && self->peer_epoch == self->epoch
    &&  self->peer_last >= self->sent_last)
        self->lagging = false;
    return r;
}

/* One replicated event: rebuilds the frame as the active did and stores it. */
static void
s_apply (hb_pair_t *self, const unsigned char *p, size_t len, uint64_t now)
{
    uint64_t offset = s_get64 (p);
    if (offset <= self->last)
        return;                       /* sent before we joined */
    if (offset != self->last + 1) {
        /* the active gives consecutive offsets to what it accepts and
         * sends them all: a hole means something was lost on the way */
        s_start_copy (self, self->epoch, self->last, "a hole in the events received");
        return;
    }
    uint64_t at = s_get64 (p + 8);    /* the active's accept time, kept as it was */
    const char *bytes = (const char *) p + 16;
    size_t n = len - 16;
    if (hp_envelope_decode (self->env, bytes, n, self->cfg.max_event_bytes) != HP_ENV_OK
    ||  (hp_buf_reset (&self->frame), hp_frame_event (&self->frame, self->env, offset)) != 0) {
        /* the peer accepted it: its --max-event-bytes must be larger */
        hb_ratelog (&self->log, S_LOG_APPLY, "could not rebuild replicated offset %llu "
                    "(do both brokers have the same --max-event-bytes?)",
                    (unsigned long long) offset);
        s_start_copy (self, self->epoch, offset, "an event it could not rebuild");
        return;
    }
    hp_str_t ikey = hp_envelope_idempotency_key (self->env);
    if (ikey.ptr && self->idem)
        hb_idem_claim (self->idem, ikey.ptr, ikey.len, offset, now, NULL);
    zmq_msg_t body;
    if (zmq_msg_init_size (&body, self->frame.len) != 0) {
        s_start_copy (self, self->epoch, offset, "out of memory");
        return;
    }
    memcpy (zmq_msg_data (&body), self->frame.data, self->frame.len);
    /* users, a channel or the broadcast stream: stored as the active did */
    size_t count = hb_streamkey_envelope (self->env, &self->skey, self->keys);
    hp_event_meta_t meta = hp_envelope_meta (self->env);   /* flags, receipt, key: as the active's */
    if (hb_history_append (*self->history, offset, hp_envelope_ttl (self->env), now, at, &meta,
                           &body, self->keys, count) != 0)
        self->metrics->history_store_failures++;
    zmq_msg_close (&body);
    self->last = offset;
    self->replicated++;
}

/* Reads the rest of an R message (the head is read): events, then an
 * empty terminator. Applied only by a passive copying that epoch. */
static void
s_on_events (hb_pair_t *self, const unsigned char *head, zmq_msg_t *msg)
{
    uint64_t epoch = s_get64 (head + 1);
    bool apply = self->fsm.state == HB_PAIR_PASSIVE && self->copying && !self->catching_up;
    if (apply && epoch != self->epoch)
        apply = false;                /* another epoch: its heartbeat restarts the copy */
    uint64_t now = hb_now_sec ();
    while (zmq_msg_more (msg)) {
        zmq_msg_close (msg);
        zmq_msg_init (msg);
        if (zmq_msg_recv (msg, self->in, 0) < 0)
            return;
        size_t len = zmq_msg_size (msg);
        if (apply && !self->catching_up && len > 16)
            s_apply (self, zmq_msg_data (msg), len, now);
    }
    if (apply && !self->catching_up) {
        hb_history_commit (*self->history, self->last);
        s_send_small (self, 'K', self->last);
    }
}

/* Reads the rest of a catch-up chunk (its head is p): applied by a passive
 * waiting for that request, in order, or from seq 0 (a new start). A chunk
 * out of order or malformed is dropped whole, unacknowledged: the active
 * then starts over at seq 0 after its stall timeout. */
static void
s_on_chunk (hb_pair_t *self, const unsigned char *p, size_t len, zmq_msg_t *msg)
{
    hb_catchup_head_t head;
    bool apply = hb_catchup_head_parse (p, len, &head) == 0
              && self->fsm.state == HB_PAIR_PASSIVE && self->catching_up
              && head.want == self->want && head.epoch == self->epoch
              && (head.seq == 0 || head.seq == self->rx_seq);
    if (apply && head.seq == 0) {
        if (s_new_history (self, head.epoch, head.floor) != 0)
            apply = false;
        else {
            self->last = head.floor;
            /* the active's window comes with the chunks ('k' frames):
             * keys held from before name another copy's events */
            if (self->idem)
                hb_idem_clear (self->idem);
            hp_info ("pair: catch-up %08x: receiving epoch %016llx "
                     "(everything up to offset %llu counts as lost)", self->want,
                     (unsigned long long) head.epoch, (unsigned long long) head.floor);
        }
    }
    uint64_t now = hb_now_sec (), bytes = len, events = 0;
    hb_catchup_tail_t tail;
    bool tail_seen = false, bad = false;
    while (zmq_msg_more (msg)) {
        zmq_msg_close (msg);
        zmq_msg_init (msg);
        if (zmq_msg_recv (msg, self->in, 0) < 0)
            return;
        if (!apply || bad)
            continue;
        const unsigned char *f = zmq_msg_data (msg);
        size_t n = zmq_msg_size (msg);
        bytes += n;
        if (n >= 1 && f[0] == 'T') {
            bad = tail_seen || zmq_msg_more (msg) || hb_catchup_tail_parse (f, n, &tail) != 0
               || tail.last < self->last;
            tail_seen = true;
            continue;
        }
        if (n >= 1 && f[0] == 'k') {
            int held = tail_seen ? -1 : self->idem ? hb_catchup_apply_keys (self->idem, f, n, now)
                                                   : 0;
            if (held < 0)
                bad = true;
            else
                self->rx.keys += (uint64_t) held;
            continue;
        }
        int rc = tail_seen ? -1 : hb_catchup_apply (*self->history, f, n, now, self->keys,
                                                    &self->last);
        if (rc < 0)
            bad = true;
        else
            events += (uint64_t) rc;
    }
    if (!apply)
        return;
    self->rx.events += events;
    self->rx.bytes += bytes;
    if (bad || !tail_seen) {
        self->rx.aborted++;
        self->rx_seq = UINT32_MAX;    /* only a new start (seq 0) from here */
        self->chunks_refused++;
        hb_ratelog (&self->log, S_LOG_CHUNK, "catch-up %08x: chunk %u is malformed: dropped, "
                    "waiting for the catch-up to start over", self->want, head.seq);
        return;
    }
    self->rx_seq = head.seq + 1;
    if (tail.final) {
        hb_history_lose_upto (*self->history, tail.floor);
        self->last = tail.last;
        self->catching_up = false;
        self->rx.completed++;
        hp_info ("pair: catch-up %08x: done, the copy holds epoch %016llx "
                 "up to offset %llu (%zu events); copying live batches", self->want,
                 (unsigned long long) self->epoch, (unsigned long long) self->last,
                 hb_history_events (*self->history));
    }
    hb_history_commit (*self->history, self->last);
    unsigned char ack[HB_CATCHUP_ACK_LEN];
    hb_catchup_ack_pack (ack, head.want, head.seq);
    zmq_send (self->out, ack, sizeof ack, ZMQ_DONTWAIT);
    if (tail.final) {
        self->want = 0;
        s_send_small (self, 'K', self->last);
    }
}

static void
s_on_ack (hb_pair_t *self, const unsigned char *p)
{
    if (s_get64 (p + 2) != self->epoch)
        return;
    uint64_t last = s_get64 (p + 10);
    if (last > self->peer_last)
        self->peer_last = last;
    if (self->lagging && self->peer_last >= self->sent_last)
        self->lagging = false;
}

/* Reads one message. Returns 1 when one was read, 0 when none, and sets
 * *result. */
static int
s_read_one (hb_pair_t *self, uint64_t now_ms, hb_pair_result_t *result)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, self->in, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return 0;
    }
    const unsigned char *p = zmq_msg_data (&msg);
    size_t len = zmq_msg_size (&msg);
    if (self->zap && !hb_zap_user_current (self->zap, zmq_msg_gets (&msg, "User-Id"),
                                           HB_ROLE_PAIR)) {
        /* its key left --curve-allow since it connected: not our partner
         * any more (the connection stays; each message is refused) */
        self->metrics->revoked_messages[HB_ZAP_PAIR]++;
        hb_ratelog (&self->log, S_LOG_REVOKED, "refused a pair message from a partner whose "
                    "key is no longer allowed (--curve-allow)");
    }
    else if (len >= 1 && p[0] == 'R' && len >= 9) {
        unsigned char head[9];
        memcpy (head, p, 9);
        self->peer_heard_ms = now_ms;
        self->fsm.peer_expiry = now_ms + self->cfg.timeout_ms;
        s_on_events (self, head, &msg);
    }
    else if (len == HB_CATCHUP_HEAD_LEN && p[0] == 'S') {
        unsigned char head[HB_CATCHUP_HEAD_LEN];
        memcpy (head, p, sizeof head);
        self->peer_heard_ms = now_ms;
        self->fsm.peer_expiry = now_ms + self->cfg.timeout_ms;
        s_on_chunk (self, head, sizeof head, &msg);
    }
    else if (len == HB_CATCHUP_ACK_LEN && p[0] == 'A') {
        if (self->fsm.state == HB_PAIR_ACTIVE)
            hb_catchup_tx_ack (self->tx, p, len, now_ms);
    }
    else if (len == S_HEARTBEAT_LEN && p[0] == 'H') {
        hb_pair_result_t r = s_on_heartbeat (self, p, now_ms);
        if (r == HB_PAIR_FATAL)
            *result = r;
    }
    else if (len == 18 && p[0] == 'K') {
        self->peer_heard_ms = now_ms;
        self->fsm.peer_expiry = now_ms + self->cfg.timeout_ms;
        s_on_ack (self, p);
    }
    else
        hb_ratelog (&self->log, S_LOG_LINK, "ignored a pair message of %zu bytes", len);
    while (zmq_msg_more (&msg)) {     /* whatever was not consumed */
        zmq_msg_close (&msg);
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, self->in, 0) < 0)
            break;
    }
    zmq_msg_close (&msg);
    return 1;
}

/* Whether this broker did not run for so long (SIGSTOP, a paused VM, swap)
 * that its peer may have counted it gone since its last heartbeat. */
static bool
s_stalled (const hb_pair_t *self, uint64_t now_ms)
{
    return self->heartbeat_ms
        && now_ms - self->heartbeat_ms + S_HEARTBEAT_MS >= self->cfg.timeout_ms;
}

/* After a stall, hear before acting: for one timeout this broker reads only
 * the pair link (every heartbeat its peer queued meanwhile, stale or not)
 * and sends nothing, so that a peer that took over on a vote is heard
 * before anything is served or announced. An active that hears an active
 * peer is superseded (it exits with status 3, whatever its role: the peer
 * served while it did not). Blocks for up to the timeout. */
static void
s_hold (hb_pair_t *self, uint64_t now_ms)
{
    hp_warn ("pair: this %s broker did not run for %llu ms (stopped?): "
             "hearing its peer for %llu ms before it acts",
             hb_pair_state_name (self->fsm.state),
             (unsigned long long) (now_ms - self->heartbeat_ms),
             (unsigned long long) self->cfg.timeout_ms);
    self->holding = true;
    uint64_t until = now_ms + self->cfg.timeout_ms;
    for (uint64_t now = now_ms; now < until && !self->superseded; now = s_now_ms ()) {
        zmq_pollitem_t item = { self->in, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (until - now)) < 0 && zmq_errno () != EINTR)
            break;
        hb_pair_result_t ignored = HB_PAIR_OK;
        while (!self->superseded && s_read_one (self, s_now_ms (), &ignored))
            ;
    }
    self->holding = false;
    self->heartbeat_ms = 0;           /* the next turn announces us at once */
    if (self->superseded)
        hp_warn ("pair: the peer took over while this broker was "
                 "stopped: yielding");
}

bool
hb_pair_superseded (const hb_pair_t *self)
{
    return self->superseded;
}

hb_pair_result_t
hb_pair_handle (hb_pair_t *self, uint64_t now_ms)
{
    hb_pair_result_t result = HB_PAIR_OK;
    if (s_stalled (self, now_ms))
        s_hold (self, now_ms);
    if (self->superseded)
        return HB_PAIR_FATAL;
    for (int n = 0; n < 1024 && s_read_one (self, now_ms, &result); n++)
        ;
    if (result == HB_PAIR_FATAL)
        return result;                /* announce nothing on the way out */
    if (self->fsm.state == HB_PAIR_ACTIVE) {
        /* the passive peer's catch-up: chunks while the window allows */
        if (self->peer_state != HB_PAIR_PASSIVE || now_ms >= self->peer_heard_ms + self->cfg.timeout_ms)
            hb_catchup_tx_cancel (self->tx, *self->history);
        else if (hb_catchup_tx_send (self->tx, *self->history, self->out, self->epoch, self->last,
                                     hb_now_sec (), now_ms, self->cfg.timeout_ms) == 1) {
            /* the live batches follow the last chunk: not waited for until
             * the passive acknowledged everything up to them */
            self->lagging = true;
            self->sent_last = self->last;
        }
    }
    if (now_ms >= self->heartbeat_ms + S_HEARTBEAT_MS) {
        self->heartbeat_ms = now_ms;
        s_send_small (self, 'H', self->last);
    }
    return result;
}

bool
hb_pair_vote (hb_pair_t *self, uint64_t now_ms)
{
    hb_pair_state_t before = self->fsm.state;
    if (hb_pair_fsm_event (&self->fsm, HB_PAIR_CLIENT_REQUEST, now_ms, s_in_step (self))
        != HB_PAIR_OK)
        return false;
    if (self->fsm.state != HB_PAIR_ACTIVE)
        return false;
    if (before == HB_PAIR_PASSIVE) {
        self->took_over = true;
        self->takeovers++;
        hp_warn ("pair: peer silent for %llu ms and a client could not "
                 "reach it: taking over epoch %016llx after offset %llu",
                 (unsigned long long) self->cfg.timeout_ms, (unsigned long long) self->epoch,
                 (unsigned long long) self->last);
    }
    else
        hp_info ("pair: active alone (no peer heard for %llu ms)",
                 (unsigned long long) self->cfg.timeout_ms);
    return true;
}

bool
hb_pair_refuse (hb_pair_t *self, void *sock)
{
    zmq_msg_t frames[S_FRAMES_MAX];
    size_t count = 0;
    for (;;) {
        zmq_msg_t *msg = &frames[count < S_FRAMES_MAX ? count : S_FRAMES_MAX - 1];
        if (count >= S_FRAMES_MAX)
            zmq_msg_close (msg);
        zmq_msg_init (msg);
        if (zmq_msg_recv (msg, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (msg);
            if (count == 0)
                return false;
            break;
        }
        if (count < S_FRAMES_MAX)
            count++;
        if (!zmq_msg_more (msg))
            break;
    }
    /* the envelope back, the request replaced by the answer */
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    const char *state = hb_pair_state_name (self->fsm.state);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "error", 5);
    msgpack_pack_str_with_body (&pk, "passive", 7);
    msgpack_pack_str_with_body (&pk, "state", 5);
    msgpack_pack_str_with_body (&pk, state, strlen (state));
    for (size_t i = 0; i + 1 < count; i++)
        if (zmq_msg_send (&frames[i], sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            zmq_msg_close (&frames[i]);
    if (count >= 2)
        zmq_send (sock, sbuf.data, sbuf.size, ZMQ_DONTWAIT);
    if (count)
        zmq_msg_close (&frames[count - 1]);
    msgpack_sbuffer_destroy (&sbuf);
    self->metrics->control_requests++;
    return true;
}

/* --- the active's side: the router's replication hooks -------------------- */

static bool
s_peer_copies (const hb_pair_t *self, uint64_t now_ms)
{
    return self->peer_state == HB_PAIR_PASSIVE
        && now_ms < self->peer_heard_ms + self->cfg.timeout_ms
        && hb_catchup_tx_live (self->tx, self->peer_want);
}

void
hb_pair_add (void *ctx, uint64_t offset, uint64_t at, const char *bytes, size_t len)
{
    hb_pair_t *self = ctx;
    self->last = offset;
    if (!self->batch_open) {
        if (!s_peer_copies (self, s_now_ms ()))
            return;
        unsigned char head[9];
        head[0] = 'R';
        s_put64 (head + 1, self->epoch);
        if (zmq_send (self->out, head, sizeof head, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return;                   /* not connected: the copy will start over */
        self->batch_open = true;
    }
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, 16 + len) != 0)
        return;
    s_put64 (zmq_msg_data (&msg), offset);
    s_put64 ((unsigned char *) zmq_msg_data (&msg) + 8, at);
    memcpy ((char *) zmq_msg_data (&msg) + 16, bytes, len);
    if (zmq_msg_send (&msg, self->out, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&msg);
    self->sent_last = offset;
    self->sent++;
}

void
hb_pair_flush (void *ctx)
{
    hb_pair_t *self = ctx;
    /* stopped between the turn's heartbeat and here: the batch may belong
     * to a broker a takeover has replaced (the caller asks
     * hb_pair_superseded before publishing it) */
    if (s_stalled (self, s_now_ms ()))
        s_hold (self, s_now_ms ());
    if (!self->batch_open || self->superseded)
        return;
    self->batch_open = false;
    zmq_send (self->out, "", 0, ZMQ_DONTWAIT);
    if (self->lagging)
        return;
    /* wait for the ack: what we publish next is then in the peer's copy */
    uint64_t start = s_now_ms (), limit = self->cfg.timeout_ms / 2;
    for (;;) {
        if (self->peer_epoch == self->epoch && self->peer_last >= self->sent_last)
            return;
        uint64_t now = s_now_ms ();
        if (s_stalled (self, now)) {
            s_hold (self, now);       /* stopped while waiting */
            if (self->superseded)
                return;
        }
        if (now - start >= limit || !s_peer_copies (self, now))
            break;
        zmq_pollitem_t item = { self->in, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (limit - (now - start))) < 0 && zmq_errno () != EINTR)
            break;
        hb_pair_result_t ignored = HB_PAIR_OK;
        while (s_read_one (self, s_now_ms (), &ignored))
            ;
    }
    self->lagging = true;
    self->ack_timeouts++;
    hb_ratelog (&self->log, S_LOG_LINK, "the passive peer did not acknowledge offset %llu "
                "within %llu ms: serving without waiting until it catches up",
                (unsigned long long) self->sent_last, (unsigned long long) limit);
}

void
hb_pair_set_idempotency (hb_pair_t *self, hb_idem_t *idem)
{
    self->idem = idem;
    hb_catchup_tx_set_idem (self->tx, idem);
}

void
hb_pair_set_zap (hb_pair_t *self, hb_zap_t *zap)
{
    self->zap = zap;
}

void
hb_pair_gauges (const void *ctx, hb_gauges_t *out)
{
    const hb_pair_t *self = ctx;
    out->pair_state = self->fsm.state;
    bool heard = self->peer_state && s_now_ms () < self->peer_heard_ms + self->cfg.timeout_ms;
    out->pair_peer_state = heard ? self->peer_state : 0;
    out->pair_lag = self->peer_epoch == self->epoch && self->last > self->peer_last
                  ? self->last - self->peer_last : 0;
    out->pair_takeovers = self->takeovers;
    out->pair_sent = self->sent;
    out->pair_copied = self->replicated;
    out->pair_ack_timeouts = self->ack_timeouts;
    out->pair_copy_restarts = self->restarts;
    const hb_catchup_stats_t *tx = hb_catchup_tx_stats (self->tx);
    if (self->fsm.state == HB_PAIR_ACTIVE)
        out->pair_catchup_state = hb_catchup_tx_state (self->tx);
    else
        out->pair_catchup_state = self->catching_up ? HB_CATCHUP_RUNNING
                                : self->copying ? HB_CATCHUP_DONE : HB_CATCHUP_NONE;
    out->pair_catchup_events = tx->events + self->rx.events;
    out->pair_catchup_bytes = tx->bytes + self->rx.bytes;
    out->pair_catchup_keys = tx->keys + self->rx.keys;
    out->pair_catchup_completed = tx->completed + self->rx.completed;
    out->pair_catchup_aborted = tx->aborted + self->rx.aborted;
    out->pair_catchup_refused = self->chunks_refused;
}
