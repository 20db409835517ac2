/* http_batch.h -- POST /batch: many envelopes in one request (JSON lines), one bridge call for all. */
#ifndef HERALD_BROKER_HTTP_BATCH_H
#define HERALD_BROKER_HTTP_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Pure functions (the lws side is http.c, the routing side http_bridge.c),
 * so the batch rules have unit tests without a server.
 *
 * The body is JSON lines (application/x-ndjson or application/jsonl): one
 * JSON object per line, each a producer envelope as on the ingest socket
 * (event, to | channel | broadcast, data, id, ttl, idempotency_key, ...).
 * Empty lines (and a trailing \r) are skipped. */
#define HB_HTTP_BATCH_PATH      "/batch"
#define HB_HTTP_BATCH_LINES_MAX 1000
#define HB_HTTP_BATCH_BYTES_MAX ((size_t) 4 << 20)

/* Bridge payload: count (u32 big-endian), then per line its envelope's
 * length (u32) and msgpack bytes; length 0 marks a line refused before
 * routing (its reason stays on the HTTP side). */

/* Why a line was refused before routing (NULL: packed). */
typedef struct {
    const char *why[HB_HTTP_BATCH_LINES_MAX];
    uint32_t    count;
} hb_http_batch_lines_t;

/* Whether content_type (may be NULL) is a JSON-lines type, parameters after
 * ';' allowed. */
bool hb_http_batch_type_ok (const char *content_type);

/* Packs body into out as the bridge payload above and records each line's
 * refusal in lines: "not_json", "not_object", "too_deep" (nesting over the
 * envelope's 32), "too_large" (a line over max_line bytes or whose
 * envelope does not fit out). Returns 0, or -1 with a static reason for the
 * whole body: no lines ("no events") or more than HB_HTTP_BATCH_LINES_MAX. */
int hb_http_batch_pack (hp_buf_t *out, const char *body, size_t len, size_t max_line,
                        hb_http_batch_lines_t *lines, const char **why);

/* One routed line's answer as the bridge carries it (HB_HTTP_RESULT_LEN
 * bytes): error (u8, hp_env_error_t; 0xff: not routed), online (u8),
 * offset (u64 big-endian), duplicate (u8). */
#define HB_HTTP_RESULT_LEN 11
#define HB_HTTP_RESULT_SKIPPED 0xff

/* Appends the answer's JSON to out:
 *   {"accepted":A,"refused":R,"results":[R1,R2,...]}
 * one result per line in order: {"offset":N,"online":B} (with
 * "duplicate":true for a repeat), or {"error":REASON} (an envelope reason of
 * PROTOCOL.md, or one of hb_http_batch_pack's). results holds
 * lines->count answers of HB_HTTP_RESULT_LEN bytes. Returns 0 or -1 (out
 * full). */
int hb_http_batch_render (hp_buf_t *out, const hb_http_batch_lines_t *lines,
                          const unsigned char *results, size_t results_len);

#endif
