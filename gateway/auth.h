/* auth.h -- verify a client's JWT (HS256, sub, exp, nbf, aud, iss, lifetime) against the shared secret. */
#ifndef HERALD_GW_AUTH_H
#define HERALD_GW_AUTH_H

#include <stddef.h>
#include <time.h>

#include "envelope.h"

typedef struct gw_channel_claim gw_channel_claim_t;

typedef enum {
    GW_AUTH_OK = 0,
    GW_AUTH_BAD_TOKEN,   /* not a JWT, or the signature does not verify -> 4001 */
    GW_AUTH_BAD_ALG,     /* any alg but HS256, including none -> 4001 */
    GW_AUTH_BAD_SUB,     /* sub missing, not a string, not a valid user id -> 4001 */
    GW_AUTH_BAD_EXP,     /* exp missing or not a number -> 4001 */
    GW_AUTH_EXPIRED,     /* exp + leeway <= now -> 4002 */
    GW_AUTH_BAD_CLAIM,   /* nbf or iat not a number, aud or iss of the wrong type, a
                          * malformed channels claim -> 4001 */
    GW_AUTH_NOT_YET,     /* nbf - leeway > now -> 4001 */
    GW_AUTH_TOO_LONG,    /* exp - iat (or exp - now) over the policy's max_ttl -> 4001 */
    GW_AUTH_BAD_AUD,     /* the policy names an audience the token does not list -> 4001 */
    GW_AUTH_BAD_ISS,     /* the policy names an issuer the token does not carry -> 4001 */
    GW_AUTH_CRIT,        /* a "crit" header: we understand no extension -> 4001 */
    GW_AUTH_RESULT_COUNT
} gw_auth_result_t;

/* The optional checks, from the gateway's --token-* flags. A plain record. */
typedef struct {
    const char *aud;     /* required audience (exact match), NULL: not checked */
    const char *iss;     /* required issuer (exact match), NULL: not checked */
    long max_ttl;        /* longest lifetime accepted in seconds, 0: unbounded */
    long leeway;         /* clock skew allowed on exp and nbf, in seconds */
} gw_auth_policy_t;

/* What a token that passed says. */
typedef struct {
    char user[129];      /* sub, NUL-terminated (1-128 bytes, no NUL inside) */
    size_t user_len;
    double exp;          /* the exp claim (NumericDate, may be fractional) */
    /* "channels" (channel_auth.h): the channels a connection with this
     * token may subscribe; NULL when absent or empty. Owned by the claims
     * until the caller takes it (and nulls the field) or calls fini. */
    gw_channel_claim_t *channels;
    /* "channel": the one channel a subscription token grants, when it is a
     * valid channel name; channel_len 0 otherwise. */
    char channel[HP_CHANNEL_MAX + 1];
    size_t channel_len;
} gw_auth_claims_t;

/* Metric label for a result ("bad_token", "bad_alg", ...). */
const char *gw_auth_result_name (gw_auth_result_t result);

/* Verifies token (NUL-terminated, untrusted) with secret under policy (NULL:
 * no optional checks, no leeway). On GW_AUTH_OK fills *claims (release
 * with gw_auth_claims_fini; after another result it holds nothing, and
 * fini is harmless). The HMAC is
 * recomputed here and compared in constant time (OpenSSL's CRYPTO_memcmp),
 * so the check does not depend on how a given libjwt compares signatures. */
gw_auth_result_t gw_auth_verify (const unsigned char *secret, size_t secret_len,
                                 const gw_auth_policy_t *policy, const char *token,
                                 time_t now, gw_auth_claims_t *claims);

/* Frees what verified claims hold (the channels claim, unless taken). */
void gw_auth_claims_fini (gw_auth_claims_t *claims);

#endif
