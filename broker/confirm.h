/* confirm.h -- confirmed publishing: the control op publish, answered once its event is committed and replicated. */
#ifndef HERALD_BROKER_CONFIRM_H
#define HERALD_BROKER_CONFIRM_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>
#include "metrics.h"
#include "router.h"

/* A producer sends {"op":"publish", <envelope keys>} on the control socket
 * (the request is the envelope: the router ignores "op"). Requests taken in
 * one loop turn are accepted at once (offset, history, store writes, the
 * replication queue) and answered by hb_confirm_settle after one commit:
 * the store's (per --fsync) and the pair's (the passive's ack), and after
 * they are published. So an answer {"offset":N,"epoch":E} means the event
 * survives a crash of this broker and a takeover by its passive.
 * At most HB_CONFIRM_MAX wait per turn; more are answered {"error":"busy"}. */
typedef struct hb_confirm hb_confirm_t;

#define HB_CONFIRM_MAX        64     /* waiting in one turn */
#define HB_CONFIRM_FRAMES_MAX 16     /* routing frames + body of one request */

/* Why a publish was refused (metrics label hb_confirm_reason_name). */
typedef enum {
    HB_CONFIRM_INVALID = 0,     /* the envelope broke a rule: {"error":"invalid","reason":R} */
    HB_CONFIRM_FORBIDDEN,       /* CURVE on and the peer lacks the producer role */
    HB_CONFIRM_BUSY,            /* HB_CONFIRM_MAX already waiting this turn */
} hb_confirm_reason_t;

const char *hb_confirm_reason_name (int reason);

/* sock: the control ROUTER; router: where events go (both used, not
 * owned). NULL on out of memory. */
hb_confirm_t *hb_confirm_new (void *sock, hb_router_t *router, hb_metrics_t *metrics);
void hb_confirm_destroy (hb_confirm_t **self_p);

/* One publish request: frames[0..count-2] route the answer back,
 * frames[count-1] is the envelope. Takes every frame over (answered at
 * once when refused, else kept until settle). now: monotonic seconds. */
void hb_confirm_take (hb_confirm_t *self, zmq_msg_t *frames, size_t count, uint64_t now);

/* Answers {"error":"forbidden"} (the peer's role may not publish); takes
 * the frames over. */
void hb_confirm_refuse_forbidden (hb_confirm_t *self, zmq_msg_t *frames, size_t count);

/* Commits what was taken since the last call (one store commit, one
 * replication round trip), publishes it in order and answers each. Call
 * every loop turn after the control batch, before anything else routes. */
void hb_confirm_settle (hb_confirm_t *self);

#endif
