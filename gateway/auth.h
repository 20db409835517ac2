/* auth.h -- verify a client's JWT (HS256, sub, exp) against the shared secret. */
#ifndef HERALD_GW_AUTH_H
#define HERALD_GW_AUTH_H

#include <stddef.h>
#include <time.h>

typedef enum {
    GW_AUTH_OK = 0,
    GW_AUTH_BAD_TOKEN,   /* not a JWT, or the signature does not verify -> 4001 */
    GW_AUTH_BAD_ALG,     /* any alg but HS256, including none -> 4001 */
    GW_AUTH_BAD_SUB,     /* sub missing, not a string, not a valid user id -> 4001 */
    GW_AUTH_BAD_EXP,     /* exp missing or not a number -> 4001 */
    GW_AUTH_EXPIRED,     /* exp <= now -> 4002 */
    GW_AUTH_RESULT_COUNT
} gw_auth_result_t;

/* Metric label for a result ("bad_token", "bad_alg", ...). */
const char *gw_auth_result_name (gw_auth_result_t result);

/* Verifies token (NUL-terminated, untrusted) with secret. On GW_AUTH_OK the
 * user id (1-128 bytes, no NUL inside) is copied into user (which has room
 * for 129 bytes) and its length stored in *user_len. */
gw_auth_result_t gw_auth_verify (const unsigned char *secret, size_t secret_len,
                                 const char *token, time_t now,
                                 char *user, size_t *user_len);

#endif
