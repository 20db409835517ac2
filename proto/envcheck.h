/* envcheck.h -- HERALD_* environment variables: renamed names, and the unknown ones.
 *
 * One meaning per name: HERALD_<SOCKET> (HERALD_INGEST, HERALD_PUBLISH,
 * HERALD_CONTROL, HERALD_UNDELIVERED, ...) is the address of that broker
 * socket, which the broker binds and every other process connects to, so
 * one environment serves a host running both. Names that meant something
 * else are renamed; the old ones still work, with a deprecation line. */
#ifndef HERALD_PROTO_ENVCHECK_H
#define HERALD_PROTO_ENVCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* The value of variable name, or of the older name it replaced when only
 * that one is set (remembered for hp_env_report). NULL when neither is set
 * or the value is empty. */
const char *hp_env_get (const char *name);

/* True when argv gives the long option flag ("--flag VALUE" or
 * "--flag=VALUE", before any "--"): its variable then does not matter, and
 * a malformed value in the caller's environment must not stop the program. */
bool hp_args_have_flag (int argc, char **argv, const char *flag);

/* True when name is a variable some Herald program, client, demo or test
 * script reads (the list in envcheck.c). */
bool hp_env_is_known (const char *name);

/* Logs (proto/log.h, warn) one line per old name hp_env_get used and per
 * HERALD_* variable in the environment nobody reads (a typo: the closest
 * known name is suggested). Returns how many lines it logged. */
size_t hp_env_report (void);

/* The known name closest to name (edit distance), or NULL. */
const char *hp_env_closest (const char *name);

#endif
