/* json.c -- msgpack -> JSON text, and JSON string escaping. */
#include "json.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char s_hex [] = "0123456789abcdef";

//  Bytes that may be copied into a JSON string unchanged: printable ASCII
//  and DEL, other than '"' (0x22) and '\\' (0x5c). Everything else takes
//  the slow path below. A table: one load per byte instead of four compares.
static const unsigned char s_plain [256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

//  True when all 8 bytes of v are plain (word at a time: no byte below
//  0x20, none with the high bit, none equal to '"' or '\\').
static inline bool
s_plain8 (uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t below = (v - ones * 0x20) & ~v;             //  high bit: byte < 0x20
    uint64_t quote = v ^ (ones * 0x22), slash = v ^ (ones * 0x5c);
    quote = (quote - ones) & ~quote;                     //  high bit: byte == '"'
    slash = (slash - ones) & ~slash;                     //  high bit: byte == '\\'
    return ((below | quote | slash | v) & highs) == 0;
}

//  The buffer's fast paths, inlined: cap never exceeds the limit, so room
//  below cap needs no limit check; otherwise buf.c decides (and may refuse).
static inline int
s_reserve (hp_buf_t *out, size_t more)
{
    return out->cap - out->len >= more ? 0 : hp_buf_reserve (out, more);
}

static inline int
s_putc (hp_buf_t *out, char c)
{
    if (out->len < out->cap) {
        out->data [out->len++] = c;
        return 0;
    }
    return hp_buf_putc (out, c);
}

static inline int
s_append (hp_buf_t *out, const char *bytes, size_t n)
{
    if (s_reserve (out, n))
        return -1;
    memcpy (out->data + out->len, bytes, n);
    out->len += n;
    return 0;
}

//  A string literal, its length known at compile time.
#define S_PUTS(out, literal) s_append ((out), (literal), sizeof (literal) - 1)

//  Length of the UTF-8 sequence at s (1-4) when it is well-formed, else 0 and
//  *bad is set to the length of its maximal subpart (the bytes to replace
//  with one U+FFFD, at least 1), per Unicode's "best practice" (ch. 3, U+FFFD
//  substitution of maximal subparts). *cp receives the code point.
static size_t
s_utf8_decode (const unsigned char *s, size_t n, uint32_t *cp, size_t *bad)
{
    unsigned char b = s [0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;     //  range of the second byte
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        *cp = b & 0x1f;
    }
    else
    if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        *cp = b & 0x0f;
        if (b == 0xe0)
            lo = 0xa0;                      //  no overlongs
        if (b == 0xed)
            hi = 0x9f;                      //  no surrogates
    }
    else
    if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        *cp = b & 0x07;
        if (b == 0xf0)
            lo = 0x90;                      //  no overlongs
        if (b == 0xf4)
            hi = 0x8f;                      //  nothing past U+10FFFF
    }
    else {
        *bad = 1;                           //  80-c1, f5-ff never start one
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        unsigned char c = i < n ? s [i] : 0;
        bool ok = i < n && (i == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xbf));
        if (!ok) {
            *bad = i;
            return 0;
        }
        *cp = (*cp << 6) | (c & 0x3f);
    }
    return need + 1;
}

//  Escapes n bytes of p into w, or only counts when w is NULL; returns the
//  escaped length (quotes not included). Never more than 6 * n: a control
//  byte becomes \u00XX, U+2028 (3 bytes) \u2028, a bad byte U+FFFD (3).
static size_t
s_escape (char *w, const unsigned char *p, size_t n)
{
    size_t written = 0;
    size_t i = 0;
    while (i < n) {
        //  Plain bytes are copied as they are checked: strings in events
        //  are short, and a memcpy call per run cost more than the bytes.
        if (w) {
            while (i + 8 <= n) {
                uint64_t v;
                memcpy (&v, p + i, 8);
                if (!s_plain8 (v))
                    break;
                memcpy (w + written, &v, 8);
                written += 8;
                i += 8;
            }
            while (i < n && s_plain [p [i]])
                w [written++] = (char) p [i++];
        }
        else
            while (i < n && s_plain [p [i]]) {
                written++;
                i++;
            }
        if (i >= n)
            break;
        unsigned char b = p [i];
        const char *piece;
        size_t piece_len;
        char esc [6];
        if (b < 0x80) {
            esc [0] = '\\';
            piece_len = 2;
            switch (b) {
                case '"':  esc [1] = '"'; break;
                case '\\': esc [1] = '\\'; break;
                case '\b': esc [1] = 'b'; break;
                case '\f': esc [1] = 'f'; break;
                case '\n': esc [1] = 'n'; break;
                case '\r': esc [1] = 'r'; break;
                case '\t': esc [1] = 't'; break;
                default:
                    esc [1] = 'u';
                    esc [2] = '0';
                    esc [3] = '0';
                    esc [4] = s_hex [b >> 4];
                    esc [5] = s_hex [b & 0x0f];
                    piece_len = 6;
            }
            piece = esc;
            i++;
        }
        else {
            uint32_t cp;
            size_t bad = 0;
            size_t seq = s_utf8_decode (p + i, n - i, &cp, &bad);
            if (seq == 0) {
                piece = "\xef\xbf\xbd";
                piece_len = 3;
                i += bad;
            }
            else
            if (cp == 0x2028 || cp == 0x2029) {
                //  Valid JSON either way, but JavaScript before ES2019
                //  treats them as line ends: escape them for pages that
                //  embed frames in scripts.
                piece = cp == 0x2028 ? "\\u2028" : "\\u2029";
                piece_len = 6;
                i += seq;
            }
            else {
                piece = (const char *) p + i;
                piece_len = seq;
                i += seq;
            }
        }
        if (w)
            memcpy (w + written, piece, piece_len);
        written += piece_len;
    }
    return written;
}

