/* history.c -- the history's index: bounded per-user rings of event records, evictions, lost_upto.
 *
 * Layout:
 *   event record: offset, expiry, the frame's storage (a reference to the
 *       ZeroMQ message published, store_mem.h; or nothing, its bytes being
 *       in the LMDB store under its offset), the array of its
 *       recipients' user records, links in the global age list (oldest first,
 *       for the byte bound) and in a ttl timing-wheel slot.
 *   user record: its key, a ring of (event, index into event->users) in
 *       offset order, and lost_upto. When its ring empties the record turns
 *       idle (ring freed, kept for its lost_upto); idle records are the first
 *       thing the byte bound drops, and dropping one folds its lost_upto
 *       into a global floor that every later-created record starts from.
 *
 * Invariant: event->users[i] is non-NULL exactly while that user's ring holds
 * a slot (event, i); event->refs counts those. A record dies when refs is 0.
 *
 * Known limit: an event removed from the middle of a ring (a shorter ttl than
 * an older neighbour's) costs a binary search plus a shift of up to
 * events_per_user slots. Evictions from the ring's head are O(1).
 *
 * With a store the index writes through: a stored event carries, per
 * recipient, the offset of that user's previous stored event (user->last),
 * so a rebuild sees every hole an eviction left before a user's newest
 * surviving event; a loss of a user's newest event (which no later record
 * can show) is written as that user's lost record; the global floor goes in
 * the store's meta record at each commit. Memory-only costs one predictable
 * branch per store hook. */
#include "history.h"
#include "envelope.h"
#include "store_mem.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_WHEEL_SLOTS 1024u          /* seconds; power of two */
#define S_MAP_SLOT_BYTES 128u        /* a user's share of the umap (64-byte slots, the
                                        table at most half full), for accounting */
#define S_SPARE_MAX 1024u            /* freed one-recipient records kept for reuse */

typedef struct s_event s_event_t;
typedef struct s_user s_user_t;

typedef struct {
    s_event_t *ev;
    uint32_t   idx;                  /* position in ev->users */
} s_slot_t;

struct s_event {
    s_event_t *older, *newer;        /* global age list */
    s_event_t *wprev, *wnext;        /* ttl wheel slot list */
    uint64_t   offset;
    uint64_t   expires;
    uint64_t   at;                   /* accept time, us since 1970 (0: unknown) */
    size_t     bytes;
    zmq_msg_t  frame;                /* memory storage: our reference to the JSON frame */
    const char *json;                /* its bytes (NULL with a store) */
    uint32_t   json_len;
    uint32_t   refs;
    uint32_t   nusers;
    uint16_t   receipt;              /* meta: receipt seconds (0: none) */
    uint8_t    flags;                /* meta: wire flags */
    uint8_t    key_len;              /* meta: the key's bytes, after users[] */
    s_user_t  *users[];
};

/* The record's conflation key lives after its users (nusers entries). */
static inline char *
s_event_key (const s_event_t *ev)
{
    return (char *) &ev->users[ev->nusers];
}

static inline hp_event_meta_t
s_event_meta (const s_event_t *ev)
{
    hp_event_meta_t meta = { ev->flags, ev->receipt, { NULL, 0 } };
    if (ev->key_len)
        meta.key = (hp_str_t) { s_event_key (ev), ev->key_len };
    return meta;
}

/* Copies meta into a record taken for it (s_event_take's key_len). */
static void
s_event_set_meta (s_event_t *ev, const hp_event_meta_t *meta)
{
    ev->receipt = meta ? meta->receipt : 0;
    ev->flags = meta ? meta->flags : 0;
    ev->key_len = meta && meta->key.len <= HP_KEY_MAX ? (uint8_t) meta->key.len : 0;
    if (ev->key_len)
        memcpy (s_event_key (ev), meta->key.ptr, ev->key_len);
    else
        ev->flags &= (uint8_t) ~HP_WIRE_FLAG_KEY;   /* no key kept: none said */
}

