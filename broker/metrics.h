/* metrics.h -- the broker's counters and their Prometheus / stats renderings. */
#ifndef HERALD_BROKER_METRICS_H
#define HERALD_BROKER_METRICS_H

#include <stdint.h>
#include <msgpack.h>
#include "buf.h"
#include "envelope.h"
#include "latency.h"

#define HB_HTTP_CODES_MAX 8
#define HB_AUTH_SOCKETS 6     /* hb_zap_socket_t (zap.h) */
#define HB_AUTH_REASONS 3     /* hb_zap_reason_t (zap.h) */
#define HB_CONFIRM_REASONS 3  /* hb_confirm_reason_t (confirm.h) */
#define HB_UPSTREAM_DROP_REASONS 3   /* hb_upstream_reason_t (upstream_out.h) */

/* POST /batch lines: handed to the router (which counts them as any
 * envelope), or refused by the HTTP side before it (not JSON, ...). */
enum { HB_HTTP_BATCH_ROUTED, HB_HTTP_BATCH_UNPARSED, HB_HTTP_BATCH_OUTCOMES };

/* Transparent on purpose: the modules that own an event bump a field
 * directly. Only the main thread touches it (the HTTP thread asks the main
 * thread for the rendering and reports its status codes to it). */
typedef struct {
    uint64_t events_received;
    uint64_t events_accepted;
    uint64_t rejected[HP_ENV_ERROR_COUNT];     /* by hp_env_error_t */
    uint64_t messages_published;
    uint64_t undelivered_sent;
    uint64_t undelivered_dropped;
    uint64_t undelivered_over_bytes;           /* of those, past --undelivered-bytes */
    uint64_t resumes_recovered;
    uint64_t resumes_unrecovered;
    uint64_t control_requests;
    uint64_t control_errors;
    uint64_t subscriptions_invalid;            /* XPUB topics that are not users */
    uint64_t history_store_failures;           /* out of memory storing history */
    struct { int code; uint64_t count; } http[HB_HTTP_CODES_MAX];
    uint64_t http_other;                       /* codes past the table */
    uint64_t http_unanswered;                  /* connections closed with no answer of ours */
    uint64_t http_accept_failures;             /* accept() failures (each a back-off) */
    uint64_t http_batch_lines[HB_HTTP_BATCH_OUTCOMES];   /* POST /batch lines, by outcome */
    uint64_t auth_refused[HB_AUTH_SOCKETS][HB_AUTH_REASONS];  /* CURVE/ZAP refusals */
    uint64_t auth_accepted[HB_AUTH_SOCKETS];   /* connections ZAP admitted */
    uint64_t disconnects;                      /* control disconnects published */
    uint64_t control_forbidden;                /* control ops the peer's role may not use */
    uint64_t curve_certificates;               /* gauge: keys in --curve-allow */
    uint64_t duplicates;                       /* envelopes not routed again (idempotency key) */
    uint64_t confirms;                         /* control publishes answered with an offset */
    uint64_t confirms_refused[HB_CONFIRM_REASONS];   /* ... refused, by hb_confirm_reason_t */
    uint64_t curve_revocations;                /* keys removed (or a role) by a reload */
    uint64_t revoked_messages[HB_AUTH_SOCKETS]; /* from connections whose key was removed */
    uint64_t zmq_accept_failures[HB_AUTH_SOCKETS];   /* failed accepts, by socket (sockmon.c) */
    uint64_t zmq_connections_shed[HB_AUTH_SOCKETS];  /* closed unaccepted: no descriptors */
    uint64_t channel_events;                   /* channel events routed (stored, published if subscribed) */
    uint64_t broadcasts;                       /* broadcasts routed */
    uint64_t upstream_received;                /* records in gateways' batches (browsers' sends) */
    uint64_t upstream_pushed;                  /* ... pushed on --upstream */
    uint64_t upstream_dropped[HB_UPSTREAM_DROP_REASONS];   /* ... not, by hb_upstream_reason_t */
    hp_latency_t route;                        /* accept -> published (router.c) */
} hb_metrics_t;

/* Values owned by other modules, sampled when rendering. */
typedef struct {
    uint64_t users_online;
    uint64_t presence_refused;
    uint64_t presence_overflow;    /* refused users still subscribed */
    uint64_t undelivered_bytes;    /* notices queued, bytes */
    uint64_t history_events;
    uint64_t history_bytes;
    uint64_t history_users;
    uint64_t evicted_count, evicted_bytes, evicted_ttl;
    uint64_t offset;
    uint64_t store_commits, store_failures, store_syncs, store_bytes;   /* --data-dir */
    uint64_t pair_state, pair_peer_state, pair_lag;                      /* --role */
    uint64_t pair_takeovers, pair_sent, pair_copied, pair_ack_timeouts, pair_copy_restarts;
    uint64_t pair_catchup_state, pair_catchup_events, pair_catchup_bytes;  /* pair_catchup.h */
    uint64_t pair_catchup_completed, pair_catchup_aborted, pair_catchup_refused;
    uint64_t pair_catchup_keys;
    uint64_t idem_keys, idem_bytes, idem_evicted;                        /* idempotency.h */
    uint64_t channels_subscribed;  /* channel topics some gateway subscribes */
    uint64_t channel_presence;     /* (connection, channel) presence entries held */
    uint64_t channel_presence_overflow;   /* refused entries still subscribed */
    uint64_t channel_presence_refused;    /* p: subscribes refused (bound or memory) */
} hb_gauges_t;

/* Counts one HTTP answer. */
void hb_metrics_http_code (hb_metrics_t *self, int code);

/* Appends the Prometheus text exposition. Returns 0 or -1 (out's limit). */
int hb_metrics_render (const hb_metrics_t *self, const hb_gauges_t *gauges, hp_buf_t *out);

/* Packs the same samples as a msgpack map of "name{labels}" -> integer
 * (the control socket's stats reply); histograms (herald_broker_route_seconds)
 * are in the Prometheus text only. */
void hb_metrics_pack (const hb_metrics_t *self, const hb_gauges_t *gauges, msgpack_packer *pk);

#endif
