/* config.c -- the broker's settings from flags and HERALD_* environment variables. */
#include "config.h"
#include "curve.h"
#include "envelope.h"
#include "envcheck.h"
#include "store_lmdb.h"
#include "version.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { S_ENDPOINT, S_HOSTPORT, S_SIZE, S_PATH, S_BOOL, S_FSYNC, S_WORD } s_kind_t;

typedef struct {
    const char *flag;
    s_kind_t    kind;
    size_t      min, max;       /* S_SIZE bounds */
    const char *help;
} s_option_t;

static const s_option_t s_options[] = {
    { "ingest",           S_ENDPOINT, 0, 0, "ZeroMQ PULL endpoint producers push to (bind)" },
    { "publish",          S_ENDPOINT, 0, 0, "ZeroMQ XPUB endpoint gateways subscribe to (bind)" },
    { "control",          S_ENDPOINT, 0, 0, "ZeroMQ ROUTER endpoint for presence/resume/stats (bind)" },
    { "undelivered",      S_ENDPOINT, 0, 0, "ZeroMQ PUSH endpoint for fallback workers (bind)" },
    { "http",             S_HOSTPORT, 0, 0, "ADDR:PORT of the HTTP server (/message, /channel, /broadcast, /metrics, /healthz)" },
    { "max-event-bytes",  S_SIZE, 64, 64u << 20, "largest envelope accepted, bytes" },
    { "history-events",   S_SIZE, 1, 1u << 20, "events kept per user for resume" },
    { "history-bytes",    S_SIZE, 0, (size_t) 1 << 40, "bytes of history kept in all" },
    { "max-online-users", S_SIZE, 1, (size_t) 1 << 32, "bound of the presence set" },
    { "curve-cert",       S_PATH, 0, 0, "this broker's CURVE certificate (herald-keygen); CURVE on every ZeroMQ socket" },
    { "curve-allow",      S_PATH, 0, 0, "directory of the public certificates allowed to connect (with their role)" },
    { "insecure",         S_BOOL, 0, 0, "allow binding a non-loopback ZeroMQ endpoint without CURVE, or --http without --http-key-file" },
    { "publish-hwm-bytes", S_SIZE, 1u << 20, (size_t) 1 << 40,
      "bytes of events queued per gateway before the broker drops (SNDHWM = N / max-event-bytes)" },
    { "undelivered-bytes", S_SIZE, 1024, (size_t) 1 << 40,
      "bytes of undelivered notices queued in all; past it they are dropped and counted" },
    { "http-key-file",    S_PATH, 0, 0,
      "file holding the key POST /message, /channel and /broadcast require as 'Authorization: Bearer <key>'" },
    { "metrics",          S_HOSTPORT, 0, 0,
      "ADDR:PORT of a listener of its own for /metrics and /healthz (default: on --http)" },
    { "http-body-timeout", S_SIZE, 1, 3600, "seconds a request's headers and body may take" },
    { "http-idle-timeout", S_SIZE, 1, 3600, "seconds an idle keep-alive HTTP connection is kept" },
    { "data-dir",         S_PATH, 0, 0, "keep epoch, offsets, history and idempotency keys in this directory (LMDB)" },
    { "fsync",            S_FSYNC, 0, 0, "with --data-dir: always|batch|none (broker/README.md)" },
    { "fsync-interval-ms", S_SIZE, 1, 60000, "--fsync batch: the longest a commit waits for its sync" },
    { "role",             S_PATH, 0, 0, "primary|backup: run as one of a hot standby pair (with --pair-bind/--pair-connect)" },
    { "pair-bind",        S_ENDPOINT, 0, 0, "ZeroMQ endpoint this broker's partner connects to (bind)" },
    { "pair-connect",     S_ENDPOINT, 0, 0, "the partner's --pair-bind endpoint (connect)" },
    { "pair-timeout-ms",  S_SIZE, 200, 600000, "the partner counts as gone after this long without a word" },
    { "idempotency-window", S_SIZE, 0, 86400,
      "seconds an accepted idempotency_key keeps its event from being routed again (0: off)" },
    { "idempotency-bytes", S_SIZE, 4096, (size_t) 1 << 40,
      "bytes the idempotency keys may take; past it the oldest leave early (counted)" },
    { "max-channel-presence", S_SIZE, 1, (size_t) 1 << 32,
      "(connection, channel) presence entries kept; past it refused (counted) and answers not exact" },
    { "log-format",       S_WORD, 0, 0, "text|json: log lines as text, or one JSON object each" },
    { "log-level",        S_WORD, 0, 0, "debug|info|warn|error: the lowest level logged" },
    { "upstream",         S_ENDPOINT, 0, 0, "ZeroMQ PUSH endpoint for messages from browsers (bind)" },
};
#define S_OPTION_COUNT (sizeof s_options / sizeof s_options[0])

