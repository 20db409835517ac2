/* idem_store.c -- the idempotency window kept on disk beside the event store, so a restarted broker still refuses duplicates.
 *
 * Why an environment of its own rather than a database inside the event
 * store's: the store's transaction is its own business (store_lmdb.c), and
 * keys change at another pace (a sweep drops a second's worth at once).
 * The price is that the two commits are not one; main.c orders them (keys
 * after events, both before publishing), which turns a crash between them
 * into a possible duplicate instead of a possible loss (idem_store.h).
 *
 * Opening reads every record in a read transaction into memory first, then
 * writes: pointers into LMDB's map would not survive the deletes of the
 * same write transaction. */
#include "idem_store.h"
#include "log.h"
#include "bigendian.h"
#include "datadir.h"
#include "envelope.h"
#include "ratelog.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define S_SUBDIR   "/idempotency"
#define S_VAL_LEN  20                /* crc (4), offset (8), accepted (8) */
#define S_WHY      512

#define S_LOG_WRITE 1
#define S_LOG_SYNC  2

struct hb_idem_store {
    MDB_env      *env;
    MDB_dbi       keys;
    MDB_txn      *txn;               /* the pending write, or NULL */
    hb_idem_t    *idem;
    hb_fsync_t    mode;
    unsigned      interval_ms;
    bool          unsynced;
    uint64_t      unsynced_since_ms;
    uint64_t      failures;
    hb_ratelog_t  log;
    char          dir[4096];
};

/* A record read at open. */
typedef struct {
    char    *key;                    /* owned */
    size_t   len;
    uint64_t offset;
    uint64_t accepted;               /* unix seconds */
} s_loaded_t;

static uint32_t
s_crc (const char *key, size_t len, const unsigned char *val)
{
    uLong crc = crc32 (0L, Z_NULL, 0);
    crc = crc32 (crc, (const Bytef *) key, (uInt) len);
    crc = crc32 (crc, val + 4, S_VAL_LEN - 4);
    return (uint32_t) crc;
}

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static void
s_fail (hb_idem_store_t *self, const char *what, int rc)
{
    self->failures++;
    hb_ratelog (&self->log, S_LOG_WRITE, "idempotency store: %s failed: %s", what, mdb_strerror (rc));
}

/* The pending write transaction, begun when needed; NULL on failure. */
static MDB_txn *
s_txn (hb_idem_store_t *self)
{
    if (!self->txn) {
        int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
        if (rc != 0) {
            self->txn = NULL;
            s_fail (self, "beginning a transaction", rc);
        }
    }
    return self->txn;
}

/* hb_idem_hooks_t: a key accepted age_s seconds ago (0: now; more: a
 * pair's passive learning its active peer's window). */
static void
s_keep (void *arg, const char *key, size_t len, uint64_t offset, uint64_t age_s)
{
    hb_idem_store_t *self = arg;
    MDB_txn *txn = s_txn (self);
    if (!txn)
        return;
    unsigned char val[S_VAL_LEN];
    hp_be64_put (val + 4, offset);
    uint64_t wall = (uint64_t) time (NULL);
    hp_be64_put (val + 12, wall > age_s ? wall - age_s : 0);
    hp_be32_put (val, s_crc (key, len, val));
    MDB_val k = { len, (void *) key }, v = { sizeof val, val };
    int rc = mdb_put (txn, self->keys, &k, &v, 0);
    if (rc != 0)
        s_fail (self, "storing a key", rc);
}

/* hb_idem_hooks_t: a key left the window. */
static void
s_drop (void *arg, const char *key, size_t len)
{
    hb_idem_store_t *self = arg;
    MDB_txn *txn = s_txn (self);
    if (!txn)
        return;
    MDB_val k = { len, (void *) key };
    int rc = mdb_del (txn, self->keys, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        s_fail (self, "deleting a key", rc);
}

static void
s_env_close (hb_idem_store_t *self)
{
    if (self->txn)
        mdb_txn_abort (self->txn);
    self->txn = NULL;
    if (self->env)
        mdb_env_close (self->env);
    self->env = NULL;
}

typedef enum { S_OK, S_DAMAGED, S_FAILED } s_result_t;

/* Opens the environment and its database. */
static s_result_t
s_env_open (hb_idem_store_t *self, size_t map_size, char *why)
{
    long long file_size = hb_datadir_data_size (self->dir);
    unsigned flags = self->mode == HB_FSYNC_ALWAYS ? 0 : MDB_NOSYNC;
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 2);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, map_size);
    if (rc == 0)
        rc = mdb_env_open (self->env, self->dir, flags, 0600);
    if (rc == MDB_INVALID) {
        snprintf (why, S_WHY, "data.mdb is not an LMDB file");
        return S_DAMAGED;
    }
    if (rc != 0) {
        snprintf (why, S_WHY, "cannot open the LMDB environment: %s", mdb_strerror (rc));
        return S_FAILED;
    }
    /* a file shorter than its last page would fault in the map (as in
     * store_lmdb.c) */
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &st);
    if (file_size > 0 && file_size < (long long) (info.me_last_pgno + 1) * st.ms_psize) {
        snprintf (why, S_WHY, "data.mdb is truncated");
        return S_DAMAGED;
    }
    int dead;
    mdb_reader_check (self->env, &dead);
    MDB_txn *txn;
    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn)) != 0) {
        snprintf (why, S_WHY, "cannot begin a transaction: %s", mdb_strerror (rc));
        return S_FAILED;
    }
    rc = mdb_dbi_open (txn, "keys", MDB_CREATE, &self->keys);
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc != 0) {
        snprintf (why, S_WHY, "cannot open its database: %s", mdb_strerror (rc));
        return rc == MDB_INCOMPATIBLE ? S_DAMAGED : S_FAILED;
    }
    return S_OK;
}

