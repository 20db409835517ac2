/* mpcheck.c -- internal: bounds-checked structural pre-scan and decoder of msgpack bytes. */
#include "mpcheck.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *p;
    size_t left;
} s_cursor_t;

static int
s_take (s_cursor_t *c, size_t n)
{
    if (n > c->left)
        return -1;
    c->p += n;
    c->left -= n;
    return 0;
}

//  Reads a big-endian length of `width` bytes (1, 2 or 4).
static int
s_length (s_cursor_t *c, int width, size_t *out)
{
    if ((size_t) width > c->left)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | c->p [i];
    c->p += width;
    c->left -= (size_t) width;
    *out = v;
    return 0;
}

static int s_value (s_cursor_t *c, int depth);

//  A container of `items` objects (a map passes 2 * pairs). Each object takes
//  at least one byte, so a count larger than the bytes left is a lie.
static int
s_container (s_cursor_t *c, size_t items, int depth)
{
    if (depth >= HP__MSGPACK_DEPTH_MAX || items > c->left)
        return -1;
    for (size_t i = 0; i < items; i++)
        if (s_value (c, depth + 1))
            return -1;
    return 0;
}

static int
s_value (s_cursor_t *c, int depth)
{
    if (c->left == 0)
        return -1;
    unsigned char b = *c->p;
    c->p++;
    c->left--;
    size_t n;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 0;                                   //  fixint, nil, bool
    if (b >= 0x80 && b <= 0x8f)
        return s_container (c, (size_t) (b & 0x0f) * 2, depth);
    if (b >= 0x90 && b <= 0x9f)
        return s_container (c, b & 0x0f, depth);
    if (b >= 0xa0 && b <= 0xbf)
        return s_take (c, b & 0x1f);                //  fixstr
    switch (b) {
        case 0xc4: case 0xd9:                       //  bin8, str8
            return s_length (c, 1, &n) || s_take (c, n);
        case 0xc5: case 0xda:                       //  bin16, str16
            return s_length (c, 2, &n) || s_take (c, n);
        case 0xc6: case 0xdb:                       //  bin32, str32
            return s_length (c, 4, &n) || s_take (c, n);
        case 0xc7:                                  //  ext8: len, type, data
            return s_length (c, 1, &n) || s_take (c, 1) || s_take (c, n);
        case 0xc8:
            return s_length (c, 2, &n) || s_take (c, 1) || s_take (c, n);
        case 0xc9:
            return s_length (c, 4, &n) || s_take (c, 1) || s_take (c, n);
        case 0xca: return s_take (c, 4);            //  float32
        case 0xcb: return s_take (c, 8);            //  float64
        case 0xcc: case 0xd0: return s_take (c, 1);
        case 0xcd: case 0xd1: return s_take (c, 2);
        case 0xce: case 0xd2: return s_take (c, 4);
        case 0xcf: case 0xd3: return s_take (c, 8);
        case 0xd4: return s_take (c, 2);            //  fixext 1..16: type + data
        case 0xd5: return s_take (c, 3);
        case 0xd6: return s_take (c, 5);
        case 0xd7: return s_take (c, 9);
        case 0xd8: return s_take (c, 17);
        case 0xdc:                                  //  array16
            return s_length (c, 2, &n) || s_container (c, n, depth);
        case 0xdd:                                  //  array32
            return s_length (c, 4, &n) || s_container (c, n, depth);
        case 0xde:                                  //  map16
            return s_length (c, 2, &n) || s_container (c, n * 2, depth);
        case 0xdf:                                  //  map32
            return s_length (c, 4, &n) || s_container (c, n * 2, depth);
        default:                                    //  0xc1: never used
            return -1;
    }
}

int
hp__msgpack_check (const char *bytes, size_t len)
{
    s_cursor_t c = { (const unsigned char *) bytes, len };
    if (len == 0 || s_value (&c, 0))
        return -1;
    return c.left == 0 ? 0 : -1;
}

/* --- the decoder ---------------------------------------------------------
 *
 * One pass that checks what the scan above checks and builds msgpack-c's
 * object tree at the same time: the envelope used to pay for the scan, then
 * for msgpack_unpack walking the same bytes again and allocating every
 * container from its zone. Children of a container take consecutive slots
 * of the arena (a map's n pairs are 2n slots, laid out as msgpack_object_kv).
 * Every object takes at least one byte, so a valid input of len bytes needs
 * fewer than len slots; reservations past that prove the input lies about
 * its counts and refuse it. */

_Static_assert (sizeof (msgpack_object_kv) == 2 * sizeof (msgpack_object),
                "a map's pairs are carved from the object slots");

typedef struct {
    const unsigned char *p;
    size_t          left;
    msgpack_object *objs;
    size_t          used, cap;
} s_decoder_t;

