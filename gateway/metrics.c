/* metrics.c -- the gateway's counters and their Prometheus text form. */
#include "metrics.h"
#include "version.h"

#include <stdio.h>

static const int s_close_codes[] = {
#define GW_CLOSE_VALUE(code) code,
    GW_CLOSE_CODES(GW_CLOSE_VALUE)
#undef GW_CLOSE_VALUE
};

static const char *s_authfail_names[GW_AUTHFAIL_LABELS] = {
    "malformed", "bad_token", "bad_alg", "bad_sub", "bad_exp", "expired", "timeout",
    "bad_claim", "not_yet", "too_long", "bad_aud", "bad_iss", "crit"
};

const char *
gw_metrics_authfail_name (gw_authfail_t reason)
{
    return reason < GW_AUTHFAIL_LABELS ? s_authfail_names[reason] : "other";
}

static const char *s_refused_names[GW_REFUSED_LABELS] = {
    "limit", "unauthenticated", "per_ip", "path", "shutdown", "version", "origin", "descriptors",
    "bad_request"
};

static const char *s_drop_names[GW_DROP_LABELS] = {
    "no_session", "duplicate", "malformed", "slow_consumer", "closed",
    "stale_reply", "epoch_change", "link_lost", "no_memory"
};

static const char *s_subrefused_names[GW_SUBREFUSED_LABELS] = {
    "forbidden", "bad_channel", "limit", "bad_token", "not_subscribed"
};

const char *
gw_metrics_subrefused_name (gw_subrefused_t reason)
{
    return reason < GW_SUBREFUSED_LABELS ? s_subrefused_names[reason] : "unknown";
}

static const char *s_audit_names[GW_AUDIT_LABELS] = {
    "gap", "tick", "stall", "link", "retry"
};

void
gw_metrics_count_close (gw_metrics_t *self, int code)
{
    for (int i = 0; i < GW_CLOSE_OTHER; i++)
        if (s_close_codes[i] == code) {
            self->closes_total[i]++;
            return;
        }
    self->closes_total[GW_CLOSE_OTHER]++;
}

gw_authfail_t
gw_metrics_authfail_of (gw_auth_result_t result)
{
    switch (result) {
    case GW_AUTH_BAD_ALG: return GW_AUTHFAIL_BAD_ALG;
    case GW_AUTH_BAD_SUB: return GW_AUTHFAIL_BAD_SUB;
    case GW_AUTH_BAD_EXP: return GW_AUTHFAIL_BAD_EXP;
    case GW_AUTH_EXPIRED: return GW_AUTHFAIL_EXPIRED;
    case GW_AUTH_BAD_CLAIM: return GW_AUTHFAIL_BAD_CLAIM;
    case GW_AUTH_NOT_YET: return GW_AUTHFAIL_NOT_YET;
    case GW_AUTH_TOO_LONG: return GW_AUTHFAIL_TOO_LONG;
    case GW_AUTH_BAD_AUD: return GW_AUTHFAIL_BAD_AUD;
    case GW_AUTH_BAD_ISS: return GW_AUTHFAIL_BAD_ISS;
    case GW_AUTH_CRIT:    return GW_AUTHFAIL_CRIT;
    default:              return GW_AUTHFAIL_BAD_TOKEN;
    }
}

static int
s_line (hp_buf_t *out, const char *name, const char *labels, uint64_t value)
{
    char line[256];
    int n = snprintf (line, sizeof line, "%s%s %llu\n", name, labels ? labels : "",
                      (unsigned long long) value);
    return n > 0 && (size_t) n < sizeof line ? hp_buf_append (out, line, (size_t) n) : -1;
}

