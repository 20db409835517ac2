/* log.h -- the one log line format of every Herald process (stderr).
 *
 * A line carries an RFC 3339 UTC time (milliseconds), a level and the
 * process name and id. Text:
 *   2026-12-02T15:40:00.123Z info herald-broker[4242]: epoch 9f3c…
 * JSON (--log-format json), one object per line:
 *   {"time":"2026-12-02T15:40:00.123Z","level":"info","process":"herald-broker",
 *    "pid":4242,"msg":"epoch 9f3c…"}
 * Lines below the level (--log-level) are skipped. Each line is written with
 * one write(2), so threads' lines never interleave. Lines a peer can trigger
 * go through a hp_log_limit_t (below) or the processes' own limiters. */
#ifndef HERALD_PROTO_LOG_H
#define HERALD_PROTO_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { HP_LOG_DEBUG, HP_LOG_INFO, HP_LOG_WARN, HP_LOG_ERROR } hp_log_level_t;
typedef enum { HP_LOG_TEXT, HP_LOG_JSON } hp_log_format_t;

/* The process name lines carry ("herald-broker"); before it, "herald". */
void hp_log_init (const char *process);

/* Sets the format and the lowest level printed (defaults: text, info). */
void hp_log_configure (hp_log_format_t format, hp_log_level_t level);

/* "text"|"json" and "debug"|"info"|"warn"|"error"; 0, or -1 for anything else. */
int hp_log_parse_format (const char *text, hp_log_format_t *out);
int hp_log_parse_level (const char *text, hp_log_level_t *out);
const char *hp_log_level_name (hp_log_level_t level);

bool hp_log_enabled (hp_log_level_t level);

/* One line; fmt is printf's, without the trailing newline (one is dropped
 * if given). Longer than 1 KiB of message: cut, ending in "...". */
void hp_log (hp_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
void hp_vlog (hp_log_level_t level, const char *fmt, va_list ap);

#define hp_debug(...) hp_log (HP_LOG_DEBUG, __VA_ARGS__)
#define hp_info(...)  hp_log (HP_LOG_INFO, __VA_ARGS__)
#define hp_warn(...)  hp_log (HP_LOG_WARN, __VA_ARGS__)
#define hp_error(...) hp_log (HP_LOG_ERROR, __VA_ARGS__)

/* At most one line a second through one limiter; the next line after a
 * suppressed spell says how many were held back. One limiter per kind of
 * line a peer can cause (a failed auth, a bad frame); single-threaded. */
typedef struct {
    uint64_t second;        /* monotonic second + 1 of the last line; 0 never */
    uint64_t suppressed;
} hp_log_limit_t;

/* Returns true when the line was printed. */
bool hp_log_limited (hp_log_limit_t *limit, hp_log_level_t level, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
