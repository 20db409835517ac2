/* json_pack.h -- pack a jansson JSON value as msgpack (herald-push's data, a browser's send). */
#ifndef HERALD_PROTO_JSON_PACK_H
#define HERALD_PROTO_JSON_PACK_H

#include <jansson.h>
#include <msgpack.h>

/* Appends value to pk as msgpack: objects become maps with str keys, arrays
 * arrays, integers stay integers (jansson's range: int64), reals doubles,
 * strings str, true/false/null their msgpack forms. max_depth bounds how many
 * arrays/objects may nest (value itself counts as one when it is one).
 * Returns 0, or -1 when nesting passes max_depth or the packer failed (out of
 * memory); pk may then hold a partial value and should be discarded. */
int hp_json_pack (msgpack_packer *pk, const json_t *value, int max_depth);

#endif
