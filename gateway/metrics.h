/* metrics.h -- the gateway's counters and their Prometheus text form. */
#ifndef HERALD_GW_METRICS_H
#define HERALD_GW_METRICS_H

#include <stdint.h>

#include "auth.h"
#include "buf.h"
#include "latency.h"

/* Close codes with their own label; any other code counts as "other". */
#define GW_CLOSE_CODES(X) \
    X(1000) X(1001) X(1006) X(1008) X(1009) X(1011) X(1013) \
    X(4000) X(4001) X(4002) X(4003) X(4008)

typedef enum {
#define GW_CLOSE_ENUM(code) GW_CLOSE_##code,
    GW_CLOSE_CODES(GW_CLOSE_ENUM)
#undef GW_CLOSE_ENUM
    GW_CLOSE_OTHER,
    GW_CLOSE_LABELS
} gw_close_label_t;

/* Why an auth attempt failed; the token reasons mirror gw_auth_result_t. */
typedef enum {
    GW_AUTHFAIL_MALFORMED = 0,   /* first frame not an auth object (4000) */
    GW_AUTHFAIL_BAD_TOKEN,
    GW_AUTHFAIL_BAD_ALG,
    GW_AUTHFAIL_BAD_SUB,
    GW_AUTHFAIL_BAD_EXP,
    GW_AUTHFAIL_EXPIRED,
    GW_AUTHFAIL_TIMEOUT,         /* no auth frame in time (4008) */
    GW_AUTHFAIL_BAD_CLAIM,
    GW_AUTHFAIL_NOT_YET,
    GW_AUTHFAIL_TOO_LONG,
    GW_AUTHFAIL_BAD_AUD,
    GW_AUTHFAIL_BAD_ISS,
    GW_AUTHFAIL_CRIT,
    GW_AUTHFAIL_LABELS
} gw_authfail_t;

/* Why an event (or a reply carrying events) was not written to a client. */
typedef enum {
    GW_DROP_NO_SESSION = 0,   /* arrived for a user with no local connection */
    GW_DROP_DUPLICATE,        /* offset already delivered (resume overlap) */
    GW_DROP_MALFORMED,        /* broker message with a bad topic/header/shape */
    GW_DROP_SLOW_CONSUMER,    /* discarded with a queue that passed its bound */
    GW_DROP_CLOSED,           /* still queued when its connection closed */
    GW_DROP_STALE_REPLY,      /* a resume reply nobody waits for any more */
    GW_DROP_EPOCH_CHANGE,     /* queued during a resume the broker restart voided */
    GW_DROP_LINK_LOST,        /* queued during a resume when the broker link dropped */
    GW_DROP_NO_MEMORY,
    GW_DROP_LABELS
} gw_drop_t;

/* How a repair of a gap on the broker link ended, per connection. */
typedef enum {
    GW_GAP_REPAIRED = 0,      /* replayed from history */
    GW_GAP_UNREPAIRED,        /* history no longer reached back: welcome recovered:false */
    GW_GAP_LABELS
} gw_gap_t;

/* Why an audit of the broker link was started. */
typedef enum {
    GW_AUDIT_GAP = 0,         /* a message showed a gap: others may have lost their last events */
    GW_AUDIT_TICK,            /* a tick number jumped: messages were dropped */
    GW_AUDIT_STALL,           /* the event loop stalled (the process was stopped or starved) */
    GW_AUDIT_LINK,            /* the link dropped and came back */
    GW_AUDIT_RETRY,           /* the previous audit got no full answer in time */
    GW_AUDIT_LABELS
} gw_audit_reason_t;
/* Why a connection or WebSocket upgrade was refused before it was a session. */
typedef enum {
    GW_REFUSED_LIMIT = 0,         /* --max-connections (503) */
    GW_REFUSED_UNAUTHENTICATED,   /* --max-unauthenticated (503) */
    GW_REFUSED_PER_IP,            /* --max-connections-per-ip (503) */
    GW_REFUSED_PATH,              /* an upgrade on a path other than /ws (404) */
    GW_REFUSED_SHUTDOWN,          /* while shutting down (503) */
    GW_REFUSED_VERSION,           /* Sec-WebSocket-Version other than 13 (426) */
    GW_REFUSED_ORIGIN,            /* Origin not in --allowed-origins (403) */
    GW_REFUSED_DESCRIPTORS,       /* accepted within GW_FD_RESERVE of the descriptor limit: closed */
    GW_REFUSED_BAD_REQUEST,       /* a first line lws cannot parse (400, server.c) */
    GW_REFUSED_LABELS
} gw_refused_t;

/* Why a subscribe (or unsubscribe) frame was refused: the error frame's
 * reason (PROTOCOL.md, client protocol). */
typedef enum {
    GW_SUBREFUSED_FORBIDDEN = 0,  /* neither the channels claim nor a token allows it */
    GW_SUBREFUSED_BAD_CHANNEL,    /* no channel, or not a valid channel name */
    GW_SUBREFUSED_LIMIT,          /* --max-channels-per-connection held already */
    GW_SUBREFUSED_BAD_TOKEN,      /* the subscription token does not grant it */
    GW_SUBREFUSED_NOT_SUBSCRIBED, /* unsubscribe of a channel the connection does not hold */
    GW_SUBREFUSED_LABELS
} gw_subrefused_t;

