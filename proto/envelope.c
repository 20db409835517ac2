/* envelope.c -- decode and validate a producer's msgpack envelope. */
#include "envelope.h"
#include "mpcheck.h"
#include "wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  One recipient while deduplicating: the string and where it came in.
typedef struct {
    hp_str_t str;
    uint32_t index;
} s_entry_t;

struct hp_envelope {
    hp__msgpack_arena_t arena;      //  holds the decoded tree, reused
    msgpack_object root;
    hp_str_t event;
    hp_addressing_t addressing;
    hp_str_t channel;
    hp_str_t *users;                //  recipients after dedup, in input order
    size_t user_count;
    s_entry_t *entries;             //  scratch for dedup, same capacity
    unsigned char *dup;             //  scratch: 1 when entry i repeats one before
    size_t user_cap;
    const msgpack_object *data;
    hp_str_t id;
    uint32_t ttl;
    hp_str_t idempotency_key;
    uint32_t receipt;
    hp_str_t key;
};

static const char *s_error_names [HP_ENV_ERROR_COUNT] = {
    [HP_ENV_OK]          = "ok",
    [HP_ENV_TOO_LARGE]   = "too_large",
    [HP_ENV_NOT_MSGPACK] = "not_msgpack",
    [HP_ENV_NOT_MAP]     = "not_map",
    [HP_ENV_BAD_EVENT]   = "bad_event",
    [HP_ENV_BAD_TO]      = "bad_to",
    [HP_ENV_BAD_USER]    = "bad_user",
    [HP_ENV_BAD_ID]      = "bad_id",
    [HP_ENV_BAD_TTL]     = "bad_ttl",
    [HP_ENV_BAD_IDEMPOTENCY_KEY] = "bad_idempotency_key",
    [HP_ENV_BAD_CHANNEL] = "bad_channel",
    [HP_ENV_ADDRESSING]  = "addressing",
    [HP_ENV_BAD_RECEIPT] = "bad_receipt",
    [HP_ENV_BAD_KEY]     = "bad_key",
};

const char *
hp_env_error_name (hp_env_error_t err)
{
    if ((unsigned) err >= HP_ENV_ERROR_COUNT)
        return "unknown";
    return s_error_names [err];
}

hp_envelope_t *
hp_envelope_new (void)
{
    //  The arena grows on the first decodes and is kept, so steady-state
    //  decoding allocates nothing.
    return calloc (1, sizeof (hp_envelope_t));
}

void
hp_envelope_destroy (hp_envelope_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hp_envelope_t *self = *self_p;
    hp__msgpack_arena_free (&self->arena);
    free (self->users);
    free (self->entries);
    free (self->dup);
    free (self);
    *self_p = NULL;
}

//  Bytes allowed in an event name: [A-Za-z0-9_.:-]. A table: one load per
//  byte instead of a chain of range compares.
static const unsigned char s_name_byte [256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
    ['_'] = 1, ['.'] = 1, [':'] = 1, ['-'] = 1,
};

//  1-max bytes, each allowed by the table.
static bool
s_name_valid (const unsigned char table [256], const char *s, size_t len, size_t max)
{
    if (!s || len < 1 || len > max)
        return false;
    const unsigned char *p = (const unsigned char *) s;
    unsigned char ok = 1;
    for (size_t i = 0; i < len; i++)
        ok &= table [p [i]];
    return ok;
}

bool
hp_event_name_valid (const char *s, size_t len)
{
    return s_name_valid (s_name_byte, s, len, HP_EVENT_NAME_MAX);
}

//  Channel names take the event name's bytes plus '@', '/' and '=' (ids
//  such as "user@org", "board/eu", base64-ish suffixes). None is a control
//  byte, so a channel's stream key (0x01 + name) stays apart from user ids.
static const unsigned char s_channel_byte [256] = {
    ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1,
    ['_'] = 1, ['.'] = 1, [':'] = 1, ['-'] = 1, ['@'] = 1, ['/'] = 1, ['='] = 1,
};

bool
hp_channel_name_valid (const char *s, size_t len)
{
    return s_name_valid (s_channel_byte, s, len, HP_CHANNEL_MAX);
}

//  True when all 8 bytes of v are printable ASCII (0x20-0x7e), the common
//  case of a user id, checked a word at a time. A false "no" is possible
//  (a borrow after a byte that fails) and only sends the caller to the
//  byte loop; a false "yes" is not.
static inline bool
s_printable8 (uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t below = (v - ones * 0x20) & ~v;            //  high bit: byte < 0x20
    uint64_t del = v ^ (ones * 0x7f);
    del = (del - ones) & ~del;                          //  high bit: byte == 0x7f
    return ((below | del | v) & highs) == 0;
}

