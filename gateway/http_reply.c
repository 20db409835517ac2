/* http_reply.c -- one plain HTTP answer of the gateway (/healthz, /metrics, /herald.js, 404s), written in two WRITEABLEs. */
#include "http_reply.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

/* Prepares a reply holding a copy of body: lws_write wants writable
 * headroom before the payload, so even static bodies are copied (/herald.js
 * is small and rarely fetched). */
gw_http_reply_t *
gw_http_reply_new (int status, const char *content_type, const void *body, size_t len)
{
    gw_http_reply_t *reply = calloc (1, sizeof *reply);
    if (!reply)
        return NULL;
    reply->status = status;
    reply->content_type = content_type;
    reply->len = len;
    reply->storage = malloc (LWS_PRE + len + 1);
    if (!reply->storage) {
        free (reply);
        return NULL;
    }
    if (len)
        memcpy (reply->storage + LWS_PRE, body, len);
    reply->body = reply->storage + LWS_PRE;
    return reply;
}

void
gw_http_reply_destroy (gw_http_reply_t **reply_p)
{
    if (reply_p && *reply_p) {
        free ((*reply_p)->storage);
        free (*reply_p);
        *reply_p = NULL;
    }
}

int
gw_http_reply_write (struct lws *wsi, gw_http_reply_t **reply_p)
{
    gw_http_reply_t *reply = *reply_p;
    if (!reply)
        return 0;
    if (!reply->headers_sent) {
        unsigned char headers[LWS_PRE + 512];
        unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
        /* a 304 has no body, and no Content-Length unless the 200's
         * (RFC 9110 8.6): only its status and validators */
        bool not_modified = reply->status == HTTP_STATUS_NOT_MODIFIED;
        const char *cache = reply->etag ? "no-cache" : "no-store";
        if ((not_modified
             ? lws_add_http_header_status (wsi, (unsigned) reply->status, &p, end)
             : lws_add_http_common_headers (wsi, (unsigned) reply->status, reply->content_type,
                                            reply->len, &p, end))
        ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                          (const unsigned char *) cache, (int) strlen (cache), &p, end)
        ||  (reply->etag
             && lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_ETAG, (const unsigned char *) reply->etag,
                                              (int) strlen (reply->etag), &p, end))
        ||  (reply->any_origin
             && lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_ACCESS_CONTROL_ALLOW_ORIGIN,
                                              (const unsigned char *) "*", 1, &p, end))
        ||  lws_finalize_write_http_header (wsi, start, &p, end))
            return -1;
        reply->headers_sent = true;
        if (not_modified) {
            gw_http_reply_destroy (reply_p);
            return lws_http_transaction_completed (wsi) ? -1 : 0;
        }
        lws_callback_on_writable (wsi);
        return 0;
    }
    int n = lws_write (wsi, (unsigned char *) reply->body, reply->len, LWS_WRITE_HTTP_FINAL);
    bool failed = n < 0 || (size_t) n < reply->len;
    gw_http_reply_destroy (reply_p);
    if (failed)
        return -1;
    return lws_http_transaction_completed (wsi) ? -1 : 0;
}
