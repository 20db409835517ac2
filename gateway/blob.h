/* blob.h -- one refcounted outgoing text frame with LWS_PRE headroom. */
#ifndef HERALD_GW_BLOB_H
#define HERALD_GW_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An event's JSON is copied into one blob when it arrives from the broker;
 * every recipient connection's queue holds a reference to the same blob, and
 * the last release frees it. Welcomes and replayed events are blobs with a
 * single reference. Transparent so the write path reads it without calls. */
typedef struct {
    uint32_t refs;
    uint32_t len;        /* payload bytes after the headroom */
    bool replay;         /* a resume replay frame, held by one queue only */
    bool broadcast;      /* a broadcast (the other prev chain of a user's stream) */
    uint64_t offset;     /* the event's offset; 0 for non-event frames */
    uint64_t at;         /* its accept time at the broker, us since 1970; 0: none
                            (not an event, or stored by an earlier release) */
    uint8_t flags;       /* the event's wire flags (wire.h HP_WIRE_FLAG_*); 0 otherwise */
    uint8_t key_len;     /* its conflation key's bytes (HP_WIRE_FLAG_KEY), 0: none */
    uint64_t key_hash;   /* hash of the key (computed once, for every queue) */
    const char *key;     /* the key, inside this allocation; NULL: none */
    unsigned char *payload;   /* points past the headroom inside this allocation */
} gw_blob_t;

/* A blob holding a copy of len bytes, with one reference owned by the
 * caller; offset and at as above. NULL on out of memory or len over 4 GiB. */
gw_blob_t *gw_blob_new (const void *bytes, size_t len, uint64_t offset, uint64_t at);

/* The same for an event with its wire flags and conflation key (key_len
 * 0-128 bytes, copied; kept only with HP_WIRE_FLAG_KEY in flags). */
gw_blob_t *gw_blob_new_event (const void *bytes, size_t len, uint64_t offset, uint64_t at,
                              uint8_t flags, const char *key, size_t key_len);

/* Takes one more reference; returns blob. */
gw_blob_t *gw_blob_ref (gw_blob_t *blob);

/* Drops the caller's reference and nulls its pointer; frees on the last. */
void gw_blob_release (gw_blob_t **blob_p);

/* Blobs alive right now (for tests and the memory gauge). */
size_t gw_blob_live_count (void);

#endif
