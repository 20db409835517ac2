/* zap.c -- the broker's ZAP handler: which CURVE keys may use which socket.
 *
 * Why not czmq's zauth actor: zauth answers "is this key allowed" once per
 * context, but the broker's sockets need different peers (gateways on
 * publish, producers on ingest, workers on undelivered and upstream), and the control
 * socket must tell a gateway's resume from a producer's presence query.
 * So this handler reads a `role` from each allowed certificate's metadata,
 * decides by the ZAP domain each socket was given (proto/curve.h), and
 * returns "roles/name/KEY" as the ZAP User-Id, which the broker reads back
 * from each ingest and control message (zmq_msg_gets "User-Id").
 *
 * Revocation: ZAP runs once per connection, so a key removed from the
 * directory would keep its open connections. On each reload the keys that
 * left (or lost a role) are noted: ingest and control messages are checked
 * against the current set by their User-Id (hb_zap_user_current: one cache
 * entry, so a producer's stream costs a string compare per message), and
 * hb_zap_take_revoked tells the broker to re-create its publish and
 * undelivered sockets, whose peers send nothing to check.
 *
 * Why not zcertstore's own disk loader: it re-scans the directory on every
 * lookup (a flood of refused connections would become a flood of
 * directory scans), notices a change only by the directory's one-second
 * mtime, count and total size, and asserts (aborting the broker) when two
 * files hold the same key. Here the directory is checked at most once a
 * second (name, inode, size and nanosecond mtime of every file) or on
 * SIGHUP, loaded into a fresh in-memory zcertstore, duplicates skipped with
 * a warning, and swapped in whole.
 *
 * It runs on the broker's main thread, polled with the other sockets:
 * libzmq's I/O thread waits for the reply without blocking anyone. */
#include "zap.h"
#include "log.h"
#include "ratelog.h"

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define S_BATCH        64
#define S_CERTS_MAX    10000     /* certificates loaded from the directory */
#define S_USER_ID_MAX  160       /* "roles/" + a 64-byte name + "/" + the 40-byte key */
#define S_KEY_LEN      40
#define S_FRAMES       8         /* a ZAP request has 6 + credentials (1 for CURVE) */

_Static_assert (HB_ZAP_SOCKETS == HB_AUTH_SOCKETS, "metrics.h and zap.h agree");
_Static_assert (HB_ZAP_REASONS == HB_AUTH_REASONS, "metrics.h and zap.h agree");

static const char *s_socket_names[HB_ZAP_SOCKETS] = {
    "ingest", "publish", "control", "undelivered", "pair", "upstream"
};
/* Roles admitted per socket, in hb_zap_socket_t order. The streams the
 * broker pushes to the backend (undelivered, upstream) are read by
 * workers, as a producer's key may not read what browsers send. */
static const unsigned s_admits[HB_ZAP_SOCKETS] = {
    HB_ROLE_PRODUCER, HB_ROLE_GATEWAY, HB_ROLE_GATEWAY | HB_ROLE_PRODUCER, HB_ROLE_WORKER,
    HB_ROLE_PAIR, HB_ROLE_WORKER
};
#define S_ROLES     4            /* gateway, producer, worker, pair */
#define S_PAIR_KEYS 4            /* pair certificates remembered (one or two make sense) */
static const char *s_reason_names[HB_ZAP_REASONS] = { "unknown_key", "role", "handshake" };

struct hb_zap {
    void          *ctx;
    void          *handler;      /* REP bound to the ZAP endpoint */
    char          *dir;
    zcertstore_t  *store;        /* in memory; swapped whole on reload */
    size_t         count;
    uint64_t       signature;    /* of the directory as last loaded */
    bool           loaded_once;
    char           pair_keys[S_PAIR_KEYS][41];   /* role pair, as last loaded */
    size_t         pair_count;                   /* how many there were (may exceed) */
    char         (*keys)[S_KEY_LEN + 1];   /* of the store, with their roles */
    unsigned      *roles;
    uint64_t       generation;   /* bumped at each load */
    bool           revoked;      /* a load removed a key or a role: not yet taken */
    struct {                     /* the last hb_zap_user_current answer */
        char user_id[S_USER_ID_MAX];
        unsigned role;
        uint64_t generation;
        bool current;
    } cache;
    hb_metrics_t  *metrics;
    hb_ratelog_t   log;
};

