/* herald-keygen.c -- make a CURVE certificate (czmq zcert files) for a Herald process. */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <czmq.h>

#include "version.h"

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: herald-keygen NAME [--role ROLE[,ROLE...]] [--name TEXT] [--force]\n"
"\n"
"Writes a new CURVE key pair as NAME.cert (the public certificate: give it\n"
"to the broker's --curve-allow directory, or, for the broker's own, to its\n"
"clients as --curve-server) and NAME.cert_secret (mode 600: keep it on the\n"
"host that runs the process, which is given --curve-cert NAME.cert).\n"
"\n"
"  --role ROLE    what the key may do at the broker, stored in the\n"
"                 certificate's metadata and read by the broker from its own\n"
"                 copy in --curve-allow:\n"
"                   gateway   subscribe on publish, resume/presence on control\n"
"                   producer  push to ingest, presence/stats on control\n"
"                   worker    pull the undelivered stream\n"
"                   pair      a broker's hot standby partner (its pair link)\n"
"                 (several, comma-separated; none for the broker's own key)\n"
"  --name TEXT    a name for logs (default: NAME without its directory)\n"
"  --force        overwrite existing files\n"
"  -h, --help     this text\n"
"  --version      print the version and exit\n"
"\n"
"Exit status: 0 written; 1 could not write; 2 bad usage.\n");
}

static bool
s_roles_valid (const char *list)
{
    char copy[128];
    if (strlen (list) >= sizeof copy || !*list)
        return false;
    strcpy (copy, list);
    char *save = NULL;
    for (char *r = strtok_r (copy, ",", &save); r; r = strtok_r (NULL, ",", &save))
        if (strcmp (r, "gateway") && strcmp (r, "producer") && strcmp (r, "worker") && strcmp (r, "pair"))
            return false;
    return true;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "role",  required_argument, NULL, 'r' },
        { "name",  required_argument, NULL, 'n' },
        { "force", no_argument,       NULL, 'f' },
        { "help",  no_argument,       NULL, 'h' },
        { "version", no_argument,     NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *role = NULL, *name = NULL;
    bool force = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, ":h", options, NULL)) != -1) {
        switch (opt) {
            case 'r': role = optarg; break;
            case 'n': name = optarg; break;
            case 'f': force = true; break;
            case 'h': s_usage (stdout); return 0;
            case 'V': hp_version_print (stdout, "herald-keygen"); return 0;
            case ':':
                fprintf (stderr, "herald-keygen: %s needs a value (see --help)\n", argv[optind - 1]);
                return EXIT_USAGE;
            default:
                fprintf (stderr, "herald-keygen: unknown option %s (see --help)\n", argv[optind - 1]);
                return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        s_usage (stderr);
        return EXIT_USAGE;
    }
    const char *base = argv[optind];
    if (role && !s_roles_valid (role)) {
        fprintf (stderr, "herald-keygen: --role must list gateway, producer, worker or pair "
                 "(comma-separated), not '%s'\n", role);
        return EXIT_USAGE;
    }
    char pub[240], sec[256];
    /* zcert_save appends "_secret" into a 256-byte buffer */
    if (snprintf (pub, sizeof pub, "%s.cert", base) >= (int) sizeof pub) {
        fprintf (stderr, "herald-keygen: NAME is too long\n");
        return EXIT_USAGE;
    }
    snprintf (sec, sizeof sec, "%s_secret", pub);
    struct stat st;
    if (!force && (stat (pub, &st) == 0 || stat (sec, &st) == 0)) {
        fprintf (stderr, "herald-keygen: %s or %s exists; --force overwrites\n", pub, sec);
        return EXIT_FAIL;
    }
    char name_buf[4096];
    if (!name) {
        snprintf (name_buf, sizeof name_buf, "%s", base);
        name = basename (name_buf);
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        fprintf (stderr, "herald-keygen: cannot make a key pair\n");
        return EXIT_FAIL;
    }
    zcert_set_meta (cert, "name", "%s", name);
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    /* zcert creates the secret file with mode 600 (zsys_file_mode_private);
     * an old one is removed first so its mode cannot carry over */
    if (force)
        unlink (sec);
    int rc = zcert_save (cert, pub);
    if (rc != 0) {
        fprintf (stderr, "herald-keygen: cannot write %s / %s: %s\n", pub, sec, strerror (errno));
        zcert_destroy (&cert);
        return EXIT_FAIL;
    }
    chmod (sec, 0600);
    printf ("%s  public key %s%s%s\n%s  secret: keep it on this host only\n", pub,
            zcert_public_txt (cert), role ? ", role " : "", role ? role : "", sec);
    zcert_destroy (&cert);
    return 0;
}
