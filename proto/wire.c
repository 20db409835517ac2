/* wire.c -- the broker -> gateway message layout (and the gateway's in-band audit request), and epochs. */
#include "wire.h"
#include "bigendian.h"
#include "topic.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void
hp_wire_header_pack (unsigned char out [HP_WIRE_HEADER_LEN], char kind,
                     uint64_t epoch, uint64_t offset, uint64_t aux, uint64_t at,
                     uint8_t flags)
{
    out [0] = (unsigned char) kind;
    hp_be64_put (out + 1, epoch);
    hp_be64_put (out + 9, offset);
    hp_be64_put (out + 17, aux);
    hp_be64_put (out + 25, at);
    out [33] = kind == HP_WIRE_EVENT ? flags : 0;
}

int
hp_wire_header_unpack (const void *frame, size_t len, char *kind,
                       uint64_t *epoch, uint64_t *offset, uint64_t *aux, uint64_t *at,
                       uint8_t *flags)
{
    const unsigned char *p = frame;
    if (!p || len != HP_WIRE_HEADER_LEN)
        return -1;
    if (p [0] != HP_WIRE_EVENT && p [0] != HP_WIRE_SYNC
    &&  p [0] != HP_WIRE_TICK && p [0] != HP_WIRE_AUDIT && p [0] != HP_WIRE_DISCONNECT)
        return -1;
    if (p [0] != HP_WIRE_EVENT && p [33] != 0)
        return -1;                      //  flags belong to events
    *kind = (char) p [0];
    *epoch = hp_be64_get (p + 1);
    *offset = hp_be64_get (p + 9);
    *aux = hp_be64_get (p + 17);
    if (at)
        *at = hp_be64_get (p + 25);
    if (flags)
        *flags = p [33] & HP_WIRE_FLAGS_KNOWN;
    return 0;
}

size_t
hp_wire_head_user (unsigned char *out, const char *user, size_t len,
                   char kind, uint64_t epoch, uint64_t offset, uint64_t prev, uint64_t at,
                   uint8_t flags)
{
    size_t topic_len = hp_topic_user ((char *) out, user, len);
    if (topic_len)
        hp_wire_header_pack (out + topic_len, kind, epoch, offset, prev, at, flags);
    return topic_len ? topic_len + HP_WIRE_HEADER_LEN : 0;
}

size_t
hp_wire_head_stream (unsigned char *out, const hp_stream_t *stream, char kind,
                     uint64_t epoch, uint64_t offset, uint64_t aux, uint64_t at,
                     uint8_t flags)
{
    size_t topic_len = hp_topic_stream ((char *) out, stream);
    if (topic_len)
        hp_wire_header_pack (out + topic_len, kind, epoch, offset, aux, at, flags);
    return topic_len ? topic_len + HP_WIRE_HEADER_LEN : 0;
}

size_t
hp_wire_head_multicast (unsigned char *out, char kind, uint64_t epoch, uint64_t offset,
                        uint64_t aux, uint64_t at, uint8_t flags)
{
    memcpy (out, HP_WIRE_MULTICAST_TOPIC, HP_WIRE_MULTICAST_TOPIC_LEN);
    hp_wire_header_pack (out + HP_WIRE_MULTICAST_TOPIC_LEN, kind, epoch, offset, aux, at,
                         flags);
    return HP_WIRE_MULTICAST_TOPIC_LEN + HP_WIRE_HEADER_LEN;
}

