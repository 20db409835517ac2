/* confirm.h -- confirmed publishing for herald-push: the control op publish, events in flight, retries and pair failover. */
#ifndef HERALD_TOOLS_CONFIRM_H
#define HERALD_TOOLS_CONFIRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "curve.h"

/* Events in flight at once, and their bytes (at least one event is always
 * admitted, whatever its size). */
#define HT_CONFIRM_WINDOW      32
#define HT_CONFIRM_WINDOW_BYTES (4 * 1024 * 1024)
/* An attempt unanswered this long is sent again, to the other broker of a
 * pair (a passive's ack wait is at most half its --pair-timeout-ms, 1 s by
 * default, before the active answers). */
#define HT_CONFIRM_ATTEMPT_MS  1500
/* A passive broker's refusal sends us to the other endpoint unless that one
 * was silent this recently (then the passive is about to take over: our
 * requests are its vote, and we ask it again after HT_CONFIRM_RETRY_MS). */
#define HT_CONFIRM_STAY_MS     5000
#define HT_CONFIRM_RETRY_MS    100

typedef struct ht_confirm ht_confirm_t;

typedef enum {
    HT_CONFIRM_OK = 0,        /* committed: offset, epoch, duplicate */
    HT_CONFIRM_REFUSED,       /* the broker refused it: error (and reason) */
    HT_CONFIRM_UNCONFIRMED,   /* no answer within give_up_ms: maybe accepted, maybe not */
} ht_confirm_result_t;

/* What became of one event (strings valid during the callback only). */
typedef struct {
    ht_confirm_result_t result;
    long        line;          /* as given to ht_confirm_add */
    const char *key;           /* its idempotency key */
    uint64_t    offset;        /* OK: the broker's offset (the first one, for a duplicate) */
    const char *epoch;         /* OK: 16 hex digits */
    bool        duplicate;     /* OK: the key was accepted before (this or an earlier run) */
    const char *error;         /* REFUSED: "invalid", "forbidden", "revoked", ... */
    const char *reason;        /* REFUSED: the envelope rule for "invalid", else "" */
} ht_confirm_outcome_t;

typedef void (ht_confirm_fn) (void *arg, const ht_confirm_outcome_t *outcome);

/* endpoints: "EP" or "EP1,EP2" (a pair, primary first). curve (may be NULL;
 * not owned) makes each socket a CURVE client. An event not answered within
 * give_up_ms of its first send is reported UNCONFIRMED. fn is called once
 * per event added. NULL with a message in err on a bad list or a socket
 * error. ctx is not owned. */
ht_confirm_t *ht_confirm_new (void *ctx, const char *endpoints, const hp_curve_t *curve,
                              uint64_t give_up_ms, ht_confirm_fn *fn, void *arg,
                              char *err, size_t errlen);
void ht_confirm_destroy (ht_confirm_t **self_p);

/* True when another event fits in the window. */
bool ht_confirm_room (const ht_confirm_t *self);
/* Events added and not yet reported. */
size_t ht_confirm_pending (const ht_confirm_t *self);

/* Sends the control request bytes (a msgpack map with "op":"publish" and
 * "idempotency_key":key, which every retry repeats), copied. Call only when
 * ht_confirm_room. 0, or -1 out of memory. */
int ht_confirm_add (ht_confirm_t *self, const char *bytes, size_t len, long line,
                    const char *key, uint64_t now_ms);

/* The socket answers arrive on (for zmq_poll, ZMQ_POLLIN); it changes on
 * failover, so ask again each turn. */
void *ht_confirm_socket (const ht_confirm_t *self);

/* Milliseconds until the next retry or timeout is due (-1: nothing in flight). */
long ht_confirm_wait_ms (const ht_confirm_t *self, uint64_t now_ms);

/* Reads every answer waiting, reports what they settle, then sends again
 * what is due (after a timeout, a passive's or busy refusal) and reports
 * what gave up. Call after each poll. */
void ht_confirm_service (ht_confirm_t *self, uint64_t now_ms);

/* A monotonic clock in milliseconds. */
uint64_t ht_confirm_now_ms (void);

#endif
