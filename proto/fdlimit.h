/* fdlimit.h -- the descriptor limit both programs raise at start. */
#ifndef HERALD_PROTO_FDLIMIT_H
#define HERALD_PROTO_FDLIMIT_H

/* Raises the soft RLIMIT_NOFILE to the hard one. Descriptors run out long
 * before memory does: a process kept at Debian's default soft limit (1024)
 * under a hard one of 500,000 is exhausted by a thousand idle connections.
 * Returns the soft limit now in force (0 when it cannot be read). */
unsigned long hp_fd_limit_raise (void);

#endif
