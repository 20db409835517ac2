/* channel_auth.h -- which channels a connection may subscribe: its token's channels claim, or a subscription token. */
#ifndef HERALD_GW_CHANNEL_AUTH_H
#define HERALD_GW_CHANNEL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "auth.h"

struct json_t;

/* A token's "channels" claim, parsed once at auth (or refresh) and kept by
 * the connection: entries that are channel names (exact) or prefixes ending
 * in '*' ("order:*" matches every name beginning with "order:", "*" alone
 * every name). One allocation; its size is bounded by the client frame that
 * carried the token (8 KiB). */
typedef struct gw_channel_claim gw_channel_claim_t;

/* Reads a "channels" claim value. An absent claim (value NULL) or an empty
 * array gives 0 with *out NULL (no channel by claim). An array of valid
 * entries gives 0 with *out set: the caller owns it (gw_channel_claim_destroy).
 * Anything else -- not an array, an item that is not a string, an entry
 * that is neither a channel name nor a prefix of channel-name bytes ending
 * in one '*' -- gives -1 (the token is refused: bad_claim), as does running
 * out of memory. */
int gw_channel_claim_parse (struct json_t *value, gw_channel_claim_t **out);

/* Frees a claim; NULL is fine. Nulls *self_p. */
void gw_channel_claim_destroy (gw_channel_claim_t **self_p);

/* True when the claim (NULL: empty) allows the channel name. O(entries). */
bool gw_channel_claim_allows (const gw_channel_claim_t *self, const char *name, size_t len);

/* The outcome of a subscribe's authorization (the refusals are the error
 * frame's reasons, PROTOCOL.md). */
typedef enum {
    GW_CHANNEL_AUTH_OK = 0,
    GW_CHANNEL_AUTH_FORBIDDEN,  /* the claim does not allow it and no token came */
    GW_CHANNEL_AUTH_BAD_TOKEN,  /* a subscription token came that does not grant it */
} gw_channel_auth_t;

/* What a subscribe is checked against: the connection's user and claim,
 * and the gateway's secret and token policy. */
typedef struct {
    const char *user;           /* the connection's user (its token's sub) */
    size_t user_len;
    const gw_channel_claim_t *claim;    /* the connection token's channels, or NULL */
    const unsigned char *secret;
    size_t secret_len;
    const gw_auth_policy_t *policy;
} gw_channel_auth_ctx_t;

/* May the connection subscribe the channel (a valid name)? Allowed by the
 * claim: OK, whatever token came. Else, with a subscription token (token
 * not NULL): OK when it passes every check of a connection token (HS256
 * with the secret, exp, nbf, aud, iss, max ttl: gw_auth_verify at now),
 * its sub is the connection's user and its "channel" claim is exactly the
 * channel; BAD_TOKEN otherwise. Without a token: FORBIDDEN. */
gw_channel_auth_t gw_channel_authorize (const gw_channel_auth_ctx_t *ctx, const char *channel,
                                        size_t len, const char *token, time_t now);

/* The refused_total label of a refusal ("forbidden", "bad_token"). */
const char *gw_channel_auth_name (gw_channel_auth_t result);

#endif
