/* curve.h -- CURVE keys from czmq certificate files, applied to ZeroMQ sockets. */
#ifndef HERALD_PROTO_CURVE_H
#define HERALD_PROTO_CURVE_H

#include <stdbool.h>
#include <stddef.h>

/* The ZAP domains the broker gives its sockets; its ZAP handler admits a
 * certificate to a socket by the domain and the certificate's role. */
#define HP_ZAP_DOMAIN_INGEST      "ingest"
#define HP_ZAP_DOMAIN_PUBLISH     "publish"
#define HP_ZAP_DOMAIN_CONTROL     "control"
#define HP_ZAP_DOMAIN_UNDELIVERED "undelivered"
#define HP_ZAP_DOMAIN_PAIR        "pair"          /* a hot standby pair's link */
#define HP_ZAP_DOMAIN_UPSTREAM    "upstream"      /* browsers' messages, to workers */

/* This process's key pair and, for a client, the server's public key. Keys
 * are held in binary and wiped on destroy. */
typedef struct hp_curve hp_curve_t;

/* Loads cert_file (czmq's zcert format; like zcert_load, FILE_secret is read
 * when it exists, so either NAME.cert or NAME.cert_secret may be named), which
 * must hold a secret key, and, when server_file is not NULL, the server's
 * public certificate. NULL on failure, with the reason in err. Caller owns
 * the result. */
hp_curve_t *hp_curve_new (const char *cert_file, const char *server_file,
                          char *err, size_t errlen);

/* Wipes the keys and frees. Accepts NULL; nulls *self_p. */
void hp_curve_destroy (hp_curve_t **self_p);

/* Makes sock a CURVE server with this key pair, its connections checked by
 * the ZAP handler under zap_domain. Call before zmq_bind. 0 or -1 (errno). */
int hp_curve_apply_server (const hp_curve_t *self, void *sock, const char *zap_domain);

/* Makes sock a CURVE client of the server key given at hp_curve_new. Call
 * before zmq_connect. 0 or -1 (errno, EINVAL when no server key was given). */
int hp_curve_apply_client (const hp_curve_t *self, void *sock);

/* The same with the server key given here, 40 characters of Z85 (a broker
 * of a pair connecting to its partner). 0 or -1 (errno, EINVAL for a key
 * that is not Z85). */
int hp_curve_apply_client_key (const hp_curve_t *self, void *sock, const char *server_txt);

/* This key pair's public key, 40 characters of Z85. */
const char *hp_curve_public_txt (const hp_curve_t *self);

/* True when host names this machine only: an IPv4 address in 127.0.0.0/8,
 * ::1 (with or without brackets), ::ffff:127.x.y.z, "localhost" or the
 * interface "lo". "*", 0.0.0.0, other addresses and names are not. */
bool hp_host_is_loopback (const char *host);

/* True when a ZeroMQ bind endpoint is reachable from this machine only:
 * tcp:// on a loopback host (above), ipc:// and inproc://. Every other
 * transport or host is not. */
bool hp_endpoint_is_loopback (const char *endpoint);

#endif
