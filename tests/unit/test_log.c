/* test_log.c -- unit tests for proto/log.c: line format, JSON escaping, levels, the limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "log.h"

/* Runs the logging in fn with stderr sent to a temporary file; returns
 * what was written (caller frees). */
static char *
s_capture (void (*fn) (void))
{
    FILE *tmp = tmpfile ();
    assert_non_null (tmp);
    int saved = dup (STDERR_FILENO);
    dup2 (fileno (tmp), STDERR_FILENO);
    fn ();
    dup2 (saved, STDERR_FILENO);
    close (saved);
    fseek (tmp, 0, SEEK_END);
    long n = ftell (tmp);
    rewind (tmp);
    char *text = calloc (1, (size_t) n + 1);
    assert_int_equal (fread (text, 1, (size_t) n, tmp), (size_t) n);
    fclose (tmp);
    return text;
}

static void
s_json_lines (void)
{
    hp_log_init ("herald-test");
    hp_log_configure (HP_LOG_JSON, HP_LOG_INFO);
    hp_info ("plain %d", 7);
    hp_warn ("quote \" backslash \\ newline\n tab\t bad \xff\xfe utf8 \xc3\xa9 end");
    hp_debug ("not shown");
    hp_error ("trailing newline dropped\n");
}

static void
test_json (void **state)
{
    char *text = s_capture (s_json_lines);
    const char *want_level[] = { "info", "warn", "error" };
    const char *want_msg[] = { "plain 7",
        "quote \" backslash \\ newline\n tab\t bad \xef\xbf\xbd\xef\xbf\xbd utf8 \xc3\xa9 end",
        "trailing newline dropped" };
    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r (text, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        assert_true (lines < 3);
        json_error_t err;
        json_t *obj = json_loads (line, 0, &err);
        assert_non_null (obj);
        const char *time = json_string_value (json_object_get (obj, "time"));
        assert_non_null (time);
        /* RFC 3339 UTC with milliseconds: 2026-12-02T15:40:00.123Z */
        assert_int_equal (strlen (time), 24);
        assert_true (time[4] == '-' && time[10] == 'T' && time[19] == '.' && time[23] == 'Z');
        assert_string_equal (json_string_value (json_object_get (obj, "level")), want_level[lines]);
        assert_string_equal (json_string_value (json_object_get (obj, "process")), "herald-test");
        assert_int_equal (json_integer_value (json_object_get (obj, "pid")), getpid ());
        assert_string_equal (json_string_value (json_object_get (obj, "msg")), want_msg[lines]);
        json_decref (obj);
        lines++;
    }
    assert_int_equal (lines, 3);
    free (text);
}

static void
s_text_lines (void)
{
    hp_log_init ("herald-test");
    hp_log_configure (HP_LOG_TEXT, HP_LOG_WARN);
    hp_info ("below the level");
    hp_warn ("two\nlines");
}

static void
test_text (void **state)
{
    char *text = s_capture (s_text_lines);
    /* one line: the time, the level, the process and pid, the message
     * with its newline flattened so a peer cannot fake a second line */
    assert_int_equal (text[24], ' ');
    assert_int_equal (text[23], 'Z');
    char want[64];
    snprintf (want, sizeof want, " warn herald-test[%ld]: two lines\n", (long) getpid ());
    assert_string_equal (text + 24, want);
    free (text);
}

static void
s_limited_lines (void)
{
    hp_log_configure (HP_LOG_TEXT, HP_LOG_INFO);
    hp_log_limit_t limit = { 0 };
    int printed = 0;
    for (int i = 0; i < 1000; i++)
        printed += hp_log_limited (&limit, HP_LOG_WARN, "auth failed %d", i);
    /* 1000 calls within a second or two: one or two lines */
    assert_true (printed >= 1 && printed <= 2);
    assert_true (limit.suppressed >= 998 || printed == 2);
}

static void
test_limited (void **state)
{
    char *text = s_capture (s_limited_lines);
    assert_non_null (strstr (text, "auth failed 0"));
    free (text);
}

static void
test_parse (void **state)
{
    hp_log_format_t f;
    hp_log_level_t l;
    assert_int_equal (hp_log_parse_format ("json", &f), 0);
    assert_int_equal (f, HP_LOG_JSON);
    assert_int_equal (hp_log_parse_format ("TEXT", &f), 0);
    assert_int_equal (f, HP_LOG_TEXT);
    assert_int_equal (hp_log_parse_format ("yaml", &f), -1);
    assert_int_equal (hp_log_parse_level ("debug", &l), 0);
    assert_int_equal (l, HP_LOG_DEBUG);
    assert_int_equal (hp_log_parse_level ("warning", &l), 0);
    assert_int_equal (l, HP_LOG_WARN);
    assert_int_equal (hp_log_parse_level ("loud", &l), -1);
    assert_int_equal (hp_log_parse_level ("", &l), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_json),
        cmocka_unit_test (test_text),
        cmocka_unit_test (test_limited),
        cmocka_unit_test (test_parse),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
