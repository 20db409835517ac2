/* pair_catchup.h -- a passive joining late gets the active's history in bounded chunks, then live batches. */
#ifndef HERALD_BROKER_PAIR_CATCHUP_H
#define HERALD_BROKER_PAIR_CATCHUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "history.h"
#include "idempotency.h"

/* The idea of the ZeroMQ guide's Clone pattern (a snapshot, then the
 * updates after it) on the pair link's one ordered PUSH -> PULL stream:
 *
 *   - a passive whose copy is not the active's (it joined late, restarted
 *     without its data directory, or missed a batch) asks for a catch-up:
 *     its heartbeat carries a request number `want` (0: its copy is live);
 *   - the active walks its history oldest first with a cursor
 *     (hb_history_cursor_*) and sends chunks of at most
 *     HB_CATCHUP_CHUNK_BYTES, at most HB_CATCHUP_WINDOW unacknowledged,
 *     between its loop's other work (it keeps serving; nothing queues but
 *     the window). Meanwhile it sends the passive no live batch and does
 *     not wait for it;
 *   - events the cursor has not reached that leave history meanwhile (ttl,
 *     byte bound) are sent as lost marks for the streams that held them;
 *   - after the events, the idempotency window goes the same way (a
 *     cursor over its FIFO, oldest first, hb_idem_cursor_*): each key with
 *     its offset and age, so a producer's retry of an event accepted
 *     before the passive joined is still a duplicate after a takeover;
 *   - when both cursors have given everything, the last chunk carries the
 *     active's last offset and floor; the live batches that follow on the
 *     same socket start right after that offset (their keys travel in
 *     their envelopes): no gap, no duplicate.
 *
 * Wire (PROTOCOL.md, "Hot standby pair"; integers big-endian):
 *   chunk  [ 'S' epoch(8) want(4) seq(4) floor(8) ]  (floor: where the copy starts)
 *          [ 'e' offset(8) ttl(4) n(2) json_len(4) at(8) { klen(2) key lost(8) }*n json ]...
 *          (an event with wire flags is an 'm' record: after at, flags(1)
 *           receipt(2) key_len(1) key, then as 'e')
 *          [ 'k' { age(4) offset(8) klen(1) key }... ]  (idempotency keys, frames
 *                                                       of at most HB_CATCHUP_KEYS_FRAME)
 *          [ 'L' { lost(8) klen(2) key }... ]        (lost marks, at most one frame)
 *          [ 'T' final(1) last(8) floor(8) ]
 *   ack    [ 'A' want(4) seq(4) ]                      passive -> active, each chunk */

#define HB_CATCHUP_CHUNK_BYTES (256u << 10)   /* events per chunk, bytes (one may pass it) */
#define HB_CATCHUP_WINDOW      2              /* chunks sent and not yet acknowledged */
#define HB_CATCHUP_HEAD_LEN    25
#define HB_CATCHUP_TAIL_LEN    18
#define HB_CATCHUP_ACK_LEN     9
#define HB_CATCHUP_KEYS_FRAME  (16u << 10)    /* bytes of one 'k' frame, at most */

typedef enum {
    HB_CATCHUP_NONE = 0,     /* none asked (or the last one given up) */
    HB_CATCHUP_RUNNING = 1,  /* chunks on their way */
    HB_CATCHUP_DONE = 2,     /* the last chunk acknowledged: the copy is live */
} hb_catchup_state_t;

typedef struct {
    uint64_t events, bytes;  /* snapshot events and chunk bytes sent (active) or applied (passive) */
    uint64_t keys;           /* idempotency keys sent (active) or learned (passive) */
    uint64_t completed;      /* catch-ups finished */
    uint64_t aborted;        /* given up and started again (stall, overflow, a bad chunk) */
} hb_catchup_stats_t;

/* --- the active's side ------------------------------------------------- */

typedef struct hb_catchup_tx hb_catchup_tx_t;

hb_catchup_tx_t *hb_catchup_tx_new (void);
/* Stops the cursor on history (the one it was started on) first. */
void hb_catchup_tx_destroy (hb_catchup_tx_t **self_p, hb_history_t *history);

/* The window whose keys each catch-up carries after the events (used, not
 * owned; NULL: none). Set before the first want. */
void hb_catchup_tx_set_idem (hb_catchup_tx_t *self, hb_idem_t *idem);

/* The passive's heartbeat asked for want (0: its copy is live). A new
 * request (re)starts the cursor on history. */
void hb_catchup_tx_want (hb_catchup_tx_t *self, hb_history_t *history, uint32_t want,
                         uint64_t now_ms);

/* The passive is gone or no longer passive: the cursor stops. */
void hb_catchup_tx_cancel (hb_catchup_tx_t *self, hb_history_t *history);

/* Whether live batches may go to a passive asking for want: its catch-up
 * is done, or at least its last chunk is on its way. */
bool hb_catchup_tx_live (const hb_catchup_tx_t *self, uint32_t want);

/* Sends chunks on out while the window allows. last: the last offset
 * given; stall_ms: no ack for this long starts the catch-up over. Returns
 * 1 when the last chunk went out now (the caller's next batch is live),
 * else 0. */
int hb_catchup_tx_send (hb_catchup_tx_t *self, hb_history_t *history, void *out,
                        uint64_t epoch, uint64_t last, uint64_t now_sec, uint64_t now_ms,
                        uint64_t stall_ms);

/* An 'A' message. */
void hb_catchup_tx_ack (hb_catchup_tx_t *self, const unsigned char *p, size_t len,
                        uint64_t now_ms);

hb_catchup_state_t hb_catchup_tx_state (const hb_catchup_tx_t *self);
const hb_catchup_stats_t *hb_catchup_tx_stats (const hb_catchup_tx_t *self);

/* --- the passive's side ------------------------------------------------ */

typedef struct {
    uint64_t epoch, floor;
    uint32_t want, seq;
} hb_catchup_head_t;

typedef struct {
    bool     final;
    uint64_t last, floor;
} hb_catchup_tail_t;

/* 0, or -1: not a well-formed head / tail. */
int hb_catchup_head_parse (const unsigned char *p, size_t len, hb_catchup_head_t *out);
int hb_catchup_tail_parse (const unsigned char *p, size_t len, hb_catchup_tail_t *out);

/* Applies one record frame ('e', 'm' or 'L') to history: events appended (their
 * offsets above *last, which then moves), lost marks raised. keys: room for
 * HP_RECIPIENTS_MAX. Returns the events applied (0 or 1), or -1 for a
 * malformed record or one that does not follow *last (nothing more of the
 * chunk may be applied). */
int hb_catchup_apply (hb_history_t *history, const unsigned char *p, size_t len,
                      uint64_t now_sec, hb_key_t *keys, uint64_t *last);

/* Applies one 'k' frame to idem (hb_idem_learn, oldest first; now:
 * monotonic seconds). Returns the keys it held, or -1 for a malformed
 * frame (the keys before the fault stay learned). */
int hb_catchup_apply_keys (hb_idem_t *idem, const unsigned char *p, size_t len, uint64_t now);

/* Packs an ack for chunk seq of request want into out (HB_CATCHUP_ACK_LEN bytes). */
void hb_catchup_ack_pack (unsigned char *out, uint32_t want, uint32_t seq);

#endif
