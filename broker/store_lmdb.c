/* store_lmdb.c -- durable storage of history's events, epoch and offsets in an LMDB data directory.
 *
 * Why LMDB: one file, crash-safe copy-on-write B-trees (a commit is atomic:
 * a process crash never leaves a half-written transaction visible), reads
 * straight from the map without copies, and Debian ships it. The broker is
 * its only writer (herald.lock), on one thread.
 *
 * Why a checksum per record: LMDB checks its page structure, not the bytes
 * of values, so a record damaged on disk would otherwise be served as an
 * event. The meta record carries one too.
 *
 * Environment flags: MDB_NOTLS so that a read (a resume) and the pending
 * write transaction can coexist on the main thread; MDB_NOSYNC unless
 * --fsync always (then every commit is fsynced by LMDB, data then meta). With
 * MDB_NOSYNC a commit is still written to the file (pwrite), so a killed
 * process loses nothing committed; the OS writes it back later, or
 * mdb_env_sync does (--fsync batch). */
#include "store_lmdb.h"
#include "log.h"
#include "datadir.h"
#include "ratelog.h"
#include "stream.h"
#include "wire.h"

#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define S_MAGIC        "HERALDDB"
#define S_FORMAT       4u            /* 4: events may carry flags, receipt and key */
#define S_FORMAT_MIN   1u            /* 1 (user ids only), 2 (stream keys, up to 129
                                        bytes) and 3 (accept time) read as 4: their
                                        events' time unknown before 3, no meta before 4 */
#define S_META_KEY     "herald"
#define S_META_LEN     84
#define S_REC_HEAD     24            /* crc, ttl, expires, nusers, json_len */
#define S_REC_AT       8             /* then, with S_REC_HAS_AT: the accept time (u64 us) */
/* Format 3 marks its records in nusers' top bit (at most HP_RECIPIENTS_MAX,
 * so formats 1 and 2 never set it): a store upgraded from format 2 keeps
 * its older records as they are, each read by its own layout, with no
 * rewrite at open. */
#define S_REC_HAS_AT   0x80000000u
/* Format 4 marks a record with meta (envelope.h hp_event_meta_t) in the
 * next bit; only records with flags set have it (they have the time too):
 * after the accept time, receipt (u16), flags (u8), key length (u8), the
 * key. A record without it reads as flags 0, no key. */
#define S_REC_HAS_META 0x40000000u
#define S_REC_META     4             /* receipt, flags, key length; then the key */
#define S_USER_HEAD    10            /* prev (u64), len (u16) */
#define S_USER_MAX     HP_STREAM_KEY_MAX   /* a stream key: user id, 0x01 + channel, 0x02 */
#define S_FLAG_CLEAN   1u

/* ratelog reasons */
#define S_LOG_WRITE  1
#define S_LOG_READ   2
#define S_LOG_SYNC   3

struct hb_store {
    MDB_env      *env;
    MDB_dbi       events, lost, meta;
    MDB_txn      *txn;               /* the pending write, or NULL */
    MDB_txn      *rtxn;              /* the reader; reset while unused */
    bool          reading;
    int           lock_fd;
    hb_fsync_t    mode;
    unsigned      interval_ms;
    uint64_t      epoch;
    uint64_t      last, floor;       /* as in the meta record last committed */
    char          boot_id[40];
    bool          unsynced;
    uint64_t      unsynced_since_ms;
    hb_store_stats_t stats;
    unsigned char *buf;              /* record encoding */
    size_t        buf_cap;
    hb_ratelog_t  log;
    char          dir[4096];
};

int
hb_fsync_parse (const char *text, hb_fsync_t *out)
{
    static const char *names[] = { "always", "batch", "none" };
    for (int i = 0; i < 3; i++)
        if (strcmp (text, names[i]) == 0) {
            *out = (hb_fsync_t) i;
            return 0;
        }
    return -1;
}

const char *
hb_fsync_name (hb_fsync_t mode)
{
    return mode == HB_FSYNC_ALWAYS ? "always" : mode == HB_FSYNC_BATCH ? "batch" : "none";
}

