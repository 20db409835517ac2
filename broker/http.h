/* http.h -- the broker's HTTP server (libwebsockets, its own thread) and its bridge to the main thread. */
#ifndef HERALD_BROKER_HTTP_H
#define HERALD_BROKER_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "metrics.h"
#include "router.h"

/* The HTTP thread never touches broker state: it sends each request over an
 * inproc PAIR socket and the main thread answers (hb_http_bridge_handle).
 * Messages: request = kind (1 byte) + seq (u32 big-endian) + payload;
 * reply = seq + payload. Kinds:
 *   'P' payload: a msgpack envelope; reply: error (u8, hp_env_error_t),
 *       online (u8), offset (u64 big-endian)
 *   'M' no payload; reply: the Prometheus text
 *   'C' payload: an HTTP status answered (u16 big-endian); no reply */
#define HB_HTTP_BRIDGE_ENDPOINT "inproc://herald-broker-http"
#define HB_BRIDGE_POST    'P'
#define HB_BRIDGE_METRICS 'M'
#define HB_BRIDGE_CODE    'C'

typedef struct hb_http hb_http_t;

/* Listens on host:port and starts the thread, which connects a PAIR socket
 * to HB_HTTP_BRIDGE_ENDPOINT in zmq_ctx (bind it first). Bodies over
 * max_body bytes are refused with 400. NULL when the port cannot be bound
 * or resources ran out (logged). */
hb_http_t *hb_http_new (void *zmq_ctx, const char *host, int port, size_t max_body);

/* Stops the thread and closes the listener. */
void hb_http_destroy (hb_http_t **self_p);

/* Main thread: answers one bridge message if one is waiting. metrics_buf is
 * scratch space reused for the Prometheus text. Returns 1 when a message was
 * handled, 0 when none was waiting. */
int hb_http_bridge_handle (void *pair, hb_router_t *router, hb_metrics_t *metrics,
                           uint64_t now, hp_buf_t *metrics_buf);

#endif
