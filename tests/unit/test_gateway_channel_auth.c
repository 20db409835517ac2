/* test_gateway_channel_auth.c -- gateway/channel_auth.c: the channels claim (exact names, prefixes), subscription tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <jwt.h>

#include "auth.h"
#include "channel_auth.h"

#define SECRET "unit-test-secret"

/* A claim from JSON text (NULL text: no claim). Returns parse's result. */
static int
s_claim (const char *json, gw_channel_claim_t **out)
{
    json_t *value = json ? json_loads (json, JSON_DECODE_ANY, NULL) : NULL;
    if (json)
        assert_non_null (value);
    int rc = gw_channel_claim_parse (value, out);
    json_decref (value);
    return rc;
}

static bool
s_allows (const gw_channel_claim_t *claim, const char *name)
{
    return gw_channel_claim_allows (claim, name, strlen (name));
}

static void
test_exact_names_and_prefixes (void **state)
{
    gw_channel_claim_t *claim = NULL;
    assert_int_equal (s_claim ("[\"board\",\"order:*\",\"team/a@x=1\"]", &claim), 0);
    assert_non_null (claim);
    assert_true (s_allows (claim, "board"));
    assert_true (s_allows (claim, "team/a@x=1"));
    //  a prefix ending in * matches every name that begins with it
    assert_true (s_allows (claim, "order:17"));
    assert_true (s_allows (claim, "order:"));
    assert_true (s_allows (claim, "order:17:thread"));
    //  exact entries are not prefixes, and nothing else matches
    assert_false (s_allows (claim, "boards"));
    assert_false (s_allows (claim, "boar"));
    assert_false (s_allows (claim, "order"));
    assert_false (s_allows (claim, "Order:17"));
    assert_false (s_allows (claim, "x"));
    gw_channel_claim_destroy (&claim);
    assert_null (claim);
}

static void
test_star_alone_matches_all (void **state)
{
    gw_channel_claim_t *claim = NULL;
    assert_int_equal (s_claim ("[\"*\"]", &claim), 0);
    assert_true (s_allows (claim, "a"));
    assert_true (s_allows (claim, "order:17"));
    gw_channel_claim_destroy (&claim);
}

static void
test_absent_or_empty_allows_nothing (void **state)
{
    gw_channel_claim_t *claim = (gw_channel_claim_t *) 1;
    assert_int_equal (s_claim (NULL, &claim), 0);
    assert_null (claim);
    assert_false (s_allows (NULL, "board"));
    claim = (gw_channel_claim_t *) 1;
    assert_int_equal (s_claim ("[]", &claim), 0);
    assert_null (claim);
}

static void
test_malformed_claims_are_refused (void **state)
{
    const char *bad[] = {
        "\"board\"", "{}", "7", "null", "[7]", "[\"board\",null]", "[\"\"]",
        "[\"has space\"]", "[\"a*b\"]", "[\"**\"]", "[\"order:**\"]", "[\"*x\"]",
        "[\"caf\\u00e9\"]", "[[\"board\"]]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gw_channel_claim_t *claim = (gw_channel_claim_t *) 1;
        if (s_claim (bad[i], &claim) != -1)
            fail_msg ("accepted as a channels claim: %s", bad[i]);
        assert_null (claim);
    }
    //  129 bytes is one too many for a name; a 128-byte prefix and * is fine
    char name[140], json[160];
    memset (name, 'a', 129);
    name[129] = '\0';
    gw_channel_claim_t *claim = NULL;
    snprintf (json, sizeof json, "[\"%s\"]", name);
    assert_int_equal (s_claim (json, &claim), -1);
    name[128] = '*';
    snprintf (json, sizeof json, "[\"%s\"]", name);
    assert_int_equal (s_claim (json, &claim), 0);
    name[128] = '\0';
    assert_true (s_allows (claim, name));
    gw_channel_claim_destroy (&claim);
}

/* A token signed with libjwt; claims_json holds every grant. Caller frees. */
static char *
s_token (const char *secret, const char *fmt, ...)
{
    char claims[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (claims, sizeof claims, fmt, ap);
    va_end (ap);
    jwt_t *jwt = NULL;
    assert_int_equal (jwt_new (&jwt), 0);
    assert_int_equal (jwt_add_grants_json (jwt, claims), 0);
    assert_int_equal (jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) secret,
                                   (int) strlen (secret)), 0);
    char *token = jwt_encode_str (jwt);
    jwt_free (jwt);
    assert_non_null (token);
    return token;
}

static gw_channel_auth_ctx_t
s_ctx (const char *user, const gw_channel_claim_t *claim, const gw_auth_policy_t *policy)
{
    return (gw_channel_auth_ctx_t) {
        .user = user, .user_len = strlen (user), .claim = claim,
        .secret = (const unsigned char *) SECRET, .secret_len = strlen (SECRET),
        .policy = policy,
    };
}

static gw_channel_auth_t
s_authorize (const gw_channel_auth_ctx_t *ctx, const char *channel, const char *token)
{
    return gw_channel_authorize (ctx, channel, strlen (channel), token, time (NULL));
}

