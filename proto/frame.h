/* frame.h -- the JSON text frames the gateway writes to browsers. */
#ifndef HERALD_PROTO_FRAME_H
#define HERALD_PROTO_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include "buf.h"
#include "envelope.h"

/* Builds {"type":"event","event":E,"data":D,"offset":N,"id":I} for a decoded
 * envelope (data null when absent, id omitted when absent); a channel
 * event has "channel":C after the event name, a broadcast "broadcast":true. Built once per
 * event by the broker; the same bytes reach every connection. Appends to out;
 * returns 0 or -1 (out's limit, or the data too deep). */
int hp_frame_event (hp_buf_t *out, const hp_envelope_t *env, uint64_t offset);

/* Builds {"type":"welcome","user":U,"epoch":E,"offset":N,"recovered":B}.
 * epoch is the 16-hex-digit form (hp_epoch_format). */
int hp_frame_welcome (hp_buf_t *out, const char *user, size_t user_len,
                      uint64_t epoch, uint64_t offset, bool recovered);

/* Builds {"type":"subscribed","channel":C,"epoch":E,"offset":N,"recovered":B},
 * a channel subscription's welcome. */
int hp_frame_subscribed (hp_buf_t *out, const char *channel, size_t channel_len,
                         uint64_t epoch, uint64_t offset, bool recovered);

#endif
