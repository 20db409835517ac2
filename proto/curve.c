/* curve.c -- CURVE keys from czmq certificate files, applied to ZeroMQ sockets.
 *
 * czmq's zcert reads the files (its ZPL format is what herald-keygen writes
 * and what every ZeroMQ binding's tooling understands); the keys are copied
 * out so the sockets are configured with plain zmq_setsockopt and czmq's
 * global state (zsys, its own context and signal handlers) is never started. */
#include "curve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include <zmq.h>

struct hp_curve {
    unsigned char public_key[32];
    unsigned char secret_key[32];
    unsigned char server_key[32];
    bool          has_server;
    char          public_txt[41];
};

static bool
s_all_zero (const unsigned char *key)
{
    unsigned char acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= key[i];
    return acc == 0;
}

static void
s_wipe (void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

hp_curve_t *
hp_curve_new (const char *cert_file, const char *server_file, char *err, size_t errlen)
{
    hp_curve_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    zcert_t *cert = zcert_load (cert_file);
    if (!cert) {
        snprintf (err, errlen, "cannot read the certificate %s (czmq zcert format, "
                  "as herald-keygen writes)", cert_file);
        goto fail;
    }
    memcpy (self->public_key, zcert_public_key (cert), 32);
    memcpy (self->secret_key, zcert_secret_key (cert), 32);
    zcert_destroy (&cert);
    if (s_all_zero (self->public_key)) {
        snprintf (err, errlen, "%s has no valid public-key", cert_file);
        goto fail;
    }
    if (s_all_zero (self->secret_key)) {
        snprintf (err, errlen, "%s holds no secret key (is %s_secret missing or unreadable?)",
                  cert_file, cert_file);
        goto fail;
    }
    zmq_z85_encode (self->public_txt, self->public_key, 32);
    if (server_file) {
        zcert_t *server = zcert_load (server_file);
        if (!server) {
            snprintf (err, errlen, "cannot read the server certificate %s", server_file);
            goto fail;
        }
        memcpy (self->server_key, zcert_public_key (server), 32);
        zcert_destroy (&server);
        if (s_all_zero (self->server_key)) {
            snprintf (err, errlen, "%s has no valid public-key", server_file);
            goto fail;
        }
        self->has_server = true;
    }
    return self;
fail:
    hp_curve_destroy (&self);
    return NULL;
}

void
hp_curve_destroy (hp_curve_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_wipe (*self_p, sizeof **self_p);
    free (*self_p);
    *self_p = NULL;
}

int
hp_curve_apply_server (const hp_curve_t *self, void *sock, const char *zap_domain)
{
    int one = 1;
    if (zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
    ||  zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, self->secret_key, 32) != 0
    ||  zmq_setsockopt (sock, ZMQ_ZAP_DOMAIN, zap_domain, strlen (zap_domain)) != 0)
        return -1;
    return 0;
}

static int
s_apply_client (const hp_curve_t *self, void *sock, const uint8_t *server_key)
{
    if (zmq_setsockopt (sock, ZMQ_CURVE_SERVERKEY, server_key, 32) != 0
    ||  zmq_setsockopt (sock, ZMQ_CURVE_PUBLICKEY, self->public_key, 32) != 0
    ||  zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, self->secret_key, 32) != 0)
        return -1;
    return 0;
}

int
hp_curve_apply_client (const hp_curve_t *self, void *sock)
{
    if (!self->has_server) {
        errno = EINVAL;
        return -1;
    }
    return s_apply_client (self, sock, self->server_key);
}

int
hp_curve_apply_client_key (const hp_curve_t *self, void *sock, const char *server_txt)
{
    uint8_t key[32];
    if (strlen (server_txt) != 40 || !zmq_z85_decode (key, server_txt)) {
        errno = EINVAL;
        return -1;
    }
    return s_apply_client (self, sock, key);
}

const char *
hp_curve_public_txt (const hp_curve_t *self)
{
    return self->public_txt;
}

bool
hp_host_is_loopback (const char *host)
{
    char buf[64];
    size_t n = strlen (host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy (buf, host, n);
    buf[n] = '\0';
    if (strcmp (buf, "localhost") == 0 || strcmp (buf, "lo") == 0)
        return true;
    unsigned char addr[16];
    if (inet_pton (AF_INET, buf, addr) == 1)
        return addr[0] == 127;
    if (inet_pton (AF_INET6, buf, addr) == 1) {
        static const unsigned char loop6[16] = { [15] = 1 };
        static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
        return memcmp (addr, loop6, 16) == 0
            || (memcmp (addr, mapped, 12) == 0 && addr[12] == 127);
    }
    return false;
}

bool
hp_endpoint_is_loopback (const char *endpoint)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 || strncmp (endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host)
        return false;
    char buf[64];
    size_t n = (size_t) (colon - host);
    if (n >= sizeof buf)
        return false;
    memcpy (buf, host, n);
    buf[n] = '\0';
    return hp_host_is_loopback (buf);
}