const char *
hb_zap_socket_name (hb_zap_socket_t s)
{
    return s < HB_ZAP_SOCKETS ? s_socket_names[s] : "other";
}

const char *
hb_zap_reason_name (hb_zap_reason_t r)
{
    return r < HB_ZAP_REASONS ? s_reason_names[r] : "other";
}

/* Parses "gateway,producer" into role bits; unknown names are reported in
 * bad (the first one) and ignored. */
static unsigned
s_parse_roles (const char *text, char *bad, size_t badlen)
{
    unsigned roles = 0;
    bad[0] = '\0';
    while (text && *text) {
        while (*text == ' ' || *text == ',')
            text++;
        size_t n = strcspn (text, ", ");
        if (n == 0)
            break;
        if (n == 7 && memcmp (text, "gateway", 7) == 0)
            roles |= HB_ROLE_GATEWAY;
        else if (n == 8 && memcmp (text, "producer", 8) == 0)
            roles |= HB_ROLE_PRODUCER;
        else if (n == 6 && memcmp (text, "worker", 6) == 0)
            roles |= HB_ROLE_WORKER;
        else if (n == 4 && memcmp (text, "pair", 4) == 0)
            roles |= HB_ROLE_PAIR;
        else if (!bad[0])
            snprintf (bad, badlen, "%.*s", (int) (n > 32 ? 32 : n), text);
        text += n;
    }
    return roles;
}

static bool
s_skip_name (const char *name)
{
    size_t n = strlen (name);
    return name[0] == '.' || (n >= 7 && strcmp (name + n - 7, "_secret") == 0);
}

/* FNV-1a over what identifies each file's version; 0 when the directory
 * cannot be read. */
static uint64_t
s_signature (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    uint64_t h = 1469598103934665603ull;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (s_skip_name (e->d_name))
            continue;
        char path[4096];
        struct stat st;
        if (snprintf (path, sizeof path, "%s/%s", dir, e->d_name) >= (int) sizeof path
        ||  stat (path, &st) != 0)
            continue;
        uint64_t parts[5] = { (uint64_t) st.st_ino, (uint64_t) st.st_size,
                              (uint64_t) st.st_mtim.tv_sec, (uint64_t) st.st_mtim.tv_nsec,
                              strlen (e->d_name) };
        for (const char *c = e->d_name; *c; c++)
            h = (h ^ (unsigned char) *c) * 1099511628211ull;
        for (int i = 0; i < 5; i++)
            h = (h ^ parts[i]) * 1099511628211ull;
    }
    closedir (d);
    return h ? h : 1;
}

/* How many keys of the current store the new one drops or takes a role from. */
static size_t
s_count_revoked (const hb_zap_t *self, zcertstore_t *next)
{
    size_t gone = 0;
    for (size_t i = 0; i < self->count; i++) {
        zcert_t *cert = zcertstore_lookup (next, self->keys[i]);
        char bad[40];
        unsigned now = cert ? s_parse_roles (zcert_meta (cert, "role"), bad, sizeof bad) : 0;
        if ((self->roles[i] & now) != self->roles[i])
            gone++;
    }
    return gone;
}

/* Loads every certificate of the directory into a new store and swaps it
 * in. Returns 0, or -1 when the directory cannot be read (the old store
 * stays). */