/* --- byte helpers ------------------------------------------------------- */

static void
s_put_u64 (unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint64_t
s_get_u64 (const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void
s_put_u32 (unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint32_t
s_get_u32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint32_t
s_crc (const unsigned char *p, size_t len)
{
    uLong crc = crc32 (0L, Z_NULL, 0);
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt) len;
        crc = crc32 (crc, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t) crc;
}

static uint64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* --- records ------------------------------------------------------------ */

/* Parses and checks one event record (key and value); 0 or -1. */
static int
s_rec_parse (const MDB_val *key, const MDB_val *val, hb_store_rec_t *rec)
{
    const unsigned char *p = val->mv_data;
    size_t len = val->mv_size;
    if (key->mv_size != 8 || len < S_REC_HEAD)
        return -1;
    if (s_get_u32 (p) != s_crc (p + 4, len - 4))
        return -1;
    rec->offset = s_get_u64 (key->mv_data);
    rec->ttl = s_get_u32 (p + 4);
    rec->expires_wall = s_get_u64 (p + 8);
    rec->nusers = s_get_u32 (p + 16);
    rec->json_len = s_get_u32 (p + 20);
    size_t head = S_REC_HEAD;
    rec->at = 0;
    rec->meta = hp_event_meta (0, NULL, 0);
    bool has_meta = rec->nusers & S_REC_HAS_META;
    rec->nusers &= ~S_REC_HAS_META;
    if (rec->nusers & S_REC_HAS_AT) {
        rec->nusers &= ~S_REC_HAS_AT;
        head += S_REC_AT;
        if (len < head)
            return -1;
        rec->at = s_get_u64 (p + S_REC_HEAD);
    }
    else
    if (has_meta)
        return -1;                      /* format 4 writes both */
    if (has_meta) {
        if (len < head + S_REC_META)
            return -1;
        const unsigned char *m = p + head;
        uint16_t receipt = (uint16_t) (m[0] << 8 | m[1]);
        uint8_t flags = m[2];
        size_t key_len = m[3];
        head += S_REC_META;
        if (len < head + key_len || receipt > HP_RECEIPT_MAX
        ||  (flags & ~HP_WIRE_FLAGS_KNOWN)
        ||  ((flags & HP_WIRE_FLAG_RECEIPT) != 0) != (receipt != 0)
        ||  ((flags & HP_WIRE_FLAG_KEY) != 0) != (key_len != 0)
        ||  (key_len && !hp_key_valid ((const char *) p + head, key_len)))
            return -1;
        rec->meta = hp_event_meta (receipt, (const char *) p + head, key_len);
        head += key_len;
    }
    if (rec->offset == 0 || rec->nusers == 0 || rec->json_len > len - head)
        return -1;
    rec->json = (const char *) p + head;
    rec->users = p + head + rec->json_len;
    rec->users_len = len - head - rec->json_len;
    size_t pos = 0, count = 0;
    hb_key_t k;
    uint64_t prev;
    while (hb_store_rec_user (rec, &pos, &k, &prev) == 0) {
        if (prev >= rec->offset)
            return -1;
        count++;
    }
    return pos == rec->users_len && count == rec->nusers ? 0 : -1;
}

int
hb_store_rec_user (const hb_store_rec_t *rec, size_t *pos, hb_key_t *key, uint64_t *prev)
{
    if (*pos + S_USER_HEAD > rec->users_len)
        return -1;
    const unsigned char *p = rec->users + *pos;
    size_t len = (size_t) p[8] << 8 | p[9];
    if (len == 0 || len > S_USER_MAX || *pos + S_USER_HEAD + len > rec->users_len)
        return -1;
    *prev = s_get_u64 (p);
    key->ptr = (const char *) p + S_USER_HEAD;
    key->len = len;
    key->hash = hb_hash (key->ptr, len);
    *pos += S_USER_HEAD + len;
    return 0;
}

/* --- meta --------------------------------------------------------------- */

typedef enum { S_META_OK, S_META_FOREIGN, S_META_NEWER, S_META_DAMAGED } s_meta_check_t;

typedef struct {
    uint32_t flags, fsync;
    uint64_t epoch, last, floor;
    char     boot_id[37];
} s_meta_t;

static s_meta_check_t
s_meta_parse (const MDB_val *val, s_meta_t *m)
{
    const unsigned char *p = val->mv_data;
    if (val->mv_size < 12 || memcmp (p, S_MAGIC, 8) != 0)
        return S_META_FOREIGN;
    uint32_t format = s_get_u32 (p + 8);
    if (format > S_FORMAT)
        return S_META_NEWER;
    if (format < S_FORMAT_MIN || val->mv_size != S_META_LEN
        || s_get_u32 (p + S_META_LEN - 4) != s_crc (p, S_META_LEN - 4))
        return S_META_DAMAGED;
    m->flags = s_get_u32 (p + 12);
    m->fsync = s_get_u32 (p + 16);
    m->epoch = s_get_u64 (p + 20);
    m->last = s_get_u64 (p + 28);
    m->floor = s_get_u64 (p + 36);
    memcpy (m->boot_id, p + 44, 36);
    m->boot_id[36] = '\0';
    return m->epoch ? S_META_OK : S_META_DAMAGED;
}

static int
s_meta_write (hb_store_t *self, MDB_txn *txn, uint32_t flags, uint64_t last, uint64_t floor)
{
    unsigned char p[S_META_LEN];
    memset (p, 0, sizeof p);
    memcpy (p, S_MAGIC, 8);
    s_put_u32 (p + 8, S_FORMAT);
    s_put_u32 (p + 12, flags);
    s_put_u32 (p + 16, (uint32_t) self->mode);
    s_put_u64 (p + 20, self->epoch);
    s_put_u64 (p + 28, last);
    s_put_u64 (p + 36, floor);
    memcpy (p + 44, self->boot_id, strnlen (self->boot_id, 36));
    s_put_u32 (p + S_META_LEN - 4, s_crc (p, S_META_LEN - 4));
    MDB_val k = { sizeof S_META_KEY - 1, (void *) S_META_KEY }, v = { sizeof p, p };
    return mdb_put (txn, self->meta, &k, &v, 0);
}

/* --- opening ------------------------------------------------------------ */

typedef enum { S_OPEN_OK, S_OPEN_DAMAGED, S_OPEN_REFUSED, S_OPEN_FAILED } s_open_t;

#define S_WHY 512

/* Every record readable and well-formed, none past the meta's last offset. */
static s_open_t
s_validate (hb_store_t *self, MDB_txn *txn, const s_meta_t *m, uint64_t *events, char *why)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open (txn, self->events, &cur);
    if (rc != 0)
        goto lmdb_error;
    *events = 0;
    for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        hb_store_rec_t rec;
        if (s_rec_parse (&k, &v, &rec) != 0 || rec.offset > m->last) {
            mdb_cursor_close (cur);
            snprintf (why, S_WHY, "event record %llu of %zu bytes fails its checksum or layout",
                      k.mv_size == 8 ? (unsigned long long) s_get_u64 (k.mv_data) : 0ULL, v.mv_size);
            return S_OPEN_DAMAGED;
        }
        (*events)++;
    }
    mdb_cursor_close (cur);
    if (rc != MDB_NOTFOUND)
        goto lmdb_error;
    rc = mdb_cursor_open (txn, self->lost, &cur);
    if (rc != 0)
        goto lmdb_error;
    for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT))
        if (v.mv_size != 8 || k.mv_size == 0 || k.mv_size > S_USER_MAX
            || s_get_u64 (v.mv_data) > m->last) {
            mdb_cursor_close (cur);
            snprintf (why, S_WHY, "a lost-offset record is malformed");
            return S_OPEN_DAMAGED;
        }
    mdb_cursor_close (cur);
    if (rc != MDB_NOTFOUND)
        goto lmdb_error;
    return S_OPEN_OK;