struct s_user {
    s_user_t *idle_prev, *idle_next; /* idle list, while count == 0 */
    s_slot_t *ring;
    uint32_t  cap, head, count;
    uint64_t  lost_upto;
    uint64_t  last;                  /* offset of the newest event stored for it */
    uint64_t  hash;
    size_t    len;
    char      key[];
};

struct hb_history {
    size_t     per_user;
    size_t     max_bytes;
    size_t     bytes;
    size_t     events;
    uint64_t   floor;                /* lost_upto of every dropped user record */
    uint64_t   evicted[HB_EVICT_REASONS];
    hb_umap_t *users;
    s_event_t *oldest, *newest;
    s_user_t  *idle_head, *idle_tail;
    s_event_t *wheel[S_WHEEL_SLOTS];
    uint64_t   swept_to;             /* wheel slots up to here are processed */
    bool       clock_started;
    /* Freed one-recipient records, reused by the next append: in steady
     * state each unicast event frees one (evicted) and takes one, so this
     * saves a malloc/free pair per event. At most S_SPARE_MAX are kept;
     * they are not counted in bytes (at most ~150 KiB). */
    s_event_t *spare;                /* linked through ->newer */
    size_t     spares;
    hb_store_t *store;               /* NULL: frames in memory */
    uint64_t   *prevs;               /* HP_RECIPIENTS_MAX, with a store */
    hb_key_t   *keys;                /* HP_RECIPIENTS_MAX, for the rebuild */
    uint64_t    last;                /* the last offset given, as committed */
    /* the pair's catch-up cursor (hb_history_cursor_start), while on */
    bool        cursor_on;
    s_event_t  *cursor;              /* the next event to give, or NULL: past the newest */
    uint64_t    cursor_after;        /* the offset of the last one given */
    hb_history_lost_fn *cursor_lost;
    void       *cursor_arg;
};

/* Recipients whose map slots are started together before the lookups:
 * enough to overlap the misses of a small fan-out; a large one is looked up
 * one by one anyway. */
#define S_PREFETCH_MAX 16

hb_history_t *
hb_history_new (size_t events_per_user, size_t max_bytes)
{
    if (events_per_user < 1 || events_per_user > UINT32_MAX / 2)
        return NULL;
    hb_history_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->per_user = events_per_user;
    self->max_bytes = max_bytes;
    /* Every record costs more than a map slot, so the byte bound bounds the
     * map; the explicit bound only guards against accounting mistakes. */
    self->users = hb_umap_new (max_bytes / S_MAP_SLOT_BYTES + 16);
    if (!self->users) {
        free (self);
        return NULL;
    }
    return self;
}

static void
s_user_free (void *value, void *arg)
{
    s_user_t *user = value;
    free (user->ring);
    free (user);
}

void
hb_history_destroy (hb_history_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_history_t *self = *self_p;
    s_event_t *ev = self->oldest;
    while (ev) {
        s_event_t *next = ev->newer;
        if (!self->store)
            hb_memstore_drop (&ev->frame);
        free (ev);
        ev = next;
    }
    while (self->spare) {
        s_event_t *next = self->spare->newer;
        free (self->spare);
        self->spare = next;
    }
    hb_umap_each (self->users, s_user_free, NULL);
    hb_umap_destroy (&self->users);
    free (self->prevs);
    free (self->keys);
    free (self);
    *self_p = NULL;
}

