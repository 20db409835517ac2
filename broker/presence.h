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

/* Forgets every user (the publish socket was re-created: its peers
 * subscribe again). Returns 0, or -1 on out of memory (the set is kept). */
int hb_presence_clear (hb_presence_t *self);

/* Marks a user online (idempotent). hash is hb_hash (user, len). Returns 0,
 * or -1 when the set is full or memory ran out; the refusal is counted and
 * the user's hash kept aside (hb_presence_overflow) until its unsubscribe
 * or a later add that fits: until then hb_presence_exact says false. */
int hb_presence_add (hb_presence_t *self, uint64_t hash, const char *user, size_t len);

/* Marks a user offline (idempotent); a refused user leaves the overflow. */
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
/* Refused users still subscribed (as far as the set can tell). */
size_t   hb_presence_overflow (const hb_presence_t *self);
/* True while no refused user is still subscribed, i.e. "offline" here
 * means no gateway subscribes (the router only skips publishing to
 * offline users then). Comes back once the overflow drains; never again
 * if the overflow itself (as large as the set) ever filled. */
bool     hb_presence_exact (const hb_presence_t *self);

#endif
