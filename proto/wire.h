/* wire.h -- the broker -> gateway message layout (and the gateway's in-band audit request), and epochs. */
#ifndef HERALD_PROTO_WIRE_H
#define HERALD_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.h"
#include "stream.h"

/* Every XPUB message is two frames, [head][body], or three for an event
 * with a conflation key: [head][body][key].
 * head = topic, then the 34-byte header: kind (1 byte) + epoch (u64) +
 * offset (u64) + aux (u64) + at (u64), all big-endian, + flags (1 byte);
 * on the multicast topic the recipients of an event follow, each a user
 * id, a NUL and its prev (u64). at is an event's accept time at the broker
 * ('E'), in microseconds since the Unix epoch (CLOCK_REALTIME, latency.h);
 * 0 for the other kinds and for an event whose time is not known. flags
 * (events only; 0 on every other kind, which a reader refuses otherwise):
 *   HP_WIRE_FLAG_RECEIPT  the envelope asked for delivery receipts: the
 *             gateways report browsers' acks for it (the seconds stay on
 *             the broker, which keeps the pending receipts);
 *   HP_WIRE_FLAG_KEY      a third frame follows holding the event's
 *             conflation key (1-128 bytes, no NUL): a newer event with the
 *             same key replaces it while it is queued for a connection.
 *   Other bits are reserved: sent as 0, ignored by readers.
 *   kind 'E' on "u:<id>\0": an event; offset is the event's; aux ("prev")
 *             is the offset of the last event the broker routed to that user
 *             before this one (0: none since the user came online); body is
 *             the event's JSON frame.
 *   kind 'E' on "m:\0": the same for several users: aux is 0, each
 *             recipient carries its own prev.
 *   kind 'S' on "u:<id>\0": sync, published when a subscription reaches the
 *             broker; offset is the broker's latest, aux the user's prev;
 *             body empty. After a sync every event for that user with a
 *             larger offset follows on the same pipe.
 *   kind 'T' on "m:\0": tick; offset is the broker's latest, aux the tick's
 *             sequence number (1, 2, ...); no recipients; body empty.
 *   kind 'D' on "u:<id>\0": disconnect (below); aux 0, body empty.
 *   kind 'E' on "c:<name>\0": an event for a channel; aux is the channel's
 *             prev (the last offset routed to it since a gateway subscribed
 *             it; 0: none). Kind 'S' there: the channel's sync, as a user's.
 *   kind 'E' on "b:\0": a broadcast; aux is the previous broadcast's offset
 *             in this epoch (0: none). Always published.
 *   kind 'A' on "g:<16 hex digits>\0": the answer to one gateway's audit
 *             request; offset is the broker's latest, aux the request's rid;
 *             body: per user asked, its id, a NUL and the offset of the last
 *             event the broker routed to it (u64; 0 when offline).
 * Topics end at their NUL, which no user id holds, so the first NUL in a head
 * ends its topic and the subscription match is exact. A gap for a user is
 * prev > the last offset a gateway saw for them (PROTOCOL.md). */
/* 25 bytes up to release 0.1.0's wire; `at` made it 33, flags 34
 * (PROTOCOL.md: broker and gateways come from the same release). The
 * first 33 bytes kept their layout. */
#define HP_WIRE_HEADER_LEN 34
#define HP_WIRE_FLAG_RECEIPT 0x01
#define HP_WIRE_FLAG_KEY     0x02
#define HP_WIRE_FLAGS_KNOWN  (HP_WIRE_FLAG_RECEIPT | HP_WIRE_FLAG_KEY)
#define HP_WIRE_EVENT 'E'
#define HP_WIRE_SYNC  'S'
#define HP_WIRE_TICK  'T'
#define HP_WIRE_AUDIT 'A'
/* kind 'D' (user topics only): the backend's control "disconnect": every
 * gateway holding the user closes each of their connections with 4003.
 * offset is the broker's latest; body is empty. */
#define HP_WIRE_DISCONNECT 'D'

/* The multicast topic, NUL included: every gateway subscribes to it once. */
#define HP_WIRE_MULTICAST_TOPIC     "m:"
#define HP_WIRE_MULTICAST_TOPIC_LEN 3

/* A gateway's own topic "g:" + 16 hex digits of its id + NUL. */
#define HP_WIRE_GATEWAY_TOPIC_LEN (2 + 16 + 1)

