/* test_gateway_auth.c -- JWT checks: HS256 only, sub a valid user id, exp present and future. */
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
s_verify (const char *token, char *user, size_t *len)
{
    return gw_auth_verify ((const unsigned char *) SECRET, strlen (SECRET), token,
                           time (NULL), user, len);
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_valid),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_sub_length),
        cmocka_unit_test (test_none_and_garbage),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
