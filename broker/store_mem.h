/* store_mem.h -- history's in-memory storage of event frames: references to the published ZeroMQ messages. */
#ifndef HERALD_BROKER_STORE_MEM_H
#define HERALD_BROKER_STORE_MEM_H

#include <stddef.h>
#include <zmq.h>

/* Without --data-dir the frame an event record keeps is the very ZeroMQ
 * message the router publishes: a reference (zmq_msg_copy bumps a refcount),
 * no byte copy. Holding it also means the frame is usually freed on the main
 * thread at eviction, not by ZeroMQ's I/O thread after the last send (that
 * cross-thread free made the main thread's malloc contend for glibc's arena
 * lock). Inline: this is the hot path of every event. */

/* ref takes its own reference to frame. 0, or -1 (ref left closed). */
static inline int
hb_memstore_keep (zmq_msg_t *ref, zmq_msg_t *frame)
{
    zmq_msg_init (ref);
    if (zmq_msg_copy (ref, frame) != 0) {
        zmq_msg_close (ref);
        return -1;
    }
    return 0;
}

static inline const char *
hb_memstore_data (zmq_msg_t *ref)
{
    return zmq_msg_data (ref);
}

static inline void
hb_memstore_drop (zmq_msg_t *ref)
{
    zmq_msg_close (ref);
}

#endif
