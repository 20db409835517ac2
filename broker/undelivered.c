/* undelivered.c -- notices to fallback workers for recipients with no live connection.
 *
 * Per event the map is packed in two pieces, the part before the recipient's
 * id and the part after it (data, id, offset, reason); each notice is those
 * two around the recipient, so the payload is re-packed once per event no
 * matter how many recipients are offline.
 *
 * The PUSH socket's high-water mark bounds notices, not bytes: one 60 KB
 * event to 10,000 offline users queued 10,000 copies (+191 MB, more with a
 * slow worker). So each notice's bytes are counted from its send until
 * ZeroMQ frees it (written out, or dropped at close), and a notice that
 * would take the queued total past max_queued_bytes is dropped and counted
 * instead. ZeroMQ frees messages on its I/O thread, hence the atomics; the
 * counter outlives this object while messages hold it (a reference each). */
#include "control.h"
#include "undelivered.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    atomic_size_t bytes;     /* sent and not yet freed by ZeroMQ */
    atomic_size_t refs;      /* one per such message, one for the owner */
} s_queued_t;

/* Each notice's buffer starts with this header, so the free callback knows
 * how many bytes it gives back. 16 bytes keep the payload aligned. */
typedef struct {
    size_t size;
    size_t pad;
} s_head_t;

struct hb_undelivered {
    void          *push;
    s_queued_t    *queued;
    size_t         max_queued;
    hb_metrics_t  *metrics;
    const hp_envelope_t *env;
    uint64_t       offset;
    bool           packed;
    bool           pack_failed;
    hp_buf_t       head;     /* map header, "event": E, "to" key */
    hp_buf_t       tail;     /* "data", "id", "offset", "reason" */
};

static int
s_buf_write (void *data, const char *bytes, size_t len)
{
    return hp_buf_append ((hp_buf_t *) data, bytes, len);
}

static void
s_queued_release (s_queued_t *q)
{
    if (atomic_fetch_sub (&q->refs, 1) == 1)
        free (q);
}

/* ZeroMQ's free callback (its I/O thread, or ours when a send fails). */
static void
s_notice_free (void *data, void *hint)
{
    s_head_t *head = (s_head_t *) data - 1;
    s_queued_t *q = hint;
    atomic_fetch_sub (&q->bytes, head->size);
    free (head);
    s_queued_release (q);
}

void
hb_undelivered_set_push (hb_undelivered_t *self, void *push)
{
    self->push = push;
}

hb_undelivered_t *
hb_undelivered_new (void *push, hb_metrics_t *metrics, size_t max_bytes,
                    size_t max_queued_bytes)
{
    hb_undelivered_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->queued = malloc (sizeof *self->queued);
    if (!self->queued) {
        free (self);
        return NULL;
    }
    atomic_init (&self->queued->bytes, 0);
    atomic_init (&self->queued->refs, 1);
    self->max_queued = max_queued_bytes;
    self->push = push;
    self->metrics = metrics;
    hp_buf_init (&self->head, 256);
    hp_buf_init (&self->tail, max_bytes * 2 + 1024);
    return self;
}

void
hb_undelivered_destroy (hb_undelivered_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_queued_release ((*self_p)->queued);
    hp_buf_free (&(*self_p)->head);
    hp_buf_free (&(*self_p)->tail);
    free (*self_p);
    *self_p = NULL;
}

void
hb_undelivered_begin (hb_undelivered_t *self, const hp_envelope_t *env, uint64_t offset)
{
    self->env = env;
    self->offset = offset;
    self->packed = false;
    self->pack_failed = false;
}

static int
s_pack (hb_undelivered_t *self)
{
    hp_buf_reset (&self->head);
    hp_buf_reset (&self->tail);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->head, s_buf_write);
    hp_str_t event = hp_envelope_event (self->env);
    int rc = msgpack_pack_map (&pk, 6);
    hp_control_pack_cstr (&pk, "event");
    msgpack_pack_str (&pk, event.len);
    rc |= msgpack_pack_str_body (&pk, event.ptr, event.len);
    rc |= msgpack_pack_str (&pk, 2);
    rc |= msgpack_pack_str_body (&pk, "to", 2);

    msgpack_packer_init (&pk, &self->tail, s_buf_write);
    hp_control_pack_cstr (&pk, "data");
    const msgpack_object *data = hp_envelope_data (self->env);
    rc |= data ? msgpack_pack_object (&pk, *data) : msgpack_pack_nil (&pk);
    hp_control_pack_cstr (&pk, "id");
    hp_str_t id = hp_envelope_id (self->env);
    if (id.ptr) {
        msgpack_pack_str (&pk, id.len);
        rc |= msgpack_pack_str_body (&pk, id.ptr, id.len);
    }
    else
        rc |= msgpack_pack_nil (&pk);
    hp_control_pack_cstr (&pk, "offset");
    rc |= msgpack_pack_uint64 (&pk, self->offset);
    hp_control_pack_cstr (&pk, "reason");
    rc |= msgpack_pack_str (&pk, 7);
    rc |= msgpack_pack_str_body (&pk, "offline", 7);
    return rc ? -1 : 0;
}

void
hb_undelivered_send (hb_undelivered_t *self, const char *user, size_t len)
{
    if (!self->packed) {
        self->packed = true;
        self->pack_failed = s_pack (self) != 0;
    }
    if (self->pack_failed || len > 255) {
        self->metrics->undelivered_dropped++;
        return;
    }
    unsigned char strhead[2];
    size_t strhead_len;
    if (len < 32) {
        strhead[0] = (unsigned char) (0xa0 | len);
        strhead_len = 1;
    }
    else {
        strhead[0] = 0xd9;
        strhead[1] = (unsigned char) len;
        strhead_len = 2;
    }
    size_t total = self->head.len + strhead_len + len + self->tail.len;
    if (atomic_load (&self->queued->bytes) + total > self->max_queued) {
        self->metrics->undelivered_dropped++;
        self->metrics->undelivered_over_bytes++;
        return;
    }
    s_head_t *block = malloc (sizeof *block + total);
    zmq_msg_t msg;
    if (!block) {
        self->metrics->undelivered_dropped++;
        return;
    }
    block->size = total;
    atomic_fetch_add (&self->queued->bytes, total);
    atomic_fetch_add (&self->queued->refs, 1);
    if (zmq_msg_init_data (&msg, block + 1, total, s_notice_free, self->queued) != 0) {
        s_notice_free (block + 1, self->queued);
        self->metrics->undelivered_dropped++;
        return;
    }
    char *p = zmq_msg_data (&msg);
    memcpy (p, self->head.data, self->head.len);
    p += self->head.len;
    memcpy (p, strhead, strhead_len);
    p += strhead_len;
    memcpy (p, user, len);
    p += len;
    memcpy (p, self->tail.data, self->tail.len);
    if (zmq_msg_send (&msg, self->push, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        self->metrics->undelivered_dropped++;
        return;
    }
    self->metrics->undelivered_sent++;
}

size_t
hb_undelivered_queued_bytes (const hb_undelivered_t *self)
{
    return atomic_load (&self->queued->bytes);
}
