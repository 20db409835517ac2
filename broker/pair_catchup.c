/* pair_catchup.c -- a passive joining late gets the active's history in bounded chunks, then live batches.
 *
 * The active's side walks its history with the history's cursor and packs
 * chunks; the passive's side parses and applies them (pair.c owns when).
 * The wire is in pair_catchup.h. */
#include "pair_catchup.h"
#include "log.h"
#include "envelope.h"
#include "ratelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_LOG_ABORT 1
/* An event record's head: 'e' offset ttl n json_len at. An event with
 * meta (flags set) is an 'm' record: the same head, then flags (1),
 * receipt (2), key length (1) and the key, then the rest as in 'e'. */
#define S_EVENT_HEAD 27
#define S_META_HEAD  4

struct hb_catchup_tx {
    hb_catchup_state_t state;
    uint32_t  want;              /* the request being served */
    uint32_t  next_seq;          /* chunks sent */
    uint32_t  acked;             /* chunks acknowledged (the highest seq + 1) */
    bool      final_sent;
    uint32_t  final_seq;
    uint64_t  floor;             /* where the copy starts */
    uint64_t  progress_ms;       /* the last send or ack */
    bool      overflow;          /* lost marks outgrew their bound */
    hp_buf_t  lost;              /* pending lost marks, bounded */
    hp_buf_t  rec;               /* one 'e' record being packed */
    hb_key_t *keys;
    uint64_t *losts;
    hb_idem_t *idem;             /* the window the catch-up carries, or NULL */
    bool      keys_done;         /* its cursor gave every key for now */
    hp_buf_t  kbuf;              /* one 'k' frame being packed */
    hb_ratelog_t log;
    hb_catchup_stats_t stats;
};

static void
s_put16 (unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 8);
    p[1] = (unsigned char) v;
}

