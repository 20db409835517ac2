/* event_meta.h -- a test fixture: the meta (flags, receipt, key) an event at an offset gets. */
#ifndef HERALD_TEST_EVENT_META_H
#define HERALD_TEST_EVENT_META_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "envelope.h"

/* Offsets 3k: a receipt and a key; 3k+1: a key only; 3k+2: none. The
 * history, store and catch-up tests store every event with this meta and
 * check it on the way back, so each round trip proves meta survives. */
static inline hp_event_meta_t
s_meta_of (uint64_t offset)
{
    static const char *keys[] = { "price:EURUSD", "k" };
    const char *key = keys[offset / 3 % 2];
    switch (offset % 3) {
        case 0:  return hp_event_meta ((uint16_t) (offset % 3600 + 1), key, strlen (key));
        case 1:  return hp_event_meta (0, key, strlen (key));
        default: return hp_event_meta (0, NULL, 0);
    }
}

/* True when got is what s_meta_of (offset) gave. */
static inline bool
s_meta_is (const hp_event_meta_t *got, uint64_t offset)
{
    hp_event_meta_t want = s_meta_of (offset);
    return got->flags == want.flags && got->receipt == want.receipt
        && got->key.len == want.key.len
        && (want.key.len == 0 || memcmp (got->key.ptr, want.key.ptr, want.key.len) == 0);
}

#endif
