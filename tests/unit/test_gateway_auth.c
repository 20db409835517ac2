/* test_gateway_auth.c -- JWT checks: HS256 only, sub a valid user id, exp/nbf/lifetime, aud, iss, crit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jwt.h>

#include "auth.h"

#define SECRET "unit-test-secret"

/* A token signed with libjwt; claims_json holds every grant. Caller frees. */
static char *
s_token (jwt_alg_t alg, const char *secret, const char *claims_json)
{
    jwt_t *jwt = NULL;
    assert_int_equal (jwt_new (&jwt), 0);
    assert_int_equal (jwt_add_grants_json (jwt, claims_json), 0);
    assert_int_equal (jwt_set_alg (jwt, alg, (const unsigned char *) secret, (int) strlen (secret)), 0);
    char *token = jwt_encode_str (jwt);
    jwt_free (jwt);
    assert_non_null (token);
    return token;
}

static gw_auth_result_t
s_verify_policy (const char *token, const gw_auth_policy_t *policy, gw_auth_claims_t *claims)
{
    return gw_auth_verify ((const unsigned char *) SECRET, strlen (SECRET), policy, token,
                           time (NULL), claims);
}

static gw_auth_result_t
s_verify (const char *token, char *user, size_t *len)
{
    gw_auth_claims_t claims;
    gw_auth_result_t result = s_verify_policy (token, NULL, &claims);
    if (result == GW_AUTH_OK) {
        memcpy (user, claims.user, claims.user_len + 1);
        *len = claims.user_len;
    }
    return result;
}

static gw_auth_result_t
s_verify_claims (jwt_alg_t alg, const char *secret, const char *claims)
{
    char user[129];
    size_t len;
    char *token = s_token (alg, secret, claims);
    gw_auth_result_t result = s_verify (token, user, &len);
    free (token);
    return result;
}

/* A good token yields its sub. */
static void
test_valid (void **state)
{
    char claims[128], user[129];
    size_t len = 0;
    snprintf (claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%ld}", (long) time (NULL) + 60);
    char *token = s_token (JWT_ALG_HS256, SECRET, claims);
    assert_int_equal (s_verify (token, user, &len), GW_AUTH_OK);
    assert_int_equal (len, 5);
    assert_string_equal (user, "alice");
    free (token);
}

/* Signature, alg, sub and exp failures are each told apart. */
static void
test_refusals (void **state)
{
    char claims[160];
    long later = (long) time (NULL) + 60;
    snprintf (claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%ld}", later);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, "other-secret", claims), GW_AUTH_BAD_TOKEN);
    assert_int_equal (s_verify_claims (JWT_ALG_HS512, SECRET, claims), GW_AUTH_BAD_ALG);
    assert_int_equal (s_verify_claims (JWT_ALG_HS384, SECRET, claims), GW_AUTH_BAD_ALG);

    snprintf (claims, sizeof claims, "{\"exp\":%ld}", later);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_BAD_SUB);
    snprintf (claims, sizeof claims, "{\"sub\":\"\",\"exp\":%ld}", later);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_BAD_SUB);
    snprintf (claims, sizeof claims, "{\"sub\":\"a\\u0007b\",\"exp\":%ld}", later);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_BAD_SUB);
    snprintf (claims, sizeof claims, "{\"sub\":12,\"exp\":%ld}", later);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_BAD_SUB);

    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, "{\"sub\":\"alice\"}"), GW_AUTH_BAD_EXP);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, "{\"sub\":\"alice\",\"exp\":\"x\"}"),
                      GW_AUTH_BAD_EXP);
    snprintf (claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%ld}", (long) time (NULL) - 1);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_EXPIRED);
    snprintf (claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%ld.5}", later);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_OK);
}

/* A 129-byte sub is refused; 128 bytes pass. */
static void
test_sub_length (void **state)
{
    char sub[130], claims[256];
    memset (sub, 'u', 129);
    sub[129] = '\0';
    snprintf (claims, sizeof claims, "{\"sub\":\"%s\",\"exp\":%ld}", sub, (long) time (NULL) + 60);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_BAD_SUB);
    sub[128] = '\0';
    snprintf (claims, sizeof claims, "{\"sub\":\"%s\",\"exp\":%ld}", sub, (long) time (NULL) + 60);
    assert_int_equal (s_verify_claims (JWT_ALG_HS256, SECRET, claims), GW_AUTH_OK);
}