static int
s_load (hb_zap_t *self, uint64_t signature)
{
    DIR *d = opendir (self->dir);
    if (!d) {
        hp_error ("--curve-allow %s: %s", self->dir, strerror (errno));
        return -1;
    }
    zcertstore_t *store = zcertstore_new (NULL);
    if (!store) {
        closedir (d);
        return -1;
    }
    size_t count = 0, roles[S_ROLES] = { 0 }, pair_count = 0;
    char pair_keys[S_PAIR_KEYS][41];
    char (*keys)[S_KEY_LEN + 1] = calloc (S_CERTS_MAX, sizeof *keys);
    unsigned *key_roles = calloc (S_CERTS_MAX, sizeof *key_roles);
    if (!keys || !key_roles) {
        free (keys);
        free (key_roles);
        zcertstore_destroy (&store);
        closedir (d);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir (d))) {
        char path[4096];
        struct stat st;
        if (s_skip_name (e->d_name)
        ||  snprintf (path, sizeof path, "%s/%s", self->dir, e->d_name) >= (int) sizeof path
        ||  stat (path, &st) != 0 || !S_ISREG (st.st_mode))
            continue;
        if (count == S_CERTS_MAX) {
            hp_warn ("--curve-allow: over %d certificates; %s and "
                     "later files ignored", S_CERTS_MAX, e->d_name);
            break;
        }
        zcert_t *cert = zcert_load (path);
        if (!cert) {
            hp_warn ("--curve-allow: %s is not a certificate; ignored", path);
            continue;
        }
        char bad[40];
        unsigned r = s_parse_roles (zcert_meta (cert, "role"), bad, sizeof bad);
        if (bad[0])
            hp_warn ("--curve-allow: %s: unknown role '%s' ignored "
                     "(roles: gateway, producer, worker, pair)", path, bad);
        if (r == 0)
            hp_warn ("--curve-allow: %s has no role, so admits to no "
                     "socket (herald-keygen NAME --role gateway|producer|worker|pair)", path);
        if (zcertstore_lookup (store, zcert_public_txt (cert))) {
            hp_warn ("--curve-allow: %s repeats a key already loaded; "
                     "ignored", path);
            zcert_destroy (&cert);
            continue;
        }
        if (!zcert_meta (cert, "name"))
            zcert_set_meta (cert, "name", "%.64s", e->d_name);
        for (int i = 0; i < S_ROLES; i++)
            roles[i] += (r >> i) & 1;
        if ((r & HB_ROLE_PAIR) && pair_count++ < S_PAIR_KEYS)
            snprintf (pair_keys[pair_count - 1], 41, "%s", zcert_public_txt (cert));
        snprintf (keys[count], sizeof keys[count], "%s", zcert_public_txt (cert));
        key_roles[count] = r;
        zcertstore_insert (store, &cert);
        count++;
    }
    closedir (d);
    size_t gone = s_count_revoked (self, store);
    zcertstore_destroy (&self->store);
    free (self->keys);
    free (self->roles);
    self->store = store;
    self->keys = keys;
    self->roles = key_roles;
    self->count = count;
    self->generation++;
    if (gone) {
        self->revoked = true;
        self->metrics->curve_revocations += gone;
        hp_info ("--curve-allow: %zu keys removed or lost a role: "
                 "their connections are cut", gone);
    }
    self->signature = signature;
    memcpy (self->pair_keys, pair_keys, sizeof pair_keys);
    self->pair_count = pair_count;
    self->metrics->curve_certificates = count;
    hp_info ("--curve-allow %s: %zu certificates (%zu gateway, "
             "%zu producer, %zu worker, %zu pair)", self->dir, count, roles[0], roles[1],
             roles[2], roles[3]);
    return 0;
}

void
hb_zap_refresh (hb_zap_t *self, bool force)
{
    uint64_t sig = s_signature (self->dir);
    if (force || (sig != self->signature && sig != 0) || !self->loaded_once) {
        if (s_load (self, sig) == 0)
            self->loaded_once = true;
    }
}

hb_zap_t *
hb_zap_new (void *ctx, const char *allow_dir, hb_metrics_t *metrics)
{
    hb_zap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = ctx;
    self->metrics = metrics;
    self->dir = strdup (allow_dir);
    self->handler = zmq_socket (ctx, ZMQ_REP);
    int linger = 0;
    if (!self->dir || !self->handler
    ||  zmq_setsockopt (self->handler, ZMQ_LINGER, &linger, sizeof linger) != 0
    ||  zmq_bind (self->handler, S_ZAP_ENDPOINT) != 0) {
        hp_error ("cannot start the ZAP handler: %s",
                  zmq_strerror (zmq_errno ()));
        hb_zap_destroy (&self);
        return NULL;
    }
    hb_zap_refresh (self, true);
    if (!self->loaded_once) {
        hb_zap_destroy (&self);   /* an unreadable allow directory: refuse to start */
        return NULL;
    }
    return self;
}

