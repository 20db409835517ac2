/* test_wire.c -- unit tests for proto/wire.c: heads (with prev), ticks, audits, and epochs. */
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
    hp_wire_header_pack (h, HP_WIRE_EVENT, 0x0102030405060708ULL, UINT64_MAX, 0x1112131415161718ULL,
                         0x2122232425262728ULL, HP_WIRE_FLAG_RECEIPT | HP_WIRE_FLAG_KEY);
    //  The layout is kind, then four u64s big-endian (epoch, offset, aux,
    //  at), then the flags byte, as PROTOCOL.md fixes: the first 33 bytes
    //  as before flags were added.
    static const unsigned char expect [HP_WIRE_HEADER_LEN] = {
        'E', 1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x03
    };
    assert_int_equal (HP_WIRE_HEADER_LEN, 34);
    assert_memory_equal (h, expect, sizeof expect);
    char kind = 0;
    uint64_t epoch = 0, offset = 0, aux = 0, at = 0;
    uint8_t flags = 0;
    assert_int_equal (hp_wire_header_unpack (h, sizeof h, &kind, &epoch, &offset, &aux, &at, &flags), 0);
    //  Unpacking gives back exactly what was packed.
    assert_int_equal (flags, HP_WIRE_FLAG_RECEIPT | HP_WIRE_FLAG_KEY);
    assert_int_equal (kind, 'E');
    assert_true (epoch == 0x0102030405060708ULL);
    assert_true (offset == UINT64_MAX);
    assert_true (aux == 0x1112131415161718ULL);
    assert_true (at == 0x2122232425262728ULL);

    //  Every kind round-trips: sync, tick, audit answer, disconnect.
    const char kinds [] = { HP_WIRE_SYNC, HP_WIRE_TICK, HP_WIRE_AUDIT, HP_WIRE_DISCONNECT };
    for (size_t i = 0; i < sizeof kinds; i++) {
        hp_wire_header_pack (h, kinds [i], 1, 0, 5, 0, 0);
        assert_int_equal (hp_wire_header_unpack (h, sizeof h, &kind, &epoch, &offset, &aux, NULL, NULL), 0);
        assert_int_equal (kind, kinds [i]);
        assert_true (epoch == 1 && offset == 0 && aux == 5);
    }

    //  A disconnect ('D') round-trips on a user topic, with an empty body.
    unsigned char head [HP_WIRE_HEAD_MAX];
    size_t len = hp_wire_head_user (head, "alice", 5, HP_WIRE_DISCONNECT, 3, 4, 0, 0, 0);
    hp_wire_head_t parsed;
    assert_int_equal (hp_wire_head_parse (head, len, &parsed), 0);
    assert_int_equal (parsed.kind, 'D');
    assert_false (parsed.multicast);
    assert_int_equal (parsed.user.len, 5);
}

static void
test_header_refuses_bad_frames (void **state)
{
    unsigned char h [HP_WIRE_HEADER_LEN + 1];
    char kind;
    uint64_t epoch, offset, aux;
    hp_wire_header_pack (h, HP_WIRE_EVENT, 7, 9, 3, 0, 0);
    //  Short and long frames are not headers.
    assert_int_equal (hp_wire_header_unpack (h, HP_WIRE_HEADER_LEN - 1, &kind, &epoch, &offset, &aux, NULL, NULL), -1);
    assert_int_equal (hp_wire_header_unpack (h, HP_WIRE_HEADER_LEN + 1, &kind, &epoch, &offset, &aux, NULL, NULL), -1);
    assert_int_equal (hp_wire_header_unpack (h, 0, &kind, &epoch, &offset, &aux, NULL, NULL), -1);
    //  An unknown kind byte is refused.
    h [0] = 'X';
    assert_int_equal (hp_wire_header_unpack (h, HP_WIRE_HEADER_LEN, &kind, &epoch, &offset, &aux, NULL, NULL), -1);
}