static void
test_authorize_by_claim_or_forbidden (void **state)
{
    gw_channel_claim_t *claim = NULL;
    assert_int_equal (s_claim ("[\"order:*\"]", &claim), 0);
    gw_channel_auth_ctx_t ctx = s_ctx ("alice", claim, NULL);
    assert_int_equal (s_authorize (&ctx, "order:17", NULL), GW_CHANNEL_AUTH_OK);
    //  the claim is enough: a token that came along is not even read
    assert_int_equal (s_authorize (&ctx, "order:17", "garbage"), GW_CHANNEL_AUTH_OK);
    assert_int_equal (s_authorize (&ctx, "board", NULL), GW_CHANNEL_AUTH_FORBIDDEN);
    ctx.claim = NULL;
    assert_int_equal (s_authorize (&ctx, "order:17", NULL), GW_CHANNEL_AUTH_FORBIDDEN);
    assert_string_equal (gw_channel_auth_name (GW_CHANNEL_AUTH_FORBIDDEN), "forbidden");
    assert_string_equal (gw_channel_auth_name (GW_CHANNEL_AUTH_BAD_TOKEN), "bad_token");
    gw_channel_claim_destroy (&claim);
}

static void
test_subscription_token (void **state)
{
    long now = (long) time (NULL);
    gw_channel_auth_ctx_t ctx = s_ctx ("alice", NULL, NULL);
    char *good = s_token (SECRET, "{\"sub\":\"alice\",\"channel\":\"order:17\",\"exp\":%ld}", now + 60);
    assert_int_equal (s_authorize (&ctx, "order:17", good), GW_CHANNEL_AUTH_OK);
    //  it grants its one channel, to its one user
    assert_int_equal (s_authorize (&ctx, "order:18", good), GW_CHANNEL_AUTH_BAD_TOKEN);
    assert_int_equal (s_authorize (&ctx, "order:1", good), GW_CHANNEL_AUTH_BAD_TOKEN);
    gw_channel_auth_ctx_t bob = s_ctx ("bob", NULL, NULL);
    assert_int_equal (s_authorize (&bob, "order:17", good), GW_CHANNEL_AUTH_BAD_TOKEN);
    free (good);

    const char *bad[] = {
        "{\"sub\":\"alice\",\"channel\":\"order:17\",\"exp\":%ld}",   /* wrong secret below */
        "{\"sub\":\"alice\",\"channel\":\"order:17\",\"exp\":%ld}",   /* expired below */
        "{\"sub\":\"alice\",\"exp\":%ld}",                           /* a connection token */
        "{\"sub\":\"alice\",\"channel\":\"order:*\",\"exp\":%ld}",   /* no patterns here */
        "{\"sub\":\"alice\",\"channel\":[\"order:17\"],\"exp\":%ld}",
        "{\"sub\":\"alice\",\"channel\":\"order:17\",\"nbf\":%ld}",  /* no exp: the nbf is the time */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *token = s_token (i == 0 ? "another-secret" : SECRET, bad[i],
                               i == 1 ? now - 3600 : now + 60);
        if (s_authorize (&ctx, "order:17", token) != GW_CHANNEL_AUTH_BAD_TOKEN)
            fail_msg ("token %zu granted order:17", i);
        free (token);
    }
    assert_int_equal (s_authorize (&ctx, "order:17", "not.a.jwt"), GW_CHANNEL_AUTH_BAD_TOKEN);
    assert_int_equal (s_authorize (&ctx, "order:17", ""), GW_CHANNEL_AUTH_BAD_TOKEN);
}

static void
test_subscription_token_obeys_the_policy (void **state)
{
    long now = (long) time (NULL);
    gw_auth_policy_t policy = { .aud = "herald", .leeway = 0 };
    gw_channel_auth_ctx_t ctx = s_ctx ("alice", NULL, &policy);
    char *no_aud = s_token (SECRET, "{\"sub\":\"alice\",\"channel\":\"c\",\"exp\":%ld}", now + 60);
    char *aud = s_token (SECRET, "{\"sub\":\"alice\",\"channel\":\"c\",\"aud\":\"herald\",\"exp\":%ld}",
                         now + 60);
    assert_int_equal (s_authorize (&ctx, "c", no_aud), GW_CHANNEL_AUTH_BAD_TOKEN);
    assert_int_equal (s_authorize (&ctx, "c", aud), GW_CHANNEL_AUTH_OK);
    free (no_aud);
    free (aud);
}

static void
test_connection_token_carries_its_claim (void **state)
{
    long now = (long) time (NULL);
    char *token = s_token (SECRET, "{\"sub\":\"alice\",\"channels\":[\"board\",\"order:*\"],\"exp\":%ld}",
                           now + 60);
    gw_auth_claims_t claims;
    assert_int_equal (gw_auth_verify ((const unsigned char *) SECRET, strlen (SECRET), NULL,
                                      token, time (NULL), &claims), GW_AUTH_OK);
    assert_non_null (claims.channels);
    assert_true (s_allows (claims.channels, "order:9"));
    assert_false (s_allows (claims.channels, "boardx"));
    gw_auth_claims_fini (&claims);
    assert_null (claims.channels);
    free (token);
    //  a malformed channels claim refuses the token itself (4001, bad_claim)
    token = s_token (SECRET, "{\"sub\":\"alice\",\"channels\":\"board\",\"exp\":%ld}", now + 60);
    assert_int_equal (gw_auth_verify ((const unsigned char *) SECRET, strlen (SECRET), NULL,
                                      token, time (NULL), &claims), GW_AUTH_BAD_CLAIM);
    assert_null (claims.channels);
    gw_auth_claims_fini (&claims);
    free (token);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_exact_names_and_prefixes),
        cmocka_unit_test (test_star_alone_matches_all),
        cmocka_unit_test (test_absent_or_empty_allows_nothing),
        cmocka_unit_test (test_malformed_claims_are_refused),
        cmocka_unit_test (test_authorize_by_claim_or_forbidden),
        cmocka_unit_test (test_subscription_token),
        cmocka_unit_test (test_subscription_token_obeys_the_policy),
        cmocka_unit_test (test_connection_token_carries_its_claim),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
