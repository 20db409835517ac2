/* envelope.h -- decode and validate a producer's msgpack envelope. */
#ifndef HERALD_PROTO_ENVELOPE_H
#define HERALD_PROTO_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#define HP_EVENT_NAME_MAX   64
#define HP_USER_MAX         128
#define HP_RECIPIENTS_MAX   10000
#define HP_ID_MAX           128
#define HP_IDEMPOTENCY_KEY_MAX 128
#define HP_CHANNEL_MAX      128
#define HP_KEY_MAX          128     /* a conflation key (envelope "key") */
#define HP_RECEIPT_MAX      3600    /* seconds a receipt may wait (envelope "receipt") */
#define HP_TTL_DEFAULT      120
#define HP_EVENT_BYTES_DEFAULT (64 * 1024)

/* A byte string that points into someone else's storage. */
typedef struct {
    const char *ptr;
    size_t      len;
} hp_str_t;

/* Why an envelope was refused; each has a metrics label (hp_env_error_name). */
typedef enum {
    HP_ENV_OK = 0,
    HP_ENV_TOO_LARGE,     /* over the byte limit */
    HP_ENV_NOT_MSGPACK,   /* truncated, invalid, trailing bytes, too deep */
    HP_ENV_NOT_MAP,       /* top level is not a map */
    HP_ENV_BAD_EVENT,     /* event missing, not str, empty, >64, bad chars */
    HP_ENV_BAD_TO,        /* to missing, not str/array, empty array, >10,000 */
    HP_ENV_BAD_USER,      /* a user id: not str, empty, >128, control char, invalid UTF-8 */
    HP_ENV_BAD_ID,        /* id not str or >128 bytes */
    HP_ENV_BAD_TTL,       /* ttl not a non-negative integer */
    HP_ENV_BAD_IDEMPOTENCY_KEY,   /* idempotency_key not str, empty or >128 bytes */
    HP_ENV_BAD_CHANNEL,   /* channel not str, empty, >128, bytes outside [A-Za-z0-9_.:@/=-] */
    HP_ENV_ADDRESSING,    /* more than one of to / channel / broadcast, or broadcast not true */
    HP_ENV_BAD_RECEIPT,   /* receipt not an integer of 1-3600 (seconds) */
    HP_ENV_BAD_KEY,       /* key not str, empty, >128 bytes or holding a NUL */
    HP_ENV_ERROR_COUNT
} hp_env_error_t;

/* Stable snake_case label for metrics and logs ("too_large", ...). */
const char *hp_env_error_name (hp_env_error_t err);

typedef struct hp_envelope hp_envelope_t;

/* Whom an envelope is for: exactly one of `to` (users), `channel` (every
 * connection subscribed to it) or `broadcast: true` (every connection). */
typedef enum {
    HP_ADDR_USERS = 0,
    HP_ADDR_CHANNEL,
    HP_ADDR_BROADCAST,
} hp_addressing_t;

/* A reusable decoder: one per ingest loop, so steady state does not allocate
 * beyond the msgpack zone it keeps. Returns NULL on out of memory. */
hp_envelope_t *hp_envelope_new (void);
void hp_envelope_destroy (hp_envelope_t **self_p);

/* Decodes and validates one envelope of `len` bytes, refusing any over
 * `max_bytes`. Every rule of DESIGN.md's producer envelope is checked; unknown
 * keys are ignored; a user listed twice in `to` is kept once. On HP_ENV_OK
 * the accessors below are valid until the next decode; the strings they
 * return point into `bytes` or into the decoder, so `bytes` must outlive them. */
hp_env_error_t hp_envelope_decode (hp_envelope_t *self, const char *bytes,
                                   size_t len, size_t max_bytes);

hp_str_t hp_envelope_event (const hp_envelope_t *self);
hp_addressing_t hp_envelope_addressing (const hp_envelope_t *self);
/* The channel (HP_ADDR_CHANNEL); ptr NULL otherwise. */
hp_str_t hp_envelope_channel (const hp_envelope_t *self);
/* The users of `to`: 0 for a channel event or a broadcast. */
size_t   hp_envelope_recipient_count (const hp_envelope_t *self);
hp_str_t hp_envelope_recipient (const hp_envelope_t *self, size_t i);
/* The payload, or NULL when absent. */
const msgpack_object *hp_envelope_data (const hp_envelope_t *self);
/* The producer's id; ptr is NULL when absent. */
hp_str_t hp_envelope_id (const hp_envelope_t *self);
/* Seconds to keep in history: the envelope's ttl, else HP_TTL_DEFAULT. */
uint32_t hp_envelope_ttl (const hp_envelope_t *self);
/* The producer's idempotency key (1-128 bytes; the broker routes an
 * envelope whose key it accepted within its window only once); ptr is NULL
 * when absent. */
hp_str_t hp_envelope_idempotency_key (const hp_envelope_t *self);

/* The receipt's seconds (1-3600: the envelope asks for delivery receipts,
 * DESIGN.md Beyond), or 0 when absent. */
uint32_t hp_envelope_receipt (const hp_envelope_t *self);
/* The conflation key (1-128 bytes, no NUL: a newer event with the same key
 * replaces this one while it is still queued for a connection); ptr is
 * NULL when absent. */
hp_str_t hp_envelope_key (const hp_envelope_t *self);

/* What an event carries besides its frame, everywhere it is kept or sent
 * again (wire header flags and key frame, history, store, the pair's
 * catch-up, resume replies): the wire flags (wire.h HP_WIRE_FLAG_*), the
 * receipt seconds (the broker's own: gateways see only the flag) and the
 * key. flags has HP_WIRE_FLAG_RECEIPT exactly when receipt > 0 and
 * HP_WIRE_FLAG_KEY exactly when key.len > 0. */
typedef struct {
    uint8_t  flags;
    uint16_t receipt;       /* seconds, 0: no receipt asked */
    hp_str_t key;           /* {NULL, 0}: none */
} hp_event_meta_t;

/* The decoded envelope's meta (valid as the accessors are). */
hp_event_meta_t hp_envelope_meta (const hp_envelope_t *self);

/* Builds a meta from its parts, as a reader of a stored or replicated
 * record does: flags follow from receipt and key. */
hp_event_meta_t hp_event_meta (uint16_t receipt, const char *key, size_t key_len);

/* True when s is a valid conflation key: 1-128 bytes without a NUL. */
bool hp_key_valid (const char *s, size_t len);

/* True when s is a valid user id: 1-128 bytes of UTF-8, no control chars
 * (C0, DEL, C1). Shared by the broker's HTTP path and the gateway's auth. */
bool hp_user_id_valid (const char *s, size_t len);

/* True when s is a valid event name: 1-64 bytes of [A-Za-z0-9_.:-]. */
bool hp_event_name_valid (const char *s, size_t len);

/* True when s is a valid channel name: 1-128 bytes of [A-Za-z0-9_.:@/=-]. */
bool hp_channel_name_valid (const char *s, size_t len);

#endif