static void
test_user_head_round_trip (void **state)
{
    unsigned char head [HP_WIRE_HEAD_MAX];
    size_t len = hp_wire_head_user (head, "alice", 5, HP_WIRE_SYNC, 7, 9, 4, 0, 0);
    //  A user head is the topic with its NUL, then the 25-byte header.
    assert_int_equal (len, 8 + HP_WIRE_HEADER_LEN);
    assert_memory_equal (head, "u:alice\0S", 9);
    hp_wire_head_t h;
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_false (h.multicast);
    assert_false (h.gateway);
    assert_int_equal (h.kind, 'S');
    //  The sync carries the user's prev (the last offset routed to them).
    assert_true (h.epoch == 7 && h.offset == 9 && h.aux == 4);
    assert_int_equal (h.user.len, 5);
    assert_memory_equal (h.user.ptr, "alice", 5);
    assert_int_equal (h.recipient_count, 1);
    //  An event carries its prev in the same place.
    len = hp_wire_head_user (head, "alice", 5, HP_WIRE_EVENT, 7, 12, 9, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_true (h.kind == 'E' && h.offset == 12 && h.aux == 9);
    //  A user head with bytes after the header is not a head.
    head [len] = 'x';
    assert_int_equal (hp_wire_head_parse (head, len + 1, &h), -1);
    //  Nor is one cut inside the header, nor one without a NUL in reach.
    assert_int_equal (hp_wire_head_parse (head, len - 1, &h), -1);
    assert_int_equal (hp_wire_head_parse ("u:alice", 7, &h), -1);
    //  Ticks and audit answers never come on a user topic.
    len = hp_wire_head_user (head, "alice", 5, HP_WIRE_TICK, 7, 12, 9, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), -1);
    //  Ids outside 1-128 bytes make no head.
    char big [HP_USER_MAX + 1];
    memset (big, 'a', sizeof big);
    assert_int_equal (hp_wire_head_user (head, big, sizeof big, 'E', 1, 1, 0, 0, 0), 0);
    assert_int_equal (hp_wire_head_user (head, "", 0, 'E', 1, 1, 0, 0, 0), 0);
}

static void
test_multicast_head_lists_recipients (void **state)
{
    unsigned char head [128];
    size_t len = hp_wire_head_multicast (head, HP_WIRE_EVENT, 3, 42, 0, 0, 0);
    //  Each recipient is its id, a NUL and its prev; a prev may hold any
    //  byte, NULs included.
    unsigned char *p = hp_wire_put_entry (head + len, "bob", 3, 0x0000000000000029ULL);
    p = hp_wire_put_entry (p, "carol", 5, 0x0a00000000000000ULL);
    len = (size_t) (p - head);
    assert_int_equal (len, 3 + HP_WIRE_HEADER_LEN + 4 + 8 + 6 + 8);
    hp_wire_head_t h;
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    //  The multicast topic is "m:" and its NUL; the header follows.
    assert_memory_equal (head, "m:\0E", 4);
    assert_true (h.multicast && h.kind == 'E' && h.epoch == 3 && h.offset == 42);
    //  The parse counts the recipients it checked.
    assert_int_equal (h.recipient_count, 2);
    //  The recipients come back in order, each without its NUL, with its prev.
    const char *cursor = h.recipients;
    hp_str_t user;
    uint64_t prev = 0;
    assert_true (hp_wire_next_recipient (&h, &cursor, &user, &prev));
    assert_int_equal (user.len, 3);
    assert_memory_equal (user.ptr, "bob", 3);
    assert_true (prev == 41);
    assert_true (hp_wire_next_recipient (&h, &cursor, &user, &prev));
    assert_int_equal (user.len, 5);
    assert_memory_equal (user.ptr, "carol", 5);
    assert_true (prev == 0x0a00000000000000ULL);
    assert_false (hp_wire_next_recipient (&h, &cursor, &user, &prev));

    //  A list cut inside a prev, holding an empty id, or empty is refused.
    assert_int_equal (hp_wire_head_parse (head, len - 1, &h), -1);
    assert_int_equal (hp_wire_head_parse (head, 3 + HP_WIRE_HEADER_LEN, &h), -1);
    head [3 + HP_WIRE_HEADER_LEN] = 0;      //  "\0ob\0...": an empty id
    assert_int_equal (hp_wire_head_parse (head, len, &h), -1);
    //  A sync is never multicast.
    len = hp_wire_head_multicast (head, HP_WIRE_SYNC, 3, 42, 0, 0, 0);
    p = hp_wire_put_entry (head + len, "bob", 3, 1);
    assert_int_equal (hp_wire_head_parse (head, (size_t) (p - head), &h), -1);
    //  An id longer than 128 bytes is refused.
    unsigned char big [3 + HP_WIRE_HEADER_LEN + HP_USER_MAX + 1 + 9];
    len = hp_wire_head_multicast (big, HP_WIRE_EVENT, 1, 1, 0, 0, 0);
    memset (big + len, 'a', HP_USER_MAX + 1);
    memset (big + len + HP_USER_MAX + 1, 0, 9);
    assert_int_equal (hp_wire_head_parse (big, sizeof big, &h), -1);
}

