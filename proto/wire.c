/* wire.c -- the header frame of every broker -> gateway message, and epochs. */
#include "wire.h"

#include <errno.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void
s_put_u64 (unsigned char *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out [i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
}

static uint64_t
s_get_u64 (const unsigned char *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in [i];
    return v;
}

void
hp_wire_header_pack (unsigned char out [HP_WIRE_HEADER_LEN], char kind,
                     uint64_t epoch, uint64_t offset)
{
    out [0] = (unsigned char) kind;
    s_put_u64 (out + 1, epoch);
    s_put_u64 (out + 9, offset);
}

int
hp_wire_header_unpack (const void *frame, size_t len, char *kind,
                       uint64_t *epoch, uint64_t *offset)
{
    const unsigned char *p = frame;
    if (!p || len != HP_WIRE_HEADER_LEN)
        return -1;
    if (p [0] != HP_WIRE_EVENT && p [0] != HP_WIRE_SYNC)
        return -1;
    *kind = (char) p [0];
    *epoch = s_get_u64 (p + 1);
    *offset = s_get_u64 (p + 9);
    return 0;
}

void
hp_epoch_format (char out [HP_EPOCH_TEXT_LEN + 1], uint64_t epoch)
{
    static const char hex [] = "0123456789abcdef";
    for (int i = HP_EPOCH_TEXT_LEN - 1; i >= 0; i--) {
        out [i] = hex [epoch & 0x0f];
        epoch >>= 4;
    }
    out [HP_EPOCH_TEXT_LEN] = 0;
}

int
hp_epoch_parse (const char *s, size_t len, uint64_t *epoch)
{
    if (!s || len != HP_EPOCH_TEXT_LEN)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s [i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = (unsigned) (c - '0');
        else
        if (c >= 'a' && c <= 'f')
            digit = (unsigned) (c - 'a' + 10);
        else
        if (c >= 'A' && c <= 'F')       //  we print lowercase, but be liberal
            digit = (unsigned) (c - 'A' + 10);
        else
            return -1;
        v = (v << 4) | digit;
    }
    *epoch = v;
    return 0;
}

uint64_t
hp_epoch_new (void)
{
    uint64_t v = 0;
    //  getrandom blocks only until the kernel's pool is first seeded, which
    //  is long done on any running system. 0 is reserved for "no epoch".
    for (int tries = 0; tries < 16 && v == 0; tries++) {
        ssize_t n = getrandom (&v, sizeof v, 0);
        if (n != (ssize_t) sizeof v) {
            if (n < 0 && errno == EINTR)
                continue;
            v = 0;
            break;
        }
    }
    if (v == 0) {
        //  No getrandom (very old kernel or seccomp): the clock and pid
        //  still give a new epoch per broker start, which is what matters.
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        v = ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) ts.tv_nsec
          ^ ((uint64_t) getpid () << 16);
        v ^= v >> 29;
        v *= 0xbf58476d1ce4e5b9ULL;
        v ^= v >> 32;
        if (v == 0)
            v = 1;
    }
    return v;
}
