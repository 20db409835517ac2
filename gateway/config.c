/* config.c -- herald-gateway settings from flags and HERALD_* environment variables. */
#include "config.h"
#include "envcheck.h"
#include "upsend.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GW_DEFAULT_LISTEN "127.0.0.1:7400"
#define GW_DEFAULT_BROKER "tcp://127.0.0.1:7402"
#define GW_DEFAULT_CONTROL "tcp://127.0.0.1:7403"
#define GW_DEFAULT_AUTH_TIMEOUT 10.0
#define GW_DEFAULT_MAX_QUEUE (1024 * 1024)
#define GW_DEFAULT_MAX_CONNECTIONS 100000
#define GW_DEFAULT_TOKEN_LEEWAY 5
#define GW_TOKEN_LEEWAY_MAX 300
#define GW_TOKEN_TTL_MAX (10LL * 365 * 24 * 3600)
/* herald.js pings every 25 s: two of its pings plus a margin; with the
 * sweep's second the bound is under a minute */
#define GW_DEFAULT_IDLE_TIMEOUT 55.0
#define GW_DEFAULT_MAX_UNAUTH 10000
#define GW_DEFAULT_MAX_CHANNELS 128
#define GW_MAX_CHANNELS_MAX 10000
#define GW_DEFAULT_UPSTREAM_MAX_BYTES 4096
#define GW_UPSTREAM_MAX_BYTES_MAX 16384     /* a client message is at most 8 KiB of JSON */
#define GW_DEFAULT_UPSTREAM_RATE 10.0
#define GW_DEFAULT_UPSTREAM_BURST 20
#define GW_UPSTREAM_RATE_MAX 100000

