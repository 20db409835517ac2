/* lg_jwt.h -- mints HS256 JSON Web Tokens for bench clients. */
#ifndef HERALD_BENCH_LG_JWT_H
#define HERALD_BENCH_LG_JWT_H

#include <stddef.h>

/* Writes a token {"sub":user,"exp":exp} signed with secret into out (NUL
 * terminated). Returns its length, or 0 when it does not fit in cap. */
size_t lg_jwt_mint (char *out, size_t cap, const char *secret,
                    const char *user, long exp);

#endif
