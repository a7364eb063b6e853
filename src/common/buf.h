/*
 * buf.h - the one bounded byte buffer used to encode and decode every
 * binary format of our own (IPC frames, protocol transcripts, sealed
 * payloads).  Modelled on OpenSSH's sshbuf.
 *
 * Invariants:
 *   - off <= len <= cap <= max; bytes [off, len) are unread data.
 *   - A put that would pass max fails with CDR_ERR_TOO_LARGE and leaves
 *     the buffer unchanged.  A get that would read past len fails with
 *     CDR_ERR_TRUNCATED and leaves the buffer unchanged.
 *   - Freed buffers are wiped (they often hold secrets), so cdr_buf_free
 *     is the only way to release one.
 *   - A buffer made with cdr_buf_view does not own its bytes: it can be
 *     read but not written, and freeing it does not touch them.
 *
 * Integers on the wire are big-endian.  "lp" fields are a u32 length
 * followed by that many bytes.
 */
#ifndef CDR_BUF_H
#define CDR_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct cdr_buf {
  uint8_t *d;
  size_t off, len, cap, max;
  int readonly;
  int secure; /* allocated from OpenSSL's locked secure heap */
};

/* Initialise an empty writable buffer that may grow up to max bytes.
 * secure != 0 puts the bytes in locked, non-dumpable memory. */
void cdr_buf_init(struct cdr_buf *b, size_t max, int secure);
/* A read-only view of [p, p+n); the caller keeps p alive. */
void cdr_buf_view(struct cdr_buf *b, const void *p, size_t n);
/* Wipe and release; the buffer is left empty and reusable. */
void cdr_buf_free(struct cdr_buf *b);
/* Make room for n more bytes (0, CDR_ERR_TOO_LARGE, CDR_ERR_NOMEM). */
int cdr_buf_reserve(struct cdr_buf *b, size_t n) CDR_WUR;

/* The unread bytes; NULL for a buffer that never held any (d NULL, off 0:
 * no arithmetic on a null pointer). */
static inline const uint8_t *cdr_buf_ptr(const struct cdr_buf *b) { return b->d != NULL ? b->d + b->off : NULL; }
static inline size_t cdr_buf_avail(const struct cdr_buf *b) { return b->len - b->off; }

int cdr_buf_put(struct cdr_buf *b, const void *p, size_t n) CDR_WUR;
int cdr_buf_put_u8(struct cdr_buf *b, uint8_t v) CDR_WUR;
int cdr_buf_put_u32(struct cdr_buf *b, uint32_t v) CDR_WUR;
int cdr_buf_put_u64(struct cdr_buf *b, uint64_t v) CDR_WUR;
/* u32 length, then the bytes. */
int cdr_buf_put_lp(struct cdr_buf *b, const void *p, size_t n) CDR_WUR;
int cdr_buf_put_lpstr(struct cdr_buf *b, const char *s) CDR_WUR;

int cdr_buf_get(struct cdr_buf *b, void *out, size_t n) CDR_WUR;
int cdr_buf_get_u8(struct cdr_buf *b, uint8_t *v) CDR_WUR;
int cdr_buf_get_u32(struct cdr_buf *b, uint32_t *v) CDR_WUR;
int cdr_buf_get_u64(struct cdr_buf *b, uint64_t *v) CDR_WUR;
/* Borrow an lp field in place: *p points into the buffer, valid until the
 * buffer changes.  Fails with CDR_ERR_TOO_LARGE if the length exceeds
 * maxlen (checked before anything else is trusted). */
int cdr_buf_get_lp(struct cdr_buf *b, const uint8_t **p, size_t *n, size_t maxlen) CDR_WUR;
/* An lp field that must be exactly n bytes long (fixed-size fields). */
int cdr_buf_get_lp_exact(struct cdr_buf *b, uint8_t *out, size_t n) CDR_WUR;
/* An lp field as a new NUL-terminated string; rejects embedded NULs. */
int cdr_buf_get_lpstr(struct cdr_buf *b, char **s, size_t maxlen) CDR_WUR;
/* Fails with CDR_ERR_TRUNCATED unless every byte has been read. */
int cdr_buf_expect_end(const struct cdr_buf *b) CDR_WUR;

#endif
