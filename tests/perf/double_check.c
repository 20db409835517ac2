/* double_check.c -- proves proto/json.c's fast double formatting writes exactly what "%.17g" does. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../xorshift.h"

size_t hp__json_format_double (char *text, double d);

static uint64_t s_state = 0x853c49e6748fea9bULL;

static uint64_t
s_rand (void)
{
    return xorshift64 (&s_state);
}

/* 0 when the fast path agrees with snprintf or defers to it. */
static int
s_check (double d, long *fast)
{
    char want[64], got[64];
    snprintf (want, sizeof want, "%.17g", d);
    size_t n = hp__json_format_double (got, d);
    if (n == 0)
        return 0;
    (*fast)++;
    got[n] = 0;
    if (strcmp (want, got) != 0) {
        fprintf (stderr, "double_check: %a: printf \"%s\", fast path \"%s\"\n", d, want, got);
        return -1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    long count = argc > 1 ? atol (argv[1]) : 2000000;
    long fast = 0, failures = 0;
    static const double edges[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 1e-4, 9.9999999999999991e-05, 1e-5,
        0.00010000000000000001, 1e16, 1e17, 99999999999999999.0, 9999999999999998.0,
        12345678901234567.0, 0.5, 1000.25, 19.99, 123456.789, 3.141592653589793,
        2.718281828459045, 9007199254740993.0, 1.7976931348623157e308, 4.9e-324,
        0.000123, 0.99999999999999989, 9.9999999999999982, 99.999999999999986,
        1e15 + 0.5, 5e-324, 1e-300, 1e300 };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        failures += s_check (edges[i], &fast) != 0;
    for (long i = 0; i < count && failures < 10; i++) {
        double d;
        uint64_t bits = s_rand ();
        switch (i % 4) {
            case 0:   /* any bit pattern */
                memcpy (&d, &bits, sizeof d);
                break;
            case 1:   /* the fixed-notation range, uniformly in exponent */
                d = ldexp ((double) (bits >> 11) / 9007199254740992.0 + 0.5, (int) (bits % 72) - 14);
                break;
            case 2:   /* short decimals, as prices are */
                d = (double) (int64_t) (bits % 100000000) / 100.0;
                break;
            default:  /* near powers of ten, where the exponent estimate is off */
                d = nextafter (pow (10, (double) ((int) (bits % 22) - 5)),
                               (bits & 1) ? INFINITY : 0) * ((bits & 2) ? -1 : 1);
        }
        if (isfinite (d))
            failures += s_check (d, &fast) != 0;
    }
    printf ("double_check: %ld doubles, %ld took the fast path, %ld differ from %%.17g\n",
            count, fast, failures);
    return failures ? 1 : 0;
}
