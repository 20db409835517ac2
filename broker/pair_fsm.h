/* pair_fsm.h -- who serves in a hot standby pair: the Binary Star state machine, without I/O. */
#ifndef HERALD_BROKER_PAIR_FSM_H
#define HERALD_BROKER_PAIR_FSM_H

#include <stdbool.h>
#include <stdint.h>

/* A broker starts as PRIMARY or BACKUP (its --role, not yet serving) and
 * becomes ACTIVE (serves) or PASSIVE (holds a copy, serves nothing). The
 * rule (the ZeroMQ guide's Binary Star):
 *   - a starting primary goes ACTIVE when it hears a starting backup, or
 *     PASSIVE when it hears an active peer;
 *   - a starting backup goes PASSIVE when it hears an active peer; it never
 *     serves before it has held a copy;
 *   - a non-active broker becomes ACTIVE on a client request (the "vote":
 *     a client that could not reach the active one tried this one) only
 *     when it has heard nothing from its peer for the timeout -- a primary
 *     alone, or a passive that is in step with what its peer last
 *     reported. Losing only the pair link brings no client over, so the
 *     passive stays passive;
 *   - a passive whose peer reports itself starting (it restarted) takes
 *     over at once, when in step;
 *   - two actives (a partition that healed): the primary yields (fatal
 *     for it: it exits and comes back as a starting primary, then passive);
 *     two passives or two of the same role are a configuration error. */
typedef enum {
    HB_PAIR_PRIMARY = 1,
    HB_PAIR_BACKUP  = 2,
    HB_PAIR_ACTIVE  = 3,
    HB_PAIR_PASSIVE = 4,
} hb_pair_state_t;

typedef enum {
    HB_PAIR_PEER_PRIMARY = 1,   /* a heartbeat: the peer's state */
    HB_PAIR_PEER_BACKUP  = 2,
    HB_PAIR_PEER_ACTIVE  = 3,
    HB_PAIR_PEER_PASSIVE = 4,
    HB_PAIR_CLIENT_REQUEST = 5, /* a control request reached this broker */
} hb_pair_event_t;

typedef enum {
    HB_PAIR_OK = 0,       /* handled (the state may have changed) */
    HB_PAIR_REFUSE,       /* a client request this broker must not serve */
    HB_PAIR_FATAL,        /* dual actives (primary side), dual passives, same roles */
} hb_pair_result_t;

typedef struct {
    hb_pair_state_t state;
    bool     primary;        /* the configured role */
    uint64_t peer_expiry;    /* ms: the peer counts as gone from then on */
    uint64_t timeout_ms;
} hb_pair_fsm_t;

void hb_pair_fsm_init (hb_pair_fsm_t *self, bool primary, uint64_t now_ms, uint64_t timeout_ms);

/* Applies one event at now_ms. in_step: this broker holds every event its
 * peer last reported (only a passive's takeover asks). A heartbeat also
 * pushes the peer's expiry to now + timeout. */
hb_pair_result_t hb_pair_fsm_event (hb_pair_fsm_t *self, hb_pair_event_t event,
                                    uint64_t now_ms, bool in_step);

/* Whether the peer has been silent for the timeout. */
bool hb_pair_fsm_peer_gone (const hb_pair_fsm_t *self, uint64_t now_ms);

const char *hb_pair_state_name (hb_pair_state_t state);

#endif