static inline uint64_t
s_max (uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* --- user records ------------------------------------------------------- */

static size_t
s_user_bytes (const s_user_t *user)
{
    return sizeof *user + user->len + S_MAP_SLOT_BYTES + (size_t) user->cap * sizeof (s_slot_t);
}

static void
s_idle_unlink (hb_history_t *self, s_user_t *user)
{
    if (user->idle_prev)
        user->idle_prev->idle_next = user->idle_next;
    else
        self->idle_head = user->idle_next;
    if (user->idle_next)
        user->idle_next->idle_prev = user->idle_prev;
    else
        self->idle_tail = user->idle_prev;
    user->idle_prev = user->idle_next = NULL;
}

/* The ring emptied: free it and queue the record as idle. */
static void
s_user_go_idle (hb_history_t *self, s_user_t *user)
{
    self->bytes -= (size_t) user->cap * sizeof (s_slot_t);
    free (user->ring);
    user->ring = NULL;
    user->cap = user->head = 0;
    user->idle_prev = self->idle_tail;
    user->idle_next = NULL;
    if (self->idle_tail)
        self->idle_tail->idle_next = user;
    else
        self->idle_head = user;
    self->idle_tail = user;
}

/* Drops an idle record for good; the floor keeps its lost_upto. */
static void
s_user_drop (hb_history_t *self, s_user_t *user)
{
    s_idle_unlink (self, user);
    self->floor = s_max (self->floor, user->lost_upto);
    if (self->store)
        hb_store_del_lost (self->store, user->key, user->len);
    hb_umap_remove (self->users, user->hash, user->key, user->len);
    self->bytes -= s_user_bytes (user);
    free (user);
}

static s_user_t *
s_user_get (hb_history_t *self, const hb_key_t *key)
{
    s_user_t *user = hb_umap_get (self->users, key->hash, key->ptr, key->len);
    if (user) {
        if (user->count == 0)
            s_idle_unlink (self, user);
        return user;
    }
    user = calloc (1, sizeof *user + key->len);
    if (!user)
        return NULL;
    user->hash = key->hash;
    user->len = key->len;
    memcpy (user->key, key->ptr, key->len);
    /* Whatever this user lost before the record existed is under the floor. */
    user->lost_upto = self->floor;
    if (hb_umap_put (self->users, key->hash, user->key, user->len, user) != 0) {
        free (user);
        return NULL;
    }
    self->bytes += s_user_bytes (user);
    return user;
}

static inline s_slot_t *
s_ring_at (s_user_t *user, uint32_t k)
{
    return &user->ring[(user->head + k) & (user->cap - 1)];
}

static int
s_ring_grow (hb_history_t *self, s_user_t *user)
{
    uint32_t cap = user->cap ? user->cap * 2 : 4;
    s_slot_t *ring = malloc ((size_t) cap * sizeof *ring);
    if (!ring)
        return -1;
    for (uint32_t k = 0; k < user->count; k++)
        ring[k] = *s_ring_at (user, k);
    free (user->ring);
    self->bytes += (size_t) (cap - user->cap) * sizeof *ring;
    user->ring = ring;
    user->cap = cap;
    user->head = 0;
    return 0;
}

/* Removes the slot holding ev from the user's ring (offset order). */
static void
s_ring_remove (s_user_t *user, const s_event_t *ev)
{
    if (user->count == 0)
        return;
    if (s_ring_at (user, 0)->ev == ev) {
        user->head = (user->head + 1) & (user->cap - 1);
        user->count--;
        return;
    }
    uint32_t lo = 0, hi = user->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s_ring_at (user, mid)->ev->offset < ev->offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == user->count || s_ring_at (user, lo)->ev != ev)
        return;   /* not held: tolerated, see the invariant above */
    for (uint32_t k = lo; k + 1 < user->count; k++)
        *s_ring_at (user, k) = *s_ring_at (user, k + 1);
    user->count--;
}

/* --- event records ------------------------------------------------------ */

static void
s_event_unlink_free (hb_history_t *self, s_event_t *ev)
{
    if (self->cursor == ev)
        self->cursor = ev->newer;    /* the catch-up goes on with the next one */
    if (ev->older)
        ev->older->newer = ev->newer;
    else
        self->oldest = ev->newer;
    if (ev->newer)
        ev->newer->older = ev->older;
    else
        self->newest = ev->older;
    if (ev->wprev)
        ev->wprev->wnext = ev->wnext;
    else
        self->wheel[ev->expires & (S_WHEEL_SLOTS - 1)] = ev->wnext;
    if (ev->wnext)
        ev->wnext->wprev = ev->wprev;
    self->bytes -= ev->bytes;
    self->events--;
    if (self->store)
        hb_store_del (self->store, ev->offset);
    else
        hb_memstore_drop (&ev->frame);
    if (ev->nusers == 1 && ev->key_len == 0 && self->spares < S_SPARE_MAX) {
        ev->newer = self->spare;
        self->spare = ev;
        self->spares++;
    }
    else
        free (ev);
}

