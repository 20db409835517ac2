/* http.h -- the broker's HTTP server (libwebsockets, its own thread) and its bridge to the main thread. */
#ifndef HERALD_BROKER_HTTP_H
#define HERALD_BROKER_HTTP_H

#include <stdbool.h>
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
 *   'B' payload: a batch of envelopes (http_batch.h); reply: per envelope
 *       the same three fields and duplicate (u8), HB_HTTP_RESULT_LEN bytes
 *   'M' no payload; reply: the Prometheus text
 *   'C' payload: an HTTP status answered (u16 big-endian); no reply
 *   'E' payload: one hb_http_event_t (u8); no reply */
#define HB_HTTP_BRIDGE_ENDPOINT "inproc://herald-broker-http"
#define HB_BRIDGE_POST    'P'
#define HB_BRIDGE_BATCH   'B'
#define HB_BRIDGE_METRICS 'M'
#define HB_BRIDGE_CODE    'C'
#define HB_BRIDGE_EVENT   'E'

/* What the HTTP thread reports besides status codes. */
typedef enum {
    HB_HTTP_UNANSWERED = 0,   /* a connection closed with no answer from us */
    HB_HTTP_ACCEPT_FAILED,    /* accept() failed (descriptors exhausted) */
} hb_http_event_t;

typedef struct hb_http hb_http_t;

typedef struct {
    const char *host;           /* --http */
    int         port;
    const char *metrics_host;   /* --metrics; NULL: /metrics and /healthz on --http */
    int         metrics_port;
    const char *key;            /* the Bearer key POST /message needs; NULL: none */
    size_t      key_len;
    size_t      max_body;       /* bodies over it are refused with 400 */
    unsigned    body_timeout;   /* seconds for a request's headers and body */
    unsigned    idle_timeout;   /* seconds an idle keep-alive connection is kept */
} hb_http_options_t;

/* Listens and starts the thread, which connects a PAIR socket to
 * HB_HTTP_BRIDGE_ENDPOINT in zmq_ctx (bind it first). NULL when a port
 * cannot be bound or resources ran out (logged). The options' strings are
 * copied. */
hb_http_t *hb_http_new (void *zmq_ctx, const hb_http_options_t *options);

/* Stops the thread and closes the listeners. */
void hb_http_destroy (hb_http_t **self_p);

/* Main thread: answers one bridge message if one is waiting. metrics_buf is
 * scratch space reused for the Prometheus text. Returns 1 when a message was
 * handled, 0 when none was waiting. */
int hb_http_bridge_handle (void *pair, hb_router_t *router, hb_metrics_t *metrics,
                           uint64_t now, hp_buf_t *metrics_buf);

#endif