static void
s_put32 (unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static void
s_put64 (unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint32_t
s_get16 (const unsigned char *p)
{
    return (uint32_t) p[0] << 8 | p[1];
}

static uint32_t
s_get32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t
s_get64 (const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* --- the active's side ------------------------------------------------- */

hb_catchup_tx_t *
hb_catchup_tx_new (void)
{
    hb_catchup_tx_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->keys = malloc (HP_RECIPIENTS_MAX * sizeof *self->keys);
    self->losts = malloc (HP_RECIPIENTS_MAX * sizeof *self->losts);
    if (!self->keys || !self->losts) {
        free (self->keys);
        free (self->losts);
        free (self);
        return NULL;
    }
    hp_buf_init (&self->lost, HB_CATCHUP_CHUNK_BYTES);
    hp_buf_init (&self->rec, 0);     /* bounded by the event it packs */
    hp_buf_init (&self->kbuf, HB_CATCHUP_KEYS_FRAME);
    return self;
}

void
hb_catchup_tx_destroy (hb_catchup_tx_t **self_p, hb_history_t *history)
{
    if (!self_p || !*self_p)
        return;
    hb_catchup_tx_t *self = *self_p;
    hb_catchup_tx_cancel (self, history);
    hp_buf_free (&self->lost);
    hp_buf_free (&self->rec);
    hp_buf_free (&self->kbuf);
    free (self->keys);
    free (self->losts);
    free (self);
    *self_p = NULL;
}

/* The history's cursor passed on (or stepped over) an event it had not
 * given: the stream lost everything up to lost_upto. */
static void
s_on_lost (void *arg, const char *key, size_t len, uint64_t lost_upto)
{
    hb_catchup_tx_t *self = arg;
    unsigned char head[10];
    s_put64 (head, lost_upto);
    s_put16 (head + 8, (uint32_t) len);
    if (hp_buf_append (&self->lost, head, sizeof head) != 0
    ||  hp_buf_append (&self->lost, key, len) != 0)
        self->overflow = true;       /* history left faster than the chunks went */
}

void
hb_catchup_tx_set_idem (hb_catchup_tx_t *self, hb_idem_t *idem)
{
    self->idem = idem;
}

/* Both cursors stop (the history's, the window's). */
static void
s_cursors_stop (hb_catchup_tx_t *self, hb_history_t *history)
{
    if (history)
        hb_history_cursor_stop (history);
    if (self->idem)
        hb_idem_cursor_stop (self->idem);
}

static void
s_start (hb_catchup_tx_t *self, hb_history_t *history, uint32_t want, uint64_t now_ms)
{
    if (self->state == HB_CATCHUP_RUNNING && !self->final_sent)
        s_cursors_stop (self, history);
    self->floor = hb_history_cursor_start (history, s_on_lost, self);
    if (self->idem)
        hb_idem_cursor_start (self->idem);
    self->keys_done = !self->idem;
    self->state = HB_CATCHUP_RUNNING;
    self->want = want;
    self->next_seq = self->acked = 0;
    self->final_sent = false;
    self->overflow = false;
    self->progress_ms = now_ms;
    hp_buf_reset (&self->lost);
    hp_info ("pair: catch-up %08x: sending the history (%zu events) "
             "to the passive peer", want, hb_history_events (history));
}

void
hb_catchup_tx_want (hb_catchup_tx_t *self, hb_history_t *history, uint32_t want,
                    uint64_t now_ms)
{
    if (want == 0) {
        /* the passive's copy is live (or it went on with a stored copy) */
        if (self->state == HB_CATCHUP_RUNNING && !self->final_sent)
            hb_catchup_tx_cancel (self, history);
        return;
    }
    if (want != self->want || self->state == HB_CATCHUP_NONE)
        s_start (self, history, want, now_ms);
}

void
hb_catchup_tx_cancel (hb_catchup_tx_t *self, hb_history_t *history)
{
    if (self->state == HB_CATCHUP_RUNNING && !self->final_sent)
        s_cursors_stop (self, history);
    if (self->state == HB_CATCHUP_RUNNING)
        self->state = HB_CATCHUP_NONE;
}

bool
hb_catchup_tx_live (const hb_catchup_tx_t *self, uint32_t want)
{
    return want == 0 || (self->want == want && self->final_sent);
}

/* Packs one event into self->rec: 'e' offset ttl n json_len at {klen key lost}* json,
 * or, with meta, 'm' ... at flags receipt key_len key {klen key lost}* json. */
static int
s_pack_event (hb_catchup_tx_t *self, const hb_history_snap_t *snap)
{
    hp_buf_reset (&self->rec);
    unsigned char head[S_EVENT_HEAD];
    bool has_meta = snap->meta.flags != 0;
    head[0] = has_meta ? 'm' : 'e';
    s_put64 (head + 1, snap->offset);
    s_put32 (head + 9, snap->ttl);
    s_put16 (head + 13, (uint32_t) snap->n);
    s_put32 (head + 15, (uint32_t) snap->len);
    s_put64 (head + 19, snap->at);
    if (hp_buf_append (&self->rec, head, sizeof head) != 0)
        return -1;
    if (has_meta) {
        unsigned char m[S_META_HEAD];
        m[0] = snap->meta.flags;
        s_put16 (m + 1, snap->meta.receipt);
        m[3] = (unsigned char) snap->meta.key.len;
        if (hp_buf_append (&self->rec, m, sizeof m) != 0
        ||  (snap->meta.key.len
             && hp_buf_append (&self->rec, snap->meta.key.ptr, snap->meta.key.len) != 0))
            return -1;
    }
    for (size_t i = 0; i < snap->n; i++) {
        unsigned char klen[2], lost[8];
        s_put16 (klen, (uint32_t) self->keys[i].len);
        s_put64 (lost, self->losts[i]);
        if (hp_buf_append (&self->rec, klen, 2) != 0
        ||  hp_buf_append (&self->rec, self->keys[i].ptr, self->keys[i].len) != 0
        ||  hp_buf_append (&self->rec, lost, 8) != 0)
            return -1;
    }
    return hp_buf_append (&self->rec, snap->json, snap->len);
}

static int
s_send_frame (void *out, const void *bytes, size_t len, bool more)
{
    return zmq_send (out, bytes, len, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Sends one 'k' frame of the window's keys, oldest first, up to
 * HB_CATCHUP_KEYS_FRAME bytes (and at most room). Sets keys_done when the
 * cursor has none left for now. Returns the bytes sent (0: none). */
static size_t
s_send_keys (hb_catchup_tx_t *self, void *out, size_t room, uint64_t now_sec)
{
    size_t limit = room < HB_CATCHUP_KEYS_FRAME ? room : HB_CATCHUP_KEYS_FRAME;
    hp_buf_reset (&self->kbuf);
    hp_buf_append (&self->kbuf, "k", 1);
    uint64_t sent = 0;
    for (;;) {
        if (self->kbuf.len + 13 + HP_IDEMPOTENCY_KEY_MAX > limit && sent > 0)
            break;                    /* the next key might not fit: next frame */
        hb_idem_key_t k;
        if (!hb_idem_cursor_next (self->idem, now_sec, &k)) {
            self->keys_done = true;
            break;
        }
        unsigned char head[13];
        s_put32 (head, k.age > UINT32_MAX ? UINT32_MAX : (uint32_t) k.age);
        s_put64 (head + 4, k.offset);
        head[12] = (unsigned char) k.len;
        if (hp_buf_append (&self->kbuf, head, sizeof head) != 0
        ||  hp_buf_append (&self->kbuf, k.key, k.len) != 0) {
            self->overflow = true;    /* out of memory (the frame bound holds it): start over */
            return 0;
        }
        sent++;
    }
    if (sent == 0)
        return 0;
    s_send_frame (out, self->kbuf.data, self->kbuf.len, true);
    self->stats.keys += sent;
    return self->kbuf.len;
}

/* One chunk: the head, events up to the byte bound, then the window's
 * keys, the lost marks, the tail. Returns 1 when it was the last, 0 when
 * more follow, -1 when the socket did not take it (tried again next turn). */
static int
s_send_chunk (hb_catchup_tx_t *self, hb_history_t *history, void *out, uint64_t epoch,
              uint64_t last, uint64_t now_sec)
{
    unsigned char head[HB_CATCHUP_HEAD_LEN];
    head[0] = 'S';
    s_put64 (head + 1, epoch);
    s_put32 (head + 9, self->want);
    s_put32 (head + 13, self->next_seq);
    s_put64 (head + 17, self->floor);
    if (s_send_frame (out, head, sizeof head, true) != 0)
        return -1;                    /* not connected or full: nothing went */
    /* a multipart message whose first part was taken is taken whole */
    size_t bytes = sizeof head;
    bool events_done = false;
    while (bytes < HB_CATCHUP_CHUNK_BYTES) {
        if (events_done) {
            /* the keys: accepted up to now, so no later than the tail's last */
            if (self->keys_done || self->overflow)
                break;
            bytes += s_send_keys (self, out, HB_CATCHUP_CHUNK_BYTES - bytes, now_sec);
            continue;
        }
        hb_history_snap_t snap;
        if (!hb_history_cursor_next (history, now_sec, &snap, self->keys, self->losts)) {
            events_done = true;
            continue;
        }
        if (s_pack_event (self, &snap) != 0) {
            /* out of memory: not sent, so lost for its streams */
            for (size_t i = 0; i < snap.n; i++)
                s_on_lost (self, self->keys[i].ptr, self->keys[i].len,
                           self->losts[i] > snap.offset ? self->losts[i] : snap.offset);
            continue;
        }
        s_send_frame (out, self->rec.data, self->rec.len, true);
        bytes += self->rec.len;
        self->stats.events++;
    }
    if (self->lost.len) {
        char tag = 'L';
        zmq_msg_t msg;
        if (zmq_msg_init_size (&msg, self->lost.len + 1) == 0) {
            memcpy (zmq_msg_data (&msg), &tag, 1);
            memcpy ((char *) zmq_msg_data (&msg) + 1, self->lost.data, self->lost.len);
            bytes += self->lost.len + 1;
            if (zmq_msg_send (&msg, out, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                zmq_msg_close (&msg);
            hp_buf_reset (&self->lost);
        }
        else
            self->overflow = true;    /* the marks could not go: start over */
    }
    /* the last chunk only when both cursors are through in this one (the
     * events and keys of this loop turn are all in it) and nothing was
     * left out (an overflow starts the catch-up over) */
    bool final = events_done && self->keys_done && !self->overflow;
    unsigned char tail[HB_CATCHUP_TAIL_LEN];
    tail[0] = 'T';
    tail[1] = final;
    s_put64 (tail + 2, last);
    /* users without a record on the active lost up to its floor */
    s_put64 (tail + 10, final ? hb_history_floor (history) : 0);
    s_send_frame (out, tail, sizeof tail, false);
    bytes += sizeof tail;
    self->stats.bytes += bytes;
    return final ? 1 : 0;
}

int
hb_catchup_tx_send (hb_catchup_tx_t *self, hb_history_t *history, void *out,
                    uint64_t epoch, uint64_t last, uint64_t now_sec, uint64_t now_ms,
                    uint64_t stall_ms)
{
    if (self->state != HB_CATCHUP_RUNNING || self->final_sent)
        return 0;
    bool stalled = self->next_seq > self->acked && now_ms - self->progress_ms >= stall_ms;
    if (self->overflow || stalled) {
        self->stats.aborted++;
        hb_ratelog (&self->log, S_LOG_ABORT, "pair: catch-up %08x: %s: starting it over",
                    self->want, self->overflow ? "history left faster than it could be sent"
                                               : "the passive acknowledged nothing in time");
        s_start (self, history, self->want, now_ms);
    }
    while (self->next_seq - self->acked < HB_CATCHUP_WINDOW) {
        int rc = s_send_chunk (self, history, out, epoch, last, now_sec);
        if (rc < 0)
            return 0;
        self->progress_ms = now_ms;
        if (rc == 1) {
            self->final_sent = true;
            self->final_seq = self->next_seq++;
            s_cursors_stop (self, history);
            return 1;
        }
        self->next_seq++;
    }
    return 0;
}

void
hb_catchup_tx_ack (hb_catchup_tx_t *self, const unsigned char *p, size_t len, uint64_t now_ms)
{
    if (len != HB_CATCHUP_ACK_LEN || self->state != HB_CATCHUP_RUNNING
    ||  s_get32 (p + 1) != self->want)
        return;
    uint32_t seq = s_get32 (p + 5);
    if (seq >= self->next_seq)
        return;
    if (seq + 1 > self->acked)
        self->acked = seq + 1;
    self->progress_ms = now_ms;
    if (self->final_sent && seq == self->final_seq) {
        self->state = HB_CATCHUP_DONE;
        self->stats.completed++;
        hp_info ("pair: catch-up %08x: done (%u chunks); the passive "
                 "copies live batches", self->want, self->next_seq);
    }
}

hb_catchup_state_t
hb_catchup_tx_state (const hb_catchup_tx_t *self)
{
    return self->state;
}

const hb_catchup_stats_t *
hb_catchup_tx_stats (const hb_catchup_tx_t *self)
{
    return &self->stats;
}

/* --- the passive's side ------------------------------------------------ */

int
hb_catchup_head_parse (const unsigned char *p, size_t len, hb_catchup_head_t *out)
{
    if (len != HB_CATCHUP_HEAD_LEN || p[0] != 'S')
        return -1;
    out->epoch = s_get64 (p + 1);
    out->want = s_get32 (p + 9);
    out->seq = s_get32 (p + 13);
    out->floor = s_get64 (p + 17);
    return 0;
}

int
hb_catchup_tail_parse (const unsigned char *p, size_t len, hb_catchup_tail_t *out)
{
    if (len != HB_CATCHUP_TAIL_LEN || p[0] != 'T' || p[1] > 1)
        return -1;
    out->final = p[1] == 1;
    out->last = s_get64 (p + 2);
    out->floor = s_get64 (p + 10);
    return 0;
}

static int
s_apply_lost (hb_history_t *history, const unsigned char *p, size_t len)
{
    size_t pos = 1;
    while (pos < len) {
        if (len - pos < 10)
            return -1;
        uint64_t lost = s_get64 (p + pos);
        size_t klen = s_get16 (p + pos + 8);
        pos += 10;
        if (klen == 0 || len - pos < klen)
            return -1;
        const char *key = (const char *) p + pos;
        hb_key_t k = { key, klen, hb_hash (key, klen) };
        hb_history_raise_lost (history, &k, lost);
        pos += klen;
    }
    return 0;
}

int
hb_catchup_apply (hb_history_t *history, const unsigned char *p, size_t len,
                  uint64_t now_sec, hb_key_t *keys, uint64_t *last)
{
    if (len >= 1 && p[0] == 'L')
        return s_apply_lost (history, p, len);
    if (len < S_EVENT_HEAD || (p[0] != 'e' && p[0] != 'm'))
        return -1;
    uint64_t offset = s_get64 (p + 1);
    uint32_t ttl = s_get32 (p + 9);
    size_t n = s_get16 (p + 13);
    size_t json_len = s_get32 (p + 15);
    uint64_t at = s_get64 (p + 19);
    if (offset <= *last || n == 0 || n > HP_RECIPIENTS_MAX || ttl == 0)
        return -1;
    size_t start = S_EVENT_HEAD;      /* where the stream keys begin */
    hp_event_meta_t meta = hp_event_meta (0, NULL, 0);
    if (p[0] == 'm') {
        if (len - start < S_META_HEAD)
            return -1;
        uint8_t flags = p[start];
        uint32_t receipt = s_get16 (p + start + 1);
        size_t key_len = p[start + 3];
        start += S_META_HEAD;
        if (len - start < key_len || receipt > HP_RECEIPT_MAX
        ||  (key_len && !hp_key_valid ((const char *) p + start, key_len)))
            return -1;
        meta = hp_event_meta ((uint16_t) receipt, (const char *) p + start, key_len);
        if (meta.flags != flags)
            return -1;                /* flags say what receipt and key are */
        start += key_len;
    }
    /* the keys: checked whole before anything is applied */
    size_t pos = start;
    for (size_t i = 0; i < n; i++) {
        if (len - pos < 2)
            return -1;
        size_t klen = s_get16 (p + pos);
        if (klen == 0 || len - pos - 2 < klen + 8)
            return -1;
        const char *key = (const char *) p + pos + 2;
        keys[i] = (hb_key_t) { key, klen, hb_hash (key, klen) };
        pos += 2 + klen + 8;
    }
    if (len - pos != json_len || json_len == 0)
        return -1;
    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, json_len) != 0)
        return -1;
    memcpy (zmq_msg_data (&frame), p + pos, json_len);
    int rc = hb_history_append (history, offset, ttl, now_sec, at, &meta, &frame, keys, n);
    zmq_msg_close (&frame);
    *last = offset;
    /* each stream's lost_upto on the active when the cursor gave it */
    pos = start;
    for (size_t i = 0; i < n; i++) {
        size_t klen = keys[i].len;
        hb_history_raise_lost (history, &keys[i], s_get64 (p + pos + 2 + klen));
        pos += 2 + klen + 8;
    }
    (void) rc;                        /* out of memory: the history marked it lost */
    return 1;
}

int
hb_catchup_apply_keys (hb_idem_t *idem, const unsigned char *p, size_t len, uint64_t now)
{
    if (len < 1 || p[0] != 'k')
        return -1;
    size_t pos = 1;
    int held = 0;
    while (pos < len) {
        if (len - pos < 13)
            return -1;
        uint64_t age = s_get32 (p + pos), offset = s_get64 (p + pos + 4);
        size_t klen = p[pos + 12];
        pos += 13;
        if (klen == 0 || klen > HP_IDEMPOTENCY_KEY_MAX || len - pos < klen)
            return -1;
        if (hb_idem_learn (idem, (const char *) p + pos, klen, offset, age, now))
            held++;
        pos += klen;
    }
    return held;
}

void
hb_catchup_ack_pack (unsigned char *out, uint32_t want, uint32_t seq)
{
    out[0] = 'A';
    s_put32 (out + 1, want);
    s_put32 (out + 5, seq);
}
