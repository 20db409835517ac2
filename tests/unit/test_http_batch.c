/* test_http_batch.c -- POST /batch: JSON lines become the bridge's envelopes, and answers render per line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <msgpack.h>

#include "envelope.h"
#include "http_batch.h"

static uint32_t
s_u32 (const char *p)
{
    const unsigned char *u = (const unsigned char *) p;
    return (uint32_t) u[0] << 24 | (uint32_t) u[1] << 16 | (uint32_t) u[2] << 8 | u[3];
}

/* The n-th entry's envelope (NULL with *len 0 for a refused line). */
static const char *
s_entry (const hp_buf_t *out, uint32_t n, size_t *len)
{
    size_t at = 4;
    for (uint32_t i = 0;; i++) {
        assert_true (at + 4 <= out->len);
        uint32_t l = s_u32 (out->data + at);
        if (i == n) {
            *len = l;
            return l ? out->data + at + 4 : NULL;
        }
        at += 4 + l;
    }
}

/* Each line is packed as the envelope the ingest socket would take, and the
 * envelope decoder reads it back with its fields. */
static void
test_lines_become_envelopes (void **state)
{
    (void) state;
    hp_buf_t out;
    hp_buf_init (&out, 1 << 20);
    static hb_http_batch_lines_t lines;
    const char *why = NULL;
    const char body[] =
        "{\"event\":\"bid\",\"to\":\"alice\",\"data\":{\"amount\":5},\"id\":\"b-1\"}\n"
        "\r\n"
        "{\"event\":\"price\",\"channel\":\"order:17\",\"data\":1.5}\r\n"
        "{\"event\":\"news\",\"broadcast\":true}";
    assert_int_equal (hb_http_batch_pack (&out, body, sizeof body - 1, 4096, &lines, &why), 0);
    assert_int_equal (lines.count, 3);
    assert_int_equal (s_u32 (out.data), 3);
    hp_envelope_t *env = hp_envelope_new ();
    for (uint32_t i = 0; i < 3; i++) {
        assert_null (lines.why[i]);
        size_t len;
        const char *e = s_entry (&out, i, &len);
        assert_non_null (e);
        assert_int_equal (hp_envelope_decode (env, e, len, 1 << 20), HP_ENV_OK);
    }
    size_t len;
    const char *e = s_entry (&out, 0, &len);
    assert_int_equal (hp_envelope_decode (env, e, len, 1 << 20), HP_ENV_OK);
    hp_str_t id = hp_envelope_id (env);
    assert_int_equal (id.len, 3);
    assert_memory_equal (id.ptr, "b-1", 3);
    hp_envelope_destroy (&env);
    hp_buf_free (&out);
}

/* A bad line is refused alone, with its reason, and keeps its place. */
static void
test_bad_lines_refused_in_place (void **state)
{
    (void) state;
    hp_buf_t out;
    hp_buf_init (&out, 1 << 20);
    static hb_http_batch_lines_t lines;
    const char *why = NULL;
    char deep[200];
    size_t d = 0;
    for (int i = 0; i < 40; i++)
        deep[d++] = '[';
    for (int i = 0; i < 40; i++)
        deep[d++] = ']';
    char body[1024];
    int n = snprintf (body, sizeof body,
                      "{\"event\":\"bid\",\"to\":\"a\"}\n"
                      "not json\n"
                      "[1,2]\n"
                      "{\"event\":\"x\",\"to\":\"b\",\"data\":%.*s}\n"
                      "{\"event\":\"bid\",\"to\":\"c\",\"data\":\"%0300d\"}\n"
                      "{\"event\":\"bid\",\"to\":\"d\",\"data\":\"a\\u0000b\"}\n"
                      "{\"event\":\"bid\",\"to\":\"e\"}\n",
                      (int) d, deep, 0);
    assert_int_equal (hb_http_batch_pack (&out, body, (size_t) n, 256, &lines, &why), 0);
    assert_int_equal (lines.count, 7);
    assert_null (lines.why[0]);
    assert_string_equal (lines.why[1], "not_json");
    assert_string_equal (lines.why[2], "not_object");
    assert_string_equal (lines.why[3], "too_deep");
    assert_string_equal (lines.why[4], "too_large");
    assert_string_equal (lines.why[5], "not_json");   /* jansson refuses \u0000 */
    assert_null (lines.why[6]);
    size_t len;
    assert_null (s_entry (&out, 1, &len));
    assert_int_equal (len, 0);
    assert_non_null (s_entry (&out, 6, &len));
    hp_buf_free (&out);
}

