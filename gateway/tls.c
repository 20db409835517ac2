/* tls.c -- the wss:// certificate: a checked reload into the live SSL_CTX.
 *
 * lws 4.1 loads --tls-cert/--tls-key once, when the vhost is made. Its
 * lws_tls_cert_updated() wants the new pair in memory and matches vhosts by
 * paths lws keeps internally (written for its ACME plugin); rather than
 * depend on that, the gateway keeps the vhost's SSL_CTX (lws hands it to
 * the protocol callback as LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS)
 * and swaps the certificate in itself, after proving the new pair on a
 * scratch context: a renewal that went wrong (key not matching, half-written
 * file) leaves the old certificate serving. */
#include "tls.h"

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* Loads the pair into ctx. Returns 0 or -1 with OpenSSL's reason in why. */
static int
s_load (SSL_CTX *ctx, const char *cert, const char *key, char *why, size_t cap)
{
    const char *step = NULL;
    if (SSL_CTX_use_certificate_chain_file (ctx, cert) != 1)
        step = "certificate";
    else if (SSL_CTX_use_PrivateKey_file (ctx, key, SSL_FILETYPE_PEM) != 1)
        step = "key";
    else if (SSL_CTX_check_private_key (ctx) != 1)
        step = "key does not match certificate";
    if (!step)
        return 0;
    char err[160];
    ERR_error_string_n (ERR_get_error (), err, sizeof err);
    ERR_clear_error ();
    snprintf (why, cap, "%s: %s", step, err);
    return -1;
}

int
gw_tls_reload (void *ctx, const char *cert, const char *key, char *why, size_t cap)
{
    if (!ctx) {
        snprintf (why, cap, "no TLS context");
        return -1;
    }
    SSL_CTX *scratch = SSL_CTX_new (TLS_server_method ());
    if (!scratch) {
        snprintf (why, cap, "out of memory");
        return -1;
    }
    int rc = s_load (scratch, cert, key, why, cap);
    SSL_CTX_free (scratch);
    if (rc == 0)
        rc = s_load ((SSL_CTX *) ctx, cert, key, why, cap);
    return rc;
}
