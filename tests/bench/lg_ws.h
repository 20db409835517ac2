/* lg_ws.h -- minimal WebSocket client pieces for the load generator. */
#ifndef HERALD_BENCH_LG_WS_H
#define HERALD_BENCH_LG_WS_H

#include <stddef.h>
#include <stdint.h>

/* The part of each frame's payload a client keeps: enough for the type, the
 * timestamp and a control frame (at most 125 bytes). The rest is skipped. */
#define LG_WS_HEAD 192

#define LG_WS_TEXT  0x1
#define LG_WS_CLOSE 0x8
#define LG_WS_PING  0x9
#define LG_WS_PONG  0xA

/* Incremental parser of server frames. Zero it to start. Per connection it
 * holds only one frame header and the first LG_WS_HEAD payload bytes. */
typedef struct {
    uint8_t hdr[14];
    uint8_t hdr_len;
    uint8_t opcode;
    uint16_t head_len;
    uint64_t remaining;          /* payload bytes still to come (0: in header) */
    uint64_t total;
    int in_payload;
    char head[LG_WS_HEAD];
} lg_ws_parser_t;

/* Called once per complete frame with its opcode, the first bytes of its
 * payload (head_len <= LG_WS_HEAD) and its full payload length. Returns 0 to
 * go on, -1 to stop feeding (the connection is being closed). */
typedef int (lg_ws_frame_fn) (void *arg, int opcode, const char *head,
                              size_t head_len, uint64_t total_len);

/* Feeds len bytes; calls fn for each frame completed. Returns 0, or -1 when
 * the bytes are not valid server frames (masked, bad length) or fn said stop. */
int lg_ws_parser_feed (lg_ws_parser_t *self, const char *data, size_t len,
                       lg_ws_frame_fn *fn, void *arg);

/* Writes one masked client frame (opcode, payload) into out. Returns its
 * length, or 0 when it does not fit in cap. */
size_t lg_ws_frame (char *out, size_t cap, int opcode, const char *payload,
                    size_t len, uint32_t mask);

/* Writes the HTTP upgrade request for path on host into out. Returns its
 * length, or 0 when it does not fit. */
size_t lg_ws_request (char *out, size_t cap, const char *host, const char *path);

/* Scans a frame head for "ts":<digits> and returns the number, or 0. */
uint64_t lg_ws_find_ts (const char *head, size_t len);

#endif
