/* topic.h -- the ZeroMQ topic scheme between broker XPUB and gateway SUB. */
#ifndef HERALD_PROTO_TOPIC_H
#define HERALD_PROTO_TOPIC_H

#include <stddef.h>
#include "envelope.h"

/* A user's topic is "u:" + user id + one NUL byte. User ids hold no control
 * characters, so the trailing NUL keeps "u:alice\0" from prefix-matching
 * "u:alice2\0". Channels and broadcast will take other prefixes. */
#define HP_TOPIC_USER_PREFIX "u:"
#define HP_TOPIC_MAX (2 + HP_USER_MAX + 1)

/* Writes the topic of a user into out (HP_TOPIC_MAX bytes) and returns its
 * length (not NUL-terminated beyond the one NUL that ends every topic), or 0
 * when the user id is not 1-128 bytes. */
size_t hp_topic_user (char *out, const char *user, size_t len);

/* Parses a user topic; on success user points into topic. Returns 0 or -1
 * when topic is not "u:" + 1-128 bytes + NUL. */
int hp_topic_parse_user (const char *topic, size_t len, hp_str_t *user);

#endif
