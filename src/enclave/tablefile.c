/*
 * tablefile.c - sealed table files; see tablefile.h.
 */
#include "tablefile.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "crypto/crypto.h"

#define TF_LABEL "CDR-v1 table"

static void tf_nonce(uint8_t nonce[12], uint64_t index) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(index >> (56 - 8 * i));
}

static int tf_aad(struct cdr_buf *aad, const char *id, uint64_t index, int last) {
  int r;
  if ((r = cdr_buf_put_lpstr(aad, TF_LABEL)) != 0 || (r = cdr_buf_put_lpstr(aad, id)) != 0 ||
      (r = cdr_buf_put_u64(aad, index)) != 0 || (r = cdr_buf_put_u8(aad, (uint8_t)last)) != 0)
    return r;
  return 0;
}

static int tf_valid_id(const char *id) { return id != NULL && strlen(id) == 32; }

int tf_writer_init(struct tf_writer *w, const uint8_t key[32], const char *table_id, size_t ncols, tf_emit_fn emit,
                   void *ctx) {
  memset(w, 0, sizeof(*w));
  if (!tf_valid_id(table_id) || ncols == 0)
    return CDR_ERR_ARG;
  memcpy(w->key, key, 32);
  memcpy(w->id, table_id, 33);
  w->ncols = ncols;
  w->emit = emit;
  w->ctx = ctx;
  cdr_buf_init(&w->rows, TABLEFILE_MAX_CHUNK - 64, 0);
  if ((w->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex2(w->sha, EVP_sha256(), NULL) != 1)
    return CDR_ERR_CRYPTO;
  return cdr_buf_put_u32(&w->rows, 0); /* nrows, patched when sealed */
}

/* Seal the rows gathered so far as chunk w->index and emit it. */
static int tf_seal_chunk(struct tf_writer *w, int last) {
  struct cdr_buf aad, ct;
  uint8_t nonce[12];
  int r;
  cdr_buf_init(&aad, 256, 0);
  cdr_buf_init(&ct, TABLEFILE_MAX_CHUNK, 0);
  w->rows.d[0] = (uint8_t)(w->nrows_chunk >> 24);
  w->rows.d[1] = (uint8_t)(w->nrows_chunk >> 16);
  w->rows.d[2] = (uint8_t)(w->nrows_chunk >> 8);
  w->rows.d[3] = (uint8_t)w->nrows_chunk;
  tf_nonce(nonce, w->index);
  if ((r = tf_aad(&aad, w->id, w->index, last)) != 0 || (r = cdr_buf_put_u32(&ct, 0)) != 0 ||
      (r = cdr_buf_put_u8(&ct, (uint8_t)last)) != 0 ||
      (r = cdr_aead_seal(&ct, w->key, nonce, aad.d, aad.len, w->rows.d, w->rows.len)) != 0)
    goto out;
  uint32_t len = (uint32_t)(ct.len - 4);
  ct.d[0] = (uint8_t)(len >> 24);
  ct.d[1] = (uint8_t)(len >> 16);
  ct.d[2] = (uint8_t)(len >> 8);
  ct.d[3] = (uint8_t)len;
  if (EVP_DigestUpdate(w->sha, ct.d, ct.len) != 1) {
    r = CDR_ERR_CRYPTO;
    goto out;
  }
  if ((r = w->emit(w->ctx, ct.d, ct.len)) != 0)
    goto out;
  w->index++;
  w->nrows_chunk = 0;
  cdr_buf_free(&w->rows); /* wipes the plaintext rows */
  r = cdr_buf_put_u32(&w->rows, 0);
out:
  cdr_buf_free(&aad);
  cdr_buf_free(&ct);
  return r;
}

int tf_writer_row(struct tf_writer *w, const struct tf_value *vals) {
  int r;
  for (size_t c = 0; c < w->ncols; c++) {
    const struct tf_value *v = &vals[c];
    if ((r = cdr_buf_put_u8(&w->rows, v->type)) != 0)
      return r;
    switch (v->type) {
    case TF_NULL: break;
    case TF_INT: r = cdr_buf_put_u64(&w->rows, (uint64_t)v->i); break;
    case TF_REAL: {
      uint64_t bits;
      memcpy(&bits, &v->d, 8);
      r = cdr_buf_put_u64(&w->rows, bits);
      break;
    }
    case TF_TEXT:
    case TF_BLOB: r = cdr_buf_put_lp(&w->rows, v->p, v->n); break;
    default: return CDR_ERR_ARG;
    }
    if (r != 0)
      return r;
  }
  w->nrows_chunk++;
  w->rows_total++;
  if (w->rows.len >= TABLEFILE_CHUNK_ROWS_BYTES)
    return tf_seal_chunk(w, 0);
  return 0;
}

int tf_writer_finish(struct tf_writer *w, uint8_t file_hash[32]) {
  unsigned int len = 0;
  int r = tf_seal_chunk(w, 1);
  if (r == 0 && (EVP_DigestFinal_ex(w->sha, file_hash, &len) != 1 || len != 32))
    r = CDR_ERR_CRYPTO;
  return r;
}

void tf_writer_free(struct tf_writer *w) {
  cdr_buf_free(&w->rows);
  EVP_MD_CTX_free(w->sha);
  OPENSSL_cleanse(w, sizeof(*w));
}

int tf_reader_init(struct tf_reader *rd, const uint8_t key[32], const char *table_id, size_t ncols, tf_row_fn row,
                   void *ctx) {
  memset(rd, 0, sizeof(*rd));
  if (!tf_valid_id(table_id) || ncols == 0)
    return CDR_ERR_ARG;
  memcpy(rd->key, key, 32);
  memcpy(rd->id, table_id, 33);
  rd->ncols = ncols;
  rd->row = row;
  rd->ctx = ctx;
  cdr_buf_init(&rd->pending, TABLEFILE_MAX_CHUNK + 4, 0);
  if ((rd->sha = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex2(rd->sha, EVP_sha256(), NULL) != 1)
    return CDR_ERR_CRYPTO;
  return 0;
}

/* Decode the rows of one opened chunk and hand them out. */
static int tf_rows(struct tf_reader *rd, const uint8_t *p, size_t n) {
  struct cdr_buf b;
  struct tf_value vals[64], *v = vals;
  uint32_t nrows;
  int r;
  cdr_buf_view(&b, p, n);
  if (rd->ncols > sizeof(vals) / sizeof(vals[0]) && (v = OPENSSL_malloc(rd->ncols * sizeof(*v))) == NULL)
    return CDR_ERR_NOMEM;
  if ((r = cdr_buf_get_u32(&b, &nrows)) != 0)
    goto out;
  for (uint32_t i = 0; i < nrows; i++) {
    for (size_t c = 0; c < rd->ncols; c++) {
      uint64_t u;
      memset(&v[c], 0, sizeof(v[c]));
      if ((r = cdr_buf_get_u8(&b, &v[c].type)) != 0)
        goto out;
      switch (v[c].type) {
      case TF_NULL: break;
      case TF_INT:
        r = cdr_buf_get_u64(&b, &u);
        v[c].i = (int64_t)u;
        break;
      case TF_REAL:
        r = cdr_buf_get_u64(&b, &u);
        memcpy(&v[c].d, &u, 8);
        break;
      case TF_TEXT:
      case TF_BLOB: r = cdr_buf_get_lp(&b, &v[c].p, &v[c].n, TABLEFILE_MAX_CHUNK); break;
      default: r = CDR_ERR_TRUNCATED;
      }
      if (r != 0)
        goto out;
    }
    if ((r = rd->row(rd->ctx, v, rd->ncols)) != 0)
      goto out;
    rd->rows_total++;
  }
  r = cdr_buf_expect_end(&b);
out:
  if (v != vals)
    OPENSSL_free(v);
  return r;
}

int tf_reader_feed(struct tf_reader *rd, const uint8_t *p, size_t n) {
  int r;
  if (n == 0)
    return 0;
  if (rd->done)
    return CDR_ERR_TRUNCATED; /* bytes after the last chunk */
  if (EVP_DigestUpdate(rd->sha, p, n) != 1)
    return CDR_ERR_CRYPTO;
  while (n > 0) {
    /* Gather the 4-byte length, then the chunk. */
    size_t have = rd->pending.len, need;
    if (have < 4) {
      need = 4 - have;
    } else {
      uint32_t len = (uint32_t)rd->pending.d[0] << 24 | (uint32_t)rd->pending.d[1] << 16 |
                     (uint32_t)rd->pending.d[2] << 8 | rd->pending.d[3];
      if (len < 1 + 16 || len > TABLEFILE_MAX_CHUNK)
        return CDR_ERR_TRUNCATED;
      need = 4 + (size_t)len - have;
    }
    size_t take = n < need ? n : need;
    if ((r = cdr_buf_put(&rd->pending, p, take)) != 0)
      return r;
    p += take;
    n -= take;
    if (take < need || rd->pending.len < 4 || rd->pending.len == 4)
      continue;
    /* A whole chunk: its last flag is in clear and authenticated. */
    struct cdr_buf aad, pt;
    uint8_t nonce[12], last = rd->pending.d[4];
    if (last > 1)
      return CDR_ERR_TRUNCATED;
    tf_nonce(nonce, rd->index);
    cdr_buf_init(&aad, 256, 0);
    cdr_buf_init(&pt, TABLEFILE_MAX_CHUNK, 0);
    if ((r = tf_aad(&aad, rd->id, rd->index, last)) == 0)
      r = cdr_aead_open(&pt, rd->key, nonce, aad.d, aad.len, rd->pending.d + 5, rd->pending.len - 5);
    if (r == 0)
      r = tf_rows(rd, pt.d, pt.len);
    cdr_buf_free(&aad);
    cdr_buf_free(&pt);
    if (r != 0)
      return r;
    rd->done = last;
    rd->index++;
    cdr_buf_free(&rd->pending);
    if (rd->done && n > 0)
      return CDR_ERR_TRUNCATED;
  }
  return 0;
}

int tf_reader_finish(struct tf_reader *rd, uint8_t file_hash[32]) {
  unsigned int len = 0;
  if (!rd->done || rd->pending.len != 0)
    return CDR_ERR_TRUNCATED;
  return EVP_DigestFinal_ex(rd->sha, file_hash, &len) == 1 && len == 32 ? 0 : CDR_ERR_CRYPTO;
}

void tf_reader_free(struct tf_reader *rd) {
  cdr_buf_free(&rd->pending);
  EVP_MD_CTX_free(rd->sha);
  OPENSSL_cleanse(rd, sizeof(*rd));
}
