/* test_envcheck.c -- unit tests for proto/envcheck.c: renamed names, unknown names, suggestions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "envcheck.h"
#include "log.h"

extern char **environ;

static void
test_renamed (void **state)
{
    unsetenv ("HERALD_PUBLISH");
    unsetenv ("HERALD_BROKER");
    assert_null (hp_env_get ("HERALD_PUBLISH"));
    setenv ("HERALD_BROKER", "tcp://old", 1);
    assert_string_equal (hp_env_get ("HERALD_PUBLISH"), "tcp://old");
    setenv ("HERALD_PUBLISH", "tcp://new", 1);
    assert_string_equal (hp_env_get ("HERALD_PUBLISH"), "tcp://new");
    setenv ("HERALD_PUBLISH", "", 1);      /* empty is unset */
    assert_string_equal (hp_env_get ("HERALD_PUBLISH"), "tcp://old");
    unsetenv ("HERALD_PUBLISH");
    unsetenv ("HERALD_BROKER");
}

static void
test_known_and_closest (void **state)
{
    assert_true (hp_env_is_known ("HERALD_HISTORY_EVENTS"));
    assert_true (hp_env_is_known ("HERALD_SECRET"));
    assert_false (hp_env_is_known ("HERALD_HISTORY_EVENT"));
    assert_string_equal (hp_env_closest ("HERALD_HISTORY_EVENT"), "HERALD_HISTORY_EVENTS");
    assert_string_equal (hp_env_closest ("HERALD_LISTN"), "HERALD_LISTEN");
    assert_null (hp_env_closest ("HERALD_FOO"));
    assert_null (hp_env_closest ("HERALD_SOMETHING_ELSE_ENTIRELY"));
}

static void
test_report (void **state)
{
    hp_log_configure (HP_LOG_TEXT, HP_LOG_ERROR);     /* count the lines, print none */
    for (char **e = environ; *e; e++)
        if (strncmp (*e, "HERALD_", 7) == 0) {
            char name[128];
            snprintf (name, sizeof name, "%.*s", (int) strcspn (*e, "="), *e);
            unsetenv (name);
            e = environ - 1;
        }
    /* test_renamed read HERALD_PUBLISH through the old HERALD_BROKER:
     * that deprecation line, nothing else */
    assert_int_equal (hp_env_report (), 1);
    setenv ("HERALD_HISTORY_EVENT", "5", 1);
    setenv ("HERALD_LISTEN", "127.0.0.1:1", 1);
    /* plus the unknown name; the known one is not reported */
    assert_int_equal (hp_env_report (), 2);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_renamed),
        cmocka_unit_test (test_known_and_closest),
        cmocka_unit_test (test_report),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
