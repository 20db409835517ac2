/* fanout.h -- user -> local sessions map; routes broker messages to sessions. */
#ifndef HERALD_GW_FANOUT_H
#define HERALD_GW_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "metrics.h"
#include "wire.h"

typedef struct gw_fanout gw_fanout_t;
typedef struct gw_user gw_user_t;
typedef struct gw_session gw_session_t;
typedef struct gw_upstream gw_upstream_t;

/* An empty map. NULL on out of memory. */
gw_fanout_t *gw_fanout_new (gw_metrics_t *metrics);

/* Frees every user entry (sessions must be gone already). Nulls *self_p. */
void gw_fanout_destroy (gw_fanout_t **self_p);

/* Where subscriptions go; set once after both exist (they refer to each other). */
void gw_fanout_set_upstream (gw_fanout_t *self, gw_upstream_t *upstream);

/* Adds an authenticated session under its user, subscribing to the user's
 * topic when it is the first local session. Returns the user entry (valid
 * until the session detaches), or NULL on out of memory. */
gw_user_t *gw_fanout_attach (gw_fanout_t *self, const char *user, size_t len,
                             gw_session_t *session);

/* Removes the session; unsubscribes and frees the entry with the last one. */
void gw_fanout_detach (gw_fanout_t *self, gw_user_t *user, gw_session_t *session);

/* Subscribes once more to make the broker publish a fresh sync (used when
 * the first one did not arrive in time); unsubscribing later undoes all. */
void gw_fanout_resubscribe (gw_fanout_t *self, gw_user_t *user);

/* Broker messages, from upstream. user points into the message. */
void gw_fanout_on_sync (gw_fanout_t *self, hp_str_t user, uint64_t epoch, uint64_t offset);
void gw_fanout_on_event (gw_fanout_t *self, hp_str_t user, uint64_t epoch, uint64_t offset,
                         const void *json, size_t len);
/* An event for every listed user held here (the others are other gateways'):
 * one shared copy of the frame for all of them. */
void gw_fanout_on_multicast (gw_fanout_t *self, const hp_wire_head_t *head,
                             const void *json, size_t len);
void gw_fanout_on_resume_reply (gw_fanout_t *self, const hp_resume_reply_t *reply);

/* The SUB link to the broker dropped: events may be lost until it is back.
 * Every user waits for a new sync (ZeroMQ re-sends the subscriptions on
 * reconnect), and every session fills the gap from history then. O(users),
 * on a rare event. */
void gw_fanout_on_link_lost (gw_fanout_t *self);

/* Users with at least one local session. */
size_t gw_fanout_user_count (const gw_fanout_t *self);

/* Accessors of a user entry. */
const char *gw_user_name (const gw_user_t *user, size_t *len);
bool gw_user_synced (const gw_user_t *user);
uint64_t gw_user_epoch (const gw_user_t *user);

#endif