lmdb_error:
    snprintf (why, S_WHY, "reading the records failed: %s", mdb_strerror (rc));
    return S_OPEN_DAMAGED;
}

/* One attempt at opening dir's environment and reading its state. */
static s_open_t
s_open_once (hb_store_t *self, size_t map_size, uint64_t new_epoch,
             hb_store_state_t *state, char *why)
{
    long long file_size = hb_datadir_data_size (self->dir);
    unsigned flags = MDB_NOTLS | (self->mode == HB_FSYNC_ALWAYS ? 0 : MDB_NOSYNC);
    int rc = mdb_env_create (&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs (self->env, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize (self->env, map_size);
    if (rc == 0)
        rc = mdb_env_open (self->env, self->dir, flags, 0600);
    if (rc == MDB_INVALID) {
        snprintf (why, S_WHY, "data.mdb is not an LMDB file (garbage, or cut short before its meta pages)");
        return S_OPEN_DAMAGED;
    }
    if (rc == MDB_VERSION_MISMATCH) {
        snprintf (why, S_WHY, "data.mdb was written by an incompatible LMDB version");
        return S_OPEN_REFUSED;
    }
    if (rc != 0) {
        snprintf (why, S_WHY, "cannot open the LMDB environment: %s", mdb_strerror (rc));
        return S_OPEN_REFUSED;
    }
    /* A file shorter than its last page would make reads fault (SIGBUS) in
     * the map: check before touching any page. */
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &st);
    long long need = (long long) (info.me_last_pgno + 1) * st.ms_psize;
    if (file_size > 0 && hb_datadir_data_size (self->dir) < need) {
        snprintf (why, S_WHY, "data.mdb is truncated: %lld bytes, its last page needs %lld",
                  hb_datadir_data_size (self->dir), need);
        return S_OPEN_DAMAGED;
    }
    int dead;
    mdb_reader_check (self->env, &dead);

    MDB_txn *txn;
    if ((rc = mdb_txn_begin (self->env, NULL, 0, &txn)) != 0) {
        snprintf (why, S_WHY, "cannot begin a transaction: %s", mdb_strerror (rc));
        return S_OPEN_FAILED;
    }
    s_meta_t m;
    memset (&m, 0, sizeof m);
    bool fresh = false;
    rc = mdb_dbi_open (txn, "meta", 0, &self->meta);
    if (rc == MDB_NOTFOUND) {
        MDB_dbi main_db;
        MDB_stat ms;
        if (mdb_dbi_open (txn, NULL, 0, &main_db) != 0 || mdb_stat (txn, main_db, &ms) != 0
            || ms.ms_entries != 0) {
            mdb_txn_abort (txn);
            snprintf (why, S_WHY, "it holds an LMDB database that is not Herald's; "
                      "refusing to touch it (give --data-dir a directory of its own)");
            return S_OPEN_REFUSED;
        }
        fresh = true;
        snprintf (why, S_WHY, file_size > 0 ? "data.mdb held nothing" : "no store yet");
    }
    else if (rc == MDB_INCOMPATIBLE) {
        mdb_txn_abort (txn);
        snprintf (why, S_WHY, "it holds an LMDB database that is not Herald's; refusing to touch it");
        return S_OPEN_REFUSED;
    }
    else if (rc != 0) {
        mdb_txn_abort (txn);
        snprintf (why, S_WHY, "cannot open the meta database: %s", mdb_strerror (rc));
        return S_OPEN_DAMAGED;
    }
    if ((rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta)) != 0
        || (rc = mdb_dbi_open (txn, "events", MDB_CREATE, &self->events)) != 0
        || (rc = mdb_dbi_open (txn, "lost", MDB_CREATE, &self->lost)) != 0) {
        mdb_txn_abort (txn);
        snprintf (why, S_WHY, "cannot open the databases: %s", mdb_strerror (rc));
        return rc == MDB_INCOMPATIBLE ? S_OPEN_REFUSED : S_OPEN_DAMAGED;
    }
    if (!fresh) {
        MDB_val k = { sizeof S_META_KEY - 1, (void *) S_META_KEY }, v;
        rc = mdb_get (txn, self->meta, &k, &v);
        s_meta_check_t check = rc == 0 ? s_meta_parse (&v, &m)
                             : rc == MDB_NOTFOUND ? S_META_DAMAGED : S_META_DAMAGED;
        if (check != S_META_OK) {
            mdb_txn_abort (txn);
            if (check == S_META_FOREIGN) {
                snprintf (why, S_WHY, "it holds an LMDB database whose meta record is not "
                          "Herald's; refusing to touch it");
                return S_OPEN_REFUSED;
            }
            if (check == S_META_NEWER) {
                snprintf (why, S_WHY, "it was written by a newer Herald (store format %u, this "
                          "broker reads %u); refusing to use it", s_get_u32 ((const unsigned char *) v.mv_data + 8), S_FORMAT);
                return S_OPEN_REFUSED;
            }
            snprintf (why, S_WHY, "the meta record is missing or fails its checksum");
            return S_OPEN_DAMAGED;
        }
        s_open_t ok = s_validate (self, txn, &m, &state->events, why);
        if (ok != S_OPEN_OK) {
            mdb_txn_abort (txn);
            return ok;
        }
        /* Unsynced commits may be gone after the OS went down; the events
         * they held were published, so their offsets cannot be reused. */
        if (!(m.flags & S_FLAG_CLEAN) && m.fsync != HB_FSYNC_ALWAYS
            && (!m.boot_id[0] || strcmp (m.boot_id, self->boot_id) != 0)) {
            snprintf (why, S_WHY, "the last run (--fsync %s) did not stop cleanly and the machine "
                      "has restarted since, so its last commits may be lost; dropping its %llu "
                      "events", hb_fsync_name ((hb_fsync_t) m.fsync),
                      (unsigned long long) state->events);
            if (mdb_drop (txn, self->events, 0) != 0 || mdb_drop (txn, self->lost, 0) != 0) {
                mdb_txn_abort (txn);
                return S_OPEN_FAILED;
            }
            state->events = 0;
            fresh = true;
        }
    }
    self->epoch = fresh ? new_epoch : m.epoch;
    self->last = fresh ? 0 : m.last;
    self->floor = fresh ? 0 : m.floor;
    /* Not clean until hb_store_close says so; synced, so that a crash of
     * this run is known at the next start whatever --fsync says. */
    rc = s_meta_write (self, txn, 0, self->last, self->floor);
    if (rc == 0)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc == 0)
        rc = mdb_env_sync (self->env, 1);
    if (rc != 0) {
        snprintf (why, S_WHY, "cannot write the meta record: %s", mdb_strerror (rc));
        return S_OPEN_FAILED;
    }
    state->epoch = self->epoch;
    state->last = self->last;
    state->floor = self->floor;
    state->fresh = fresh;
    return S_OPEN_OK;
}

