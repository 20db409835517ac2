/* control.c -- requests and replies on the broker's control (ROUTER) socket. */
#include "control.h"
#include "mpcheck.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

struct hp_control_req {
    hp__msgpack_arena_t arena;      //  holds the decoded request, reused
    msgpack_object root;
    hp_op_t op;
    uint64_t rid;
    hp_str_t *users;                //  presence: the users; resume: users[0]
    size_t user_count;
    size_t user_cap;
    hp_str_t channel;               //  channel presence / channel resume
    bool has_position;
    uint64_t epoch;
    uint64_t offset;
    const msgpack_object *send;     //  upstream: the array of records
};

hp_control_req_t *
hp_control_req_new (void)
{
    //  The arena grows with the first large requests, up to
    //  HP_CONTROL_OBJECTS_MAX slots, and is kept.
    return calloc (1, sizeof (hp_control_req_t));
}

void
hp_control_req_destroy (hp_control_req_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hp_control_req_t *self = *self_p;
    hp__msgpack_arena_free (&self->arena);
    free (self->users);
    free (self);
    *self_p = NULL;
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    size_t len = strlen (name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        && memcmp (key->via.str.ptr, name, len) == 0;
}

static bool
s_str_is (const msgpack_object *obj, const char *text)
{
    return s_key_is (obj, text);
}

static int
s_reserve_users (hp_control_req_t *self, size_t n)
{
    if (n <= self->user_cap)
        return 0;
    hp_str_t *users = realloc (self->users, n * sizeof *users);
    if (!users)
        return -1;
    self->users = users;
    self->user_cap = n;
    return 0;
}

static int
s_decode_presence (hp_control_req_t *self, const msgpack_object *users,
                   const char **why)
{
    if (!users || users->type != MSGPACK_OBJECT_ARRAY
    ||  users->via.array.size < 1 || users->via.array.size > HP_PRESENCE_USERS_MAX) {
        *why = "bad users";
        return -1;
    }
    size_t n = users->via.array.size;
    if (s_reserve_users (self, n)) {
        *why = "out of memory";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *user = &users->via.array.ptr [i];
        if (user->type != MSGPACK_OBJECT_STR
        ||  !hp_user_id_valid (user->via.str.ptr, user->via.str.size)) {
            *why = "bad users";
            return -1;
        }
        self->users [i] = (hp_str_t) { user->via.str.ptr, user->via.str.size };
    }
    //  Repeats are kept: the reply is a map keyed by user, so a repeated
    //  user only repeats a key with the same answer.
    self->user_count = n;
    return 0;
}

static int
s_decode_channel (hp_control_req_t *self, const msgpack_object *channel, const char **why)
{
    if (channel->type != MSGPACK_OBJECT_STR
    ||  !hp_channel_name_valid (channel->via.str.ptr, channel->via.str.size)) {
        *why = "bad channel";
        return -1;
    }
    self->channel = (hp_str_t) { channel->via.str.ptr, channel->via.str.size };
    return 0;
}

static int
s_decode_position (hp_control_req_t *self, const msgpack_object *epoch,
                   const msgpack_object *offset, const char **why)
{
    if (epoch && (epoch->type != MSGPACK_OBJECT_STR
              ||  hp_epoch_parse (epoch->via.str.ptr, epoch->via.str.size, &self->epoch))) {
        *why = "bad epoch";
        return -1;
    }
    if (offset && offset->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        *why = "bad offset";
        return -1;
    }
    if (!epoch != !offset) {
        *why = "epoch and offset go together";
        return -1;
    }
    if (offset)
        self->offset = offset->via.u64;
    self->has_position = epoch != NULL;
    return 0;
}

static int
s_decode_resume (hp_control_req_t *self, const msgpack_object *user,
                 const msgpack_object *epoch, const msgpack_object *offset,
                 const char **why)
{
    if (!user || user->type != MSGPACK_OBJECT_STR
    ||  !hp_user_id_valid (user->via.str.ptr, user->via.str.size)) {
        *why = "bad user";
        return -1;
    }
    if (s_reserve_users (self, 1)) {
        *why = "out of memory";
        return -1;
    }
    self->users [0] = (hp_str_t) { user->via.str.ptr, user->via.str.size };
    self->user_count = 1;
    return s_decode_position (self, epoch, offset, why);
}

int
hp_control_req_decode (hp_control_req_t *self, const char *bytes, size_t len,
                       const char **why)
{
    const char *ignored;
    if (!why)
        why = &ignored;
    self->op = 0;
    self->rid = 0;
    self->user_count = 0;
    self->channel = (hp_str_t) { NULL, 0 };
    self->has_position = false;
    self->epoch = 0;
    self->offset = 0;
    self->send = NULL;

    if (bytes && len > HP_CONTROL_REQUEST_MAX) {
        *why = "too large";
        return -1;
    }
    //  Decoded into the arena, not msgpack-c's zone: msgpack_unpack costs
    //  ~24 bytes of zone per 1-byte object, so a 16 MiB request of nils
    //  took ~400 MB, kept until the next request.
    if (!bytes || hp__msgpack_decode_bounded (bytes, len, &self->arena,
                                              HP_CONTROL_OBJECTS_MAX, &self->root)) {
        *why = "not msgpack";
        return -1;
    }
    if (self->root.type != MSGPACK_OBJECT_MAP) {
        *why = "not a map";
        return -1;
    }
    const msgpack_object *op = NULL, *rid = NULL, *users = NULL, *user = NULL,
                         *epoch = NULL, *offset = NULL, *channel = NULL, *send = NULL;
    const msgpack_object_map *map = &self->root.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *key = &map->ptr [i].key;
        const msgpack_object *val = &map->ptr [i].val;
        if (s_key_is (key, "op"))           op = val;
        else if (s_key_is (key, "rid"))     rid = val;
        else if (s_key_is (key, "users"))   users = val;
        else if (s_key_is (key, "user"))    user = val;
        else if (s_key_is (key, "epoch"))   epoch = val;
        else if (s_key_is (key, "offset"))  offset = val;
        else if (s_key_is (key, "channel")) channel = val;
        else if (s_key_is (key, "send"))    send = val;
    }
    //  rid first: the broker can then echo it even in an error reply.
    if (rid) {
        if (rid->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            *why = "bad rid";
            return -1;
        }
        self->rid = rid->via.u64;
    }
    if (!op || op->type != MSGPACK_OBJECT_STR) {
        *why = "missing op";
        return -1;
    }
    if (s_str_is (op, "presence") && channel) {
        if (users) {
            *why = "users or channel";
            return -1;
        }
        if (s_decode_channel (self, channel, why))
            return -1;
        self->op = HP_OP_CHANNEL_PRESENCE;
    }
    else
    if (s_str_is (op, "presence")) {
        if (s_decode_presence (self, users, why))
            return -1;
        self->op = HP_OP_PRESENCE;
    }
    else
    if (s_str_is (op, "resume") && channel) {
        if (user) {
            *why = "user or channel";
            return -1;
        }
        if (s_decode_channel (self, channel, why) || s_decode_position (self, epoch, offset, why))
            return -1;
        self->op = HP_OP_RESUME;
    }
    else
    if (s_str_is (op, "resume")) {
        if (s_decode_resume (self, user, epoch, offset, why))
            return -1;
        self->op = HP_OP_RESUME;
    }
    else
    if (s_str_is (op, "stats"))
        self->op = HP_OP_STATS;
    else
    if (s_str_is (op, "disconnect")) {
        //  only the user, validated as resume's (no position)
        if (s_decode_resume (self, user, NULL, NULL, why))
            return -1;
        self->op = HP_OP_DISCONNECT;
    }
    else
    if (s_str_is (op, "publish"))
        //  the request is an envelope: the broker's router checks it
        self->op = HP_OP_PUBLISH;
    else
    if (s_str_is (op, "upstream")) {
        //  each record is checked by the broker as it forwards it
        if (!send || send->type != MSGPACK_OBJECT_ARRAY) {
            *why = "bad send";
            return -1;
        }
        self->send = send;
        self->op = HP_OP_UPSTREAM;
    }
    else {
        *why = "unknown op";
        return -1;
    }
    return 0;
}