/* Takes ev out of every ring still holding it, marking the loss, and frees it. */
static void
s_event_evict (hb_history_t *self, s_event_t *ev, hb_evict_reason_t reason)
{
    for (uint32_t i = 0; i < ev->nusers; i++) {
        s_user_t *user = ev->users[i];
        if (!user)
            continue;
        s_ring_remove (user, ev);
        user->lost_upto = s_max (user->lost_upto, ev->offset);
        self->evicted[reason]++;
        /* No later record of this user will point past it: say it here. */
        if (self->store && (user->count == 0 || s_ring_at (user, user->count - 1)->ev->offset < ev->offset))
            hb_store_put_lost (self->store, user->key, user->len, user->lost_upto);
        if (self->cursor_on && ev->offset > self->cursor_after)
            self->cursor_lost (self->cursor_arg, user->key, user->len, user->lost_upto);
        if (user->count == 0)
            s_user_go_idle (self, user);
    }
    s_event_unlink_free (self, ev);
}

/* The user's ring is full: its oldest event leaves this user only. */
static void
s_ring_evict_head (hb_history_t *self, s_user_t *user)
{
    s_slot_t slot = *s_ring_at (user, 0);
    user->head = (user->head + 1) & (user->cap - 1);
    user->count--;
    s_event_t *ev = slot.ev;
    ev->users[slot.idx] = NULL;
    user->lost_upto = s_max (user->lost_upto, ev->offset);
    self->evicted[HB_EVICT_COUNT]++;
    if (--ev->refs == 0)
        s_event_unlink_free (self, ev);
}

static void
s_enforce_bytes (hb_history_t *self)
{
    while (self->bytes > self->max_bytes) {
        if (self->idle_head)
            s_user_drop (self, self->idle_head);
        else if (self->oldest)
            s_event_evict (self, self->oldest, HB_EVICT_BYTES);
        else
            break;
    }
}

/* A record for n recipients (and key_len bytes of key after them): a
 * spare one-recipient keyless record or a new one. Its frame storage is
 * left to the caller. NULL on out of memory. */
static s_event_t *
s_event_take (hb_history_t *self, size_t n, size_t json_len, size_t key_len)
{
    s_event_t *ev = NULL;
    if (n == 1 && key_len == 0 && json_len <= UINT32_MAX && self->spare) {
        ev = self->spare;
        self->spare = ev->newer;
        self->spares--;
    }
    else
    if (n <= UINT32_MAX && json_len <= UINT32_MAX)
        ev = malloc (sizeof (s_event_t) + n * sizeof (s_user_t *) + key_len);
    if (ev) {
        /* Field by field: a memset of the record is a slow `rep stos`. */
        ev->older = ev->newer = ev->wprev = ev->wnext = NULL;
        ev->refs = 0;
    }
    return ev;
}

/* Nobody can resume past this offset any more: the event could not be kept. */
static void
s_mark_unstored (hb_history_t *self, uint64_t offset, const hb_key_t *users, size_t n)
{
    self->floor = s_max (self->floor, offset);
    for (size_t i = 0; i < n; i++) {
        s_user_t *user = hb_umap_get (self->users, users[i].hash, users[i].ptr, users[i].len);
        if (user)
            user->lost_upto = s_max (user->lost_upto, offset);
    }
}

/* Links ev (offset, expires, bytes, nusers set) into the age list, the ttl
 * wheel and each recipient's ring. With a store, self->prevs[i] receives
 * each recipient's previous stored offset. chain (the rebuild) gives each
 * recipient's previous offset as it was stored: anything between it and
 * what the ring now holds left history. Returns 0 or -1 (some recipient
 * could not be given it, marked lost). */
