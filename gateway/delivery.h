/* delivery.h -- a connection's output: the bounded queue, the write path, pongs, the close. */
#ifndef HERALD_GW_DELIVERY_H
#define HERALD_GW_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "env.h"
#include "queue.h"

struct lws;

/* Embedded in the connection (gw_session_t) so that a live event touches one
 * allocation; the fields are delivery.c's, read elsewhere only through the
 * functions below. Everything a connection writes goes through here, in
 * order: frames of every stream it follows share this one queue. */
typedef struct {
    struct lws *wsi;
    gw_queue_t *queue;          /* outgoing frames, allocated on first use */
    gw_session_env_t *env;
    int64_t timer_at;           /* monotonic usec the lws timer is armed for, 0: none */
    uint16_t close_code;        /* set once we decided to close */
    uint16_t peer_code;         /* the close code the client sent, if any */
    uint8_t pongs_due;
    bool welcomed;              /* nothing is written before the first welcome */
} gw_delivery_t;

/* Sets up an empty output for wsi (the wsi must outlive it). */
void gw_delivery_init (gw_delivery_t *self, gw_session_env_t *env, struct lws *wsi);

/* Releases the queue (counted as dropped, reason closed). */
void gw_delivery_fini (gw_delivery_t *self);

/* True once a close was decided: callers stop feeding it. */
static inline bool
gw_delivery_closing (const gw_delivery_t *self)
{
    return self->close_code != 0;
}

/* Arms the connection's one lws timer for usec from now, unless it is armed
 * for earlier already (waking lws, which a timer set from a ZeroMQ
 * callback would not do by itself). Its users (the close, each sub's
 * retries) check on firing whether their own time has come. */
void gw_delivery_timer (gw_delivery_t *self, int64_t usec);
/* The timer fired (the session's TIMER callback): nothing is armed now. */
void gw_delivery_timer_fired (gw_delivery_t *self);

/* Closes from inside this connection's lws callback: sets the close reason;
 * the caller returns -1. Returns -1. */
int gw_delivery_close_now (gw_delivery_t *self, int code);

/* Closes from anywhere else: frees the queue now, sends the close frame
 * with code from the timer callback (lws then waits at most 5 s for the
 * peer's ack before killing the socket). Only the first close counts. */
void gw_delivery_close (gw_delivery_t *self, int code);

/* Appends a frame, taking *blob_p. replay frames are exempt from the byte
 * bound (a resume replay is bounded by the broker's history). Past the
 * bound the frame is dropped and the connection closed with 1013; out of
 * memory closes with 1011. Does not ask for WRITEABLE (gw_delivery_kick).
 * Returns 0 or -1 (closing). */
int gw_delivery_push (gw_delivery_t *self, gw_blob_t **blob_p, bool replay);

/* A live event for a welcomed connection: written at once when nothing is
 * queued ahead of it, else queued (shared reference). Returns 0, or -1 when
 * it was not taken (the connection is closing). */
int gw_delivery_live (gw_delivery_t *self, gw_blob_t *event);

/* Asks lws for WRITEABLE. */
void gw_delivery_kick (gw_delivery_t *self);

/* The client pinged: answer (after the welcome, if none was sent yet). */
void gw_delivery_pong (gw_delivery_t *self);

/* The first welcome is queued: writes may start. */
void gw_delivery_set_welcomed (gw_delivery_t *self);

/* The lws WRITEABLE callback. Returns 0, or -1 when the socket failed. */
int gw_delivery_on_writeable (gw_delivery_t *self);

/* The peer sent a close frame with this code: nothing more is written. */
void gw_delivery_on_peer_close (gw_delivery_t *self, int code);

/* Counts the connection's close under its code (ours, else the peer's, else
 * 1006). Called once, when the connection is gone. */
void gw_delivery_count_close (gw_delivery_t *self);

#endif
