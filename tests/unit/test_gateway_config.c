/* test_gateway_config.c -- gateway flags, HERALD_* variables, and the secret rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static gw_config_t s_cfg;

static gw_config_result_t
s_parse (int argc, char **argv)
{
    FILE *err = fopen ("/dev/null", "w");
    gw_config_result_t r = gw_config_parse (&s_cfg, argc, argv, err);
    fclose (err);
    return r;
}

static int
s_setup (void **state)
{
    unsetenv ("HERALD_SECRET");
    unsetenv ("HERALD_SECRET_FILE");
    unsetenv ("HERALD_LISTEN");
    unsetenv ("HERALD_MAX_QUEUE_BYTES");
    unsetenv ("HERALD_PUBLISH");
    unsetenv ("HERALD_BROKER");
    unsetenv ("HERALD_LOG_LEVEL");
    return 0;
}

/* Defaults match DESIGN.md when only the secret is given. */
static void
test_defaults (void **state)
{
    setenv ("HERALD_SECRET", "s3cret", 1);
    char *argv[] = { "herald-gateway", NULL };
    assert_int_equal (s_parse (1, argv), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.listen_host, "127.0.0.1");
    assert_int_equal (s_cfg.listen_port, 7400);
    assert_string_equal (s_cfg.broker, "tcp://127.0.0.1:7402");
    assert_string_equal (s_cfg.control, "tcp://127.0.0.1:7403");
    assert_int_equal (s_cfg.max_queue_bytes, 1024 * 1024);
    assert_true (s_cfg.auth_timeout == 10.0);
    assert_int_equal (s_cfg.secret_len, 6);
    assert_memory_equal (s_cfg.secret, "s3cret", 6);
    gw_config_clear (&s_cfg);
    assert_int_equal (s_cfg.secret_len, 0);
}

/* A flag wins over its environment variable. */
static void
test_flag_wins (void **state)
{
    setenv ("HERALD_SECRET", "x", 1);
    setenv ("HERALD_LISTEN", "127.0.0.2:9000", 1);
    setenv ("HERALD_MAX_QUEUE_BYTES", "4096", 1);
    char *argv[] = { "herald-gateway", "--listen", "127.0.0.3:9001", NULL };
    assert_int_equal (s_parse (3, argv), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.listen_host, "127.0.0.3");
    assert_int_equal (s_cfg.listen_port, 9001);
    assert_int_equal (s_cfg.max_queue_bytes, 4096);
}

/* No secret, a bad value, an unknown flag: refused. --help is its own outcome. */
static void
test_refusals (void **state)
{
    char *none[] = { "herald-gateway", NULL };
    assert_int_equal (s_parse (1, none), GW_CONFIG_ERROR);
    setenv ("HERALD_SECRET", "x", 1);
    char *port[] = { "herald-gateway", "--listen", "127.0.0.1:99999", NULL };
    assert_int_equal (s_parse (3, port), GW_CONFIG_ERROR);
    char *noport[] = { "herald-gateway", "--listen", "localhost", NULL };
    assert_int_equal (s_parse (3, noport), GW_CONFIG_ERROR);
    char *timeout[] = { "herald-gateway", "--auth-timeout", "-1", NULL };
    assert_int_equal (s_parse (3, timeout), GW_CONFIG_ERROR);
    char *unknown[] = { "herald-gateway", "--bogus", NULL };
    assert_int_equal (s_parse (2, unknown), GW_CONFIG_ERROR);
    char *help[] = { "herald-gateway", "--help", NULL };
    assert_int_equal (s_parse (2, help), GW_CONFIG_HELP);
}

/* HERALD_PUBLISH is the broker's publish endpoint (--broker, --publish);
 * the old HERALD_BROKER is read only while it is unset. */
static void
test_publish_rename (void **state)
{
    setenv ("HERALD_SECRET", "x", 1);
    char *none[] = { "herald-gateway", NULL };
    setenv ("HERALD_BROKER", "tcp://127.0.0.1:1", 1);
    assert_int_equal (s_parse (1, none), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.broker, "tcp://127.0.0.1:1");
    setenv ("HERALD_PUBLISH", "tcp://127.0.0.1:2", 1);
    assert_int_equal (s_parse (1, none), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.broker, "tcp://127.0.0.1:2");
    char *flag[] = { "herald-gateway", "--publish", "tcp://127.0.0.1:3", NULL };
    assert_int_equal (s_parse (3, flag), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.broker, "tcp://127.0.0.1:3");
}

/* A malformed variable is refused with its name in the message. */
static void
test_bad_variable_named (void **state)
{
    setenv ("HERALD_SECRET", "x", 1);
    setenv ("HERALD_LOG_LEVEL", "loud", 1);
    char buf[512] = "";
    FILE *err = fmemopen (buf, sizeof buf - 1, "w");
    char *none[] = { "herald-gateway", NULL };
    assert_int_equal (gw_config_parse (&s_cfg, 1, none, err), GW_CONFIG_ERROR);
    fclose (err);
    assert_non_null (strstr (buf, "environment variable HERALD_LOG_LEVEL"));
    assert_non_null (strstr (buf, "'loud'"));
    /* the flag makes it moot: a stray variable does not stop the gateway */
    char *flag[] = { "herald-gateway", "--log-level=warn", NULL };
    assert_int_equal (s_parse (2, flag), GW_CONFIG_RUN);
    assert_int_equal (s_cfg.log_level, HP_LOG_WARN);
}