static int
s_insert (hb_history_t *self, s_event_t *ev, const hb_key_t *users, size_t n,
          const uint64_t *chain)
{
    ev->older = self->newest;
    if (self->newest)
        self->newest->newer = ev;
    else
        self->oldest = ev;
    self->newest = ev;
    s_event_t **wslot = &self->wheel[ev->expires & (S_WHEEL_SLOTS - 1)];
    ev->wnext = *wslot;
    if (*wslot)
        (*wslot)->wprev = ev;
    *wslot = ev;
    self->bytes += ev->bytes;
    self->events++;

    int rc = 0;
    uint64_t offset = ev->offset;
    for (size_t i = 0; i < n; i++) {
        /* NULL until stored: s_event_evict skips users it never reached. */
        ev->users[i] = NULL;
        s_user_t *user = s_user_get (self, &users[i]);
        if (self->prevs)
            self->prevs[i] = user ? user->last : 0;
        if (!user) {
            self->floor = s_max (self->floor, offset);
            rc = -1;
            continue;
        }
        if (chain && chain[i] > user->last)
            user->lost_upto = s_max (user->lost_upto, chain[i]);
        user->last = offset;
        if (user->count == self->per_user)
            s_ring_evict_head (self, user);
        if (user->count == user->cap && s_ring_grow (self, user) != 0) {
            user->lost_upto = s_max (user->lost_upto, offset);
            if (self->store)
                hb_store_put_lost (self->store, user->key, user->len, user->lost_upto);
            if (user->count == 0)
                s_user_go_idle (self, user);
            rc = -1;
            continue;
        }
        *s_ring_at (user, user->count) = (s_slot_t) { ev, (uint32_t) i };
        user->count++;
        ev->users[i] = user;
        ev->refs++;
    }
    return rc;
}

int
hb_history_append (hb_history_t *self, uint64_t offset, uint32_t ttl,
                   uint64_t now, uint64_t at, const hp_event_meta_t *meta,
                   zmq_msg_t *frame, const hb_key_t *users, size_t n)
{
    if (ttl == 0 || n == 0)
        return 0;
    if (!self->clock_started) {
        self->swept_to = now;
        self->clock_started = true;
    }
    /* start the first recipients' slots together, so a small fan-out's
     * misses overlap instead of coming one after another */
    for (size_t i = 0; i < n && i < S_PREFETCH_MAX; i++)
        hb_umap_prefetch (self->users, users[i].hash);
    size_t json_len = zmq_msg_size (frame);
    size_t key_len = meta && meta->key.len <= HP_KEY_MAX ? meta->key.len : 0;
    s_event_t *ev = s_event_take (self, n, json_len, key_len);
    if (ev && !self->store && hb_memstore_keep (&ev->frame, frame) != 0) {
        free (ev);
        ev = NULL;
    }
    if (!ev) {
        s_mark_unstored (self, offset, users, n);
        return -1;
    }
    if (self->store)
        zmq_msg_init (&ev->frame);   /* unused: the bytes go to the store */
    ev->offset = offset;
    ev->expires = now + ttl;
    ev->at = at;
    /* The frame's block costs its bytes plus ZeroMQ's small header. */
    ev->bytes = sizeof (s_event_t) + n * sizeof (s_user_t *) + json_len + 64;
    ev->json = self->store ? NULL : hb_memstore_data (&ev->frame);
    ev->json_len = (uint32_t) json_len;
    ev->nusers = (uint32_t) n;
    s_event_set_meta (ev, meta);
    ev->bytes += key_len;

    int rc = s_insert (self, ev, users, n, NULL);
    hp_event_meta_t kept = s_event_meta (ev);
    if (self->store && ev->refs > 0
        && hb_store_put (self->store, offset, (uint64_t) time (NULL) + ttl, ttl, at, &kept,
                         zmq_msg_data (frame), json_len, users, self->prevs, n) != 0) {
        /* The store dropped its pending writes (this one with them). */
        self->floor = s_max (self->floor, offset);
        rc = -1;
    }
    if (ev->refs == 0)
        s_event_unlink_free (self, ev);
    s_enforce_bytes (self);
    return rc;
}

