/* audit.h -- finds events lost on the broker link that no later message reveals. */
#ifndef HERALD_GW_AUDIT_H
#define HERALD_GW_AUDIT_H

#include <stdint.h>

#include <uv.h>

#include "fanout.h"
#include "link.h"
#include "metrics.h"

/* A stream's last events (a user's, a channel's, the broadcasts), dropped
 * with nothing after them, leave no prev to show the gap. When drops are
 * suspected (a gap elsewhere, a tick number that jumped, a stalled loop, a
 * link that came back) the audit asks the broker for the last offset it
 * routed to every local stream (by stream key), in requests within the
 * broker's 1 KiB; fanout checks each answer line against what it saw
 * (seen.c). Nothing is sent while nothing is suspected. */
typedef struct gw_audit gw_audit_t;

/* Starts its 250 ms timer in loop. NULL on out of memory. */
gw_audit_t *gw_audit_new (uv_loop_t *loop, gw_fanout_t *fanout, const gw_link_t *link,
                          gw_metrics_t *metrics);

/* Closes the timer (the loop runs the close). */
void gw_audit_stop (gw_audit_t *self);

/* Frees it after the loop ran the close. Nulls *self_p. */
void gw_audit_destroy (gw_audit_t **self_p);

/* Something suggests that messages were lost: audit within about 250 ms
 * (at most one round in flight; another follows if suspicion comes again
 * meanwhile, at least 500 ms after the last began). */
void gw_audit_suspect (gw_audit_t *self, gw_audit_reason_t why);

/* One answer arrived (its lines are fanout's business). */
void gw_audit_on_answer (gw_audit_t *self, uint64_t rid);

#endif
