/* auth.c -- verify a client's JWT (HS256, sub, exp, nbf, aud, iss, lifetime) against the shared secret. */
#include "auth.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "channel_auth.h"
#include "envelope.h"

/* base64url of a 32-byte HMAC-SHA256, without padding */
#define GW_SIG_LEN 43

static const char *s_names[GW_AUTH_RESULT_COUNT] = {
    "ok", "bad_token", "bad_alg", "bad_sub", "bad_exp", "expired",
    "bad_claim", "not_yet", "too_long", "bad_aud", "bad_iss", "crit"
};

const char *
gw_auth_result_name (gw_auth_result_t result)
{
    return result < GW_AUTH_RESULT_COUNT ? s_names[result] : "unknown";
}

/* True when the token's last segment is the HS256 signature of the rest.
 * Done here, before libjwt sees the token, with a constant-time compare:
 * libjwt before 1.15.3 compared with strcmp (CVE-2024-25189), and a
 * distribution's patched 1.10.2 reports the same version as an unpatched
 * one, so no version check at build time can tell them apart. */
static bool
s_signature_ok (const unsigned char *secret, size_t secret_len, const char *token)
{
    const char *dot = strrchr (token, '.');
    if (!dot || strlen (dot + 1) != GW_SIG_LEN)
        return false;   /* the length of a signature is no secret */
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC (EVP_sha256 (), secret, (int) secret_len, (const unsigned char *) token,
               (size_t) (dot - token), mac, &mac_len) || mac_len != 32)
        return false;
    unsigned char b64[48];
    int n = EVP_EncodeBlock (b64, mac, 32);   /* 44 chars, one '=' of padding */
    OPENSSL_cleanse (mac, sizeof mac);
    if (n != 44)
        return false;
    for (int i = 0; i < GW_SIG_LEN; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    bool ok = CRYPTO_memcmp (b64, dot + 1, GW_SIG_LEN) == 0;
    OPENSSL_cleanse (b64, sizeof b64);
    return ok;
}

/* For a token whose signature failed: BAD_ALG when its header names another
 * alg (the metric tells a misconfigured issuer from a forgery), else
 * BAD_TOKEN. libjwt given no key parses without verifying anything. */
static gw_auth_result_t
s_classify_failure (const char *token)
{
    jwt_t *jwt = NULL;
    gw_auth_result_t result = GW_AUTH_BAD_TOKEN;
    if (jwt_decode (&jwt, token, NULL, 0) == 0 && jwt) {
        const char *alg = jwt_get_header (jwt, "alg");
        if (alg && strcmp (alg, "HS256") != 0)
            result = GW_AUTH_BAD_ALG;
    }
    jwt_free (jwt);
    return result;
}

/* True when a JSON string equals the NUL-terminated want, byte for byte. */
static bool
s_string_is (json_t *value, const char *want)
{
    return json_is_string (value) && json_string_length (value) == strlen (want)
        && memcmp (json_string_value (value), want, strlen (want)) == 0;
}

/* RFC 7519 4.1.3: aud is one string or an array of them; a token with an
 * aud this gateway does not identify with is refused, also when no
 * --token-aud is set (then it identifies with none). */
static bool
s_audience_ok (json_t *aud, const char *want)
{
    if (!aud)
        return want == NULL;
    if (!want)
        return false;
    if (json_is_array (aud)) {
        size_t i;
        json_t *item;
        json_array_foreach (aud, i, item)
            if (s_string_is (item, want))
                return true;
        return false;
    }
    return s_string_is (aud, want);
}

/* A NumericDate claim: absent (returns 0, *present false), a number (0),
 * or anything else (-1). */
static int
s_date (json_t *claims, const char *name, double *value, bool *present)
{
    json_t *v = json_object_get (claims, name);
    *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_number (v))
        return -1;
    *value = json_number_value (v);
    return 0;
}

static gw_auth_result_t
s_check_header (jwt_t *jwt)
{
    /* RFC 7515 4.1.11: a recipient must refuse extensions it does not
     * understand; we understand none, so any crit is refused */
    char *text = jwt_get_headers_json (jwt, NULL);
    json_t *head = text ? json_loads (text, JSON_DECODE_ANY, NULL) : NULL;
    free (text);
    gw_auth_result_t result = !json_is_object (head) ? GW_AUTH_BAD_TOKEN
                            : json_object_get (head, "crit") ? GW_AUTH_CRIT
                            : GW_AUTH_OK;
    json_decref (head);
    return result;
}

/* Claims are read from libjwt's JSON dump with jansson rather than with
 * jwt_get_grant_int, which cannot tell a missing exp from a float one and
 * accepts no fractional NumericDate. Ill-typed claims are refused before
 * any time is compared. */
