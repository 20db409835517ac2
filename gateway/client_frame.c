/* client_frame.c -- a browser's text frame, parsed: bytes in, a typed frame or a close code out.
 *
 * Kept apart from client.c (which answers frames and owns lws state) so the
 * one reader of browser bytes is a pure function that unit tests and the
 * fuzz target (tests/fuzz/fuzz_client_frame.c) drive directly. */
#include "client_frame.h"

#include <string.h>

#include <jansson.h>

#include "wire.h"

static const struct {
    const char *name;
    gw_client_frame_type_t type;
} s_types[] = {
    { "auth", GW_CLIENT_FRAME_AUTH },
    { "ping", GW_CLIENT_FRAME_PING },
    { "refresh", GW_CLIENT_FRAME_REFRESH },
    { "subscribe", GW_CLIENT_FRAME_SUBSCRIBE },
    { "unsubscribe", GW_CLIENT_FRAME_UNSUBSCRIBE },
    { "send", GW_CLIENT_FRAME_SEND },
};

/* The frame's type, or -1 for a missing, ill-typed or unknown one. A name
 * with a NUL inside ("ping\u0000x") is unknown. */
static int
s_type_of (json_t *root, gw_client_frame_type_t *type)
{
    json_t *value = json_object_get (root, "type");
    if (!json_is_string (value))
        return -1;
    const char *name = json_string_value (value);
    size_t len = json_string_length (value);
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (strlen (s_types[i].name) == len && memcmp (s_types[i].name, name, len) == 0) {
            *type = s_types[i].type;
            return 0;
        }
    return -1;
}

/* "resume": absent or null is no position; else it must be a well-formed one. */
static int
s_resume_of (json_t *root, gw_client_frame_t *frame)
{
    json_t *resume = json_object_get (root, "resume");
    if (!resume || json_is_null (resume))
        return 0;
    json_t *epoch = json_object_get (resume, "epoch");
    json_t *offset = json_object_get (resume, "offset");
    if (!json_is_object (resume) || !json_is_string (epoch) || !json_is_integer (offset)
    ||  json_integer_value (offset) < 0
    ||  hp_epoch_parse (json_string_value (epoch), json_string_length (epoch),
                        &frame->resume_epoch) != 0)
        return -1;
    frame->resume_offset = (uint64_t) json_integer_value (offset);
    frame->has_resume = true;
    return 0;
}

/* A string member without NUL bytes, or NULL. A token with a NUL inside
 * would be checked only up to the NUL by the C-string JWT code, and a
 * channel or event name only up to it by C-string code: none is one at all.
 * (json_loadb without JSON_ALLOW_NUL refuses "\u0000" already; this holds
 * if flags change.) */
static const char *
s_string_of (json_t *root, const char *key, size_t *len)
{
    json_t *value = json_object_get (root, key);
    if (!json_is_string (value))
        return NULL;
    const char *text = json_string_value (value);
    if (strlen (text) != json_string_length (value))
        return NULL;
    *len = json_string_length (value);
    return text;
}

int
gw_client_frame_parse (gw_client_frame_t *frame, const void *bytes, size_t len)
{
    *frame = (gw_client_frame_t) { 0 };
    json_t *root = json_loadb (bytes, len, 0, NULL);
    if (!json_is_object (root) || s_type_of (root, &frame->type) != 0)
        goto malformed;
    gw_client_frame_type_t type = frame->type;
    if ((type == GW_CLIENT_FRAME_AUTH || type == GW_CLIENT_FRAME_SUBSCRIBE)
    &&  s_resume_of (root, frame) != 0)
        goto malformed;
    if (type == GW_CLIENT_FRAME_AUTH || type == GW_CLIENT_FRAME_REFRESH
    ||  type == GW_CLIENT_FRAME_SUBSCRIBE)
        frame->token = s_string_of (root, "token", &frame->token_len);
    if (type == GW_CLIENT_FRAME_SUBSCRIBE || type == GW_CLIENT_FRAME_UNSUBSCRIBE)
        frame->channel = s_string_of (root, "channel", &frame->channel_len);
    if (type == GW_CLIENT_FRAME_SEND) {
        frame->event = s_string_of (root, "event", &frame->event_len);
        frame->data = json_object_get (root, "data");
    }
    frame->doc_ = root;
    return 0;
malformed:
    json_decref (root);
    *frame = (gw_client_frame_t) { 0 };
    return GW_CLIENT_FRAME_MALFORMED;
}

void
gw_client_frame_fini (gw_client_frame_t *frame)
{
    json_decref (frame->doc_);
    *frame = (gw_client_frame_t) { 0 };
}
