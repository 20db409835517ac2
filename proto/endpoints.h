/* endpoints.h -- a broker endpoint list "EP" or "EP1,EP2" (a hot standby pair, primary first). */
#ifndef HERALD_PROTO_ENDPOINTS_H
#define HERALD_PROTO_ENDPOINTS_H

/* At most a pair; each endpoint shorter than HP_ENDPOINT_MAX bytes. */
#define HP_ENDPOINTS_MAX 2
#define HP_ENDPOINT_MAX  256

/* Splits list at commas into ep[0..], NUL-terminated. Returns how many
 * (1 or 2), or -1 for an empty entry, more than HP_ENDPOINTS_MAX entries
 * or one of HP_ENDPOINT_MAX bytes or more (ep is then left partly
 * written). Every program that takes a broker endpoint parses it here, so
 * "EP1,EP2" means the same to all of them. */
int hp_endpoints_parse (const char *list, char ep[HP_ENDPOINTS_MAX][HP_ENDPOINT_MAX]);

#endif
