/* streamkey.h -- the history keys an event is stored under: each user's id, 0x01 + channel, or 0x02. */
#ifndef HERALD_BROKER_STREAMKEY_H
#define HERALD_BROKER_STREAMKEY_H

#include <stddef.h>
#include "envelope.h"
#include "stream.h"
#include "umap.h"

/* Room for one channel's or the broadcast stream's key (proto/stream.h):
 * a user's key is its id, which points into the envelope instead. */
typedef struct {
    char bytes[HP_STREAM_KEY_MAX];
} hb_streamkey_t;

/* A stream's key, written into buf, in key (pointing into buf) with its
 * hash. 0, or -1 when the stream is not valid (hp_stream_valid). */
int hb_streamkey_make (const hp_stream_t *stream, hb_streamkey_t *buf, hb_key_t *key);

/* The keys of a decoded envelope into keys (HP_RECIPIENTS_MAX of them):
 * each recipient's id (pointing into the envelope), or for a channel
 * event or a broadcast the one stream key (pointing into buf). Returns
 * how many. */
size_t hb_streamkey_envelope (const hp_envelope_t *env, hb_streamkey_t *buf, hb_key_t *keys);

#endif
