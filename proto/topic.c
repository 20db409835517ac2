/* topic.c -- the ZeroMQ topic scheme between broker XPUB and gateway SUB. */
#include "topic.h"

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