size_t
hp_control_req_send_count (const hp_control_req_t *self)
{
    return self->send ? self->send->via.array.size : 0;
}

hp_str_t
hp_control_req_send (const hp_control_req_t *self, size_t i)
{
    if (!self->send || i >= self->send->via.array.size)
        return (hp_str_t) { NULL, 0 };
    const msgpack_object *item = &self->send->via.array.ptr[i];
    if (item->type != MSGPACK_OBJECT_BIN || item->via.bin.size == 0)
        return (hp_str_t) { NULL, 0 };      //  an empty bin's ptr is unspecified
    return (hp_str_t) { item->via.bin.ptr, item->via.bin.size };
}

hp_op_t
hp_control_req_op (const hp_control_req_t *self)
{
    return self->op;
}

uint64_t
hp_control_req_rid (const hp_control_req_t *self)
{
    return self->rid;
}

size_t
hp_control_req_user_count (const hp_control_req_t *self)
{
    return self->user_count;
}

hp_str_t
hp_control_req_user (const hp_control_req_t *self, size_t i)
{
    if (i >= self->user_count)
        return (hp_str_t) { NULL, 0 };
    return self->users [i];
}

hp_stream_t
hp_control_req_stream (const hp_control_req_t *self)
{
    if (self->channel.ptr)
        return hp_stream_channel (self->channel.ptr, self->channel.len);
    hp_str_t user = hp_control_req_user (self, 0);
    return hp_stream_user (user.ptr, user.len);
}

