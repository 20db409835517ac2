/* json_valid.h -- fuzz helper: is this text valid JSON? (jansson, strict) */
#ifndef HERALD_FUZZ_JSON_VALID_H
#define HERALD_FUZZ_JSON_VALID_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

//  Parses text with jansson and returns the value (caller decrefs) or NULL.
//  Two jansson limits are not JSON rules and are lifted: integers past
//  int64 are read as reals, and "\u0000" (which jansson refuses inside
//  object keys) is checked as "\u0001" -- same length, same validity.
static inline json_t *
fuzz_json_parse (const char *text, size_t len)
{
    char *copy = malloc (len ? len : 1);
    if (!copy)
        abort ();
    memcpy (copy, text, len);
    for (size_t i = 0; i + 6 <= len; i++)
        if (memcmp (copy + i, "\\u0000", 6) == 0)
            copy [i + 5] = '1';
    json_t *parsed = json_loadb (copy, len,
                                 JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL,
                                 NULL);
    free (copy);
    return parsed;
}

static inline bool
fuzz_json_valid (const char *text, size_t len)
{
    json_t *parsed = fuzz_json_parse (text, len);
    json_decref (parsed);
    return parsed != NULL;
}

#endif
