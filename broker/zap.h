/* zap.h -- the broker's ZAP handler: which CURVE keys may use which socket. */
#ifndef HERALD_BROKER_ZAP_H
#define HERALD_BROKER_ZAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "metrics.h"

/* Roles a certificate's `role` metadata may list (comma-separated). */
#define HB_ROLE_GATEWAY  1u
#define HB_ROLE_PRODUCER 2u
#define HB_ROLE_WORKER   4u
#define HB_ROLE_PAIR     8u       /* the partner broker of a hot standby pair */

/* The broker sockets, in the order of hb_metrics_t.auth_refused. */
typedef enum {
    HB_ZAP_INGEST, HB_ZAP_PUBLISH, HB_ZAP_CONTROL, HB_ZAP_UNDELIVERED, HB_ZAP_PAIR,
    HB_ZAP_UPSTREAM, HB_ZAP_SOCKETS
} hb_zap_socket_t;

/* Why a connection was refused, the second index of auth_refused. */
typedef enum {
    HB_ZAP_UNKNOWN_KEY,     /* no certificate in --curve-allow has its key */
    HB_ZAP_ROLE,            /* its certificate's role may not use this socket */
    HB_ZAP_HANDSHAKE,       /* no CURVE, the wrong server key, a broken handshake */
    HB_ZAP_REASONS
} hb_zap_reason_t;

const char *hb_zap_socket_name (hb_zap_socket_t s);
const char *hb_zap_reason_name (hb_zap_reason_t r);

typedef struct hb_zap hb_zap_t;

/* Binds the context's ZAP endpoint (inproc://zeromq.zap.01) and loads the
 * certificates in allow_dir. Must run before any CURVE socket is bound, or
 * libzmq would admit every key. NULL (logged) on failure. */
hb_zap_t *hb_zap_new (void *ctx, const char *allow_dir, hb_metrics_t *metrics);
void hb_zap_destroy (hb_zap_t **self_p);

/* A handshake on socket which failed (no CURVE, the wrong server key, a
 * broken handshake; sockmon.c sees it): counted as HB_ZAP_HANDSHAKE. */
void hb_zap_handshake_failed (hb_zap_t *self, hb_zap_socket_t which);

/* The ZAP socket's poll item, for the caller's zmq_poll. */
zmq_pollitem_t hb_zap_pollitem (hb_zap_t *self);

/* Answers the ZAP requests the item (after zmq_poll) says are waiting, a
 * bounded batch. Returns true when the batch was full. */
bool hb_zap_handle (hb_zap_t *self, const zmq_pollitem_t *item);

/* Re-reads the allow directory when it changed (at most once per call;
 * the broker calls this once a second), or always when force (SIGHUP). */
void hb_zap_refresh (hb_zap_t *self, bool force);

/* The public key (Z85, into out) a broker of a pair expects its partner to
 * have: the one certificate of --curve-allow with role pair whose key is
 * not own_txt, or own_txt when that is the only one (both brokers share
 * one key pair, as clients given one --curve-server need). -1 (logged)
 * when there is none, or several other than our own. */
int hb_zap_pair_partner (const hb_zap_t *self, const char *own_txt, char out[41]);

/* Certificates currently allowed. */
size_t hb_zap_cert_count (const hb_zap_t *self);

/* Whether a message's ZAP User-Id ("roles/name/KEY", as this handler sets
 * it; NULL when the peer did not pass ZAP) lists role. */
bool hb_zap_user_has_role (const char *user_id, unsigned role);

/* Whether the key in a message's ZAP User-Id is still allowed, with role,
 * by the certificates loaded now (false for NULL): a connection admitted
 * before its certificate was removed fails this. */
bool hb_zap_user_current (hb_zap_t *self, const char *user_id, unsigned role);

/* True once after a reload removed a key or one of its roles: the broker
 * then re-creates the sockets whose peers' messages carry no User-Id to
 * check (publish, undelivered), so every peer handshakes again. */
bool hb_zap_take_revoked (hb_zap_t *self);

#endif
