/* driver.c -- standalone runner for the fuzz targets: seeded, mutated, bounded. */
//  libFuzzer is not always at hand (gcc builds, CI), so every target also
//  links this main(). It feeds LLVMFuzzerTestOneInput a deterministic stream
//  of inputs: structured msgpack that looks like Herald's envelopes and
//  control messages (so the validators get past their first checks), those
//  same inputs mutated, and plain random bytes. It stops after a number of
//  inputs or a time budget, whichever comes first, so the ctest case stays
//  short on a loaded machine. A crash, sanitizer report or abort() from a
//  target's own oracle fails the test.
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  A target whose input is not msgpack (fuzz_http.c) defines this to make
//  its structured inputs: fills buf (cap bytes) from the random word r and
//  returns the length. Weak, so the msgpack targets need not.
size_t fuzz_driver_seed (unsigned char *buf, size_t cap, uint64_t r) __attribute__ ((weak));

#define S_INPUT_MAX 4096

static uint64_t s_state = 0x9e3779b97f4a7c15ULL;

//  xorshift64*: fast, deterministic, good enough to pick mutations.
static uint64_t
s_rand (void)
{
    s_state ^= s_state >> 12;
    s_state ^= s_state << 25;
    s_state ^= s_state >> 27;
    return s_state * 0x2545f4914f6cdd1dULL;
}

static unsigned
s_below (unsigned n)
{
    return n ? (unsigned) (s_rand () % n) : 0;
}

static void
s_str (msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str (pk, n);
    msgpack_pack_str_body (pk, s, n);
}

//  Strings that sit on the validators' edges.
static const char *s_words [] = {
    "alice", "alice2", "bob", "bid", "order.new:1-x_y", "", "a\"b\\c",
    "\n\t\x01", "\x7f", "\xc2\x80", "\xc2\xa0", "\xe2\x80\xa8", "\xf0\x9f\x98\x80",
    "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "\x80", "\xe2\x82",
    "00000000deadbeef", "ffffffffffffffff", "presence", "resume", "stats",
    "event", "to", "data", "id", "ttl", "op", "users", "user", "epoch", "offset",
    "rid", "recovered", "events", "channel", "broadcast", "order:17", "board/eu@x=y",
    "a b", "\x01order:17", "\x02", "disconnect",
};
#define S_WORDS (sizeof s_words / sizeof s_words [0])

static void
s_word (msgpack_packer *pk)
{
    const char *w = s_words [s_below (S_WORDS)];
    s_str (pk, w, strlen (w));
}

//  A random msgpack value, at most `depth` containers deep.
static void
s_value (msgpack_packer *pk, int depth)
{
    switch (s_below (depth > 0 ? 14 : 11)) {
        case 0: msgpack_pack_nil (pk); break;
        case 1: s_below (2) ? msgpack_pack_true (pk) : msgpack_pack_false (pk); break;
        case 2: msgpack_pack_uint64 (pk, s_rand () >> s_below (64)); break;
        case 3: msgpack_pack_int64 (pk, -(int64_t) (s_rand () >> (1 + s_below (63)))); break;
        case 4: msgpack_pack_double (pk, (double) (int64_t) s_rand () / (double) (s_rand () | 1)); break;
        case 5: {
            static const double odd [] = { 0.1, -0.0, 1e300, -1e-300, 5e-324, INFINITY, NAN };
            msgpack_pack_double (pk, odd [s_below (7)]);
            break;
        }
        case 6: msgpack_pack_float (pk, (float) s_below (1000) / 7.0f); break;
        case 7: case 8: s_word (pk); break;
        case 9: {
            char bytes [40];
            unsigned n = s_below (sizeof bytes);
            for (unsigned i = 0; i < n; i++)
                bytes [i] = (char) s_rand ();
            if (s_below (2))
                s_str (pk, bytes, n);
            else {
                msgpack_pack_bin (pk, n);
                msgpack_pack_bin_body (pk, bytes, n);
            }
            break;
        }
        case 10: msgpack_pack_ext (pk, 3, (int8_t) s_rand ()); msgpack_pack_ext_body (pk, "xyz", 3); break;
        case 11: case 12: {
            unsigned n = s_below (5);
            msgpack_pack_array (pk, n);
            for (unsigned i = 0; i < n; i++)
                s_value (pk, depth - 1);
            break;
        }
        default: {
            unsigned n = s_below (5);
            msgpack_pack_map (pk, n);
            for (unsigned i = 0; i < n; i++) {
                if (s_below (4))
                    s_word (pk);
                else
                    s_value (pk, depth - 1);
                s_value (pk, depth - 1);
            }
        }
    }
}

