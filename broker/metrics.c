/* metrics.c -- the broker's counters and their Prometheus / stats renderings. */
#include "metrics.h"
#include "confirm.h"
#include "upstream_out.h"
#include "version.h"
#include "zap.h"

#include <stdio.h>
#include <string.h>

/* One sample: family name, optional label text ("reason=\"x\""), value. */
typedef void (s_sample_fn) (void *arg, const char *name, const char *type,
                            const char *help, const char *labels, uint64_t value);

/* One sample per broker socket, labelled socket="...". */
static void
s_per_socket (s_sample_fn *fn, void *arg, const char *name, const char *help,
              const uint64_t values[HB_AUTH_SOCKETS])
{
    char labels[64];
    for (int k = 0; k < HB_AUTH_SOCKETS; k++) {
        snprintf (labels, sizeof labels, "socket=\"%s\"", hb_zap_socket_name ((hb_zap_socket_t) k));
        fn (arg, name, "counter", help, labels, values[k]);
    }
}

/* Walks every sample once, in family order, so Prometheus text and the stats
 * map can never disagree about names. */
static void
s_each (const hb_metrics_t *m, const hb_gauges_t *g, s_sample_fn *fn, void *arg)
{
    char labels[64];
    fn (arg, "herald_broker_events_received_total", "counter",
        "Envelopes read from the ingest socket and HTTP.", NULL, m->events_received);
    fn (arg, "herald_broker_events_accepted_total", "counter",
        "Envelopes that passed validation and got an offset.", NULL, m->events_accepted);
    for (int r = 1; r < HP_ENV_ERROR_COUNT; r++) {
        snprintf (labels, sizeof labels, "reason=\"%s\"", hp_env_error_name ((hp_env_error_t) r));
        fn (arg, "herald_broker_events_rejected_total", "counter",
            "Envelopes dropped, by reason.", labels, m->rejected[r]);
    }
    fn (arg, "herald_broker_messages_published_total", "counter",
        "Event messages handed to the publish socket (one per online recipient).",
        NULL, m->messages_published);
    fn (arg, "herald_broker_undelivered_sent_total", "counter",
        "Undelivered notices sent to fallback workers.", NULL, m->undelivered_sent);
    fn (arg, "herald_broker_undelivered_dropped_total", "counter",
        "Undelivered notices dropped (no worker, its queue full, or the byte bound).",
        NULL, m->undelivered_dropped);
    fn (arg, "herald_broker_undelivered_over_bytes_total", "counter",
        "Undelivered notices dropped because --undelivered-bytes were already queued.",
        NULL, m->undelivered_over_bytes);
    fn (arg, "herald_broker_undelivered_bytes", "gauge",
        "Bytes of undelivered notices queued for workers.", NULL, g->undelivered_bytes);
    fn (arg, "herald_broker_users_online", "gauge",
        "Users whose topic is subscribed by some gateway.", NULL, g->users_online);
    fn (arg, "herald_broker_presence_refused_total", "counter",
        "Subscriptions not recorded because the presence set was full.", NULL, g->presence_refused);
    fn (arg, "herald_broker_presence_overflow_users", "gauge",
        "Refused users still subscribed; while above 0 events go to offline users too.",
        NULL, g->presence_overflow);
    fn (arg, "herald_broker_subscriptions_invalid_total", "counter",
        "Subscription messages that are no known topic or a malformed audit request (ignored).",
        NULL, m->subscriptions_invalid);
    fn (arg, "herald_broker_channel_events_total", "counter",
        "Channel events routed (stored; published while some gateway subscribes the channel).",
        NULL, m->channel_events);
    fn (arg, "herald_broker_broadcasts_total", "counter",
        "Broadcasts routed (stored and published on the broadcast topic).", NULL, m->broadcasts);
    fn (arg, "herald_broker_channel_subscriptions", "gauge",
        "Channel topics subscribed by some gateway.", NULL, g->channels_subscribed);
    fn (arg, "herald_broker_channel_presence_entries", "gauge",
        "(connection, channel) presence entries held, from the gateways' p: topics.",
        NULL, g->channel_presence);
    fn (arg, "herald_broker_channel_presence_refused_total", "counter",
        "Presence topics not recorded because --max-channel-presence entries were held.",
        NULL, g->channel_presence_refused);
    fn (arg, "herald_broker_channel_presence_overflow", "gauge",
        "Refused presence topics still subscribed; while above 0 channel presence answers "
        "exact:false.", NULL, g->channel_presence_overflow);
    fn (arg, "herald_broker_history_events", "gauge",
        "Events held in history.", NULL, g->history_events);
    fn (arg, "herald_broker_history_bytes", "gauge",
        "Bytes held by history (frames and bookkeeping).", NULL, g->history_bytes);
    fn (arg, "herald_broker_history_users", "gauge",
        "Stream records held by history (users, channels, the broadcast stream).",
        NULL, g->history_users);
    static const char *reasons[] = { "count", "bytes", "ttl" };
    uint64_t evicted[] = { g->evicted_count, g->evicted_bytes, g->evicted_ttl };
    for (int r = 0; r < 3; r++) {
        snprintf (labels, sizeof labels, "reason=\"%s\"", reasons[r]);
        fn (arg, "herald_broker_history_evicted_total", "counter",
            "Per-recipient events that left history before a resume asked, by reason.",
            labels, evicted[r]);
    }
    fn (arg, "herald_broker_history_store_failures_total", "counter",
        "Events not stored in history for lack of memory.", NULL, m->history_store_failures);
    fn (arg, "herald_broker_resumes_total", "counter",
        "Resume requests, by whether the history was complete.",
        "recovered=\"true\"", m->resumes_recovered);
    fn (arg, "herald_broker_resumes_total", "counter", NULL,
        "recovered=\"false\"", m->resumes_unrecovered);
    fn (arg, "herald_broker_control_requests_total", "counter",
        "Requests on the control socket.", NULL, m->control_requests);
    fn (arg, "herald_broker_control_errors_total", "counter",
        "Control requests answered with an error.", NULL, m->control_errors);
    for (int i = 0; i < HB_HTTP_CODES_MAX && m->http[i].code; i++) {
        snprintf (labels, sizeof labels, "code=\"%d\"", m->http[i].code);
        fn (arg, "herald_broker_http_requests_total", "counter",
            "HTTP requests answered, by status code.", labels, m->http[i].count);
    }
    if (m->http_other)
        fn (arg, "herald_broker_http_requests_total", "counter",
            "HTTP requests answered, by status code.", "code=\"other\"", m->http_other);
    for (int k = 0; k < HB_AUTH_SOCKETS; k++)
        for (int r = 0; r < HB_AUTH_REASONS; r++) {
            snprintf (labels, sizeof labels, "socket=\"%s\",reason=\"%s\"",
                      hb_zap_socket_name ((hb_zap_socket_t) k),
                      hb_zap_reason_name ((hb_zap_reason_t) r));
            fn (arg, "herald_broker_auth_refused_total", "counter",
                "ZeroMQ connections refused by CURVE/ZAP, by socket and reason.",
                labels, m->auth_refused[k][r]);
        }
    s_per_socket (fn, arg, "herald_broker_auth_accepted_total",
                  "ZeroMQ connections admitted by ZAP, by socket.", m->auth_accepted);
    fn (arg, "herald_broker_disconnects_total", "counter",
        "Control disconnect requests published to the gateways.", NULL, m->disconnects);
    fn (arg, "herald_broker_control_forbidden_total", "counter",
        "Control requests refused because the peer's role may not make them.",
        NULL, m->control_forbidden);
    fn (arg, "herald_broker_curve_certificates", "gauge",
        "Certificates loaded from --curve-allow.", NULL, m->curve_certificates);
    fn (arg, "herald_broker_curve_revocations_total", "counter",
        "Keys that a reload of --curve-allow removed or took a role from.",
        NULL, m->curve_revocations);
    s_per_socket (fn, arg, "herald_broker_revoked_messages_total",
                  "Messages dropped (control: refused) because their connection's key is no "
                  "longer allowed, by socket.", m->revoked_messages);
    fn (arg, "herald_broker_http_unanswered_total", "counter",
        "HTTP connections closed without an answer from the broker (libwebsockets' own "
        "refusals, timeouts, peers that sent nothing).", NULL, m->http_unanswered);
    fn (arg, "herald_broker_http_accept_failures_total", "counter",
        "Failed accepts on the HTTP listeners (descriptors exhausted), each followed by a pause.",
        NULL, m->http_accept_failures);
    fn (arg, "herald_broker_http_batch_lines_total", "counter",
        "POST /batch lines handed to the router (counted there as any envelope), or refused "
        "before it (not JSON, not an object, too deep or too large).", "outcome=\"routed\"",
        m->http_batch_lines[HB_HTTP_BATCH_ROUTED]);
    fn (arg, "herald_broker_http_batch_lines_total", "counter", NULL, "outcome=\"unparsed\"",
        m->http_batch_lines[HB_HTTP_BATCH_UNPARSED]);
    fn (arg, "herald_broker_duplicates_total", "counter",
        "Envelopes not routed again: their idempotency key was accepted within the window.",
        NULL, m->duplicates);
    fn (arg, "herald_broker_idempotency_keys", "gauge",
        "Idempotency keys held (accepted within --idempotency-window).", NULL, g->idem_keys);
    fn (arg, "herald_broker_idempotency_bytes", "gauge",
        "Bytes the idempotency keys take, as bounded by --idempotency-bytes.", NULL, g->idem_bytes);
    fn (arg, "herald_broker_idempotency_evicted_total", "counter",
        "Idempotency keys dropped before their window ended (--idempotency-bytes full).",
        NULL, g->idem_evicted);
    fn (arg, "herald_broker_confirms_total", "counter",
        "Control publishes answered with their offset once committed and replicated.",
        NULL, m->confirms);
    for (int r = 0; r < HB_CONFIRM_REASONS; r++) {
        snprintf (labels, sizeof labels, "reason=\"%s\"", hb_confirm_reason_name (r));
        fn (arg, "herald_broker_confirms_refused_total", "counter",
            "Control publishes answered with an error, by reason.", labels,
            m->confirms_refused[r]);
    }
    s_per_socket (fn, arg, "herald_broker_zmq_accept_failures_total",
                  "Failed accepts on a ZeroMQ listener, by socket (EMFILE/ENFILE: descriptors "
                  "exhausted).", m->zmq_accept_failures);
    s_per_socket (fn, arg, "herald_broker_zmq_connections_shed_total",
                  "Connections waiting on a ZeroMQ listener that were closed unaccepted because "
                  "descriptors had run out, by socket.", m->zmq_connections_shed);
    fn (arg, "herald_broker_offset", "gauge",
        "The latest offset given to an event.", NULL, g->offset);
    fn (arg, "herald_broker_store_commits_total", "counter",
        "Transactions committed to the --data-dir store.", NULL, g->store_commits);
    fn (arg, "herald_broker_store_syncs_total", "counter",
        "Syncs of the --data-dir store to disk (per commit under --fsync always).",
        NULL, g->store_syncs);
    fn (arg, "herald_broker_store_failures_total", "counter",
        "Store operations that failed (writes, commits, syncs, unreadable records).",
        NULL, g->store_failures);
    fn (arg, "herald_broker_store_bytes", "gauge",
        "Bytes of the --data-dir store's file in use (its pages up to the last).",
        NULL, g->store_bytes);
    fn (arg, "herald_broker_upstream_received_total", "counter",
        "Messages from browsers received in gateways' batches.", NULL, m->upstream_received);
    fn (arg, "herald_broker_upstream_pushed_total", "counter",
        "Messages from browsers pushed to consumers on --upstream.", NULL, m->upstream_pushed);
    for (int r = 0; r < HB_UPSTREAM_DROP_REASONS; r++) {
        snprintf (labels, sizeof labels, "reason=\"%s\"", hb_upstream_reason_name (r));
        fn (arg, "herald_broker_upstream_dropped_total", "counter",
            "Messages from browsers not pushed, by reason (no_consumer: none connected or its "
            "queue full).", labels, m->upstream_dropped[r]);
    }
    if (!g->pair_state)
        return;
    fn (arg, "herald_broker_pair_state", "gauge",
        "This broker's state in its pair: 1 primary (starting), 2 backup (starting), 3 active, "
        "4 passive.", NULL, g->pair_state);
    fn (arg, "herald_broker_pair_peer_state", "gauge",
        "The partner's state as it last reported it (same values); 0 when not heard within "
        "--pair-timeout-ms.", NULL, g->pair_peer_state);
    fn (arg, "herald_broker_pair_lag_events", "gauge",
        "Offsets given that the passive partner has not acknowledged yet.", NULL, g->pair_lag);
    fn (arg, "herald_broker_pair_takeovers_total", "counter",
        "Times this broker went from passive to active.", NULL, g->pair_takeovers);
    fn (arg, "herald_broker_pair_events_sent_total", "counter",
        "Accepted events sent to the passive partner.", NULL, g->pair_sent);
    fn (arg, "herald_broker_pair_events_copied_total", "counter",
        "Events stored from the active partner while passive.", NULL, g->pair_copied);
    fn (arg, "herald_broker_pair_ack_timeouts_total", "counter",
        "Batches the passive did not acknowledge in time (the active then served without "
        "waiting until it caught up).", NULL, g->pair_ack_timeouts);
    fn (arg, "herald_broker_pair_copy_restarts_total", "counter",
        "Times the passive started its copy over after missing events.", NULL,
        g->pair_copy_restarts);
    fn (arg, "herald_broker_pair_catchup_state", "gauge",
        "The passive's catch-up (the active's history sent before its live batches): 0 none, "
        "1 running, 2 done (on the active: the passive acknowledged the last chunk).", NULL,
        g->pair_catchup_state);
    fn (arg, "herald_broker_pair_catchup_events_total", "counter",
        "History events sent in catch-up chunks (active) or stored from them (passive).", NULL,
        g->pair_catchup_events);
    fn (arg, "herald_broker_pair_catchup_bytes_total", "counter",
        "Bytes of catch-up chunks sent (active) or read (passive).", NULL, g->pair_catchup_bytes);
    fn (arg, "herald_broker_pair_catchup_keys_total", "counter",
        "Idempotency keys a catch-up carried: sent (active) or learned (passive).", NULL,
        g->pair_catchup_keys);
    fn (arg, "herald_broker_pair_catchup_completed_total", "counter",
        "Catch-ups finished.", NULL, g->pair_catchup_completed);
    fn (arg, "herald_broker_pair_catchup_aborted_total", "counter",
        "Catch-ups started over (no ack in time, history left faster than it was sent, a "
        "malformed chunk).", NULL, g->pair_catchup_aborted);
    fn (arg, "herald_broker_pair_catchup_refused_total", "counter",
        "Malformed catch-up chunks the passive dropped.", NULL, g->pair_catchup_refused);
}