static void
s_env_close (hb_store_t *self)
{
    if (self->rtxn)
        mdb_txn_abort (self->rtxn);
    self->rtxn = NULL;
    if (self->txn)
        mdb_txn_abort (self->txn);
    self->txn = NULL;
    if (self->env)
        mdb_env_close (self->env);
    self->env = NULL;
}

hb_store_t *
hb_store_open (const char *dir, size_t history_bytes, hb_fsync_t mode, unsigned interval_ms,
               uint64_t new_epoch, hb_store_state_t *state, bool *refused)
{
    char why[S_WHY] = "";
    *refused = false;
    memset (state, 0, sizeof *state);
    if (strlen (dir) >= sizeof ((hb_store_t *) 0)->dir - 16) {
        hp_error ("--data-dir: path too long");
        *refused = true;
        return NULL;
    }
    hb_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->lock_fd = -1;
    self->mode = mode;
    self->interval_ms = interval_ms;
    snprintf (self->dir, sizeof self->dir, "%s", dir);
    hb_datadir_boot_id (self->boot_id, sizeof self->boot_id);
    if (hb_datadir_prepare (dir, why, sizeof why) != 0
        || (self->lock_fd = hb_datadir_lock (dir, why, sizeof why)) < 0) {
        hp_error ("--data-dir: %s", why);
        *refused = true;
        hb_store_close (&self);
        return NULL;
    }
    /* Records take up to ~2x their bytes in pages (values just over half a
     * page get an overflow page of their own), freed pages are reused only
     * once no reader holds them, and the map is address space, not disk:
     * the file grows as pages are used. */
    size_t map_size = history_bytes * 4 + ((size_t) 256 << 20);
    for (int attempt = 0; ; attempt++) {
        s_open_t rc = s_open_once (self, map_size, new_epoch, state, why);
        if (rc == S_OPEN_OK)
            break;
        s_env_close (self);
        char moved[4200];
        if (rc == S_OPEN_DAMAGED && attempt == 0
            && hb_datadir_move_aside (dir, moved, sizeof moved, why + strlen (why),
                                      sizeof why - strlen (why)) == 0) {
            hp_error ("--data-dir %s: the store is damaged (%s); moved it "
                      "to %s and starting a new epoch", dir, why, moved);
            continue;
        }
        hp_error ("--data-dir %s: %s", dir, why);
        *refused = rc == S_OPEN_REFUSED || rc == S_OPEN_DAMAGED;
        hb_store_close (&self);
        return NULL;
    }
    if (state->fresh)
        hp_warn ("--data-dir %s: new epoch (%s)", dir, why);
    return self;
}

