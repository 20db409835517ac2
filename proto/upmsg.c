/* upmsg.c -- a message from a browser: the record the broker pushes on --upstream, and the gateway's batch of them.
 *
 * The gateway packs each record once, into its batch, as the bytes a
 * consumer reads; the broker checks each and forwards it unchanged (no
 * decode-and-pack again on the way). The broker checks even though only
 * gateways may send batches: a record it forwards is one a consumer can
 * rely on (a valid user id and event name, nothing else in the map). */
#include "upmsg.h"
#include "envelope.h"
#include "mpcheck.h"

#include <stdlib.h>
#include <string.h>

struct hp_upmsg_checker {
    hp__msgpack_arena_t arena;
};

static int
s_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str (pk, len) || msgpack_pack_str_body (pk, s, len) ? -1 : 0;
}

int
hp_upmsg_pack_begin (msgpack_packer *pk, const char *user, size_t user_len,
                     const char *event, size_t event_len)
{
    return msgpack_pack_map (pk, 5) || s_pack_str (pk, "user", 4)
        || s_pack_str (pk, user, user_len) || s_pack_str (pk, "event", 5)
        || s_pack_str (pk, event, event_len) || s_pack_str (pk, "data", 4) ? -1 : 0;
}

int
hp_upmsg_pack_end (msgpack_packer *pk, const char *gateway, size_t gateway_len, uint64_t at_ms)
{
    return s_pack_str (pk, "gateway", 7) || s_pack_str (pk, gateway, gateway_len)
        || s_pack_str (pk, "at", 2) || msgpack_pack_uint64 (pk, at_ms) ? -1 : 0;
}

hp_upmsg_checker_t *
hp_upmsg_checker_new (void)
{
    return calloc (1, sizeof (hp_upmsg_checker_t));
}

void
hp_upmsg_checker_destroy (hp_upmsg_checker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hp__msgpack_arena_free (&(*self_p)->arena);
    free (*self_p);
    *self_p = NULL;
}

static bool
s_key_is (const msgpack_object *key, const char *name, size_t len)
{
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        && memcmp (key->via.str.ptr, name, len) == 0;
}

static bool
s_is_str (const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR;
}

int
hp_upmsg_check (hp_upmsg_checker_t *self, const char *bytes, size_t len, const char **why)
{
    *why = "too_large";
    if (len > HP_UPMSG_MAX)
        return -1;
    *why = "malformed";
    msgpack_object root;
    /* a record of len bytes holds at most len objects */
    if (hp__msgpack_decode_bounded (bytes, len, &self->arena, len + 1, &root) != 0
    ||  root.type != MSGPACK_OBJECT_MAP || root.via.map.size != 5)
        return -1;
    static const struct { const char *name; size_t len; } keys[5] = {
        { "user", 4 }, { "event", 5 }, { "data", 4 }, { "gateway", 7 }, { "at", 2 },
    };
    const msgpack_object *vals[5] = { NULL };
    for (uint32_t i = 0; i < 5; i++) {
        const msgpack_object_kv *kv = &root.via.map.ptr[i];
        size_t k = 0;
        while (k < 5 && !s_key_is (&kv->key, keys[k].name, keys[k].len))
            k++;
        if (k == 5 || vals[k])
            return -1;      /* an unknown key, or one twice (so one is missing) */
        vals[k] = &kv->val;
    }
    const msgpack_object *user = vals[0], *event = vals[1], *gateway = vals[3], *at = vals[4];
    if (!s_is_str (user) || !hp_user_id_valid (user->via.str.ptr, user->via.str.size)
    ||  !s_is_str (event) || !hp_event_name_valid (event->via.str.ptr, event->via.str.size)
    ||  !s_is_str (gateway) || gateway->via.str.size == 0
    ||  gateway->via.str.size > HP_UPMSG_GATEWAY_MAX
    ||  at->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    /* the decoder's depth bound is 32 with the record's map: data's is 31 */
    return 0;
}

static void
s_be32 (unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

void
hp_upmsg_batch_head (unsigned char *out, uint32_t count)
{
    /* fixmap 2, "op":"upstream", "send": array32 */
    static const unsigned char head[HP_UPMSG_BATCH_HEAD - 5] = {
        0x82, 0xa2, 'o', 'p', 0xa8, 'u', 'p', 's', 't', 'r', 'e', 'a', 'm',
        0xa4, 's', 'e', 'n', 'd',
    };
    memcpy (out, head, sizeof head);
    out[sizeof head] = 0xdd;
    s_be32 (out + sizeof head + 1, count);
}

void
hp_upmsg_bin_head (unsigned char *out, uint32_t len)
{
    out[0] = 0xc6;
    s_be32 (out + 1, len);
}