void
gw_config_usage (FILE *out)
{
    fprintf (out,
"Usage: herald-gateway [options]\n"
"\n"
"Holds browsers' WebSocket connections and delivers each user's events from\n"
"herald-broker. Every flag is also an environment variable (--max-queue-bytes\n"
"is HERALD_MAX_QUEUE_BYTES); a flag wins over its variable. HERALD_PUBLISH\n"
"and HERALD_CONTROL are the broker's addresses, the same the broker binds\n"
"(HERALD_BROKER, the old name of HERALD_PUBLISH, is still read).\n"
"\n"
"  --listen ADDR:PORT       HTTP + WebSocket address (default " GW_DEFAULT_LISTEN ")\n"
"  --broker EP              the broker's publish (XPUB) endpoint, also --publish,\n"
"                           HERALD_PUBLISH (default " GW_DEFAULT_BROKER ")\n"
"  --control EP             the broker's control (ROUTER) endpoint, HERALD_CONTROL\n"
"                           (default " GW_DEFAULT_CONTROL ")\n"
"  --secret-file PATH       read the token secret from PATH (one trailing newline\n"
"                           is ignored); else the secret is HERALD_SECRET\n"
"  --auth-timeout SECONDS   time a client has to send its auth frame (default 10)\n"
"  --max-queue-bytes N      per-connection outgoing bound; past it the connection\n"
"                           is closed with 1013 (default 1048576)\n"
"  --max-connections N      connections refused beyond this (default %d)\n"
"  --token-aud AUD          accept only tokens whose aud is (or lists) AUD; without\n"
"                           it a token carrying any aud is refused (RFC 7519)\n"
"  --token-iss ISS          accept only tokens whose iss is exactly ISS\n"
"  --token-max-ttl SECONDS  refuse tokens living longer: exp - iat, or exp - now\n"
"                           without iat (default: no bound)\n"
"  --token-leeway SECONDS   clock skew allowed on exp and nbf, 0-300 (default %d)\n"
"  --curve-cert FILE        this gateway's CURVE certificate (herald-keygen NAME\n"
"                           --role gateway; NAME.cert_secret is read too): CURVE\n"
"                           on both broker links. Needs --curve-server\n"
"  --curve-server FILE      the broker's public certificate\n"
"  --idle-timeout SECONDS   close a connection nothing arrived on (no frame, no\n"
"                           pong to the gateway's ping at half of it) for this\n"
"                           long; 0 never (default 55)\n"
"  --max-unauthenticated N  at most N connections not authenticated yet; a new\n"
"                           one closes the oldest of them (4008) (default 10000)\n"
"  --max-connections-per-ip N  upgrades refused (503) from an address (an IPv6\n"
"                           /64) holding N connections; 0 no bound (default 0:\n"
"                           behind a proxy every client has the proxy's address)\n"
"  --allowed-origins LIST   comma-separated origins (https://app.example.com)\n"
"                           whose pages may open /ws; others get 403, while\n"
"                           an upgrade without Origin (not a browser) passes\n"
"                           (default: any origin)\n"
"  --metrics ADDR:PORT      serve /metrics and /healthz there instead of on\n"
"                           --listen (which then answers them 404)\n"
"  --tls-cert FILE          PEM certificate chain: serve wss:// and https:// on\n"
"                           --listen; both files are read again on SIGHUP (open\n"
"                           connections keep theirs). Needs --tls-key\n"
"  --tls-key FILE           PEM private key of --tls-cert\n"
"  --max-channels-per-connection N  channels one connection may subscribe at\n"
"                           once, 0-10000; past it a subscribe is refused\n"
"                           (reason limit) (default %d)\n"
"  --log-format text|json   log lines as text, or one JSON object each (default\n"
"                           text); every line has an RFC 3339 UTC time and a level\n"
"  --log-level LEVEL        debug, info, warn or error: the lowest logged (default info)\n"
"  --upstream-events LIST   comma-separated event names a browser may send\n"
"                           ({\"type\":\"send\",...}) to the broker's upstream stream;\n"
"                           others are answered error \"upstream\" (default: none)\n"
"  --upstream-max-bytes N   largest data of a send, as msgpack, 1-%d; past it\n"
"                           error \"too_large\" (default %d)\n"
"  --upstream-rate N        sends per second per connection (may be a fraction);\n"
"                           past it error \"rate\", far past it 1008 (default 10)\n"
"  --upstream-burst N       sends a connection may make at once (default %d)\n"
"  -h, --help               this text\n"
"  --version                print the version and exit\n"
"\n"
"Endpoints: ws://ADDR:PORT/ws, GET /healthz, GET /metrics, GET /herald.js.\n"
"The secret is never logged. Exit status: 0 clean shutdown, 1 failure, 2 usage.\n",
    GW_DEFAULT_MAX_CONNECTIONS, GW_DEFAULT_TOKEN_LEEWAY, GW_DEFAULT_MAX_CHANNELS,
    GW_UPSTREAM_MAX_BYTES_MAX, GW_DEFAULT_UPSTREAM_MAX_BYTES, GW_DEFAULT_UPSTREAM_BURST);
}

/* Splits "host:port" (or "[v6]:port") into host and port. Returns 0 or -1. */
static int
s_split_host_port (const char *value, char *host, size_t cap, int *port_out)
{
    const char *colon = strrchr (value, ':');
    if (!colon || colon == value)
        return -1;
    const char *start = value, *stop = colon;
    if (*start == '[' && stop[-1] == ']') {
        start++;
        stop--;
    }
    if (stop <= start || (size_t) (stop - start) >= cap)
        return -1;
    char *end;
    errno = 0;
    long port = strtol (colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
        return -1;
    memcpy (host, start, (size_t) (stop - start));
    host[stop - start] = '\0';
    *port_out = (int) port;
    return 0;
}

static int
s_parse_listen (gw_config_t *cfg, const char *value)
{
    return s_split_host_port (value, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port);
}

static int
s_parse_size (const char *value, unsigned long long min, unsigned long long max,
              unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!*value || *value == '-')
        return -1;
    unsigned long long v = strtoull (value, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
s_parse_seconds (const char *value, double *out)
{
    char *end;
    errno = 0;
    double d = strtod (value, &end);
    if (errno || !*value || *end || d != d)
        return -1;
    *out = d;
    return 0;
}

/* Reads the secret, dropping one trailing "\n" or "\r\n" so that
 * `echo secret > file` works (herald-token does the same). */
static int
s_read_secret_file (gw_config_t *cfg, const char *path, FILE *err)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        fprintf (err, "herald-gateway: cannot open secret file %s: %s\n", path, strerror (errno));
        return -1;
    }
    size_t len = fread (cfg->secret, 1, sizeof cfg->secret, f);
    bool more = fgetc (f) != EOF;
    bool failed = ferror (f);
    fclose (f);
    if (failed || more) {
        fprintf (err, "herald-gateway: secret file %s is unreadable or over %d bytes\n",
                 path, GW_SECRET_MAX);
        return -1;
    }
    if (len && cfg->secret[len - 1] == '\n')
        len--;
    if (len && cfg->secret[len - 1] == '\r')
        len--;
    cfg->secret_len = len;
    return 0;
}

