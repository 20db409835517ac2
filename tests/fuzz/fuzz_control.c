/* fuzz_control.c -- fuzz target: untrusted bytes on the control socket. */
//  Oracles (abort on failure): an accepted request satisfies its op's rules
//  and a resume request survives pack -> decode unchanged; an accepted
//  resume reply has every event readable as [uint, str].
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static hp_control_req_t *s_req;
static hp_control_req_t *s_again;

static void
s_check_request (const hp_control_req_t *req)
{
    size_t n = hp_control_req_user_count (req);
    for (size_t i = 0; i < n; i++) {
        hp_str_t u = hp_control_req_user (req, i);
        if (!hp_user_id_valid (u.ptr, u.len))
            abort ();
    }
    switch (hp_control_req_op (req)) {
        case HP_OP_PRESENCE:
            if (n < 1 || n > HP_PRESENCE_USERS_MAX)
                abort ();
            break;
        case HP_OP_RESUME: {
            //  a user's (one user) or a channel's (a valid channel, no user)
            hp_stream_t st = hp_control_req_stream (req);
            hp_str_t u = st.name;
            if (st.kind == HP_STREAM_USER ? n != 1 : n != 0 || !hp_stream_valid (&st))
                abort ();
            hp_buf_t out;
            hp_buf_init (&out, 0);
            if (hp_control_pack_resume_stream (&out, hp_control_req_rid (req), &st,
                                               hp_control_req_has_position (req),
                                               hp_control_req_epoch (req),
                                               hp_control_req_offset (req)))
                abort ();
            const char *why;
            if (hp_control_req_decode (s_again, out.data, out.len, &why)
            ||  hp_control_req_op (s_again) != HP_OP_RESUME
            ||  hp_control_req_rid (s_again) != hp_control_req_rid (req)
            ||  hp_control_req_has_position (s_again) != hp_control_req_has_position (req)
            ||  hp_control_req_epoch (s_again) != hp_control_req_epoch (req)
            ||  hp_control_req_offset (s_again) != hp_control_req_offset (req)
            ||  hp_control_req_stream (s_again).kind != st.kind
            ||  hp_control_req_stream (s_again).name.len != u.len
            ||  memcmp (hp_control_req_stream (s_again).name.ptr, u.ptr, u.len))
                abort ();
            hp_buf_free (&out);
            break;
        }
        case HP_OP_STATS:
            break;
        case HP_OP_DISCONNECT:
            if (n != 1)
                abort ();
            break;
        case HP_OP_PUBLISH:         //  its envelope is checked by the broker's router
            break;
        case HP_OP_CHANNEL_PRESENCE: {
            hp_str_t c = hp_control_req_channel (req);
            if (n != 0 || !hp_channel_name_valid (c.ptr, c.len))
                abort ();
            break;
        }
        default:
            abort ();
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_req && !(s_req = hp_control_req_new ()))
        abort ();
    if (!s_again && !(s_again = hp_control_req_new ()))
        abort ();
    const char *why = NULL;
    if (hp_control_req_decode (s_req, (const char *) data, size, &why) == 0)
        s_check_request (s_req);
    else
    if (!why || !*why)
        abort ();                           //  every refusal names a reason

    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    hp_resume_reply_t reply;
    if (hp_control_resume_reply_decode (&unpacked, (const char *) data, size, &reply) == 0) {
        //  it names a user (user set) or a channel (user empty), never both
        if (reply.stream.kind == HP_STREAM_BROADCAST
        ||  (reply.stream.kind == HP_STREAM_USER && reply.user.len != reply.stream.name.len)
        ||  (reply.stream.kind == HP_STREAM_CHANNEL && reply.user.len != 0))
            abort ();
        for (size_t i = 0; i < reply.event_count; i++) {
            uint64_t at;
            hp_str_t json;
            uint64_t stamp;
            if (hp_control_resume_reply_event (&reply, i, &at, &json, &stamp))
                abort ();
        }
        uint64_t at;
        hp_str_t json;
        if (hp_control_resume_reply_event (&reply, reply.event_count, &at, &json, NULL) == 0)
            abort ();
    }
    msgpack_unpacked_destroy (&unpacked);
    return 0;
}