/* The whole body is refused when it holds no line, or too many. */
static void
test_body_bounds (void **state)
{
    (void) state;
    hp_buf_t out;
    hp_buf_init (&out, 64 << 20);
    static hb_http_batch_lines_t lines;
    const char *why = NULL;
    assert_int_equal (hb_http_batch_pack (&out, "", 0, 256, &lines, &why), -1);
    assert_non_null (why);
    assert_int_equal (hb_http_batch_pack (&out, "\n\r\n\n", 4, 256, &lines, &why), -1);
    static char body[(HB_HTTP_BATCH_LINES_MAX + 1) * 3];
    size_t n = 0;
    for (int i = 0; i <= HB_HTTP_BATCH_LINES_MAX; i++) {
        memcpy (body + n, "{}\n", 3);
        n += 3;
    }
    why = NULL;
    assert_int_equal (hb_http_batch_pack (&out, body, n, 256, &lines, &why), -1);
    assert_non_null (strstr (why, "1000"));
    assert_int_equal (hb_http_batch_pack (&out, body, n - 3, 256, &lines, &why), 0);
    assert_int_equal (lines.count, HB_HTTP_BATCH_LINES_MAX);
    hp_buf_free (&out);
}

static void
s_result (unsigned char *r, int err, int online, uint64_t offset, int duplicate)
{
    r[0] = (unsigned char) err;
    r[1] = (unsigned char) online;
    for (int i = 0; i < 8; i++)
        r[2 + i] = (unsigned char) (offset >> (56 - 8 * i));
    r[10] = (unsigned char) duplicate;
}

/* The answer lists every line in order: offsets for the routed ones, the
 * router's reason or the HTTP side's for the others. */
static void
test_render (void **state)
{
    (void) state;
    static hb_http_batch_lines_t lines;
    lines.count = 5;
    lines.why[0] = NULL;
    lines.why[1] = "not_json";
    lines.why[2] = NULL;
    lines.why[3] = NULL;
    lines.why[4] = NULL;
    unsigned char r[5 * HB_HTTP_RESULT_LEN];
    s_result (r, HP_ENV_OK, 1, 41, 0);
    s_result (r + 11, HB_HTTP_RESULT_SKIPPED, 0, 0, 0);
    s_result (r + 22, HP_ENV_BAD_TO, 0, 0, 0);
    s_result (r + 33, HP_ENV_OK, 0, 42, 0);
    s_result (r + 44, HP_ENV_OK, 1, 41, 1);
    hp_buf_t out;
    hp_buf_init (&out, 1 << 16);
    assert_int_equal (hb_http_batch_render (&out, &lines, r, sizeof r), 0);
    assert_int_equal (hp_buf_putc (&out, '\0'), 0);
    assert_string_equal (out.data,
        "{\"accepted\":3,\"refused\":2,\"results\":[{\"offset\":41,\"online\":true},"
        "{\"error\":\"not_json\"},{\"error\":\"bad_to\"},{\"offset\":42,\"online\":false},"
        "{\"offset\":41,\"online\":true,\"duplicate\":true}]}\n");
    hp_buf_free (&out);
}

static void
test_content_types (void **state)
{
    (void) state;
    assert_true (hb_http_batch_type_ok ("application/x-ndjson"));
    assert_true (hb_http_batch_type_ok ("application/jsonl; charset=utf-8"));
    assert_true (hb_http_batch_type_ok ("Application/X-NDJSON"));
    assert_false (hb_http_batch_type_ok ("application/json"));
    assert_false (hb_http_batch_type_ok ("application/x-ndjsonx"));
    assert_false (hb_http_batch_type_ok ("application/x-www-form-urlencoded"));
    assert_false (hb_http_batch_type_ok (""));
    assert_false (hb_http_batch_type_ok (NULL));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_lines_become_envelopes),
        cmocka_unit_test (test_bad_lines_refused_in_place),
        cmocka_unit_test (test_body_bounds),
        cmocka_unit_test (test_render),
        cmocka_unit_test (test_content_types),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