/* Unsigned (alg none) and malformed tokens never pass. */
static void
test_none_and_garbage (void **state)
{
    char user[129];
    size_t len;
    /* {"alg":"none","typ":"JWT"} . {"sub":"alice","exp":9999999999} . (empty) */
    const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                       "eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0.";
    assert_int_not_equal (s_verify (none, user, &len), GW_AUTH_OK);
    assert_int_equal (s_verify ("", user, &len), GW_AUTH_BAD_TOKEN);
    assert_int_equal (s_verify ("abc", user, &len), GW_AUTH_BAD_TOKEN);
    assert_int_equal (s_verify ("a.b.c", user, &len), GW_AUTH_BAD_TOKEN);
    assert_int_equal (s_verify ("....", user, &len), GW_AUTH_BAD_TOKEN);
    assert_string_equal (gw_auth_result_name (GW_AUTH_BAD_ALG), "bad_alg");
}

/* nbf in the future is refused, within the leeway accepted; exp likewise. */
static void
test_nbf_and_leeway (void **state)
{
    gw_auth_policy_t strict = { .leeway = 0 };
    gw_auth_policy_t skew = { .leeway = 30 };
    char claims[160];
    long now = (long) time (NULL);
    gw_auth_claims_t out;
    struct { long exp, nbf; const gw_auth_policy_t *policy; gw_auth_result_t want; } cases[] = {
        { now + 60, now + 20, &strict, GW_AUTH_NOT_YET },
        { now + 60, now + 20, &skew,   GW_AUTH_OK },
        { now + 60, now + 40, &skew,   GW_AUTH_NOT_YET },
        { now + 60, now - 5,  &strict, GW_AUTH_OK },
        { now - 10, now - 90, &strict, GW_AUTH_EXPIRED },
        { now - 10, now - 90, &skew,   GW_AUTH_OK },
        { now - 40, now - 90, &skew,   GW_AUTH_EXPIRED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld,\"nbf\":%ld}",
                  cases[i].exp, cases[i].nbf);
        char *token = s_token (JWT_ALG_HS256, SECRET, claims);
        assert_int_equal (s_verify_policy (token, cases[i].policy, &out), cases[i].want);
        free (token);
    }
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld,\"nbf\":\"soon\"}", now + 60);
    char *token = s_token (JWT_ALG_HS256, SECRET, claims);
    assert_int_equal (s_verify_policy (token, NULL, &out), GW_AUTH_BAD_CLAIM);
    free (token);
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld.25}", now + 60);
    token = s_token (JWT_ALG_HS256, SECRET, claims);
    assert_int_equal (s_verify_policy (token, NULL, &out), GW_AUTH_OK);
    assert_true (out.exp == (double) (now + 60) + 0.25);
    free (token);
}

/* --token-max-ttl: exp - iat, or exp - now without iat. */
static void
test_max_ttl (void **state)
{
    char claims[160];
    long now = (long) time (NULL);
    gw_auth_policy_t policy = { .max_ttl = 600 };
    gw_auth_claims_t out;
    struct { const char *format; long a, b; gw_auth_result_t want; } cases[] = {
        { "{\"sub\":\"a\",\"exp\":%ld,\"iat\":%ld}", now + 600, now, GW_AUTH_OK },
        { "{\"sub\":\"a\",\"exp\":%ld,\"iat\":%ld}", now + 601, now, GW_AUTH_TOO_LONG },
        /* an old iat makes the lifetime long even with little of it left */
        { "{\"sub\":\"a\",\"exp\":%ld,\"iat\":%ld}", now + 60, now - 3600, GW_AUTH_TOO_LONG },
        { "{\"sub\":\"a\",\"exp\":%ld,\"x\":%ld}", now + 590, 0, GW_AUTH_OK },
        { "{\"sub\":\"a\",\"exp\":%ld,\"x\":%ld}", now + 7200, 0, GW_AUTH_TOO_LONG },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf (claims, sizeof claims, cases[i].format, cases[i].a, cases[i].b);
        char *token = s_token (JWT_ALG_HS256, SECRET, claims);
        assert_int_equal (s_verify_policy (token, &policy, &out), cases[i].want);
        /* without the bound every one of them passes */
        assert_int_equal (s_verify_policy (token, NULL, &out), GW_AUTH_OK);
        free (token);
    }
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld,\"iat\":\"x\"}", now + 60);
    char *token = s_token (JWT_ALG_HS256, SECRET, claims);
    assert_int_equal (s_verify_policy (token, &policy, &out), GW_AUTH_BAD_CLAIM);
    free (token);
}

/* aud: a string or an array, exact match; a token with aud is refused by a
 * gateway that names none. iss: exact match. */
