/* json_pack.h -- pack a jansson JSON value as msgpack, for herald-push. */
#ifndef HERALD_TOOLS_JSON_PACK_H
#define HERALD_TOOLS_JSON_PACK_H

#include <jansson.h>
#include <msgpack.h>

/* Deepest JSON nesting packed; deeper values are refused so a hostile line
 * cannot exhaust the stack (the broker refuses deeper msgpack anyway). */
#define HT_JSON_DEPTH_MAX 64

/* Appends value to pk as msgpack: objects become maps with str keys, arrays
 * arrays, integers stay integers (jansson's range: int64), reals doubles,
 * strings str, true/false/null their msgpack forms. Returns 0, or -1 when
 * nesting passes HT_JSON_DEPTH_MAX or the packer failed (out of memory);
 * pk may then hold a partial value and should be discarded. */
int ht_json_pack (msgpack_packer *pk, const json_t *value);

#endif
