/* hash.h -- the keyed hash (SipHash-1-3, random key per process) under every user map. */
#ifndef HERALD_PROTO_HASH_H
#define HERALD_PROTO_HASH_H

#include <stddef.h>
#include <stdint.h>

/* User ids come from producers and browsers, so a map keyed by them must
 * not let anyone choose ids that share a probe chain or a bucket. SipHash
 * with a 128-bit key drawn from getrandom when the process starts (a
 * constructor: no call needed, and nothing to forget in a new program)
 * makes collisions unpredictable without the key. 1 compression and 3
 * finalization rounds: the variant hash tables use (Rust's std, Python's
 * str hash since 3.11 uses 1-3 too); the user map's load factor, not the
 * hash, is what keeps lookups short. */
uint64_t hp_hash (const void *key, size_t len);

/* Replaces the process's key (tests that want repeatable hashes; fuzz
 * drivers). Not thread-safe: call before any map is used. */
void hp_hash_set_key (uint64_t k0, uint64_t k1);

/* SipHash-1-3 and -2-4 under an explicit key (k0, k1: the key's two
 * little-endian halves). hp_hash is hp_siphash13 with the process's key;
 * -2-4 shares the code and is here so a test can check it against the
 * published reference vectors. */
uint64_t hp_siphash13 (uint64_t k0, uint64_t k1, const void *key, size_t len);
uint64_t hp_siphash24 (uint64_t k0, uint64_t k1, const void *key, size_t len);

#endif
