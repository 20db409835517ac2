/* lines.h -- newline-separated input read from a file descriptor without blocking the caller's poll loop, for herald-push. */
#ifndef HERALD_TOOLS_LINES_H
#define HERALD_TOOLS_LINES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ht_lines ht_lines_t;

/* Reads fd (not owned) in chunks into a buffer of max_line bytes plus one
 * chunk: a line longer than max_line is skipped, never buffered whole.
 * NULL on out of memory. */
ht_lines_t *ht_lines_new (int fd, size_t max_line);
void ht_lines_destroy (ht_lines_t **self_p);

typedef enum {
    HT_LINES_LINE = 0,      /* *line / *len: one line without its newline */
    HT_LINES_MORE,          /* no whole line buffered: call ht_lines_fill */
    HT_LINES_END,           /* end of input, nothing left */
    HT_LINES_TOO_LONG,      /* a line over max_line was skipped (it counts as one line) */
} ht_lines_result_t;

/* The next buffered line. The text stays valid until the next call on
 * self. At end of input a last line without a newline is returned too. */
ht_lines_result_t ht_lines_next (ht_lines_t *self, const char **line, size_t *len);

/* One read() of fd into the buffer: call it when ht_lines_next said MORE
 * (a blocking fd blocks here; poll it first to avoid that). Returns 0, or
 * -1 on a read error (errno set; EINTR and EAGAIN are not errors). */
int ht_lines_fill (ht_lines_t *self);

/* True once fd reported end of input. */
bool ht_lines_eof (const ht_lines_t *self);

#endif