static void
test_aud_and_iss (void **state)
{
    char claims[256];
    long exp = (long) time (NULL) + 60;
    gw_auth_policy_t aud = { .aud = "herald" };
    gw_auth_policy_t iss = { .iss = "https://app.example" };
    gw_auth_claims_t out;
    struct { const char *extra; const gw_auth_policy_t *policy; gw_auth_result_t want; } cases[] = {
        { "",                                       NULL, GW_AUTH_OK },
        { ",\"aud\":\"herald\"",                    &aud, GW_AUTH_OK },
        { ",\"aud\":[\"other\",\"herald\"]",          &aud, GW_AUTH_OK },
        { ",\"aud\":\"heraldx\"",                   &aud, GW_AUTH_BAD_AUD },
        { ",\"aud\":\"Herald\"",                    &aud, GW_AUTH_BAD_AUD },
        { ",\"aud\":[\"other\"]",                   &aud, GW_AUTH_BAD_AUD },
        { ",\"aud\":[]",                            &aud, GW_AUTH_BAD_AUD },
        { ",\"aud\":7",                             &aud, GW_AUTH_BAD_AUD },
        { "",                                       &aud, GW_AUTH_BAD_AUD },
        { ",\"aud\":\"herald\"",                    NULL, GW_AUTH_BAD_AUD },
        { ",\"iss\":\"https://app.example\"",       &iss, GW_AUTH_OK },
        { ",\"iss\":\"https://app.example/\"",      &iss, GW_AUTH_BAD_ISS },
        { ",\"iss\":[\"https://app.example\"]",     &iss, GW_AUTH_BAD_ISS },
        { "",                                       &iss, GW_AUTH_BAD_ISS },
        { ",\"iss\":\"anyone\"",                    NULL, GW_AUTH_OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld%s}", exp, cases[i].extra);
        char *token = s_token (JWT_ALG_HS256, SECRET, claims);
        assert_int_equal (s_verify_policy (token, cases[i].policy, &out), cases[i].want);
        free (token);
    }
}

/* A crit header is refused: no extension is understood. */
static void
test_crit (void **state)
{
    char claims[128];
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld}", (long) time (NULL) + 60);
    jwt_t *jwt = NULL;
    assert_int_equal (jwt_new (&jwt), 0);
    assert_int_equal (jwt_add_grants_json (jwt, claims), 0);
    assert_int_equal (jwt_add_headers_json (jwt, "{\"crit\":[\"exp\"]}"), 0);
    assert_int_equal (jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) SECRET,
                                   (int) strlen (SECRET)), 0);
    char *token = jwt_encode_str (jwt);
    jwt_free (jwt);
    gw_auth_claims_t out;
    assert_int_equal (s_verify_policy (token, NULL, &out), GW_AUTH_CRIT);
    free (token);
}

/* Every single-character change to a good signature is refused by the
 * constant-time check, as are a truncated and an extended one. */
static void
test_signature_tampering (void **state)
{
    char claims[128];
    snprintf (claims, sizeof claims, "{\"sub\":\"a\",\"exp\":%ld}", (long) time (NULL) + 60);
    char *token = s_token (JWT_ALG_HS256, SECRET, claims);
    char user[129];
    size_t len;
    size_t n = strlen (token), sig = (size_t) (strrchr (token, '.') - token) + 1;
    for (size_t i = sig; i < n; i++) {
        char saved = token[i];
        token[i] = saved == 'A' ? 'B' : 'A';
        assert_int_equal (s_verify (token, user, &len), GW_AUTH_BAD_TOKEN);
        token[i] = saved;
    }
    assert_int_equal (s_verify (token, user, &len), GW_AUTH_OK);
    token[n - 1] = '\0';
    assert_int_equal (s_verify (token, user, &len), GW_AUTH_BAD_TOKEN);
    char *longer = malloc (n + 2);
    memcpy (longer, token, n - 1);
    memcpy (longer + n - 1, "AAA", 3);
    longer[n + 1] = '\0';
    assert_int_equal (s_verify (longer, user, &len), GW_AUTH_BAD_TOKEN);
    free (longer);
    free (token);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_valid),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_sub_length),
        cmocka_unit_test (test_none_and_garbage),
        cmocka_unit_test (test_nbf_and_leeway),
        cmocka_unit_test (test_max_ttl),
        cmocka_unit_test (test_aud_and_iss),
        cmocka_unit_test (test_crit),
        cmocka_unit_test (test_signature_tampering),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