int
hp_json_put_string (hp_buf_t *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    //  Fast path for short plain strings (event names, keys, most values)
    //  with room already there: copy while checking; anything to escape
    //  falls through to the general path, which rewrites from the start.
    //  The tail of 4 to 7 bytes is two overlapping 4-byte words and the
    //  tail after whole 8-byte words one overlapping 8-byte word, all
    //  within the string's bytes: no byte loop but for strings under 4.
    if (n <= 64 && out->cap - out->len >= n + 2) {
        char *w = out->data + out->len + 1;
        bool plain = true;
        if (n >= 8) {
            size_t i = 0;
            for (; i + 8 <= n && plain; i += 8) {
                uint64_t v;
                memcpy (&v, p + i, 8);
                plain = s_plain8 (v);
                memcpy (w + i, &v, 8);
            }
            if (plain && i < n) {
                uint64_t v;
                memcpy (&v, p + n - 8, 8);
                plain = s_plain8 (v);
                memcpy (w + n - 8, &v, 8);
            }
        }
        else
        if (n >= 4) {
            uint32_t a, b;
            memcpy (&a, p, 4);
            memcpy (&b, p + n - 4, 4);
            plain = s_plain8 ((uint64_t) a << 32 | b);
            memcpy (w, &a, 4);
            memcpy (w + n - 4, &b, 4);
        }
        else
            for (size_t i = 0; i < n; i++) {
                plain &= s_plain [p [i]];
                w [i] = (char) p [i];
            }
        if (plain) {
            w [-1] = '"';
            w [n] = '"';
            out->len += n + 2;
            return 0;
        }
    }
    //  One pass when the worst case fits the buffer's limit; otherwise a
    //  counting pass first, so a string that fits exactly is not refused.
    size_t room = n <= (SIZE_MAX - 2) / 6 ? 6 * n : SIZE_MAX;
    if (room == SIZE_MAX || s_reserve (out, room + 2)) {
        room = s_escape (NULL, p, n);
        if (hp_buf_reserve (out, room + 2))
            return -1;
    }
    char *w = out->data + out->len;
    *w++ = '"';
    w += s_escape (w, p, n);
    *w++ = '"';
    out->len = (size_t) (w - out->data);
    return 0;
}

static int
s_put_base64 (hp_buf_t *out, const unsigned char *p, size_t n)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n == 0)
        return 0;           //  out->data may still be NULL: no pointer math
    if (n > (SIZE_MAX - 3) / 4 * 3 || hp_buf_reserve (out, (n + 2) / 3 * 4))
        return -1;
    char *w = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t) p [i] << 16 | (uint32_t) p [i + 1] << 8 | p [i + 2];
        *w++ = alphabet [v >> 18];
        *w++ = alphabet [(v >> 12) & 63];
        *w++ = alphabet [(v >> 6) & 63];
        *w++ = alphabet [v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t) p [i] << 16;
        *w++ = alphabet [v >> 18];
        *w++ = alphabet [(v >> 12) & 63];
        *w++ = '=';
        *w++ = '=';
    }
    else
    if (n - i == 2) {
        uint32_t v = (uint32_t) p [i] << 16 | (uint32_t) p [i + 1] << 8;
        *w++ = alphabet [v >> 18];
        *w++ = alphabet [(v >> 12) & 63];
        *w++ = alphabet [(v >> 6) & 63];
        *w++ = '=';
    }
    out->len = (size_t) (w - out->data);
    return 0;
}