void
hb_metrics_http_code (hb_metrics_t *self, int code)
{
    for (int i = 0; i < HB_HTTP_CODES_MAX; i++) {
        if (self->http[i].code == code || self->http[i].code == 0) {
            self->http[i].code = code;
            self->http[i].count++;
            return;
        }
    }
    self->http_other++;
}

typedef struct {
    hp_buf_t   *out;
    const char *last_family;
    int         rc;
} s_text_t;

static void
s_text_sample (void *arg, const char *name, const char *type, const char *help,
               const char *labels, uint64_t value)
{
    s_text_t *t = arg;
    if (!t->last_family || strcmp (t->last_family, name) != 0) {
        if (help)
            t->rc |= hp_buf_puts (t->out, "# HELP ") | hp_buf_puts (t->out, name)
                   | hp_buf_putc (t->out, ' ') | hp_buf_puts (t->out, help)
                   | hp_buf_putc (t->out, '\n');
        t->rc |= hp_buf_puts (t->out, "# TYPE ") | hp_buf_puts (t->out, name)
               | hp_buf_putc (t->out, ' ') | hp_buf_puts (t->out, type)
               | hp_buf_putc (t->out, '\n');
        t->last_family = name;
    }
    t->rc |= hp_buf_puts (t->out, name);
    if (labels)
        t->rc |= hp_buf_putc (t->out, '{') | hp_buf_puts (t->out, labels) | hp_buf_putc (t->out, '}');
    t->rc |= hp_buf_putc (t->out, ' ') | hp_buf_put_u64 (t->out, value) | hp_buf_putc (t->out, '\n');
}