static void
test_tick_and_audit_heads (void **state)
{
    unsigned char head [64];
    hp_wire_head_t h;
    //  A tick is multicast, lists nobody, and carries its number in aux.
    size_t len = hp_wire_head_multicast (head, HP_WIRE_TICK, 3, 42, 17, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_true (h.multicast && h.kind == 'T' && h.offset == 42 && h.aux == 17);
    assert_int_equal (h.recipient_count, 0);
    //  A tick with recipients is not one.
    head [len] = 'x';
    assert_int_equal (hp_wire_head_parse (head, len + 1, &h), -1);

    //  An audit answer goes on "g:<16 hex>\0" and names the gateway.
    len = hp_wire_head_gateway (head, 0x00000000deadbeefULL, HP_WIRE_AUDIT, 3, 42, 5);
    assert_int_equal (len, HP_WIRE_GATEWAY_TOPIC_LEN + HP_WIRE_HEADER_LEN);
    assert_memory_equal (head, "g:00000000deadbeef\0A", 20);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_true (h.gateway && !h.multicast && h.gateway_id == 0xdeadbeefULL);
    assert_true (h.kind == 'A' && h.offset == 42 && h.aux == 5);
    //  Only answers come on a gateway topic.
    head [HP_WIRE_GATEWAY_TOPIC_LEN] = 'E';
    assert_int_equal (hp_wire_head_parse (head, len, &h), -1);

    //  The answer's body lists (id, last) entries.
    unsigned char body [64];
    unsigned char *p = hp_wire_put_entry (body, "alice", 5, 99);
    p = hp_wire_put_entry (p, "bob", 3, 0);
    const char *cursor = (const char *) body, *end = (const char *) p;
    hp_str_t id;
    uint64_t last;
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &last), 1);
    assert_true (id.len == 5 && memcmp (id.ptr, "alice", 5) == 0 && last == 99);
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &last), 1);
    assert_true (id.len == 3 && last == 0);
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &last), 0);
    //  A cut value is malformed, not an end.
    cursor = (const char *) body;
    assert_int_equal (hp_wire_next_entry (&cursor, (const char *) body + 10, true, &id, &last), -1);
}

static void
test_audit_request (void **state)
{
    unsigned char msg [64];
    hp_wire_audit_request_head (msg, 0x0102030405060708ULL, 9);
    //  Its first byte is neither subscribe (1) nor unsubscribe (0).
    assert_int_equal (msg [0], 'A');
    memcpy (msg + HP_WIRE_AUDIT_REQUEST_HEAD, "alice\0bob\0", 10);
    uint64_t id, rid;
    const char *ids;
    size_t ids_len;
    assert_int_equal (hp_wire_audit_request_parse (msg, HP_WIRE_AUDIT_REQUEST_HEAD + 10,
                                                   &id, &rid, &ids, &ids_len), 0);
    assert_true (id == 0x0102030405060708ULL && rid == 9 && ids_len == 10);
    const char *cursor = ids;
    hp_str_t user;
    assert_int_equal (hp_wire_next_entry (&cursor, ids + ids_len, false, &user, NULL), 1);
    assert_true (user.len == 5 && memcmp (user.ptr, "alice", 5) == 0);
    assert_int_equal (hp_wire_next_entry (&cursor, ids + ids_len, false, &user, NULL), 1);
    assert_int_equal (hp_wire_next_entry (&cursor, ids + ids_len, false, &user, NULL), 0);
    //  Too short, or a subscription message, is not a request.
    assert_int_equal (hp_wire_audit_request_parse (msg, 16, &id, &rid, &ids, &ids_len), -1);
    msg [0] = 1;
    assert_int_equal (hp_wire_audit_request_parse (msg, 27, &id, &rid, &ids, &ids_len), -1);
}

