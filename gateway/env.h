/* env.h -- what every connection of a gateway shares. */
#ifndef HERALD_GW_ENV_H
#define HERALD_GW_ENV_H

#include "blob.h"
#include "buf.h"
#include "config.h"
#include "link.h"
#include "metrics.h"

typedef struct gw_fanout gw_fanout_t;

/* Settings, counters, the stream map and the broker link, plus a reusable
 * scratch buffer for frames built one at a time (welcomes). Owned by the
 * server; connections only point at it. */
typedef struct {
    const gw_config_t *config;
    gw_metrics_t *metrics;
    gw_fanout_t *fanout;
    const gw_link_t *link;
    gw_blob_t *pong;          /* the one {"type":"pong"} frame, shared */
    uint64_t next_conn_id;    /* the last connection id handed out (presence topics) */
    hp_buf_t scratch;
    hp_buf_t record;          /* a browser's send, packed (upsend.c), up to HP_UPMSG_MAX */
} gw_session_env_t;

#endif
