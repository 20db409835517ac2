/* test_config.c -- broker flags, HERALD_* variables and their precedence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "config.h"

static int
s_load (hb_config_t *cfg, int argc, const char **argv)
{
    return hb_config_load (cfg, argc, (char **) argv);
}

/* Without flags or variables every setting has its documented default. */
static void
test_defaults (void **state)
{
    hb_config_t cfg;
    const char *argv[] = { "herald-broker", NULL };
    assert_int_equal (s_load (&cfg, 1, argv), 0);
    assert_string_equal (cfg.ingest, "tcp://127.0.0.1:7401");
    assert_string_equal (cfg.publish, "tcp://127.0.0.1:7402");
    assert_string_equal (cfg.control, "tcp://127.0.0.1:7403");
    assert_string_equal (cfg.undelivered, "tcp://127.0.0.1:7404");
    assert_string_equal (cfg.http_host, "127.0.0.1");
    assert_int_equal (cfg.http_port, 7480);
    assert_int_equal (cfg.max_event_bytes, 65536);
    assert_int_equal (cfg.history_events, 100);
    assert_int_equal (cfg.history_bytes, 64 << 20);
}

/* A variable sets a value; a flag wins over the variable. */
static void
test_env_and_flag_precedence (void **state)
{
    hb_config_t cfg;
    setenv ("HERALD_HISTORY_EVENTS", "7", 1);
    setenv ("HERALD_INGEST", "tcp://127.0.0.1:9999", 1);
    const char *plain[] = { "herald-broker", NULL };
    assert_int_equal (s_load (&cfg, 1, plain), 0);
    assert_int_equal (cfg.history_events, 7);
    assert_string_equal (cfg.ingest, "tcp://127.0.0.1:9999");
    const char *flags[] = { "herald-broker", "--history-events", "9", "--http", "[::1]:8080", NULL };
    assert_int_equal (s_load (&cfg, 5, flags), 0);
    assert_int_equal (cfg.history_events, 9);
    assert_string_equal (cfg.http_host, "::1");
    assert_int_equal (cfg.http_port, 8080);
    unsetenv ("HERALD_HISTORY_EVENTS");
    unsetenv ("HERALD_INGEST");
}

/* Bad numbers, ports, unknown flags and stray arguments are refused. */
static void
test_refusals (void **state)
{
    hb_config_t cfg;
    const char *zero[] = { "b", "--history-events", "0", NULL };
    assert_int_equal (s_load (&cfg, 3, zero), -1);
    const char *junk[] = { "b", "--max-event-bytes", "12k", NULL };
    assert_int_equal (s_load (&cfg, 3, junk), -1);
    const char *port[] = { "b", "--http", "127.0.0.1:70000", NULL };
    assert_int_equal (s_load (&cfg, 3, port), -1);
    const char *noport[] = { "b", "--http", "127.0.0.1", NULL };
    assert_int_equal (s_load (&cfg, 3, noport), -1);
    const char *unknown[] = { "b", "--bogus", NULL };
    assert_int_equal (s_load (&cfg, 2, unknown), -1);
    const char *stray[] = { "b", "stray", NULL };
    assert_int_equal (s_load (&cfg, 2, stray), -1);
    setenv ("HERALD_HISTORY_BYTES", "lots", 1);
    const char *plain[] = { "b", NULL };
    assert_int_equal (s_load (&cfg, 1, plain), -1);
    unsetenv ("HERALD_HISTORY_BYTES");
    //  HTTP on all interfaces needs the key, or --insecure.
    const char *wide[] = { "b", "--http", "0.0.0.0:7480", NULL };
    assert_int_equal (s_load (&cfg, 3, wide), -1);
    const char *wide_key[] = { "b", "--http", "0.0.0.0:7480", "--http-key-file", "/k", NULL };
    assert_int_equal (s_load (&cfg, 5, wide_key), 0);
    assert_string_equal (cfg.http_key_file, "/k");
    const char *wide_insecure[] = { "b", "--http", "0.0.0.0:7480", "--insecure", NULL };
    assert_int_equal (s_load (&cfg, 4, wide_insecure), 0);
    const char *metrics[] = { "b", "--metrics", "0.0.0.0:9100", "--http-body-timeout", "3", NULL };
    assert_int_equal (s_load (&cfg, 5, metrics), 0);
    assert_string_equal (cfg.metrics_host, "0.0.0.0");
    assert_int_equal (cfg.metrics_port, 9100);
    assert_int_equal (cfg.http_body_timeout, 3);
    assert_int_equal (cfg.http_idle_timeout, 5);
    const char *zero_timeout[] = { "b", "--http-idle-timeout", "0", NULL };
    assert_int_equal (s_load (&cfg, 3, zero_timeout), -1);
    const char *help[] = { "b", "--help", NULL };
    assert_int_equal (s_load (&cfg, 2, help), 1);
}

