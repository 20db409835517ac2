/* version.h -- the one version every Herald program reports (--version, herald_build_info). */
#ifndef HERALD_PROTO_VERSION_H
#define HERALD_PROTO_VERSION_H

#include <stdio.h>

/* The release, from CMake's project(VERSION), e.g. "0.1.0". */
const char *hp_version (void);

/* `git describe --always --dirty --tags` at build time ("5678c85",
 * "v0.1.0-3-g5678c85-dirty"), or "" when built outside a git checkout. */
const char *hp_revision (void);

/* Prints "PROGRAM VERSION" and " (REVISION)" when there is one, then a
 * newline, to out: what --version prints. */
void hp_version_print (FILE *out, const char *program);

/* Writes the Prometheus family herald_build_info (HELP, TYPE and the one
 * sample, value 1, labelled version and revision) into buf. Returns its
 * length, or -1 when cap is too small. */
int hp_version_metric (char *buf, size_t cap);

#endif