void
hp_wire_gateway_topic (char out [HP_WIRE_GATEWAY_TOPIC_LEN], uint64_t gateway_id)
{
    char hex [HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (hex, gateway_id);
    out [0] = 'g';
    out [1] = ':';
    memcpy (out + 2, hex, HP_EPOCH_TEXT_LEN);
    out [HP_WIRE_GATEWAY_TOPIC_LEN - 1] = 0;
}

size_t
hp_wire_head_gateway (unsigned char *out, uint64_t gateway_id, char kind,
                      uint64_t epoch, uint64_t offset, uint64_t aux)
{
    hp_wire_gateway_topic ((char *) out, gateway_id);
    hp_wire_header_pack (out + HP_WIRE_GATEWAY_TOPIC_LEN, kind, epoch, offset, aux, 0, 0);
    return HP_WIRE_GATEWAY_TOPIC_LEN + HP_WIRE_HEADER_LEN;
}

unsigned char *
hp_wire_put_entry (unsigned char *out, const char *id, size_t len, uint64_t value)
{
    memcpy (out, id, len);
    out [len] = 0;
    hp_be64_put (out + len + 1, value);
    return out + len + 9;
}

int
hp_wire_next_entry (const char **cursor, const char *end, bool with_value,
                    hp_str_t *id, uint64_t *value)
{
    const char *p = *cursor;
    if (p >= end)
        return 0;
    size_t room = (size_t) (end - p);
    const char *nul = memchr (p, 0, room < HP_WIRE_ENTRY_ID_MAX + 1 ? room
                                                                   : HP_WIRE_ENTRY_ID_MAX + 1);
    if (!nul || nul == p)
        return -1;
    size_t len = (size_t) (nul - p);
    size_t need = len + 1 + (with_value ? 8 : 0);
    if (need > room)
        return -1;
    *id = (hp_str_t) { p, len };
    if (with_value && value)
        *value = hp_be64_get ((const unsigned char *) nul + 1);
    *cursor = p + need;
    return 1;
}

unsigned char *
hp_wire_put_stream_entry (unsigned char *out, const hp_stream_t *stream, bool with_value,
                          uint64_t value)
{
    char key [HP_STREAM_KEY_MAX];
    size_t len = hp_stream_key (key, stream);
    if (!len)
        return NULL;
    if (with_value)
        return hp_wire_put_entry (out, key, len, value);
    memcpy (out, key, len);
    out [len] = 0;
    return out + len + 1;
}

/* True when the topic is "g:" + 16 lowercase hex digits + NUL. */
static bool
s_gateway_topic (const char *p, size_t topic_len, uint64_t *id)
{
    return topic_len == HP_WIRE_GATEWAY_TOPIC_LEN && p [0] == 'g' && p [1] == ':'
        && hp_epoch_parse (p + 2, HP_EPOCH_TEXT_LEN, id) == 0;
}

int
hp_wire_head_parse (const void *frame, size_t len, hp_wire_head_t *out)
{
    const char *p = frame;
    if (!p)
        return -1;
    const char *nul = memchr (p, 0, len < HP_TOPIC_MAX ? len : HP_TOPIC_MAX);
    if (!nul)
        return -1;
    size_t topic_len = (size_t) (nul - p) + 1;
    if (len - topic_len < HP_WIRE_HEADER_LEN
    ||  hp_wire_header_unpack (p + topic_len, HP_WIRE_HEADER_LEN, &out->kind,
                               &out->epoch, &out->offset, &out->aux, &out->at,
                               &out->flags) != 0)
        return -1;
    out->key = (hp_str_t) { NULL, 0 };
    const char *rest = p + topic_len + HP_WIRE_HEADER_LEN;
    size_t rest_len = len - topic_len - HP_WIRE_HEADER_LEN;
    out->multicast = false;
    out->gateway = false;
    out->gateway_id = 0;
    out->user = (hp_str_t) { NULL, 0 };
    out->stream = hp_stream_user (NULL, 0);
    out->recipients = NULL;
    out->recipients_len = 0;
    out->recipient_count = 0;
    if (topic_len == HP_WIRE_MULTICAST_TOPIC_LEN
    &&  memcmp (p, HP_WIRE_MULTICAST_TOPIC, topic_len) == 0) {
        out->multicast = true;
        if (out->kind == HP_WIRE_TICK)
            return rest_len == 0 ? 0 : -1;
        if (out->kind != HP_WIRE_EVENT || rest_len == 0)
            return -1;
        //  Each entry must be a user id (1-128 bytes, not a channel's or
        //  the broadcast's stream key), a NUL and a u64.
        size_t count = 0;
        const char *cursor = rest, *end = rest + rest_len;
        hp_str_t id;
        int rc;
        while ((rc = hp_wire_next_entry (&cursor, end, true, &id, NULL)) == 1) {
            if (id.len > HP_USER_MAX || (unsigned char) id.ptr [0] < 0x20)
                return -1;
            count++;
        }
        if (rc != 0)
            return -1;
        out->recipient_count = count;
        out->recipients = rest;
        out->recipients_len = rest_len;
        return 0;
    }
    if (s_gateway_topic (p, topic_len, &out->gateway_id)) {
        out->gateway = true;
        return out->kind == HP_WIRE_AUDIT && rest_len == 0 ? 0 : -1;
    }
    if (rest_len != 0 || hp_topic_parse_stream (p, topic_len, &out->stream) != 0)
        return -1;
    switch (out->stream.kind) {
    case HP_STREAM_USER:
        if (out->kind != HP_WIRE_EVENT && out->kind != HP_WIRE_SYNC
        &&  out->kind != HP_WIRE_DISCONNECT)
            return -1;
        out->user = out->stream.name;
        out->recipient_count = 1;
        return 0;
    case HP_STREAM_CHANNEL:
        return out->kind == HP_WIRE_EVENT || out->kind == HP_WIRE_SYNC ? 0 : -1;
    case HP_STREAM_BROADCAST:
        return out->kind == HP_WIRE_EVENT ? 0 : -1;
    }
    return -1;
}

int
hp_wire_head_set_key (hp_wire_head_t *head, const void *frame, size_t len)
{
    if (!(head->flags & HP_WIRE_FLAG_KEY) || !hp_key_valid (frame, len))
        return -1;
    head->key = (hp_str_t) { frame, len };
    return 0;
}

bool
hp_wire_next_recipient (const hp_wire_head_t *head, const char **cursor, hp_str_t *user,
                        uint64_t *prev)
{
    if (!head->multicast || !head->recipients)
        return false;
    //  hp_wire_head_parse checked every entry, so 1 or 0 is all this can say.
    return hp_wire_next_entry (cursor, head->recipients + head->recipients_len, true,
                               user, prev) == 1;
}

void
hp_wire_audit_request_head (unsigned char out [HP_WIRE_AUDIT_REQUEST_HEAD],
                            uint64_t gateway_id, uint64_t rid)
{
    out [0] = HP_WIRE_AUDIT_REQUEST;
    hp_be64_put (out + 1, gateway_id);
    hp_be64_put (out + 9, rid);
}

int
hp_wire_audit_request_parse (const void *msg, size_t len, uint64_t *gateway_id,
                             uint64_t *rid, const char **ids, size_t *ids_len)
{
    const unsigned char *p = msg;
    if (!p || len < HP_WIRE_AUDIT_REQUEST_HEAD || p [0] != HP_WIRE_AUDIT_REQUEST)
        return -1;
    *gateway_id = hp_be64_get (p + 1);
    *rid = hp_be64_get (p + 9);
    *ids = (const char *) p + HP_WIRE_AUDIT_REQUEST_HEAD;
    *ids_len = len - HP_WIRE_AUDIT_REQUEST_HEAD;
    return 0;
}

void
hp_epoch_format (char out [HP_EPOCH_TEXT_LEN + 1], uint64_t epoch)
{
    static const char hex [] = "0123456789abcdef";
    for (int i = HP_EPOCH_TEXT_LEN - 1; i >= 0; i--) {
        out [i] = hex [epoch & 0x0f];
        epoch >>= 4;
    }
    out [HP_EPOCH_TEXT_LEN] = 0;
}

int
hp_epoch_parse (const char *s, size_t len, uint64_t *epoch)
{
    if (!s || len != HP_EPOCH_TEXT_LEN)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s [i];
        unsigned digit;
        if (c >= '0' && c <= '9')
            digit = (unsigned) (c - '0');
        else
        if (c >= 'a' && c <= 'f')
            digit = (unsigned) (c - 'a' + 10);
        else
        if (c >= 'A' && c <= 'F')       //  we print lowercase, but be liberal
            digit = (unsigned) (c - 'A' + 10);
        else
            return -1;
        v = (v << 4) | digit;
    }
    *epoch = v;
    return 0;
}

uint64_t
hp_epoch_new (void)
{
    uint64_t v = 0;
    //  getrandom blocks only until the kernel's pool is first seeded, which
    //  is long done on any running system. 0 is reserved for "no epoch".
    for (int tries = 0; tries < 16 && v == 0; tries++) {
        ssize_t n = getrandom (&v, sizeof v, 0);
        if (n != (ssize_t) sizeof v) {
            if (n < 0 && errno == EINTR)
                continue;
            v = 0;
            break;
        }
    }
    if (v == 0) {
        //  No getrandom (very old kernel or seccomp): the clock and pid
        //  still give a new epoch per broker start, which is what matters.
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        v = ((uint64_t) ts.tv_sec << 32) ^ (uint64_t) ts.tv_nsec
          ^ ((uint64_t) getpid () << 16);
        v ^= v >> 29;
        v *= 0xbf58476d1ce4e5b9ULL;
        v ^= v >> 32;
        if (v == 0)
            v = 1;
    }
    return v;
}
