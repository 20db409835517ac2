/* log.c -- RFC 3339 time, level and process on every line, as text or JSON (log.h). */
#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define S_MSG_MAX 1024

static const char *s_process = "herald";
static hp_log_format_t s_format = HP_LOG_TEXT;
static hp_log_level_t s_level = HP_LOG_INFO;
static const char *s_level_names[] = { "debug", "info", "warn", "error" };

void
hp_log_init (const char *process)
{
    s_process = process;
}

void
hp_log_configure (hp_log_format_t format, hp_log_level_t level)
{
    s_format = format;
    s_level = level;
}

int
hp_log_parse_format (const char *text, hp_log_format_t *out)
{
    if (strcasecmp (text, "text") == 0)
        return *out = HP_LOG_TEXT, 0;
    if (strcasecmp (text, "json") == 0)
        return *out = HP_LOG_JSON, 0;
    return -1;
}

int
hp_log_parse_level (const char *text, hp_log_level_t *out)
{
    for (int i = HP_LOG_DEBUG; i <= HP_LOG_ERROR; i++)
        if (strcasecmp (text, s_level_names[i]) == 0)
            return *out = (hp_log_level_t) i, 0;
    if (strcasecmp (text, "warning") == 0)
        return *out = HP_LOG_WARN, 0;
    return -1;
}

const char *
hp_log_level_name (hp_log_level_t level)
{
    return level >= HP_LOG_DEBUG && level <= HP_LOG_ERROR ? s_level_names[level] : "info";
}

bool
hp_log_enabled (hp_log_level_t level)
{
    return level >= s_level;
}

/* Length of the valid UTF-8 sequence at p (of n bytes left), 0 if invalid. */
static size_t
s_utf8_len (const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0xC2 ? 0 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : p[0] < 0xF5 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F)
    ||  (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;       /* overlong, surrogate, past U+10FFFF */
    return len;
}

/* The message as a JSON string body (no quotes) into out; bytes that are
 * not UTF-8 become U+FFFD so a peer's bytes cannot break the line. */
static size_t
s_json_escape (char *out, size_t cap, const char *msg)
{
    const unsigned char *p = (const unsigned char *) msg;
    size_t n = strlen (msg), w = 0;
    for (size_t i = 0; i < n && w + 8 < cap; ) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            out[w++] = '\\';
            out[w++] = (char) c;
            i++;
        }
        else
        if (c < 0x20 || c == 0x7F) {
            w += (size_t) snprintf (out + w, cap - w, "\\u%04x", c);
            i++;
        }
        else
        if (c < 0x80) {
            out[w++] = (char) c;
            i++;
        }
        else {
            size_t len = s_utf8_len (p + i, n - i);
            if (len) {
                memcpy (out + w, p + i, len);
                w += len;
                i += len;
            }
            else {
                memcpy (out + w, "\\ufffd", 6);
                w += 6;
                i++;
            }
        }
    }
    out[w] = '\0';
    return w;
}

void
hp_vlog (hp_log_level_t level, const char *fmt, va_list ap)
{
    if (!hp_log_enabled (level))
        return;
    char msg[S_MSG_MAX];
    int n = vsnprintf (msg, sizeof msg, fmt, ap);
    if (n < 0)
        return;
    if ((size_t) n >= sizeof msg)
        memcpy (msg + sizeof msg - 4, "...", 4);
    size_t len = strlen (msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';

    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char stamp[80];
    snprintf (stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);

    char line[S_MSG_MAX * 6 + 256];
    int w;
    if (s_format == HP_LOG_JSON) {
        char body[S_MSG_MAX * 6 + 16];
        s_json_escape (body, sizeof body, msg);
        w = snprintf (line, sizeof line,
                      "{\"time\":\"%s\",\"level\":\"%s\",\"process\":\"%s\",\"pid\":%ld,\"msg\":\"%s\"}\n",
                      stamp, hp_log_level_name (level), s_process, (long) getpid (), body);
    }
    else {
        /* one line per record: a newline inside the message would fake one */
        for (char *c = msg; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        w = snprintf (line, sizeof line, "%s %s %s[%ld]: %s\n", stamp,
                      hp_log_level_name (level), s_process, (long) getpid (), msg);
    }
    if (w <= 0)
        return;
    size_t total = (size_t) w < sizeof line ? (size_t) w : sizeof line - 1;
    /* one write: lines from the broker's threads never interleave */
    ssize_t rc = write (STDERR_FILENO, line, total);
    (void) rc;
}

void
hp_log (hp_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    hp_vlog (level, fmt, ap);
    va_end (ap);
}

bool
hp_log_limited (hp_log_limit_t *limit, hp_log_level_t level, const char *fmt, ...)
{
    if (!hp_log_enabled (level))
        return false;
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t now = (uint64_t) ts.tv_sec + 1;
    if (limit->second == now) {
        limit->suppressed++;
        return false;
    }
    limit->second = now;
    char msg[S_MSG_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    if (limit->suppressed)
        hp_log (level, "%s (%llu similar lines suppressed)", msg,
                (unsigned long long) limit->suppressed);
    else
        hp_log (level, "%s", msg);
    limit->suppressed = 0;
    return true;
}
