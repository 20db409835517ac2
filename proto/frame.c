/* frame.c -- the JSON text frames the gateway writes to browsers. */
#include "frame.h"
#include "json.h"
#include "wire.h"

//  Both builders leave out exactly as it was when they fail, so a caller
//  can reuse the buffer without trimming a half-written frame.

#include <string.h>

//  The buffer's fast path, inlined (cap never exceeds the limit, so room
//  below cap needs no limit check); otherwise buf.c decides and may refuse.
static inline int
s_append (hp_buf_t *out, const char *bytes, size_t n)
{
    if (out->cap - out->len >= n) {
        memcpy (out->data + out->len, bytes, n);
        out->len += n;
        return 0;
    }
    return hp_buf_append (out, bytes, n);
}

//  A string literal, its length known at compile time (no strlen per event).
#define S_PUTS(out, literal) s_append ((out), (literal), sizeof (literal) - 1)

int
hp_frame_event (hp_buf_t *out, const hp_envelope_t *env, uint64_t offset)
{
    size_t mark = out->len;
    hp_str_t event = hp_envelope_event (env);
    const msgpack_object *data = hp_envelope_data (env);
    hp_str_t id = hp_envelope_id (env);
    if (S_PUTS (out, "{\"type\":\"event\",\"event\":")
    ||  hp_json_put_string (out, event.ptr ? event.ptr : "", event.len))
        goto fail;
    //  The addressing rides in the frame so a browser can tell a channel's
    //  event (and which channel) or a broadcast from its own.
    hp_addressing_t addressing = hp_envelope_addressing (env);
    if (addressing == HP_ADDR_CHANNEL) {
        hp_str_t channel = hp_envelope_channel (env);
        if (S_PUTS (out, ",\"channel\":")
        ||  hp_json_put_string (out, channel.ptr, channel.len))
            goto fail;
    }
    else
    if (addressing == HP_ADDR_BROADCAST && S_PUTS (out, ",\"broadcast\":true"))
        goto fail;
    if (S_PUTS (out, ",\"data\":")
    ||  (data ? hp_json_from_msgpack (out, data) : S_PUTS (out, "null"))
    ||  S_PUTS (out, ",\"offset\":")
    ||  hp_buf_put_u64 (out, offset))
        goto fail;
    if (id.ptr
    &&  (S_PUTS (out, ",\"id\":") || hp_json_put_string (out, id.ptr, id.len)))
        goto fail;
    if (S_PUTS (out, "}"))
        goto fail;
    return 0;
fail:
    out->len = mark;
    return -1;
}

/* welcome and subscribed differ only in their type and what they name */
static int
s_welcome (hp_buf_t *out, const char *head, const char *name, size_t name_len,
           uint64_t epoch, uint64_t offset, bool recovered)
{
    size_t mark = out->len;
    char epoch_text [HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (epoch_text, epoch);
    if (hp_buf_puts (out, head)
    ||  hp_json_put_string (out, name ? name : "", name ? name_len : 0)
    ||  hp_buf_puts (out, ",\"epoch\":\"")
    ||  hp_buf_append (out, epoch_text, HP_EPOCH_TEXT_LEN)
    ||  hp_buf_puts (out, "\",\"offset\":")
    ||  hp_buf_put_u64 (out, offset)
    ||  hp_buf_puts (out, recovered ? ",\"recovered\":true}" : ",\"recovered\":false}")) {
        out->len = mark;
        return -1;
    }
    return 0;
}

int
hp_frame_welcome (hp_buf_t *out, const char *user, size_t user_len,
                  uint64_t epoch, uint64_t offset, bool recovered)
{
    return s_welcome (out, "{\"type\":\"welcome\",\"user\":", user, user_len, epoch, offset,
                      recovered);
}

int
hp_frame_subscribed (hp_buf_t *out, const char *channel, size_t channel_len,
                     uint64_t epoch, uint64_t offset, bool recovered)
{
    return s_welcome (out, "{\"type\":\"subscribed\",\"channel\":", channel, channel_len,
                      epoch, offset, recovered);
}