/* The edge flags: defaults, values, refusals. */
static void
test_edge_flags (void **state)
{
    setenv ("HERALD_SECRET", "x", 1);
    char *none[] = { "herald-gateway", NULL };
    assert_int_equal (s_parse (1, none), GW_CONFIG_RUN);
    assert_true (s_cfg.idle_timeout == 55.0);
    char *idle[] = { "herald-gateway", "--idle-timeout", "1.5", NULL };
    assert_int_equal (s_parse (3, idle), GW_CONFIG_RUN);
    assert_true (s_cfg.idle_timeout == 1.5);
    char *off[] = { "herald-gateway", "--idle-timeout", "0", NULL };
    assert_int_equal (s_parse (3, off), GW_CONFIG_RUN);
    assert_true (s_cfg.idle_timeout == 0);
    char *tiny[] = { "herald-gateway", "--idle-timeout", "0.01", NULL };
    assert_int_equal (s_parse (3, tiny), GW_CONFIG_ERROR);
    char *neg[] = { "herald-gateway", "--idle-timeout", "-3", NULL };
    assert_int_equal (s_parse (3, neg), GW_CONFIG_ERROR);
    assert_int_equal (s_parse (1, none), GW_CONFIG_RUN);
    assert_int_equal (s_cfg.max_unauthenticated, 10000);
    assert_int_equal (s_cfg.max_connections_per_ip, 0);
    assert_null (s_cfg.allowed_origins);
    assert_int_equal (s_cfg.metrics_port, 0);
    char *edge[] = { "herald-gateway", "--max-unauthenticated", "5", "--max-connections-per-ip", "3",
                     "--allowed-origins", "https://a.example,https://b.example",
                     "--metrics", "[::1]:9100", NULL };
    assert_int_equal (s_parse (9, edge), GW_CONFIG_RUN);
    assert_int_equal (s_cfg.max_unauthenticated, 5);
    assert_int_equal (s_cfg.max_connections_per_ip, 3);
    assert_string_equal (s_cfg.allowed_origins, "https://a.example,https://b.example");
    assert_string_equal (s_cfg.metrics_host, "::1");
    assert_int_equal (s_cfg.metrics_port, 9100);
    char *zero[] = { "herald-gateway", "--max-unauthenticated", "0", NULL };
    assert_int_equal (s_parse (3, zero), GW_CONFIG_ERROR);
    char *noport[] = { "herald-gateway", "--metrics", "127.0.0.1", NULL };
    assert_int_equal (s_parse (3, noport), GW_CONFIG_ERROR);
    char *tls[] = { "herald-gateway", "--tls-cert", "c.pem", "--tls-key", "k.pem", NULL };
    assert_int_equal (s_parse (5, tls), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.tls_cert, "c.pem");
    assert_string_equal (s_cfg.tls_key, "k.pem");
    char *half[] = { "herald-gateway", "--tls-cert", "c.pem", NULL };
    assert_int_equal (s_parse (3, half), GW_CONFIG_ERROR);
}

/* The secret file loses one trailing newline and wins over HERALD_SECRET. */
static void
test_secret_file (void **state)
{
    char path[] = "/tmp/gw-secret-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "from-file\r\n", 11), 11);
    close (fd);
    setenv ("HERALD_SECRET", "from-env", 1);
    char *argv[] = { "herald-gateway", "--secret-file", path, NULL };
    assert_int_equal (s_parse (3, argv), GW_CONFIG_RUN);
    assert_int_equal (s_cfg.secret_len, 9);
    assert_memory_equal (s_cfg.secret, "from-file", 9);
    unlink (path);
    assert_int_equal (s_parse (3, argv), GW_CONFIG_ERROR);   /* missing file */
}

/* The token policy flags: defaults, values, and refused values. */
static void
test_token_flags (void **state)
{
    setenv ("HERALD_SECRET", "x", 1);
    char *plain[] = { "herald-gateway", NULL };
    assert_int_equal (s_parse (1, plain), GW_CONFIG_RUN);
    assert_null (s_cfg.token.aud);
    assert_null (s_cfg.token.iss);
    assert_int_equal (s_cfg.token.max_ttl, 0);
    assert_int_equal (s_cfg.token.leeway, 5);
    char *argv[] = { "herald-gateway", "--token-aud", "herald", "--token-iss", "app",
                     "--token-max-ttl", "900", "--token-leeway", "0", NULL };
    assert_int_equal (s_parse (9, argv), GW_CONFIG_RUN);
    assert_string_equal (s_cfg.token.aud, "herald");
    assert_string_equal (s_cfg.token.iss, "app");
    assert_int_equal (s_cfg.token.max_ttl, 900);
    assert_int_equal (s_cfg.token.leeway, 0);
    char *ttl0[] = { "herald-gateway", "--token-max-ttl", "0", NULL };
    assert_int_equal (s_parse (3, ttl0), GW_CONFIG_ERROR);
    char *leeway[] = { "herald-gateway", "--token-leeway", "301", NULL };
    assert_int_equal (s_parse (3, leeway), GW_CONFIG_ERROR);
    setenv ("HERALD_TOKEN_MAX_TTL", "60", 1);
    assert_int_equal (s_parse (1, plain), GW_CONFIG_RUN);
    assert_int_equal (s_cfg.token.max_ttl, 60);
    unsetenv ("HERALD_TOKEN_MAX_TTL");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (test_token_flags, s_setup),
        cmocka_unit_test_setup (test_defaults, s_setup),
        cmocka_unit_test_setup (test_flag_wins, s_setup),
        cmocka_unit_test_setup (test_refusals, s_setup),
        cmocka_unit_test_setup (test_secret_file, s_setup),
        cmocka_unit_test_setup (test_edge_flags, s_setup),
        cmocka_unit_test_setup (test_publish_rename, s_setup),
        cmocka_unit_test_setup (test_bad_variable_named, s_setup),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