void
hb_store_close (hb_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_store_t *self = *self_p;
    if (self->env) {
        hb_store_read_end (self);
        MDB_txn *txn = self->txn;
        self->txn = NULL;
        int rc = txn ? 0 : mdb_txn_begin (self->env, NULL, 0, &txn);
        if (rc == 0)
            rc = s_meta_write (self, txn, S_FLAG_CLEAN, self->last, self->floor);
        if (rc == 0)
            rc = mdb_txn_commit (txn);
        else if (txn)
            mdb_txn_abort (txn);
        if (rc == 0)
            rc = mdb_env_sync (self->env, 1);
        if (rc != 0)
            hp_error ("could not record a clean stop in the data "
                      "directory: %s", mdb_strerror (rc));
    }
    s_env_close (self);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    free (self->buf);
    free (self);
    *self_p = NULL;
}

/* --- reading ------------------------------------------------------------ */

int
hb_store_each (hb_store_t *self,
               void (*fn) (void *arg, const hb_store_rec_t *rec),
               void (*lost_fn) (void *arg, const char *user, size_t len, uint64_t lost),
               void *arg)
{
    /* A read transaction of its own: fn's deletes go to the pending write
     * and leave this snapshot (and the cursor) alone. */
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return -1;
    rc = mdb_cursor_open (txn, self->events, &cur);
    for (rc = rc ? rc : mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT)) {
        hb_store_rec_t rec;
        if (s_rec_parse (&k, &v, &rec) == 0)
            fn (arg, &rec);
    }
    mdb_cursor_close (cur);
    if (rc == MDB_NOTFOUND && (rc = mdb_cursor_open (txn, self->lost, &cur)) == 0) {
        for (rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT))
            if (v.mv_size == 8)
                lost_fn (arg, k.mv_data, k.mv_size, s_get_u64 (v.mv_data));
        mdb_cursor_close (cur);
    }
    mdb_txn_abort (txn);
    return rc == MDB_NOTFOUND ? 0 : -1;
}

