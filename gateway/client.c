/* client.c -- the browser's frames: collecting them, the flood limit, auth, ping, refresh, subscribe, send; token expiry.
 *
 * Every frame type the client protocol knows is answered here (PROTOCOL.md,
 * client protocol) once client_frame.c has parsed it; delivery.c writes,
 * sub.c follows streams, channel_auth.c says which channels may be
 * followed and chanset.c holds them, upsend.c checks a send and packs
 * its record, which the link (link.h) carries to the broker. */
#include "client.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "auth.h"
#include "client_frame.h"
#include "fanout.h"
#include "upsend.h"

void
gw_client_init (gw_client_t *self)
{
    *self = (gw_client_t) { 0 };
}

static void
s_rx_free (gw_client_t *self)
{
    free (self->rx);
    self->rx = NULL;
    self->rx_len = 0;
}

void
gw_client_fini (gw_client_t *self)
{
    s_rx_free (self);
    gw_channel_claim_destroy (&self->channels);
    if (self->out)
        lws_sul_cancel (&self->expiry);
}

/* --- token expiry ----------------------------------------------------------- */

/* Wall-clock seconds until exp + leeway, as lws (monotonic) microseconds. */
static lws_usec_t
s_usec_left (const gw_client_t *self)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    double left = self->exp + (double) self->out->env->config->token.leeway
                - ((double) ts.tv_sec + ts.tv_nsec / 1e9);
    return left <= 0 ? 0 : (lws_usec_t) (left * LWS_US_PER_SEC) + 1;
}

static void s_on_expiry (lws_sorted_usec_list_t *sul);

static void
s_arm_expiry (gw_client_t *self)
{
    lws_usec_t left = s_usec_left (self);
    lws_sul_schedule (lws_get_context (self->out->wsi), 0, &self->expiry, s_on_expiry,
                      left > 0 ? left : 1);
}

/* The token ran out with no refresh: close with 4002, as an expired token
 * at auth is. The wall clock is asked again, so a deadline that moved
 * (a refresh racing the callback, a clock step) is honoured. */
static void
s_on_expiry (lws_sorted_usec_list_t *sul)
{
    gw_client_t *self = lws_container_of (sul, gw_client_t, expiry);
    if (gw_delivery_closing (self->out))
        return;
    if (s_usec_left (self) > 0) {
        s_arm_expiry (self);
        return;
    }
    self->out->env->metrics->token_expiries_total++;
    gw_delivery_close (self->out, 4002);
}

/* Checks a frame's token: GW_AUTH_BAD_TOKEN when it had none. */
static gw_auth_result_t
s_verify (const gw_config_t *config, const gw_client_frame_t *frame, gw_auth_claims_t *claims)
{
    claims->channels = NULL;    /* holds nothing unless verified (fini is safe) */
    return frame->token
        ? gw_auth_verify (config->secret, config->secret_len, &config->token,
                          frame->token, time (NULL), claims)
        : GW_AUTH_BAD_TOKEN;
}

/* The first frame. Returns 0 or the close code. */
static int
s_handle_auth (gw_client_t *self, gw_delivery_t *out, gw_sub_t *user,
               const gw_client_frame_t *frame)
{
    gw_session_env_t *env = out->env;
    gw_metrics_t *metrics = env->metrics;
    if (frame->type != GW_CLIENT_FRAME_AUTH) {
        metrics->auth_failures_total[GW_AUTHFAIL_MALFORMED]++;
        return GW_CLIENT_FRAME_MALFORMED;
    }
    if (frame->has_resume)
        gw_sub_set_position (user, frame->resume_epoch, frame->resume_offset);
    gw_auth_claims_t claims;
    gw_auth_result_t result = s_verify (env->config, frame, &claims);
    if (result != GW_AUTH_OK) {
        metrics->auth_failures_total[gw_metrics_authfail_of (result)]++;
        return result == GW_AUTH_EXPIRED ? 4002 : 4001;
    }
    gw_stream_t *stream = gw_fanout_attach (env->fanout, GW_STREAM_USER, claims.user, claims.user_len, user);
    if (!stream) {
        gw_auth_claims_fini (&claims);
        return 1011;
    }
    self->channels = claims.channels;   /* taken */
    claims.channels = NULL;
    self->authed = true;
    self->out = out;
    self->exp = claims.exp;
    s_arm_expiry (self);
    gw_sub_start (user, stream);
    return 0;
}

