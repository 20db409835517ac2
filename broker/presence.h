/* presence.h -- the set of users whose topic some gateway subscribes to. */
#ifndef HERALD_BROKER_PRESENCE_H
#define HERALD_BROKER_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fed from the XPUB socket's subscription messages. ZeroMQ passes every
 * subscribe (verbose mode) but an unsubscribe only when the last subscriber
 * of a topic leaves, so a plain set is exact: no reference counts. */
typedef struct hb_presence hb_presence_t;

/* A set of at most max_users. NULL on out of memory. */
hb_presence_t *hb_presence_new (size_t max_users);
void hb_presence_destroy (hb_presence_t **self_p);

/* Marks a user online (idempotent). hash is hb_hash (user, len). Returns 0,
 * or -1 when the set is full or memory ran out; the refusal is counted and
 * from then on hb_presence_exact says false. */
int hb_presence_add (hb_presence_t *self, uint64_t hash, const char *user, size_t len);

/* Marks a user offline (idempotent). */
void hb_presence_remove (hb_presence_t *self, uint64_t hash, const char *user, size_t len);

bool hb_presence_online (const hb_presence_t *self, uint64_t hash, const char *user, size_t len);

/* The offset of the last event routed to an online user since they came
 * online (0 at first), for the router to read and advance; NULL when the
 * user is offline. Valid until the user is removed. */
uint64_t *hb_presence_last (const hb_presence_t *self, uint64_t hash, const char *user,
                            size_t len);

/* Starts loading what hb_presence_online (hash) will read (a hint). */
void hb_presence_prefetch (const hb_presence_t *self, uint64_t hash);

size_t   hb_presence_count (const hb_presence_t *self);
/* How many adds were refused since start. */
uint64_t hb_presence_refused (const hb_presence_t *self);
/* True while no add was ever refused, i.e. "offline" here means no gateway
 * subscribes (the router only skips publishing to offline users then). */
bool     hb_presence_exact (const hb_presence_t *self);

#endif
