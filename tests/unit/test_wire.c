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
test_user_head_round_trip (void **state)
{
    unsigned char head [HP_WIRE_HEAD_MAX];
    size_t len = hp_wire_head_user (head, "alice", 5, HP_WIRE_SYNC, 7, 9);
    //  A user head is the topic with its NUL, then the 17-byte header.
    assert_int_equal (len, 8 + HP_WIRE_HEADER_LEN);
    assert_memory_equal (head, "u:alice\0S", 9);
    hp_wire_head_t h;
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_false (h.multicast);
    assert_int_equal (h.kind, 'S');
    assert_true (h.epoch == 7 && h.offset == 9);
    assert_int_equal (h.user.len, 5);
    assert_memory_equal (h.user.ptr, "alice", 5);
    assert_int_equal (h.recipient_count, 1);
    //  A user head with bytes after the header is not a head.
    head [len] = 'x';
    assert_int_equal (hp_wire_head_parse (head, len + 1, &h), -1);
    //  Nor is one cut inside the header, nor one without a NUL in reach.
    assert_int_equal (hp_wire_head_parse (head, len - 1, &h), -1);
    assert_int_equal (hp_wire_head_parse ("u:alice", 7, &h), -1);
    //  Ids outside 1-128 bytes make no head.
    char big [HP_USER_MAX + 1];
    memset (big, 'a', sizeof big);
    assert_int_equal (hp_wire_head_user (head, big, sizeof big, 'E', 1, 1), 0);
    assert_int_equal (hp_wire_head_user (head, "", 0, 'E', 1, 1), 0);
}

static void
test_multicast_head_lists_recipients (void **state)
{
    unsigned char head [64];
    size_t len = hp_wire_head_multicast (head, 3, 42);
    memcpy (head + len, "bob\0carol\0", 10);
    len += 10;
    hp_wire_head_t h;
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    //  The multicast topic is "m:" and its NUL; the header follows.
    assert_memory_equal (head, "m:\0E", 4);
    assert_true (h.multicast && h.kind == 'E' && h.epoch == 3 && h.offset == 42);
    //  The parse counts the recipients it checked.
    assert_int_equal (h.recipient_count, 2);
    //  The recipients come back in order, each without its NUL.
    const char *cursor = h.recipients;
    hp_str_t user;
    assert_true (hp_wire_next_recipient (&h, &cursor, &user));
    assert_int_equal (user.len, 3);
    assert_memory_equal (user.ptr, "bob", 3);
    assert_true (hp_wire_next_recipient (&h, &cursor, &user));
    assert_int_equal (user.len, 5);
    assert_memory_equal (user.ptr, "carol", 5);
    assert_false (hp_wire_next_recipient (&h, &cursor, &user));

    //  A list must end in a NUL, hold no empty id, and not be empty.
    assert_int_equal (hp_wire_head_parse (head, len - 1, &h), -1);
    head [len - 6] = 0;         //  "bob\0\0arol\0": an empty id
    assert_int_equal (hp_wire_head_parse (head, len, &h), -1);
    assert_int_equal (hp_wire_head_parse (head, 3 + HP_WIRE_HEADER_LEN, &h), -1);
    //  A sync is never multicast.
    len = hp_wire_head_multicast (head, 3, 42);
    head [3] = 'S';
    memcpy (head + len, "bob\0", 4);
    assert_int_equal (hp_wire_head_parse (head, len + 4, &h), -1);
    //  An id longer than 128 bytes is refused.
    unsigned char big [3 + HP_WIRE_HEADER_LEN + HP_USER_MAX + 2];
    len = hp_wire_head_multicast (big, 1, 1);
    memset (big + len, 'a', HP_USER_MAX + 1);
    big [sizeof big - 1] = 0;
    assert_int_equal (hp_wire_head_parse (big, sizeof big, &h), -1);
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
        cmocka_unit_test (test_user_head_round_trip),
        cmocka_unit_test (test_multicast_head_lists_recipients),
        cmocka_unit_test (test_epoch_text),
        cmocka_unit_test (test_epoch_new_random_nonzero),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
