/* test_gateway_static.c -- unit tests for gateway/static.c: the embedded herald.js and If-None-Match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "static.h"

#define TAG "\"0123456789abcdef\""

static void
test_embedded_tag (void **state)
{
    (void) state;
    const unsigned char *js;
    size_t len;
    const char *etag;
    /* built with clients/js/herald.js present: bytes and a quoted 16-hex tag */
    assert_int_equal (gw_static_herald_js (&js, &len, &etag), 0);
    assert_true (len > 1000);
    assert_non_null (etag);
    assert_int_equal (strlen (etag), 18);
    assert_int_equal (etag[0], '"');
    assert_int_equal (etag[17], '"');
    assert_int_equal (strspn (etag + 1, "0123456789abcdef"), 16);
    assert_true (gw_static_etag_matches (etag, etag));
}

static void
test_matches (void **state)
{
    (void) state;
    /* the tag itself, alone, weak, in a list, with spaces and tabs */
    assert_true (gw_static_etag_matches (TAG, TAG));
    assert_true (gw_static_etag_matches ("W/" TAG, TAG));
    assert_true (gw_static_etag_matches ("\"old\", " TAG, TAG));
    assert_true (gw_static_etag_matches ("\"old\",\t W/" TAG " , \"x\"", TAG));
    assert_true (gw_static_etag_matches ("*", TAG));
    assert_true (gw_static_etag_matches ("  *", TAG));
}

static void
test_no_match (void **state)
{
    (void) state;
    /* another tag, a prefix or extension of ours, unquoted, malformed, empty */
    assert_false (gw_static_etag_matches ("\"0123456789abcdee\"", TAG));
    assert_false (gw_static_etag_matches ("\"0123456789abcde\"", TAG));
    assert_false (gw_static_etag_matches ("\"0123456789abcdef0\"", TAG));
    assert_false (gw_static_etag_matches ("0123456789abcdef", TAG));
    assert_false (gw_static_etag_matches ("\"0123456789abcdef", TAG));
    assert_false (gw_static_etag_matches ("\"a\" junk, " TAG, TAG));
    assert_false (gw_static_etag_matches ("w/" TAG, TAG));
    assert_false (gw_static_etag_matches ("", TAG));
    assert_false (gw_static_etag_matches (" , ,", TAG));
    assert_false (gw_static_etag_matches (NULL, TAG));
    assert_false (gw_static_etag_matches (TAG, NULL));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_embedded_tag),
        cmocka_unit_test (test_matches),
        cmocka_unit_test (test_no_match),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