void
hb_history_sweep (hb_history_t *self, uint64_t now)
{
    if (!self->clock_started) {
        self->swept_to = now;
        self->clock_started = true;
        return;
    }
    if (now <= self->swept_to)
        return;
    uint64_t from = self->swept_to + 1;
    if (now - self->swept_to > S_WHEEL_SLOTS)
        from = now - S_WHEEL_SLOTS + 1;   /* each slot once is enough */
    for (uint64_t t = from; t <= now; t++) {
        s_event_t *ev = self->wheel[t & (S_WHEEL_SLOTS - 1)];
        while (ev) {
            s_event_t *next = ev->wnext;
            /* Later laps of the wheel share the slot: only the due ones go. */
            if (ev->expires <= now)
                s_event_evict (self, ev, HB_EVICT_TTL);
            ev = next;
        }
    }
    self->swept_to = now;
    if (self->store)
        hb_history_commit (self, self->last);
}

/* Walks the rings of up to two streams together in offset order (a user's
 * and the broadcast stream's: a user's resume covers both). */
size_t
hb_history_collect_streams (hb_history_t *self, const hb_key_t *keys, size_t nkeys,
                            uint64_t after, uint64_t now,
                            hb_history_item_t *out, size_t max, uint64_t *lost_upto)
{
    if (self->store)
        hb_store_read_end (self->store);   /* the previous answer's frames */
    s_user_t *users[2] = { NULL, NULL };
    uint32_t next[2] = { 0, 0 };
    uint64_t lost = 0;
    if (nkeys > 2)
        nkeys = 2;
    for (size_t i = 0; i < nkeys; i++) {
        users[i] = hb_umap_get (self->users, keys[i].hash, keys[i].ptr, keys[i].len);
        lost = s_max (lost, users[i] ? users[i]->lost_upto : self->floor);
    }
    size_t got = 0;
    for (;;) {
        int pick = -1;
        uint64_t best = UINT64_MAX;
        for (size_t i = 0; i < nkeys; i++)
            if (users[i] && next[i] < users[i]->count
            &&  s_ring_at (users[i], next[i])->ev->offset < best) {
                best = s_ring_at (users[i], next[i])->ev->offset;
                pick = (int) i;
            }
        if (pick < 0)
            break;
        const s_event_t *ev = s_ring_at (users[pick], next[pick]++)->ev;
        if (ev->expires <= now) {
            lost = s_max (lost, ev->offset);   /* expired, not yet swept */
            continue;
        }
        if (ev->offset <= after || got == max)
            continue;
        const char *json = ev->json;
        size_t json_len = ev->json_len;
        if (self->store && hb_store_get (self->store, ev->offset, &json, &json_len) != 0) {
            lost = s_max (lost, ev->offset);   /* unreadable: as good as evicted */
            continue;
        }
        out[got++] = (hb_history_item_t) { ev->offset, ev->at, json, json_len,
                                           s_event_meta (ev) };
    }
    *lost_upto = lost;
    return got;
}

size_t
hb_history_collect (hb_history_t *self, const char *user_id, size_t len,
                    uint64_t after, uint64_t now,
                    hb_history_item_t *out, size_t max, uint64_t *lost_upto)
{
    hb_key_t key = { user_id, len, hb_hash (user_id, len) };
    return hb_history_collect_streams (self, &key, 1, after, now, out, max, lost_upto);
}

uint64_t
hb_history_newest (const hb_history_t *self, const hb_key_t *key)
{
    const s_user_t *user = hb_umap_get (self->users, key->hash, key->ptr, key->len);
    return user ? user->last : 0;
}

/* --- the store ---------------------------------------------------------- */

typedef struct {
    hb_history_t *self;
    uint64_t      now, wall;
    int           rc;
} s_rebuild_t;

/* One stored event, oldest first: back into the index, or (expired) gone,
 * its recipients marked as having lost it. */