/* The outcomes of a send frame: gw_upsend_result_t (upsend.h), ok first. */
#define GW_UPSEND_LABELS 6
/* The kind label of herald_gateway_delivery_seconds. */
typedef enum {
    GW_DELIVERY_LIVE = 0,     /* kind="live": from the broker link (held during a repair too) */
    GW_DELIVERY_REPLAY,       /* kind="replay": from a resume reply */
    GW_DELIVERY_KINDS
} gw_delivery_kind_t;

/* Plain counters, written by the module that sees the fact; transparent so
 * an increment is one instruction on the hot path. One per process, owned
 * by main's wiring. Gauges are kept up to date by their owners. */
typedef struct {
    uint64_t connections;          /* gauge: open WebSocket connections */
    uint64_t users;                /* gauge: users with a local connection */
    uint64_t queue_bytes;          /* gauge: bytes queued to clients */
    uint64_t connections_total;
    uint64_t closes_total[GW_CLOSE_LABELS];
    uint64_t auth_failures_total[GW_AUTHFAIL_LABELS];
    uint64_t events_in_total;
    uint64_t frames_out_total;
    uint64_t events_dropped_total[GW_DROP_LABELS];
    uint64_t resumes_total[2];     /* [0] recovered=false, [1] recovered=true */
    uint64_t welcomes_without_resume_total;   /* of those, fresh: no broker round trip (sub.c) */
    uint64_t refused_total[GW_REFUSED_LABELS];
    uint64_t unauthenticated;      /* gauge: connections that have not authenticated yet */
    uint64_t unauthenticated_evicted_total;   /* closed 4008 to make room in that pool */
    uint64_t http_unanswered_total; /* closed before a request reached us (lws's own answers, timeouts) */
    uint64_t accept_errors_total;  /* accept() failures (EMFILE, ENFILE, ...): accepting paused */
    uint64_t log_lines_suppressed_total; /* log lines over the per-second budget */
    uint64_t tls_reloads_total[2]; /* SIGHUP reloads of --tls-cert: [0] failed, [1] ok */
    uint64_t resubscribes_total;   /* extra subscribes sent when no sync came in time */
    uint64_t refreshes_total[2];   /* token refreshes: [0] refused, [1] accepted */
    uint64_t token_expiries_total; /* connections closed with 4002 at their token's exp */
    uint64_t gaps_total[GW_GAP_LABELS];     /* connection repairs of link gaps, by outcome */
    uint64_t audits_total[GW_AUDIT_LABELS]; /* audits of the broker link, by trigger */
    uint64_t disconnects_total;    /* connections closed with 4003 by the backend's disconnect */
    uint64_t idle_closes_total;    /* connections killed: nothing arrived for --idle-timeout */
    uint64_t pings_sent_total;     /* WebSocket pings to connections silent for half of it */
    uint64_t channel_subscriptions;    /* gauge: (connection, channel) subscriptions held */
    uint64_t channels;                 /* gauge: channels with a local subscriber */
    uint64_t subscribe_refused_total[GW_SUBREFUSED_LABELS];
    uint64_t channel_frames_total;     /* channel events handed to subscribed connections */
    uint64_t broadcast_frames_total;   /* broadcasts handed to connections */
    uint64_t broker_link_up;       /* gauge: 1 while the broker link is live (health.h) */
    /* messages from the browser (upsend.c, uplink.c) */
    uint64_t upstream_sent_total;      /* send frames handed to the broker link */
    uint64_t upstream_refused_total[GW_UPSEND_LABELS];  /* answered with an error, by reason */
    uint64_t upstream_dropped_total;   /* taken, then lost: no live broker link, its queue full */
    uint64_t upstream_batches_total;   /* batches sent to the broker */
    /* Broker accept -> frame written to the socket (delivery.c), by kind:
     * a live event, or one replayed from history (a resume or a gap's
     * repair), whose age says how long the client was away rather than how
     * fast Herald is. */
    hp_latency_t delivery[GW_DELIVERY_KINDS];
} gw_metrics_t;

/* Counts a close with the given WebSocket code. */
void gw_metrics_count_close (gw_metrics_t *self, int code);

/* The label of a subscribe refusal ("forbidden", ...), as the error frame says it. */
const char *gw_metrics_subrefused_name (gw_subrefused_t reason);

/* Maps a token check result to its auth failure label. */
gw_authfail_t gw_metrics_authfail_of (gw_auth_result_t result);

/* Appends the Prometheus text form to out. Returns 0 or -1 (out's limit). */
int gw_metrics_render (const gw_metrics_t *self, hp_buf_t *out);

/* The label of an auth failure reason ("bad_token", ...), as in /metrics. */
const char *gw_metrics_authfail_name (gw_authfail_t reason);

#endif