/* The broadcast topic, NUL included. */
#define HP_WIRE_BROADCAST_TOPIC     "b:"
#define HP_WIRE_BROADCAST_TOPIC_LEN 3

/* The longest user- or channel-topic head: topic and header. */
#define HP_WIRE_HEAD_MAX (2 + HP_USER_MAX + 1 + HP_WIRE_HEADER_LEN)

/* One listed entry (a multicast recipient, an audit request or answer
 * line): the id -- a user id, or in audits a stream key (stream.h: 0x01 +
 * channel, 0x02 for broadcast) -- its NUL, a u64. */
#define HP_WIRE_ENTRY_ID_MAX HP_STREAM_KEY_MAX
#define HP_WIRE_ENTRY_MAX (HP_WIRE_ENTRY_ID_MAX + 1 + 8)

typedef struct {
    char     kind;
    uint64_t epoch;
    uint64_t offset;
    uint64_t aux;           /* prev ('E' on a user topic, 'S'), tick number ('T'), rid ('A') */
    uint64_t at;            /* 'E': accept time at the broker, us since 1970; 0 unknown */
    uint8_t  flags;         /* 'E': HP_WIRE_FLAG_* (known bits only); 0 elsewhere */
    hp_str_t key;           /* the key frame (hp_wire_head_set_key); empty until then */
    bool     multicast;     /* on "m:\0" ('E' or 'T') */
    bool     gateway;       /* on "g:<id>\0" ('A'); gateway_id is the id */
    uint64_t gateway_id;
    /* On a user, channel or broadcast topic: which stream the head is about
     * (kind HP_STREAM_USER with an empty name on the other topics). */
    hp_stream_t stream;
    hp_str_t user;          /* on a user topic (stream.name); empty elsewhere */
    const char *recipients; /* multicast 'E': "id\0<u64>id\0<u64>..." */
    size_t   recipients_len;
    size_t   recipient_count;   /* users the event is for: 1 on a user topic, 0 for
                                   'T'/'A' and on channel and broadcast topics */
} hp_wire_head_t;

/* at: the accept time of an event ('E'), 0 for every other kind; flags
 * (HP_WIRE_FLAG_*) likewise 0 for every kind but 'E'. */
void hp_wire_header_pack (unsigned char out[HP_WIRE_HEADER_LEN], char kind,
                          uint64_t epoch, uint64_t offset, uint64_t aux, uint64_t at,
                          uint8_t flags);

/* Returns 0, or -1 when the frame is not a header of a known kind, or one
 * that is not an event carries flags. at and flags may be NULL; *flags
 * receives the known bits only. */
int hp_wire_header_unpack (const void *frame, size_t len, char *kind,
                           uint64_t *epoch, uint64_t *offset, uint64_t *aux, uint64_t *at,
                           uint8_t *flags);

/* Writes a user topic's head (HP_WIRE_HEAD_MAX bytes) into out; returns its
 * length, or 0 when the user id is not 1-128 bytes without a NUL. */
size_t hp_wire_head_user (unsigned char *out, const char *user, size_t len,
                          char kind, uint64_t epoch, uint64_t offset, uint64_t prev,
                          uint64_t at, uint8_t flags);

/* Writes a stream's head (user, channel or broadcast topic, then the
 * header) into out (HP_WIRE_HEAD_MAX bytes); returns its length, or 0 when
 * the stream is not valid (hp_stream_valid). */
size_t hp_wire_head_stream (unsigned char *out, const hp_stream_t *stream, char kind,
                            uint64_t epoch, uint64_t offset, uint64_t aux, uint64_t at,
                            uint8_t flags);

/* Writes the multicast topic and a header into out
 * (HP_WIRE_MULTICAST_TOPIC_LEN + HP_WIRE_HEADER_LEN bytes); for an event the
 * caller appends the recipients with hp_wire_put_entry. Returns the length. */
size_t hp_wire_head_multicast (unsigned char *out, char kind, uint64_t epoch,
                               uint64_t offset, uint64_t aux, uint64_t at, uint8_t flags);

/* Writes a gateway topic's head into out (HP_WIRE_GATEWAY_TOPIC_LEN +
 * HP_WIRE_HEADER_LEN bytes). Returns the length. */
size_t hp_wire_head_gateway (unsigned char *out, uint64_t gateway_id, char kind,
                             uint64_t epoch, uint64_t offset, uint64_t aux);

/* Writes a gateway's topic (HP_WIRE_GATEWAY_TOPIC_LEN bytes, NUL included). */
void hp_wire_gateway_topic (char out[HP_WIRE_GATEWAY_TOPIC_LEN], uint64_t gateway_id);

