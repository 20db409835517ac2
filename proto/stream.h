/* stream.h -- what an event is addressed to (a user, a channel, the broadcast stream) and its key bytes. */
#ifndef HERALD_PROTO_STREAM_H
#define HERALD_PROTO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include "envelope.h"

/* Every event belongs to streams: each recipient user's, or one channel's,
 * or the broadcast stream. History, resume, the link's prev chain and the
 * audit all work per stream. */
typedef enum {
    HP_STREAM_USER = 0,
    HP_STREAM_CHANNEL,
    HP_STREAM_BROADCAST,
} hp_stream_kind_t;

typedef struct {
    hp_stream_kind_t kind;
    hp_str_t         name;   /* user id or channel name; empty for broadcast */
} hp_stream_t;

/* A stream's key, used wherever streams of every kind share one namespace
 * (the broker's history index and store, audit entries): a user's key is
 * its id; a channel's is 0x01 + its name; the broadcast stream's is 0x02.
 * A user id never begins with a control character, so keys never collide
 * and old user keys are unchanged. */
#define HP_STREAM_KEY_CHANNEL   '\x01'
#define HP_STREAM_KEY_BROADCAST '\x02'
#define HP_STREAM_KEY_MAX (1 + HP_CHANNEL_MAX)

static inline hp_stream_t
hp_stream_user (const char *user, size_t len)
{
    return (hp_stream_t) { HP_STREAM_USER, { user, len } };
}

static inline hp_stream_t
hp_stream_channel (const char *name, size_t len)
{
    return (hp_stream_t) { HP_STREAM_CHANNEL, { name, len } };
}

static inline hp_stream_t
hp_stream_broadcast (void)
{
    return (hp_stream_t) { HP_STREAM_BROADCAST, { "", 0 } };
}

/* True when the stream's name is valid for its kind (a user id, a channel
 * name, empty for broadcast). */
bool hp_stream_valid (const hp_stream_t *stream);

/* Writes the stream's key into out (HP_STREAM_KEY_MAX bytes, no NUL) and
 * returns its length, or 0 when the stream is not valid. */
size_t hp_stream_key (char out[HP_STREAM_KEY_MAX], const hp_stream_t *stream);

/* Reads a key back; out->name points into key. Returns 0, or -1 when the
 * bytes are no valid stream's key. */
int hp_stream_from_key (const char *key, size_t len, hp_stream_t *out);

#endif