/* Without CURVE only loopback endpoints are bound, unless --insecure (or
 * HERALD_INSECURE) says the network is trusted; CURVE's two flags pair. */
static void
test_exposure (void **state)
{
    hb_config_t cfg;
    const char *wide[] = { "herald-broker", "--publish", "tcp://0.0.0.0:7402", NULL };
    assert_int_equal (s_load (&cfg, 3, wide), -1);
    const char *ipc[] = { "herald-broker", "--publish", "ipc:///tmp/herald-pub", NULL };
    assert_int_equal (s_load (&cfg, 3, ipc), 0);
    const char *insecure[] = { "herald-broker", "--publish", "tcp://0.0.0.0:7402", "--insecure", NULL };
    assert_int_equal (s_load (&cfg, 4, insecure), 0);
    assert_true (cfg.insecure);
    setenv ("HERALD_INSECURE", "yes", 1);
    assert_int_equal (s_load (&cfg, 3, wide), 0);
    setenv ("HERALD_INSECURE", "maybe", 1);
    assert_int_equal (s_load (&cfg, 3, wide), -1);
    unsetenv ("HERALD_INSECURE");
    const char *curve[] = { "herald-broker", "--publish", "tcp://0.0.0.0:7402",
                            "--curve-cert", "b.cert", "--curve-allow", "allow", NULL };
    assert_int_equal (s_load (&cfg, 7, curve), 0);
    assert_string_equal (cfg.curve_cert, "b.cert");
    assert_string_equal (cfg.curve_allow, "allow");
    const char *half[] = { "herald-broker", "--curve-cert", "b.cert", NULL };
    assert_int_equal (s_load (&cfg, 3, half), -1);
}

/* A pair needs its role and both endpoints; off loopback only with CURVE
 * or --insecure; --data-dir combines with it. */
static void
test_pair (void **state)
{
    (void) state;
    hb_config_t cfg;
    const char *ok[] = { "b", "--role", "backup", "--pair-bind", "tcp://127.0.0.1:9001",
                         "--pair-connect", "tcp://127.0.0.1:9002", NULL };
    assert_int_equal (s_load (&cfg, 7, ok), 0);
    assert_int_equal (cfg.role, HB_ROLE_BACKUP);
    assert_string_equal (cfg.pair_bind, "tcp://127.0.0.1:9001");
    assert_int_equal (cfg.pair_timeout_ms, 2000);
    const char *role_only[] = { "b", "--role", "primary", NULL };
    assert_int_equal (s_load (&cfg, 3, role_only), -1);
    const char *bad_role[] = { "b", "--role", "tertiary", "--pair-bind", "tcp://127.0.0.1:9001",
                               "--pair-connect", "tcp://127.0.0.1:9002", NULL };
    assert_int_equal (s_load (&cfg, 7, bad_role), -1);
    const char *remote[] = { "b", "--role", "primary", "--pair-bind", "tcp://0.0.0.0:9001",
                             "--pair-connect", "tcp://127.0.0.1:9002", NULL };
    assert_int_equal (s_load (&cfg, 7, remote), -1);
    const char *remote_to[] = { "b", "--role", "primary", "--pair-bind", "tcp://127.0.0.1:9001",
                                "--pair-connect", "tcp://10.0.0.2:9002", NULL };
    assert_int_equal (s_load (&cfg, 7, remote_to), -1);
    const char *remote_curve[] = { "b", "--role", "primary", "--pair-bind", "tcp://0.0.0.0:9001",
                                   "--pair-connect", "tcp://10.0.0.2:9002", "--curve-cert", "/x.cert",
                                   "--curve-allow", "/allow", NULL };
    assert_int_equal (s_load (&cfg, 11, remote_curve), 0);
    const char *durable[] = { "b", "--role", "primary", "--pair-bind", "tcp://127.0.0.1:9001",
                              "--pair-connect", "tcp://127.0.0.1:9002", "--data-dir", "/tmp/x", NULL };
    assert_int_equal (s_load (&cfg, 9, durable), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_env_and_flag_precedence),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_exposure),
        cmocka_unit_test (test_pair),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
