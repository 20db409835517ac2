/* version.c -- the release and git revision compiled into every program. */
#include "version.h"
#include "herald_version.h"

const char *
hp_version (void)
{
    return HERALD_VERSION;
}

const char *
hp_revision (void)
{
    return HERALD_REVISION;
}

int
hp_version_metric (char *buf, size_t cap)
{
    int n = snprintf (buf, cap,
                      "# HELP herald_build_info The running release (value always 1).\n"
                      "# TYPE herald_build_info gauge\n"
                      "herald_build_info{version=\"%s\",revision=\"%s\"} 1\n",
                      HERALD_VERSION, HERALD_REVISION);
    return n > 0 && (size_t) n < cap ? n : -1;
}

void
hp_version_print (FILE *out, const char *program)
{
    if (*HERALD_REVISION)
        fprintf (out, "%s %s (%s)\n", program, HERALD_VERSION, HERALD_REVISION);
    else
        fprintf (out, "%s %s\n", program, HERALD_VERSION);
}
