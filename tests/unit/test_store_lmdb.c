/* test_store_lmdb.c -- the LMDB store under the history index: restart, rebuild, lost_upto, damaged dirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <lmdb.h>
#include <zlib.h>

#include "history.h"
#include "store_lmdb.h"
#include "umap.h"

/* Each test event's accept time, from its offset, so that a check can
 * tell it came back with the event. */
#include "event_meta.h"

#define S_AT(offset) (1764720000000000ULL + (offset))

#define BIG ((size_t) 1 << 30)
#define EPOCH_A 0x1111222233334444ULL
#define EPOCH_B 0x5555666677778888ULL

static char s_dir[256];

static int
s_setup (void **state)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/herald-test-store-XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    return 0;
}

static int
s_teardown (void **state)
{
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    assert_int_equal (system (cmd), 0);
    return 0;
}

static hb_key_t
s_key (const char *user)
{
    return (hb_key_t) { user, strlen (user), hb_hash (user, strlen (user)) };
}

/* A store and a history attached to it, as main.c wires them. */
typedef struct {
    hb_store_t      *store;
    hb_history_t    *history;
    hb_store_state_t state;
} s_broker_t;

static void
s_open (s_broker_t *b, size_t per_user, hb_fsync_t mode, uint64_t epoch, uint64_t now)
{
    bool refused = true;
    b->store = hb_store_open (s_dir, 1 << 20, mode, 100, epoch, &b->state, &refused);
    assert_non_null (b->store);
    assert_false (refused);
    b->history = hb_history_new (per_user, BIG);
    assert_non_null (b->history);
    assert_int_equal (hb_history_attach (b->history, b->store, &b->state, now), 0);
}

static void
s_close (s_broker_t *b)
{
    hb_history_destroy (&b->history);
    hb_store_close (&b->store);
    assert_null (b->store);
}

static void
s_append (s_broker_t *b, uint64_t offset, uint32_t ttl, uint64_t now, const char *u1, const char *u2)
{
    char json[64];
    int n = snprintf (json, sizeof json, "{\"offset\":%llu}", (unsigned long long) offset);
    hb_key_t keys[2] = { s_key (u1), u2 ? s_key (u2) : s_key ("") };
    zmq_msg_t frame;
    zmq_msg_init_size (&frame, (size_t) n);
    memcpy (zmq_msg_data (&frame), json, (size_t) n);
    hp_event_meta_t meta = s_meta_of (offset);
    assert_int_equal (hb_history_append (b->history, offset, ttl, now, S_AT (offset), &meta, &frame, keys, u2 ? 2 : 1), 0);
    zmq_msg_close (&frame);
}

static size_t
s_collect (s_broker_t *b, const char *user, uint64_t after, uint64_t now,
           hb_history_item_t *items, uint64_t *lost)
{
    return hb_history_collect (b->history, user, strlen (user), after, now, items, 1000, lost);
}

/* A new directory starts the epoch given; a clean stop and a restart keep
 * it, continue after the last offset and serve the same frames. */
static void
test_restart_keeps_epoch_offsets_frames (void **state)
{
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_A, 1000);
    assert_true (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_A);
    assert_int_equal (b.state.last, 0);
    for (uint64_t o = 1; o <= 5; o++)
        s_append (&b, o, 120, 1000, "alice", o % 2 ? "bob" : NULL);
    assert_int_equal (hb_history_commit (b.history, 7), 0);   /* 6 and 7 had ttl 0 */
    s_close (&b);

    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 50);   /* another boot's monotonic clock */
    assert_false (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_A);
    assert_int_equal (b.state.last, 7);
    assert_int_equal (b.state.events, 5);
    hb_history_item_t items[1000];
    uint64_t lost;
    size_t n = s_collect (&b, "alice", 2, 50, items, &lost);
    assert_int_equal (n, 3);
    assert_int_equal (items[0].offset, 3);
    assert_int_equal (items[0].len, strlen ("{\"offset\":3}"));
    assert_memory_equal (items[0].json, "{\"offset\":3}", items[0].len);
    /* the accept time is stored with the event (format 3) and read back */
    assert_true (items[0].at == S_AT (3));
    /* the meta (flags, receipt, key) came back from the store's records */
    for (size_t i = 0; i < n; i++)
        assert_true (s_meta_is (&items[i].meta, items[i].offset));
    assert_int_equal (lost, 0);
    n = s_collect (&b, "bob", 0, 50, items, &lost);
    assert_int_equal (n, 3);
    assert_int_equal (items[2].offset, 5);
    assert_int_equal (lost, 0);
    /* ttl survives the restart on the wall clock: 120 s from the append */
    n = s_collect (&b, "alice", 0, 50 + 125, items, &lost);
    assert_int_equal (n, 0);
    assert_true (lost >= 5);
    s_close (&b);
}