enum { OPT_LISTEN = 1, OPT_BROKER, OPT_CONTROL, OPT_SECRET_FILE, OPT_AUTH_TIMEOUT,
       OPT_MAX_QUEUE, OPT_MAX_CONN, OPT_TOKEN_AUD, OPT_TOKEN_ISS, OPT_TOKEN_MAX_TTL,
       OPT_TOKEN_LEEWAY, OPT_CURVE_CERT, OPT_CURVE_SERVER, OPT_IDLE_TIMEOUT,
       OPT_MAX_UNAUTH, OPT_MAX_PER_IP, OPT_ORIGINS, OPT_METRICS, OPT_TLS_CERT,
       OPT_TLS_KEY, OPT_MAX_CHANNELS, OPT_LOG_FORMAT, OPT_LOG_LEVEL, OPT_UPSTREAM_EVENTS,
       OPT_UPSTREAM_MAX_BYTES, OPT_UPSTREAM_RATE, OPT_UPSTREAM_BURST, OPT_COUNT };

static const char *s_env_names[OPT_COUNT] = {
    NULL, "HERALD_LISTEN", "HERALD_PUBLISH", "HERALD_CONTROL", "HERALD_SECRET_FILE",
    "HERALD_AUTH_TIMEOUT", "HERALD_MAX_QUEUE_BYTES", "HERALD_MAX_CONNECTIONS",
    "HERALD_TOKEN_AUD", "HERALD_TOKEN_ISS", "HERALD_TOKEN_MAX_TTL", "HERALD_TOKEN_LEEWAY",
    "HERALD_CURVE_CERT", "HERALD_CURVE_SERVER", "HERALD_IDLE_TIMEOUT",
    "HERALD_MAX_UNAUTHENTICATED", "HERALD_MAX_CONNECTIONS_PER_IP", "HERALD_ALLOWED_ORIGINS",
    "HERALD_METRICS", "HERALD_TLS_CERT", "HERALD_TLS_KEY", "HERALD_MAX_CHANNELS_PER_CONNECTION",
    "HERALD_LOG_FORMAT", "HERALD_LOG_LEVEL", "HERALD_UPSTREAM_EVENTS", "HERALD_UPSTREAM_MAX_BYTES",
    "HERALD_UPSTREAM_RATE", "HERALD_UPSTREAM_BURST"
};

static const char *s_flag_names[OPT_COUNT] = {
    NULL, "--listen", "--broker", "--control", "--secret-file", "--auth-timeout",
    "--max-queue-bytes", "--max-connections", "--token-aud", "--token-iss",
    "--token-max-ttl", "--token-leeway", "--curve-cert", "--curve-server", "--idle-timeout",
    "--max-unauthenticated", "--max-connections-per-ip", "--allowed-origins", "--metrics", "--tls-cert", "--tls-key",
    "--max-channels-per-connection", "--log-format", "--log-level", "--upstream-events",
    "--upstream-max-bytes", "--upstream-rate", "--upstream-burst"
};