hp_str_t
hp_control_req_channel (const hp_control_req_t *self)
{
    return self->channel;
}

bool
hp_control_req_has_position (const hp_control_req_t *self)
{
    return self->has_position;
}

uint64_t
hp_control_req_epoch (const hp_control_req_t *self)
{
    return self->epoch;
}

uint64_t
hp_control_req_offset (const hp_control_req_t *self)
{
    return self->offset;
}

//  msgpack_packer sink that appends to an hp_buf_t; a failed append makes
//  every msgpack_pack_* call return non-zero.
static int
s_buf_write (void *data, const char *bytes, size_t len)
{
    return hp_buf_append ((hp_buf_t *) data, bytes, len);
}

static int
s_pack_cstr (msgpack_packer *pk, const char *s, size_t len)
{
    return msgpack_pack_str (pk, len) || msgpack_pack_str_body (pk, s, len);
}

int
hp_control_pack_resume (hp_buf_t *out, uint64_t rid, const char *user,
                        size_t user_len, bool has_position,
                        uint64_t epoch, uint64_t offset)
{
    hp_stream_t stream = hp_stream_user (user ? user : "", user ? user_len : 0);
    return hp_control_pack_resume_stream (out, rid, &stream, has_position, epoch, offset);
}

//  "user" or "channel": the key naming a stream in resume requests and replies.
static int
s_pack_stream_name (msgpack_packer *pk, const hp_stream_t *stream)
{
    const char *name = stream->name.ptr ? stream->name.ptr : "";
    if (stream->kind == HP_STREAM_CHANNEL)
        return s_pack_cstr (pk, "channel", 7) || s_pack_cstr (pk, name, stream->name.len);
    return s_pack_cstr (pk, "user", 4) || s_pack_cstr (pk, name, stream->name.len);
}

