/* herald-token.c -- mint an HS256 JWT for a user, signed with the shared secret. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jwt.h>

#include "envelope.h"
#include "version.h"

#define HT_TTL_DEFAULT   3600
#define HT_TTL_MAX       (10L * 365 * 24 * 3600)   /* ten years: a typo guard */
#define HT_SECRET_MAX    4096                       /* bytes read from a secret file */
#define HT_CHANNELS_MAX  256                        /* --channel flags */
/* herald-gateway closes on client frames over 8 KiB: the token, inside its
 * auth or subscribe frame, must leave room for the rest of it */
#define HT_TOKEN_MAX     8000

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: herald-token --user USER [--ttl SECONDS] [--aud AUD] [--iss ISS]\n"
"                    [--nbf SECONDS] [--secret-file PATH]\n"
"                    [--channel NAME]... | [--subscription CHANNEL]\n"
"\n"
"Prints a JSON Web Token (HS256) for USER, for a browser to send in its\n"
"{\"type\":\"auth\"} frame to herald-gateway. Claims: sub = USER, iat = now,\n"
"exp = now + ttl, and aud, iss, nbf when asked for.\n"
"\n"
"  --user USER          the user id (1-128 bytes of UTF-8, no control characters)\n"
"  --ttl SECONDS        lifetime of the token (default %d)\n"
"  --aud AUD            audience claim (herald-gateway --token-aud checks it)\n"
"  --iss ISS            issuer claim (herald-gateway --token-iss checks it)\n"
"  --nbf SECONDS        not valid before now + SECONDS (0 to ttl)\n"
"  --channel NAME       may be given up to %d times: the channels claim, which\n"
"                       channels the connection may subscribe: a name\n"
"                       (order:17) or a prefix ending in * (order:*; * alone:\n"
"                       every channel)\n"
"  --subscription CHANNEL  a subscription token instead: it lets USER's\n"
"                       connection subscribe CHANNEL, sent as \"token\" in the\n"
"                       subscribe frame (claims sub, channel, iat, exp)\n"
"  --secret-file PATH   read the shared secret from PATH (env HERALD_SECRET_FILE);\n"
"                       one trailing newline is ignored. Without it the secret\n"
"                       comes from the environment variable HERALD_SECRET.\n"
"  -h, --help           this text\n"
"  --version            print the version and exit\n"
"\n"
"The secret must be the one herald-gateway checks tokens with. It is never\n"
"printed. Exit status: 0 printed a token; 1 no secret or signing failed;\n"
"2 bad flags.\n", HT_TTL_DEFAULT, HT_CHANNELS_MAX);
}

/* A channels claim entry: a channel name, or a prefix of one ending in '*'
 * ("*" alone: every channel), as herald-gateway reads the claim. */
static bool
s_channel_entry_valid (const char *s)
{
    size_t len = strlen (s);
    if (len > 0 && s [len - 1] == '*')
        return len == 1 || hp_channel_name_valid (s, len - 1);
    return hp_channel_name_valid (s, len);
}

/* Adds "channels":[...] to the token. Entries are channel-name bytes and
 * '*' only, so they need no JSON escaping. Returns 0 or -1. */
static int
s_add_channels (jwt_t *jwt, const char *const *channels, int count)
{
    size_t cap = 16;
    for (int i = 0; i < count; i++)
        cap += strlen (channels [i]) + 3;
    char *json = malloc (cap);
    if (!json)
        return -1;
    size_t len = (size_t) snprintf (json, cap, "{\"channels\":[");
    for (int i = 0; i < count; i++)
        len += (size_t) snprintf (json + len, cap - len, "%s\"%s\"", i ? "," : "", channels [i]);
    snprintf (json + len, cap - len, "]}");
    int rc = jwt_add_grants_json (jwt, json);
    free (json);
    return rc == 0 ? 0 : -1;
}

/* Reads the secret from path into buf (cap bytes), dropping one trailing
 * "\n" or "\r\n" so `echo secret > file` works. Returns its length or -1. */
