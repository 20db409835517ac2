/* http_reply.h -- one plain HTTP answer of the gateway, held until lws lets us write it. */
#ifndef HERALD_GW_HTTP_REPLY_H
#define HERALD_GW_HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

struct lws;

typedef struct {
    int status;
    const char *content_type;   /* static; NULL for a 304 */
    bool headers_sent;
    bool any_origin;            /* Access-Control-Allow-Origin: * */
    const char *etag;           /* static; set: ETag + no-cache, else no-store */
    size_t len;
    unsigned char *storage;     /* LWS_PRE + len */
    const unsigned char *body;  /* storage + LWS_PRE */
} gw_http_reply_t;

/* A reply holding a copy of body (len bytes; body may be NULL when len is
 * 0). NULL without memory. Caller owns the result. */
gw_http_reply_t *gw_http_reply_new (int status, const char *content_type, const void *body,
                                    size_t len);
/* Frees *reply_p (NULL allowed) and nulls it. */
void gw_http_reply_destroy (gw_http_reply_t **reply_p);

/* Call on each HTTP_WRITEABLE: the headers on the first, the body on the
 * second (a 304 has none), then the reply is destroyed and the
 * transaction completed (keep-alive). 0, or -1 when the connection must
 * close (a short write, or lws refused a header). */
int gw_http_reply_write (struct lws *wsi, gw_http_reply_t **reply_p);

#endif