int
hp_control_pack_resume_stream (hp_buf_t *out, uint64_t rid, const hp_stream_t *stream,
                               bool has_position, uint64_t epoch, uint64_t offset)
{
    if (stream->kind == HP_STREAM_BROADCAST)
        return -1;
    size_t mark = out->len;
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, s_buf_write);
    char epoch_text [HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (epoch_text, epoch);
    int rc = msgpack_pack_map (&pk, has_position ? 5 : 3)
          || s_pack_cstr (&pk, "op", 2)
          || s_pack_cstr (&pk, "resume", 6)
          || s_pack_cstr (&pk, "rid", 3)
          || msgpack_pack_uint64 (&pk, rid)
          || s_pack_stream_name (&pk, stream);
    if (!rc && has_position)
        rc = s_pack_cstr (&pk, "epoch", 5)
          || s_pack_cstr (&pk, epoch_text, HP_EPOCH_TEXT_LEN)
          || s_pack_cstr (&pk, "offset", 6)
          || msgpack_pack_uint64 (&pk, offset);
    if (rc) {
        out->len = mark;
        return -1;
    }
    return 0;
}

void
hp_control_pack_resume_reply_begin (msgpack_packer *pk, uint64_t rid,
                                    const char *user, size_t user_len,
                                    uint64_t epoch, uint64_t offset,
                                    bool recovered, size_t event_count)
{
    hp_stream_t stream = hp_stream_user (user ? user : "", user ? user_len : 0);
    hp_control_pack_resume_reply_begin_stream (pk, rid, &stream, epoch, offset, recovered,
                                               event_count);
}

