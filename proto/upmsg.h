/* upmsg.h -- a message from a browser: the record the broker pushes on --upstream, and the gateway's batch of them. */
#ifndef HERALD_PROTO_UPMSG_H
#define HERALD_PROTO_UPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <msgpack.h>

#include "buf.h"

/* The record, one msgpack map, exactly as a consumer of --upstream reads it:
 *   {"user":str,"event":str,"data":any,"gateway":str,"at":uint}
 * user: the connection's authenticated user id (hp_user_id_valid); event: a
 * valid event name; data: the browser's JSON as msgpack (null when absent);
 * gateway: the gateway's id (16 lowercase hex digits, as in its topics);
 * at: when the gateway read the frame, milliseconds since the Unix epoch. */

/* The largest record the broker forwards. A browser's frame is at most
 * 8 KiB of JSON, whose msgpack form is at most ~2.25 times as big (a JSON
 * "1e1," is 4 bytes, its float64 9), so any record a gateway may make fits. */
#define HP_UPMSG_MAX 32768
#define HP_UPMSG_GATEWAY_MAX 64
/* data may nest this many containers: with the record's map, the depth
 * every other msgpack reader of ours allows (HP__MSGPACK_DEPTH_MAX). */
#define HP_UPMSG_DATA_DEPTH_MAX 31

/* The gateway's side. begin packs the map's head, user, event and the
 * "data" key; the caller then packs exactly one value (the data); end packs
 * gateway and at. Returns 0, or -1 when the packer failed. */
int hp_upmsg_pack_begin (msgpack_packer *pk, const char *user, size_t user_len,
                         const char *event, size_t event_len);
int hp_upmsg_pack_end (msgpack_packer *pk, const char *gateway, size_t gateway_len,
                       uint64_t at_ms);

/* The broker's side: a reusable checker (its decoding arena is kept, so the
 * steady state allocates nothing). NULL on out of memory. */
typedef struct hp_upmsg_checker hp_upmsg_checker_t;
hp_upmsg_checker_t *hp_upmsg_checker_new (void);
void hp_upmsg_checker_destroy (hp_upmsg_checker_t **self_p);

/* Whether bytes are one well-formed record (the map above, those five keys
 * once each and no other, at most HP_UPMSG_MAX bytes, data nested at most
 * HP_UPMSG_DATA_DEPTH_MAX deep). Returns 0, or -1 with a short static reason
 * in *why ("too_large", "malformed"). */
int hp_upmsg_check (hp_upmsg_checker_t *self, const char *bytes, size_t len, const char **why);

/* The batch: records travel from a gateway to the broker's control socket
 * as one request (PROTOCOL.md, "Messages from the browser"),
 *   {"op":"upstream","send":[bin, bin, ...]}
 * each bin holding one record. The gateway writes a fixed-size head
 * first and fills its count when the batch is full or the loop turn ends;
 * each record is a bin32 whose length is filled once it is packed. The
 * broker never answers this request. */
#define HP_UPMSG_BATCH_HEAD 23
#define HP_UPMSG_BIN_HEAD 5

/* Writes the batch head for count records into out (HP_UPMSG_BATCH_HEAD bytes). */
void hp_upmsg_batch_head (unsigned char *out, uint32_t count);
/* Writes a bin32 head for a record of len bytes into out (HP_UPMSG_BIN_HEAD bytes). */
void hp_upmsg_bin_head (unsigned char *out, uint32_t len);

#endif
