/* refusals.h -- the keys a bounded set refused, followed until they leave, so the set knows when it is exact again. */
#ifndef HERALD_BROKER_REFUSALS_H
#define HERALD_BROKER_REFUSALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set built from XPUB subscriptions (presence of users, of channel
 * topics) refuses entries when it is full. Each refused key is kept here,
 * by its 64-bit keyed hash only, until its unsubscribe arrives: while any
 * is held, "not in the set" may be wrong. ZeroMQ reports an unsubscribe
 * only for a topic it held and only once its last subscriber left, so each
 * refused key's unsubscribe arrives exactly once; counting refusals alone
 * could never tell when the last one went. At most max keys (as many as
 * the set): past that, or without memory, exactness is lost until
 * hb_refusals_forget. Two refused keys with one hash would make exactness
 * return early; the hash is SipHash under a random key, so nobody can pick
 * them. */
typedef struct hb_refusals hb_refusals_t;

/* NULL without memory. */
hb_refusals_t *hb_refusals_new (size_t max);
void hb_refusals_destroy (hb_refusals_t **self_p);

/* One refusal: counted, and the key held (once) until hb_refusals_remove. */
void hb_refusals_add (hb_refusals_t *self, uint64_t hash);
/* The key left, or was taken into the set after all (idempotent). */
void hb_refusals_remove (hb_refusals_t *self, uint64_t hash);
/* Drops every held key and the lost mark (the set was cleared: a new
 * subscription stream starts); keeps the count. 0, or -1 without memory
 * (nothing changed). */
int hb_refusals_forget (hb_refusals_t *self);

uint64_t hb_refusals_total (const hb_refusals_t *self);   /* refusals since start */
size_t   hb_refusals_held (const hb_refusals_t *self);    /* refused keys still subscribed */
/* True while no refused key may still be subscribed. */
bool     hb_refusals_exact (const hb_refusals_t *self);

#endif
