/*
 * dp_render.c - the result document of a dp query, in the form of
 * engine_query_render (engine.h): {"columns":[...],"rows":[[...]],
 * "row_count":N}, compact.  Strings go through jansson (escaping), and a
 * text that is not UTF-8 or holds a NUL travels as {"hex":"..."}, as the
 * engine does; doubles as the shortest of %.15g..%.17g that reads back,
 * with ".0" on integral values; fixed-point sums as exact decimals.
 *
 * Every function appends to doc and returns 0, CDR_ERR_RESULT_TOO_LARGE
 * (doc's max: the caller sizes it to the result limit) or CDR_ERR_NOMEM.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "common/util.h"
#include "dp_int.h"

static int put(struct cdr_buf *doc, const void *p, size_t n) {
  int r = cdr_buf_put(doc, p, n);
  return r == CDR_ERR_TOO_LARGE ? CDR_ERR_RESULT_TOO_LARGE : r;
}

static int puts_(struct cdr_buf *doc, const char *s) { return put(doc, s, strlen(s)); }

static int put_hex(struct cdr_buf *doc, const uint8_t *p, size_t n) {
  char blk[2 * 64 + 1];
  int r = puts_(doc, "{\"hex\":\"");
  for (size_t i = 0; i < n && r == 0; i += 64) {
    size_t k = n - i < 64 ? n - i : 64;
    cdr_hex_encode(blk, p + i, k);
    r = put(doc, blk, 2 * k);
  }
  OPENSSL_cleanse(blk, sizeof(blk));
  return r != 0 ? r : puts_(doc, "\"}");
}

int dp_render_text(struct cdr_buf *doc, const uint8_t *p, size_t n) {
  if (!cdr_utf8_valid(p, n) || memchr(p, 0, n) != NULL)
    return put_hex(doc, p, n);
  json_t *s = json_stringn((const char *)p, n);
  if (s == NULL)
    return CDR_ERR_NOMEM;
  size_t len = json_dumpb(s, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT);
  char *tmp = len > 0 ? malloc(len) : NULL;
  int r = CDR_ERR_NOMEM;
  if (tmp != NULL && json_dumpb(s, tmp, len, JSON_ENCODE_ANY | JSON_COMPACT) == len)
    r = put(doc, tmp, len);
  if (tmp != NULL) {
    OPENSSL_cleanse(tmp, len);
    free(tmp);
  }
  json_decref(s);
  return r;
}

int dp_render_double(struct cdr_buf *doc, double v) {
  char b[CDR_DOUBLE_TEXT_LEN];
  if (!isfinite(v))
    return puts_(doc, "null");
  cdr_double_text(b, v);
  return puts_(doc, b);
}

int dp_render_value(struct cdr_buf *doc, sqlite3_value *v) {
  char b[32];
  switch (sqlite3_value_type(v)) {
  case SQLITE_INTEGER:
    snprintf(b, sizeof(b), "%lld", (long long)sqlite3_value_int64(v));
    return puts_(doc, b);
  case SQLITE_FLOAT: {
    double d = sqlite3_value_double(v);
    if (isnan(d))
      return puts_(doc, "{\"real\":\"nan\"}");
    if (isinf(d))
      return puts_(doc, d > 0 ? "{\"real\":\"inf\"}" : "{\"real\":\"-inf\"}");
    return dp_render_double(doc, d);
  }
  case SQLITE_TEXT: {
    const uint8_t *p = sqlite3_value_text(v);
    return p != NULL ? dp_render_text(doc, p, (size_t)sqlite3_value_bytes(v)) : CDR_ERR_NOMEM;
  }
  case SQLITE_BLOB: {
    const uint8_t *p = sqlite3_value_blob(v);
    size_t n = (size_t)sqlite3_value_bytes(v);
    return p != NULL || n == 0 ? put_hex(doc, p, n) : CDR_ERR_NOMEM;
  }
  default: return puts_(doc, "null");
  }
}

/* The decimal digits of |v| into the end of b[0..n), returning where
 * they start. */
static char *digits(dp_i128 v, char *b, size_t n) {
  dp_u128 u = v < 0 ? (dp_u128)(-(v + 1)) + 1 : (dp_u128)v;
  char *p = b + n - 1;
  *p = '\0';
  do {
    *--p = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u > 0);
  return p;
}

int dp_render_int(struct cdr_buf *doc, dp_i128 v) {
  char b[48], *p = digits(v, b, sizeof(b));
  if (v < 0)
    *--p = '-';
  return puts_(doc, p);
}

int dp_render_fixed(struct cdr_buf *doc, dp_i128 v) {
  dp_i128 whole = v / DP_SCALE, frac = v % DP_SCALE;
  char b[48], f[8];
  int r = 0;
  if (v < 0 && (r = puts_(doc, "-")) != 0)
    return r;
  if ((r = puts_(doc, digits(whole, b, sizeof(b)))) != 0)
    return r;
  int fr = (int)(frac < 0 ? -frac : frac), w = 6;
  while (w > 1 && fr % 10 == 0) {
    fr /= 10;
    w--;
  }
  snprintf(f, sizeof(f), ".%0*d", w, fr);
  return puts_(doc, f);
}

int dp_render_begin(struct cdr_buf *doc, const struct dp_plan *dp) {
  int r = puts_(doc, "{\"columns\":[");
  for (size_t i = 0; i < dp->nout && r == 0; i++) {
    if (i > 0)
      r = puts_(doc, ",");
    if (r == 0)
      r = dp_render_text(doc, (const uint8_t *)dp->out[i].name, strlen(dp->out[i].name));
  }
  return r != 0 ? r : puts_(doc, "],\"rows\":[");
}

int dp_render_sep(struct cdr_buf *doc, const char *s) { return puts_(doc, s); }

int dp_render_end(struct cdr_buf *doc, uint64_t rows) {
  char b[64];
  snprintf(b, sizeof(b), "],\"row_count\":%llu}", (unsigned long long)rows);
  return puts_(doc, b);
}
