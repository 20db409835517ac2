/* fuzz_json.c -- fuzz target: msgpack bytes -> hp_json_from_msgpack -> valid JSON. */
//  Oracles (abort on failure):
//  - hp__msgpack_check accepting bytes means msgpack-c unpacks all of them;
//  - every JSON text produced parses with jansson (strict RFC 8259);
//  - hp_json_put_string always yields one valid JSON string, and for input
//    that is valid UTF-8 it decodes back to exactly the input bytes.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <msgpack.h>

#include "json.h"
#include "mpcheck.h"
#include "json_valid.h"

#define S_JSON_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL)

static void
s_must_parse (const hp_buf_t *out)
{
    if (!fuzz_json_valid (out->data, out->len))
        abort ();
}

static void
s_check_string (const uint8_t *data, size_t size)
{
    hp_buf_t out;
    hp_buf_init (&out, 0);
    if (hp_json_put_string (&out, (const char *) data, size))
        abort ();                           //  no limit: cannot fail
    json_t *parsed = json_loadb (out.data, out.len, S_JSON_FLAGS, NULL);
    if (!parsed || !json_is_string (parsed))
        abort ();
    //  json_stringn validates UTF-8: non-NULL means the input was valid,
    //  so nothing may have been replaced.
    json_t *valid = json_stringn ((const char *) data, size);
    if (valid) {
        if (json_string_length (parsed) != size
        ||  memcmp (json_string_value (parsed), data, size) != 0)
            abort ();
        json_decref (valid);
    }
    json_decref (parsed);
    hp_buf_free (&out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_check_string (data, size);
    //  Unpack only what the pre-scan accepts, as proto does: msgpack-c would
    //  otherwise allocate whatever an array header claims.
    if (hp__msgpack_check ((const char *) data, size))
        return 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t off = 0;
    if (msgpack_unpack_next (&unpacked, (const char *) data, size, &off)
            != MSGPACK_UNPACK_SUCCESS || off != size)
        abort ();                           //  the scan and msgpack-c disagree
    hp_buf_t out;
    hp_buf_init (&out, 1 << 20);
    if (hp_json_from_msgpack (&out, &unpacked.data) == 0)
        s_must_parse (&out);
    //  A tight limit must fail cleanly, never overrun.
    hp_buf_t small;
    hp_buf_init (&small, 1 + size % 64);
    if (hp_json_from_msgpack (&small, &unpacked.data) == 0)
        s_must_parse (&small);
    if (small.len > small.limit)
        abort ();
    hp_buf_free (&small);
    hp_buf_free (&out);
    msgpack_unpacked_destroy (&unpacked);
    return 0;
}
