/* tls.h -- the wss:// certificate: a checked reload into the live SSL_CTX. */
#ifndef HERALD_GW_TLS_H
#define HERALD_GW_TLS_H

#include <stddef.h>

/* Loads the PEM chain cert and the PEM key into a scratch SSL_CTX and checks
 * that they match; only then puts them into ctx (an SSL_CTX *, the one lws
 * made for the vhost). Connections already open keep the certificate they
 * were made with (OpenSSL copies it into each SSL at SSL_new); new ones get
 * the new one. Returns 0, or -1 with the reason in why (ctx untouched). */
int gw_tls_reload (void *ctx, const char *cert, const char *key, char *why, size_t cap);

#endif