void
hp__msgpack_arena_free (hp__msgpack_arena_t *arena)
{
    free (arena->objs);
    arena->objs = NULL;
    arena->cap = 0;
}

static inline uint64_t
s_be (const unsigned char *p, int width)
{
    uint64_t v = 0;
    for (int i = 0; i < width; i++)
        v = (v << 8) | p [i];
    return v;
}

//  Takes n bytes as a str/bin body (ptr into the input) or fails.
static inline int
s_body (s_decoder_t *d, size_t n, const char **ptr)
{
    if (n > d->left)
        return -1;
    *ptr = (const char *) d->p;
    d->p += n;
    d->left -= n;
    return 0;
}

//  Reads a big-endian length of `width` bytes (1, 2 or 4).
static inline int
s_dlength (s_decoder_t *d, int width, size_t *out)
{
    if ((size_t) width > d->left)
        return -1;
    *out = (size_t) s_be (d->p, width);
    d->p += width;
    d->left -= (size_t) width;
    return 0;
}

static int s_decode (s_decoder_t *d, msgpack_object *o, int depth);

//  `items` objects into fresh slots; a map passes 2 * pairs.
static int
s_decode_items (s_decoder_t *d, size_t items, int depth, msgpack_object **first)
{
    if (depth >= HP__MSGPACK_DEPTH_MAX || items > d->left || items > d->cap - d->used)
        return -1;
    *first = NULL;
    if (items == 0)
        return 0;                   //  msgpack-c leaves ptr NULL here too
    msgpack_object *slots = d->objs + d->used;
    d->used += items;
    for (size_t i = 0; i < items; i++) {
        //  Inline the leaves envelopes are made of (short strings, small
        //  ints): the full decoder's call costs more than the object.
        msgpack_object *o = &slots [i];
        unsigned char b = d->left ? *d->p : 0xc1;
        if (b >= 0xa0 && b <= 0xbf && (size_t) (b & 0x1f) < d->left) {
            o->type = MSGPACK_OBJECT_STR;
            o->via.str.size = b & 0x1f;
            o->via.str.ptr = (const char *) d->p + 1;
            d->p += (b & 0x1f) + 1;
            d->left -= (size_t) (b & 0x1f) + 1;
        }
        else
        if (b <= 0x7f) {
            o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            o->via.u64 = b;
            d->p++;
            d->left--;
        }
        else
        if (s_decode (d, o, depth + 1))
            return -1;
    }
    *first = slots;
    return 0;
}

static int
s_decode_array (s_decoder_t *d, msgpack_object *o, size_t n, int depth)
{
    o->type = MSGPACK_OBJECT_ARRAY;
    o->via.array.size = (uint32_t) n;
    return s_decode_items (d, n, depth, &o->via.array.ptr);
}

static int
s_decode_map (s_decoder_t *d, msgpack_object *o, size_t n, int depth)
{
    msgpack_object *first;
    o->type = MSGPACK_OBJECT_MAP;
    o->via.map.size = (uint32_t) n;
    if (s_decode_items (d, n * 2, depth, &first))
        return -1;
    o->via.map.ptr = (msgpack_object_kv *) (void *) first;
    return 0;
}

//  ext: `n` data bytes after a one-byte type.
static int
s_decode_ext (s_decoder_t *d, msgpack_object *o, size_t n)
{
    if (d->left < 1 || n > d->left - 1)
        return -1;
    o->type = MSGPACK_OBJECT_EXT;
    o->via.ext.type = (int8_t) d->p [0];
    o->via.ext.size = (uint32_t) n;
    o->via.ext.ptr = (const char *) d->p + 1;
    d->p += n + 1;
    d->left -= n + 1;
    return 0;
}

//  A fixed-size scalar of `width` bytes, big-endian.
static inline int
s_fixed (s_decoder_t *d, int width, uint64_t *v)
{
    if ((size_t) width > d->left)
        return -1;
    *v = s_be (d->p, width);
    d->p += width;
    d->left -= (size_t) width;
    return 0;
}

static inline void
s_signed (msgpack_object *o, int64_t v)
{
    if (v >= 0) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = (uint64_t) v;
    }
    else {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = v;
    }
}