int
hb_store_get (hb_store_t *self, uint64_t offset, const char **json, size_t *len)
{
    int rc = 0;
    if (!self->rtxn)
        rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &self->rtxn);
    else if (!self->reading)
        rc = mdb_txn_renew (self->rtxn);
    if (rc != 0) {
        if (self->rtxn && !self->reading) {
            mdb_txn_abort (self->rtxn);
            self->rtxn = NULL;
        }
        self->stats.failures++;
        hb_ratelog (&self->log, S_LOG_READ, "store: cannot begin a read: %s", mdb_strerror (rc));
        return -1;
    }
    self->reading = true;
    unsigned char kb[8];
    s_put_u64 (kb, offset);
    MDB_val k = { 8, kb }, v;
    hb_store_rec_t rec;
    rc = mdb_get (self->rtxn, self->events, &k, &v);
    if (rc != 0 || s_rec_parse (&k, &v, &rec) != 0) {
        self->stats.failures++;
        hb_ratelog (&self->log, S_LOG_READ, "store: event %llu is %s",
                    (unsigned long long) offset, rc ? mdb_strerror (rc) : "damaged");
        return -1;
    }
    *json = rec.json;
    *len = rec.json_len;
    return 0;
}

void
hb_store_read_end (hb_store_t *self)
{
    if (self->reading) {
        mdb_txn_reset (self->rtxn);
        self->reading = false;
    }
}

