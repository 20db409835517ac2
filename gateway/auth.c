/* auth.c -- verify a client's JWT (HS256, sub, exp) against the shared secret. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>

#include "envelope.h"

static const char *s_names[GW_AUTH_RESULT_COUNT] = {
    "ok", "bad_token", "bad_alg", "bad_sub", "bad_exp", "expired"
};

const char *
gw_auth_result_name (gw_auth_result_t result)
{
    return result < GW_AUTH_RESULT_COUNT ? s_names[result] : "unknown";
}

/* Claims are read from libjwt's JSON dump with jansson rather than with
 * jwt_get_grant_int, which cannot tell a missing exp from a float one and
 * accepts no fractional NumericDate. */
static gw_auth_result_t
s_check_claims (jwt_t *jwt, time_t now, char *user, size_t *user_len)
{
    char *text = jwt_get_grants_json (jwt, NULL);
    if (!text)
        return GW_AUTH_BAD_SUB;
    json_t *claims = json_loads (text, JSON_DECODE_ANY, NULL);
    free (text);
    gw_auth_result_t result = GW_AUTH_OK;
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
    json_t *exp = json_object_get (claims, "exp");
    if (!json_is_number (exp)) {
        result = GW_AUTH_BAD_EXP;
        goto done;
    }
    if (json_number_value (exp) <= (double) now) {
        result = GW_AUTH_EXPIRED;
        goto done;
    }
    memcpy (user, s, len);
    user[len] = '\0';
    *user_len = len;
done:
    json_decref (claims);
    return result;
}

gw_auth_result_t
gw_auth_verify (const unsigned char *secret, size_t secret_len, const char *token,
                time_t now, char *user, size_t *user_len)
{
    jwt_t *jwt = NULL;
    if (!token || !*token || secret_len == 0 || secret_len > 0x7fffffff)
        return GW_AUTH_BAD_TOKEN;
    /* jwt_decode verifies the signature with the key for the token's own
     * alg; the alg check below is what refuses "none" and the other HS/RS
     * algorithms (libjwt 1.10 accepts some of them with a key). */
    if (jwt_decode (&jwt, token, secret, (int) secret_len) != 0 || !jwt)
        return GW_AUTH_BAD_TOKEN;
    gw_auth_result_t result = jwt_get_alg (jwt) == JWT_ALG_HS256
                            ? s_check_claims (jwt, now, user, user_len)
                            : GW_AUTH_BAD_ALG;
    jwt_free (jwt);
    return result;
}
