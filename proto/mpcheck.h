/* mpcheck.h -- internal: bounds-checked structural pre-scan of msgpack bytes. */
#ifndef HERALD_PROTO_MPCHECK_H
#define HERALD_PROTO_MPCHECK_H

#include <stddef.h>

/* msgpack-c's unpacker refuses more than 32 nested containers
 * (MSGPACK_EMBED_STACK_SIZE); the scan uses the same bound so both agree. */
#define HP__MSGPACK_DEPTH_MAX 32

/* Returns 0 when bytes hold exactly one well-formed msgpack object (no
 * trailing bytes) nested at most HP__MSGPACK_DEPTH_MAX containers deep, in
 * which every array/map announces no more elements than bytes remain.
 * Returns -1 otherwise. Run before msgpack_unpack so a 10-byte input cannot
 * make the unpacker allocate gigabytes for an array it claims to hold. */
int hp__msgpack_check (const char *bytes, size_t len);

#endif
