/* json_pack.c -- pack a jansson JSON value as msgpack (herald-push's data, a browser's send). */
#include <string.h>

#include "json_pack.h"

/* depth_left: how many more arrays/objects may open below this point. */
static int
s_pack (msgpack_packer *pk, const json_t *value, int depth_left)
{
    if ((json_is_object (value) || json_is_array (value)) && depth_left-- <= 0)
        return -1;
    switch (json_typeof (value)) {
        case JSON_OBJECT: {
            const char *key;
            json_t *member;
            if (msgpack_pack_map (pk, json_object_size (value)) != 0)
                return -1;
            //  jansson's iteration macro wants a non-const object; it only reads.
            json_object_foreach ((json_t *) value, key, member) {
                size_t len = strlen (key);
                if (msgpack_pack_str (pk, len) != 0
                ||  msgpack_pack_str_body (pk, key, len) != 0
                ||  s_pack (pk, member, depth_left) != 0)
                    return -1;
            }
            return 0;
        }
        case JSON_ARRAY: {
            size_t size = json_array_size (value);
            if (msgpack_pack_array (pk, size) != 0)
                return -1;
            for (size_t i = 0; i < size; i++)
                if (s_pack (pk, json_array_get (value, i), depth_left) != 0)
                    return -1;
            return 0;
        }
        case JSON_STRING: {
            //  json_string_length, not strlen: JSON strings may hold \u0000.
            size_t len = json_string_length (value);
            if (msgpack_pack_str (pk, len) != 0)
                return -1;
            return msgpack_pack_str_body (pk, json_string_value (value), len);
        }
        case JSON_INTEGER:
            return msgpack_pack_int64 (pk, (int64_t) json_integer_value (value));
        case JSON_REAL:
            return msgpack_pack_double (pk, json_real_value (value));
        case JSON_TRUE:
            return msgpack_pack_true (pk);
        case JSON_FALSE:
            return msgpack_pack_false (pk);
        case JSON_NULL:
            return msgpack_pack_nil (pk);
    }
    return -1;
}

int
hp_json_pack (msgpack_packer *pk, const json_t *value, int max_depth)
{
    return s_pack (pk, value, max_depth);
}