/* --- writing ------------------------------------------------------------ */

static int
s_txn (hb_store_t *self)
{
    if (self->txn)
        return 0;
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->txn);
    if (rc != 0) {
        self->txn = NULL;
        self->stats.failures++;
        hb_ratelog (&self->log, S_LOG_WRITE, "store: cannot begin a write: %s", mdb_strerror (rc));
        return -1;
    }
    return 0;
}

/* A write failed: LMDB's transaction is unusable, so everything pending in
 * it is dropped (history is told by the -1 and marks the loss). */
static int
s_write_failed (hb_store_t *self, const char *what, int rc)
{
    mdb_txn_abort (self->txn);
    self->txn = NULL;
    self->stats.failures++;
    hb_ratelog (&self->log, S_LOG_WRITE, "store: %s failed: %s (pending writes dropped)",
                what, mdb_strerror (rc));
    return -1;
}

int
hb_store_put (hb_store_t *self, uint64_t offset, uint64_t expires_wall, uint32_t ttl,
              uint64_t at, const hp_event_meta_t *meta, const char *json, size_t json_len,
              const hb_key_t *users, const uint64_t *prevs, size_t n)
{
    bool has_meta = meta && meta->flags;
    size_t key_len = has_meta ? meta->key.len : 0;
    size_t head = S_REC_HEAD + S_REC_AT + (has_meta ? S_REC_META + key_len : 0);
    size_t len = head + json_len;
    for (size_t i = 0; i < n; i++)
        len += S_USER_HEAD + users[i].len;
    if (json_len > UINT32_MAX || n >= S_REC_HAS_META || n == 0 || key_len > HP_KEY_MAX) {
        self->stats.failures++;
        return -1;
    }
    if (len > self->buf_cap) {
        unsigned char *buf = realloc (self->buf, len);
        if (!buf) {
            self->stats.failures++;
            return -1;
        }
        self->buf = buf;
        self->buf_cap = len;
    }
    unsigned char *p = self->buf;
    s_put_u32 (p + 4, ttl);
    s_put_u64 (p + 8, expires_wall);
    s_put_u32 (p + 16, (uint32_t) n | S_REC_HAS_AT | (has_meta ? S_REC_HAS_META : 0));
    s_put_u32 (p + 20, (uint32_t) json_len);
    s_put_u64 (p + S_REC_HEAD, at);
    if (has_meta) {
        unsigned char *m = p + S_REC_HEAD + S_REC_AT;
        m[0] = (unsigned char) (meta->receipt >> 8);
        m[1] = (unsigned char) meta->receipt;
        m[2] = meta->flags;
        m[3] = (unsigned char) key_len;
        if (key_len)
            memcpy (m + S_REC_META, meta->key.ptr, key_len);
    }
    memcpy (p + head, json, json_len);
    unsigned char *u = p + head + json_len;
    for (size_t i = 0; i < n; i++) {
        s_put_u64 (u, prevs[i]);
        u[8] = (unsigned char) (users[i].len >> 8);
        u[9] = (unsigned char) users[i].len;
        memcpy (u + S_USER_HEAD, users[i].ptr, users[i].len);
        u += S_USER_HEAD + users[i].len;
    }
    s_put_u32 (p, s_crc (p + 4, len - 4));
    if (s_txn (self) != 0)
        return -1;
    unsigned char kb[8];
    s_put_u64 (kb, offset);
    MDB_val k = { 8, kb }, v = { len, p };
    int rc = mdb_put (self->txn, self->events, &k, &v, MDB_APPEND);
    return rc == 0 ? 0 : s_write_failed (self, "storing an event", rc);
}

