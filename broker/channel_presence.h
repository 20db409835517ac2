/* channel_presence.h -- who is in each channel: (user, connection) entries from the gateways' p: topics. */
#ifndef HERALD_BROKER_CHANNEL_PRESENCE_H
#define HERALD_BROKER_CHANNEL_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.h"

/* A gateway subscribes one presence topic per (connection, channel)
 * (PROTOCOL.md "Presence topics"); each is unique (gateway id + connection
 * id), so the XPUB reports every subscribe and, once, its unsubscribe (also
 * when the gateway's pipe dies). The set holds one entry per topic, and per
 * channel the distinct users with how many connections each holds. It never
 * touches user presence: a p: topic makes nobody online.
 *
 * Bounded by max_entries topics. A subscribe past it is refused, counted,
 * and the topic's hash kept aside (at most as many again) until its
 * unsubscribe: meanwhile answers are not exact. If that overflow fills
 * too, exactness is lost until hb_chanpres_clear. */
typedef struct hb_chanpres hb_chanpres_t;

/* NULL on out of memory. */
hb_chanpres_t *hb_chanpres_new (size_t max_entries);
void hb_chanpres_destroy (hb_chanpres_t **self_p);

/* Forgets everything (the publish socket was made anew: the gateways
 * subscribe again). 0, or -1 on out of memory (the set is kept). */
int hb_chanpres_clear (hb_chanpres_t *self);

/* A presence topic came: topic is its bytes ("p:..."), channel and user
 * what hp_topic_parse_presence found in it. Idempotent. 0, or -1 when
 * refused (bound or memory; counted, kept aside as above). */
int hb_chanpres_add (hb_chanpres_t *self, const char *topic, size_t len,
                     hp_str_t channel, hp_str_t user);

/* A presence topic went (idempotent); a refused one leaves the overflow. */
void hb_chanpres_remove (hb_chanpres_t *self, const char *topic, size_t len,
                         hp_str_t channel, hp_str_t user);

/* The channel's distinct users: fn is called for at most max of them
 * (order unspecified), *connections receives how many connections hold
 * the channel. Returns how many distinct users there are (may be > max). */
size_t hb_chanpres_users (const hb_chanpres_t *self, const char *channel, size_t len,
                          size_t max, void (*fn) (void *arg, const char *user, size_t len),
                          void *arg, uint64_t *connections);

size_t   hb_chanpres_count (const hb_chanpres_t *self);      /* entries (topics) held */
uint64_t hb_chanpres_refused (const hb_chanpres_t *self);    /* subscribes refused since start */
size_t   hb_chanpres_overflow (const hb_chanpres_t *self);   /* refused topics still subscribed */
/* False while a refused topic may still be subscribed. */
bool     hb_chanpres_exact (const hb_chanpres_t *self);

#endif
