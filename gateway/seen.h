/* seen.h -- per stream, how far the broker link is known complete, and the gap decision. */
#ifndef HERALD_GW_SEEN_H
#define HERALD_GW_SEEN_H

#include <stdbool.h>
#include <stdint.h>

/* Every broker message about a stream carries "prev", the offset of the
 * last event the broker routed to it before (PROTOCOL.md). seen is the
 * newest offset this gateway received for the stream, or found missing and
 * handed to repair: an event, sync or audit answer whose prev (or last) is
 * above it proves that something routed to the stream never arrived. Pure
 * state, no I/O, so the decision is unit-tested on its own. */
typedef struct {
    uint64_t epoch;
    uint64_t seen;
    bool epoch_known;
    bool synced;        /* a sync came since the subscription: seen is valid */
    bool relink;        /* the link dropped since: the next sync may follow a
                         * stretch the broker did not publish (the stream was
                         * offline there), which no prev can show */
} gw_seen_t;

typedef enum {
    GW_SEEN_OK = 0,     /* contiguous: deliver as usual */
    GW_SEEN_IGNORE,     /* says nothing for this stream (not synced yet, another epoch) */
    GW_SEEN_FIRST_SYNC, /* the first sync: subs waiting for it may resume */
    GW_SEEN_GAP,        /* events up to *need were lost: subs repair up to it */
    GW_SEEN_EPOCH,      /* a new broker epoch starts here */
} gw_seen_verdict_t;

/* A sync (offset = the broker's latest, prev = the stream's). */
gw_seen_verdict_t gw_seen_on_sync (gw_seen_t *self, uint64_t epoch, uint64_t offset,
                                   uint64_t prev, uint64_t *need);

/* An event. */
gw_seen_verdict_t gw_seen_on_event (gw_seen_t *self, uint64_t epoch, uint64_t offset,
                                    uint64_t prev, uint64_t *need);

/* An event of another chain delivered into this stream (a broadcast into
 * each user's): it proves nothing about this stream's own chain, so seen
 * does not move, but a new epoch starts here as for an event (GW_SEEN_EPOCH
 * when one was known; else GW_SEEN_OK). */
gw_seen_verdict_t gw_seen_on_other (gw_seen_t *self, uint64_t epoch, uint64_t offset);

/* An audit answer's line for this stream: last = the broker's last routed
 * offset. Comes in order behind every event published before it. */
gw_seen_verdict_t gw_seen_on_audit (gw_seen_t *self, uint64_t epoch, uint64_t last,
                                    uint64_t *need);

/* The link to the broker dropped. */
void gw_seen_on_link_lost (gw_seen_t *self);

#endif
