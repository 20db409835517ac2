/* lg_ws.c -- minimal WebSocket client pieces for the load generator. */
#define _GNU_SOURCE
#include "lg_ws.h"

#include <stdio.h>
#include <string.h>

/* Length of a server frame header given its first two bytes. */
static size_t
s_header_len (const uint8_t *h)
{
    uint8_t len7 = h[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
}

static uint64_t
s_payload_len (const uint8_t *h)
{
    uint8_t len7 = h[1] & 0x7f;
    if (len7 < 126)
        return len7;
    uint64_t v = 0;
    int n = len7 == 126 ? 2 : 8;
    for (int i = 0; i < n; i++)
        v = (v << 8) | h[2 + i];
    return v;
}

int
lg_ws_parser_feed (lg_ws_parser_t *self, const char *data, size_t len,
                   lg_ws_frame_fn *fn, void *arg)
{
    const uint8_t *p = (const uint8_t *) data;
    while (len > 0) {
        if (!self->in_payload && self->hdr_len == 0 && len >= 2) {
            /* Fast path: a whole frame present in the buffer needs no copy. */
            size_t hl = s_header_len (p);
            if ((p[1] & 0x80) != 0)
                return -1;                 /* servers never mask */
            if (len >= hl) {
                uint64_t pl = s_payload_len (p);
                if (pl > (1ull << 40))
                    return -1;
                if (len - hl >= pl) {
                    size_t head = pl < LG_WS_HEAD ? (size_t) pl : LG_WS_HEAD;
                    if (fn (arg, p[0] & 0x0f, (const char *) p + hl, head, pl) != 0)
                        return -1;
                    p += hl + pl;
                    len -= hl + pl;
                    continue;
                }
            }
        }
        if (!self->in_payload) {
            /* Collect the header byte by byte until its length is known. */
            self->hdr[self->hdr_len++] = *p++;
            len--;
            if (self->hdr_len < 2 || self->hdr_len < s_header_len (self->hdr))
                continue;
            if ((self->hdr[1] & 0x80) != 0)
                return -1;
            self->opcode = self->hdr[0] & 0x0f;
            self->total = self->remaining = s_payload_len (self->hdr);
            if (self->total > (1ull << 40))
                return -1;
            self->head_len = 0;
            self->in_payload = 1;
        }
        size_t take = self->remaining < len ? (size_t) self->remaining : len;
        size_t room = LG_WS_HEAD - self->head_len;
        size_t keep = take < room ? take : room;
        memcpy (self->head + self->head_len, p, keep);
        self->head_len += keep;
        p += take;
        len -= take;
        self->remaining -= take;
        if (self->remaining == 0) {
            self->in_payload = 0;
            self->hdr_len = 0;
            if (fn (arg, self->opcode, self->head, self->head_len, self->total) != 0)
                return -1;
        }
    }
    return 0;
}

size_t
lg_ws_frame (char *out, size_t cap, int opcode, const char *payload,
             size_t len, uint32_t mask)
{
    size_t hl = len < 126 ? 6 : 8;
    if (len > 0xffff || hl + len > cap)
        return 0;
    uint8_t *o = (uint8_t *) out;
    o[0] = 0x80 | (opcode & 0x0f);
    if (len < 126)
        o[1] = 0x80 | (uint8_t) len;
    else {
        o[1] = 0x80 | 126;
        o[2] = (uint8_t) (len >> 8);
        o[3] = (uint8_t) len;
    }
    uint8_t m[4] = { (uint8_t) (mask >> 24), (uint8_t) (mask >> 16),
                     (uint8_t) (mask >> 8), (uint8_t) mask };
    memcpy (o + hl - 4, m, 4);
    for (size_t i = 0; i < len; i++)
        o[hl + i] = (uint8_t) payload[i] ^ m[i & 3];
    return hl + len;
}

size_t
lg_ws_request (char *out, size_t cap, const char *host, const char *path)
{
    /* A fixed key is fine: the accept value is not checked by this tool. */
    int n = snprintf (out, cap,
                      "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n", path, host);
    return n > 0 && (size_t) n < cap ? (size_t) n : 0;
}

uint64_t
lg_ws_find_ts (const char *head, size_t len)
{
    const char *t = memmem (head, len, "\"ts\":", 5);
    if (!t)
        return 0;
    const char *end = head + len;
    t += 5;
    uint64_t v = 0;
    while (t < end && *t >= '0' && *t <= '9')
        v = v * 10 + (uint64_t) (*t++ - '0');
    return v;
}