static void
test_channel_and_broadcast_heads (void **state)
{
    unsigned char head [HP_WIRE_HEAD_MAX];
    hp_stream_t st = hp_stream_channel ("order:17", 8);
    size_t len = hp_wire_head_stream (head, &st, HP_WIRE_EVENT, 7, 12, 5, 0, 0);
    assert_int_equal (len, 11 + HP_WIRE_HEADER_LEN);
    hp_wire_head_t h;
    //  A channel event: the stream says which channel; prev in aux; no users.
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_int_equal (h.kind, 'E');
    assert_int_equal (h.stream.kind, HP_STREAM_CHANNEL);
    assert_true (h.stream.name.len == 8 && memcmp (h.stream.name.ptr, "order:17", 8) == 0);
    assert_true (h.offset == 12 && h.aux == 5 && h.epoch == 7);
    assert_int_equal (h.recipient_count, 0);
    assert_null (h.user.ptr);
    assert_false (h.multicast || h.gateway);
    //  Sync on a channel topic parses; tick, disconnect and audit do not.
    len = hp_wire_head_stream (head, &st, HP_WIRE_SYNC, 7, 12, 5, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_int_equal (h.kind, 'S');
    const char bad [] = { HP_WIRE_TICK, HP_WIRE_DISCONNECT, HP_WIRE_AUDIT };
    for (size_t i = 0; i < sizeof bad; i++) {
        len = hp_wire_head_stream (head, &st, bad [i], 7, 12, 5, 0, 0);
        assert_int_equal (hp_wire_head_parse (head, len, &h), -1);
    }
    //  A broadcast: kind E only, empty name.
    st = hp_stream_broadcast ();
    len = hp_wire_head_stream (head, &st, HP_WIRE_EVENT, 7, 13, 3, 0, 0);
    assert_int_equal (len, HP_WIRE_BROADCAST_TOPIC_LEN + HP_WIRE_HEADER_LEN);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_int_equal (h.stream.kind, HP_STREAM_BROADCAST);
    assert_true (h.aux == 3 && h.stream.name.len == 0 && h.recipient_count == 0);
    len = hp_wire_head_stream (head, &st, HP_WIRE_SYNC, 7, 13, 3, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), -1);
    //  A body byte after a channel head is refused; a user head still says user.
    st = hp_stream_channel ("x", 1);
    len = hp_wire_head_stream (head, &st, HP_WIRE_EVENT, 1, 2, 0, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len + 1, &h), -1);
    len = hp_wire_head_user (head, "bob", 3, HP_WIRE_EVENT, 1, 2, 1, 0, 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_true (h.stream.kind == HP_STREAM_USER && h.user.len == 3 && h.stream.name.ptr == h.user.ptr);
    //  An invalid channel gets no head.
    st = hp_stream_channel ("a b", 3);
    assert_int_equal (hp_wire_head_stream (head, &st, HP_WIRE_EVENT, 1, 2, 0, 0, 0), 0);
}

static void
test_stream_audit_entries (void **state)
{
    unsigned char body [3 * HP_WIRE_ENTRY_MAX], *p = body;
    hp_stream_t u = hp_stream_user ("alice", 5), c, b = hp_stream_broadcast ();
    char name [HP_CHANNEL_MAX];
    memset (name, 'n', sizeof name);
    c = hp_stream_channel (name, sizeof name);     //  the longest: a 129-byte key
    p = hp_wire_put_stream_entry (p, &u, true, 11);
    p = hp_wire_put_stream_entry (p, &c, true, 22);
    p = hp_wire_put_stream_entry (p, &b, true, 33);
    assert_int_equal (p - body, (5 + 9) + (129 + 9) + (1 + 9));
    const char *cursor = (const char *) body, *end = (const char *) p;
    hp_str_t id;
    hp_stream_t st;
    uint64_t v;
    //  Each entry reads back as its stream, with its value.
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &v), 1);
    assert_int_equal (hp_stream_from_key (id.ptr, id.len, &st), 0);
    assert_true (st.kind == HP_STREAM_USER && v == 11);
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &v), 1);
    assert_int_equal (hp_stream_from_key (id.ptr, id.len, &st), 0);
    assert_true (st.kind == HP_STREAM_CHANNEL && st.name.len == HP_CHANNEL_MAX && v == 22);
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &v), 1);
    assert_int_equal (hp_stream_from_key (id.ptr, id.len, &st), 0);
    assert_true (st.kind == HP_STREAM_BROADCAST && v == 33);
    assert_int_equal (hp_wire_next_entry (&cursor, end, true, &id, &v), 0);
    //  Without values (a request's entries).
    p = hp_wire_put_stream_entry (body, &c, false, 0);
    assert_int_equal (p - body, 130);
    cursor = (const char *) body;
    assert_int_equal (hp_wire_next_entry (&cursor, (const char *) p, false, &id, NULL), 1);
    //  An invalid stream writes nothing.
    hp_stream_t bad = hp_stream_channel ("", 0);
    assert_null (hp_wire_put_stream_entry (body, &bad, true, 1));
    //  A multicast recipient must be a user id, not a stream key.
    unsigned char mc [128];
    size_t len = hp_wire_head_multicast (mc, HP_WIRE_EVENT, 1, 2, 0, 0, 0);
    unsigned char *q = hp_wire_put_stream_entry (mc + len, &b, true, 0);
    hp_wire_head_t h;
    assert_int_equal (hp_wire_head_parse (mc, (size_t) (q - mc), &h), -1);
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

