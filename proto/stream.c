/* stream.c -- what an event is addressed to (a user, a channel, the broadcast stream) and its key bytes. */
#include "stream.h"

#include <string.h>

bool
hp_stream_valid (const hp_stream_t *stream)
{
    switch (stream->kind) {
    case HP_STREAM_USER:
        return hp_user_id_valid (stream->name.ptr, stream->name.len);
    case HP_STREAM_CHANNEL:
        return hp_channel_name_valid (stream->name.ptr, stream->name.len);
    case HP_STREAM_BROADCAST:
        return stream->name.len == 0;
    }
    return false;
}

size_t
hp_stream_key (char out [HP_STREAM_KEY_MAX], const hp_stream_t *stream)
{
    if (!hp_stream_valid (stream))
        return 0;
    switch (stream->kind) {
    case HP_STREAM_USER:
        memcpy (out, stream->name.ptr, stream->name.len);
        return stream->name.len;
    case HP_STREAM_CHANNEL:
        out [0] = HP_STREAM_KEY_CHANNEL;
        memcpy (out + 1, stream->name.ptr, stream->name.len);
        return 1 + stream->name.len;
    case HP_STREAM_BROADCAST:
        out [0] = HP_STREAM_KEY_BROADCAST;
        return 1;
    }
    return 0;
}

int
hp_stream_from_key (const char *key, size_t len, hp_stream_t *out)
{
    if (!key || len < 1)
        return -1;
    if (key [0] == HP_STREAM_KEY_CHANNEL)
        *out = hp_stream_channel (key + 1, len - 1);
    else
    if (key [0] == HP_STREAM_KEY_BROADCAST)
        *out = (hp_stream_t) { HP_STREAM_BROADCAST, { key + 1, len - 1 } };
    else
        *out = hp_stream_user (key, len);
    return hp_stream_valid (out) ? 0 : -1;
}
