/* wire.h -- the broker -> gateway message layout, and epochs. */
#ifndef HERALD_PROTO_WIRE_H
#define HERALD_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "envelope.h"

/* Every XPUB message is two frames: [head][body].
 * head = topic, then the 17-byte header: kind (1 byte) + epoch (u64,
 * big-endian) + offset (u64, big-endian); on the multicast topic the
 * recipients follow, each a user id and a NUL.
 *   kind 'E': an event; offset is the event's; body is its JSON frame.
 *   kind 'S': sync (user topics only), published when a subscription reaches
 *             the broker; offset is the broker's latest; body is empty. After
 *             a sync every event for that user with a larger offset follows
 *             on the same pipe, on the user's topic or the multicast one.
 * Topics end at their NUL, which no user id holds, so the first NUL in a head
 * ends its topic and the subscription match is exact. */
#define HP_WIRE_HEADER_LEN 17
#define HP_WIRE_EVENT 'E'
#define HP_WIRE_SYNC  'S'

/* The multicast topic, NUL included: every gateway subscribes to it once. */
#define HP_WIRE_MULTICAST_TOPIC     "m:"
#define HP_WIRE_MULTICAST_TOPIC_LEN 3

/* The longest user-topic head: topic and header. */
#define HP_WIRE_HEAD_MAX (2 + HP_USER_MAX + 1 + HP_WIRE_HEADER_LEN)

typedef struct {
    char     kind;
    uint64_t epoch;
    uint64_t offset;
    bool     multicast;
    hp_str_t user;          /* on a user topic */
    const char *recipients; /* on the multicast topic: "id\0id\0..." */
    size_t   recipients_len;
    size_t   recipient_count;   /* users the event is for: 1 on a user topic */
} hp_wire_head_t;

void hp_wire_header_pack (unsigned char out[HP_WIRE_HEADER_LEN], char kind,
                          uint64_t epoch, uint64_t offset);

/* Returns 0, or -1 when the frame is not a header of a known kind. */
int hp_wire_header_unpack (const void *frame, size_t len, char *kind,
                           uint64_t *epoch, uint64_t *offset);

/* Writes a user topic's head (HP_WIRE_HEAD_MAX bytes) into out; returns its
 * length, or 0 when the user id is not 1-128 bytes without a NUL. */
size_t hp_wire_head_user (unsigned char *out, const char *user, size_t len,
                          char kind, uint64_t epoch, uint64_t offset);

/* Writes the multicast topic and an event header into out
 * (HP_WIRE_MULTICAST_TOPIC_LEN + HP_WIRE_HEADER_LEN bytes); the caller
 * appends the recipients. Returns the length written. */
size_t hp_wire_head_multicast (unsigned char *out, uint64_t epoch, uint64_t offset);

/* Parses a head frame; pointers in out point into it. Checks the topic, the
 * header, and on the multicast topic that every recipient is 1-128 bytes and
 * NUL-terminated and that there is at least one. Returns 0 or -1. */
int hp_wire_head_parse (const void *frame, size_t len, hp_wire_head_t *out);

/* Steps through a parsed head's recipients: *cursor starts at
 * head->recipients; returns false after the last one. */
bool hp_wire_next_recipient (const hp_wire_head_t *head, const char **cursor,
                             hp_str_t *user);

/* Epochs are random u64s chosen at broker start; clients see 16 lowercase hex
 * digits. out receives 16 digits and a NUL. */
#define HP_EPOCH_TEXT_LEN 16
void hp_epoch_format (char out[HP_EPOCH_TEXT_LEN + 1], uint64_t epoch);
/* Returns 0, or -1 when s is not exactly 16 hex digits. */
int hp_epoch_parse (const char *s, size_t len, uint64_t *epoch);

/* A fresh random epoch (from getrandom, never 0). */
uint64_t hp_epoch_new (void);

#endif
