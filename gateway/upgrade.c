/* upgrade.c -- the checks a WebSocket upgrade passes before it becomes a session.
 *
 * lws 4.1 upgrades whatever Sec-WebSocket-Version a client names and has no
 * origin check, and a callback that returns non-zero here makes lws drop
 * the socket without an answer; so each refusal writes its own HTTP
 * response first: a status a client (or an operator with curl) can act on. */
#include "upgrade.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libwebsockets.h>

/* Writes "HTTP/1.1 status" with a JSON body naming reason, counts it. */
static int
s_refuse (struct lws *wsi, gw_metrics_t *metrics, gw_refused_t why, unsigned status,
          const char *reason)
{
    metrics->refused_total[why]++;
    char body[96];
    int body_len = snprintf (body, sizeof body, "{\"error\":\"%s\"}\n", reason);
    unsigned char buf[LWS_PRE + 512];
    unsigned char *start = buf + LWS_PRE, *end = buf + sizeof buf - sizeof body - 1;
    /* the status line by hand: lws 4.1 writes HTTP/1.0 here, which some
     * WebSocket clients refuse to parse */
    int n = snprintf ((char *) start, 64, "HTTP/1.1 %u %s\r\n", status,
                      status == 426 ? "Upgrade Required" : status == 403 ? "Forbidden"
                      : status == 404 ? "Not Found" : "Service Unavailable");
    unsigned char *p = start + n;
    if ((status == 426
         && lws_add_http_header_by_token (wsi, WSI_TOKEN_VERSION,
                                          (const unsigned char *) "13", 2, &p, end))
    ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                      (const unsigned char *) "application/json", 16, &p, end)
    ||  lws_add_http_header_content_length (wsi, (lws_filepos_t) body_len, &p, end)
    ||  lws_add_http_header_by_token (wsi, WSI_TOKEN_CONNECTION,
                                      (const unsigned char *) "close", 5, &p, end)
    ||  lws_finalize_http_header (wsi, &p, end))
        return -1;
    memcpy (p, body, (size_t) body_len);
    p += body_len;
    /* one raw write of a few hundred bytes: the socket takes it whole */
    lws_write (wsi, start, (size_t) (p - start), LWS_WRITE_RAW);
    return -1;
}

/* True when origin (len bytes) is one of the comma-separated list. Origins
 * compare case-insensitively (scheme and host are case-insensitive; browsers
 * send them in lower case anyway). */
static bool
s_origin_listed (const char *list, const char *origin, size_t len)
{
    while (*list) {
        const char *comma = strchr (list, ',');
        size_t n = comma ? (size_t) (comma - list) : strlen (list);
        if (n == len && strncasecmp (list, origin, n) == 0)
            return true;
        if (!comma)
            break;
        list = comma + 1;
    }
    return false;
}

int
gw_upgrade_peer (struct lws *wsi, void *addr)
{
    socklen_t len = sizeof (struct sockaddr_storage);
    int fd = lws_get_socket_fd (wsi);
    return fd >= 0 && getpeername (fd, (struct sockaddr *) addr, &len) == 0 ? 0 : -1;
}

int
gw_upgrade_check (struct lws *wsi, const gw_config_t *config, gw_metrics_t *metrics,
                  gw_peers_t *peers, bool shutting_down, bool ws_allowed,
                  gw_upgrade_evict_fn *evict, void *evict_arg)
{
    char uri[8];
    if (!ws_allowed || lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) != 3
    ||  strcmp (uri, "/ws") != 0)
        return s_refuse (wsi, metrics, GW_REFUSED_PATH, 404, "not found");
    if (shutting_down)
        return s_refuse (wsi, metrics, GW_REFUSED_SHUTDOWN, 503, "shutting down");
    char version[8];
    if (lws_hdr_copy (wsi, version, sizeof version, WSI_TOKEN_VERSION) != 2
    ||  strcmp (version, "13") != 0)
        return s_refuse (wsi, metrics, GW_REFUSED_VERSION, 426, "Sec-WebSocket-Version must be 13");
    if (config->allowed_origins) {
        /* No Origin: not a browser (browsers always send it on WebSocket
         * upgrades); such a client could claim any origin anyway, so the
         * check, which protects users' browsers from other sites' pages,
         * lets it through. */
        char origin[256];
        int n = lws_hdr_total_length (wsi, WSI_TOKEN_ORIGIN);
        if (n > 0 && (n >= (int) sizeof origin
                      || lws_hdr_copy (wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) != n
                      || !s_origin_listed (config->allowed_origins, origin, (size_t) n)))
            return s_refuse (wsi, metrics, GW_REFUSED_ORIGIN, 403, "origin not allowed");
    }
    if (metrics->connections >= config->max_connections)
        return s_refuse (wsi, metrics, GW_REFUSED_LIMIT, 503, "too many connections");
    if (config->max_connections_per_ip) {
        struct sockaddr_storage addr;
        if (gw_upgrade_peer (wsi, &addr) == 0
        &&  gw_peers_count (peers, (struct sockaddr *) &addr) >= config->max_connections_per_ip)
            return s_refuse (wsi, metrics, GW_REFUSED_PER_IP, 503,
                             "too many connections from this address");
    }
    /* Last, so nothing is evicted for an upgrade refused anyway. Refusing
     * here instead would let connections that never authenticate hold the
     * pool against every real user (a slow-loris): the oldest goes (4008),
     * and a real client, which authenticates within a round trip, is never
     * the oldest for long. */
    if (metrics->unauthenticated >= config->max_unauthenticated
    &&  !(evict && evict (evict_arg)))
        return s_refuse (wsi, metrics, GW_REFUSED_UNAUTHENTICATED, 503,
                         "too many unauthenticated connections");
    return 0;
}