bool
hp_user_id_valid (const char *s, size_t len)
{
    if (!s || len < 1 || len > HP_USER_MAX)
        return false;
    const unsigned char *p = (const unsigned char *) s;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy (&v, p + i, 8);
        if (!s_printable8 (v))
            break;
    }
    while (i < len) {
        unsigned char b = p [i];
        if (b < 0x80) {
            if (b < 0x20 || b == 0x7f)
                return false;           //  C0 controls (NUL included), DEL
            i++;
            continue;
        }
        //  Strict UTF-8 (RFC 3629): the second byte's range excludes
        //  overlongs (e0, f0), surrogates (ed) and code points past
        //  U+10FFFF (f4); c0, c1 and f5-ff never start a sequence.
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (b >= 0xc2 && b <= 0xdf)
            need = 1;
        else
        if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b == 0xe0) lo = 0xa0;
            if (b == 0xed) hi = 0x9f;
        }
        else
        if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b == 0xf0) lo = 0x90;
            if (b == 0xf4) hi = 0x8f;
        }
        else
            return false;
        if (need > len - i - 1)
            return false;               //  truncated at the end
        if (p [i + 1] < lo || p [i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if (p [i + k] < 0x80 || p [i + k] > 0xbf)
                return false;
        //  C1 controls U+0080..U+009F are the two-byte forms c2 80..c2 9f.
        if (b == 0xc2 && p [i + 1] <= 0x9f)
            return false;
        i += need + 1;
    }
    return true;
}

//  Grows the recipient arrays to hold n; they are kept across decodes.
static int
s_reserve_users (hp_envelope_t *self, size_t n)
{
    if (n <= self->user_cap)
        return 0;
    hp_str_t *users = realloc (self->users, n * sizeof *users);
    if (!users)
        return -1;
    self->users = users;
    s_entry_t *entries = realloc (self->entries, n * sizeof *entries);
    if (!entries)
        return -1;
    self->entries = entries;
    unsigned char *dup = realloc (self->dup, n);
    if (!dup)
        return -1;
    self->dup = dup;
    self->user_cap = n;
    return 0;
}

//  Orders by bytes, then by input position, so the first of equal users
//  sorts first and is the one kept.
static int
s_entry_compare (const void *a_p, const void *b_p)
{
    const s_entry_t *a = a_p, *b = b_p;
    size_t common = a->str.len < b->str.len ? a->str.len : b->str.len;
    int rc = memcmp (a->str.ptr, b->str.ptr, common);
    if (rc)
        return rc;
    if (a->str.len != b->str.len)
        return a->str.len < b->str.len ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}

