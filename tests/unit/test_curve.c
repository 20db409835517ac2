/* test_curve.c -- unit tests for proto/curve.c: the loopback rule and certificate loading. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "curve.h"

static void
test_loopback_endpoints (void **state)
{
    //  Only this machine can reach these: the broker binds them without CURVE.
    const char *local[] = { "tcp://127.0.0.1:7401", "tcp://127.3.4.5:1", "tcp://[::1]:7401",
                            "tcp://localhost:7401", "tcp://lo:7401", "ipc:///tmp/herald",
                            "inproc://x", "tcp://[::ffff:127.0.0.1]:1" };
    for (size_t i = 0; i < sizeof local / sizeof *local; i++)
        assert_true (hp_endpoint_is_loopback (local[i]));
    //  Everything else needs CURVE or --insecure.
    const char *wide[] = { "tcp://0.0.0.0:7401", "tcp://*:7401", "tcp://10.0.0.1:7401",
                           "tcp://eth0:7401", "tcp://[::]:7401", "tcp://example.com:1",
                           "tcp://128.0.0.1:1", "ws://127.0.0.1:1", "pgm://eth0;239.1.1.1:5555",
                           "tcp://", "tcp://127.0.0.1", "" };
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        assert_false (hp_endpoint_is_loopback (wide[i]));
    assert_true (hp_host_is_loopback ("127.0.0.1"));
    assert_true (hp_host_is_loopback ("[::1]"));
    assert_false (hp_host_is_loopback ("0.0.0.0"));
    assert_false (hp_host_is_loopback ("127.0.0.1.example.com"));
}

static void
test_certificate_errors (void **state)
{
    char err[256];
    //  A missing file is named in the error.
    assert_null (hp_curve_new ("/nonexistent/x.cert", NULL, err, sizeof err));
    assert_non_null (strstr (err, "/nonexistent/x.cert"));
    //  A public certificate without its secret cannot be this process's key.
    char path[] = "/tmp/herald-test-curve-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *text = "curve\n    public-key = \"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"\n";
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    assert_null (hp_curve_new (path, NULL, err, sizeof err));
    assert_non_null (strstr (err, "no secret key"));
    //  ...but it is a server key for a client.
    char secret[64];
    snprintf (secret, sizeof secret, "%s_secret", path);
    FILE *f = fopen (secret, "w");
    assert_non_null (f);
    fputs ("curve\n    public-key = \"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID\"\n"
           "    secret-key = \"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs\"\n", f);
    fclose (f);
    hp_curve_t *c = hp_curve_new (path, path, err, sizeof err);
    assert_non_null (c);
    //  zcert_load reads FILE_secret first, as the header says.
    assert_string_equal (hp_curve_public_txt (c), "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");
    hp_curve_destroy (&c);
    assert_null (c);
    unlink (secret);
    unlink (path);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_loopback_endpoints),
        cmocka_unit_test (test_certificate_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