static int
s_head (hp_buf_t *out, const char *name, const char *type, const char *help)
{
    char line[256];
    int n = snprintf (line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    return n > 0 && (size_t) n < sizeof line ? hp_buf_append (out, line, (size_t) n) : -1;
}

/* Messages from the browser: sent, refused by reason (the error frame's),
 * dropped on the way, batches. */
static int
s_render_upstream (const gw_metrics_t *self, hp_buf_t *out)
{
    static const char *reasons[GW_UPSEND_LABELS] = {
        NULL, "upstream", "too_large", "rate", "flood", "no_memory",
    };
    char labels[64];
    int rc = s_head (out, "herald_gateway_upstream_sent_total", "counter",
                     "Send frames from browsers handed to the broker link.");
    rc |= s_line (out, "herald_gateway_upstream_sent_total", NULL, self->upstream_sent_total);
    rc |= s_head (out, "herald_gateway_upstream_refused_total", "counter",
                  "Send frames refused, by the error frame's reason (flood: closed 1008).");
    for (int i = 1; i < GW_UPSEND_LABELS; i++) {
        snprintf (labels, sizeof labels, "{reason=\"%s\"}", reasons[i]);
        rc |= s_line (out, "herald_gateway_upstream_refused_total", labels,
                      self->upstream_refused_total[i]);
    }
    rc |= s_head (out, "herald_gateway_upstream_dropped_total", "counter",
                  "Send frames taken but lost on the way: no live broker link, or its queue full.");
    rc |= s_line (out, "herald_gateway_upstream_dropped_total", NULL, self->upstream_dropped_total);
    rc |= s_head (out, "herald_gateway_upstream_batches_total", "counter",
                  "Batches of browser messages sent to the broker.");
    rc |= s_line (out, "herald_gateway_upstream_batches_total", NULL, self->upstream_batches_total);
    return rc;
}

int
gw_metrics_render (const gw_metrics_t *self, hp_buf_t *out)
{
    char labels[64];
    int rc = 0;
    char info[256];
    int n = hp_version_metric (info, sizeof info);
    rc |= n < 0 ? -1 : hp_buf_append (out, info, (size_t) n);
    rc |= s_head (out, "herald_gateway_broker_link_up", "gauge",
                  "1 while a publish link to a broker is up and the broker spoke within 3 s.");
    rc |= s_line (out, "herald_gateway_broker_link_up", NULL, self->broker_link_up);
    rc |= s_head (out, "herald_gateway_connections", "gauge", "Open WebSocket connections.");
    rc |= s_line (out, "herald_gateway_connections", NULL, self->connections);
    rc |= s_head (out, "herald_gateway_users", "gauge", "Users with at least one connection here.");
    rc |= s_line (out, "herald_gateway_users", NULL, self->users);
    rc |= s_head (out, "herald_gateway_connections_total", "counter", "WebSocket connections accepted.");
    rc |= s_line (out, "herald_gateway_connections_total", NULL, self->connections_total);
    rc |= s_head (out, "herald_gateway_closes_total", "counter", "Connections closed, by close code.");
    for (int i = 0; i < GW_CLOSE_LABELS; i++) {
        if (i == GW_CLOSE_OTHER)
            snprintf (labels, sizeof labels, "{code=\"other\"}");
        else
            snprintf (labels, sizeof labels, "{code=\"%d\"}", s_close_codes[i]);
        rc |= s_line (out, "herald_gateway_closes_total", labels, self->closes_total[i]);
    }
    rc |= s_head (out, "herald_gateway_auth_failures_total", "counter", "Refused auth attempts, by reason.");
    for (int i = 0; i < GW_AUTHFAIL_LABELS; i++) {
        snprintf (labels, sizeof labels, "{reason=\"%s\"}", s_authfail_names[i]);
        rc |= s_line (out, "herald_gateway_auth_failures_total", labels, self->auth_failures_total[i]);
    }
    rc |= s_head (out, "herald_gateway_events_in_total", "counter", "Events received from the broker.");
    rc |= s_line (out, "herald_gateway_events_in_total", NULL, self->events_in_total);
    rc |= s_head (out, "herald_gateway_frames_out_total", "counter", "Text frames written to clients.");
    rc |= s_line (out, "herald_gateway_frames_out_total", NULL, self->frames_out_total);
    rc |= s_head (out, "herald_gateway_events_dropped_total", "counter", "Events not written to a client, by reason.");
    for (int i = 0; i < GW_DROP_LABELS; i++) {
        snprintf (labels, sizeof labels, "{reason=\"%s\"}", s_drop_names[i]);
        rc |= s_line (out, "herald_gateway_events_dropped_total", labels, self->events_dropped_total[i]);
    }
    rc |= s_head (out, "herald_gateway_queue_bytes", "gauge", "Bytes queued to clients.");
    rc |= s_line (out, "herald_gateway_queue_bytes", NULL, self->queue_bytes);
    rc |= s_head (out, "herald_gateway_refreshes_total", "counter", "Token refresh frames, by result.");
    rc |= s_line (out, "herald_gateway_refreshes_total", "{result=\"ok\"}", self->refreshes_total[1]);
    rc |= s_line (out, "herald_gateway_refreshes_total", "{result=\"refused\"}", self->refreshes_total[0]);
    rc |= s_head (out, "herald_gateway_token_expiries_total", "counter", "Connections closed with 4002 when their token expired.");
    rc |= s_line (out, "herald_gateway_token_expiries_total", NULL, self->token_expiries_total);
    rc |= s_head (out, "herald_gateway_disconnects_total", "counter", "Connections closed with 4003 by a backend disconnect.");
    rc |= s_line (out, "herald_gateway_disconnects_total", NULL, self->disconnects_total);
    rc |= s_head (out, "herald_gateway_resumes_total", "counter", "Connections welcomed, by whether history covered the gap.");
    rc |= s_line (out, "herald_gateway_resumes_total", "{recovered=\"false\"}", self->resumes_total[0]);
    rc |= s_line (out, "herald_gateway_resumes_total", "{recovered=\"true\"}", self->resumes_total[1]);
    rc |= s_head (out, "herald_gateway_welcomes_without_resume_total", "counter",
                  "Connections with no position welcomed at once on a synced stream, without asking the broker.");
    rc |= s_line (out, "herald_gateway_welcomes_without_resume_total", NULL, self->welcomes_without_resume_total);
    rc |= s_head (out, "herald_gateway_refused_total", "counter", "Connections and upgrades refused, by reason.");
    for (int i = 0; i < GW_REFUSED_LABELS; i++) {
        snprintf (labels, sizeof labels, "{reason=\"%s\"}", s_refused_names[i]);
        rc |= s_line (out, "herald_gateway_refused_total", labels, self->refused_total[i]);
    }
    rc |= s_head (out, "herald_gateway_unauthenticated", "gauge", "Connections that have not authenticated yet.");
    rc |= s_line (out, "herald_gateway_unauthenticated", NULL, self->unauthenticated);
    rc |= s_head (out, "herald_gateway_unauthenticated_evicted_total", "counter", "Unauthenticated connections closed (4008) to make room for a new one in a full --max-unauthenticated pool.");
    rc |= s_line (out, "herald_gateway_unauthenticated_evicted_total", NULL, self->unauthenticated_evicted_total);
    rc |= s_head (out, "herald_gateway_http_unanswered_total", "counter", "Connections closed before a request reached the gateway (lws's own answers to a bad %-escape or %00, header timeouts, silent peers).");
    rc |= s_line (out, "herald_gateway_http_unanswered_total", NULL, self->http_unanswered_total);
    rc |= s_head (out, "herald_gateway_accept_errors_total", "counter", "accept() failures (descriptors, memory); each pauses accepting.");
    rc |= s_line (out, "herald_gateway_accept_errors_total", NULL, self->accept_errors_total);
    rc |= s_head (out, "herald_gateway_log_lines_suppressed_total", "counter", "Log lines dropped by the rate limit.");
    rc |= s_line (out, "herald_gateway_log_lines_suppressed_total", NULL, self->log_lines_suppressed_total);
    rc |= s_head (out, "herald_gateway_tls_reloads_total", "counter", "SIGHUP reloads of the TLS certificate, by result.");
    rc |= s_line (out, "herald_gateway_tls_reloads_total", "{result=\"ok\"}", self->tls_reloads_total[1]);
    rc |= s_line (out, "herald_gateway_tls_reloads_total", "{result=\"failed\"}", self->tls_reloads_total[0]);
    rc |= s_head (out, "herald_gateway_resubscribes_total", "counter", "Subscriptions sent again because no sync came within 2 s.");
    rc |= s_line (out, "herald_gateway_resubscribes_total", NULL, self->resubscribes_total);
    rc |= s_head (out, "herald_gateway_gaps_total", "counter", "Connections repaired after events from the broker went missing, by outcome.");
    rc |= s_line (out, "herald_gateway_gaps_total", "{outcome=\"repaired\"}", self->gaps_total[GW_GAP_REPAIRED]);
    rc |= s_line (out, "herald_gateway_gaps_total", "{outcome=\"unrepaired\"}", self->gaps_total[GW_GAP_UNREPAIRED]);
    rc |= s_head (out, "herald_gateway_audits_total", "counter", "Audits of the broker link (last offsets asked for every user), by trigger.");
    for (int i = 0; i < GW_AUDIT_LABELS; i++) {
        snprintf (labels, sizeof labels, "{reason=\"%s\"}", s_audit_names[i]);
        rc |= s_line (out, "herald_gateway_audits_total", labels, self->audits_total[i]);
    }
    rc |= s_head (out, "herald_gateway_idle_closes_total", "counter", "Connections closed because nothing arrived on them for --idle-timeout.");
    rc |= s_line (out, "herald_gateway_idle_closes_total", NULL, self->idle_closes_total);
    rc |= s_head (out, "herald_gateway_pings_sent_total", "counter", "WebSocket pings sent to connections silent for half of --idle-timeout.");
    rc |= s_line (out, "herald_gateway_pings_sent_total", NULL, self->pings_sent_total);
    rc |= s_head (out, "herald_gateway_channel_subscriptions", "gauge", "Channel subscriptions held by connections (one per connection and channel).");
    rc |= s_line (out, "herald_gateway_channel_subscriptions", NULL, self->channel_subscriptions);
    rc |= s_head (out, "herald_gateway_channels", "gauge", "Channels with at least one subscribed connection here.");
    rc |= s_line (out, "herald_gateway_channels", NULL, self->channels);
    rc |= s_head (out, "herald_gateway_subscribe_refused_total", "counter", "Subscribe and unsubscribe frames refused, by reason.");
    for (int i = 0; i < GW_SUBREFUSED_LABELS; i++) {
        snprintf (labels, sizeof labels, "{reason=\"%s\"}", s_subrefused_names[i]);
        rc |= s_line (out, "herald_gateway_subscribe_refused_total", labels, self->subscribe_refused_total[i]);
    }
    rc |= s_head (out, "herald_gateway_channel_frames_total", "counter", "Channel events handed to subscribed connections (one per connection).");
    rc |= s_line (out, "herald_gateway_channel_frames_total", NULL, self->channel_frames_total);
    rc |= s_head (out, "herald_gateway_broadcast_frames_total", "counter", "Broadcasts handed to connections (one per connection).");
    rc |= s_line (out, "herald_gateway_broadcast_frames_total", NULL, self->broadcast_frames_total);
    rc |= s_render_upstream (self, out);
    rc |= s_head (out, "herald_gateway_delivery_seconds", "histogram", "Broker accept to the frame written to the client's socket, by kind (live, or replayed from history).");
    rc |= hp_latency_render (&self->delivery[GW_DELIVERY_LIVE], "herald_gateway_delivery_seconds", "kind=\"live\"", out);
    rc |= hp_latency_render (&self->delivery[GW_DELIVERY_REPLAY], "herald_gateway_delivery_seconds", "kind=\"replay\"", out);
    rc |= s_head (out, "herald_gateway_delivery_clock_skew_total", "counter", "Deliveries stamped by the broker later than this host's clock reads (clocks out of step): counted as 0 s.");
    rc |= s_line (out, "herald_gateway_delivery_clock_skew_total", NULL, self->delivery[GW_DELIVERY_LIVE].clamped + self->delivery[GW_DELIVERY_REPLAY].clamped);
    return rc ? -1 : 0;
}
