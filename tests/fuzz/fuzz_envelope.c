/* fuzz_envelope.c -- fuzz target: untrusted producer bytes -> envelope -> frame. */
//  Oracles (abort on failure): an accepted envelope satisfies every rule of
//  PROTOCOL.md's producer envelope, its recipients are distinct (none for a
//  channel event or a broadcast, whose channel is valid), and its event
//  frame is valid JSON of type "event" carrying its addressing.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "envelope.h"
#include "wire.h"
#include "frame.h"
#include "json_valid.h"

static hp_envelope_t *s_env;

static void
s_check (const hp_envelope_t *env)
{
    hp_str_t ev = hp_envelope_event (env);
    if (!hp_event_name_valid (ev.ptr, ev.len))
        abort ();
    //  receipt and key: in bounds, and the meta's flags say exactly them
    uint32_t receipt = hp_envelope_receipt (env);
    hp_str_t key = hp_envelope_key (env);
    hp_event_meta_t meta = hp_envelope_meta (env);
    if (receipt > HP_RECEIPT_MAX || (key.ptr && !hp_key_valid (key.ptr, key.len))
    ||  ((meta.flags & HP_WIRE_FLAG_RECEIPT) != 0) != (receipt != 0)
    ||  ((meta.flags & HP_WIRE_FLAG_KEY) != 0) != (key.ptr != NULL)
    ||  meta.receipt != receipt || meta.key.len != key.len)
        abort ();
    size_t n = hp_envelope_recipient_count (env);
    hp_addressing_t addressing = hp_envelope_addressing (env);
    hp_str_t channel = hp_envelope_channel (env);
    if (addressing == HP_ADDR_USERS ? (n < 1 || n > HP_RECIPIENTS_MAX || channel.ptr)
                                    : n != 0)
        abort ();
    if ((addressing == HP_ADDR_CHANNEL) != hp_channel_name_valid (channel.ptr, channel.len))
        abort ();
    for (size_t i = 0; i < n; i++) {
        hp_str_t u = hp_envelope_recipient (env, i);
        if (!hp_user_id_valid (u.ptr, u.len))
            abort ();
        //  Fuzz inputs are small, so the quadratic check is cheap here.
        for (size_t j = 0; j < i; j++) {
            hp_str_t v = hp_envelope_recipient (env, j);
            if (u.len == v.len && memcmp (u.ptr, v.ptr, u.len) == 0)
                abort ();
        }
    }
    hp_str_t id = hp_envelope_id (env);
    if (id.ptr && id.len > HP_ID_MAX)
        abort ();

    hp_buf_t out;
    hp_buf_init (&out, 1 << 20);
    if (hp_frame_event (&out, env, 42))
        abort ();       //  data nests at most 31 deep here, so this cannot fail
    json_t *frame = fuzz_json_parse (out.data, out.len);
    if (!json_is_object (frame))
        abort ();
    json_t *type = json_object_get (frame, "type");
    if (!json_is_string (type) || strcmp (json_string_value (type), "event"))
        abort ();
    json_t *fc = json_object_get (frame, "channel");
    if (addressing == HP_ADDR_CHANNEL
        ? !json_is_string (fc) || json_string_length (fc) != channel.len
          || memcmp (json_string_value (fc), channel.ptr, channel.len)
        : fc != NULL)
        abort ();
    if (json_is_true (json_object_get (frame, "broadcast")) != (addressing == HP_ADDR_BROADCAST))
        abort ();
    if (json_integer_value (json_object_get (frame, "offset")) != 42
    &&  json_real_value (json_object_get (frame, "offset")) != 42.0)
        abort ();
    json_decref (frame);
    hp_buf_free (&out);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_env && !(s_env = hp_envelope_new ()))
        abort ();
    hp_env_error_t err = hp_envelope_decode (s_env, (const char *) data, size,
                                             HP_EVENT_BYTES_DEFAULT);
    if ((unsigned) err >= HP_ENV_ERROR_COUNT)
        abort ();
    if (err == HP_ENV_OK)
        s_check (s_env);
    //  The size limit is checked first, whatever the bytes.
    if (size > 0 && hp_envelope_decode (s_env, (const char *) data, size, size - 1)
                    != HP_ENV_TOO_LARGE)
        abort ();
    return 0;
}
