/* wire.h -- the header frame of every broker -> gateway message, and epochs. */
#ifndef HERALD_PROTO_WIRE_H
#define HERALD_PROTO_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Every XPUB message is three frames: [topic][header][body].
 * header = kind (1 byte) + epoch (u64, big-endian) + offset (u64, big-endian).
 *   kind 'E': an event; offset is the event's; body is its JSON frame.
 *   kind 'S': sync, published when a subscription reaches the broker; offset
 *             is the broker's latest; body is empty. After a sync, every event
 *             for that topic with a larger offset follows on the same pipe. */
#define HP_WIRE_HEADER_LEN 17
#define HP_WIRE_EVENT 'E'
#define HP_WIRE_SYNC  'S'

void hp_wire_header_pack (unsigned char out[HP_WIRE_HEADER_LEN], char kind,
                          uint64_t epoch, uint64_t offset);

/* Returns 0, or -1 when the frame is not a header of a known kind. */
int hp_wire_header_unpack (const void *frame, size_t len, char *kind,
                           uint64_t *epoch, uint64_t *offset);

/* Epochs are random u64s chosen at broker start; clients see 16 lowercase hex
 * digits. out receives 16 digits and a NUL. */
#define HP_EPOCH_TEXT_LEN 16
void hp_epoch_format (char out[HP_EPOCH_TEXT_LEN + 1], uint64_t epoch);
/* Returns 0, or -1 when s is not exactly 16 hex digits. */
int hp_epoch_parse (const char *s, size_t len, uint64_t *epoch);

/* A fresh random epoch (from getrandom, never 0). */
uint64_t hp_epoch_new (void);

#endif
