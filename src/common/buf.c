/*
 * buf.c - bounded buffer, see buf.h for the contract.
 */
#include "buf.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void cdr_buf_init(struct cdr_buf *b, size_t max, int secure) {
  memset(b, 0, sizeof(*b));
  b->max = max;
  b->secure = secure;
}

void cdr_buf_view(struct cdr_buf *b, const void *p, size_t n) {
  memset(b, 0, sizeof(*b));
  b->d = (uint8_t *)(uintptr_t)p;
  b->len = b->cap = b->max = n;
  b->readonly = 1;
}

void cdr_buf_free(struct cdr_buf *b) {
  if (!b->readonly && b->d != NULL) {
    if (b->secure)
      OPENSSL_secure_clear_free(b->d, b->cap);
    else
      OPENSSL_clear_free(b->d, b->cap);
  }
  size_t max = b->max;
  int secure = b->secure;
  memset(b, 0, sizeof(*b));
  b->max = max;
  b->secure = secure;
}

int cdr_buf_reserve(struct cdr_buf *b, size_t n) {
  if (b->readonly)
    return CDR_ERR_INTERNAL;
  if (n > b->max || b->len > b->max - n)
    return CDR_ERR_TOO_LARGE;
  size_t need = b->len + n;
  if (need <= b->cap)
    return 0;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need)
    ncap = (ncap > b->max / 2) ? b->max : ncap * 2;
  uint8_t *nd = b->secure ? OPENSSL_secure_malloc(ncap) : OPENSSL_malloc(ncap);
  if (nd == NULL)
    return CDR_ERR_NOMEM;
  if (b->d != NULL) {
    memcpy(nd, b->d, b->len);
    if (b->secure)
      OPENSSL_secure_clear_free(b->d, b->cap);
    else
      OPENSSL_clear_free(b->d, b->cap);
  }
  b->d = nd;
  b->cap = ncap;
  return 0;
}

int cdr_buf_put(struct cdr_buf *b, const void *p, size_t n) {
  int r;
  if (n == 0)
    return 0;
  if ((r = cdr_buf_reserve(b, n)) != 0)
    return r;
  memcpy(b->d + b->len, p, n);
  b->len += n;
  return 0;
}

int cdr_buf_put_u8(struct cdr_buf *b, uint8_t v) { return cdr_buf_put(b, &v, 1); }

int cdr_buf_put_u32(struct cdr_buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  return cdr_buf_put(b, x, 4);
}

int cdr_buf_put_u64(struct cdr_buf *b, uint64_t v) {
  uint8_t x[8];
  for (int i = 0; i < 8; i++)
    x[i] = (uint8_t)(v >> (56 - 8 * i));
  return cdr_buf_put(b, x, 8);
}

int cdr_buf_put_lp(struct cdr_buf *b, const void *p, size_t n) {
  int r;
  if (n > UINT32_MAX)
    return CDR_ERR_TOO_LARGE;
  if (n > b->max || 4 > b->max - n)
    return CDR_ERR_TOO_LARGE;
  if ((r = cdr_buf_reserve(b, 4 + n)) != 0)
    return r;
  if ((r = cdr_buf_put_u32(b, (uint32_t)n)) != 0)
    return r;
  return cdr_buf_put(b, p, n);
}

int cdr_buf_put_lpstr(struct cdr_buf *b, const char *s) { return cdr_buf_put_lp(b, s, strlen(s)); }

int cdr_buf_get(struct cdr_buf *b, void *out, size_t n) {
  if (n > cdr_buf_avail(b))
    return CDR_ERR_TRUNCATED;
  if (out != NULL && n > 0)
    memcpy(out, b->d + b->off, n);
  b->off += n;
  return 0;
}

int cdr_buf_get_u8(struct cdr_buf *b, uint8_t *v) { return cdr_buf_get(b, v, 1); }

int cdr_buf_get_u32(struct cdr_buf *b, uint32_t *v) {
  uint8_t x[4];
  int r = cdr_buf_get(b, x, 4);
  if (r == 0)
    *v = ((uint32_t)x[0] << 24) | ((uint32_t)x[1] << 16) | ((uint32_t)x[2] << 8) | x[3];
  return r;
}

int cdr_buf_get_u64(struct cdr_buf *b, uint64_t *v) {
  uint8_t x[8];
  int r = cdr_buf_get(b, x, 8);
  if (r == 0) {
    uint64_t acc = 0;
    for (int i = 0; i < 8; i++)
      acc = (acc << 8) | x[i];
    *v = acc;
  }
  return r;
}

int cdr_buf_get_lp(struct cdr_buf *b, const uint8_t **p, size_t *n, size_t maxlen) {
  uint32_t len;
  size_t save = b->off;
  int r;
  if ((r = cdr_buf_get_u32(b, &len)) != 0)
    return r;
  if (len > maxlen) {
    b->off = save;
    return CDR_ERR_TOO_LARGE;
  }
  if (len > cdr_buf_avail(b)) {
    b->off = save;
    return CDR_ERR_TRUNCATED;
  }
  *p = b->d + b->off;
  *n = len;
  b->off += len;
  return 0;
}

int cdr_buf_get_lp_exact(struct cdr_buf *b, uint8_t *out, size_t n) {
  const uint8_t *p;
  size_t got;
  size_t save = b->off;
  int r;
  if ((r = cdr_buf_get_lp(b, &p, &got, n)) != 0)
    return r;
  if (got != n) {
    b->off = save;
    return CDR_ERR_TRUNCATED;
  }
  memcpy(out, p, n);
  return 0;
}

int cdr_buf_get_lpstr(struct cdr_buf *b, char **s, size_t maxlen) {
  const uint8_t *p;
  size_t n;
  size_t save = b->off;
  int r;
  if ((r = cdr_buf_get_lp(b, &p, &n, maxlen)) != 0)
    return r;
  if (memchr(p, 0, n) != NULL) {
    b->off = save;
    return CDR_ERR_TRUNCATED;
  }
  char *out = malloc(n + 1);
  if (out == NULL) {
    b->off = save;
    return CDR_ERR_NOMEM;
  }
  memcpy(out, p, n);
  out[n] = '\0';
  *s = out;
  return 0;
}

int cdr_buf_expect_end(const struct cdr_buf *b) { return cdr_buf_avail(b) == 0 ? 0 : CDR_ERR_TRUNCATED; }