static void
s_rebuild_event (void *arg, const hb_store_rec_t *rec)
{
    s_rebuild_t *r = arg;
    hb_history_t *self = r->self;
    size_t n = 0, pos = 0;
    hb_key_t key;
    uint64_t prev;
    /* self->prevs is written by s_insert; the chain goes in a copy */
    uint64_t *chain = self->prevs + HP_RECIPIENTS_MAX;
    while (n < HP_RECIPIENTS_MAX && hb_store_rec_user (rec, &pos, &key, &prev) == 0) {
        self->keys[n] = key;
        chain[n++] = prev;
    }
    if (rec->expires_wall <= r->wall) {
        for (size_t i = 0; i < n; i++) {
            s_user_t *user = s_user_get (self, &self->keys[i]);
            if (!user) {
                self->floor = s_max (self->floor, rec->offset);
                continue;
            }
            user->lost_upto = s_max (user->lost_upto, s_max (chain[i], rec->offset));
            user->last = rec->offset;
            hb_store_put_lost (self->store, user->key, user->len, user->lost_upto);
            if (user->count == 0)
                s_user_go_idle (self, user);
        }
        hb_store_del (self->store, rec->offset);
        self->evicted[HB_EVICT_TTL] += n;
        return;
    }
    s_event_t *ev = s_event_take (self, n, rec->json_len, rec->meta.key.len);
    if (!ev) {
        s_mark_unstored (self, rec->offset, self->keys, n);
        r->rc = -1;
        return;
    }
    zmq_msg_init (&ev->frame);
    ev->offset = rec->offset;
    /* Wall-clock time left, on the monotonic clock the index runs on. */
    ev->expires = r->now + (rec->expires_wall - r->wall);
    ev->at = rec->at;
    ev->bytes = sizeof (s_event_t) + n * sizeof (s_user_t *) + rec->json_len + 64;
    ev->json = NULL;
    ev->json_len = (uint32_t) rec->json_len;
    ev->nusers = (uint32_t) n;
    s_event_set_meta (ev, &rec->meta);
    ev->bytes += ev->key_len;
    if (s_insert (self, ev, self->keys, n, chain) != 0)
        r->rc = -1;
    if (ev->refs == 0)
        s_event_unlink_free (self, ev);
    s_enforce_bytes (self);
}

/* A user whose newest event left history early (no record shows it). */
static void
s_rebuild_lost (void *arg, const char *user_id, size_t len, uint64_t lost)
{
    hb_history_t *self = ((s_rebuild_t *) arg)->self;
    hb_key_t key = { user_id, len, hb_hash (user_id, len) };
    s_user_t *user = s_user_get (self, &key);
    if (!user) {
        self->floor = s_max (self->floor, lost);
        return;
    }
    user->lost_upto = s_max (user->lost_upto, lost);
    if (user->count == 0)
        s_user_go_idle (self, user);
}

int
hb_history_attach (hb_history_t *self, hb_store_t *store, const hb_store_state_t *state,
                   uint64_t now)
{
    self->prevs = malloc (2 * HP_RECIPIENTS_MAX * sizeof *self->prevs);
    self->keys = malloc (HP_RECIPIENTS_MAX * sizeof *self->keys);
    if (!self->prevs || !self->keys) {
        free (self->prevs);
        free (self->keys);
        self->prevs = NULL;
        self->keys = NULL;
        return -1;
    }
    self->store = store;
    self->floor = s_max (self->floor, state->floor);
    self->last = state->last;
    if (!self->clock_started) {
        self->swept_to = now;
        self->clock_started = true;
    }
    s_rebuild_t r = { self, now, (uint64_t) time (NULL), 0 };
    if (hb_store_each (store, s_rebuild_event, s_rebuild_lost, &r) != 0)
        self->floor = s_max (self->floor, state->last);   /* cannot vouch for any of it */
    hb_history_commit (self, self->last);
    return r.rc;
}

int
hb_history_commit (hb_history_t *self, uint64_t last)
{
    self->last = last;
    if (!self->store)
        return 0;
    if (hb_store_commit (self->store, last, self->floor) != 0) {
        /* The transaction's events, evictions and losses are gone. */
        self->floor = s_max (self->floor, last);
        return -1;
    }
    return 0;
}

