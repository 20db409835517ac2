/* mpcheck.c -- internal: bounds-checked structural pre-scan of msgpack bytes. */
#include "mpcheck.h"

#include <stdint.h>

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
