/* queue.c -- a connection's bounded FIFO of outgoing frame references. */
#include "queue.h"

#include <assert.h>
#include <stdlib.h>

/* A ring of pointers; the capacity doubles on demand. The byte bound is the
 * real limit (every frame has a payload), the count cap only keeps the ring
 * arithmetic in range for absurd settings. */
#define GW_QUEUE_INITIAL 4
#define GW_QUEUE_COUNT_MAX (1u << 20)

struct gw_queue {
    gw_blob_t **ring;
    unsigned cap;
    unsigned head;     /* index of the oldest */
    unsigned count;
    size_t bytes;
    size_t replay_bytes;    /* part of bytes that the bound does not count */
    size_t max_bytes;
};

gw_queue_t *
gw_queue_new (size_t max_bytes)
{
    gw_queue_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->max_bytes = max_bytes;
    return self;
}

void
gw_queue_destroy (gw_queue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_queue_t *self = *self_p;
    while (self->count) {
        gw_blob_t *blob = gw_queue_pop (self);
        gw_blob_release (&blob);
    }
    free (self->ring);
    free (self);
    *self_p = NULL;
}

static int
s_grow (gw_queue_t *self)
{
    unsigned cap = self->cap ? self->cap * 2 : GW_QUEUE_INITIAL;
    if (cap > GW_QUEUE_COUNT_MAX)
        return -1;
    gw_blob_t **ring = malloc (cap * sizeof *ring);
    if (!ring)
        return -1;
    for (unsigned i = 0; i < self->count; i++)
        ring[i] = self->ring[(self->head + i) % self->cap];
    free (self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    return 0;
}

static int
s_append (gw_queue_t *self, gw_blob_t **blob_p)
{
    gw_blob_t *blob = *blob_p;
    if (self->count == self->cap && s_grow (self) != 0)
        return -1;
    self->ring[(self->head + self->count) % self->cap] = blob;
    self->count++;
    self->bytes += blob->len;
    if (blob->replay)
        self->replay_bytes += blob->len;
    *blob_p = NULL;
    return 0;
}

int
gw_queue_push (gw_queue_t *self, gw_blob_t **blob_p)
{
    if (self->bytes - self->replay_bytes + (*blob_p)->len > self->max_bytes)
        return -1;
    return s_append (self, blob_p);
}

int
gw_queue_push_replay (gw_queue_t *self, gw_blob_t **blob_p)
{
    assert ((*blob_p)->refs == 1);
    (*blob_p)->replay = true;
    return s_append (self, blob_p);
}

gw_blob_t *
gw_queue_peek (const gw_queue_t *self)
{
    return self && self->count ? self->ring[self->head] : NULL;
}

gw_blob_t *
gw_queue_pop (gw_queue_t *self)
{
    if (!self || !self->count)
        return NULL;
    gw_blob_t *blob = self->ring[self->head];
    self->head = (self->head + 1) % self->cap;
    self->count--;
    self->bytes -= blob->len;
    if (blob->replay)
        self->replay_bytes -= blob->len;
    return blob;
}

size_t
gw_queue_count (const gw_queue_t *self)
{
    return self ? self->count : 0;
}

size_t
gw_queue_bytes (const gw_queue_t *self)
{
    return self ? self->bytes : 0;
}

void
gw_queue_compact (gw_queue_t *self)
{
    if (self && self->count == 0 && self->cap > GW_QUEUE_INITIAL) {
        free (self->ring);
        self->ring = NULL;
        self->cap = 0;
        self->head = 0;
    }
}
