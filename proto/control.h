/* control.h -- requests and replies on the broker's control (ROUTER) socket. */
#ifndef HERALD_PROTO_CONTROL_H
#define HERALD_PROTO_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>
#include "buf.h"
#include "envelope.h"
#include "stream.h"

/* Requests are msgpack maps with a string "op" (see proto/PROTOCOL.md):
 *   {"op":"presence","users":[str,...]}            (1-10,000 users)
 *   {"op":"presence","channel":str}                (HP_OP_CHANNEL_PRESENCE)
 *   {"op":"resume","user":str,"epoch":str,"offset":uint,"rid":uint}
 *   {"op":"resume","channel":str,...}              (the same, for a channel)
 *        epoch+offset optional (both or neither); rid optional, echoed.
 *        Exactly one of user / channel (and of users / channel).
 *   {"op":"stats"}
 *   {"op":"disconnect","user":str}
 *   {"op":"publish", <envelope keys>}              (the envelope: broker/confirm.h)
 *   {"op":"upstream","send":[bin,...]}             (a gateway's batch, proto/upmsg.h;
 *        never answered)
 * Unknown keys are ignored. */
typedef enum {
    HP_OP_PRESENCE = 1,
    HP_OP_RESUME,
    HP_OP_STATS,
    HP_OP_DISCONNECT,
    HP_OP_PUBLISH,
    HP_OP_CHANNEL_PRESENCE,
    HP_OP_UPSTREAM,
} hp_op_t;

/* A channel presence answer lists at most this many distinct users. */
#define HP_CHANNEL_PRESENCE_USERS_MAX 10000

#define HP_PRESENCE_USERS_MAX 10000
/* The largest request the broker reads (ZMQ_MAXMSGSIZE on its control
 * socket; a larger one closes the peer's connection) and decodes: a
 * presence request for 10,000 users of 128 bytes is ~1.3 MB. */
#define HP_CONTROL_REQUEST_MAX (2 << 20)
/* Objects a request may hold (users, keys, values, unknown keys' values):
 * 10,000 users and the map around them, with room; more is refused as
 * "not msgpack", so decoding never takes more than ~400 KB. */
#define HP_CONTROL_OBJECTS_MAX 16384

typedef struct hp_control_req hp_control_req_t;

/* A reusable request decoder. NULL on out of memory. */
hp_control_req_t *hp_control_req_new (void);
void hp_control_req_destroy (hp_control_req_t **self_p);

/* Decodes one request of at most HP_CONTROL_REQUEST_MAX bytes and
 * HP_CONTROL_OBJECTS_MAX objects. Returns 0, or -1 with a short static
 * reason in *why ("too large", "not msgpack", "unknown op", "bad users", ...). Accessors are valid
 * until the next decode and point into bytes. */
int hp_control_req_decode (hp_control_req_t *self, const char *bytes,
                           size_t len, const char **why);

hp_op_t  hp_control_req_op (const hp_control_req_t *self);
uint64_t hp_control_req_rid (const hp_control_req_t *self);
/* presence */
size_t   hp_control_req_user_count (const hp_control_req_t *self);
hp_str_t hp_control_req_user (const hp_control_req_t *self, size_t i);
/* resume and disconnect: the user is hp_control_req_user (self, 0) */
/* resume: the stream asked for (a user or a channel) */
hp_stream_t hp_control_req_stream (const hp_control_req_t *self);
/* channel presence and channel resume: the channel; ptr NULL otherwise */
hp_str_t hp_control_req_channel (const hp_control_req_t *self);
bool     hp_control_req_has_position (const hp_control_req_t *self);
uint64_t hp_control_req_epoch (const hp_control_req_t *self);
uint64_t hp_control_req_offset (const hp_control_req_t *self);
/* upstream: the batch's items ("send", an array; each should be a bin
 * holding one record). item i is {NULL, 0} when it is not a bin. */
size_t   hp_control_req_send_count (const hp_control_req_t *self);
hp_str_t hp_control_req_send (const hp_control_req_t *self, size_t i);

/* Packs a resume request (the gateway's side). has_position false omits
 * epoch and offset. Appends to out; returns 0 or -1. */
int hp_control_pack_resume (hp_buf_t *out, uint64_t rid, const char *user,
                            size_t user_len, bool has_position,
                            uint64_t epoch, uint64_t offset);
/* The same for any stream a resume names: a user ("user") or a channel
 * ("channel"). Returns -1 for a broadcast stream (not resumable alone: it
 * is part of every user's resume). */
int hp_control_pack_resume_stream (hp_buf_t *out, uint64_t rid, const hp_stream_t *stream,
                                   bool has_position, uint64_t epoch, uint64_t offset);