void
hb_zap_destroy (hb_zap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_zap_t *self = *self_p;
    if (self->handler)
        zmq_close (self->handler);
    zcertstore_destroy (&self->store);
    free (self->keys);
    free (self->roles);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

static void
s_refuse (hb_zap_t *self, int which, hb_zap_reason_t reason, const char *key)
{
    if (which >= 0)
        self->metrics->auth_refused[which][reason]++;
    hb_ratelog (&self->log, (unsigned) (which < 0 ? HB_ZAP_SOCKETS : which) * HB_ZAP_REASONS + reason,
                "refused a connection to the %s socket: %s%s%s",
                which >= 0 ? s_socket_names[which] : "unknown", s_reason_names[reason],
                key ? ", key " : "", key ? key : "");
}

/* Decides one request: fills status and user_id. */
static const char *
s_decide (hb_zap_t *self, zmq_msg_t *f, size_t count, char *user_id, size_t cap)
{
    /* [version][request id][domain][address][routing id][mechanism][credentials] */
    if (count < 7 || zmq_msg_size (&f[0]) != 3 || memcmp (zmq_msg_data (&f[0]), "1.0", 3) != 0)
        return "400";
    int which = -1;
    for (int i = 0; i < HB_ZAP_SOCKETS; i++)
        if (zmq_msg_size (&f[2]) == strlen (s_socket_names[i])
        &&  memcmp (zmq_msg_data (&f[2]), s_socket_names[i], zmq_msg_size (&f[2])) == 0)
            which = i;
    if (which < 0 || zmq_msg_size (&f[5]) != 5 || memcmp (zmq_msg_data (&f[5]), "CURVE", 5) != 0
    ||  zmq_msg_size (&f[6]) != 32) {
        s_refuse (self, which, HB_ZAP_HANDSHAKE, NULL);
        return "400";
    }
    char key[41];
    zmq_z85_encode (key, zmq_msg_data (&f[6]), 32);
    zcert_t *cert = zcertstore_lookup (self->store, key);
    if (!cert) {
        s_refuse (self, which, HB_ZAP_UNKNOWN_KEY, key);
        return "400";
    }
    char bad[40];
    const char *role_text = zcert_meta (cert, "role");
    unsigned roles = s_parse_roles (role_text, bad, sizeof bad);
    if (!(roles & s_admits[which])) {
        s_refuse (self, which, HB_ZAP_ROLE, key);
        return "400";
    }
    self->metrics->auth_accepted[which]++;
    char list[40] = "";
    static const char *names[S_ROLES] = { "gateway", "producer", "worker", "pair" };
    for (int i = 0; i < S_ROLES; i++)
        if (roles & (1u << i)) {
            if (list[0])
                strcat (list, ",");
            strcat (list, names[i]);
        }
    snprintf (user_id, cap, "%s/%.64s/%s", list, zcert_meta (cert, "name"), key);
    return "200";
}

static void
s_answer (hb_zap_t *self)
{
    zmq_msg_t f[S_FRAMES];
    size_t count = 0;
    for (;;) {
        zmq_msg_t *m = &f[count < S_FRAMES ? count : S_FRAMES - 1];
        if (count >= S_FRAMES)
            zmq_msg_close (m);
        zmq_msg_init (m);
        if (zmq_msg_recv (m, self->handler, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (m);
            break;
        }
        if (count < S_FRAMES)
            count++;
        if (!zmq_msg_more (m))
            break;
    }
    if (count == 0)
        return;
    char user_id[S_USER_ID_MAX] = "";
    const char *status = s_decide (self, f, count, user_id, sizeof user_id);
    /* [version][request id][status][text][user id][metadata] */
    const char *rid = count > 1 ? zmq_msg_data (&f[1]) : "";
    size_t rid_len = count > 1 ? zmq_msg_size (&f[1]) : 0;
    const char *text = status[0] == '2' ? "OK" : "refused";
    int flags = ZMQ_SNDMORE | ZMQ_DONTWAIT;
    zmq_send (self->handler, "1.0", 3, flags);
    zmq_send (self->handler, rid, rid_len, flags);
    zmq_send (self->handler, status, 3, flags);
    zmq_send (self->handler, text, strlen (text), flags);
    zmq_send (self->handler, user_id, strlen (user_id), flags);
    zmq_send (self->handler, "", 0, ZMQ_DONTWAIT);
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&f[i]);
}

void
hb_zap_handshake_failed (hb_zap_t *self, hb_zap_socket_t which)
{
    s_refuse (self, (int) which, HB_ZAP_HANDSHAKE, NULL);
}

zmq_pollitem_t
hb_zap_pollitem (hb_zap_t *self)
{
    return (zmq_pollitem_t) { self->handler, 0, ZMQ_POLLIN, 0 };
}

bool
hb_zap_handle (hb_zap_t *self, const zmq_pollitem_t *item)
{
    if (!(item->revents & ZMQ_POLLIN))
        return false;
    int n;
    for (n = 0; n < S_BATCH; n++) {
        int events = 0;
        size_t size = sizeof events;
        if (zmq_getsockopt (self->handler, ZMQ_EVENTS, &events, &size) != 0
        ||  !(events & ZMQ_POLLIN))
            break;
        s_answer (self);
    }
    return n == S_BATCH;
}

int
hb_zap_pair_partner (const hb_zap_t *self, const char *own_txt, char out[41])
{
    size_t others = 0, known = self->pair_count < S_PAIR_KEYS ? self->pair_count : S_PAIR_KEYS;
    bool own = false;
    for (size_t i = 0; i < known; i++) {
        if (strcmp (self->pair_keys[i], own_txt) == 0)
            own = true;
        else if (others++ == 0)
            memcpy (out, self->pair_keys[i], 41);
    }
    others += self->pair_count - known;
    if (others == 1 || (others == 0 && own)) {
        if (others == 0)
            memcpy (out, own_txt, 41);
        return 0;
    }
    hp_error ("--curve-allow %s: %s certificate with role pair for the "
              "partner broker (herald-keygen NAME --role pair; both brokers may share one "
              "key pair)", self->dir, others ? "more than one" : "no");
    return -1;
}

size_t
hb_zap_cert_count (const hb_zap_t *self)
{
    return self->count;
}

bool
hb_zap_user_has_role (const char *user_id, unsigned role)
{
    if (!user_id)
        return false;
    const char *slash = strchr (user_id, '/');
    size_t len = slash ? (size_t) (slash - user_id) : strlen (user_id);
    char list[40];
    if (len >= sizeof list)
        return false;
    memcpy (list, user_id, len);
    list[len] = '\0';
    char bad[40];
    return (s_parse_roles (list, bad, sizeof bad) & role) != 0;
}

bool
hb_zap_user_current (hb_zap_t *self, const char *user_id, unsigned role)
{
    if (!user_id)
        return false;
    size_t len = strlen (user_id);
    if (self->cache.generation == self->generation && self->cache.role == role
    &&  strcmp (self->cache.user_id, user_id) == 0)
        return self->cache.current;
    bool current = false;
    if (len > S_KEY_LEN && user_id[len - S_KEY_LEN - 1] == '/') {
        zcert_t *cert = zcertstore_lookup (self->store, user_id + len - S_KEY_LEN);
        char bad[40];
        current = cert && (s_parse_roles (zcert_meta (cert, "role"), bad, sizeof bad) & role);
    }
    if (len < sizeof self->cache.user_id) {
        memcpy (self->cache.user_id, user_id, len + 1);
        self->cache.role = role;
        self->cache.generation = self->generation;
        self->cache.current = current;
    }
    return current;
}

bool
hb_zap_take_revoked (hb_zap_t *self)
{
    bool revoked = self->revoked;
    self->revoked = false;
    return revoked;
}
