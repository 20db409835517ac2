/* queue.h -- a connection's bounded FIFO of outgoing frame references. */
#ifndef HERALD_GW_QUEUE_H
#define HERALD_GW_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "blob.h"

typedef struct gw_queue gw_queue_t;

/* An empty queue refusing to hold more than max_bytes of payload. Allocated
 * only when a connection first has something to send. NULL on OOM. */
gw_queue_t *gw_queue_new (size_t max_bytes);

/* Releases every held reference and frees the queue; nulls *self_p. */
void gw_queue_destroy (gw_queue_t **self_p);

/* Appends a reference, taking ownership of *blob_p (nulled on success).
 * Returns 0, or -1 when the byte bound would be passed or memory ran out;
 * the caller keeps its reference then. */
int gw_queue_push (gw_queue_t *self, gw_blob_t **blob_p);

/* Appends a resume replay frame (one reference, this queue's alone) without
 * the byte bound: a replay is bounded by the broker's per-user history, and a
 * client must be able to resume from a full one. Replay bytes still queued
 * do not count against the bound for later pushes. Returns 0, or -1 on out
 * of memory (the caller keeps its reference then). */
int gw_queue_push_replay (gw_queue_t *self, gw_blob_t **blob_p);

/* The oldest frame without removing it, or NULL when empty. */
gw_blob_t *gw_queue_peek (const gw_queue_t *self);

/* Removes the oldest frame and returns its reference (caller owns it), or
 * NULL when empty. */
gw_blob_t *gw_queue_pop (gw_queue_t *self);

size_t gw_queue_count (const gw_queue_t *self);
size_t gw_queue_bytes (const gw_queue_t *self);

/* Shrinks the ring's storage back to its initial size when it is empty and
 * grew past it, so a burst does not leave a big idle allocation behind. */
void gw_queue_compact (gw_queue_t *self);

#endif