/* Queues a small frame the gateway builds itself (refreshed, error). */
static int
s_reply (gw_delivery_t *out, const char *text, int len)
{
    gw_blob_t *blob = len > 0 ? gw_blob_new (text, (size_t) len, 0, 0) : NULL;
    if (!blob)
        return 1011;
    if (gw_delivery_push (out, &blob, false) != 0)
        return 0;       /* closing already (1013/1011 set by the push) */
    gw_delivery_kick (out);
    return 0;
}

/* {"type":"refresh","token":"<JWT>"}: a valid token for the same user with
 * a later exp moves the connection's deadline. Anything else is answered
 * {"type":"error","reason":"refresh","detail":D} and changes nothing: the
 * connection keeps its current deadline, so a client whose token fetch
 * raced can try again before it. Returns 0 or a close code. */
static int
s_handle_refresh (gw_client_t *self, gw_delivery_t *out, const gw_sub_t *user,
                  const gw_client_frame_t *frame)
{
    gw_metrics_t *metrics = out->env->metrics;
    gw_auth_claims_t claims;
    gw_auth_result_t result = s_verify (out->env->config, frame, &claims);
    const char *detail = result != GW_AUTH_OK ? gw_auth_result_name (result) : NULL;
    if (!detail) {
        size_t len;
        const char *name = gw_stream_name (user->stream, &len);
        if (len != claims.user_len || memcmp (name, claims.user, len) != 0)
            detail = "other_user";
        else if (!(claims.exp > self->exp))
            detail = "not_later";
    }
    char text[128];
    int n;
    if (detail) {
        gw_auth_claims_fini (&claims);
        metrics->refreshes_total[0]++;
        n = snprintf (text, sizeof text,
                      "{\"type\":\"error\",\"reason\":\"refresh\",\"detail\":\"%s\"}", detail);
    }
    else {
        metrics->refreshes_total[1]++;
        /* later subscribes are checked against the new token's claim;
         * channels held already stay */
        gw_channel_claim_destroy (&self->channels);
        self->channels = claims.channels;
        claims.channels = NULL;
        self->exp = claims.exp;
        s_arm_expiry (self);
        n = snprintf (text, sizeof text, "{\"type\":\"refreshed\",\"exp\":%.0f}",
                      floor (claims.exp));
    }
    return s_reply (out, text, n > 0 && (size_t) n < sizeof text ? n : -1);
}

/* --- channels --------------------------------------------------------------- */

/* {"type":T,K:V} (V omitted when NULL), with "reason":R when R is given.
 * jansson escapes V: an invalid name is echoed as the client sent it. */
