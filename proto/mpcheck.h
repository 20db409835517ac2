/* mpcheck.h -- internal: bounds-checked structural pre-scan and decoder of msgpack bytes. */
#ifndef HERALD_PROTO_MPCHECK_H
#define HERALD_PROTO_MPCHECK_H

#include <stddef.h>
#include <msgpack.h>

/* msgpack-c's unpacker refuses more than 32 nested containers
 * (MSGPACK_EMBED_STACK_SIZE); the scan uses the same bound so both agree. */
#define HP__MSGPACK_DEPTH_MAX 32

/* Returns 0 when bytes hold exactly one well-formed msgpack object (no
 * trailing bytes) nested at most HP__MSGPACK_DEPTH_MAX containers deep, in
 * which every array/map announces no more elements than bytes remain.
 * Returns -1 otherwise. Run before msgpack_unpack so a 10-byte input cannot
 * make the unpacker allocate gigabytes for an array it claims to hold. */
int hp__msgpack_check (const char *bytes, size_t len);

/* Where hp__msgpack_decode builds its objects; reused from call to call so
 * the steady state allocates nothing. Start zeroed; free with
 * hp__msgpack_arena_free. */
typedef struct {
    msgpack_object *objs;
    size_t          cap;
} hp__msgpack_arena_t;

void hp__msgpack_arena_free (hp__msgpack_arena_t *arena);

/* Accepts exactly the bytes hp__msgpack_check accepts and fills *root with
 * the tree msgpack_unpack would build (same types and values: non-negative
 * signed ints are POSITIVE_INTEGER, float32 is FLOAT32 widened, str/bin/ext
 * point into bytes; the ptr of an empty str/bin/ext/array/map is unspecified,
 * as msgpack-c's own varies, and must not be read), in one pass and
 * without msgpack-c's zone. The tree lives in the arena until the next call.
 * Returns 0, or -1 when the bytes are refused or memory ran out. */
int hp__msgpack_decode (const char *bytes, size_t len, hp__msgpack_arena_t *arena,
                        msgpack_object *root);

/* The same with at most max_objects objects in the tree (containers and
 * scalars, a map's pairs counting two): the arena never grows past
 * max_objects slots, so a request of many tiny objects costs a bounded
 * arena rather than ~24 bytes of tree per input byte. Returns -1 when the
 * input holds more. */
int hp__msgpack_decode_bounded (const char *bytes, size_t len, hp__msgpack_arena_t *arena,
                                size_t max_objects, msgpack_object *root);

#endif
