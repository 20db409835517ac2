/* streamkey.c -- the history keys an event is stored under: each user's id, 0x01 + channel, or 0x02. */
#include "streamkey.h"

int
hb_streamkey_make (const hp_stream_t *stream, hb_streamkey_t *buf, hb_key_t *key)
{
    size_t len = hp_stream_key (buf->bytes, stream);
    if (len == 0)
        return -1;
    *key = (hb_key_t) { buf->bytes, len, hb_hash (buf->bytes, len) };
    return 0;
}

size_t
hb_streamkey_envelope (const hp_envelope_t *env, hb_streamkey_t *buf, hb_key_t *keys)
{
    hp_stream_t stream;
    switch (hp_envelope_addressing (env)) {
    case HP_ADDR_CHANNEL: {
        hp_str_t channel = hp_envelope_channel (env);
        stream = hp_stream_channel (channel.ptr, channel.len);
        break;
    }
    case HP_ADDR_BROADCAST:
        stream = hp_stream_broadcast ();
        break;
    default: {
        size_t n = hp_envelope_recipient_count (env);
        for (size_t i = 0; i < n; i++) {
            hp_str_t user = hp_envelope_recipient (env, i);
            keys[i] = (hb_key_t) { user.ptr, user.len, hb_hash (user.ptr, user.len) };
        }
        return n;
    }
    }
    /* the decoder checked the name: the key is valid */
    return hb_streamkey_make (&stream, buf, &keys[0]) == 0 ? 1 : 0;
}