static int
s_by_age (const void *a, const void *b)
{
    const s_loaded_t *x = a, *y = b;
    return x->accepted < y->accepted ? -1 : x->accepted > y->accepted;
}

static void
s_loaded_free (s_loaded_t *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (list[i].key);
    free (list);
}

/* Every record, copied out of a read transaction; damaged ones are
 * counted in *bad and deleted in the pending write. */
static s_result_t
s_load (hb_idem_store_t *self, s_loaded_t **out, size_t *count, uint64_t *bad, char *why)
{
    *out = NULL;
    *count = 0;
    *bad = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0 && (rc = mdb_cursor_open (txn, self->keys, &cur)) != 0)
        mdb_txn_abort (txn);
    if (rc != 0) {
        snprintf (why, S_WHY, "cannot read the keys: %s", mdb_strerror (rc));
        return S_FAILED;
    }
    MDB_stat st;
    mdb_stat (txn, self->keys, &st);
    s_loaded_t *list = calloc (st.ms_entries ? st.ms_entries : 1, sizeof *list);
    s_loaded_t *damaged = calloc (st.ms_entries ? st.ms_entries : 1, sizeof *damaged);
    size_t n = 0, nbad = 0;
    MDB_val k, v;
    s_result_t result = list && damaged ? S_OK : S_FAILED;
    if (result != S_OK)
        snprintf (why, S_WHY, "out of memory reading %zu keys", (size_t) st.ms_entries);
    for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); result == S_OK && rc == 0;
         rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        bool good = k.mv_size >= 1 && k.mv_size <= HP_IDEMPOTENCY_KEY_MAX && v.mv_size == S_VAL_LEN
                 && hp_be32_get (v.mv_data) == s_crc (k.mv_data, k.mv_size, v.mv_data);
        s_loaded_t *e = good ? &list[n] : &damaged[nbad];
        if (n + nbad >= st.ms_entries || !(e->key = malloc (k.mv_size ? k.mv_size : 1))) {
            snprintf (why, S_WHY, "out of memory reading the keys");
            result = S_FAILED;
            break;
        }
        memcpy (e->key, k.mv_data, k.mv_size);
        e->len = k.mv_size;
        if (good) {
            e->offset = hp_be64_get ((const unsigned char *) v.mv_data + 4);
            e->accepted = hp_be64_get ((const unsigned char *) v.mv_data + 12);
            n++;
        }
        else
            nbad++;
    }
    if (result == S_OK && rc != MDB_NOTFOUND) {
        snprintf (why, S_WHY, "reading the keys failed: %s", mdb_strerror (rc));
        result = rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND ? S_DAMAGED : S_FAILED;
    }
    mdb_cursor_close (cur);
    mdb_txn_abort (txn);
    for (size_t i = 0; result == S_OK && i < nbad; i++)
        s_drop (self, damaged[i].key, damaged[i].len);
    if (damaged)
        s_loaded_free (damaged, nbad);
    if (result != S_OK) {
        if (list)
            s_loaded_free (list, n);
        return result;
    }
    *out = list;
    *count = n;
    *bad = nbad;
    return S_OK;
}

/* Puts the loaded keys back into the window, oldest first; the rest
 * (past the window, or past the byte bound: the drop hook) leave the
 * store. */
static uint64_t
s_restore (hb_idem_store_t *self, s_loaded_t *list, size_t count, uint64_t now)
{
    if (count > 1)
        qsort (list, count, sizeof *list, s_by_age);
    uint64_t wall = (uint64_t) time (NULL), restored = 0;
    for (size_t i = 0; i < count; i++) {
        s_loaded_t *e = &list[i];
        uint64_t age = wall > e->accepted ? wall - e->accepted : 0;
        if (hb_idem_restore (self->idem, e->key, e->len, e->offset, age, now))
            restored++;
        else
            s_drop (self, e->key, e->len);
    }
    return restored;
}

