/* pair_fsm.c -- who serves in a hot standby pair: the Binary Star state machine, without I/O. */
#include "pair_fsm.h"

void
hb_pair_fsm_init (hb_pair_fsm_t *self, bool primary, uint64_t now_ms, uint64_t timeout_ms)
{
    self->state = primary ? HB_PAIR_PRIMARY : HB_PAIR_BACKUP;
    self->primary = primary;
    self->timeout_ms = timeout_ms;
    /* a peer never heard counts as gone only after a whole timeout, so a
     * broker started alongside its peer hears it before deciding */
    self->peer_expiry = now_ms + timeout_ms;
}

bool
hb_pair_fsm_peer_gone (const hb_pair_fsm_t *self, uint64_t now_ms)
{
    return now_ms >= self->peer_expiry;
}

hb_pair_result_t
hb_pair_fsm_event (hb_pair_fsm_t *self, hb_pair_event_t event, uint64_t now_ms, bool in_step)
{
    if (event != HB_PAIR_CLIENT_REQUEST)
        self->peer_expiry = now_ms + self->timeout_ms;
    switch (self->state) {
        case HB_PAIR_PRIMARY:
            if (event == HB_PAIR_PEER_BACKUP)
                self->state = HB_PAIR_ACTIVE;
            else if (event == HB_PAIR_PEER_ACTIVE)
                self->state = HB_PAIR_PASSIVE;
            else if (event == HB_PAIR_PEER_PRIMARY)
                return HB_PAIR_FATAL;
            else if (event == HB_PAIR_CLIENT_REQUEST) {
                if (!hb_pair_fsm_peer_gone (self, now_ms))
                    return HB_PAIR_REFUSE;
                self->state = HB_PAIR_ACTIVE;
            }
            /* a passive peer takes over when it hears us starting (or
             * starts over itself), and we then hear what it became */
            return HB_PAIR_OK;
        case HB_PAIR_BACKUP:
            if (event == HB_PAIR_PEER_ACTIVE)
                self->state = HB_PAIR_PASSIVE;
            else if (event == HB_PAIR_PEER_BACKUP)
                return HB_PAIR_FATAL;
            else if (event == HB_PAIR_CLIENT_REQUEST)
                return HB_PAIR_REFUSE;     /* never served, holds no copy */
            return HB_PAIR_OK;
        case HB_PAIR_ACTIVE:
            if (event == HB_PAIR_PEER_ACTIVE)
                return self->primary ? HB_PAIR_FATAL : HB_PAIR_OK;
            return HB_PAIR_OK;
        case HB_PAIR_PASSIVE:
            if (event == HB_PAIR_PEER_PRIMARY || event == HB_PAIR_PEER_BACKUP) {
                /* the active one restarted: it has lost what we hold; a
                 * copy not in step is worth nothing, so start over (the
                 * peer then sees a starting broker and serves) */
                self->state = in_step ? HB_PAIR_ACTIVE
                            : self->primary ? HB_PAIR_PRIMARY : HB_PAIR_BACKUP;
            }
            else if (event == HB_PAIR_PEER_PASSIVE)
                return HB_PAIR_FATAL;
            else if (event == HB_PAIR_CLIENT_REQUEST) {
                if (!hb_pair_fsm_peer_gone (self, now_ms) || !in_step)
                    return HB_PAIR_REFUSE;
                self->state = HB_PAIR_ACTIVE;
            }
            return HB_PAIR_OK;
    }
    return HB_PAIR_OK;
}

const char *
hb_pair_state_name (hb_pair_state_t state)
{
    switch (state) {
        case HB_PAIR_PRIMARY: return "primary";
        case HB_PAIR_BACKUP:  return "backup";
        case HB_PAIR_ACTIVE:  return "active";
        case HB_PAIR_PASSIVE: return "passive";
    }
    return "?";
}
