/* static.h -- the files the gateway serves from its own binary (/herald.js). */
#ifndef HERALD_GW_STATIC_H
#define HERALD_GW_STATIC_H

#include <stddef.h>

/* The browser client (clients/js/herald.js) embedded at build time. Returns
 * 0 with the bytes, or -1 when the build found no such file (serve 404). */
int gw_static_herald_js (const unsigned char **data, size_t *len);

#endif
