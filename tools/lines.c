/* lines.c -- newline-separated input read from a file descriptor without blocking the caller's poll loop, for herald-push.
 *
 * stdio's getc would buffer input that poll() then cannot see, so
 * herald-push --confirm (which polls stdin beside its broker socket) reads
 * with read() into this buffer instead; the plain mode shares it. The
 * buffer holds at most max_line bytes of an unfinished line plus one
 * chunk: a longer line is dropped as it streams past. */
#include "lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CHUNK (64 * 1024)

struct ht_lines {
    int    fd;
    size_t max_line;
    char  *buf;
    size_t cap;
    size_t start;           /* first byte not yet returned */
    size_t len;             /* bytes held, from buf[0] */
    bool   eof;
    bool   skipping;        /* inside a line over max_line: drop to its newline */
};

ht_lines_t *
ht_lines_new (int fd, size_t max_line)
{
    ht_lines_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = fd;
    self->max_line = max_line;
    self->cap = max_line + S_CHUNK;
    self->buf = malloc (self->cap);
    if (!self->buf) {
        free (self);
        return NULL;
    }
    return self;
}

void
ht_lines_destroy (ht_lines_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->buf);
    free (*self_p);
    *self_p = NULL;
}

bool
ht_lines_eof (const ht_lines_t *self)
{
    return self->eof;
}

ht_lines_result_t
ht_lines_next (ht_lines_t *self, const char **line, size_t *len)
{
    for (;;) {
        char *from = self->buf + self->start;
        size_t held = self->len - self->start;
        char *nl = held ? memchr (from, '\n', held) : NULL;
        if (self->skipping) {
            if (!nl) {
                self->start = self->len = 0;     /* drop what streamed past */
                if (!self->eof)
                    return HT_LINES_MORE;
                self->skipping = false;
                return HT_LINES_TOO_LONG;
            }
            self->start += (size_t) (nl - from) + 1;
            self->skipping = false;
            return HT_LINES_TOO_LONG;
        }
        if (nl && (size_t) (nl - from) <= self->max_line) {
            *line = from;
            *len = (size_t) (nl - from);
            self->start += *len + 1;
            return HT_LINES_LINE;
        }
        if (nl || held > self->max_line) {
            self->skipping = true;               /* over max_line: its rest goes too */
            continue;
        }
        if (self->eof) {
            if (held == 0)
                return HT_LINES_END;
            *line = from;
            *len = held;
            self->start = self->len;
            return HT_LINES_LINE;
        }
        return HT_LINES_MORE;
    }
}

int
ht_lines_fill (ht_lines_t *self)
{
    if (self->eof)
        return 0;
    if (self->start > 0) {
        /* keep the unfinished line at the front, so a line never needs
         * more than max_line + one chunk */
        memmove (self->buf, self->buf + self->start, self->len - self->start);
        self->len -= self->start;
        self->start = 0;
    }
    size_t room = self->cap - self->len;
    if (room > S_CHUNK)
        room = S_CHUNK;
    ssize_t n = read (self->fd, self->buf + self->len, room);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        self->eof = true;
    else
        self->len += (size_t) n;
    return 0;
}