//  Keeps the first of each repeated user, in input order. Sorting is
//  O(n log n) whatever the input, unlike a hash an attacker could flood.
static void
s_dedup_users (hp_envelope_t *self)
{
    size_t n = self->user_count;
    if (n < 2)
        return;
    for (size_t i = 0; i < n; i++) {
        self->entries [i].str = self->users [i];
        self->entries [i].index = (uint32_t) i;
        self->dup [i] = 0;
    }
    qsort (self->entries, n, sizeof *self->entries, s_entry_compare);
    for (size_t i = 1; i < n; i++) {
        const hp_str_t *prev = &self->entries [i - 1].str;
        const hp_str_t *cur = &self->entries [i].str;
        if (prev->len == cur->len && memcmp (prev->ptr, cur->ptr, cur->len) == 0)
            self->dup [self->entries [i].index] = 1;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (!self->dup [i])
            self->users [kept++] = self->users [i];
    self->user_count = kept;
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    size_t len = strlen (name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        && memcmp (key->via.str.ptr, name, len) == 0;
}

static hp_env_error_t
s_decode_to (hp_envelope_t *self, const msgpack_object *to)
{
    if (to->type == MSGPACK_OBJECT_STR) {
        if (s_reserve_users (self, 1))
            return HP_ENV_NOT_MSGPACK;  //  out of memory: refuse, never crash
        if (!hp_user_id_valid (to->via.str.ptr, to->via.str.size))
            return HP_ENV_BAD_USER;
        self->users [0] = (hp_str_t) { to->via.str.ptr, to->via.str.size };
        self->user_count = 1;
        return HP_ENV_OK;
    }
    if (to->type != MSGPACK_OBJECT_ARRAY)
        return HP_ENV_BAD_TO;
    size_t n = to->via.array.size;
    if (n < 1 || n > HP_RECIPIENTS_MAX)
        return HP_ENV_BAD_TO;
    if (s_reserve_users (self, n))
        return HP_ENV_NOT_MSGPACK;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *user = &to->via.array.ptr [i];
        if (user->type != MSGPACK_OBJECT_STR
        ||  !hp_user_id_valid (user->via.str.ptr, user->via.str.size))
            return HP_ENV_BAD_USER;
        self->users [i] = (hp_str_t) { user->via.str.ptr, user->via.str.size };
    }
    self->user_count = n;
    s_dedup_users (self);
    return HP_ENV_OK;
}

//  Exactly one of to, channel, broadcast:true. None is still "bad_to", as
//  before channels existed; two, or a broadcast that is not true, say the
//  producer meant something else than we would do ("addressing").
static hp_env_error_t
s_decode_addressing (hp_envelope_t *self, const msgpack_object *to,
                     const msgpack_object *channel, const msgpack_object *broadcast)
{
    int given = (to != NULL) + (channel != NULL) + (broadcast != NULL);
    if (given == 0)
        return HP_ENV_BAD_TO;
    if (given > 1)
        return HP_ENV_ADDRESSING;
    if (to)
        return s_decode_to (self, to);
    if (broadcast) {
        if (broadcast->type != MSGPACK_OBJECT_BOOLEAN || !broadcast->via.boolean)
            return HP_ENV_ADDRESSING;
        self->addressing = HP_ADDR_BROADCAST;
        return HP_ENV_OK;
    }
    if (channel->type != MSGPACK_OBJECT_STR
    ||  !hp_channel_name_valid (channel->via.str.ptr, channel->via.str.size))
        return HP_ENV_BAD_CHANNEL;
    self->addressing = HP_ADDR_CHANNEL;
    self->channel = (hp_str_t) { channel->via.str.ptr, channel->via.str.size };
    return HP_ENV_OK;
}

hp_env_error_t
hp_envelope_decode (hp_envelope_t *self, const char *bytes, size_t len,
                    size_t max_bytes)
{
    self->event = (hp_str_t) { NULL, 0 };
    self->addressing = HP_ADDR_USERS;
    self->channel = (hp_str_t) { NULL, 0 };
    self->user_count = 0;
    self->data = NULL;
    self->id = (hp_str_t) { NULL, 0 };
    self->ttl = HP_TTL_DEFAULT;
    self->idempotency_key = (hp_str_t) { NULL, 0 };
    self->receipt = 0;
    self->key = (hp_str_t) { NULL, 0 };

    //  The size check comes first so an oversized frame costs nothing more.
    if (len > max_bytes)
        return HP_ENV_TOO_LARGE;
    //  One pass refuses truncation, trailing bytes, excess depth and counts
    //  the bytes cannot hold, and builds the same tree msgpack_unpack would
    //  (which used to walk the bytes a second time, allocating per container).
    if (!bytes || hp__msgpack_decode (bytes, len, &self->arena, &self->root))
        return HP_ENV_NOT_MSGPACK;
    if (self->root.type != MSGPACK_OBJECT_MAP)
        return HP_ENV_NOT_MAP;

    //  A repeated key: the last one wins, as in most JSON parsers.
    const msgpack_object *event = NULL, *to = NULL, *id = NULL, *ttl = NULL, *ikey = NULL,
                         *channel = NULL, *broadcast = NULL, *receipt = NULL,
                         *ckey = NULL;
    const msgpack_object_map *map = &self->root.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        const msgpack_object *val = &map->ptr [i].val;
        if (s_key_is (key, "event"))
            event = val;
        else
        if (s_key_is (key, "to"))
            to = val;
        else
        if (s_key_is (key, "channel"))
            channel = val;
        else
        if (s_key_is (key, "broadcast"))
            broadcast = val;
        else
        if (s_key_is (key, "data"))
            self->data = val;
        else
        if (s_key_is (key, "id"))
            id = val;
        else
        if (s_key_is (key, "ttl"))
            ttl = val;
        else
        if (s_key_is (key, "idempotency_key"))
            ikey = val;
        else
        if (s_key_is (key, "receipt"))
            receipt = val;
        else
        if (s_key_is (key, "key"))
            ckey = val;
    }
    if (!event || event->type != MSGPACK_OBJECT_STR
    ||  !hp_event_name_valid (event->via.str.ptr, event->via.str.size))
        return HP_ENV_BAD_EVENT;
    self->event = (hp_str_t) { event->via.str.ptr, event->via.str.size };
    hp_env_error_t err = s_decode_addressing (self, to, channel, broadcast);
    if (err != HP_ENV_OK) {
        self->user_count = 0;
        self->channel = (hp_str_t) { NULL, 0 };
        return err;
    }
    if (id) {
        if (id->type != MSGPACK_OBJECT_STR || id->via.str.size > HP_ID_MAX)
            return HP_ENV_BAD_ID;
        //  An empty id is still an id: ptr must be non-NULL to say "present".
        self->id = (hp_str_t) { id->via.str.size ? id->via.str.ptr : "",
                                id->via.str.size };
    }
    if (ttl) {
        if (ttl->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return HP_ENV_BAD_TTL;
        //  Anything past 136 years is as good as forever: clamp, not refuse.
        self->ttl = ttl->via.u64 > UINT32_MAX ? UINT32_MAX : (uint32_t) ttl->via.u64;
    }
    if (ikey) {
        //  Compared as bytes; any bytes will do (the producer's own scheme).
        if (ikey->type != MSGPACK_OBJECT_STR || ikey->via.str.size == 0
        ||  ikey->via.str.size > HP_IDEMPOTENCY_KEY_MAX)
            return HP_ENV_BAD_IDEMPOTENCY_KEY;
        self->idempotency_key = (hp_str_t) { ikey->via.str.ptr, ikey->via.str.size };
    }
    if (receipt) {
        //  Refused rather than clamped: a producer asking for a day would
        //  otherwise hold a pending receipt far longer than it meant.
        if (receipt->type != MSGPACK_OBJECT_POSITIVE_INTEGER || receipt->via.u64 < 1
        ||  receipt->via.u64 > HP_RECEIPT_MAX)
            return HP_ENV_BAD_RECEIPT;
        self->receipt = (uint32_t) receipt->via.u64;
    }
    if (ckey) {
        //  No NUL: the key travels as its own frame and is compared as
        //  bytes, but logs and metrics print it as a C string.
        if (ckey->type != MSGPACK_OBJECT_STR
        ||  !hp_key_valid (ckey->via.str.ptr, ckey->via.str.size))
            return HP_ENV_BAD_KEY;
        self->key = (hp_str_t) { ckey->via.str.ptr, ckey->via.str.size };
    }
    return HP_ENV_OK;
}

bool
hp_key_valid (const char *s, size_t len)
{
    return s && len >= 1 && len <= HP_KEY_MAX && !memchr (s, 0, len);
}

uint32_t
hp_envelope_receipt (const hp_envelope_t *self)
{
    return self->receipt;
}

hp_str_t
hp_envelope_key (const hp_envelope_t *self)
{
    return self->key;
}

hp_event_meta_t
hp_event_meta (uint16_t receipt, const char *key, size_t key_len)
{
    hp_event_meta_t meta = { 0, receipt, { NULL, 0 } };
    if (receipt)
        meta.flags |= HP_WIRE_FLAG_RECEIPT;
    if (key && key_len) {
        meta.flags |= HP_WIRE_FLAG_KEY;
        meta.key = (hp_str_t) { key, key_len };
    }
    return meta;
}

hp_event_meta_t
hp_envelope_meta (const hp_envelope_t *self)
{
    return hp_event_meta ((uint16_t) self->receipt, self->key.ptr, self->key.len);
}

hp_str_t
hp_envelope_event (const hp_envelope_t *self)
{
    return self->event;
}

hp_addressing_t
hp_envelope_addressing (const hp_envelope_t *self)
{
    return self->addressing;
}

hp_str_t
hp_envelope_channel (const hp_envelope_t *self)
{
    return self->channel;
}

size_t
hp_envelope_recipient_count (const hp_envelope_t *self)
{
    return self->user_count;
}

hp_str_t
hp_envelope_recipient (const hp_envelope_t *self, size_t i)
{
    if (i >= self->user_count)
        return (hp_str_t) { NULL, 0 };
    return self->users [i];
}

const msgpack_object *
hp_envelope_data (const hp_envelope_t *self)
{
    return self->data;
}

hp_str_t
hp_envelope_id (const hp_envelope_t *self)
{
    return self->id;
}

uint32_t
hp_envelope_ttl (const hp_envelope_t *self)
{
    return self->ttl;
}

hp_str_t
hp_envelope_idempotency_key (const hp_envelope_t *self)
{
    return self->idempotency_key;
}