hb_idem_store_t *
hb_idem_store_open (const char *dir, hb_idem_t *idem, size_t max_bytes, hb_fsync_t mode,
                    unsigned interval_ms, bool fresh, uint64_t now, uint64_t *restored)
{
    char why[S_WHY] = "";
    *restored = 0;
    hb_idem_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        hp_error ("out of memory opening the idempotency store");
        return NULL;
    }
    self->idem = idem;
    self->mode = mode;
    self->interval_ms = interval_ms;
    if (snprintf (self->dir, sizeof self->dir, "%s" S_SUBDIR, dir) >= (int) sizeof self->dir
    ||  hb_datadir_prepare (self->dir, why, sizeof why) != 0) {
        hp_error ("--data-dir: %s%s: %s", dir, S_SUBDIR,
                  why[0] ? why : "path too long");
        free (self);
        return NULL;
    }
    /* what the window can hold, several times over for LMDB's pages */
    size_t map_size = 4 * max_bytes + ((size_t) 64 << 20);
    s_loaded_t *list = NULL;
    size_t count = 0;
    uint64_t bad = 0;
    s_result_t r = S_FAILED;
    for (int attempt = 0; attempt < 2; attempt++) {
        r = s_env_open (self, map_size, why);
        if (r == S_OK && fresh) {
            MDB_txn *txn = s_txn (self);
            int rc = txn ? mdb_drop (txn, self->keys, 0) : -1;
            if (rc != 0) {
                snprintf (why, S_WHY, "cannot empty it for the new epoch");
                r = S_FAILED;
            }
        }
        if (r == S_OK && !fresh)
            r = s_load (self, &list, &count, &bad, why);
        if (r != S_DAMAGED)
            break;
        s_env_close (self);
        char moved[4200] = "", why_move[S_WHY] = "";
        if (hb_datadir_move_aside (self->dir, moved, sizeof moved, why_move, sizeof why_move) != 0) {
            snprintf (why, S_WHY, "damaged, and cannot be moved aside: %s", why_move);
            r = S_FAILED;
            break;
        }
        hp_error ("the idempotency store in %s was damaged (%s): moved "
                  "aside as %s; starting with no keys", self->dir, why, moved);
    }
    if (r != S_OK) {
        hp_error ("--data-dir: the idempotency store in %s: %s",
                  self->dir, why);
        s_env_close (self);
        free (self);
        return NULL;
    }
    /* hooked before the restore: keys it evicts for the byte bound leave
     * the store as well */
    hb_idem_set_hooks (idem, &(hb_idem_hooks_t) { self, s_keep, s_drop });
    *restored = s_restore (self, list, count, now);
    s_loaded_free (list, count);
    if (bad) {
        self->failures += bad;
        hp_error ("the idempotency store dropped %llu damaged record(s)",
                  (unsigned long long) bad);
    }
    hb_idem_store_commit (self);
    return self;
}

void
hb_idem_store_commit (hb_idem_store_t *self)
{
    if (!self || !self->txn)
        return;
    int rc = mdb_txn_commit (self->txn);
    self->txn = NULL;
    if (rc != 0) {
        s_fail (self, "a commit", rc);
        return;
    }
    if (self->mode == HB_FSYNC_BATCH && !self->unsynced) {
        self->unsynced = true;
        self->unsynced_since_ms = s_now_ms ();
    }
}

long
hb_idem_store_tick (hb_idem_store_t *self, uint64_t now_ms)
{
    if (!self || !self->unsynced)
        return -1;
    uint64_t due = self->unsynced_since_ms + self->interval_ms;
    if (now_ms < due)
        return (long) (due - now_ms);
    int rc = mdb_env_sync (self->env, 1);
    if (rc != 0) {
        self->failures++;
        hb_ratelog (&self->log, S_LOG_SYNC, "idempotency store: sync failed: %s", mdb_strerror (rc));
    }
    self->unsynced = false;
    return -1;
}

uint64_t
hb_idem_store_failures (const hb_idem_store_t *self)
{
    return self ? self->failures : 0;
}

void
hb_idem_store_close (hb_idem_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_idem_store_t *self = *self_p;
    hb_idem_set_hooks (self->idem, &(hb_idem_hooks_t) { NULL, NULL, NULL });
    hb_idem_store_commit (self);
    if (self->env)
        mdb_env_sync (self->env, 1);
    s_env_close (self);
    free (self);
    *self_p = NULL;
}