/* A pair's passive starting its copy over (hb_store_reset): the store
 * holds nothing of the old epoch, says the new one with last and floor at
 * the offset given, and a restart rebuilds exactly that. */
static void
test_reset_into_another_epoch (void **state)
{
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_ALWAYS, EPOCH_A, 1000);
    for (uint64_t o = 1; o <= 4; o++)
        s_append (&b, o, 120, 1000, "alice", NULL);
    assert_int_equal (hb_history_commit (b.history, 4), 0);
    s_append (&b, 5, 120, 1000, "alice", NULL);        /* pending: dropped too */
    hb_history_destroy (&b.history);
    assert_int_equal (hb_store_reset (b.store, EPOCH_B, 40), 0);
    hb_store_close (&b.store);

    s_open (&b, 10, HB_FSYNC_ALWAYS, EPOCH_A, 1000);
    assert_false (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_B);
    assert_int_equal (b.state.last, 40);
    assert_int_equal (b.state.floor, 40);
    assert_int_equal (b.state.events, 0);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (&b, "alice", 0, 1000, items, &lost), 0);
    assert_int_equal (lost, 40);                        /* nothing before 41 is vouched for */
    s_append (&b, 41, 120, 1000, "alice", NULL);
    assert_int_equal (hb_history_commit (b.history, 41), 0);
    assert_int_equal (s_collect (&b, "alice", 40, 1000, items, &lost), 1);
    assert_int_equal (items[0].offset, 41);
    assert_true (lost <= 40);
    s_close (&b);
}

/* Losses before a restart stay losses after it: count evictions (seen in
 * the previous-offset chain) and a user's newest event expiring (the lost
 * record); a resume from after them is complete. */
static void
test_lost_upto_survives (void **state)
{
    s_broker_t b;
    s_open (&b, 3, HB_FSYNC_NONE, EPOCH_A, 1000);
    for (uint64_t o = 1; o <= 5; o++)
        s_append (&b, o, 120, 1000, "alice", NULL);          /* 1, 2 pushed out */
    s_append (&b, 6, 120, 1000, "carol", NULL);
    s_append (&b, 7, 2, 1000, "carol", NULL);                /* carol's newest, short ttl */
    s_append (&b, 8, 2, 1000, "dave", NULL);                 /* dave's only event */
    hb_history_sweep (b.history, 1003);                      /* 7 and 8 expire */
    assert_int_equal (hb_history_commit (b.history, 8), 0);
    hb_history_item_t items[1000];
    uint64_t lost_before[3];
    s_collect (&b, "alice", 0, 1003, items, &lost_before[0]);
    s_collect (&b, "carol", 0, 1003, items, &lost_before[1]);
    s_collect (&b, "dave", 0, 1003, items, &lost_before[2]);
    assert_int_equal (lost_before[0], 2);
    assert_int_equal (lost_before[1], 7);
    assert_int_equal (lost_before[2], 8);
    s_close (&b);

    s_open (&b, 3, HB_FSYNC_NONE, EPOCH_B, 10);
    uint64_t lost;
    size_t n = s_collect (&b, "alice", 0, 10, items, &lost);
    assert_int_equal (n, 3);
    assert_int_equal (lost, 2);                               /* from 0: incomplete */
    n = s_collect (&b, "alice", 2, 10, items, &lost);
    assert_true (lost <= 2);                                  /* from 2: complete */
    n = s_collect (&b, "carol", 5, 10, items, &lost);
    assert_int_equal (n, 1);
    assert_int_equal (items[0].offset, 6);
    assert_int_equal (lost, 7);                               /* 7 left: not complete from 6 */
    s_collect (&b, "dave", 0, 10, items, &lost);
    assert_true (lost >= 8);
    s_collect (&b, "erin", 0, 10, items, &lost);              /* never had anything */
    assert_int_equal (lost, 0);
    s_close (&b);
}

