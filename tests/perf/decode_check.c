/* decode_check.c -- proves proto's one-pass msgpack decoder accepts and builds exactly what check + msgpack_unpack did. */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../xorshift.h"

#include "mpcheck.h"

static uint64_t s_state = 0x2545f4914f6cdd1dULL;

static uint64_t
s_rand (void)
{
    return xorshift64 (&s_state);
}

/* Equal trees, with types compared strictly (float32 vs float64, the sign
 * classes of integers) and strings/bins/exts by pointer too: both must
 * point into the input at the same place. Empty ones are not compared by
 * pointer: msgpack-c itself gives NULL, the header or a zone address there,
 * and nothing reads through a pointer to zero bytes. */
static int
s_same (const msgpack_object *a, const msgpack_object *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
        case MSGPACK_OBJECT_ARRAY:
            if (a->via.array.size != b->via.array.size)
                return 0;
            for (uint32_t i = 0; i < a->via.array.size; i++)
                if (!s_same (&a->via.array.ptr[i], &b->via.array.ptr[i]))
                    return 0;
            return 1;
        case MSGPACK_OBJECT_MAP:
            if (a->via.map.size != b->via.map.size)
                return 0;
            for (uint32_t i = 0; i < a->via.map.size; i++)
                if (!s_same (&a->via.map.ptr[i].key, &b->via.map.ptr[i].key)
                    || !s_same (&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
                    return 0;
            return 1;
        case MSGPACK_OBJECT_STR:
            return a->via.str.size == b->via.str.size
                && (a->via.str.size == 0 || a->via.str.ptr == b->via.str.ptr);
        case MSGPACK_OBJECT_BIN:
            return a->via.bin.size == b->via.bin.size
                && (a->via.bin.size == 0 || a->via.bin.ptr == b->via.bin.ptr);
        case MSGPACK_OBJECT_EXT:
            return a->via.ext.size == b->via.ext.size && a->via.ext.type == b->via.ext.type
                && (a->via.ext.size == 0 || a->via.ext.ptr == b->via.ext.ptr);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return memcmp (&a->via.f64, &b->via.f64, sizeof (double)) == 0;
        case MSGPACK_OBJECT_BOOLEAN:
            return a->via.boolean == b->via.boolean;
        case MSGPACK_OBJECT_NIL:
            return 1;
        default:
            return a->via.u64 == b->via.u64;
    }
}

/* A random, mostly valid msgpack value of every kind, nested. */
static void
s_gen (msgpack_packer *pk, int depth)
{
    uint64_t r = s_rand ();
    int kind = (int) (r % (depth < 34 ? 20 : 14));
    char body[300];
    size_t n = (size_t) ((r >> 8) % 40);
    if ((r >> 20) % 16 == 0)
        n = (size_t) ((r >> 24) % 300);
    memset (body, 'a' + (int) (r % 26), sizeof body);
    switch (kind) {
        case 0: msgpack_pack_nil (pk); break;
        case 1: msgpack_pack_true (pk); break;
        case 2: msgpack_pack_false (pk); break;
        case 3: msgpack_pack_uint64 (pk, s_rand () >> (r % 64)); break;
        case 4: msgpack_pack_int64 (pk, (int64_t) s_rand () >> (r % 64)); break;
        case 5: msgpack_pack_int8 (pk, (int8_t) r); break;
        case 6: msgpack_pack_int16 (pk, (int16_t) r); break;
        case 7: msgpack_pack_float (pk, (float) (int64_t) s_rand () / 7.0f); break;
        case 8: msgpack_pack_double (pk, (double) (int64_t) s_rand () / 3.0); break;
        case 9: msgpack_pack_str_with_body (pk, body, n); break;
        case 10: msgpack_pack_bin_with_body (pk, body, n); break;
        case 11: msgpack_pack_ext_with_body (pk, body, n % 20, (int8_t) r); break;
        case 12: msgpack_pack_int32 (pk, (int32_t) r); break;
        case 13: msgpack_pack_str_with_body (pk, body, n % 5); break;
        case 14: case 15: case 16: {
            size_t k = (size_t) ((r >> 40) % 6);
            msgpack_pack_array (pk, k);
            for (size_t i = 0; i < k; i++)
                s_gen (pk, depth + 1);
            break;
        }
        default: {
            size_t k = (size_t) ((r >> 40) % 5);
            msgpack_pack_map (pk, k);
            for (size_t i = 0; i < 2 * k; i++)
                s_gen (pk, depth + 1);
        }
    }
}

int
main (int argc, char **argv)
{
    long count = argc > 1 ? atol (argv[1]) : 200000;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_zone *zone = msgpack_zone_new (4096);
    hp__msgpack_arena_t arena = { 0 };
    long accepted = 0, failures = 0;
    char *mutated = malloc (1 << 20);
    for (long i = 0; i < count && failures < 10; i++) {
        msgpack_sbuffer_clear (&sbuf);
        int deep = (int) (s_rand () % 40);         /* some inputs nest past 32 */
        for (int k = 0; k < deep && i % 7 == 0; k++)
            msgpack_pack_array (&pk, 1);
        s_gen (&pk, i % 7 == 0 ? deep : 0);
        size_t len = sbuf.size;
        memcpy (mutated, sbuf.data, len);
        /* Half the inputs are damaged: flipped, truncated or extended bytes. */
        uint64_t r = s_rand ();
        if (r % 2 && len) {
            int edits = 1 + (int) (r >> 8) % 4;
            for (int e = 0; e < edits; e++)
                mutated[s_rand () % len] = (char) s_rand ();
            if ((r >> 4) % 3 == 0)
                len = (size_t) (s_rand () % (len + 1));
            else if ((r >> 4) % 3 == 1)
                mutated[len++] = (char) s_rand ();
        }
        msgpack_object want, got;
        msgpack_zone_clear (zone);
        size_t off = 0;
        int old_ok = hp__msgpack_check (mutated, len) == 0
                     && msgpack_unpack (mutated, len, &off, zone, &want) == MSGPACK_UNPACK_SUCCESS
                     && off == len;
        int new_ok = hp__msgpack_decode (mutated, len, &arena, &got) == 0;
        if (old_ok != new_ok || (old_ok && !s_same (&want, &got))) {
            fprintf (stderr, "decode_check: input %ld (%zu bytes): before %s, now %s%s\n", i, len,
                     old_ok ? "accepted" : "refused", new_ok ? "accepted" : "refused",
                     old_ok && new_ok ? " with a different tree" : "");
            failures++;
        }
        accepted += new_ok;
    }
    printf ("decode_check: %ld inputs, %ld accepted, %ld disagreed with check + msgpack_unpack\n",
            count, accepted, failures);
    free (mutated);
    hp__msgpack_arena_free (&arena);
    msgpack_zone_free (zone);
    msgpack_sbuffer_destroy (&sbuf);
    return failures ? 1 : 0;
}
