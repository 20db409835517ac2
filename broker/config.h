/* config.h -- the broker's settings from flags and HERALD_* environment variables. */
#ifndef HERALD_BROKER_CONFIG_H
#define HERALD_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

/* --role: no pair (one broker), or one of a hot standby pair. */
#define HB_ROLE_NONE    0
#define HB_ROLE_PRIMARY 1
#define HB_ROLE_BACKUP  2

typedef struct {
    char   ingest[256];         /* --ingest       HERALD_INGEST */
    char   publish[256];        /* --publish      HERALD_PUBLISH */
    char   control[256];        /* --control      HERALD_CONTROL */
    char   undelivered[256];    /* --undelivered  HERALD_UNDELIVERED */
    char   upstream[256];       /* --upstream     HERALD_UPSTREAM (browsers' messages) */
    bool   upstream_given;      /* by flag or variable: a failure to bind it is fatal */
    char   http_host[128];      /* --http ADDR:PORT  HERALD_HTTP */
    int    http_port;
    size_t max_event_bytes;     /* --max-event-bytes  HERALD_MAX_EVENT_BYTES */
    size_t history_events;      /* --history-events   HERALD_HISTORY_EVENTS (per user) */
    size_t history_bytes;       /* --history-bytes    HERALD_HISTORY_BYTES (in all) */
    size_t max_online_users;    /* --max-online-users HERALD_MAX_ONLINE_USERS */
    size_t publish_hwm_bytes;   /* --publish-hwm-bytes HERALD_PUBLISH_HWM_BYTES (per gateway) */
    char   curve_cert[1024];    /* --curve-cert FILE   HERALD_CURVE_CERT ("" = no CURVE) */
    char   curve_allow[1024];   /* --curve-allow DIR   HERALD_CURVE_ALLOW */
    bool   insecure;            /* --insecure          HERALD_INSECURE: allow a non-loopback
                                   ZeroMQ endpoint without CURVE */
    size_t undelivered_bytes;   /* --undelivered-bytes HERALD_UNDELIVERED_BYTES (queued in all) */
    char   http_key_file[1024]; /* --http-key-file    HERALD_HTTP_KEY_FILE ("" = no key) */
    char   metrics_host[128];   /* --metrics ADDR:PORT HERALD_METRICS ("" = on --http) */
    int    metrics_port;
    size_t http_body_timeout;   /* --http-body-timeout HERALD_HTTP_BODY_TIMEOUT (seconds) */
    size_t http_idle_timeout;   /* --http-idle-timeout HERALD_HTTP_IDLE_TIMEOUT (seconds) */
    char   data_dir[1024];      /* --data-dir   HERALD_DATA_DIR ("" = history in memory) */
    int    fsync;               /* --fsync      HERALD_FSYNC: hb_fsync_t */
    size_t fsync_interval_ms;   /* --fsync-interval-ms HERALD_FSYNC_INTERVAL_MS (batch) */
    int    role;                /* --role primary|backup  HERALD_ROLE: HB_ROLE_* */
    char   pair_bind[256];      /* --pair-bind EP     HERALD_PAIR_BIND */
    char   pair_connect[256];   /* --pair-connect EP  HERALD_PAIR_CONNECT */
    size_t pair_timeout_ms;     /* --pair-timeout-ms  HERALD_PAIR_TIMEOUT_MS */
    size_t idempotency_window;  /* --idempotency-window S  HERALD_IDEMPOTENCY_WINDOW (0 = off) */
    size_t idempotency_bytes;   /* --idempotency-bytes N   HERALD_IDEMPOTENCY_BYTES */
    size_t max_channel_presence;   /* --max-channel-presence N HERALD_MAX_CHANNEL_PRESENCE */
    hp_log_format_t log_format; /* --log-format text|json  HERALD_LOG_FORMAT */
    hp_log_level_t log_level;   /* --log-level debug|info|warn|error  HERALD_LOG_LEVEL */
} hb_config_t;

/* Fills self from defaults, then the environment, then argv (a flag wins over
 * its variable). Returns 0 to run, 1 when --help or --version was printed, -1 on a bad
 * flag or value (the reason is printed to stderr). Refuses --curve-cert
 * without --curve-allow (or the reverse), and a ZeroMQ endpoint that is not
 * loopback (proto/curve.h) without CURVE unless insecure. */
/* The XPUB send high-water mark (messages per gateway) that keeps what a
 * stalled gateway pins within about publish_hwm_bytes: that budget divided
 * by the largest event, between 1,000 and 1,000,000 messages. */
int hb_config_publish_hwm (const hb_config_t *self);

int hb_config_load (hb_config_t *self, int argc, char **argv);

#endif