//  A message shaped like one of Herald's, with each field usually right.
static void
s_message (msgpack_packer *pk)
{
    unsigned kind = s_below (5);
    unsigned fields = 1 + s_below (6);
    msgpack_pack_map (pk, fields);
    for (unsigned f = 0; f < fields; f++) {
        unsigned which = s_below (10);
        //  Envelopes and requests mostly lead with their required fields.
        if (f < 2 && s_below (4))
            which = f;
        if (kind <= 1) {                    //  producer envelope
            static const char *keys [] = { "event", "to", "data", "id", "ttl", "to", "event", "x",
                                           "channel", "broadcast" };
            s_str (pk, keys [which], strlen (keys [which]));
            if (which == 1 || which == 5) {
                unsigned n = s_below (4);
                if (n == 0)
                    s_word (pk);
                else {
                    msgpack_pack_array (pk, n);
                    for (unsigned i = 0; i < n; i++)
                        s_word (pk);
                }
            }
            else
            if (which == 0 || which == 6)
                s_str (pk, "bid", s_below (4));
            else
            if (which == 4 && s_below (4))
                msgpack_pack_uint64 (pk, s_below (500));
            else
            if (which == 8 && s_below (4))
                s_word (pk);
            else
            if (which == 9 && s_below (4))
                msgpack_pack_true (pk);
            else
                s_value (pk, 3 + (int) s_below (30));
        }
        else
        if (kind <= 3) {                    //  control request
            static const char *keys [] = { "op", "users", "user", "epoch", "offset", "rid", "op", "z",
                                           "channel", "channel" };
            s_str (pk, keys [which], strlen (keys [which]));
            if (which == 0 || which == 6) {
                static const char *ops [] = { "presence", "resume", "stats", "nope", "disconnect" };
                const char *op = ops [s_below (5)];
                s_str (pk, op, strlen (op));
            }
            else
            if (which == 1) {
                unsigned n = s_below (4);
                msgpack_pack_array (pk, n);
                for (unsigned i = 0; i < n; i++)
                    s_word (pk);
            }
            else
            if (which == 4 || which == 5)
                msgpack_pack_uint64 (pk, s_rand () >> s_below (64));
            else
                s_word (pk);
        }
        else {                              //  resume reply
            static const char *keys [] = { "rid", "user", "epoch", "offset", "recovered", "events", "events", "q",
                                           "channel", "user" };
            s_str (pk, keys [which], strlen (keys [which]));
            if (which == 5 || which == 6) {
                unsigned n = s_below (3);
                msgpack_pack_array (pk, n);
                for (unsigned i = 0; i < n; i++) {
                    msgpack_pack_array (pk, 2);
                    msgpack_pack_uint64 (pk, s_below (1000));
                    s_word (pk);
                }
            }
            else
            if (which == 4)
                msgpack_pack_true (pk);
            else
            if (which == 0 || which == 3)
                msgpack_pack_uint64 (pk, s_below (1000));
            else
                s_word (pk);
        }
    }
}

//  Bytes that change msgpack's framing the most when written anywhere.
static const unsigned char s_interesting [] = {
    0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc7,
    0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd9, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff,
};

static size_t
s_mutate (unsigned char *buf, size_t len, size_t cap)
{
    unsigned rounds = 1 + s_below (4);
    for (unsigned r = 0; r < rounds; r++) {
        switch (s_below (6)) {
            case 0:                         //  flip a bit
                if (len)
                    buf [s_below ((unsigned) len)] ^= (unsigned char) (1u << s_below (8));
                break;
            case 1:                         //  write a framing byte
                if (len)
                    buf [s_below ((unsigned) len)] = s_interesting [s_below (sizeof s_interesting)];
                break;
            case 2:                         //  truncate
                len = s_below ((unsigned) len + 1);
                break;
            case 3:                         //  insert a byte
                if (len < cap) {
                    size_t at = s_below ((unsigned) len + 1);
                    memmove (buf + at + 1, buf + at, len - at);
                    buf [at] = (unsigned char) s_rand ();
                    len++;
                }
                break;
            case 4:                         //  delete a byte
                if (len) {
                    size_t at = s_below ((unsigned) len);
                    memmove (buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
                break;
            default:                        //  duplicate a slice at the end
                if (len) {
                    size_t at = s_below ((unsigned) len);
                    size_t n = s_below ((unsigned) (len - at) + 1);
                    if (len + n <= cap) {
                        memmove (buf + len, buf + at, n);
                        len += n;
                    }
                }
        }
    }
    return len;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
    long iterations = argc > 1 ? atol (argv [1]) : 500000;
    double budget = argc > 2 ? atof (argv [2]) : 5.0;
    static unsigned char input [S_INPUT_MAX];
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);

    double start = s_now ();
    long done = 0;
    for (; done < iterations; done++) {
        if ((done & 255) == 0 && s_now () - start > budget)
            break;
        size_t len;
        unsigned mode = s_below (10);
        if (mode < 8 && fuzz_driver_seed) {
            len = fuzz_driver_seed (input, sizeof input, s_rand ());
            if (mode >= 4)
                len = s_mutate (input, len, sizeof input);
        }
        else
        if (mode < 8) {
            msgpack_sbuffer_clear (&sbuf);
            if (s_below (3))
                s_message (&pk);
            else
                s_value (&pk, 1 + (int) s_below (40));
            len = sbuf.size < sizeof input ? sbuf.size : sizeof input;
            memcpy (input, sbuf.data, len);
            if (mode >= 4)                  //  half the structured inputs get mutated
                len = s_mutate (input, len, sizeof input);
        }
        else {
            len = s_below (64);
            for (size_t i = 0; i < len; i++)
                input [i] = (unsigned char) s_rand ();
        }
        //  An exact-size heap copy lets ASan see any read past the end.
        unsigned char *copy = malloc (len ? len : 1);
        if (!copy)
            return 1;
        memcpy (copy, input, len);
        LLVMFuzzerTestOneInput (copy, len);
        free (copy);
    }
    msgpack_sbuffer_destroy (&sbuf);
    //  Printing the count shows the budget, not the target, bounded the run.
    printf ("%s: %ld inputs in %.2f s, no failure\n", argv [0], done, s_now () - start);
    return 0;
}
