/* blob.c -- one refcounted outgoing text frame with LWS_PRE headroom. */
#include "blob.h"
#include "hash.h"
#include "wire.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

/* Process-wide count of live blobs: the gateway is single-threaded, and this
 * is a diagnostic counter, not state anything depends on. */
static size_t s_live;

gw_blob_t *
gw_blob_new (const void *bytes, size_t len, uint64_t offset, uint64_t at)
{
    return gw_blob_new_event (bytes, len, offset, at, 0, NULL, 0);
}

gw_blob_t *
gw_blob_new_event (const void *bytes, size_t len, uint64_t offset, uint64_t at,
                   uint8_t flags, const char *key, size_t key_len)
{
    if (!(flags & HP_WIRE_FLAG_KEY) || !key || key_len > HP_KEY_MAX)
        key_len = 0;
    if (len > UINT32_MAX - LWS_PRE - sizeof (gw_blob_t) - HP_KEY_MAX)
        return NULL;
    gw_blob_t *blob = malloc (sizeof *blob + LWS_PRE + len + key_len);
    if (!blob)
        return NULL;
    blob->flags = key_len ? flags : (uint8_t) (flags & ~HP_WIRE_FLAG_KEY);
    blob->key_len = (uint8_t) key_len;
    blob->key = NULL;
    blob->key_hash = 0;
    blob->refs = 1;
    blob->len = (uint32_t) len;
    blob->offset = offset;
    blob->at = at;
    blob->replay = false;
    blob->broadcast = false;
    blob->payload = (unsigned char *) (blob + 1) + LWS_PRE;
    if (len)
        memcpy (blob->payload, bytes, len);
    if (key_len) {
        char *copy = (char *) blob->payload + len;
        memcpy (copy, key, key_len);
        blob->key = copy;
        blob->key_hash = hp_hash (copy, key_len);
    }
    s_live++;
    return blob;
}

gw_blob_t *
gw_blob_ref (gw_blob_t *blob)
{
    assert (blob && blob->refs > 0 && blob->refs < UINT32_MAX);
    blob->refs++;
    return blob;
}

void
gw_blob_release (gw_blob_t **blob_p)
{
    if (!blob_p || !*blob_p)
        return;
    gw_blob_t *blob = *blob_p;
    *blob_p = NULL;
    assert (blob->refs > 0);
    if (--blob->refs == 0) {
        s_live--;
        free (blob);
    }
}

size_t
gw_blob_live_count (void)
{
    return s_live;
}
