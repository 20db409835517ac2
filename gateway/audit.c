/* audit.c -- finds events lost on the broker link that no later message reveals. */
#include "audit.h"

#include <stdlib.h>

#include "buf.h"
#include "wire.h"

#define GW_AUDIT_PERIOD_MS   250
/* the loop is taken as stalled when the timer comes this late */
#define GW_AUDIT_STALL_MS    1500
#define GW_AUDIT_SPACING_MS  500
/* a round not fully answered by then is given up and retried, backing off
 * (the broker may be down) up to the maximum */
#define GW_AUDIT_TIMEOUT_MS  3000
#define GW_AUDIT_BACKOFF_MAX 30000

struct gw_audit {
    uv_timer_t timer;
    gw_fanout_t *fanout;
    const gw_link_t *link;
    gw_metrics_t *metrics;
    uint64_t last_fire_ms;
    uint64_t round_ms;          /* when the current (or last) round began */
    uint64_t timeout_ms;        /* the current round's, grows on retries */
    uint64_t first_rid;         /* the current round's rids: [first, next) */
    uint64_t next_rid;
    uint64_t answered;
    bool in_round;
    bool suspect;
    gw_audit_reason_t why;
    hp_buf_t ids;
};

static void s_on_timer (uv_timer_t *timer);

gw_audit_t *
gw_audit_new (uv_loop_t *loop, gw_fanout_t *fanout, const gw_link_t *link,
              gw_metrics_t *metrics)
{
    gw_audit_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fanout = fanout;
    self->link = link;
    self->metrics = metrics;
    self->next_rid = 1;
    self->timeout_ms = GW_AUDIT_TIMEOUT_MS;
    hp_buf_init (&self->ids, HP_WIRE_AUDIT_REQUEST_MAX);
    uv_timer_init (loop, &self->timer);
    self->timer.data = self;
    self->last_fire_ms = uv_now (loop);
    uv_timer_start (&self->timer, s_on_timer, GW_AUDIT_PERIOD_MS, GW_AUDIT_PERIOD_MS);
    /* the timer alone never keeps the loop running: shutdown closes it */
    return self;
}

void
gw_audit_stop (gw_audit_t *self)
{
    if (self && !uv_is_closing ((uv_handle_t *) &self->timer))
        uv_close ((uv_handle_t *) &self->timer, NULL);
}

void
gw_audit_destroy (gw_audit_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hp_buf_free (&(*self_p)->ids);
    free (*self_p);
    *self_p = NULL;
}

void
gw_audit_suspect (gw_audit_t *self, gw_audit_reason_t why)
{
    if (!self || self->suspect)
        return;
    self->suspect = true;
    self->why = why;
}

void
gw_audit_on_answer (gw_audit_t *self, uint64_t rid)
{
    if (self->in_round && rid >= self->first_rid && rid < self->next_rid
    &&  ++self->answered == self->next_rid - self->first_rid) {
        self->in_round = false;
        self->timeout_ms = GW_AUDIT_TIMEOUT_MS;
    }
}

/* Sends one request per ~1 KiB of local user ids, all at once (the map
 * does not change within this callback): 100,000 users of 20 bytes make
 * ~2,000 small messages, on a rare event. */
static void
s_round (gw_audit_t *self, uint64_t now)
{
    self->metrics->audits_total[self->why]++;
    self->suspect = false;
    self->round_ms = now;
    self->first_rid = self->next_rid;
    self->answered = 0;
    gw_fanout_cursor_t cursor = { 0 };
    for (;;) {
        hp_buf_reset (&self->ids);
        size_t n = gw_fanout_list_keys (self->fanout, &cursor, &self->ids,
                                         HP_WIRE_AUDIT_USERS_MAX,
                                         HP_WIRE_AUDIT_REQUEST_MAX - HP_WIRE_AUDIT_REQUEST_HEAD);
        if (n == 0)
            break;
        /* a request the link could not take is answered by no one: the
         * round times out and is retried */
        self->link->audit (self->link->ctx, self->next_rid++, self->ids.data, self->ids.len);
    }
    self->in_round = self->next_rid != self->first_rid;
}

static void
s_on_timer (uv_timer_t *timer)
{
    gw_audit_t *self = timer->data;
    uint64_t now = uv_now (timer->loop);
    if (now - self->last_fire_ms > GW_AUDIT_STALL_MS)
        gw_audit_suspect (self, GW_AUDIT_STALL);
    self->last_fire_ms = now;
    if (self->in_round && now - self->round_ms > self->timeout_ms) {
        self->in_round = false;
        self->timeout_ms *= 2;
        if (self->timeout_ms > GW_AUDIT_BACKOFF_MAX)
            self->timeout_ms = GW_AUDIT_BACKOFF_MAX;
        gw_audit_suspect (self, GW_AUDIT_RETRY);
    }
    if (self->suspect && !self->in_round && now - self->round_ms >= GW_AUDIT_SPACING_MS)
        s_round (self, now);
}