void
hb_history_lose_upto (hb_history_t *self, uint64_t offset)
{
    self->floor = s_max (self->floor, offset);
}

hb_store_t *
hb_history_store (const hb_history_t *self)
{
    return self->store;
}

size_t
hb_history_events (const hb_history_t *self)
{
    return self->events;
}

size_t
hb_history_bytes (const hb_history_t *self)
{
    return self->bytes;
}

size_t
hb_history_users (const hb_history_t *self)
{
    return hb_umap_count (self->users);
}

uint64_t
hb_history_evicted (const hb_history_t *self, hb_evict_reason_t reason)
{
    return reason < HB_EVICT_REASONS ? self->evicted[reason] : 0;
}

size_t
hb_history_events_per_user (const hb_history_t *self)
{
    return self->per_user;
}

/* --- the pair's catch-up cursor (pair_catchup.c) ------------------------ */

uint64_t
hb_history_cursor_start (hb_history_t *self, hb_history_lost_fn *lost, void *arg)
{
    self->cursor_on = true;
    self->cursor = self->oldest;
    self->cursor_after = 0;
    self->cursor_lost = lost;
    self->cursor_arg = arg;
    /* an idle record is a user whose events all left: a copy that does not
     * list them answers every user it has no record of with its floor */
    uint64_t floor = self->floor;
    for (const s_user_t *user = self->idle_head; user; user = user->idle_next)
        floor = s_max (floor, user->lost_upto);
    return floor;
}

void
hb_history_cursor_stop (hb_history_t *self)
{
    self->cursor_on = false;
    self->cursor = NULL;
    self->cursor_lost = NULL;
}

int
hb_history_cursor_next (hb_history_t *self, uint64_t now, hb_history_snap_t *out,
                        hb_key_t *keys, uint64_t *lost)
{
    if (!self->cursor_on)
        return 0;
    if (self->store)
        hb_store_read_end (self->store);   /* the previous answer's frame */
    for (;;) {
        s_event_t *ev = self->cursor;
        if (!ev) {
            /* past the newest when last asked: what was appended since */
            ev = self->newest;
            if (!ev || ev->offset <= self->cursor_after)
                return 0;
            while (ev->older && ev->older->offset > self->cursor_after)
                ev = ev->older;
        }
        self->cursor = ev->newer;
        self->cursor_after = ev->offset;
        const char *json = ev->json;
        size_t json_len = ev->json_len;
        bool gone = ev->expires <= now
                 || (self->store && hb_store_get (self->store, ev->offset, &json, &json_len) != 0);
        size_t n = 0;
        for (uint32_t i = 0; i < ev->nusers; i++) {
            const s_user_t *user = ev->users[i];
            if (!user)
                continue;             /* left this user's ring: its lost_upto says so */
            if (gone)                 /* expired, not yet swept, or unreadable: lost */
                self->cursor_lost (self->cursor_arg, user->key, user->len,
                                   s_max (user->lost_upto, ev->offset));
            else {
                keys[n] = (hb_key_t) { user->key, user->len, user->hash };
                lost[n++] = user->lost_upto;
            }
        }
        if (gone || n == 0)
            continue;
        *out = (hb_history_snap_t) { ev->offset, ev->at, (uint32_t) (ev->expires - now),
                                     json, json_len, n, s_event_meta (ev) };
        return 1;
    }
}

uint64_t
hb_history_floor (const hb_history_t *self)
{
    return self->floor;
}

void
hb_history_raise_lost (hb_history_t *self, const hb_key_t *key, uint64_t upto)
{
    s_user_t *user = hb_umap_get (self->users, key->hash, key->ptr, key->len);
    if (user && user->lost_upto >= upto)
        return;
    user = s_user_get (self, key);    /* takes an idle record off its list */
    if (!user) {
        self->floor = s_max (self->floor, upto);
        return;
    }
    user->lost_upto = upto;
    if (self->store)
        hb_store_put_lost (self->store, user->key, user->len, upto);
    if (user->count == 0)
        s_user_go_idle (self, user);
    s_enforce_bytes (self);
}
