/* confirm.c -- confirmed publishing: the control op publish, answered once its event is committed and replicated.
 *
 * The requests of one loop turn share one commit, as an ingest batch does
 * (main.c): accept each (an offset, history, the store's transaction, the
 * pair's batch), commit once (hb_router_commit syncs per --fsync and waits
 * for the passive's ack), publish in offset order, then answer. Nothing is
 * answered before the commit, so an offset a producer was told survives a
 * kill -9 of this broker (with --data-dir) and a takeover by the passive;
 * a producer that got no answer retries with the same idempotency key and
 * the window (idempotency.c) sends back the first offset instead of a
 * second event. */
#include "control.h"
#include "confirm.h"
#include "wire.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zmq_msg_t          frames[HB_CONFIRM_FRAMES_MAX];
    size_t             count;          /* routing frames + the envelope */
    hb_route_pending_t pending;
} s_waiting_t;

struct hb_confirm {
    void          *sock;
    hb_router_t   *router;
    hb_metrics_t  *metrics;
    s_waiting_t   *waiting;            /* HB_CONFIRM_MAX */
    size_t         count;
    msgpack_sbuffer reply;
};

static const char *s_reason_names[] = { "invalid", "forbidden", "busy" };

const char *
hb_confirm_reason_name (int reason)
{
    return reason >= 0 && (size_t) reason < sizeof s_reason_names / sizeof s_reason_names[0]
         ? s_reason_names[reason] : "unknown";
}

hb_confirm_t *
hb_confirm_new (void *sock, hb_router_t *router, hb_metrics_t *metrics)
{
    hb_confirm_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->sock = sock;
    self->router = router;
    self->metrics = metrics;
    self->waiting = calloc (HB_CONFIRM_MAX, sizeof *self->waiting);
    msgpack_sbuffer_init (&self->reply);
    if (!self->waiting) {
        hb_confirm_destroy (&self);
        return NULL;
    }
    return self;
}

static void
s_close_all (zmq_msg_t *frames, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frames[i]);
}

void
hb_confirm_destroy (hb_confirm_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    hb_confirm_t *self = *self_p;
    for (size_t i = 0; self->waiting && i < self->count; i++) {
        s_close_all (self->waiting[i].frames, self->waiting[i].count);
        if (self->waiting[i].pending.ready)
            zmq_msg_close (&self->waiting[i].pending.body);
    }
    free (self->waiting);
    msgpack_sbuffer_destroy (&self->reply);
    free (self);
    *self_p = NULL;
}

/* Sends the routing frames back, then self->reply; closes the envelope. */
static void
s_send (hb_confirm_t *self, zmq_msg_t *frames, size_t count)
{
    for (size_t i = 0; i + 1 < count; i++)
        if (zmq_msg_send (&frames[i], self->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            zmq_msg_close (&frames[i]);
    /* a peer gone or over its high-water mark loses its answer; it retries */
    zmq_send (self->sock, self->reply.data, self->reply.size, ZMQ_DONTWAIT);
    zmq_msg_close (&frames[count - 1]);
}

/* {"error":E[,"reason":R]} at once. */
static void
s_refuse (hb_confirm_t *self, zmq_msg_t *frames, size_t count, hb_confirm_reason_t why,
          const char *detail)
{
    self->metrics->confirms_refused[why]++;
    self->metrics->control_errors++;
    msgpack_sbuffer_clear (&self->reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->reply, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, detail ? 2 : 1);
    hp_control_pack_cstr (&pk, "error");
    hp_control_pack_cstr (&pk, hb_confirm_reason_name (why));
    if (detail) {
        hp_control_pack_cstr (&pk, "reason");
        hp_control_pack_cstr (&pk, detail);
    }
    s_send (self, frames, count);
}

void
hb_confirm_refuse_forbidden (hb_confirm_t *self, zmq_msg_t *frames, size_t count)
{
    s_refuse (self, frames, count, HB_CONFIRM_FORBIDDEN, NULL);
}

void
hb_confirm_take (hb_confirm_t *self, zmq_msg_t *frames, size_t count, uint64_t now)
{
    if (self->count == HB_CONFIRM_MAX) {
        s_refuse (self, frames, count, HB_CONFIRM_BUSY, NULL);
        return;
    }
    s_waiting_t *w = &self->waiting[self->count];
    zmq_msg_t *body = &frames[count - 1];
    hp_env_error_t err = hb_router_accept (self->router, zmq_msg_data (body), zmq_msg_size (body),
                                           now, &w->pending);
    if (err != HP_ENV_OK) {
        s_refuse (self, frames, count, HB_CONFIRM_INVALID, hp_env_error_name (err));
        return;
    }
    for (size_t i = 0; i < count; i++) {
        zmq_msg_init (&w->frames[i]);
        zmq_msg_move (&w->frames[i], &frames[i]);
    }
    w->count = count;
    self->count++;
}

void
hb_confirm_settle (hb_confirm_t *self)
{
    if (self->count == 0)
        return;
    hb_router_commit (self->router);
    char epoch[HP_EPOCH_TEXT_LEN + 1];
    hp_epoch_format (epoch, hb_router_epoch (self->router));
    for (size_t i = 0; i < self->count; i++) {
        s_waiting_t *w = &self->waiting[i];
        zmq_msg_t *body = &w->frames[w->count - 1];
        bool duplicate = w->pending.duplicate;
        uint64_t offset = w->pending.offset;
        if (w->pending.ready)
            hb_router_publish (self->router, zmq_msg_data (body), zmq_msg_size (body),
                               &w->pending, NULL);
        self->metrics->confirms++;
        msgpack_sbuffer_clear (&self->reply);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->reply, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, duplicate ? 3 : 2);
        hp_control_pack_cstr (&pk, "offset");
        msgpack_pack_uint64 (&pk, offset);
        hp_control_pack_cstr (&pk, "epoch");
        hp_control_pack_cstr (&pk, epoch);
        if (duplicate) {
            hp_control_pack_cstr (&pk, "duplicate");
            msgpack_pack_true (&pk);
        }
        s_send (self, w->frames, w->count);
    }
    self->count = 0;
}