/* A smaller per-user bound at restart applies to the rebuilt rings, and the
 * records it evicts are deleted from the store too. */
static void
test_rebuild_applies_bounds (void **state)
{
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_ALWAYS, EPOCH_A, 1000);
    for (uint64_t o = 1; o <= 6; o++)
        s_append (&b, o, 120, 1000, "alice", NULL);
    hb_history_commit (b.history, 6);
    s_close (&b);
    s_open (&b, 2, HB_FSYNC_ALWAYS, EPOCH_B, 1000);
    assert_int_equal (hb_history_events (b.history), 2);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (&b, "alice", 0, 1000, items, &lost), 2);
    assert_int_equal (lost, 4);
    s_close (&b);
    s_open (&b, 10, HB_FSYNC_ALWAYS, EPOCH_B, 1000);
    assert_int_equal (b.state.events, 2);                     /* the 4 were deleted */
    s_close (&b);
}

/* Writes a raw record into the store's LMDB environment (the test plays a
 * damaged disk or another program). */
static void
s_raw_put (const char *db, const void *key, size_t klen, const void *val, size_t vlen)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_env_create (&env), 0);
    mdb_env_set_maxdbs (env, 4);
    assert_int_equal (mdb_env_open (env, s_dir, 0, 0600), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, 0, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, db, MDB_CREATE, &dbi), 0);
    MDB_val k = { klen, (void *) key }, v = { vlen, (void *) val };
    assert_int_equal (mdb_put (txn, dbi, &k, &v, 0), 0);
    assert_int_equal (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
}

static bool
s_moved_aside (void)
{
    char cmd[400];
    snprintf (cmd, sizeof cmd, "ls '%s' | grep -q '^data.mdb.damaged-'", s_dir);
    return system (cmd) == 0;
}

static void
s_store_some (uint64_t count)
{
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_A, 1000);
    for (uint64_t o = 1; o <= count; o++)
        s_append (&b, o, 120, 1000, "alice", NULL);
    hb_history_commit (b.history, count);
    s_close (&b);
}

/* A record whose bytes changed on disk fails its checksum: the store is
 * moved aside and a new epoch starts with nothing in it. */
static void
test_corrupt_record_new_epoch (void **state)
{
    s_store_some (3);
    unsigned char key[8] = { 0, 0, 0, 0, 0, 0, 0, 2 };
    s_raw_put ("events", key, 8, "garbage bytes that are no record", 32);
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 1000);
    assert_true (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_B);
    assert_int_equal (b.state.last, 0);
    assert_int_equal (hb_history_events (b.history), 0);
    assert_true (s_moved_aside ());
    s_close (&b);
}

/* A truncated data file and a garbage one are damaged stores too. */
static void
test_truncated_and_garbage_files (void **state)
{
    s_store_some (200);
    char path[300];
    snprintf (path, sizeof path, "%s/data.mdb", s_dir);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (truncate (path, st.st_size / 2), 0);
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 1000);
    assert_true (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_B);
    assert_true (s_moved_aside ());
    s_close (&b);

    FILE *f = fopen (path, "w");
    assert_non_null (f);
    for (int i = 0; i < 20000; i++)
        fputc ((i * 7919) & 0xff, f);
    fclose (f);
    snprintf (path, sizeof path, "%s/lock.mdb", s_dir);
    unlink (path);
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_A, 1000);
    assert_true (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_A);
    s_close (&b);
}

/* Refused, leaving the files as they were: another program's LMDB
 * database, a newer Herald's store, a directory another broker holds. */
