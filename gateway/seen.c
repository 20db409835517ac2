/* seen.c -- per stream, how far the broker link is known complete, and the gap decision. */
#include "seen.h"

static void
s_advance (gw_seen_t *self, uint64_t offset)
{
    if (offset > self->seen)
        self->seen = offset;
}

/* A new epoch (broker restarted): everything starts over from offset. */
static gw_seen_verdict_t
s_new_epoch (gw_seen_t *self, uint64_t epoch, uint64_t offset)
{
    bool changed = self->epoch_known;
    self->epoch = epoch;
    self->epoch_known = true;
    self->seen = offset;
    return changed ? GW_SEEN_EPOCH : GW_SEEN_OK;
}

gw_seen_verdict_t
gw_seen_on_sync (gw_seen_t *self, uint64_t epoch, uint64_t offset, uint64_t prev,
                 uint64_t *need)
{
    if (!self->epoch_known || self->epoch != epoch) {
        gw_seen_verdict_t verdict = s_new_epoch (self, epoch, offset);
        bool first = !self->synced;
        self->synced = true;
        self->relink = false;
        return verdict == GW_SEEN_EPOCH ? GW_SEEN_EPOCH
             : first ? GW_SEEN_FIRST_SYNC : GW_SEEN_OK;
    }
    if (!self->synced) {
        self->synced = true;
        self->relink = false;
        s_advance (self, offset);
        return GW_SEEN_FIRST_SYNC;
    }
    if (self->relink) {
        /* the stream may have been offline at the broker while the link was
         * down (its events went to history, not to us): repair up to here */
        self->relink = false;
        *need = offset > self->seen ? offset : self->seen;
        s_advance (self, offset);
        return GW_SEEN_GAP;
    }
    /* a sync for someone else's subscription must not hide a gap */
    gw_seen_verdict_t verdict = GW_SEEN_OK;
    if (prev > self->seen) {
        *need = prev;
        verdict = GW_SEEN_GAP;
    }
    s_advance (self, offset);
    return verdict;
}

gw_seen_verdict_t
gw_seen_on_event (gw_seen_t *self, uint64_t epoch, uint64_t offset, uint64_t prev,
                  uint64_t *need)
{
    if (!self->epoch_known || self->epoch != epoch) {
        /* the event's own offset is the first of the epoch we know of: what
         * came before it is replayed from history (sub.c) */
        gw_seen_verdict_t verdict = s_new_epoch (self, epoch, offset ? offset - 1 : 0);
        if (verdict == GW_SEEN_EPOCH)
            return verdict;
    }
    if (!self->synced)
        return GW_SEEN_IGNORE;      /* the resume after the sync covers it */
    gw_seen_verdict_t verdict = GW_SEEN_OK;
    if (prev > self->seen) {
        *need = prev;
        verdict = GW_SEEN_GAP;
    }
    s_advance (self, offset);
    return verdict;
}

gw_seen_verdict_t
gw_seen_on_other (gw_seen_t *self, uint64_t epoch, uint64_t offset)
{
    if (self->epoch_known && self->epoch == epoch)
        return GW_SEEN_OK;
    return s_new_epoch (self, epoch, offset ? offset - 1 : 0);
}

gw_seen_verdict_t
gw_seen_on_audit (gw_seen_t *self, uint64_t epoch, uint64_t last, uint64_t *need)
{
    if (!self->synced || !self->epoch_known || self->epoch != epoch)
        return GW_SEEN_IGNORE;
    if (last <= self->seen)
        return GW_SEEN_OK;
    *need = last;
    self->seen = last;
    return GW_SEEN_GAP;
}

void
gw_seen_on_link_lost (gw_seen_t *self)
{
    if (self->synced)
        self->relink = true;
}
