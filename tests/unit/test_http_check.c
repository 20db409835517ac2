/* test_http_check.c -- the broker's HTTP request rules: framing, the Bearer key, body types, the /message path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "http_check.h"

static int
s_framing (const char *a, const char *b, bool te, uint64_t *len, const char **why)
{
    const char *v[2] = { a, b };
    size_t n = a ? (b ? 2 : 1) : 0;
    *why = NULL;
    return hb_http_framing (v, n, te, len, why);
}

static void
test_framing (void **state)
{
    uint64_t len;
    const char *why;
    //  One plain decimal length, or none, frames the body.
    assert_int_equal (s_framing ("12", NULL, false, &len, &why), 0);
    assert_int_equal (len, 12);
    assert_int_equal (s_framing ("0", NULL, false, &len, &why), 0);
    assert_int_equal (len, 0);
    assert_int_equal (s_framing (NULL, NULL, false, &len, &why), 0);
    assert_int_equal (len, 0);
    //  Transfer-Encoding, with or without a length (smuggling, chunked).
    assert_int_equal (s_framing ("2", NULL, true, &len, &why), -1);
    assert_non_null (strstr (why, "Transfer-Encoding"));
    assert_int_equal (s_framing (NULL, NULL, true, &len, &why), -1);
    assert_non_null (strstr (why, "chunked"));
    //  Two lengths, equal or not.
    assert_int_equal (s_framing ("2", "2", false, &len, &why), -1);
    assert_int_equal (s_framing ("2", "3", false, &len, &why), -1);
    assert_non_null (strstr (why, "more than one"));
    //  Anything but digits: hex, sign, spaces, a list, empty, too long.
    const char *bad[] = { "0x2", "+2", "-1", " 2", "2 ", "2, 2", "", "1e3", "2\t",
                          "1234567890123456789", "\xd9\xa2" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal (s_framing (bad[i], NULL, false, &len, &why), -1);
        assert_non_null (strstr (why, "decimal"));
    }
    assert_int_equal (s_framing ("123456789012345678", NULL, false, &len, &why), 0);
}

static void
test_bearer (void **state)
{
    const char *key = "0123456789abcdef";
    size_t n = strlen (key);
    assert_true (hb_http_bearer_ok ("Bearer 0123456789abcdef", key, n));
    assert_true (hb_http_bearer_ok ("bearer   0123456789abcdef ", key, n));
    assert_true (hb_http_bearer_ok ("BEARER 0123456789abcdef", key, n));
    assert_false (hb_http_bearer_ok (NULL, key, n));
    assert_false (hb_http_bearer_ok ("", key, n));
    assert_false (hb_http_bearer_ok ("Bearer", key, n));
    assert_false (hb_http_bearer_ok ("Bearer ", key, n));
    assert_false (hb_http_bearer_ok ("Bearer 0123456789abcdeF", key, n));
    assert_false (hb_http_bearer_ok ("Bearer 0123456789abcde", key, n));     //  a prefix
    assert_false (hb_http_bearer_ok ("Bearer 0123456789abcdef0", key, n));   //  longer
    assert_false (hb_http_bearer_ok ("Basic 0123456789abcdef", key, n));
    assert_false (hb_http_bearer_ok ("0123456789abcdef", key, n));
    assert_false (hb_http_bearer_ok ("Bearer 0123456789abcdef", key, 0));    //  no key: nothing passes
}

static void
test_key_load (void **state)
{
    char path[] = "/tmp/herald-key-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    char key[HB_HTTP_KEY_MAX + 1];
    //  One line, a trailing newline (LF or CRLF) dropped.
    assert_int_equal (write (fd, "0123456789abcdef0123\r\n", 22), 22);
    assert_int_equal (hb_http_key_load (path, key, sizeof key), 20);
    assert_string_equal (key, "0123456789abcdef0123");
    //  Too short, or with a space inside: refused.
    assert_int_equal (ftruncate (fd, 0), 0);
    assert_int_equal (pwrite (fd, "short\n", 6, 0), 6);
    assert_int_equal (hb_http_key_load (path, key, sizeof key), -1);
    assert_int_equal (ftruncate (fd, 0), 0);
    assert_int_equal (pwrite (fd, "0123456789 abcdef\n", 18, 0), 18);
    assert_int_equal (hb_http_key_load (path, key, sizeof key), -1);
    close (fd);
    unlink (path);
    assert_int_equal (hb_http_key_load (path, key, sizeof key), -1);   //  missing file
}

static void
test_content_allowed (void **state)
{
    const char *why;
    //  JSON always; forms and untyped bodies only with the key; empty bodies always.
    assert_true (hb_http_content_allowed ("application/json", 2, false, &why));
    assert_true (hb_http_content_allowed ("Application/JSON; charset=utf-8", 2, false, &why));
    assert_false (hb_http_content_allowed ("application/x-www-form-urlencoded", 3, false, &why));
    assert_false (hb_http_content_allowed ("application/x-www-form-urlencoded;charset=UTF-8", 3,
                                           false, &why));
    assert_false (hb_http_content_allowed (NULL, 2, false, &why));
    assert_false (hb_http_content_allowed ("", 2, false, &why));
    assert_true (hb_http_content_allowed ("application/x-www-form-urlencoded", 3, true, &why));
    assert_true (hb_http_content_allowed (NULL, 2, true, &why));
    assert_true (hb_http_content_allowed (NULL, 0, false, &why));
    //  Others pass here and are refused by the body decoder.
    assert_true (hb_http_content_allowed ("text/plain", 2, false, &why));
}

static void
test_message_path (void **state)
{
    const char *e, *u;
    size_t el, ul;
    const char *p = "/message/bid/a/b";
    assert_null (hb_http_message_path (p, strlen (p), &e, &el, &u, &ul));
    assert_int_equal (el, 3);
    assert_memory_equal (e, "bid", 3);
    assert_int_equal (ul, 3);
    assert_memory_equal (u, "a/b", 3);
    assert_string_equal (hb_http_message_path ("/message/bid", 12, &e, &el, &u, &ul), "not found");
    assert_string_equal (hb_http_message_path ("/other", 6, &e, &el, &u, &ul), "not found");
    assert_string_equal (hb_http_message_path ("/message/b d/x", 14, &e, &el, &u, &ul),
                         "bad event name");
    assert_string_equal (hb_http_message_path ("/message/bid/", 13, &e, &el, &u, &ul),
                         "bad user id");
}

/* /channel/<event>/<channel> and /broadcast/<event> beside /message. */
static void
test_publish_path (void **state)
{
    const char *e, *t;
    size_t el, tl;
    hb_http_to_t to;
    const char *p = "/channel/bid/shop/order:17";
    assert_null (hb_http_publish_path (p, strlen (p), &to, &e, &el, &t, &tl));
    assert_int_equal (to, HB_HTTP_TO_CHANNEL);
    assert_int_equal (el, 3);
    assert_memory_equal (e, "bid", 3);
    assert_int_equal (tl, 13);
    assert_memory_equal (t, "shop/order:17", 13);
    p = "/broadcast/banner";
    assert_null (hb_http_publish_path (p, strlen (p), &to, &e, &el, &t, &tl));
    assert_int_equal (to, HB_HTTP_TO_BROADCAST);
    assert_int_equal (el, 6);
    assert_memory_equal (e, "banner", 6);
    assert_int_equal (tl, 0);
    p = "/message/bid/alice";
    assert_null (hb_http_publish_path (p, strlen (p), &to, &e, &el, &t, &tl));
    assert_int_equal (to, HB_HTTP_TO_USER);
    assert_int_equal (tl, 5);
    //  The envelope's channel rules: [A-Za-z0-9_.:@/=-], 1-128 bytes.
    static const char *bad_channel[] = { "/channel/bid/", "/channel/bid/a b",
                                         "/channel/bid/caf\xc3\xa9", "/channel/bid/a#b" };
    for (size_t i = 0; i < sizeof bad_channel / sizeof *bad_channel; i++)
        assert_string_equal (hb_http_publish_path (bad_channel[i], strlen (bad_channel[i]), &to,
                                                   &e, &el, &t, &tl), "bad channel name");
    char longest[10 + 4 + 129 + 1];
    memcpy (longest, "/channel/e/", 11);
    memset (longest + 11, 'c', 128);
    longest[11 + 128] = '\0';
    assert_null (hb_http_publish_path (longest, strlen (longest), &to, &e, &el, &t, &tl));
    longest[11 + 128] = 'c';
    longest[11 + 129] = '\0';
    assert_string_equal (hb_http_publish_path (longest, strlen (longest), &to, &e, &el, &t, &tl),
                         "bad channel name");
    assert_string_equal (hb_http_publish_path ("/channel/b d/x", 14, &to, &e, &el, &t, &tl),
                         "bad event name");
    assert_string_equal (hb_http_publish_path ("/channel/bid", 12, &to, &e, &el, &t, &tl),
                         "not found");
    assert_string_equal (hb_http_publish_path ("/broadcast/", 11, &to, &e, &el, &t, &tl),
                         "bad event name");
    assert_string_equal (hb_http_publish_path ("/broadcast/a/b", 14, &to, &e, &el, &t, &tl),
                         "not found");
    assert_string_equal (hb_http_publish_path ("/broadcast", 10, &to, &e, &el, &t, &tl),
                         "not found");
    assert_string_equal (hb_http_publish_path ("/channels/bid/x", 15, &to, &e, &el, &t, &tl),
                         "not found");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_framing),
        cmocka_unit_test (test_bearer),
        cmocka_unit_test (test_key_load),
        cmocka_unit_test (test_content_allowed),
        cmocka_unit_test (test_message_path),
        cmocka_unit_test (test_publish_path),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