/* Applies one setting; `from` names where it came from, for the error. */
static int
s_apply (gw_config_t *cfg, int opt, const char *value, const char **secret_file, FILE *err,
         const char *from)
{
    unsigned long long v;
    switch (opt) {
    case OPT_LISTEN:
        if (s_parse_listen (cfg, value) == 0)
            return 0;
        break;
    case OPT_BROKER:
        cfg->broker = value;
        return 0;
    case OPT_CONTROL:
        cfg->control = value;
        return 0;
    case OPT_SECRET_FILE:
        *secret_file = value;
        return 0;
    case OPT_AUTH_TIMEOUT: {
        double d;
        if (s_parse_seconds (value, &d) == 0 && d > 0 && d <= 3600) {
            cfg->auth_timeout = d;
            return 0;
        }
        break;
    }
    case OPT_MAX_UNAUTH:
        if (s_parse_size (value, 1, 10000000, &v) == 0) {
            cfg->max_unauthenticated = (unsigned) v;
            return 0;
        }
        break;
    case OPT_MAX_PER_IP:
        if (s_parse_size (value, 0, 10000000, &v) == 0) {
            cfg->max_connections_per_ip = (unsigned) v;
            return 0;
        }
        break;
    case OPT_ORIGINS:
        if (*value && !strchr (value, ' ')) {
            cfg->allowed_origins = value;
            return 0;
        }
        break;
    case OPT_MAX_CHANNELS:
        if (s_parse_size (value, 0, GW_MAX_CHANNELS_MAX, &v) == 0) {
            cfg->max_channels_per_connection = (unsigned) v;
            return 0;
        }
        break;
    case OPT_UPSTREAM_EVENTS:
        if (gw_upsend_events_valid (value)) {
            cfg->upstream_events = *value ? value : NULL;
            return 0;
        }
        fprintf (err, "herald-gateway: bad value '%s' for %s (comma-separated event names of "
                 "[A-Za-z0-9_.:-], 1-64 bytes each, at most %d)\n", value, from,
                 GW_UPSEND_EVENTS_MAX);
        return -1;
    case OPT_UPSTREAM_MAX_BYTES:
        if (s_parse_size (value, 1, GW_UPSTREAM_MAX_BYTES_MAX, &v) == 0) {
            cfg->upstream_max_bytes = (size_t) v;
            return 0;
        }
        break;
    case OPT_UPSTREAM_RATE: {
        double d;
        if (s_parse_seconds (value, &d) == 0 && d >= 0.01 && d <= GW_UPSTREAM_RATE_MAX) {
            cfg->upstream_rate = d;
            return 0;
        }
        break;
    }
    case OPT_UPSTREAM_BURST:
        if (s_parse_size (value, 1, GW_UPSTREAM_RATE_MAX, &v) == 0) {
            cfg->upstream_burst = (unsigned) v;
            return 0;
        }
        break;
    case OPT_TLS_CERT:
        cfg->tls_cert = value;
        return 0;
    case OPT_TLS_KEY:
        cfg->tls_key = value;
        return 0;
    case OPT_LOG_FORMAT:
        if (hp_log_parse_format (value, &cfg->log_format) == 0)
            return 0;
        fprintf (err, "herald-gateway: bad value '%s' for %s (text or json)\n", value, from);
        return -1;
    case OPT_LOG_LEVEL:
        if (hp_log_parse_level (value, &cfg->log_level) == 0)
            return 0;
        fprintf (err, "herald-gateway: bad value '%s' for %s (debug, info, warn or error)\n",
                 value, from);
        return -1;
    case OPT_METRICS: {
        char host[sizeof cfg->metrics_host];
        int port;
        if (s_split_host_port (value, host, sizeof host, &port) == 0) {
            memcpy (cfg->metrics_host, host, sizeof host);
            cfg->metrics_port = port;
            return 0;
        }
        break;
    }
    case OPT_IDLE_TIMEOUT: {
        double d;
        if (s_parse_seconds (value, &d) == 0 && d >= 0 && d <= 86400
        &&  (d == 0 || d >= 0.2)) {
            cfg->idle_timeout = d;
            return 0;
        }
        break;
    }
    case OPT_MAX_QUEUE:
        if (s_parse_size (value, 1024, (unsigned long long) 1 << 32, &v) == 0) {
            cfg->max_queue_bytes = (size_t) v;
            return 0;
        }
        break;
    case OPT_MAX_CONN:
        if (s_parse_size (value, 1, 10000000, &v) == 0) {
            cfg->max_connections = (unsigned) v;
            return 0;
        }
        break;
    case OPT_TOKEN_AUD:
        cfg->token.aud = value;
        return 0;
    case OPT_TOKEN_ISS:
        cfg->token.iss = value;
        return 0;
    case OPT_TOKEN_MAX_TTL:
        if (s_parse_size (value, 1, GW_TOKEN_TTL_MAX, &v) == 0) {
            cfg->token.max_ttl = (long) v;
            return 0;
        }
        break;
    case OPT_TOKEN_LEEWAY:
        if (s_parse_size (value, 0, GW_TOKEN_LEEWAY_MAX, &v) == 0) {
            cfg->token.leeway = (long) v;
            return 0;
        }
        break;
    case OPT_CURVE_CERT:
        cfg->curve_cert = value;
        return 0;
    case OPT_CURVE_SERVER:
        cfg->curve_server = value;
        return 0;
    default:
        break;
    }
    fprintf (err, "herald-gateway: bad value '%s' for %s\n", value, from);
    return -1;
}

