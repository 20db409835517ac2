/* buf.h -- growable byte buffer with a hard size limit, reused on hot paths. */
#ifndef HERALD_PROTO_BUF_H
#define HERALD_PROTO_BUF_H

#include <stddef.h>

/* Transparent on purpose: callers embed one and reuse it per event, so the
 * steady state allocates nothing. The buffer owns `data`. */
typedef struct {
    char  *data;
    size_t len;     /* bytes in use */
    size_t cap;     /* bytes allocated */
    size_t limit;   /* len never exceeds this; 0 means SIZE_MAX */
} hp_buf_t;

/* Starts empty; allocates nothing until the first append. */
void hp_buf_init (hp_buf_t *self, size_t limit);

/* Frees the storage; the buffer is empty and may be reused after. */
void hp_buf_free (hp_buf_t *self);

/* Empties the buffer, keeping its storage. */
static inline void hp_buf_reset (hp_buf_t *self) { self->len = 0; }

/* Makes room for `more` bytes. Returns 0, or -1 when the limit would be
 * passed or memory ran out (the buffer is unchanged then). */
int hp_buf_reserve (hp_buf_t *self, size_t more);

/* Appends n bytes / one byte / a C string. Returns 0 or -1 as hp_buf_reserve. */
int hp_buf_append (hp_buf_t *self, const void *bytes, size_t n);
int hp_buf_putc (hp_buf_t *self, char c);
int hp_buf_puts (hp_buf_t *self, const char *s);

/* Appends the decimal form of an unsigned / signed 64-bit integer. */
int hp_buf_put_u64 (hp_buf_t *self, unsigned long long v);
int hp_buf_put_i64 (hp_buf_t *self, long long v);

#endif
