/* msgpack_build.h -- msgpack packing helpers shared by the proto unit tests. */
#ifndef HERALD_TESTS_MSGPACK_BUILD_H
#define HERALD_TESTS_MSGPACK_BUILD_H

#include <string.h>
#include <msgpack.h>

/* Packs n bytes of s as a msgpack str. */
static inline void
mpb_str_n (msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

/* Packs a C string as a msgpack str. */
static inline void
mpb_str (msgpack_packer *pk, const char *s)
{
    mpb_str_n (pk, s, strlen (s));
}

/* Empties sbuf, points pk at it and opens a map of `pairs` pairs. */
static inline msgpack_packer *
mpb_begin (msgpack_sbuffer *sbuf, msgpack_packer *pk, size_t pairs)
{
    msgpack_sbuffer_clear (sbuf);
    msgpack_packer_init (pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (pk, pairs);
    return pk;
}

#endif