/* Appends one entry (id, NUL, u64) at out, which must have len + 9 bytes;
 * returns the byte after it. */
unsigned char *hp_wire_put_entry (unsigned char *out, const char *id, size_t len, uint64_t value);

/* Parses a head frame; pointers in out point into it. Checks the topic, the
 * header, the kinds each topic carries, and on the multicast topic that an
 * event lists at least one recipient, each 1-128 bytes and whole. Returns 0
 * or -1. */
int hp_wire_head_parse (const void *frame, size_t len, hp_wire_head_t *out);

/* Takes the message's third frame (an event whose head has
 * HP_WIRE_FLAG_KEY) as its key: head->key points into frame. Returns 0, or
 * -1 when the head asks for no key or the frame is not a key (1-128 bytes,
 * no NUL). A reader refuses a message whose frame count does not match its
 * flags: two frames without HP_WIRE_FLAG_KEY, three with it. */
int hp_wire_head_set_key (hp_wire_head_t *head, const void *frame, size_t len);

/* Steps through a parsed multicast head's recipients: *cursor starts at
 * head->recipients; returns false after the last one. */
bool hp_wire_next_recipient (const hp_wire_head_t *head, const char **cursor,
                             hp_str_t *user, uint64_t *prev);

/* Steps through a list of entries (an audit answer's body, an audit
 * request's ids when with_value is false): *cursor starts at the list and
 * moves on. Returns 1 with the next entry, 0 at the end, -1 when the rest is
 * malformed (an id of 0 or over HP_WIRE_ENTRY_ID_MAX bytes, no NUL, a cut
 * value). An audit entry's id is a stream key: hp_stream_from_key tells
 * a user from a channel or the broadcast stream. */
int hp_wire_next_entry (const char **cursor, const char *end, bool with_value,
                        hp_str_t *id, uint64_t *value);

/* Appends one audit entry for a stream (its key, NUL, and with_value the
 * u64) at out, which must have HP_WIRE_ENTRY_MAX bytes; returns the byte
 * after it, or NULL when the stream is not valid. */
unsigned char *hp_wire_put_stream_entry (unsigned char *out, const hp_stream_t *stream,
                                         bool with_value, uint64_t value);

/* The gateway's audit request, sent upstream on its XSUB socket (the
 * broker's XPUB hands it over like a subscription message): 'A' (a first
 * byte that is no subscription's), gateway id (u64), rid (u64), then at most
 * HP_WIRE_AUDIT_USERS_MAX stream keys (user ids, 0x01 + channel, 0x02) each
 * followed by a NUL, all within HP_WIRE_AUDIT_REQUEST_MAX bytes. */
#define HP_WIRE_AUDIT_REQUEST 'A'
#define HP_WIRE_AUDIT_REQUEST_HEAD 17
#define HP_WIRE_AUDIT_USERS_MAX 1000
/* A request's whole size at most: the broker's XPUB takes messages up to
 * 1 KiB (ZMQ_MAXMSGSIZE, broker/main.c) and drops the link of a peer that
 * sends more, so gateways batch their users by bytes, ~50 per request. */
#define HP_WIRE_AUDIT_REQUEST_MAX 1024

/* Writes the request's first 17 bytes into out. */
void hp_wire_audit_request_head (unsigned char out[HP_WIRE_AUDIT_REQUEST_HEAD],
                                 uint64_t gateway_id, uint64_t rid);

/* Parses a request: the ids are [*ids, *ids + *ids_len), checked with
 * hp_wire_next_entry (with_value false). Returns 0, or -1 when it is not an
 * audit request (wrong first byte, too short). */
int hp_wire_audit_request_parse (const void *msg, size_t len, uint64_t *gateway_id,
                                 uint64_t *rid, const char **ids, size_t *ids_len);

/* Epochs are random u64s chosen at broker start; clients see 16 lowercase hex
 * digits. out receives 16 digits and a NUL. */
#define HP_EPOCH_TEXT_LEN 16
void hp_epoch_format (char out[HP_EPOCH_TEXT_LEN + 1], uint64_t epoch);
/* Returns 0, or -1 when s is not exactly 16 hex digits. */
int hp_epoch_parse (const char *s, size_t len, uint64_t *epoch);

/* A fresh random epoch (from getrandom, never 0). */
uint64_t hp_epoch_new (void);

#endif
