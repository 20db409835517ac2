/* control_srv.h -- the broker's control socket: presence, resume, stats, disconnect, publish, upstream.
 * (Named apart from proto/control.h, the message codec it uses.) */
#ifndef HERALD_BROKER_CONTROL_SRV_H
#define HERALD_BROKER_CONTROL_SRV_H

#include <stdint.h>
#include "history.h"
#include "metrics.h"
#include "zap.h"
#include "presence.h"
#include "router.h"
#include "upstream_out.h"

typedef struct hb_control hb_control_t;

/* Serves requests on a bound ROUTER socket (used, not owned). NULL on out
 * of memory. */
hb_control_t *hb_control_new (void *router_sock, hb_router_t *router,
                              hb_presence_t *presence, hb_history_t *history,
                              hb_metrics_t *metrics);
void hb_control_destroy (hb_control_t **self_p);

/* With CURVE on: `resume` is answered only to peers whose ZAP User-Id
 * lists the gateway role (zap.h); others get {"error":"forbidden"}, counted
 * in control_forbidden. A peer whose key zap no longer allows (removed from
 * --curve-allow since it connected) gets {"error":"revoked"} to anything,
 * counted in revoked_messages. Without this call every peer may ask. */
void hb_control_require_roles (hb_control_t *self, hb_zap_t *zap);

/* Where {"op":"upstream"} batches go (used, not owned). With CURVE on,
 * only peers with the gateway role may send them; others are answered
 * {"error":"forbidden"}. A batch is never answered otherwise. */
void hb_control_set_upstream (hb_control_t *self, hb_upstream_out_t *upstream);

/* Reads one request if one is waiting and answers it in the envelope it came
 * in. Returns 1 when a request was handled, 0 when none was waiting. */
int hb_control_handle (hb_control_t *self, uint64_t now);

/* Answers the publish requests handled since the last call, once their
 * events are committed and replicated (confirm.h). Call after each batch
 * of hb_control_handle, before anything else routes events. */
void hb_control_settle (hb_control_t *self);

#endif
