/* test_pair_fsm.c -- who serves in a hot standby pair: every transition of broker/pair_fsm.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "pair_fsm.h"

#define T 1000   /* the timeout, ms */

static hb_pair_fsm_t
s_fsm (bool primary)
{
    hb_pair_fsm_t f;
    hb_pair_fsm_init (&f, primary, 10000, T);
    return f;
}

/* Both start: the primary serves once it hears the backup, which then
 * hears it active and becomes passive. */
static void
test_normal_start (void **state)
{
    (void) state;
    hb_pair_fsm_t p = s_fsm (true), b = s_fsm (false);
    assert_int_equal (hb_pair_fsm_event (&p, HB_PAIR_PEER_BACKUP, 10100, false), HB_PAIR_OK);
    assert_int_equal (p.state, HB_PAIR_ACTIVE);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_PEER_ACTIVE, 10100, false), HB_PAIR_OK);
    assert_int_equal (b.state, HB_PAIR_PASSIVE);
}

/* A primary alone serves only on a client's request after a whole timeout. */
static void
test_primary_alone (void **state)
{
    (void) state;
    hb_pair_fsm_t p = s_fsm (true);
    assert_int_equal (hb_pair_fsm_event (&p, HB_PAIR_CLIENT_REQUEST, 10500, false), HB_PAIR_REFUSE);
    assert_int_equal (p.state, HB_PAIR_PRIMARY);
    assert_int_equal (hb_pair_fsm_event (&p, HB_PAIR_CLIENT_REQUEST, 11000, false), HB_PAIR_OK);
    assert_int_equal (p.state, HB_PAIR_ACTIVE);
}

/* A backup that never held a copy never serves. */
static void
test_backup_alone_never_serves (void **state)
{
    (void) state;
    hb_pair_fsm_t b = s_fsm (false);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_CLIENT_REQUEST, 99999, true), HB_PAIR_REFUSE);
    assert_int_equal (b.state, HB_PAIR_BACKUP);
}

/* The partition rule: a passive that lost its peer's heartbeats stays
 * passive without a vote; a vote before the timeout is refused; a vote
 * after it, when in step, is a takeover; out of step it is refused. */
static void
test_passive_takeover_needs_silence_and_vote (void **state)
{
    (void) state;
    hb_pair_fsm_t b = s_fsm (false);
    hb_pair_fsm_event (&b, HB_PAIR_PEER_ACTIVE, 10100, false);
    assert_int_equal (b.state, HB_PAIR_PASSIVE);
    assert_true (hb_pair_fsm_peer_gone (&b, 11100));
    assert_int_equal (b.state, HB_PAIR_PASSIVE);      /* silence alone changes nothing */
    hb_pair_fsm_event (&b, HB_PAIR_PEER_ACTIVE, 12000, false);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_CLIENT_REQUEST, 12500, true), HB_PAIR_REFUSE);
    assert_int_equal (b.state, HB_PAIR_PASSIVE);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_CLIENT_REQUEST, 13000, false), HB_PAIR_REFUSE);
    assert_int_equal (b.state, HB_PAIR_PASSIVE);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_CLIENT_REQUEST, 13000, true), HB_PAIR_OK);
    assert_int_equal (b.state, HB_PAIR_ACTIVE);
}

/* The active peer restarted (it says it is starting): a passive in step
 * takes over at once; one out of step starts over as a starting broker. */
static void
test_peer_restart (void **state)
{
    (void) state;
    hb_pair_fsm_t b = s_fsm (false);
    hb_pair_fsm_event (&b, HB_PAIR_PEER_ACTIVE, 10100, false);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_PEER_PRIMARY, 10200, true), HB_PAIR_OK);
    assert_int_equal (b.state, HB_PAIR_ACTIVE);
    hb_pair_fsm_t c = s_fsm (false);
    hb_pair_fsm_event (&c, HB_PAIR_PEER_ACTIVE, 10100, false);
    hb_pair_fsm_event (&c, HB_PAIR_PEER_PRIMARY, 10200, false);
    assert_int_equal (c.state, HB_PAIR_BACKUP);
    /* the restarted primary hears a starting backup and serves */
    hb_pair_fsm_t p = s_fsm (true);
    hb_pair_fsm_event (&p, HB_PAIR_PEER_BACKUP, 10300, false);
    assert_int_equal (p.state, HB_PAIR_ACTIVE);
}

/* The old primary returning after a takeover hears an active peer: passive. */
static void
test_primary_returns_passive (void **state)
{
    (void) state;
    hb_pair_fsm_t p = s_fsm (true);
    hb_pair_fsm_event (&p, HB_PAIR_PEER_ACTIVE, 10050, false);
    assert_int_equal (p.state, HB_PAIR_PASSIVE);
    /* and a client's request there is refused while the active is heard */
    assert_int_equal (hb_pair_fsm_event (&p, HB_PAIR_CLIENT_REQUEST, 10100, true), HB_PAIR_REFUSE);
}

/* A healed partition with two actives: the primary yields, the backup
 * keeps serving; two passives or the same role twice are fatal. */
static void
test_conflicts (void **state)
{
    (void) state;
    hb_pair_fsm_t p = s_fsm (true), b = s_fsm (false);
    p.state = HB_PAIR_ACTIVE;
    b.state = HB_PAIR_ACTIVE;
    assert_int_equal (hb_pair_fsm_event (&p, HB_PAIR_PEER_ACTIVE, 10100, false), HB_PAIR_FATAL);
    assert_int_equal (hb_pair_fsm_event (&b, HB_PAIR_PEER_ACTIVE, 10100, false), HB_PAIR_OK);
    assert_int_equal (b.state, HB_PAIR_ACTIVE);
    hb_pair_fsm_t q = s_fsm (false);
    q.state = HB_PAIR_PASSIVE;
    assert_int_equal (hb_pair_fsm_event (&q, HB_PAIR_PEER_PASSIVE, 10100, false), HB_PAIR_FATAL);
    hb_pair_fsm_t r = s_fsm (true);
    assert_int_equal (hb_pair_fsm_event (&r, HB_PAIR_PEER_PRIMARY, 10100, false), HB_PAIR_FATAL);
    hb_pair_fsm_t s = s_fsm (false);
    assert_int_equal (hb_pair_fsm_event (&s, HB_PAIR_PEER_BACKUP, 10100, false), HB_PAIR_FATAL);
}

/* Heartbeats push the peer's expiry; client requests do not. */
static void
test_expiry (void **state)
{
    (void) state;
    hb_pair_fsm_t p = s_fsm (true);
    assert_false (hb_pair_fsm_peer_gone (&p, 10999));
    assert_true (hb_pair_fsm_peer_gone (&p, 11000));
    hb_pair_fsm_event (&p, HB_PAIR_PEER_BACKUP, 10900, false);
    assert_false (hb_pair_fsm_peer_gone (&p, 11800));
    hb_pair_fsm_event (&p, HB_PAIR_CLIENT_REQUEST, 11850, false);
    assert_true (hb_pair_fsm_peer_gone (&p, 11900));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_normal_start),
        cmocka_unit_test (test_primary_alone),
        cmocka_unit_test (test_backup_alone_never_serves),
        cmocka_unit_test (test_passive_takeover_needs_silence_and_vote),
        cmocka_unit_test (test_peer_restart),
        cmocka_unit_test (test_primary_returns_passive),
        cmocka_unit_test (test_conflicts),
        cmocka_unit_test (test_expiry),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