//  10^0 .. 10^19 (10^20 is 10^19 * 10, done in 128 bits by the caller).
static const uint64_t s_pow10 [20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
    1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
    1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
    1000000000000000000ULL, 10000000000000000000ULL };

//  Exactly what snprintf ("%.17g") writes, for the doubles that print in
//  fixed notation (1e-4 <= |d| < 1e17) and zero; returns the length, or 0
//  to make the caller use snprintf (exponent notation, subnormals).
//  printf renders doubles through arbitrary-precision arithmetic, ~400 ns
//  each; here d = m * 2^e with m < 2^53 and, in this range, -67 <= e <= 4,
//  so m * 10^s (s <= 20) fits 128 bits and the 17-digit rounding (to
//  nearest, ties to even, as printf in the default rounding mode) is exact.
static size_t
s_format_double (char *text, double d)
{
    uint64_t bits;
    memcpy (&bits, &d, sizeof bits);
    size_t n = 0;
    if (bits >> 63)
        text [n++] = '-';
    int biased = (int) ((bits >> 52) & 0x7ff);
    uint64_t m = bits & ((1ULL << 52) - 1);
    if (biased == 0 && m == 0) {
        text [n++] = '0';
        return n;
    }
    if (biased == 0 || biased == 0x7ff)
        return 0;                           //  subnormal (tiny), inf, nan
    m |= 1ULL << 52;
    int e = biased - 1075;                  //  d = m * 2^e
    double a = d < 0 ? -d : d;
    if (!(a >= 1e-4 && a < 1e17))
        return 0;
    //  X: the decimal exponent of d, from rounded powers of ten, so
    //  possibly one off; the loop below corrects it from the exact digits.
    static const double s_tens [] = { 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5,
                                      1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                                      1e14, 1e15, 1e16 };
    int x = -4;
    while (x < 16 && a >= s_tens [x + 4])
        x++;
    const uint64_t lo = s_pow10 [16], hi = s_pow10 [17];
    unsigned __int128 digits = 0;
    for (int tries = 0; tries < 3; tries++) {
        int s = 16 - x;                     //  scale so 17 digits are integral
        if (s < 0 || s > 20)
            return 0;
        unsigned __int128 p = (unsigned __int128) m * s_pow10 [s < 20 ? s : 19];
        if (s == 20)
            p *= 10;
        if (e >= 0)
            digits = p << e;
        else {
            int k = -e;
            if (k > 127)
                return 0;
            unsigned __int128 q = p >> k;
            unsigned __int128 rem = p - (q << k);
            unsigned __int128 half = (unsigned __int128) 1 << (k - 1);
            if (rem > half || (rem == half && (q & 1)))
                q++;
            digits = q;
        }
        if (digits >= hi)
            x++;                            //  estimate low, or rounded up to 10^17
        else
        if (digits < lo)
            x--;                            //  estimate high
        else
            break;
    }
    if (digits < lo || digits >= hi || x < -4 || x > 16)
        return 0;
    uint64_t v = (uint64_t) digits;         //  < 10^17: 64-bit division from here
    char d17 [17];
    for (int i = 16; i >= 0; i--) {
        d17 [i] = (char) ('0' + (int) (v % 10));
        v /= 10;
    }
    int last = 16;                          //  %g drops trailing zeros
    while (last > 0 && d17 [last] == '0')
        last--;
    if (x >= 0) {
        for (int i = 0; i <= x; i++)
            text [n++] = d17 [i];
        if (last > x) {
            text [n++] = '.';
            for (int i = x + 1; i <= last; i++)
                text [n++] = d17 [i];
        }
    }
    else {
        text [n++] = '0';
        text [n++] = '.';
        for (int i = 0; i < -x - 1; i++)
            text [n++] = '0';
        for (int i = 0; i <= last; i++)
            text [n++] = d17 [i];
    }
    return n;
}

//  Test hook (declared where used): the fast path alone, 0 when it defers.
size_t hp__json_format_double (char *text, double d);
size_t
hp__json_format_double (char *text, double d)
{
    return s_format_double (text, d);
}

static int
s_put_double (hp_buf_t *out, double d)
{
    if (!isfinite (d))
        return S_PUTS (out, "null");
    char text [40];
    size_t fast = s_format_double (text, d);
    if (fast)
        return s_append (out, text, fast);
    int n = snprintf (text, sizeof text, "%.17g", d);
    if (n <= 0 || (size_t) n >= sizeof text)
        return -1;
    //  A program that called setlocale() may get a decimal comma; JSON
    //  only knows the point. %.17g emits no thousands separators.
    for (int i = 0; i < n; i++)
        if (text [i] == ',')
            text [i] = '.';
    return hp_buf_append (out, text, (size_t) n);
}

