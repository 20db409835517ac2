/* chanset.h -- a connection's channel subscriptions: the bounded set, presence, start after the welcome, leave. */
#ifndef HERALD_GW_CHANSET_H
#define HERALD_GW_CHANSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "sub.h"

/* The channels one connection follows: each a sub (sub.c) attached to the
 * channel's stream in the fanout map, plus the connection's presence topic
 * for it. Allocated on the connection's first subscribe, so a connection
 * that follows no channel pays one pointer. At most
 * --max-channels-per-connection entries (client.c refuses past it). */
typedef struct gw_chanset gw_chanset_t;

/* An empty set for the connection writing into out, whose user sub is user
 * (already started: its stream names the user). NULL on out of memory. */
gw_chanset_t *gw_chanset_new (gw_delivery_t *out, const gw_sub_t *user);

/* Leaves every channel (detach, presence off; held events counted as
 * closed) and frees. Nulls *self_p; NULL is fine. */
void gw_chanset_destroy (gw_chanset_t **self_p);

/* Channels held (NULL: 0). */
size_t gw_chanset_count (const gw_chanset_t *self);

/* The sub following channel name, or NULL. */
gw_sub_t *gw_chanset_find (gw_chanset_t *self, const char *name, size_t len);

/* Follows a channel not held yet: attaches a new sub to the channel's
 * stream (subscribing its topic when it is the first here), subscribes the
 * connection's presence topic, and starts the sub (sync, then resume from
 * the position when has_position) -- or, before the connection's welcome,
 * once it is welcomed, so that `subscribed` never precedes `welcome`.
 * Returns 0, or -1 on out of memory (nothing changed). */
int gw_chanset_add (gw_chanset_t *self, const char *name, size_t len, bool has_position,
                    uint64_t epoch, uint64_t offset);

/* Leaves a held channel: held live events are dropped (counted as closed),
 * the sub detached, the presence topic unsubscribed. Frames already queued
 * for it still go out. Returns 0, or -1 when it is not held. */
int gw_chanset_remove (gw_chanset_t *self, const char *name, size_t len);

/* The connection's timer fired: subs waiting for the welcome start once it
 * went out, the others run their retries (gw_sub_on_timer). */
void gw_chanset_on_timer (gw_chanset_t *self);

#endif
