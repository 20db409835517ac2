/* http_bridge.c -- the main thread's side of the HTTP bridge: route posts, render metrics. */
#include "http.h"

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
            unsigned char out[11];
            out[0] = (unsigned char) err;
            out[1] = result.first_online;
            for (int i = 0; i < 8; i++)
                out[2 + i] = (unsigned char) (result.offset >> (56 - 8 * i));
            out[10] = result.duplicate;
            s_reply (pair, p + 1, out, sizeof out);
            break;
        }
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