static void
test_refusals (void **state)
{
    hb_store_state_t st;
    bool refused = false;
    s_raw_put ("somebody-elses", "k", 1, "v", 1);
    assert_null (hb_store_open (s_dir, 1 << 20, HB_FSYNC_BATCH, 100, EPOCH_A, &st, &refused));
    assert_true (refused);
    assert_false (s_moved_aside ());
    s_teardown (state);
    s_setup (state);

    s_store_some (1);
    unsigned char meta[84] = "HERALDDB";
    meta[11] = 5;   /* format 5: newer than this broker's 4 */
    s_raw_put ("meta", "herald", 6, meta, sizeof meta);
    refused = false;
    assert_null (hb_store_open (s_dir, 1 << 20, HB_FSYNC_BATCH, 100, EPOCH_A, &st, &refused));
    assert_true (refused);
    assert_false (s_moved_aside ());
    s_teardown (state);
    s_setup (state);

    hb_store_t *first = hb_store_open (s_dir, 1 << 20, HB_FSYNC_BATCH, 100, EPOCH_A, &st, &refused);
    assert_non_null (first);
    pid_t pid = fork ();
    if (pid == 0) {
        /* flock is per open file: a second broker is another process */
        hb_store_state_t st2;
        bool r2 = false;
        hb_store_t *second = hb_store_open (s_dir, 1 << 20, HB_FSYNC_BATCH, 100, EPOCH_B, &st2, &r2);
        _exit (second == NULL && r2 ? 0 : 1);
    }
    int status;
    waitpid (pid, &status, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    hb_store_close (&first);
}

/* A process that dies without closing (kill -9) keeps everything it
 * committed, even unsynced (--fsync none): same boot, same epoch. */
static void
test_crash_keeps_commits (void **state)
{
    pid_t pid = fork ();
    if (pid == 0) {
        s_broker_t b;
        bool refused;
        b.store = hb_store_open (s_dir, 1 << 20, HB_FSYNC_NONE, 100, EPOCH_A, &b.state, &refused);
        b.history = hb_history_new (10, BIG);
        if (!b.store || !b.history || hb_history_attach (b.history, b.store, &b.state, 1000) != 0)
            _exit (1);
        for (uint64_t o = 1; o <= 4; o++)
            s_append (&b, o, 120, 1000, "alice", NULL);
        _exit (hb_history_commit (b.history, 4) == 0 ? 0 : 1);   /* no close */
    }
    int status;
    waitpid (pid, &status, 0);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_NONE, EPOCH_B, 1000);
    assert_false (b.state.fresh);
    assert_int_equal (b.state.epoch, EPOCH_A);
    assert_int_equal (b.state.last, 4);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (&b, "alice", 0, 1000, items, &lost), 4);
    assert_int_equal (lost, 0);
    s_close (&b);
}

