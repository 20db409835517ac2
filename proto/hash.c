/* hash.c -- the keyed hash (SipHash-1-3, random key per process) under every user map. */
#include "hash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* Set once before main (below) and only read after, so the threads that
 * hash (the gateway's loop, the broker's main and HTTP threads) need no lock. */
static uint64_t s_k0 = 0x736f6d6570736575ULL, s_k1 = 0x646f72616e646f6dULL;

__attribute__ ((constructor)) static void
s_key_init (void)
{
    uint64_t key[2];
    if (getrandom (key, sizeof key, 0) != (ssize_t) sizeof key) {
        /* No entropy source at all (a very old kernel, a seccomp jail):
         * still different per process and per start, if guessable. */
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        key[0] = (uint64_t) ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t) ts.tv_sec;
        key[1] = (uint64_t) getpid () * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t) (uintptr_t) &ts;
    }
    s_k0 ^= key[0];
    s_k1 ^= key[1];
}

void
hp_hash_set_key (uint64_t k0, uint64_t k1)
{
    s_k0 = k0;
    s_k1 = k1;
}

#define S_ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

#define S_SIPROUND                                                    \
    do {                                                              \
        v0 += v1; v1 = S_ROTL (v1, 13); v1 ^= v0; v0 = S_ROTL (v0, 32); \
        v2 += v3; v3 = S_ROTL (v3, 16); v3 ^= v2;                     \
        v0 += v3; v3 = S_ROTL (v3, 21); v3 ^= v0;                     \
        v2 += v1; v1 = S_ROTL (v1, 17); v1 ^= v2; v2 = S_ROTL (v2, 32); \
    } while (0)

static inline uint64_t
s_le64 (const unsigned char *p)
{
    uint64_t v;
    memcpy (&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64 (v);
#endif
    return v;
}

/* c compression and d finalization rounds; constants at each call, so
 * the loops unroll. */
static inline __attribute__ ((always_inline)) uint64_t
s_siphash (uint64_t k0, uint64_t k1, const void *key, size_t len, int c, int d)
{
    const unsigned char *p = key;
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    size_t left = len;
    for (; left >= 8; left -= 8, p += 8) {
        uint64_t m = s_le64 (p);
        v3 ^= m;
        for (int r = 0; r < c; r++)
            S_SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t) len << 56;
    switch (left) {
        case 7: b |= (uint64_t) p[6] << 48; /* fall through */
        case 6: b |= (uint64_t) p[5] << 40; /* fall through */
        case 5: b |= (uint64_t) p[4] << 32; /* fall through */
        case 4: b |= (uint64_t) p[3] << 24; /* fall through */
        case 3: b |= (uint64_t) p[2] << 16; /* fall through */
        case 2: b |= (uint64_t) p[1] << 8;  /* fall through */
        case 1: b |= (uint64_t) p[0];       /* fall through */
        case 0: break;
    }
    v3 ^= b;
    for (int r = 0; r < c; r++)
        S_SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (int r = 0; r < d; r++)
        S_SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t
hp_siphash13 (uint64_t k0, uint64_t k1, const void *key, size_t len)
{
    return s_siphash (k0, k1, key, len, 1, 3);
}

uint64_t
hp_siphash24 (uint64_t k0, uint64_t k1, const void *key, size_t len)
{
    return s_siphash (k0, k1, key, len, 2, 4);
}

uint64_t
hp_hash (const void *key, size_t len)
{
    return s_siphash (s_k0, s_k1, key, len, 1, 3);
}