static int s_value (hp_buf_t *out, const msgpack_object *obj, int depth, bool in_key);

//  A map key: str as-is, bin/ext as their base64 text, anything else as its
//  JSON text; then written as a JSON string (PROTOCOL.md, msgpack -> JSON).
//  in_key: this map is itself inside a key being rendered. Its non-str
//  keys are then written as their text, unquoted: the enclosing key is
//  escaped once as a whole. Quoting each level again doubled every quote
//  and backslash per level of keys within keys (a 71-byte envelope took
//  ~3.6 ms and passed a 1 MiB frame), where this costs one pass.
static int
s_put_key (hp_buf_t *out, const msgpack_object *key, int depth, bool in_key)
{
    if (key->type == MSGPACK_OBJECT_STR)
        return hp_json_put_string (out, key->via.str.ptr, key->via.str.size);
    if (in_key) {
        if (key->type == MSGPACK_OBJECT_BIN)
            return s_put_base64 (out, (const unsigned char *) key->via.bin.ptr,
                                 key->via.bin.size);
        if (key->type == MSGPACK_OBJECT_EXT)
            return s_put_base64 (out, (const unsigned char *) key->via.ext.ptr,
                                 key->via.ext.size);
        return s_value (out, key, depth, true);
    }
    //  Rare path: render the key on its own, then quote it. The scratch
    //  buffer shares out's limit, so a huge key fails like a huge value.
    if (out->limit && out->len >= out->limit)
        return -1;
    hp_buf_t scratch;
    hp_buf_init (&scratch, out->limit ? out->limit - out->len : 0);
    int rc;
    if (key->type == MSGPACK_OBJECT_BIN)
        rc = s_put_base64 (&scratch, (const unsigned char *) key->via.bin.ptr,
                           key->via.bin.size);
    else
    if (key->type == MSGPACK_OBJECT_EXT)
        rc = s_put_base64 (&scratch, (const unsigned char *) key->via.ext.ptr,
                           key->via.ext.size);
    else
        rc = s_value (&scratch, key, depth, true);
    if (rc == 0)
        rc = hp_json_put_string (out, scratch.data ? scratch.data : "", scratch.len);
    hp_buf_free (&scratch);
    return rc;
}

//  depth counts the containers already open around obj.
static int
s_value (hp_buf_t *out, const msgpack_object *obj, int depth, bool in_key)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL:
            return S_PUTS (out, "null");
        case MSGPACK_OBJECT_BOOLEAN:
            return obj->via.boolean ? S_PUTS (out, "true") : S_PUTS (out, "false");
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return hp_buf_put_u64 (out, obj->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return hp_buf_put_i64 (out, obj->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return s_put_double (out, obj->via.f64);
        case MSGPACK_OBJECT_STR:
            return hp_json_put_string (out, obj->via.str.ptr, obj->via.str.size);
        case MSGPACK_OBJECT_BIN:
        case MSGPACK_OBJECT_EXT: {
            const char *ptr = obj->type == MSGPACK_OBJECT_BIN ? obj->via.bin.ptr
                                                              : obj->via.ext.ptr;
            uint32_t size = obj->type == MSGPACK_OBJECT_BIN ? obj->via.bin.size
                                                            : obj->via.ext.size;
            return s_putc (out, '"')
                || s_put_base64 (out, (const unsigned char *) ptr, size)
                || s_putc (out, '"');
        }
        case MSGPACK_OBJECT_ARRAY: {
            if (depth >= HP_JSON_DEPTH_MAX)
                return -1;
            if (s_putc (out, '['))
                return -1;
            for (uint32_t i = 0; i < obj->via.array.size; i++) {
                if (i && s_putc (out, ','))
                    return -1;
                if (s_value (out, &obj->via.array.ptr [i], depth + 1, in_key))
                    return -1;
            }
            return s_putc (out, ']');
        }
        case MSGPACK_OBJECT_MAP: {
            if (depth >= HP_JSON_DEPTH_MAX)
                return -1;
            if (s_putc (out, '{'))
                return -1;
            for (uint32_t i = 0; i < obj->via.map.size; i++) {
                const msgpack_object_kv *kv = &obj->via.map.ptr [i];
                if (i && s_putc (out, ','))
                    return -1;
                if (s_put_key (out, &kv->key, depth + 1, in_key)
                ||  s_putc (out, ':')
                ||  s_value (out, &kv->val, depth + 1, in_key))
                    return -1;
            }
            return s_putc (out, '}');
        }
    }
    return -1;      //  a type this msgpack-c does not define
}

int
hp_json_from_msgpack (hp_buf_t *out, const msgpack_object *obj)
{
    return s_value (out, obj, 0, false);
}