/* The bytes of one record, or false when absent. */
static bool
s_raw_get (const char *db, const void *key, size_t klen, unsigned char *out, size_t *len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal (mdb_env_create (&env), 0);
    mdb_env_set_maxdbs (env, 4);
    assert_int_equal (mdb_env_open (env, s_dir, 0, 0600), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, db, 0, &dbi), 0);
    MDB_val k = { klen, (void *) key }, v;
    bool found = mdb_get (txn, dbi, &k, &v) == 0 && v.mv_size <= *len;
    if (found) {
        memcpy (out, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort (txn);
    mdb_env_close (env);
    return found;
}

static void
s_be (unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

/* A store of format 2 (an earlier release: records without accept times)
 * is read as it is: its events are served with at 0, the ones stored after
 * the upgrade with theirs, and the meta says format 3 from the first
 * commit on (so the earlier release refuses it from then on). */
static void
test_reads_format_2 (void **state)
{
    s_store_some (2);
    /* offset 3 as format 2 wrote it: crc ttl expires nusers json_len json
     * {prev len key} -- no accept time, nusers' top bit clear */
    const char *json = "{\"offset\":3}";
    unsigned char rec[128];
    size_t jl = strlen (json), len = 24 + jl + 10 + 5;
    s_be (rec + 4, 120, 4);
    s_be (rec + 8, (uint64_t) time (NULL) + 120, 8);
    s_be (rec + 16, 1, 4);
    s_be (rec + 20, jl, 4);
    memcpy (rec + 24, json, jl);
    s_be (rec + 24 + jl, 2, 8);
    s_be (rec + 24 + jl + 8, 5, 2);
    memcpy (rec + 24 + jl + 10, "alice", 5);
    s_be (rec, crc32 (crc32 (0L, Z_NULL, 0), rec + 4, (uInt) (len - 4)), 4);
    unsigned char key[8];
    s_be (key, 3, 8);
    s_raw_put ("events", key, 8, rec, len);
    /* the meta as format 2 wrote it, last offset 3 */
    unsigned char meta[84];
    size_t mlen = sizeof meta;
    assert_true (s_raw_get ("meta", "herald", 6, meta, &mlen));
    assert_int_equal (mlen, 84);
    assert_int_equal (meta[11], 4);               /* written as format 4 */
    meta[11] = 2;
    s_be (meta + 28, 3, 8);
    s_be (meta + 80, crc32 (crc32 (0L, Z_NULL, 0), meta, 80), 4);
    s_raw_put ("meta", "herald", 6, meta, sizeof meta);

    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 1000);
    assert_false (b.state.fresh);                 /* kept: not damaged, not refused */
    assert_int_equal (b.state.last, 3);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (&b, "alice", 0, 1000, items, &lost), 3);
    assert_true (items[0].at == S_AT (1) && items[1].at == S_AT (2));
    assert_true (s_meta_is (&items[0].meta, 1) && s_meta_is (&items[1].meta, 2));
    assert_true (items[2].at == 0);               /* format 2: time unknown */
    assert_true (items[2].meta.flags == 0 && items[2].meta.key.len == 0);   /* and no meta */
    assert_memory_equal (items[2].json, json, jl);
    s_append (&b, 4, 120, 1000, "alice", NULL);
    assert_int_equal (hb_history_commit (b.history, 4), 0);
    s_close (&b);
    mlen = sizeof meta;
    assert_true (s_raw_get ("meta", "herald", 6, meta, &mlen));
    assert_int_equal (meta[11], 4);               /* upgraded by the commit */

    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 1000);
    assert_int_equal (s_collect (&b, "alice", 0, 1000, items, &lost), 4);
    assert_true (items[2].at == 0 && items[3].at == S_AT (4));   /* both layouts in one store */
    assert_int_equal (lost, 0);
    s_close (&b);
}

/* An event whose record expired on the wall clock while the broker was
 * down is dropped at the rebuild and counts as lost for its recipients. */
static void
test_expired_while_down (void **state)
{
    s_broker_t b;
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_A, 1000);
    s_append (&b, 1, 120, 1000, "alice", NULL);
    hb_history_commit (b.history, 1);
    /* a record written as if 200 s ago with a 60 s ttl */
    hb_key_t k = s_key ("alice");
    uint64_t prev = 1;
    assert_int_equal (hb_store_put (b.store, 2, (uint64_t) time (NULL) - 140, 60, 0, NULL, "{}", 2,
                                    &k, &prev, 1), 0);
    hb_history_destroy (&b.history);   /* the index never saw it */
    assert_int_equal (hb_store_commit (b.store, 2, 0), 0);
    hb_store_close (&b.store);
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 1000);
    hb_history_item_t items[1000];
    uint64_t lost;
    assert_int_equal (s_collect (&b, "alice", 0, 1000, items, &lost), 1);
    assert_int_equal (items[0].offset, 1);
    assert_int_equal (lost, 2);
    assert_int_equal (hb_history_evicted (b.history, HB_EVICT_TTL), 1);
    s_close (&b);
    s_open (&b, 10, HB_FSYNC_BATCH, EPOCH_B, 1000);
    assert_int_equal (b.state.events, 1);                     /* deleted from disk */
    assert_int_equal (s_collect (&b, "alice", 1, 1000, items, &lost), 0);
    assert_int_equal (lost, 2);                               /* and still lost */
    s_close (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_restart_keeps_epoch_offsets_frames, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lost_upto_survives, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reset_into_another_epoch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rebuild_applies_bounds, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_corrupt_record_new_epoch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_truncated_and_garbage_files, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_crash_keeps_commits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expired_while_down, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reads_format_2, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
