/* http_bridge.c -- the main thread's side of the HTTP bridge: route posts, render metrics. */
#include "http.h"
#include "http_batch.h"

#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static void
s_reply (void *pair, const unsigned char *seq, const void *payload, size_t len)
{
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, 4 + len) != 0)
        return;
    memcpy (zmq_msg_data (&msg), seq, 4);
    if (len)
        memcpy ((char *) zmq_msg_data (&msg) + 4, payload, len);
    if (zmq_msg_send (&msg, pair, ZMQ_DONTWAIT) < 0)
        zmq_msg_close (&msg);   /* the HTTP thread times out and answers 503 */
}

/* One routed envelope's answer, as http_batch.h lays it out. */
static void
s_put_result (unsigned char out[HB_HTTP_RESULT_LEN], hp_env_error_t err,
              const hb_route_result_t *result)
{
    out[0] = (unsigned char) err;
    out[1] = result->first_online;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char) (result->offset >> (56 - 8 * i));
    out[10] = result->duplicate;
}

static uint32_t
s_get_u32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* A batch (http_batch.h): each entry routed in order, one answer for all. */
static void
s_batch (void *pair, hb_router_t *router, hb_metrics_t *metrics, uint64_t now,
         const unsigned char *seq, const unsigned char *p, size_t len)
{
    if (len < 4)
        return;
    uint32_t count = s_get_u32 (p);
    if (count > HB_HTTP_BATCH_LINES_MAX)
        return;   /* our own thread wrote it: cannot happen */
    unsigned char *out = malloc ((size_t) count * HB_HTTP_RESULT_LEN + 1);
    if (!out)
        return;   /* the HTTP thread times out and answers 503 */
    size_t at = 4;
    for (uint32_t i = 0; i < count; i++) {
        unsigned char *r = out + (size_t) i * HB_HTTP_RESULT_LEN;
        hb_route_result_t result = { 0, false, false };
        uint32_t n = at + 4 <= len ? s_get_u32 (p + at) : 0;
        at += 4;
        if (n == 0 || n > len - at) {
            s_put_result (r, HP_ENV_OK, &result);
            r[0] = HB_HTTP_RESULT_SKIPPED;
            metrics->http_batch_lines[HB_HTTP_BATCH_UNPARSED]++;
            continue;
        }
        hp_env_error_t err = hb_router_route (router, (const char *) p + at, n, now, &result);
        s_put_result (r, err, &result);
        metrics->http_batch_lines[HB_HTTP_BATCH_ROUTED]++;
        at += n;
    }
    s_reply (pair, seq, out, (size_t) count * HB_HTTP_RESULT_LEN);
    free (out);
}

int
hb_http_bridge_handle (void *pair, hb_router_t *router, hb_metrics_t *metrics,
                       uint64_t now, hp_buf_t *metrics_buf)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    if (zmq_msg_recv (&msg, pair, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        return 0;
    }
    const unsigned char *p = zmq_msg_data (&msg);
    size_t len = zmq_msg_size (&msg);
    if (len < 5) {
        zmq_msg_close (&msg);
        return 1;   /* our own thread wrote it: cannot happen */
    }
    switch (p[0]) {
        case HB_BRIDGE_POST: {
            hb_route_result_t result = { 0, false, false };
            hp_env_error_t err = hb_router_route (router, (const char *) p + 5, len - 5, now, &result);
            unsigned char out[HB_HTTP_RESULT_LEN];
            s_put_result (out, err, &result);
            s_reply (pair, p + 1, out, sizeof out);
            break;
        }
        case HB_BRIDGE_BATCH:
            s_batch (pair, router, metrics, now, p + 1, p + 5, len - 5);
            break;
        case HB_BRIDGE_METRICS: {
            hb_gauges_t gauges;
            hb_router_gauges (router, &gauges);
            hp_buf_reset (metrics_buf);
            hb_metrics_render (metrics, &gauges, metrics_buf);
            s_reply (pair, p + 1, metrics_buf->data, metrics_buf->len);
            break;
        }
        case HB_BRIDGE_CODE:
            if (len >= 7)
                hb_metrics_http_code (metrics, p[5] << 8 | p[6]);
            break;
        case HB_BRIDGE_EVENT:
            if (len >= 6 && p[5] == HB_HTTP_UNANSWERED)
                metrics->http_unanswered++;
            else if (len >= 6 && p[5] == HB_HTTP_ACCEPT_FAILED)
                metrics->http_accept_failures++;
            break;
    }
    zmq_msg_close (&msg);
    return 1;
}
