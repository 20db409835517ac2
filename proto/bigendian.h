/* bigendian.h -- big-endian integers in byte buffers: the wire's headers and the broker's store records. */
#ifndef HERALD_PROTO_BIGENDIAN_H
#define HERALD_PROTO_BIGENDIAN_H

#include <stdint.h>
#include <string.h>

/* One byte swap and one (unaligned-safe) copy each, not a byte loop: every
 * publish packs two of them. */
static inline void
hp_be64_put (unsigned char *out, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64 (v);
#endif
    memcpy (out, &v, sizeof v);
}

static inline uint64_t
hp_be64_get (const unsigned char *in)
{
    uint64_t v;
    memcpy (&v, in, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64 (v);
#endif
    return v;
}

static inline void
hp_be32_put (unsigned char *out, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32 (v);
#endif
    memcpy (out, &v, sizeof v);
}

static inline uint32_t
hp_be32_get (const unsigned char *in)
{
    uint32_t v;
    memcpy (&v, in, sizeof v);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap32 (v);
#endif
    return v;
}

#endif