static void
s_usage (FILE *out, const hb_config_t *d)
{
    fprintf (out,
        "usage: herald-broker [options]\n"
        "Each option is also an environment variable (--history-events is\n"
        "HERALD_HISTORY_EVENTS); a flag wins over its variable.\n\n"
        "  --ingest EP            %s (default %s)\n"
        "  --publish EP           %s (default %s)\n"
        "  --control EP           %s (default %s)\n"
        "  --undelivered EP       %s (default %s)\n"
        "  --upstream EP          %s (default %s)\n"
        "  --http ADDR:PORT       %s (default %s:%d)\n"
        "  --max-event-bytes N    %s (default %zu)\n"
        "  --history-events N     %s (default %zu)\n"
        "  --history-bytes N      %s (default %zu)\n"
        "  --max-online-users N   %s (default %zu)\n"
        "  --publish-hwm-bytes N  %s (default %zu)\n"
        "  --data-dir DIR         %s (default: history in memory only)\n"
        "  --fsync MODE           %s (default %s)\n"
        "  --fsync-interval-ms N  %s (default %zu)\n"
        "  --help                 this text\n"
        "  --version              print the version and exit\n"
        "CURVE and the non-loopback rule:\n",
        s_options[0].help, d->ingest, s_options[1].help, d->publish,
        s_options[2].help, d->control, s_options[3].help, d->undelivered,
        s_options[30].help, d->upstream, s_options[4].help, d->http_host, d->http_port,
        s_options[5].help, d->max_event_bytes, s_options[6].help, d->history_events,
        s_options[7].help, d->history_bytes, s_options[8].help, d->max_online_users,
        s_options[12].help, d->publish_hwm_bytes,
        s_options[18].help, s_options[19].help, hb_fsync_name ((hb_fsync_t) d->fsync),
        s_options[20].help, d->fsync_interval_ms);
    fprintf (out,
        "  --curve-cert FILE      %s\n"
        "  --curve-allow DIR      %s;\n"
        "                         re-read within a second of a change, or on SIGHUP\n"
        "  --insecure             %s\n",
        s_options[9].help, s_options[10].help, s_options[11].help);
    fprintf (out,
        "Bounds:\n"
        "  --undelivered-bytes N  %s (default %zu)\n",
        s_options[13].help, d->undelivered_bytes);
    fprintf (out,
        "HTTP:\n"
        "  --http-key-file FILE   %s;\n"
        "                         without it, --http must be a loopback address (or --insecure)\n"
        "  --metrics ADDR:PORT    %s\n"
        "  --http-body-timeout N  %s (default %zu)\n"
        "  --http-idle-timeout N  %s (default %zu)\n",
        s_options[14].help, s_options[15].help, s_options[16].help, d->http_body_timeout,
        s_options[17].help, d->http_idle_timeout);
    fprintf (out,
        "Hot standby pair (broker/README.md):\n"
        "  --role primary|backup  %s\n"
        "  --pair-bind EP         %s\n"
        "  --pair-connect EP      %s\n"
        "  --pair-timeout-ms N    %s (default %zu)\n",
        s_options[21].help, s_options[22].help, s_options[23].help, s_options[24].help,
        d->pair_timeout_ms);
    fprintf (out,
        "Idempotent publishing (envelope key idempotency_key, HTTP Idempotency-Key):\n"
        "  --idempotency-window S %s (default %zu)\n"
        "  --idempotency-bytes N  %s (default %zu)\n",
        s_options[25].help, d->idempotency_window, s_options[26].help, d->idempotency_bytes);
    fprintf (out,
        "Channels:\n"
        "  --max-channel-presence N %s (default %zu)\n",
        s_options[27].help, d->max_channel_presence);
    fprintf (out,
        "Logs (stderr; RFC 3339 UTC time, level, process on every line):\n"
        "  --log-format F         %s (default text)\n"
        "  --log-level L          %s (default info)\n",
        s_options[28].help, s_options[29].help);
}

