/* client.c -- the browser's frames: collecting them, the flood limit, auth and ping.
 *
 * Every frame type the client protocol knows is parsed and answered here
 * (PROTOCOL.md, client protocol); delivery.c writes, sub.c follows streams. */
#include "client.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "auth.h"
#include "fanout.h"
#include "wire.h"

void
gw_client_init (gw_client_t *self)
{
    *self = (gw_client_t) { 0 };
}

void
gw_client_fini (gw_client_t *self)
{
    free (self->rx);
    self->rx = NULL;
    self->rx_len = 0;
}

/* Returns 0, or the close code for a bad resume object. */
static int
s_parse_resume (gw_sub_t *user, json_t *resume)
{
    if (!resume || json_is_null (resume))
        return 0;
    json_t *epoch = json_object_get (resume, "epoch");
    json_t *offset = json_object_get (resume, "offset");
    uint64_t epoch_value;
    if (!json_is_object (resume) || !json_is_string (epoch) || !json_is_integer (offset)
    ||  json_integer_value (offset) < 0
    ||  hp_epoch_parse (json_string_value (epoch), json_string_length (epoch),
                        &epoch_value) != 0)
        return 4000;
    gw_sub_set_position (user, epoch_value, (uint64_t) json_integer_value (offset));
    return 0;
}

/* The first frame. Returns 0 or the close code. */
static int
s_handle_auth (gw_client_t *self, gw_delivery_t *out, gw_sub_t *user,
               const char *msg, size_t len)
{
    gw_session_env_t *env = out->env;
    gw_metrics_t *metrics = env->metrics;
    json_t *root = json_loadb (msg, len, 0, NULL);
    json_t *type = json_object_get (root, "type");
    if (!json_is_object (root) || !json_is_string (type)
    ||  strcmp (json_string_value (type), "auth") != 0
    ||  s_parse_resume (user, json_object_get (root, "resume")) != 0) {
        json_decref (root);
        metrics->auth_failures_total[GW_AUTHFAIL_MALFORMED]++;
        return 4000;
    }
    json_t *token = json_object_get (root, "token");
    gw_auth_claims_t claims;
    const gw_config_t *config = env->config;
    gw_auth_result_t result = json_is_string (token)
        ? gw_auth_verify (config->secret, config->secret_len, &config->token,
                          json_string_value (token), time (NULL), &claims)
        : GW_AUTH_BAD_TOKEN;
    json_decref (root);
    if (result != GW_AUTH_OK) {
        metrics->auth_failures_total[gw_metrics_authfail_of (result)]++;
        return result == GW_AUTH_EXPIRED ? 4002 : 4001;
    }
    gw_stream_t *stream = gw_fanout_attach (env->fanout, GW_STREAM_USER, claims.user, claims.user_len, user);
    if (!stream)
        return 1011;
    self->authed = true;
    gw_sub_start (user, stream);
    return 0;
}

/* A frame after auth. Returns 0 or the close code. */
static int
s_handle_frame (gw_delivery_t *out, const char *msg, size_t len)
{
    json_t *root = json_loadb (msg, len, 0, NULL);
    json_t *type = json_object_get (root, "type");
    bool ping = json_is_string (type) && strcmp (json_string_value (type), "ping") == 0;
    json_decref (root);
    if (!ping)
        return 4000;    /* not JSON, a second auth, or an unknown type */
    gw_delivery_pong (out);
    return 0;
}

/* True when this frame passes the flood limit. */
static bool
s_rate_ok (gw_client_t *self)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    uint32_t second = (uint32_t) ts.tv_sec;
    if (second != self->rate_second) {
        self->rate_second = second;
        self->rate_count = 0;
    }
    return ++self->rate_count <= GW_CLIENT_RATE_MAX;
}

int
gw_client_on_receive (gw_client_t *self, gw_delivery_t *out, gw_sub_t *user,
                      const void *in, size_t len)
{
    if (gw_delivery_closing (out))
        return 0;       /* closing: the rest of what the peer sends is ignored */
    struct lws *wsi = out->wsi;
    if (lws_frame_is_binary (wsi)) {
        if (!self->authed)
            out->env->metrics->auth_failures_total[GW_AUTHFAIL_MALFORMED]++;
        return gw_delivery_close_now (out, 4000);
    }
    size_t remaining = lws_remaining_packet_payload (wsi);
    if (self->rx_len + len + remaining > GW_CLIENT_MESSAGE_MAX) {
        /* Mid-frame, lws 4.1 does not send the close frame when RECEIVE
         * returns -1 (the connection just hangs until its timeout), so
         * this close goes through the timer like the asynchronous ones. */
        gw_delivery_close (out, 1009);
        return 0;
    }
    bool complete = lws_is_final_fragment (wsi) && remaining == 0;
    const char *msg = in;
    size_t msg_len = len;
    if (!complete || self->rx_len) {
        /* pieces of one message: collect them (bounded above) */
        if (!self->rx && !(self->rx = malloc (GW_CLIENT_MESSAGE_MAX)))
            return gw_delivery_close_now (out, 1011);
        memcpy (self->rx + self->rx_len, in, len);
        self->rx_len += (uint32_t) len;
        if (!complete)
            return 0;
        msg = self->rx;
        msg_len = self->rx_len;
    }
    int code;
    if (!self->authed)
        code = s_handle_auth (self, out, user, msg, msg_len);
    else
        code = s_rate_ok (self) ? s_handle_frame (out, msg, msg_len) : 1008;
    gw_client_fini (self);
    return code ? gw_delivery_close_now (out, code) : 0;
}

int
gw_client_on_auth_timeout (gw_client_t *self, gw_delivery_t *out)
{
    out->env->metrics->auth_failures_total[GW_AUTHFAIL_TIMEOUT]++;
    return gw_delivery_close_now (out, 4008);
}
