/* upsend.h -- a browser's send frame: the checks (rate, allowed event, size) and its record for the broker. */
#ifndef HERALD_GW_UPSEND_H
#define HERALD_GW_UPSEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "ratelimit.h"

/* What became of one send frame. The refusals' names are the error
 * frame's reason (PROTOCOL.md, "Messages from the browser"). */
typedef enum {
    GW_UPSEND_OK = 0,       /* packed: hand it to the broker link */
    GW_UPSEND_UPSTREAM,     /* no valid event, or one not in --upstream-events */
    GW_UPSEND_TOO_LARGE,    /* data over --upstream-max-bytes as msgpack, or nested too deep */
    GW_UPSEND_RATE,         /* over the connection's --upstream-rate */
    GW_UPSEND_FLOOD,        /* far over it: close 1008 */
    GW_UPSEND_NO_MEMORY,
    GW_UPSEND_RESULTS
} gw_upsend_result_t;

/* The gateway's settings for sends, and its id for the record. */
typedef struct {
    const char *events;     /* --upstream-events: comma-separated names; NULL or "": none */
    size_t max_bytes;       /* --upstream-max-bytes: data's msgpack form */
    double rate;            /* --upstream-rate, per second */
    unsigned burst;         /* --upstream-burst */
    const char *gateway;    /* 16 lowercase hex digits */
    size_t gateway_len;
} gw_upsend_policy_t;

/* One send frame of user's connection (event and data as the frame had
 * them: event NULL when missing or not a string, data NULL when absent).
 * Checked in the order rate (bucket), event, size; on GW_UPSEND_OK out
 * holds exactly the record (proto/upmsg.h) with at_ms as its time, else it
 * is empty. Pure: no I/O, the caller gives the clocks. */
gw_upsend_result_t gw_upsend_prepare (const gw_upsend_policy_t *policy, gw_ratelimit_t *bucket,
                                      uint32_t now_ms, uint64_t at_ms,
                                      const char *user, size_t user_len,
                                      const char *event, size_t event_len,
                                      const json_t *data, hp_buf_t *out);

/* Whether event (len bytes) is one of list's comma-separated names. */
bool gw_upsend_event_allowed (const char *list, const char *event, size_t len);

/* Whether list is a valid --upstream-events value: "" or comma-separated
 * event names (1-64 bytes of [A-Za-z0-9_.:-]), at most GW_UPSEND_EVENTS_MAX. */
#define GW_UPSEND_EVENTS_MAX 64
bool gw_upsend_events_valid (const char *list);

/* "upstream", "too_large", "rate": the error frame's reason and the label
 * in /metrics ("flood" and "no_memory" for the other two). */
const char *gw_upsend_result_name (gw_upsend_result_t result);

#endif