static long
s_secret_read (const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        fprintf (stderr, "herald-token: cannot open secret file %s: %s\n", path, strerror (errno));
        return -1;
    }
    size_t len = fread (buf, 1, cap, f);
    bool more = fgetc (f) != EOF;
    bool failed = ferror (f);
    fclose (f);
    if (failed) {
        fprintf (stderr, "herald-token: cannot read secret file %s\n", path);
        return -1;
    }
    if (more) {
        fprintf (stderr, "herald-token: secret file %s is over %d bytes\n", path, HT_SECRET_MAX);
        return -1;
    }
    if (len > 0 && buf [len - 1] == '\n')
        len--;
    if (len > 0 && buf [len - 1] == '\r')
        len--;
    return (long) len;
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "user",        required_argument, NULL, 'u' },
        { "ttl",         required_argument, NULL, 't' },
        { "secret-file", required_argument, NULL, 's' },
        { "aud",         required_argument, NULL, 'a' },
        { "iss",         required_argument, NULL, 'i' },
        { "nbf",         required_argument, NULL, 'n' },
        { "channel",     required_argument, NULL, 'c' },
        { "subscription", required_argument, NULL, 'S' },
        { "help",        no_argument,       NULL, 'h' },
        { "version",     no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *user = NULL;
    long ttl = HT_TTL_DEFAULT;
    const char *aud = NULL, *iss = NULL;
    long nbf = -1;      /* -1: no nbf claim */
    const char *channels [HT_CHANNELS_MAX];
    int channel_count = 0;
    const char *subscription = NULL;
    const char *secret_file = getenv ("HERALD_SECRET_FILE");
    if (secret_file && !*secret_file)
        secret_file = NULL;

    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
            case 'u':
                user = optarg;
                break;
            case 't': {
                char *end;
                errno = 0;
                ttl = strtol (optarg, &end, 10);
                if (errno || end == optarg || *end || ttl < 1 || ttl > HT_TTL_MAX) {
                    fprintf (stderr, "herald-token: --ttl must be a whole number of seconds, "
                             "1-%ld, not \"%s\"\n", HT_TTL_MAX, optarg);
                    return EXIT_USAGE;
                }
                break;
            }
            case 's':
                secret_file = optarg;
                break;
            case 'a':
            case 'i':
                if (!*optarg) {
                    fprintf (stderr, "herald-token: --%s must not be empty\n", opt == 'a' ? "aud" : "iss");
                    return EXIT_USAGE;
                }
                *(opt == 'a' ? &aud : &iss) = optarg;
                break;
            case 'n': {
                char *end;
                errno = 0;
                nbf = strtol (optarg, &end, 10);
                if (errno || end == optarg || *end || nbf < 0 || nbf > HT_TTL_MAX) {
                    fprintf (stderr, "herald-token: --nbf must be a whole number of seconds "
                             "from now, 0-%ld, not \"%s\"\n", HT_TTL_MAX, optarg);
                    return EXIT_USAGE;
                }
                break;
            }
            case 'c':
                if (!s_channel_entry_valid (optarg)) {
                    fprintf (stderr, "herald-token: --channel \"%s\" is neither a channel name "
                             "(1-%d bytes of [A-Za-z0-9_.:@/=-]) nor such a prefix ending in *\n",
                             optarg, HP_CHANNEL_MAX);
                    return EXIT_USAGE;
                }
                if (channel_count == HT_CHANNELS_MAX) {
                    fprintf (stderr, "herald-token: at most %d --channel flags\n", HT_CHANNELS_MAX);
                    return EXIT_USAGE;
                }
                channels [channel_count++] = optarg;
                break;
            case 'S':
                if (!hp_channel_name_valid (optarg, strlen (optarg))) {
                    fprintf (stderr, "herald-token: --subscription \"%s\" is not a channel name "
                             "(1-%d bytes of [A-Za-z0-9_.:@/=-])\n", optarg, HP_CHANNEL_MAX);
                    return EXIT_USAGE;
                }
                subscription = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return EXIT_SUCCESS;
            case 'V':
                hp_version_print (stdout, "herald-token");
                return EXIT_SUCCESS;
            case ':':
                fprintf (stderr, "herald-token: %s needs a value (see --help)\n", argv [optind - 1]);
                return EXIT_USAGE;
            default:
                fprintf (stderr, "herald-token: unknown option %s (see --help)\n", argv [optind - 1]);
                return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "herald-token: unexpected argument \"%s\" (see --help)\n", argv [optind]);
        return EXIT_USAGE;
    }
    if (nbf > ttl) {
        fprintf (stderr, "herald-token: --nbf %ld is after the token expires (--ttl %ld)\n", nbf, ttl);
        return EXIT_USAGE;
    }
    if (!user) {
        fprintf (stderr, "herald-token: --user is required (see --help)\n");
        return EXIT_USAGE;
    }
    if (subscription && channel_count) {
        fprintf (stderr, "herald-token: --subscription makes a token for one channel; "
                 "--channel belongs in a connection token\n");
        return EXIT_USAGE;
    }
    if (!hp_user_id_valid (user, strlen (user))) {
        fprintf (stderr, "herald-token: \"%s\" is not a valid user id (1-%d bytes of UTF-8, "
                 "no control characters)\n", user, HP_USER_MAX);
        return EXIT_USAGE;
    }

    unsigned char secret [HT_SECRET_MAX];
    long secret_len;
    if (secret_file)
        secret_len = s_secret_read (secret_file, secret, sizeof secret);
    else {
        const char *env = getenv ("HERALD_SECRET");
        secret_len = env ? (long) strlen (env) : 0;
        if (secret_len > HT_SECRET_MAX) {
            fprintf (stderr, "herald-token: HERALD_SECRET is over %d bytes\n", HT_SECRET_MAX);
            return EXIT_FAIL;
        }
        if (env)
            memcpy (secret, env, (size_t) secret_len);
    }
    if (secret_len < 0)
        return EXIT_FAIL;
    if (secret_len == 0) {
        fprintf (stderr, "herald-token: no secret: set HERALD_SECRET or pass --secret-file PATH "
                 "(the same secret herald-gateway uses)\n");
        return EXIT_FAIL;
    }

    int status = EXIT_FAIL;
    jwt_t *jwt = NULL;
    char *token = NULL;
    time_t now = time (NULL);
    if (jwt_new (&jwt) != 0
    ||  jwt_add_grant (jwt, "sub", user) != 0
    ||  jwt_add_grant_int (jwt, "iat", (long) now) != 0
    ||  jwt_add_grant_int (jwt, "exp", (long) now + ttl) != 0
    ||  (aud && jwt_add_grant (jwt, "aud", aud) != 0)
    ||  (iss && jwt_add_grant (jwt, "iss", iss) != 0)
    ||  (nbf >= 0 && jwt_add_grant_int (jwt, "nbf", (long) now + nbf) != 0)
    ||  (subscription && jwt_add_grant (jwt, "channel", subscription) != 0)
    ||  (channel_count && s_add_channels (jwt, channels, channel_count) != 0)
    ||  jwt_set_alg (jwt, JWT_ALG_HS256, secret, (int) secret_len) != 0
    ||  (token = jwt_encode_str (jwt)) == NULL)
        fprintf (stderr, "herald-token: cannot sign the token: %s\n", strerror (errno));
    else if (strlen (token) > HT_TOKEN_MAX)
        fprintf (stderr, "herald-token: the token would be %zu bytes, over the %d that fit in "
                 "herald-gateway's 8 KiB client frame: fewer --channel, or prefixes\n",
                 strlen (token), HT_TOKEN_MAX);
    else {
        puts (token);
        status = fflush (stdout) == 0 ? EXIT_SUCCESS : EXIT_FAIL;
    }
    free (token);
    jwt_free (jwt);
    //  The secret is sensitive: do not leave it on the stack.
    explicit_bzero (secret, sizeof secret);
    return status;
}
