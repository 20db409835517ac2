/* fuzz_client_frame.c -- fuzz target: a browser's text frame -> gateway/client_frame.c's parser. */
//  The bytes are one complete client message, as client.c hands it over.
//  Oracles (abort on failure):
//  - the parser answers 0 or 4000, nothing else, and the same twice;
//  - a frame it accepts is a JSON object (read again by jansson with the
//    fuzz helper's looser flags) whose "type" names the parsed type;
//  - an accepted token is that object's "token", byte for byte, with no NUL;
//  - only auth and subscribe frames carry a resume position, and that
//    position is the object's resume.offset with an epoch that formats back
//    to its text;
//  - only subscribe and unsubscribe frames carry a channel, and it is the
//    object's "channel", byte for byte, with no NUL;
//  - only send frames carry an event and data: the event is the object's
//    "event", byte for byte, with no NUL, and the data is its "data";
//  - a rejected frame holds nothing (NULL token, no resume).
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "client_frame.h"
#include "wire.h"

static const char *const s_names[] = {
    [GW_CLIENT_FRAME_AUTH] = "auth",
    [GW_CLIENT_FRAME_PING] = "ping",
    [GW_CLIENT_FRAME_REFRESH] = "refresh",
    [GW_CLIENT_FRAME_SUBSCRIBE] = "subscribe",
    [GW_CLIENT_FRAME_UNSUBSCRIBE] = "unsubscribe",
    [GW_CLIENT_FRAME_SEND] = "send",
};

static void
s_check_accepted (const gw_client_frame_t *frame, const uint8_t *data, size_t size)
{
    if ((unsigned) frame->type >= sizeof s_names / sizeof s_names[0])
        abort ();
    /* Plain jansson, not fuzz_json_parse: that one rewrites every "\\u0000"
     * byte run, even one after an escaped backslash, so it would read a
     * different token than the frame holds. */
    json_t *root = json_loadb ((const char *) data, size, 0, NULL);
    json_t *type = json_object_get (root, "type");
    if (!json_is_object (root) || !json_is_string (type)
    ||  strcmp (json_string_value (type), s_names[frame->type]) != 0)
        abort ();
    if (frame->token) {
        json_t *token = json_object_get (root, "token");
        if (frame->type == GW_CLIENT_FRAME_PING || frame->type == GW_CLIENT_FRAME_UNSUBSCRIBE
        ||  !json_is_string (token)
        ||  json_string_length (token) != frame->token_len
        ||  strlen (frame->token) != frame->token_len
        ||  memcmp (json_string_value (token), frame->token, frame->token_len) != 0)
            abort ();
    }
    if (frame->has_resume) {
        json_t *resume = json_object_get (root, "resume");
        json_t *epoch = json_object_get (resume, "epoch");
        json_t *offset = json_object_get (resume, "offset");
        char text[HP_EPOCH_TEXT_LEN + 1];
        hp_epoch_format (text, frame->resume_epoch);
        if ((frame->type != GW_CLIENT_FRAME_AUTH && frame->type != GW_CLIENT_FRAME_SUBSCRIBE)
        ||  !json_is_string (epoch)
        ||  strcasecmp (json_string_value (epoch), text) != 0
        ||  json_number_value (offset) != (double) frame->resume_offset)
            abort ();
    }
    if (frame->channel) {
        json_t *channel = json_object_get (root, "channel");
        if ((frame->type != GW_CLIENT_FRAME_SUBSCRIBE && frame->type != GW_CLIENT_FRAME_UNSUBSCRIBE)
        ||  !json_is_string (channel) || json_string_length (channel) != frame->channel_len
        ||  strlen (frame->channel) != frame->channel_len
        ||  memcmp (json_string_value (channel), frame->channel, frame->channel_len) != 0)
            abort ();
    }
    if (frame->event) {
        json_t *event = json_object_get (root, "event");
        if (frame->type != GW_CLIENT_FRAME_SEND
        ||  !json_is_string (event) || json_string_length (event) != frame->event_len
        ||  strlen (frame->event) != frame->event_len
        ||  memcmp (json_string_value (event), frame->event, frame->event_len) != 0)
            abort ();
    }
    if (frame->data) {
        json_t *data = json_object_get (root, "data");
        if (frame->type != GW_CLIENT_FRAME_SEND || !json_equal (data, (json_t *) frame->data))
            abort ();
    }
    json_decref (root);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    gw_client_frame_t frame, again;
    int rc = gw_client_frame_parse (&frame, data, size);
    int rc2 = gw_client_frame_parse (&again, data, size);
    if (rc != rc2 || (rc != 0 && rc != GW_CLIENT_FRAME_MALFORMED))
        abort ();
    if (rc == 0) {
        if (again.type != frame.type || again.has_resume != frame.has_resume
        ||  again.resume_epoch != frame.resume_epoch || again.resume_offset != frame.resume_offset
        ||  (again.token == NULL) != (frame.token == NULL)
        ||  (again.channel == NULL) != (frame.channel == NULL)
        ||  (again.event == NULL) != (frame.event == NULL)
        ||  (again.data == NULL) != (frame.data == NULL))
            abort ();
        s_check_accepted (&frame, data, size);
    }
    else if (frame.token || frame.channel || frame.event || frame.data
         ||  frame.has_resume || frame.doc_)
        abort ();
    gw_client_frame_fini (&frame);
    gw_client_frame_fini (&again);
    return 0;
}

