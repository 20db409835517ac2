/* channel_auth.c -- which channels a connection may subscribe: its token's channels claim, or a subscription token.
 *
 * Pure checks, no I/O: client.c asks, with the connection's user and claim,
 * before a subscribe reaches the connection's channel set. */
#include "channel_auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "envelope.h"

/* Entries packed one after another: a length byte, then the entry's bytes
 * (a name of 1-128 bytes, or a prefix of 0-128 bytes then '*': at most 129). */
struct gw_channel_claim {
    uint32_t count;
    uint32_t len;
    unsigned char data[];
};

/* A name, or a prefix of name bytes ending in one '*' ("*" alone: empty). */
static bool
s_entry_valid (const char *s, size_t len)
{
    if (len > 0 && s[len - 1] == '*')
        return len == 1 || hp_channel_name_valid (s, len - 1);
    return hp_channel_name_valid (s, len);
}

int
gw_channel_claim_parse (json_t *value, gw_channel_claim_t **out)
{
    *out = NULL;
    if (!value)
        return 0;
    if (!json_is_array (value))
        return -1;
    size_t bytes = 0, i;
    json_t *item;
    json_array_foreach (value, i, item) {
        if (!json_is_string (item)
        ||  strlen (json_string_value (item)) != json_string_length (item)
        ||  !s_entry_valid (json_string_value (item), json_string_length (item)))
            return -1;
        bytes += 1 + json_string_length (item);
    }
    if (json_array_size (value) == 0)
        return 0;
    if (bytes > UINT32_MAX)
        return -1;
    gw_channel_claim_t *self = malloc (sizeof *self + bytes);
    if (!self)
        return -1;
    self->count = (uint32_t) json_array_size (value);
    self->len = (uint32_t) bytes;
    unsigned char *p = self->data;
    json_array_foreach (value, i, item) {
        size_t len = json_string_length (item);
        *p++ = (unsigned char) len;
        memcpy (p, json_string_value (item), len);
        p += len;
    }
    *out = self;
    return 0;
}

void
gw_channel_claim_destroy (gw_channel_claim_t **self_p)
{
    if (!self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

bool
gw_channel_claim_allows (const gw_channel_claim_t *self, const char *name, size_t len)
{
    if (!self)
        return false;
    const unsigned char *p = self->data, *end = self->data + self->len;
    while (p < end) {
        size_t n = *p++;
        const char *entry = (const char *) p;
        p += n;
        if (n > 0 && entry[n - 1] == '*') {
            if (len >= n - 1 && memcmp (name, entry, n - 1) == 0)
                return true;
        }
        else if (n == len && memcmp (name, entry, n) == 0)
            return true;
    }
    return false;
}

gw_channel_auth_t
gw_channel_authorize (const gw_channel_auth_ctx_t *ctx, const char *channel, size_t len,
                      const char *token, time_t now)
{
    if (gw_channel_claim_allows (ctx->claim, channel, len))
        return GW_CHANNEL_AUTH_OK;
    if (!token)
        return GW_CHANNEL_AUTH_FORBIDDEN;
    gw_auth_claims_t claims;
    gw_auth_result_t result = gw_auth_verify (ctx->secret, ctx->secret_len, ctx->policy,
                                              token, now, &claims);
    bool ok = result == GW_AUTH_OK
           && claims.user_len == ctx->user_len && memcmp (claims.user, ctx->user, ctx->user_len) == 0
           && claims.channel_len == len && memcmp (claims.channel, channel, len) == 0;
    gw_auth_claims_fini (&claims);
    return ok ? GW_CHANNEL_AUTH_OK : GW_CHANNEL_AUTH_BAD_TOKEN;
}

const char *
gw_channel_auth_name (gw_channel_auth_t result)
{
    switch (result) {
    case GW_CHANNEL_AUTH_OK:        return "ok";
    case GW_CHANNEL_AUTH_FORBIDDEN: return "forbidden";
    case GW_CHANNEL_AUTH_BAD_TOKEN: return "bad_token";
    }
    return "unknown";
}