/* The resume reply:
 *   {"rid":uint,"user":str,"epoch":str,"offset":uint,"recovered":bool,
 *    "events":[[offset, json-frame-str], ...],   (events in offset order)
 *    "at":[uint, ...],                           (each event's accept time)
 *    "meta":[[flags, key], ...]}                 (each event's wire flags, key)
 * at[i] is events[i]'s accept time at the broker, microseconds since 1970
 * (0: not known, an event stored by an earlier release). meta[i] holds
 * events[i]'s wire flags (wire.h HP_WIRE_FLAG_*: receipt asked, keyed) and
 * its conflation key ("" when it has none), as the live event's header and
 * key frame did. Parallel arrays rather than more elements, so that a
 * reader of [offset, json] pairs (a gateway or a backend tool of an
 * earlier release) reads what it always did. The broker packs it with
 * begin, one event call per event, then at_begin and one at call per
 * event, then meta_begin and one meta call per event, into a packer it
 * owns. */
void hp_control_pack_resume_reply_begin (msgpack_packer *pk, uint64_t rid,
                                         const char *user, size_t user_len,
                                         uint64_t epoch, uint64_t offset,
                                         bool recovered, size_t event_count);
void hp_control_pack_resume_reply_event (msgpack_packer *pk, uint64_t offset,
                                         const char *json, size_t json_len);
void hp_control_pack_resume_reply_at_begin (msgpack_packer *pk, size_t event_count);
void hp_control_pack_resume_reply_at (msgpack_packer *pk, uint64_t at);
void hp_control_pack_resume_reply_meta_begin (msgpack_packer *pk, size_t event_count);
/* key (key_len bytes) is packed only with HP_WIRE_FLAG_KEY in flags. */
void hp_control_pack_resume_reply_meta (msgpack_packer *pk, uint8_t flags, const char *key,
                                        size_t key_len);
/* begin for a channel's resume: "channel":C instead of "user":U. */
void hp_control_pack_resume_reply_begin_stream (msgpack_packer *pk, uint64_t rid,
                                                const hp_stream_t *stream,
                                                uint64_t epoch, uint64_t offset,
                                                bool recovered, size_t event_count);

/* The channel presence reply, begun here and followed by user_count calls
 * of hp_control_pack_str (each a distinct user):
 *   {"channel":str,"connections":uint,"exact":bool,"truncated":bool,"users":[str,...]}
 * exact is false while the broker's presence bound refused subscriptions
 * that may still be held; truncated says users were left out past
 * HP_CHANNEL_PRESENCE_USERS_MAX. */
void hp_control_pack_channel_presence_begin (msgpack_packer *pk, const char *channel,
                                             size_t channel_len, uint64_t connections,
                                             bool exact, bool truncated, size_t user_count);
void hp_control_pack_str (msgpack_packer *pk, const char *s, size_t len);
/* The same for a NUL-terminated string (NULL packs ""). */
void hp_control_pack_cstr (msgpack_packer *pk, const char *s);

/* The gateway's view of a resume reply; strings point into the unpacked
 * object, valid while `unpacked` lives. */
typedef struct {
    uint64_t rid;
    hp_stream_t stream;     /* the user or channel the reply is about */
    hp_str_t user;          /* stream.name for a user reply; empty for a channel */
    uint64_t epoch;
    uint64_t offset;
    bool     recovered;
    size_t   event_count;
    const msgpack_object *events;   /* array of [offset, str] */
    const msgpack_object *at;       /* event_count uints, or NULL (an earlier broker) */
    const msgpack_object *meta;     /* event_count [flags, key], or NULL (an earlier broker) */
} hp_resume_reply_t;

/* Unpacks bytes into `unpacked` (caller inits/destroys it) and fills reply.
 * Returns 0, or -1 when the bytes are not a well-formed resume reply. */
int hp_control_resume_reply_decode (msgpack_unpacked *unpacked,
                                    const char *bytes, size_t len,
                                    hp_resume_reply_t *reply);

/* Event i of a decoded reply; *at (may be NULL) its accept time, 0 when
 * the reply carried none. Returns 0, or -1 when malformed. */
int hp_control_resume_reply_event (const hp_resume_reply_t *reply, size_t i,
                                   uint64_t *offset, hp_str_t *json, uint64_t *at);

/* Event i's wire flags (known bits) and key ({NULL, 0}: none); flags 0 and
 * no key when the reply carried no meta. Either pointer may be NULL.
 * Returns 0, or -1 when malformed (the decoder checked every entry). */
int hp_control_resume_reply_event_meta (const hp_resume_reply_t *reply, size_t i,
                                        uint8_t *flags, hp_str_t *key);

#endif
