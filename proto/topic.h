/* topic.h -- the ZeroMQ topic scheme between broker XPUB and gateway SUB. */
#ifndef HERALD_PROTO_TOPIC_H
#define HERALD_PROTO_TOPIC_H

#include <stddef.h>
#include <stdint.h>
#include "envelope.h"
#include "stream.h"

/* A user's topic is "u:" + user id + one NUL byte. User ids hold no control
 * characters, so the trailing NUL keeps "u:alice\0" from prefix-matching
 * "u:alice2\0". A channel's is "c:" + name + NUL, the broadcast stream's
 * "b:\0" (every gateway subscribes to it at start). */
#define HP_TOPIC_USER_PREFIX "u:"
#define HP_TOPIC_CHANNEL_PREFIX "c:"
#define HP_TOPIC_BROADCAST "b:"
#define HP_TOPIC_BROADCAST_LEN 3
/* The longest user or channel topic (both names are at most 128 bytes). */
#define HP_TOPIC_MAX (2 + HP_USER_MAX + 1)
_Static_assert (HP_CHANNEL_MAX == HP_USER_MAX, "HP_TOPIC_MAX covers channel topics");

/* Presence in a channel: "p:" + channel + NUL + user + NUL + 16 hex digits of
 * the gateway's id + 16 of the connection's. A gateway subscribes one per
 * (connection, channel) and unsubscribes it when the connection leaves;
 * nothing is published on it. Each is unique, so the broker's XPUB hands
 * over every subscribe and unsubscribe. */
#define HP_TOPIC_PRESENCE_PREFIX "p:"
#define HP_TOPIC_PRESENCE_ID_LEN 32
#define HP_TOPIC_PRESENCE_MAX (2 + HP_CHANNEL_MAX + 1 + HP_USER_MAX + 1 + HP_TOPIC_PRESENCE_ID_LEN)

/* Writes the topic of a user into out (HP_TOPIC_MAX bytes) and returns its
 * length (not NUL-terminated beyond the one NUL that ends every topic), or 0
 * when the user id is not 1-128 bytes. */
size_t hp_topic_user (char *out, const char *user, size_t len);

/* Parses a user topic; on success user points into topic. Returns 0 or -1
 * when topic is not "u:" + 1-128 bytes + NUL. */
int hp_topic_parse_user (const char *topic, size_t len, hp_str_t *user);

/* Writes a stream's topic (user, channel or broadcast) into out
 * (HP_TOPIC_MAX bytes); returns its length, NUL included, or 0 when the
 * stream is not valid (hp_stream_valid). */
size_t hp_topic_stream (char *out, const hp_stream_t *stream);

/* Parses a user, channel or broadcast topic (NUL included in len); names
 * point into topic and are checked as hp_stream_valid does, except that a
 * user id is only checked to be 1-128 bytes without a NUL (as
 * hp_topic_parse_user). Returns 0 or -1. */
int hp_topic_parse_stream (const char *topic, size_t len, hp_stream_t *stream);

/* Writes a presence topic into out (HP_TOPIC_PRESENCE_MAX bytes); returns
 * its length, or 0 when the channel or user is not valid. */
size_t hp_topic_presence (char *out, const char *channel, size_t channel_len,
                          const char *user, size_t user_len,
                          uint64_t gateway_id, uint64_t connection_id);

/* Parses a presence topic: channel and user valid (hp_channel_name_valid,
 * hp_user_id_valid), then exactly 32 hex digits (id). Pointers go into
 * topic. Returns 0 or -1. */
int hp_topic_parse_presence (const char *topic, size_t len, hp_str_t *channel,
                             hp_str_t *user, hp_str_t *id);

#endif
