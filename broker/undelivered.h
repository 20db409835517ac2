/* undelivered.h -- notices to fallback workers for recipients with no live connection. */
#ifndef HERALD_BROKER_UNDELIVERED_H
#define HERALD_BROKER_UNDELIVERED_H

#include <stddef.h>
#include <stdint.h>
#include "envelope.h"
#include "metrics.h"

/* Sends, per offline recipient, one msgpack map
 *   {"event":str,"to":str,"data":any,"id":str|nil,"offset":uint,"reason":"offline"}
 * on a PUSH socket without ever blocking: with no worker, or the worker's
 * queue full, the notice is dropped and counted. */
typedef struct hb_undelivered hb_undelivered_t;

/* Uses (does not own) a bound PUSH socket; counts into metrics. max_bytes
 * bounds one notice; max_queued_bytes all notices sent and not yet written
 * out or dropped by ZeroMQ (past it a notice is dropped and counted in
 * undelivered_over_bytes). NULL on out of memory. The object may be
 * destroyed before the socket is closed: the byte count it shares with
 * queued notices lives until the last of them is freed. */
hb_undelivered_t *hb_undelivered_new (void *push, hb_metrics_t *metrics, size_t max_bytes,
                                      size_t max_queued_bytes);

/* The PUSH socket is now push (the broker re-created it); the caller owns both. */
void hb_undelivered_set_push (hb_undelivered_t *self, void *push);
void hb_undelivered_destroy (hb_undelivered_t **self_p);

/* Starts a new event; the envelope must stay decoded until the last send.
 * The shared parts are packed on the first send only. */
void hb_undelivered_begin (hb_undelivered_t *self, const hp_envelope_t *env, uint64_t offset);

/* Sends the notice for one recipient of the current event. */
void hb_undelivered_send (hb_undelivered_t *self, const char *user, size_t len);

/* Bytes of notices sent and not yet freed by ZeroMQ (any thread's view). */
size_t hb_undelivered_queued_bytes (const hb_undelivered_t *self);

#endif
