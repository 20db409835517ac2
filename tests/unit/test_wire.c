/* test_wire.c -- unit tests for proto/wire.c: header frame and epochs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "wire.h"

static void
test_header_round_trip (void **state)
{
    unsigned char h [HP_WIRE_HEADER_LEN];
    hp_wire_header_pack (h, HP_WIRE_EVENT, 0x0102030405060708ULL, UINT64_MAX);
    //  The layout is kind, then both u64s big-endian, as PROTOCOL.md fixes.
    static const unsigned char expect [HP_WIRE_HEADER_LEN] = {
        'E', 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
    };
    assert_memory_equal (h, expect, sizeof expect);
    char kind = 0;
    uint64_t epoch = 0, offset = 0;
    assert_int_equal (hp_wire_header_unpack (h, sizeof h, &kind, &epoch, &offset), 0);
    //  Unpacking gives back exactly what was packed.
    assert_int_equal (kind, 'E');
    assert_true (epoch == 0x0102030405060708ULL);
    assert_true (offset == UINT64_MAX);

    hp_wire_header_pack (h, HP_WIRE_SYNC, 1, 0);
    assert_int_equal (hp_wire_header_unpack (h, sizeof h, &kind, &epoch, &offset), 0);
    assert_int_equal (kind, 'S');
    assert_true (epoch == 1 && offset == 0);
}

static void
test_header_refuses_bad_frames (void **state)
{
    unsigned char h [HP_WIRE_HEADER_LEN + 1];
    char kind;
    uint64_t epoch, offset;
    hp_wire_header_pack (h, HP_WIRE_EVENT, 7, 9);
    //  Short and long frames are not headers.
    assert_int_equal (hp_wire_header_unpack (h, HP_WIRE_HEADER_LEN - 1, &kind, &epoch, &offset), -1);
    assert_int_equal (hp_wire_header_unpack (h, HP_WIRE_HEADER_LEN + 1, &kind, &epoch, &offset), -1);
    assert_int_equal (hp_wire_header_unpack (h, 0, &kind, &epoch, &offset), -1);
    //  An unknown kind byte is refused.
    h [0] = 'X';
    assert_int_equal (hp_wire_header_unpack (h, HP_WIRE_HEADER_LEN, &kind, &epoch, &offset), -1);
}

static void
test_epoch_text (void **state)
{
    char text [HP_EPOCH_TEXT_LEN + 1];
    uint64_t back;
    hp_epoch_format (text, 0x00ab00cd00ef0012ULL);
    //  Always 16 lowercase digits, leading zeros kept, NUL-terminated.
    assert_string_equal (text, "00ab00cd00ef0012");
    assert_int_equal (hp_epoch_parse (text, 16, &back), 0);
    assert_true (back == 0x00ab00cd00ef0012ULL);
    hp_epoch_format (text, UINT64_MAX);
    assert_string_equal (text, "ffffffffffffffff");
    //  Upper case is accepted on input.
    assert_int_equal (hp_epoch_parse ("FFFFFFFFFFFFFFFF", 16, &back), 0);
    assert_true (back == UINT64_MAX);
    //  Wrong length or a non-hex digit is refused.
    assert_int_equal (hp_epoch_parse ("abc", 3, &back), -1);
    assert_int_equal (hp_epoch_parse ("00000000000000000", 17, &back), -1);
    assert_int_equal (hp_epoch_parse ("000000000000000g", 16, &back), -1);
    assert_int_equal (hp_epoch_parse ("0000000 00000000", 16, &back), -1);
    assert_int_equal (hp_epoch_parse ("-000000000000001", 16, &back), -1);
}

static void
test_epoch_new_random_nonzero (void **state)
{
    //  Epochs are never 0 and two draws differ (2^-64 chance of a false
    //  failure), which is what a restart needs to be noticed.
    uint64_t a = hp_epoch_new ();
    uint64_t b = hp_epoch_new ();
    assert_true (a != 0);
    assert_true (b != 0);
    assert_true (a != b);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_header_round_trip),
        cmocka_unit_test (test_header_refuses_bad_frames),
        cmocka_unit_test (test_epoch_text),
        cmocka_unit_test (test_epoch_new_random_nonzero),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
