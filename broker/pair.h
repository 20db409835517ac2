/* pair.h -- the hot standby pair's link: heartbeats, replication to the passive, its acks. */
#ifndef HERALD_BROKER_PAIR_H
#define HERALD_BROKER_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "curve.h"
#include "history.h"
#include "idempotency.h"
#include "metrics.h"
#include "pair_fsm.h"
#include "sockmon.h"
#include "zap.h"

/* Each broker binds a PULL (--pair-bind) and connects a PUSH to its
 * partner's (--pair-connect). Messages (PROTOCOL.md, "Hot standby pair"):
 *   H  heartbeat [ 'H' state(1) epoch(8) last(8) ]           every 100 ms
 *   R  events    [ 'R' epoch(8) count(4) ][ offset(8) envelope ]...
 *   K  ack       [ 'K' epoch(8) last(8) ]
 * The active sends each batch of accepted envelopes with their offsets
 * before publishing any of it and, while the passive is in step, waits for
 * its ack (hb_pair_flush): nothing a gateway saw is missing on the passive.
 * The passive rebuilds each frame from the envelope (the same code, so the
 * same bytes) into its own history. */
typedef struct hb_pair hb_pair_t;

/* Offsets a takeover skips past the highest one known: more than the
 * active can have given without an ack, so no offset that anyone may have
 * seen with another event is ever reused. */
#define HB_PAIR_OFFSET_SKIP ((uint64_t) 1 << 24)

typedef struct {
    bool        primary;
    const char *bind, *connect;
    uint64_t    timeout_ms;       /* peer silent this long: gone */
    size_t      max_event_bytes;
    size_t      history_events, history_bytes;   /* to start a copy over */
    uint64_t    stored_last;      /* --data-dir: the last offset of the stored epoch */
    bool        stored;           /* the history holds a --data-dir store's copy */
    const hp_curve_t *curve;      /* this broker's keys, or NULL: no CURVE */
    const char *partner_key;      /* with curve: the partner's public key (Z85) */
    hb_sockmon_t *sockmon;        /* watches the PULL from before its bind (its
                                   * backlog shed at EMFILE, sockmon.c), or NULL */
    hb_zap_t   *handshakes;       /* with CURVE: hears its failed handshakes, or NULL */
} hb_pair_config_t;

/* *history is the broker's history (empty, or rebuilt from its --data-dir
 * store: epoch and cfg->stored_last are the store's): a passive fills it,
 * and replaces it with a new empty one (emptying the store into the
 * peer's epoch) when it starts its copy over. NULL (logged) on failure to
 * bind/connect or memory. */
hb_pair_t *hb_pair_new (void *ctx, const hb_pair_config_t *cfg, hb_history_t **history,
                        hb_metrics_t *metrics, uint64_t epoch, uint64_t now_ms);
void hb_pair_destroy (hb_pair_t **self_p);

/* The PULL socket, to poll for input. */
void *hb_pair_socket (hb_pair_t *self);

/* Reads what the peer sent, sends a heartbeat when due. Returns HB_PAIR_OK
 * or HB_PAIR_FATAL (the caller exits). The state may have changed. */
hb_pair_result_t hb_pair_handle (hb_pair_t *self, uint64_t now_ms);

/* True once this broker found, after a stall (it did not run for about the
 * timeout: SIGSTOP, a paused VM), that its peer took over meanwhile: it must
 * publish nothing more and exit (hb_pair_handle returns HB_PAIR_FATAL). */
bool hb_pair_superseded (const hb_pair_t *self);

/* A control request is waiting on a broker that is not active: true when
 * it makes this broker active (the caller starts serving, then answers it),
 * false when it must be refused (hb_pair_refuse). */
bool hb_pair_vote (hb_pair_t *self, uint64_t now_ms);

/* Reads one control request from the ROUTER sock and answers it
 * {"error":"passive","state":S}. Returns false when none was waiting. */
bool hb_pair_refuse (hb_pair_t *self, void *sock);

hb_pair_state_t hb_pair_state (const hb_pair_t *self);
uint64_t hb_pair_epoch (const hb_pair_t *self);

/* Where a new active's offsets continue: after everything it holds or
 * heard of, plus HB_PAIR_OFFSET_SKIP after a takeover. */
uint64_t hb_pair_start_offset (const hb_pair_t *self);

/* The router's replication hooks (hb_router_set_replica): add queues one
 * accepted envelope with its accept time, flush sends the queue and, while the passive is in
 * step, waits for its ack (at most the timeout / 2; past it the active
 * serves alone until the passive catches up). */
void hb_pair_add (void *self, uint64_t offset, uint64_t at, const char *bytes, size_t len);
void hb_pair_flush (void *self);

/* The broker's idempotency window (used, not owned): a passive remembers
 * the key of each event it copies, so after a takeover a producer's retry
 * of a replicated event is answered as a duplicate, not routed twice. */
void hb_pair_set_idempotency (hb_pair_t *self, hb_idem_t *idem);

/* With CURVE: the broker's ZAP handler (used, not owned). Every pair
 * message is then checked against the current --curve-allow by its
 * connection's key: one from a partner whose certificate was removed (or
 * lost role pair) since it connected is dropped, counted in
 * herald_broker_revoked_messages_total{socket="pair"}. */
void hb_pair_set_zap (hb_pair_t *self, hb_zap_t *zap);

/* Fills the pair's fields of out (the router's gauges hook). */
void hb_pair_gauges (const void *self, hb_gauges_t *out);

#endif