int
hb_metrics_render (const hb_metrics_t *self, const hb_gauges_t *gauges, hp_buf_t *out)
{
    s_text_t t = { out, NULL, 0 };
    char info[256];
    int n = hp_version_metric (info, sizeof info);
    if (n < 0 || hp_buf_append (out, info, (size_t) n) != 0)
        return -1;
    s_each (self, gauges, s_text_sample, &t);
    t.rc |= hp_buf_puts (out, "# HELP herald_broker_route_seconds Accept to publish of events "
                              "some gateway subscribes (the store's commit and the pair's ack "
                              "lie in between).\n"
                              "# TYPE herald_broker_route_seconds histogram\n");
    t.rc |= hp_latency_render (&self->route, "herald_broker_route_seconds", NULL, out);
    return t.rc ? -1 : 0;
}

typedef struct {
    msgpack_packer *pk;
    size_t          count;
} s_pack_t;

static void
s_count_sample (void *arg, const char *name, const char *type, const char *help,
                const char *labels, uint64_t value)
{
    ((s_pack_t *) arg)->count++;
}

static void
s_pack_sample (void *arg, const char *name, const char *type, const char *help,
               const char *labels, uint64_t value)
{
    msgpack_packer *pk = ((s_pack_t *) arg)->pk;
    char key[160];
    int n = labels ? snprintf (key, sizeof key, "%s{%s}", name, labels)
                   : snprintf (key, sizeof key, "%s", name);
    if (n < 0 || (size_t) n >= sizeof key)
        n = (int) strlen (key);
    msgpack_pack_str (pk, (size_t) n);
    msgpack_pack_str_body (pk, key, (size_t) n);
    msgpack_pack_uint64 (pk, value);
}

void
hb_metrics_pack (const hb_metrics_t *self, const hb_gauges_t *gauges, msgpack_packer *pk)
{
    s_pack_t p = { pk, 0 };
    s_each (self, gauges, s_count_sample, &p);
    msgpack_pack_map (pk, p.count);
    s_each (self, gauges, s_pack_sample, &p);
}