//  The standalone driver's structured inputs (driver.c): frames built from
//  pieces that sit on the parser's edges, most of them well formed.
size_t fuzz_driver_seed (unsigned char *buf, size_t cap, uint64_t r);

size_t
fuzz_driver_seed (unsigned char *buf, size_t cap, uint64_t r)
{
    static const char *types[] = {
        "\"auth\"", "\"ping\"", "\"refresh\"", "\"pong\"", "\"auth\\u0000\"", "1", "null",
        "\"AUTH\"", "\"\"", "\"subscribe\"", "\"unsubscribe\"", "\"subscribe\\u0000\"",
        "\"send\"", "\"send\"",
    };
    static const char *channels[] = {
        "", ",\"channel\":\"order:17\"", ",\"channel\":7", ",\"channel\":\"a\\u0000b\"",
        ",\"channel\":\"\"", ",\"channel\":\"not valid!\"", ",\"channel\":null",
    };
    static const char *tokens[] = {
        "", ",\"token\":\"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig\"", ",\"token\":7",
        ",\"token\":\"a\\u0000b\"", ",\"token\":\"\"", ",\"token\":null", ",\"token\":\"\\ud83d\\ude00\"",
    };
    static const char *resumes[] = {
        "", ",\"resume\":null", ",\"resume\":{\"epoch\":\"00000000deadbeef\",\"offset\":42}",
        ",\"resume\":{\"epoch\":\"00000000DEADBEEF\",\"offset\":0}",
        ",\"resume\":{\"epoch\":\"00000000deadbeef\",\"offset\":-1}",
        ",\"resume\":{\"epoch\":\"00000000deadbeef\",\"offset\":9223372036854775807}",
        ",\"resume\":{\"epoch\":\"00000000deadbeef\",\"offset\":1e3}", ",\"resume\":[]",
        ",\"resume\":{\"epoch\":\"xyz\",\"offset\":1}",
    };
    static const char *extras[] = {
        "", ",\"x\":[1,{\"y\":null}]", ",\"type\":\"ping\"", ",",
        ",\"event\":\"typing\",\"data\":{\"order\":17}", ",\"event\":\"a\\u0000b\"",
        ",\"event\":7,\"data\":null", ",\"user\":\"mallory\",\"event\":\"typing\"",
    };
#define S_PICK(a, shift) a[(r >> (shift)) % (sizeof a / sizeof a[0])]
    int n = snprintf ((char *) buf, cap, "{\"type\":%s%s%s%s%s}",
                      S_PICK (types, 0), S_PICK (tokens, 8), S_PICK (resumes, 16),
                      S_PICK (channels, 32), S_PICK (extras, 24));
#undef S_PICK
    return n < 0 ? 0 : (size_t) n < cap ? (size_t) n : cap - 1;
}
