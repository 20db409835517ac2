/* topic.c -- the ZeroMQ topic scheme between broker XPUB and gateway SUB. */
#include "topic.h"
#include "wire.h"

#include <string.h>

#define S_PREFIX_LEN (sizeof HP_TOPIC_USER_PREFIX - 1)

size_t
hp_topic_user (char *out, const char *user, size_t len)
{
    //  A NUL inside the id would end the topic early and let one user's
    //  topic prefix-match another's; valid ids have none, but refuse anyway.
    if (!user || len < 1 || len > HP_USER_MAX || memchr (user, 0, len))
        return 0;
    memcpy (out, HP_TOPIC_USER_PREFIX, S_PREFIX_LEN);
    memcpy (out + S_PREFIX_LEN, user, len);
    out [S_PREFIX_LEN + len] = 0;
    return S_PREFIX_LEN + len + 1;
}

int
hp_topic_parse_user (const char *topic, size_t len, hp_str_t *user)
{
    if (!topic || len < S_PREFIX_LEN + 2 || len > HP_TOPIC_MAX)
        return -1;
    if (memcmp (topic, HP_TOPIC_USER_PREFIX, S_PREFIX_LEN) || topic [len - 1] != 0)
        return -1;
    size_t user_len = len - S_PREFIX_LEN - 1;
    if (memchr (topic + S_PREFIX_LEN, 0, user_len))
        return -1;
    user->ptr = topic + S_PREFIX_LEN;
    user->len = user_len;
    return 0;
}

size_t
hp_topic_stream (char *out, const hp_stream_t *stream)
{
    if (!hp_stream_valid (stream))
        return 0;
    if (stream->kind == HP_STREAM_USER)
        return hp_topic_user (out, stream->name.ptr, stream->name.len);
    if (stream->kind == HP_STREAM_BROADCAST) {
        memcpy (out, HP_TOPIC_BROADCAST, HP_TOPIC_BROADCAST_LEN);
        return HP_TOPIC_BROADCAST_LEN;
    }
    memcpy (out, HP_TOPIC_CHANNEL_PREFIX, S_PREFIX_LEN);
    memcpy (out + S_PREFIX_LEN, stream->name.ptr, stream->name.len);
    out [S_PREFIX_LEN + stream->name.len] = 0;
    return S_PREFIX_LEN + stream->name.len + 1;
}

int
hp_topic_parse_stream (const char *topic, size_t len, hp_stream_t *stream)
{
    if (!topic || len < HP_TOPIC_BROADCAST_LEN || len > HP_TOPIC_MAX || topic [len - 1] != 0)
        return -1;
    if (len == HP_TOPIC_BROADCAST_LEN && memcmp (topic, HP_TOPIC_BROADCAST, len) == 0) {
        *stream = hp_stream_broadcast ();
        return 0;
    }
    if (memcmp (topic, HP_TOPIC_CHANNEL_PREFIX, S_PREFIX_LEN) == 0) {
        *stream = hp_stream_channel (topic + S_PREFIX_LEN, len - S_PREFIX_LEN - 1);
        return hp_channel_name_valid (stream->name.ptr, stream->name.len) ? 0 : -1;
    }
    hp_str_t user;
    if (hp_topic_parse_user (topic, len, &user) != 0)
        return -1;
    *stream = hp_stream_user (user.ptr, user.len);
    return 0;
}

size_t
hp_topic_presence (char *out, const char *channel, size_t channel_len,
                   const char *user, size_t user_len,
                   uint64_t gateway_id, uint64_t connection_id)
{
    if (!hp_channel_name_valid (channel, channel_len) || !hp_user_id_valid (user, user_len))
        return 0;
    char *p = out;
    memcpy (p, HP_TOPIC_PRESENCE_PREFIX, S_PREFIX_LEN);
    p += S_PREFIX_LEN;
    memcpy (p, channel, channel_len);
    p += channel_len;
    *p++ = 0;
    memcpy (p, user, user_len);
    p += user_len;
    *p++ = 0;
    char hex [HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (hex, gateway_id);
    memcpy (p, hex, HP_EPOCH_TEXT_LEN);
    p += HP_EPOCH_TEXT_LEN;
    hp_epoch_format (hex, connection_id);
    memcpy (p, hex, HP_EPOCH_TEXT_LEN);
    p += HP_EPOCH_TEXT_LEN;
    return (size_t) (p - out);
}

int
hp_topic_parse_presence (const char *topic, size_t len, hp_str_t *channel,
                         hp_str_t *user, hp_str_t *id)
{
    if (!topic || len > HP_TOPIC_PRESENCE_MAX
    ||  len < S_PREFIX_LEN + 1 + 1 + 1 + 1 + HP_TOPIC_PRESENCE_ID_LEN
    ||  memcmp (topic, HP_TOPIC_PRESENCE_PREFIX, S_PREFIX_LEN) != 0)
        return -1;
    const char *p = topic + S_PREFIX_LEN, *end = topic + len - HP_TOPIC_PRESENCE_ID_LEN;
    const char *nul = memchr (p, 0, (size_t) (end - p));
    if (!nul)
        return -1;
    *channel = (hp_str_t) { p, (size_t) (nul - p) };
    p = nul + 1;
    if (p >= end)
        return -1;
    nul = memchr (p, 0, (size_t) (end - p));
    if (!nul || nul + 1 != end)
        return -1;
    *user = (hp_str_t) { p, (size_t) (nul - p) };
    *id = (hp_str_t) { end, HP_TOPIC_PRESENCE_ID_LEN };
    uint64_t ignored;
    if (!hp_channel_name_valid (channel->ptr, channel->len)
    ||  !hp_user_id_valid (user->ptr, user->len)
    ||  hp_epoch_parse (end, HP_EPOCH_TEXT_LEN, &ignored) != 0
    ||  hp_epoch_parse (end + HP_EPOCH_TEXT_LEN, HP_EPOCH_TEXT_LEN, &ignored) != 0)
        return -1;
    return 0;
}
