/* lg_jwt.c -- mints HS256 JSON Web Tokens for bench clients (OpenSSL HMAC). */
#include "lg_jwt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static size_t
s_b64url (char *out, const unsigned char *in, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned) in[i] << 16;
        if (i + 1 < len) v |= (unsigned) in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < len) out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < len) out[o++] = tab[v & 63];
    }
    return o;
}

size_t
lg_jwt_mint (char *out, size_t cap, const char *secret, const char *user, long exp)
{
    const char *header = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char payload[256];
    int pl = snprintf (payload, sizeof payload, "{\"sub\":\"%s\",\"exp\":%ld}", user, exp);
    if (pl < 0 || (size_t) pl >= sizeof payload)
        return 0;
    size_t hl = strlen (header);
    /* Base64 grows 4/3; the signature adds 43 characters and two dots. */
    if ((hl + (size_t) pl) * 4 / 3 + 4 + 2 + 44 + 1 > cap)
        return 0;
    size_t n = s_b64url (out, (const unsigned char *) header, hl);
    out[n++] = '.';
    n += s_b64url (out + n, (const unsigned char *) payload, (size_t) pl);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC (EVP_sha256 (), secret, (int) strlen (secret),
               (const unsigned char *) out, n, mac, &maclen))
        return 0;
    out[n++] = '.';
    n += s_b64url (out + n, mac, maclen);
    out[n] = '\0';
    return n;
}