static int
s_parse_size (const char *text, size_t min, size_t max, size_t *out)
{
    if (!*text || !isdigit ((unsigned char) *text))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (size_t) v;
    return 0;
}

static int
s_copy (char *dst, size_t cap, const char *src)
{
    size_t n = strlen (src);
    if (n == 0 || n >= cap)
        return -1;
    memcpy (dst, src, n + 1);
    return 0;
}

/* "ADDR:PORT" (ADDR may be [v6]) into host (128 bytes) and port 1-65535. */
static int
s_parse_hostport (char *host, int *port_out, const char *text)
{
    const char *colon = strrchr (text, ':');
    if (!colon || colon == text)
        return -1;
    size_t hlen = (size_t) (colon - text);
    if (text[0] == '[' && hlen >= 2 && text[hlen - 1] == ']') {
        text++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= 128)
        return -1;
    size_t port;
    if (s_parse_size (colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy (host, text, hlen);
    host[hlen] = '\0';
    *port_out = (int) port;
    return 0;
}

/* A variable's value: 1/true/yes or 0/false/no ("" is false). A bare
 * flag arrives as "1". */
static int
s_parse_bool (const char *text, bool *out)
{
    static const char *yes[] = { "1", "true", "yes" }, *no[] = { "", "0", "false", "no" };
    for (size_t i = 0; i < 3; i++)
        if (strcasecmp (text, yes[i]) == 0)
            return *out = true, 0;
    for (size_t i = 0; i < 4; i++)
        if (strcasecmp (text, no[i]) == 0)
            return *out = false, 0;
    return -1;
}

/* CURVE is all or nothing on the broker, and without it only loopback
 * endpoints may be bound unless the operator said --insecure. */
static int
s_check_exposure (const hb_config_t *self)
{
    bool curve = self->curve_cert[0] != '\0';
    if (curve != (self->curve_allow[0] != '\0')) {
        fprintf (stderr, "herald-broker: --curve-cert and --curve-allow go together: the "
                 "broker's key encrypts, the allowed certificates decide who may connect\n");
        return -1;
    }
    if (curve || self->insecure)
        return 0;
    const char *eps[] = { self->ingest, self->publish, self->control, self->undelivered,
                          self->upstream };
    static const char *names[] = { "ingest", "publish", "control", "undelivered", "upstream" };
    for (size_t i = 0; i < 5; i++)
        if (!hp_endpoint_is_loopback (eps[i])) {
            fprintf (stderr, "herald-broker: refusing to bind --%s %s without CURVE: anyone "
                     "who reaches it could read or forge every event. Use --curve-cert and "
                     "--curve-allow (see README, Security), or --insecure if the network "
                     "itself is trusted\n", names[i], eps[i]);
            return -1;
        }
    return 0;
}

/* A pair needs its role and both pair endpoints. The pair link carries
 * every event: with --curve-cert it is CURVE like every other socket
 * (the partner admitted by role pair), without it off loopback it needs
 * --insecure, for the endpoint connected to as well as the one bound. */
static int
s_check_pair (const hb_config_t *self)
{
    bool any = self->role != HB_ROLE_NONE || self->pair_bind[0] || self->pair_connect[0];
    if (!any)
        return 0;
    if (self->role == HB_ROLE_NONE || !self->pair_bind[0] || !self->pair_connect[0]) {
        fprintf (stderr, "herald-broker: --role, --pair-bind and --pair-connect go together\n");
        return -1;
    }
    if (!self->insecure && !self->curve_cert[0]
    &&  (!hp_endpoint_is_loopback (self->pair_bind) || !hp_endpoint_is_loopback (self->pair_connect))) {
        fprintf (stderr, "herald-broker: refusing a pair link off loopback without CURVE: it "
                 "carries every event (--curve-cert/--curve-allow with the partner's certificate "
                 "of role pair, or --insecure if the network itself is trusted)\n");
        return -1;
    }
    return 0;
}

static int
s_apply (hb_config_t *self, size_t index, const char *value, const char *source)
{
    const s_option_t *opt = &s_options[index];
    int rc = -1;
    switch (index) {
        case 0: rc = s_copy (self->ingest, sizeof self->ingest, value); break;
        case 1: rc = s_copy (self->publish, sizeof self->publish, value); break;
        case 2: rc = s_copy (self->control, sizeof self->control, value); break;
        case 3: rc = s_copy (self->undelivered, sizeof self->undelivered, value); break;
        case 4: rc = s_parse_hostport (self->http_host, &self->http_port, value); break;
        case 5: rc = s_parse_size (value, opt->min, opt->max, &self->max_event_bytes); break;
        case 6: rc = s_parse_size (value, opt->min, opt->max, &self->history_events); break;
        case 7: rc = s_parse_size (value, opt->min, opt->max, &self->history_bytes); break;
        case 8: rc = s_parse_size (value, opt->min, opt->max, &self->max_online_users); break;
        case 9: rc = s_copy (self->curve_cert, sizeof self->curve_cert, value); break;
        case 10: rc = s_copy (self->curve_allow, sizeof self->curve_allow, value); break;
        case 11: rc = s_parse_bool (value, &self->insecure); break;
        case 12: rc = s_parse_size (value, opt->min, opt->max, &self->publish_hwm_bytes); break;
        case 13: rc = s_parse_size (value, opt->min, opt->max, &self->undelivered_bytes); break;
        case 14: rc = s_copy (self->http_key_file, sizeof self->http_key_file, value); break;
        case 15: rc = s_parse_hostport (self->metrics_host, &self->metrics_port, value); break;
        case 16: rc = s_parse_size (value, opt->min, opt->max, &self->http_body_timeout); break;
        case 17: rc = s_parse_size (value, opt->min, opt->max, &self->http_idle_timeout); break;
        case 18: rc = s_copy (self->data_dir, sizeof self->data_dir, value); break;
        case 19: {
            hb_fsync_t mode;
            rc = hb_fsync_parse (value, &mode);
            if (rc == 0)
                self->fsync = (int) mode;
            break;
        }
        case 20: rc = s_parse_size (value, opt->min, opt->max, &self->fsync_interval_ms); break;
        case 21:
            rc = strcmp (value, "primary") == 0 ? (self->role = HB_ROLE_PRIMARY, 0)
               : strcmp (value, "backup") == 0 ? (self->role = HB_ROLE_BACKUP, 0) : -1;
            break;
        case 22: rc = s_copy (self->pair_bind, sizeof self->pair_bind, value); break;
        case 23: rc = s_copy (self->pair_connect, sizeof self->pair_connect, value); break;
        case 24: rc = s_parse_size (value, opt->min, opt->max, &self->pair_timeout_ms); break;
        case 25: rc = s_parse_size (value, opt->min, opt->max, &self->idempotency_window); break;
        case 26: rc = s_parse_size (value, opt->min, opt->max, &self->idempotency_bytes); break;
        case 27: rc = s_parse_size (value, opt->min, opt->max, &self->max_channel_presence); break;
        case 28: rc = hp_log_parse_format (value, &self->log_format); break;
        case 29: rc = hp_log_parse_level (value, &self->log_level); break;
        case 30:
            rc = s_copy (self->upstream, sizeof self->upstream, value);
            self->upstream_given = rc == 0;
            break;
    }
    if (rc != 0) {
        /* a variable is named as such: a stray one in the caller's
         * environment must not look like a bad flag */
        char what[160];
        if (strcmp (source, "flag") == 0)
            snprintf (what, sizeof what, "--%s", opt->flag);
        else
            snprintf (what, sizeof what, "environment variable %s (--%s; fix or unset it)",
                      source, opt->flag);
        if (opt->kind == S_WORD)
            fprintf (stderr, "herald-broker: bad value '%s' for %s: %.*s\n", value, what,
                     (int) strcspn (opt->help, ":"), opt->help);
        else
        if (opt->kind == S_FSYNC)
            fprintf (stderr, "herald-broker: bad value '%s' for %s: always, batch or none\n",
                     value, what);
        else
        if (opt->kind == S_SIZE)
            fprintf (stderr, "herald-broker: bad value '%s' for %s: an integer %zu-%zu\n",
                     value, what, opt->min, opt->max);
        else
        if (opt->kind == S_HOSTPORT)
            fprintf (stderr, "herald-broker: bad value '%s' for %s: ADDR:PORT\n", value, what);
        else
        if (opt->kind == S_BOOL)
            fprintf (stderr, "herald-broker: bad value '%s' for %s: 1/true/yes or 0/false/no\n",
                     value, what);
        else
            fprintf (stderr, "herald-broker: bad value '%s' for %s\n", value, what);
    }
    return rc;
}

int
hb_config_load (hb_config_t *self, int argc, char **argv)
{
    memset (self, 0, sizeof *self);
    strcpy (self->ingest, "tcp://127.0.0.1:7401");
    strcpy (self->publish, "tcp://127.0.0.1:7402");
    strcpy (self->control, "tcp://127.0.0.1:7403");
    strcpy (self->undelivered, "tcp://127.0.0.1:7404");
    strcpy (self->upstream, "tcp://127.0.0.1:7406");
    strcpy (self->http_host, "127.0.0.1");
    self->http_port = 7480;
    self->max_event_bytes = HP_EVENT_BYTES_DEFAULT;
    self->history_events = 100;
    self->history_bytes = 64u << 20;
    self->max_online_users = 10u << 20;
    self->publish_hwm_bytes = (size_t) 1 << 30;
    self->undelivered_bytes = 16u << 20;
    self->http_body_timeout = 10;
    self->http_idle_timeout = 5;
    self->fsync = HB_FSYNC_BATCH;
    self->fsync_interval_ms = 100;
    self->pair_timeout_ms = 2000;
    self->idempotency_window = 300;
    self->idempotency_bytes = 32u << 20;
    self->max_channel_presence = 1u << 20;
    self->log_format = HP_LOG_TEXT;
    self->log_level = HP_LOG_INFO;
    hb_config_t defaults = *self;

    for (size_t i = 0; i < S_OPTION_COUNT; i++) {
        char var[64] = "HERALD_";
        size_t n = strlen (var);
        for (const char *c = s_options[i].flag; *c && n + 1 < sizeof var; c++)
            var[n++] = *c == '-' ? '_' : (char) toupper ((unsigned char) *c);
        var[n] = '\0';
        const char *value = hp_env_get (var);
        if (value && *value && !hp_args_have_flag (argc, argv, s_options[i].flag)
        &&  s_apply (self, i, value, var) != 0)
            return -1;
    }

    struct option longopts[S_OPTION_COUNT + 3];
    for (size_t i = 0; i < S_OPTION_COUNT; i++)
        longopts[i] = (struct option) { s_options[i].flag,
                                        s_options[i].kind == S_BOOL ? no_argument : required_argument,
                                        NULL, (int) i };
    longopts[S_OPTION_COUNT] = (struct option) { "help", no_argument, NULL, 'h' };
    longopts[S_OPTION_COUNT + 1] = (struct option) { "version", no_argument, NULL, 'V' };
    longopts[S_OPTION_COUNT + 2] = (struct option) { 0 };
    optind = 1;
    opterr = 1;
    int c;
    while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            s_usage (stdout, &defaults);
            return 1;
        }
        if (c == 'V') {
            hp_version_print (stdout, "herald-broker");
            return 1;
        }
        if (c < 0 || (size_t) c >= S_OPTION_COUNT) {
            s_usage (stderr, &defaults);
            return -1;
        }
        if (s_apply (self, (size_t) c, optarg ? optarg : "1", "flag") != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf (stderr, "herald-broker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (s_check_pair (self) != 0 || s_check_exposure (self) != 0)
        return -1;
    /* Without the key anyone who reaches --http can publish to anyone. The
     * metrics listener serves no writes, so it may face a scraper's network. */
    if (!self->insecure && !self->http_key_file[0] && !hp_host_is_loopback (self->http_host)) {
        fprintf (stderr, "herald-broker: refusing to serve --http %s:%d without --http-key-file: "
                 "anyone who reaches it could publish to any user. Give a key (see README, "
                 "Security), or --insecure if the network itself is trusted\n",
                 self->http_host, self->http_port);
        return -1;
    }
    return 0;
}

int
hb_config_publish_hwm (const hb_config_t *self)
{
    size_t hwm = self->publish_hwm_bytes / (self->max_event_bytes ? self->max_event_bytes : 1);
    if (hwm < 1000)
        hwm = 1000;
    if (hwm > 1000000)
        hwm = 1000000;
    return (int) hwm;
}
