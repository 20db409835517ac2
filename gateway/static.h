/* static.h -- the files the gateway serves from its own binary (/herald.js). */
#ifndef HERALD_GW_STATIC_H
#define HERALD_GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>

/* The browser client (clients/js/herald.js) embedded at build time. Returns
 * 0 with the bytes and their entity tag (a quoted string such as
 * "\"0123456789abcdef\"", the start of the bytes' SHA-256, static storage),
 * or -1 when the build found no such file (serve 404). */
int gw_static_herald_js (const unsigned char **data, size_t *len, const char **etag);

/* True when an If-None-Match header value names etag: "*", or a
 * comma-separated list of entity tags of which one equals etag, weak tags
 * (W/"...") compared by their opaque part (RFC 9110 13.1.2, weak
 * comparison). NULL or malformed input is no match, so the full answer is
 * sent. */
bool gw_static_etag_matches (const char *if_none_match, const char *etag);

#endif
