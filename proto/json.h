/* json.h -- msgpack -> JSON text, and JSON string escaping. */
#ifndef HERALD_PROTO_JSON_H
#define HERALD_PROTO_JSON_H

#include <stddef.h>
#include <msgpack.h>
#include "buf.h"

/* Deepest nesting converted; deeper input is refused, not truncated. */
#define HP_JSON_DEPTH_MAX 64

/* Appends obj as JSON to out, per DESIGN.md: str-keyed maps become objects,
 * other keys are stringified (a str key as-is, anything else as its JSON text);
 * nil null; bool; ints exactly (int64 and uint64 extremes); floats with 17
 * significant digits, NaN/Inf as null; str escaped with invalid UTF-8
 * replaced by U+FFFD; bin as base64 strings; ext as base64 of its data.
 * Returns 0, or -1 (out may hold a partial result) when out's limit is
 * reached or nesting passes HP_JSON_DEPTH_MAX. */
int hp_json_from_msgpack (hp_buf_t *out, const msgpack_object *obj);

/* Appends s as a quoted JSON string: ", \ and control characters escaped,
 * invalid UTF-8 sequences replaced by U+FFFD. Returns 0 or -1 (limit). */
int hp_json_put_string (hp_buf_t *out, const char *s, size_t n);

#endif
