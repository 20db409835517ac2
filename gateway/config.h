/* config.h -- herald-gateway settings from flags and HERALD_* environment variables. */
#ifndef HERALD_GW_CONFIG_H
#define HERALD_GW_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "auth.h"
#include "log.h"

#define GW_SECRET_MAX 4096

/* A plain record of settings, filled once at start and read-only after, so
 * it is transparent rather than opaque. Strings point into argv/environ or
 * into `secret`, which the record owns. */
typedef struct {
    char   listen_host[64];     /* --listen host part */
    int    listen_port;         /* --listen port part */
    const char *broker;         /* --broker: the broker's XPUB endpoint */
    const char *control;        /* --control: the broker's ROUTER endpoint */
    double auth_timeout;        /* --auth-timeout seconds */
    size_t max_queue_bytes;     /* --max-queue-bytes per connection */
    unsigned max_connections;   /* --max-connections */
    gw_auth_policy_t token;     /* --token-aud, --token-iss, --token-max-ttl, --token-leeway */
    const char *curve_cert;     /* --curve-cert: this gateway's certificate (NULL: no CURVE) */
    const char *curve_server;   /* --curve-server: the broker's public certificate */
    double idle_timeout;        /* --idle-timeout seconds; 0: never */
    unsigned max_unauthenticated;       /* --max-unauthenticated */
    unsigned max_connections_per_ip;    /* --max-connections-per-ip, 0: no bound */
    const char *allowed_origins;        /* --allowed-origins, comma-separated; NULL: any */
    char   metrics_host[64];            /* --metrics host part; "" when not given */
    int    metrics_port;
    const char *tls_cert;               /* --tls-cert, or NULL: plain ws:// */
    const char *tls_key;                /* --tls-key */
    unsigned max_channels_per_connection;   /* --max-channels-per-connection */
    hp_log_format_t log_format;         /* --log-format text|json */
    hp_log_level_t log_level;           /* --log-level debug|info|warn|error */
    const char *upstream_events;        /* --upstream-events, comma-separated; NULL: none */
    size_t upstream_max_bytes;          /* --upstream-max-bytes: a send's data, as msgpack */
    double upstream_rate;               /* --upstream-rate: sends per second per connection */
    unsigned upstream_burst;            /* --upstream-burst */
    unsigned char secret[GW_SECRET_MAX];
    size_t secret_len;
} gw_config_t;

/* Outcome of parsing: run, print help and exit 0, or exit 2 (bad usage). */
typedef enum { GW_CONFIG_RUN, GW_CONFIG_HELP, GW_CONFIG_VERSION, GW_CONFIG_ERROR } gw_config_result_t;

/* Fills cfg from defaults, then HERALD_<NAME> variables, then flags (a flag
 * wins). Errors are printed to err once; the secret is never printed. A
 * missing secret is an error. */
gw_config_result_t gw_config_parse (gw_config_t *cfg, int argc, char **argv, FILE *err);

/* Writes the --help text. */
void gw_config_usage (FILE *out);

/* Wipes the secret from memory. */
void gw_config_clear (gw_config_t *cfg);

#endif
