/* envcheck.c -- renamed and unknown HERALD_* variables (envcheck.h). */
#include "envcheck.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Every HERALD_* name read anywhere: the broker's and gateway's settings
 * (each flag's variable), the tools', the clients', the demo's and the
 * test scripts'. unit.envcheck checks the two configs against it. */
static const char *s_known[] = {
    /* broker sockets: bound by the broker, connected to by everyone else */
    "HERALD_INGEST", "HERALD_PUBLISH", "HERALD_CONTROL", "HERALD_UNDELIVERED", "HERALD_HTTP",
    /* broker */
    "HERALD_MAX_EVENT_BYTES", "HERALD_HISTORY_EVENTS", "HERALD_HISTORY_BYTES",
    "HERALD_MAX_ONLINE_USERS", "HERALD_MAX_CHANNEL_PRESENCE", "HERALD_CURVE_CERT", "HERALD_CURVE_ALLOW", "HERALD_INSECURE",
    "HERALD_PUBLISH_HWM_BYTES", "HERALD_UNDELIVERED_BYTES", "HERALD_HTTP_KEY_FILE",
    "HERALD_METRICS", "HERALD_HTTP_BODY_TIMEOUT", "HERALD_HTTP_IDLE_TIMEOUT", "HERALD_DATA_DIR",
    "HERALD_FSYNC", "HERALD_FSYNC_INTERVAL_MS", "HERALD_ROLE", "HERALD_PAIR_BIND",
    "HERALD_PAIR_CONNECT", "HERALD_PAIR_TIMEOUT_MS", "HERALD_IDEMPOTENCY_WINDOW",
    "HERALD_IDEMPOTENCY_BYTES", "HERALD_LOG_FORMAT", "HERALD_LOG_LEVEL",
    /* gateway */
    "HERALD_LISTEN", "HERALD_SECRET", "HERALD_SECRET_FILE", "HERALD_AUTH_TIMEOUT",
    "HERALD_MAX_QUEUE_BYTES", "HERALD_MAX_CONNECTIONS", "HERALD_TOKEN_AUD", "HERALD_TOKEN_ISS",
    "HERALD_TOKEN_MAX_TTL", "HERALD_TOKEN_LEEWAY", "HERALD_CURVE_SERVER", "HERALD_IDLE_TIMEOUT",
    "HERALD_MAX_UNAUTHENTICATED", "HERALD_MAX_CONNECTIONS_PER_IP", "HERALD_ALLOWED_ORIGINS",
    "HERALD_TLS_CERT", "HERALD_TLS_KEY", "HERALD_MAX_CHANNELS_PER_CONNECTION",
    "HERALD_UPSTREAM_EVENTS", "HERALD_UPSTREAM_MAX_BYTES", "HERALD_UPSTREAM_RATE",
    "HERALD_UPSTREAM_BURST",
    /* broker streams of the contract's next capabilities */
    "HERALD_RECEIPTS", "HERALD_UPSTREAM",
    /* tools, clients, the demo */
    "HERALD_TOKEN", "HERALD_SEND_HWM", "HERALD_ON_FULL", "HERALD_CONTROL_TIMEOUT_MS",
    "HERALD_LINGER_MS", "HERALD_GATEWAY_URL", "HERALD_GATEWAY_HTTP", "HERALD_WS_URL",
    "HERALD_CONFIRM_TIMEOUT_MS", "HERALD_FAILOVER_TIMEOUT_MS", "HERALD_PAIR_WAIT_MS",
    /* scripts/run, scripts/test and the tests */
    "HERALD_BASE_PORT", "HERALD_GATEWAYS", "HERALD_BIN", "HERALD_SANITIZED", "HERALD_TEST_BUDGET",
    "HERALD_TEST_JOBS", "HERALD_TEST_OUTPUT", "HERALD_FUZZER_SECONDS", "HERALD_FUZZ_SECONDS",
    "HERALD_FUZZ_ITERATIONS", "HERALD_NODE", "HERALD_RUBY",
    /* old names (s_renamed) */
    "HERALD_BROKER",
};
#define S_KNOWN_COUNT (sizeof s_known / sizeof s_known[0])

/* Old name -> the name that replaced it. HERALD_BROKER was the gateway's
 * name for the broker's publish endpoint, which everything else (the
 * broker, scripts/run) calls HERALD_PUBLISH. */
static struct {
    const char *old, *now;
    bool used;
} s_renamed[] = {
    { "HERALD_BROKER", "HERALD_PUBLISH", false },
};
#define S_RENAMED_COUNT (sizeof s_renamed / sizeof s_renamed[0])

const char *
hp_env_get (const char *name)
{
    const char *value = getenv (name);
    if (value && *value)
        return value;
    for (size_t i = 0; i < S_RENAMED_COUNT; i++)
        if (strcmp (s_renamed[i].now, name) == 0) {
            value = getenv (s_renamed[i].old);
            if (value && *value) {
                s_renamed[i].used = true;
                return value;
            }
        }
    return NULL;
}

bool
hp_args_have_flag (int argc, char **argv, const char *flag)
{
    size_t len = strlen (flag);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp (a, "--") == 0)
            break;
        if (strncmp (a, "--", 2) == 0 && strncmp (a + 2, flag, len) == 0
        &&  (a[2 + len] == '\0' || a[2 + len] == '='))
            return true;
    }
    return false;
}

bool
hp_env_is_known (const char *name)
{
    for (size_t i = 0; i < S_KNOWN_COUNT; i++)
        if (strcmp (s_known[i], name) == 0)
            return true;
    return false;
}

/* Levenshtein distance, capped for names up to 63 bytes. */
static size_t
s_distance (const char *a, const char *b)
{
    size_t n = strlen (a), m = strlen (b);
    if (n > 63 || m > 63)
        return 64;
    size_t row[64];
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[m];
}

const char *
hp_env_closest (const char *name)
{
    const char *best = NULL;
    /* a suggestion within a quarter of the name after HERALD_ (at least
     * one edit): HERALD_HISTORY_EVENT, not HERALD_FOO for HERALD_ROLE */
    size_t len = strlen (name);
    size_t best_d = (len > 7 ? (len - 7) / 4 : 0) + 1;
    if (best_d < 2)
        best_d = 2;
    for (size_t i = 0; i < S_KNOWN_COUNT; i++) {
        size_t d = s_distance (name, s_known[i]);
        if (d < best_d) {
            best_d = d;
            best = s_known[i];
        }
    }
    return best;
}

size_t
hp_env_report (void)
{
    size_t lines = 0;
    for (size_t i = 0; i < S_RENAMED_COUNT; i++)
        if (s_renamed[i].used) {
            hp_warn ("%s is deprecated: it is now %s (the same value); %s is still read "
                     "while %s is unset", s_renamed[i].old, s_renamed[i].now, s_renamed[i].old,
                     s_renamed[i].now);
            lines++;
        }
    for (char **e = environ; e && *e; e++) {
        if (strncmp (*e, "HERALD_", 7) != 0)
            continue;
        char name[128];
        size_t len = strcspn (*e, "=");
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy (name, *e, len);
        name[len] = '\0';
        if (hp_env_is_known (name))
            continue;
        const char *near = hp_env_closest (name);
        hp_warn ("unknown environment variable %s ignored%s%s%s", name,
                 near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
        lines++;
    }
    return lines;
}