static gw_auth_result_t
s_check_claims (jwt_t *jwt, const gw_auth_policy_t *policy, time_t now,
                gw_auth_claims_t *out)
{
    char *text = jwt_get_grants_json (jwt, NULL);
    if (!text)
        return GW_AUTH_BAD_SUB;
    json_t *claims = json_loads (text, JSON_DECODE_ANY, NULL);
    free (text);
    gw_auth_result_t result = GW_AUTH_OK;
    double leeway = policy ? (double) policy->leeway : 0;
    double t = (double) now, exp = 0, nbf = 0, iat = 0;
    bool has_nbf, has_iat, has_exp;
    if (!json_is_object (claims)) {
        result = GW_AUTH_BAD_TOKEN;
        goto done;
    }
    json_t *sub = json_object_get (claims, "sub");
    const char *s = json_is_string (sub) ? json_string_value (sub) : NULL;
    size_t len = s ? json_string_length (sub) : 0;
    /* strlen catches an embedded \u0000, which hp_user_id_valid also refuses */
    if (!s || len > HP_USER_MAX || strlen (s) != len || !hp_user_id_valid (s, len)) {
        result = GW_AUTH_BAD_SUB;
        goto done;
    }
    if (s_date (claims, "exp", &exp, &has_exp) != 0 || !has_exp) {
        result = GW_AUTH_BAD_EXP;
        goto done;
    }
    if (s_date (claims, "nbf", &nbf, &has_nbf) != 0
    ||  s_date (claims, "iat", &iat, &has_iat) != 0) {
        result = GW_AUTH_BAD_CLAIM;
        goto done;
    }
    if (exp + leeway <= t)
        result = GW_AUTH_EXPIRED;
    else if (has_nbf && nbf - leeway > t)
        result = GW_AUTH_NOT_YET;
    else if (policy && policy->max_ttl > 0
         &&  exp - (has_iat ? iat : t) > (double) policy->max_ttl)
        result = GW_AUTH_TOO_LONG;
    else if (!s_audience_ok (json_object_get (claims, "aud"), policy ? policy->aud : NULL))
        result = GW_AUTH_BAD_AUD;
    else if (policy && policy->iss && !s_string_is (json_object_get (claims, "iss"), policy->iss))
        result = GW_AUTH_BAD_ISS;
    if (result != GW_AUTH_OK)
        goto done;
    if (gw_channel_claim_parse (json_object_get (claims, "channels"), &out->channels) != 0) {
        result = GW_AUTH_BAD_CLAIM;
        goto done;
    }
    /* a subscription token's grant; ignored when it names no valid channel
     * (it then grants nothing, and a connection token needs none) */
    json_t *channel = json_object_get (claims, "channel");
    const char *c = json_is_string (channel) ? json_string_value (channel) : NULL;
    size_t c_len = c ? json_string_length (channel) : 0;
    if (c && strlen (c) == c_len && hp_channel_name_valid (c, c_len)) {
        memcpy (out->channel, c, c_len);
        out->channel[c_len] = '\0';
        out->channel_len = c_len;
    }
    memcpy (out->user, s, len);
    out->user[len] = '\0';
    out->user_len = len;
    out->exp = exp;
done:
    json_decref (claims);
    return result;
}

gw_auth_result_t
gw_auth_verify (const unsigned char *secret, size_t secret_len,
                const gw_auth_policy_t *policy, const char *token, time_t now,
                gw_auth_claims_t *claims)
{
    claims->channels = NULL;
    claims->channel_len = 0;
    if (!token || !*token || secret_len == 0 || secret_len > 0x7fffffff)
        return GW_AUTH_BAD_TOKEN;
    if (!s_signature_ok (secret, secret_len, token))
        return s_classify_failure (token);
    /* The signature is good, so libjwt's own check (with the key for the
     * token's alg) can only agree; the alg check is what refuses a header
     * naming "none" or another algorithm over an HS256 signature. */
    jwt_t *jwt = NULL;
    if (jwt_decode (&jwt, token, secret, (int) secret_len) != 0 || !jwt) {
        jwt_free (jwt);
        return s_classify_failure (token);
    }
    gw_auth_result_t result = jwt_get_alg (jwt) != JWT_ALG_HS256 ? GW_AUTH_BAD_ALG
                            : s_check_header (jwt);
    if (result == GW_AUTH_OK)
        result = s_check_claims (jwt, policy, now, claims);
    jwt_free (jwt);
    return result;
}

void
gw_auth_claims_fini (gw_auth_claims_t *claims)
{
    gw_channel_claim_destroy (&claims->channels);
}
