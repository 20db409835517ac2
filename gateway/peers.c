/* peers.c -- open WebSocket connections per client address, for --max-connections-per-ip.
 *
 * Chained hash of 16-byte keys (IPv4 mapped into IPv6, IPv6 cut to its /64)
 * with a random key per process (libsodium's SipHash), so nobody can pick
 * addresses that land in one bucket. Touched only at upgrade and close. */
#include "peers.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

struct gw_peer {
    gw_peer_t *next;
    unsigned count;
    unsigned char key[16];
};

struct gw_peers {
    gw_peer_t **buckets;
    size_t nbuckets;            /* a power of two */
    unsigned size;
    unsigned char seed[crypto_shorthash_KEYBYTES];
};

gw_peers_t *
gw_peers_new (void)
{
    if (sodium_init () < 0)
        return NULL;
    gw_peers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->nbuckets = 64;
    self->buckets = calloc (self->nbuckets, sizeof *self->buckets);
    if (!self->buckets) {
        free (self);
        return NULL;
    }
    crypto_shorthash_keygen (self->seed);
    return self;
}

void
gw_peers_destroy (gw_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_peers_t *self = *self_p;
    for (size_t i = 0; i < self->nbuckets; i++)
        for (gw_peer_t *p = self->buckets[i], *next; p; p = next) {
            next = p->next;
            free (p);
        }
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

static size_t
s_bucket (const gw_peers_t *self, const unsigned char key[16])
{
    uint64_t h;
    crypto_shorthash ((unsigned char *) &h, key, 16, self->seed);
    return (size_t) h & (self->nbuckets - 1);
}

/* Doubles the table when it holds more entries than buckets. */
static void
s_grow (gw_peers_t *self)
{
    size_t n = self->nbuckets * 2;
    gw_peer_t **buckets = calloc (n, sizeof *buckets);
    if (!buckets)
        return;         /* longer chains, still correct */
    gw_peer_t **old = self->buckets;
    size_t old_n = self->nbuckets;
    self->buckets = buckets;
    self->nbuckets = n;
    for (size_t i = 0; i < old_n; i++)
        for (gw_peer_t *p = old[i], *next; p; p = next) {
            next = p->next;
            size_t b = s_bucket (self, p->key);
            p->next = buckets[b];
            buckets[b] = p;
        }
    free (old);
}

/* The lookup key of an address; -1 for other families. */
static int
s_key (const struct sockaddr *addr, unsigned char key[16])
{
    memset (key, 0, 16);
    if (addr->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy (key + 12, &((const struct sockaddr_in *) addr)->sin_addr, 4);
        return 0;
    }
    if (addr->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *) addr)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        memcpy (key, a, memcmp (a, mapped, 12) == 0 ? 16 : 8);
        return 0;
    }
    return -1;
}

static gw_peer_t *
s_find (gw_peers_t *self, const unsigned char key[16])
{
    for (gw_peer_t *p = self->buckets[s_bucket (self, key)]; p; p = p->next)
        if (memcmp (p->key, key, 16) == 0)
            return p;
    return NULL;
}

unsigned
gw_peers_count (gw_peers_t *self, const struct sockaddr *addr)
{
    unsigned char key[16];
    gw_peer_t *p = s_key (addr, key) == 0 ? s_find (self, key) : NULL;
    return p ? p->count : 0;
}

gw_peer_t *
gw_peers_hold (gw_peers_t *self, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (s_key (addr, key) != 0)
        return NULL;
    gw_peer_t *p = s_find (self, key);
    if (!p) {
        if (!(p = calloc (1, sizeof *p)))
            return NULL;
        memcpy (p->key, key, 16);
        size_t b = s_bucket (self, key);
        p->next = self->buckets[b];
        self->buckets[b] = p;
        if (++self->size > self->nbuckets)
            s_grow (self);
    }
    p->count++;
    return p;
}

void
gw_peers_release (gw_peers_t *self, gw_peer_t *peer)
{
    if (peer->count && --peer->count)
        return;
    gw_peer_t **pp = &self->buckets[s_bucket (self, peer->key)];
    while (*pp && *pp != peer)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = peer->next;
        free (peer);
        self->size--;
    }
}

unsigned
gw_peers_size (const gw_peers_t *self)
{
    return self->size;
}