void
hb_store_del (hb_store_t *self, uint64_t offset)
{
    if (s_txn (self) != 0)
        return;
    unsigned char kb[8];
    s_put_u64 (kb, offset);
    MDB_val k = { 8, kb };
    int rc = mdb_del (self->txn, self->events, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        s_write_failed (self, "deleting an event", rc);
}

void
hb_store_put_lost (hb_store_t *self, const char *user, size_t len, uint64_t lost)
{
    if (s_txn (self) != 0)
        return;
    unsigned char vb[8];
    s_put_u64 (vb, lost);
    MDB_val k = { len, (void *) user }, v = { 8, vb };
    int rc = mdb_put (self->txn, self->lost, &k, &v, 0);
    if (rc != 0)
        s_write_failed (self, "storing a lost offset", rc);
}

void
hb_store_del_lost (hb_store_t *self, const char *user, size_t len)
{
    if (s_txn (self) != 0)
        return;
    MDB_val k = { len, (void *) user };
    int rc = mdb_del (self->txn, self->lost, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        s_write_failed (self, "deleting a lost offset", rc);
}

int
hb_store_commit (hb_store_t *self, uint64_t last, uint64_t floor)
{
    hb_store_read_end (self);
    if (!self->txn && last == self->last && floor == self->floor)
        return 0;
    if (s_txn (self) != 0)
        return -1;
    int rc = s_meta_write (self, self->txn, 0, last, floor);
    if (rc != 0)
        return s_write_failed (self, "writing the meta record", rc);
    rc = mdb_txn_commit (self->txn);
    self->txn = NULL;
    if (rc != 0) {
        self->stats.failures++;
        hb_ratelog (&self->log, S_LOG_WRITE, "store: commit failed: %s", mdb_strerror (rc));
        return -1;
    }
    self->last = last;
    self->floor = floor;
    self->stats.commits++;
    if (self->mode == HB_FSYNC_ALWAYS)
        self->stats.syncs++;
    else if (self->mode == HB_FSYNC_BATCH && !self->unsynced) {
        self->unsynced = true;
        self->unsynced_since_ms = s_now_ms ();
    }
    return 0;
}

int
hb_store_reset (hb_store_t *self, uint64_t epoch, uint64_t last)
{
    hb_store_read_end (self);
    if (s_txn (self) != 0)
        return -1;
    int rc = mdb_drop (self->txn, self->events, 0);
    if (rc == 0)
        rc = mdb_drop (self->txn, self->lost, 0);
    if (rc != 0)
        return s_write_failed (self, "emptying the store", rc);
    uint64_t old = self->epoch;
    self->epoch = epoch;
    if (hb_store_commit (self, last, last) != 0) {
        self->epoch = old;
        return -1;
    }
    return 0;
}

long
hb_store_tick (hb_store_t *self, uint64_t now_ms)
{
    if (self->mode != HB_FSYNC_BATCH || !self->unsynced)
        return -1;
    uint64_t due = self->unsynced_since_ms + self->interval_ms;
    if (now_ms < due)
        return (long) (due - now_ms);
    int rc = mdb_env_sync (self->env, 1);
    if (rc != 0) {
        self->stats.failures++;
        hb_ratelog (&self->log, S_LOG_SYNC, "store: sync failed: %s", mdb_strerror (rc));
    }
    else
        self->stats.syncs++;
    self->unsynced = false;
    return -1;
}

void
hb_store_stats (const hb_store_t *self, hb_store_stats_t *out)
{
    *out = self->stats;
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info (self->env, &info) == 0 && mdb_env_stat (self->env, &st) == 0)
        out->bytes = (uint64_t) (info.me_last_pgno + 1) * st.ms_psize;
}