static int
s_decode (s_decoder_t *d, msgpack_object *o, int depth)
{
    if (d->left == 0)
        return -1;
    unsigned char b = *d->p++;
    d->left--;
    size_t n;
    uint64_t v;
    if (b >= 0xa0 && b <= 0xbf) {                   //  fixstr: the common case
        o->type = MSGPACK_OBJECT_STR;
        o->via.str.size = b & 0x1f;
        return s_body (d, b & 0x1f, &o->via.str.ptr);
    }
    if (b <= 0x7f) {
        o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
        o->via.u64 = b;
        return 0;
    }
    if (b >= 0xe0) {
        o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
        o->via.i64 = (int8_t) b;
        return 0;
    }
    if (b <= 0x8f)
        return s_decode_map (d, o, b & 0x0f, depth);
    if (b <= 0x9f)
        return s_decode_array (d, o, b & 0x0f, depth);
    switch (b) {
        case 0xc0:
            o->type = MSGPACK_OBJECT_NIL;
            return 0;
        case 0xc2: case 0xc3:
            o->type = MSGPACK_OBJECT_BOOLEAN;
            o->via.boolean = b == 0xc3;
            return 0;
        case 0xc4: case 0xc5: case 0xc6:            //  bin 8/16/32
            if (s_dlength (d, 1 << (b - 0xc4), &n))
                return -1;
            o->type = MSGPACK_OBJECT_BIN;
            o->via.bin.size = (uint32_t) n;
            return s_body (d, n, &o->via.bin.ptr);
        case 0xd9: case 0xda: case 0xdb:            //  str 8/16/32
            if (s_dlength (d, 1 << (b - 0xd9), &n))
                return -1;
            o->type = MSGPACK_OBJECT_STR;
            o->via.str.size = (uint32_t) n;
            return s_body (d, n, &o->via.str.ptr);
        case 0xc7: case 0xc8: case 0xc9:            //  ext 8/16/32
            return s_dlength (d, 1 << (b - 0xc7), &n) || s_decode_ext (d, o, n);
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:   //  fixext 1..16
            return s_decode_ext (d, o, (size_t) 1 << (b - 0xd4));
        case 0xca: {
            if (s_fixed (d, 4, &v))
                return -1;
            uint32_t bits = (uint32_t) v;
            float f;
            memcpy (&f, &bits, sizeof f);
            o->type = MSGPACK_OBJECT_FLOAT32;
            o->via.f64 = f;
            return 0;
        }
        case 0xcb: {
            if (s_fixed (d, 8, &v))
                return -1;
            double f;
            memcpy (&f, &v, sizeof f);
            o->type = MSGPACK_OBJECT_FLOAT64;
            o->via.f64 = f;
            return 0;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf: //  uint 8/16/32/64
            if (s_fixed (d, 1 << (b - 0xcc), &v))
                return -1;
            o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
            o->via.u64 = v;
            return 0;
        case 0xd0:
            if (s_fixed (d, 1, &v))
                return -1;
            s_signed (o, (int8_t) v);
            return 0;
        case 0xd1:
            if (s_fixed (d, 2, &v))
                return -1;
            s_signed (o, (int16_t) v);
            return 0;
        case 0xd2:
            if (s_fixed (d, 4, &v))
                return -1;
            s_signed (o, (int32_t) v);
            return 0;
        case 0xd3:
            if (s_fixed (d, 8, &v))
                return -1;
            s_signed (o, (int64_t) v);
            return 0;
        case 0xdc: case 0xdd:                       //  array 16/32
            return s_dlength (d, 2 << (b - 0xdc), &n) || s_decode_array (d, o, n, depth);
        case 0xde: case 0xdf:                       //  map 16/32
            return s_dlength (d, 2 << (b - 0xde), &n) || s_decode_map (d, o, n, depth);
        default:                                    //  0xc1: never used
            return -1;
    }
}

int
hp__msgpack_decode (const char *bytes, size_t len, hp__msgpack_arena_t *arena,
                    msgpack_object *root)
{
    return hp__msgpack_decode_bounded (bytes, len, arena, SIZE_MAX, root);
}

int
hp__msgpack_decode_bounded (const char *bytes, size_t len, hp__msgpack_arena_t *arena,
                            size_t max_objects, msgpack_object *root)
{
    if (len == 0)
        return -1;
    //  len slots always suffice (every object takes a byte); a smaller
    //  bound refuses inputs holding more objects, whatever their size.
    size_t want = len < max_objects ? len : max_objects;
    if (arena->cap < want) {
        size_t cap = arena->cap ? arena->cap : 256;
        while (cap < want)
            cap *= 2;
        if (cap > max_objects)
            cap = max_objects;
        if (cap > SIZE_MAX / sizeof (msgpack_object))
            return -1;
        msgpack_object *objs = realloc (arena->objs, cap * sizeof *objs);
        if (!objs)
            return -1;
        arena->objs = objs;
        arena->cap = cap;
    }
    s_decoder_t d = { (const unsigned char *) bytes, len, arena->objs, 0,
                      arena->cap < max_objects ? arena->cap : max_objects };
    if (s_decode (&d, root, 0))
        return -1;
    return d.left == 0 ? 0 : -1;
}