gw_config_result_t
gw_config_parse (gw_config_t *cfg, int argc, char **argv, FILE *err)
{
    memset (cfg, 0, sizeof *cfg);
    s_parse_listen (cfg, GW_DEFAULT_LISTEN);
    cfg->broker = GW_DEFAULT_BROKER;
    cfg->control = GW_DEFAULT_CONTROL;
    cfg->auth_timeout = GW_DEFAULT_AUTH_TIMEOUT;
    cfg->max_queue_bytes = GW_DEFAULT_MAX_QUEUE;
    cfg->max_connections = GW_DEFAULT_MAX_CONNECTIONS;
    cfg->token.leeway = GW_DEFAULT_TOKEN_LEEWAY;
    cfg->idle_timeout = GW_DEFAULT_IDLE_TIMEOUT;
    cfg->max_unauthenticated = GW_DEFAULT_MAX_UNAUTH;
    cfg->max_channels_per_connection = GW_DEFAULT_MAX_CHANNELS;
    cfg->log_format = HP_LOG_TEXT;
    cfg->log_level = HP_LOG_INFO;
    cfg->upstream_max_bytes = GW_DEFAULT_UPSTREAM_MAX_BYTES;
    cfg->upstream_rate = GW_DEFAULT_UPSTREAM_RATE;
    cfg->upstream_burst = GW_DEFAULT_UPSTREAM_BURST;
    const char *secret_file = NULL;

    for (int opt = 1; opt < OPT_COUNT; opt++) {
        const char *value = hp_env_get (s_env_names[opt]);
        char from[96];
        snprintf (from, sizeof from, "environment variable %s (%s; fix or unset it)",
                  s_env_names[opt], s_flag_names[opt]);
        /* a flag given for it makes the variable moot, however malformed */
        bool flagged = hp_args_have_flag (argc, argv, s_flag_names[opt] + 2)
                    || (opt == OPT_BROKER && hp_args_have_flag (argc, argv, "publish"));
        if (value && !flagged && s_apply (cfg, opt, value, &secret_file, err, from) != 0)
            return GW_CONFIG_ERROR;
    }
    static const struct option options[] = {
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "broker", required_argument, NULL, OPT_BROKER },
        { "publish", required_argument, NULL, OPT_BROKER },     /* HERALD_PUBLISH's flag */
        { "control", required_argument, NULL, OPT_CONTROL },
        { "secret-file", required_argument, NULL, OPT_SECRET_FILE },
        { "auth-timeout", required_argument, NULL, OPT_AUTH_TIMEOUT },
        { "max-queue-bytes", required_argument, NULL, OPT_MAX_QUEUE },
        { "max-connections", required_argument, NULL, OPT_MAX_CONN },
        { "token-aud", required_argument, NULL, OPT_TOKEN_AUD },
        { "token-iss", required_argument, NULL, OPT_TOKEN_ISS },
        { "token-max-ttl", required_argument, NULL, OPT_TOKEN_MAX_TTL },
        { "token-leeway", required_argument, NULL, OPT_TOKEN_LEEWAY },
        { "curve-cert", required_argument, NULL, OPT_CURVE_CERT },
        { "curve-server", required_argument, NULL, OPT_CURVE_SERVER },
        { "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
        { "max-unauthenticated", required_argument, NULL, OPT_MAX_UNAUTH },
        { "max-connections-per-ip", required_argument, NULL, OPT_MAX_PER_IP },
        { "allowed-origins", required_argument, NULL, OPT_ORIGINS },
        { "metrics", required_argument, NULL, OPT_METRICS },
        { "tls-cert", required_argument, NULL, OPT_TLS_CERT },
        { "tls-key", required_argument, NULL, OPT_TLS_KEY },
        { "max-channels-per-connection", required_argument, NULL, OPT_MAX_CHANNELS },
        { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "upstream-events", required_argument, NULL, OPT_UPSTREAM_EVENTS },
        { "upstream-max-bytes", required_argument, NULL, OPT_UPSTREAM_MAX_BYTES },
        { "upstream-rate", required_argument, NULL, OPT_UPSTREAM_RATE },
        { "upstream-burst", required_argument, NULL, OPT_UPSTREAM_BURST },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        if (c == 'h')
            return GW_CONFIG_HELP;
        if (c == 'V')
            return GW_CONFIG_VERSION;
        if (c <= 0 || c >= OPT_COUNT) {
            fprintf (err, "herald-gateway: unknown or incomplete option '%s' (see --help)\n",
                     argv[optind - 1]);
            return GW_CONFIG_ERROR;
        }
        if (s_apply (cfg, c, optarg, &secret_file, err, s_flag_names[c]) != 0)
            return GW_CONFIG_ERROR;
    }
    if (optind < argc) {
        fprintf (err, "herald-gateway: unexpected argument '%s' (see --help)\n", argv[optind]);
        return GW_CONFIG_ERROR;
    }
    if (!cfg->tls_cert != !cfg->tls_key) {
        fprintf (err, "herald-gateway: --tls-cert and --tls-key go together\n");
        return GW_CONFIG_ERROR;
    }
    if (!cfg->curve_cert != !cfg->curve_server) {
        fprintf (err, "herald-gateway: --curve-cert and --curve-server go together (this "
                 "gateway's key and the broker's public key)\n");
        return GW_CONFIG_ERROR;
    }
    if (secret_file) {
        if (s_read_secret_file (cfg, secret_file, err) != 0)
            return GW_CONFIG_ERROR;
    }
    else {
        const char *secret = getenv ("HERALD_SECRET");
        size_t len = secret ? strlen (secret) : 0;
        if (len > GW_SECRET_MAX) {
            fprintf (err, "herald-gateway: HERALD_SECRET is over %d bytes\n", GW_SECRET_MAX);
            return GW_CONFIG_ERROR;
        }
        if (len)
            memcpy (cfg->secret, secret, len);
        cfg->secret_len = len;
    }
    if (cfg->secret_len == 0) {
        fprintf (err, "herald-gateway: no token secret: set HERALD_SECRET or --secret-file\n");
        return GW_CONFIG_ERROR;
    }
    return GW_CONFIG_RUN;
}

void
gw_config_clear (gw_config_t *cfg)
{
    /* volatile so the compiler keeps the wipe of memory about to die */
    volatile unsigned char *p = cfg->secret;
    for (size_t i = 0; i < sizeof cfg->secret; i++)
        p[i] = 0;
    cfg->secret_len = 0;
}