static int
s_reply_named (gw_delivery_t *out, const char *type, const char *key, const char *value,
               size_t len, const char *reason)
{
    json_t *obj = json_pack ("{s:s}", "type", type);
    if (obj && value)
        json_object_set_new (obj, key, json_stringn (value, len));
    if (obj && reason)
        json_object_set_new (obj, "reason", json_string (reason));
    char *text = obj ? json_dumps (obj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref (obj);
    int rc = s_reply (out, text ? text : "", text ? (int) strlen (text) : -1);
    free (text);
    return rc;
}

/* {"type":T,"channel":C} (C omitted when NULL), with "reason":R when given. */
static int
s_reply_channel (gw_delivery_t *out, const char *type, const char *channel, size_t len,
                 const char *reason)
{
    return s_reply_named (out, type, "channel", channel, len, reason);
}

/* A refused subscribe or unsubscribe: counted, answered with an error frame. */
static int
s_refuse (gw_delivery_t *out, const gw_client_frame_t *frame, gw_subrefused_t reason)
{
    out->env->metrics->subscribe_refused_total[reason]++;
    return s_reply_channel (out, "error", frame->channel, frame->channel_len,
                            gw_metrics_subrefused_name (reason));
}

/* {"type":"subscribe","channel":C,"resume":{...},"token":T}: checked in the
 * order bad_channel, held already (answered subscribed again), authorized
 * (forbidden, bad_token), limit; then the channel is followed and its
 * `subscribed` comes with the resume reply. Returns 0 or a close code. */
static int
s_handle_subscribe (gw_client_t *self, gw_delivery_t *out, const gw_sub_t *user,
                    gw_chanset_t **channels, const gw_client_frame_t *frame)
{
    const gw_config_t *config = out->env->config;
    if (!frame->channel || !hp_channel_name_valid (frame->channel, frame->channel_len))
        return s_refuse (out, frame, GW_SUBREFUSED_BAD_CHANNEL);
    gw_sub_t *held = gw_chanset_find (*channels, frame->channel, frame->channel_len);
    if (held) {
        /* one subscription per channel and connection: LIVE answers at
         * once, a pending one with the reply it waits for */
        gw_sub_again (held);
        return 0;
    }
    size_t user_len;
    const char *user_name = gw_stream_name (user->stream, &user_len);
    gw_channel_auth_ctx_t ctx = {
        .user = user_name, .user_len = user_len, .claim = self->channels,
        .secret = config->secret, .secret_len = config->secret_len, .policy = &config->token,
    };
    switch (gw_channel_authorize (&ctx, frame->channel, frame->channel_len, frame->token,
                                  time (NULL))) {
    case GW_CHANNEL_AUTH_OK:
        break;
    case GW_CHANNEL_AUTH_FORBIDDEN:
        return s_refuse (out, frame, GW_SUBREFUSED_FORBIDDEN);
    case GW_CHANNEL_AUTH_BAD_TOKEN:
        return s_refuse (out, frame, GW_SUBREFUSED_BAD_TOKEN);
    }
    if (gw_chanset_count (*channels) >= config->max_channels_per_connection)
        return s_refuse (out, frame, GW_SUBREFUSED_LIMIT);
    if (!*channels && !(*channels = gw_chanset_new (out, user)))
        return 1011;
    if (gw_chanset_add (*channels, frame->channel, frame->channel_len, frame->has_resume,
                        frame->resume_epoch, frame->resume_offset) != 0)
        return 1011;
    return 0;
}

/* {"type":"unsubscribe","channel":C} -> {"type":"unsubscribed","channel":C}
 * after every frame already queued for it. Returns 0 or a close code. */
static int
s_handle_unsubscribe (gw_delivery_t *out, gw_chanset_t *channels,
                      const gw_client_frame_t *frame)
{
    if (!frame->channel || !hp_channel_name_valid (frame->channel, frame->channel_len))
        return s_refuse (out, frame, GW_SUBREFUSED_BAD_CHANNEL);
    if (gw_chanset_remove (channels, frame->channel, frame->channel_len) != 0)
        return s_refuse (out, frame, GW_SUBREFUSED_NOT_SUBSCRIBED);
    return s_reply_channel (out, "unsubscribed", frame->channel, frame->channel_len, NULL);
}

/* --- messages from the browser ------------------------------------------- */

static uint32_t
s_now_ms (clockid_t clock, uint64_t *wall_ms)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    uint64_t ms = (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
    if (wall_ms)
        *wall_ms = ms;
    return (uint32_t) ms;
}

/* {"type":"send","event":E,"data":D}: checked and packed by upsend.c,
 * handed to the broker link, never answered when it went; a refusal is
 * answered {"type":"error","reason":R,"event":E} (E only when it is a
 * valid event name) and counted. Returns 0 or a close code (1008 for a
 * connection far over its rate). */
static int
s_handle_send (gw_client_t *self, gw_delivery_t *out, const gw_sub_t *user,
               const gw_client_frame_t *frame)
{
    gw_session_env_t *env = out->env;
    const gw_config_t *config = env->config;
    size_t user_len;
    const char *user_name = gw_stream_name (user->stream, &user_len);
    gw_upsend_policy_t policy = {
        .events = config->upstream_events, .max_bytes = config->upstream_max_bytes,
        .rate = config->upstream_rate, .burst = config->upstream_burst,
        .gateway = env->link->gateway_hex, .gateway_len = strlen (env->link->gateway_hex),
    };
    uint64_t at_ms;
    s_now_ms (CLOCK_REALTIME, &at_ms);
    gw_upsend_result_t result = gw_upsend_prepare (&policy, &self->send_rate,
                                                   s_now_ms (CLOCK_MONOTONIC_COARSE, NULL), at_ms,
                                                   user_name, user_len, frame->event,
                                                   frame->event_len, frame->data, &env->record);
    if (result == GW_UPSEND_OK) {
        /* the link counts what it could not take */
        if (env->link->upstream (env->link->ctx, env->record.data, env->record.len) == 0)
            env->metrics->upstream_sent_total++;
        hp_buf_reset (&env->record);
        return 0;
    }
    env->metrics->upstream_refused_total[result]++;
    if (result == GW_UPSEND_FLOOD)
        return 1008;
    if (result == GW_UPSEND_NO_MEMORY)
        return 1011;
    bool named = frame->event && hp_event_name_valid (frame->event, frame->event_len);
    return s_reply_named (out, "error", "event", named ? frame->event : NULL, frame->event_len,
                          gw_upsend_result_name (result));
}

/* A frame after auth. Returns 0 or the close code (a second auth is 4000). */
static int
s_handle_frame (gw_client_t *self, gw_delivery_t *out, const gw_sub_t *user,
                gw_chanset_t **channels, const gw_client_frame_t *frame)
{
    switch (frame->type) {
        case GW_CLIENT_FRAME_PING:
            gw_delivery_pong (out);
            return 0;
        case GW_CLIENT_FRAME_REFRESH:
            return s_handle_refresh (self, out, user, frame);
        case GW_CLIENT_FRAME_SUBSCRIBE:
            return s_handle_subscribe (self, out, user, channels, frame);
        case GW_CLIENT_FRAME_UNSUBSCRIBE:
            return s_handle_unsubscribe (out, *channels, frame);
        case GW_CLIENT_FRAME_SEND:
            return s_handle_send (self, out, user, frame);
        case GW_CLIENT_FRAME_AUTH:
            break;
    }
    return GW_CLIENT_FRAME_MALFORMED;
}

/* True when this frame passes the flood limit. Subscribe and unsubscribe
 * frames have a budget of their own, the channel bound on top of the usual
 * one: a client re-subscribing every channel after a reconnect sends up to
 * --max-channels-per-connection of them at once. Send frames are limited
 * by their own bucket (s_handle_send), which the operator sizes. */
static bool
s_rate_ok (gw_client_t *self, const gw_delivery_t *out, gw_client_frame_type_t type)
{
    if (type == GW_CLIENT_FRAME_SEND)
        return true;
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    uint32_t second = (uint32_t) ts.tv_sec;
    if (second != self->rate_second) {
        self->rate_second = second;
        self->rate_count = 0;
        self->channel_rate_count = 0;
    }
    if (type == GW_CLIENT_FRAME_SUBSCRIBE || type == GW_CLIENT_FRAME_UNSUBSCRIBE)
        return ++self->channel_rate_count
            <= GW_CLIENT_RATE_MAX + out->env->config->max_channels_per_connection;
    return ++self->rate_count <= GW_CLIENT_RATE_MAX;
}

/* One complete message: parsed once, then answered by the connection's state. */
static int
s_handle_message (gw_client_t *self, gw_delivery_t *out, gw_sub_t *user,
                  gw_chanset_t **channels, const char *msg, size_t len)
{
    gw_client_frame_t frame;
    if (gw_client_frame_parse (&frame, msg, len) != 0) {
        if (!self->authed)
            out->env->metrics->auth_failures_total[GW_AUTHFAIL_MALFORMED]++;
        return self->authed && !s_rate_ok (self, out, GW_CLIENT_FRAME_PING) ? 1008
             : GW_CLIENT_FRAME_MALFORMED;
    }
    int code = !self->authed ? s_handle_auth (self, out, user, &frame)
             : !s_rate_ok (self, out, frame.type) ? 1008
             : s_handle_frame (self, out, user, channels, &frame);
    gw_client_frame_fini (&frame);
    return code;
}

int
gw_client_on_receive (gw_client_t *self, gw_delivery_t *out, gw_sub_t *user,
                      gw_chanset_t **channels, const void *in, size_t len)
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
    int code = s_handle_message (self, out, user, channels, msg, msg_len);
    s_rx_free (self);
    return code ? gw_delivery_close_now (out, code) : 0;
}

int
gw_client_on_auth_timeout (gw_client_t *self, gw_delivery_t *out)
{
    out->env->metrics->auth_failures_total[GW_AUTHFAIL_TIMEOUT]++;
    return gw_delivery_close_now (out, 4008);
}