void
hp_control_pack_resume_reply_begin_stream (msgpack_packer *pk, uint64_t rid,
                                           const hp_stream_t *stream,
                                           uint64_t epoch, uint64_t offset,
                                           bool recovered, size_t event_count)
{
    char epoch_text [HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (epoch_text, epoch);
    //  The packer's sink reports its own failures; the broker owns it and
    //  checks its buffer, so the results are not needed here.
    msgpack_pack_map (pk, 8);    //  "at" and "meta" are packed last, by at_begin, meta_begin
    s_pack_cstr (pk, "rid", 3);
    msgpack_pack_uint64 (pk, rid);
    s_pack_stream_name (pk, stream);
    s_pack_cstr (pk, "epoch", 5);
    s_pack_cstr (pk, epoch_text, HP_EPOCH_TEXT_LEN);
    s_pack_cstr (pk, "offset", 6);
    msgpack_pack_uint64 (pk, offset);
    s_pack_cstr (pk, "recovered", 9);
    if (recovered)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    s_pack_cstr (pk, "events", 6);
    msgpack_pack_array (pk, event_count);
}

void
hp_control_pack_resume_reply_event (msgpack_packer *pk, uint64_t offset,
                                    const char *json, size_t json_len)
{
    msgpack_pack_array (pk, 2);
    msgpack_pack_uint64 (pk, offset);
    s_pack_cstr (pk, json ? json : "", json ? json_len : 0);
}

void
hp_control_pack_resume_reply_at_begin (msgpack_packer *pk, size_t event_count)
{
    s_pack_cstr (pk, "at", 2);
    msgpack_pack_array (pk, event_count);
}

void
hp_control_pack_resume_reply_at (msgpack_packer *pk, uint64_t at)
{
    msgpack_pack_uint64 (pk, at);
}

void
hp_control_pack_resume_reply_meta_begin (msgpack_packer *pk, size_t event_count)
{
    s_pack_cstr (pk, "meta", 4);
    msgpack_pack_array (pk, event_count);
}

void
hp_control_pack_resume_reply_meta (msgpack_packer *pk, uint8_t flags, const char *key,
                                   size_t key_len)
{
    msgpack_pack_array (pk, 2);
    msgpack_pack_uint64 (pk, flags);
    s_pack_cstr (pk, key && (flags & HP_WIRE_FLAG_KEY) ? key : "",
                 key && (flags & HP_WIRE_FLAG_KEY) ? key_len : 0);
}

void
hp_control_pack_channel_presence_begin (msgpack_packer *pk, const char *channel,
                                        size_t channel_len, uint64_t connections,
                                        bool exact, bool truncated, size_t user_count)
{
    //  As for resume replies, the broker checks its buffer, not each call.
    msgpack_pack_map (pk, 5);
    s_pack_cstr (pk, "channel", 7);
    s_pack_cstr (pk, channel ? channel : "", channel ? channel_len : 0);
    s_pack_cstr (pk, "connections", 11);
    msgpack_pack_uint64 (pk, connections);
    s_pack_cstr (pk, "exact", 5);
    if (exact)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    s_pack_cstr (pk, "truncated", 9);
    if (truncated)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    s_pack_cstr (pk, "users", 5);
    msgpack_pack_array (pk, user_count);
}

void
hp_control_pack_str (msgpack_packer *pk, const char *s, size_t len)
{
    s_pack_cstr (pk, s ? s : "", s ? len : 0);
}

void
hp_control_pack_cstr (msgpack_packer *pk, const char *s)
{
    hp_control_pack_str (pk, s, s ? strlen (s) : 0);
}

//  One "meta" entry: [flags, key], the key "" exactly when flags has no
//  HP_WIRE_FLAG_KEY, a valid key otherwise. 0 or -1.
static int
s_meta_entry (const msgpack_object *entry, uint8_t *flags, hp_str_t *key)
{
    if (entry->type != MSGPACK_OBJECT_ARRAY || entry->via.array.size != 2)
        return -1;
    const msgpack_object *f = &entry->via.array.ptr [0];
    const msgpack_object *k = &entry->via.array.ptr [1];
    if (f->type != MSGPACK_OBJECT_POSITIVE_INTEGER || f->via.u64 > 0xff
    ||  k->type != MSGPACK_OBJECT_STR)
        return -1;
    uint8_t bits = (uint8_t) f->via.u64 & HP_WIRE_FLAGS_KNOWN;
    bool keyed = bits & HP_WIRE_FLAG_KEY;
    if (keyed ? !hp_key_valid (k->via.str.ptr, k->via.str.size) : k->via.str.size != 0)
        return -1;
    if (flags)
        *flags = bits;
    if (key)
        *key = keyed ? (hp_str_t) { k->via.str.ptr, k->via.str.size } : (hp_str_t) { NULL, 0 };
    return 0;
}

int
hp_control_resume_reply_event_meta (const hp_resume_reply_t *reply, size_t i,
                                    uint8_t *flags, hp_str_t *key)
{
    if (!reply->events || i >= reply->event_count)
        return -1;
    if (!reply->meta) {
        if (flags)
            *flags = 0;
        if (key)
            *key = (hp_str_t) { NULL, 0 };
        return 0;
    }
    return s_meta_entry (&reply->meta [i], flags, key);
}

int
hp_control_resume_reply_event (const hp_resume_reply_t *reply, size_t i,
                               uint64_t *offset, hp_str_t *json, uint64_t *stamp)
{
    if (!reply->events || i >= reply->event_count)
        return -1;
    const msgpack_object *event = &reply->events [i];
    if (event->type != MSGPACK_OBJECT_ARRAY || event->via.array.size != 2)
        return -1;
    const msgpack_object *at = &event->via.array.ptr [0];
    const msgpack_object *text = &event->via.array.ptr [1];
    if (at->type != MSGPACK_OBJECT_POSITIVE_INTEGER || text->type != MSGPACK_OBJECT_STR)
        return -1;
    //  the decoder checked that at, when present, holds one uint per event
    if (stamp)
        *stamp = reply->at ? reply->at [i].via.u64 : 0;
    *offset = at->via.u64;
    json->ptr = text->via.str.ptr;
    json->len = text->via.str.size;
    return 0;
}

int
hp_control_resume_reply_decode (msgpack_unpacked *unpacked, const char *bytes,
                                size_t len, hp_resume_reply_t *reply)
{
    memset (reply, 0, sizeof *reply);
    if (!bytes || hp__msgpack_check (bytes, len))
        return -1;
    size_t off = 0;
    if (msgpack_unpack_next (unpacked, bytes, len, &off) != MSGPACK_UNPACK_SUCCESS
    ||  off != len)
        return -1;
    const msgpack_object *root = &unpacked->data;
    if (root->type != MSGPACK_OBJECT_MAP)
        return -1;
    const msgpack_object *rid = NULL, *user = NULL, *epoch = NULL, *offset = NULL,
                         *recovered = NULL, *events = NULL, *channel = NULL,
                         *times = NULL, *meta = NULL;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *key = &root->via.map.ptr [i].key;
        const msgpack_object *val = &root->via.map.ptr [i].val;
        if (s_key_is (key, "rid"))              rid = val;
        else if (s_key_is (key, "user"))        user = val;
        else if (s_key_is (key, "channel"))     channel = val;
        else if (s_key_is (key, "epoch"))       epoch = val;
        else if (s_key_is (key, "offset"))      offset = val;
        else if (s_key_is (key, "recovered"))   recovered = val;
        else if (s_key_is (key, "events"))      events = val;
        else if (s_key_is (key, "at"))          times = val;
        else if (s_key_is (key, "meta"))        meta = val;
    }
    //  A reply names its user or its channel, never both.
    const msgpack_object *name = user ? user : channel;
    if (!rid || rid->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  !name || (user && channel) || name->type != MSGPACK_OBJECT_STR
    ||  !epoch || epoch->type != MSGPACK_OBJECT_STR
    ||  !offset || offset->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  !recovered || recovered->type != MSGPACK_OBJECT_BOOLEAN
    ||  !events || events->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    if (hp_epoch_parse (epoch->via.str.ptr, epoch->via.str.size, &reply->epoch))
        return -1;
    reply->rid = rid->via.u64;
    if (user) {
        reply->user = (hp_str_t) { user->via.str.ptr, user->via.str.size };
        reply->stream = hp_stream_user (user->via.str.ptr, user->via.str.size);
    }
    else
        reply->stream = hp_stream_channel (channel->via.str.ptr, channel->via.str.size);
    reply->offset = offset->via.u64;
    reply->recovered = recovered->via.boolean;
    reply->event_count = events->via.array.size;
    reply->events = events->via.array.ptr;
    //  Accept times: absent from an earlier broker; when there, one uint
    //  per event.
    if (times) {
        if (times->type != MSGPACK_OBJECT_ARRAY || times->via.array.size != reply->event_count) {
            memset (reply, 0, sizeof *reply);
            return -1;
        }
        for (size_t i = 0; i < reply->event_count; i++)
            if (times->via.array.ptr [i].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                memset (reply, 0, sizeof *reply);
                return -1;
            }
        reply->at = times->via.array.ptr;
    }
    //  Meta (flags, key): absent from an earlier broker; when there, one
    //  [flags, key] per event, checked below with the events.
    if (meta) {
        if (meta->type != MSGPACK_OBJECT_ARRAY || meta->via.array.size != reply->event_count) {
            memset (reply, 0, sizeof *reply);
            return -1;
        }
        reply->meta = meta->via.array.ptr;
    }
    //  Check every event now, so a gateway that got 0 here can replay
    //  without a half-sent history on a malformed entry.
    for (size_t i = 0; i < reply->event_count; i++) {
        uint64_t at;
        hp_str_t json;
        if (hp_control_resume_reply_event (reply, i, &at, &json, NULL)
        ||  hp_control_resume_reply_event_meta (reply, i, NULL, NULL)) {
            memset (reply, 0, sizeof *reply);
            return -1;
        }
    }
    return 0;
}
