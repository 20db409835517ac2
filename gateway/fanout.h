/* fanout.h -- stream -> local subscribers map; routes broker messages to them. */
#ifndef HERALD_GW_FANOUT_H
#define HERALD_GW_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "link.h"
#include "buf.h"
#include "metrics.h"
#include "wire.h"

typedef struct gw_fanout gw_fanout_t;
typedef struct gw_stream gw_stream_t;
typedef struct gw_sub gw_sub_t;
typedef struct gw_audit gw_audit_t;

/* An empty map. NULL on out of memory. */
gw_fanout_t *gw_fanout_new (gw_metrics_t *metrics);

/* Frees every stream entry (subscribers must be gone already). Nulls *self_p. */
void gw_fanout_destroy (gw_fanout_t **self_p);

/* Where subscriptions go; set once, before the first attach (the link's
 * owner, upstream, is made after the map it feeds). */
void gw_fanout_set_link (gw_fanout_t *self, const gw_link_t *link);

/* Who is told when a message shows that others may have been lost. */
void gw_fanout_set_audit (gw_fanout_t *self, gw_audit_t *audit);

/* Adds a connection's sub under the stream (kind, name), subscribing to the
 * stream's topic when it is the first local one. Returns the stream (valid
 * until the sub detaches), or NULL on out of memory. */
gw_stream_t *gw_fanout_attach (gw_fanout_t *self, gw_stream_kind_t kind, const char *name,
                               size_t len, gw_sub_t *sub);

/* Removes the sub; unsubscribes and frees the stream with the last one. */
void gw_fanout_detach (gw_fanout_t *self, gw_stream_t *stream, gw_sub_t *sub);

/* Subscribes once more to make the broker publish a fresh sync (used when
 * the first one did not arrive in time); unsubscribing later undoes all. */
void gw_fanout_resubscribe (gw_fanout_t *self, gw_stream_t *stream);

/* Broker messages, from upstream; heads as hp_wire_head_parse made them
 * (user, channel or broadcast topics). Each is checked for a gap first
 * (seen.c), then delivered: a broadcast to every local user stream. */
void gw_fanout_on_sync (gw_fanout_t *self, const hp_wire_head_t *head);
void gw_fanout_on_event (gw_fanout_t *self, const hp_wire_head_t *head,
                         const void *json, size_t len);
/* An event for every listed user held here (the others are other gateways'):
 * one shared copy of the frame for all of them. */
void gw_fanout_on_multicast (gw_fanout_t *self, const hp_wire_head_t *head,
                             const void *json, size_t len);
/* A tick: a jump in its number means messages were dropped. */
void gw_fanout_on_tick (gw_fanout_t *self, const hp_wire_head_t *head);
/* The answer to an audit request: body lists (stream key, last routed offset). */
void gw_fanout_on_audit_answer (gw_fanout_t *self, const hp_wire_head_t *head,
                                const void *body, size_t len);
/* The backend disconnected the user: every connection of theirs here is
 * closed with 4003. */
void gw_fanout_on_disconnect (gw_fanout_t *self, hp_str_t name);
void gw_fanout_on_resume_reply (gw_fanout_t *self, const hp_resume_reply_t *reply);

/* Where gw_fanout_list_keys goes on from; starts zeroed. */
typedef struct {
    size_t bucket;
    size_t skip;        /* streams of that bucket already listed */
    bool broadcast_listed;
} gw_fanout_cursor_t;

/* Appends the stream keys (stream.h: a user id, 0x01 + channel, and first
 * the broadcast stream's 0x02) of up to max local streams, each with a
 * NUL, to out, from cursor on (which moves past them), while out stays
 * within max_bytes. Returns how many; 0 at the end. */
size_t gw_fanout_list_keys (const gw_fanout_t *self, gw_fanout_cursor_t *cursor,
                            hp_buf_t *out, size_t max, size_t max_bytes);

/* The SUB link to the broker dropped: events may be lost until it is back.
 * Every stream waits for a new sync (ZeroMQ re-sends the subscriptions on
 * reconnect), and every sub fills the gap from history then. O(streams),
 * on a rare event. */
void gw_fanout_on_link_lost (gw_fanout_t *self);

/* Users with at least one local connection. */
size_t gw_fanout_user_count (const gw_fanout_t *self);

/* Accessors of a stream. */
gw_stream_kind_t gw_stream_kind (const gw_stream_t *stream);
const char *gw_stream_name (const gw_stream_t *stream, size_t *len);
bool gw_stream_synced (const gw_stream_t *stream);
/* The link dropped and the stream's sync has not come back yet. */
bool gw_stream_relinking (const gw_stream_t *stream);
uint64_t gw_stream_epoch (const gw_stream_t *stream);
/* The offset of the last sync or event that arrived about the stream (in
 * its epoch): every later message about it carries a larger one, since
 * the broker publishes in offset order over one link. */
uint64_t gw_stream_latest (const gw_stream_t *stream);

#endif