/* Flags: only events carry them; unknown bits are ignored; a kind other
 * than 'E' with a flags byte is refused; the key frame is taken only when
 * the head's flags say so and it is a valid key. */
static void
test_flags_and_key (void **state)
{
    (void) state;
    unsigned char head [HP_WIRE_HEAD_MAX];
    size_t len = hp_wire_head_user (head, "alice", 5, HP_WIRE_EVENT, 7, 12, 9, 0,
                                    HP_WIRE_FLAG_KEY | 0x80);
    hp_wire_head_t h;
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    //  reserved bit 0x80 dropped, the key bit kept, no key until its frame
    assert_int_equal (h.flags, HP_WIRE_FLAG_KEY);
    assert_null (h.key.ptr);
    assert_int_equal (hp_wire_head_set_key (&h, "price:EURUSD", 12), 0);
    assert_int_equal (h.key.len, 12);
    assert_memory_equal (h.key.ptr, "price:EURUSD", 12);
    //  a key frame that is no key: empty, too long, holding a NUL
    char big [HP_KEY_MAX + 1];
    memset (big, 'k', sizeof big);
    assert_int_equal (hp_wire_head_set_key (&h, "", 0), -1);
    assert_int_equal (hp_wire_head_set_key (&h, big, sizeof big), -1);
    assert_int_equal (hp_wire_head_set_key (&h, big, HP_KEY_MAX), 0);
    assert_int_equal (hp_wire_head_set_key (&h, "a\0b", 3), -1);

    //  an event without the key flag takes no key frame
    hp_stream_t bc = hp_stream_broadcast ();
    len = hp_wire_head_stream (head, &bc, HP_WIRE_EVENT,
                               7, 13, 3, 0, HP_WIRE_FLAG_RECEIPT);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_int_equal (h.flags, HP_WIRE_FLAG_RECEIPT);
    assert_int_equal (hp_wire_head_set_key (&h, "k", 1), -1);

    //  multicast events carry flags before their recipients
    len = hp_wire_head_multicast (head, HP_WIRE_EVENT, 3, 42, 0, 5, HP_WIRE_FLAG_RECEIPT);
    unsigned char *p = hp_wire_put_entry (head + len, "bob", 3, 1);
    assert_int_equal (hp_wire_head_parse (head, (size_t) (p - head), &h), 0);
    assert_int_equal (h.flags, HP_WIRE_FLAG_RECEIPT);
    assert_int_equal (h.recipient_count, 1);

    //  pack writes no flags on other kinds; a sync whose flags byte is set
    //  (a broken peer) is refused
    len = hp_wire_head_user (head, "alice", 5, HP_WIRE_SYNC, 7, 12, 9, 0, HP_WIRE_FLAG_KEY);
    assert_int_equal (head [len - 1], 0);
    assert_int_equal (hp_wire_head_parse (head, len, &h), 0);
    assert_int_equal (h.flags, 0);
    head [len - 1] = HP_WIRE_FLAG_RECEIPT;
    assert_int_equal (hp_wire_head_parse (head, len, &h), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_header_round_trip),
        cmocka_unit_test (test_flags_and_key),
        cmocka_unit_test (test_header_refuses_bad_frames),
        cmocka_unit_test (test_user_head_round_trip),
        cmocka_unit_test (test_multicast_head_lists_recipients),
        cmocka_unit_test (test_tick_and_audit_heads),
        cmocka_unit_test (test_audit_request),
        cmocka_unit_test (test_channel_and_broadcast_heads),
        cmocka_unit_test (test_stream_audit_entries),
        cmocka_unit_test (test_epoch_text),
        cmocka_unit_test (test_epoch_new_random_nonzero),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
