/*
 * test_tablefile.c - sealed table files: rows of every type round-trip
 * through many chunks, fed back in pieces of any size; each misuse fails
 * with its error: a flipped bit, a dropped, swapped or duplicated chunk,
 * truncation, bytes after the end, another table's id or key.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "enclave/tablefile.h"
#include "testlib.h"

#define ID "00112233445566778899aabbccddeeff"
#define NROWS 30000

static struct cdr_buf file;
static size_t chunk_starts[64], nchunks;

static int collect(void *ctx, const uint8_t *chunk, size_t len) {
  if (nchunks < 64)
    chunk_starts[nchunks++] = file.len;
  return cdr_buf_put(&file, chunk, len);
}

struct check_state {
  uint64_t seen;
  int bad;
};

static int check_row(void *ctx, const struct tf_value *v, size_t ncols) {
  struct check_state *cs = ctx;
  uint64_t i = cs->seen++;
  if (ncols != 4 || v[0].type != TF_INT || v[0].i != (int64_t)i - 5000 || v[1].type != TF_REAL ||
      v[1].d != (double)i / 3.0 || (i % 5 == 0 ? v[2].type != TF_NULL : v[2].type != TF_TEXT || v[2].n != 40) ||
      v[3].type != TF_BLOB || v[3].n != 3)
    cs->bad = 1;
  return 0;
}

static int read_all(const uint8_t *key, const char *id, const uint8_t *p, size_t n, size_t piece, uint64_t *rows,
                    uint8_t hash[32]) {
  struct tf_reader rd;
  struct check_state cs = {0, 0};
  int r = tf_reader_init(&rd, key, id, 4, check_row, &cs);
  for (size_t off = 0; r == 0 && off < n; off += piece)
    r = tf_reader_feed(&rd, p + off, n - off < piece ? n - off : piece);
  if (r == 0)
    r = tf_reader_finish(&rd, hash);
  if (r == 0 && cs.bad)
    r = CDR_ERR_INTERNAL;
  *rows = cs.seen;
  tf_reader_free(&rd);
  return r;
}

int main(void) {
  uint8_t key[32], other_key[32], hash[32], rhash[32];
  struct tf_writer w;
  char text[41];
  uint64_t rows;
  memset(text, 'x', 40);
  text[40] = '\0';
  CHECK_RC(cdr_random(key, 32), 0);
  memcpy(other_key, key, 32);
  other_key[0] ^= 1;
  cdr_buf_init(&file, 1u << 28, 0);
  CHECK_RC(tf_writer_init(&w, key, ID, 4, collect, NULL), 0);
  for (uint64_t i = 0; i < NROWS; i++) {
    struct tf_value v[4] = {{.type = TF_INT, .i = (int64_t)i - 5000},
                            {.type = TF_REAL, .d = (double)i / 3.0},
                            {.type = i % 5 == 0 ? TF_NULL : TF_TEXT, .p = (const uint8_t *)text, .n = 40},
                            {.type = TF_BLOB, .p = (const uint8_t *)"\0\1\2", .n = 3}};
    if (tf_writer_row(&w, v) != 0)
      abort();
  }
  CHECK_RC(tf_writer_finish(&w, hash), 0);
  tf_writer_free(&w);
  CHECK(nchunks >= 2);
  CHECK(memmem(file.d, file.len, text, 40) == NULL);

  size_t pieces[] = {1, 7, 4096, 1u << 20, file.len};
  for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
    if (k == 0 && file.len > 200000)
      continue; /* byte by byte over megabytes is slow; 7 covers odd splits */
    CHECK_RC(read_all(key, ID, file.d, file.len, pieces[k], &rows, rhash), 0);
    CHECK(rows == NROWS && memcmp(hash, rhash, 32) == 0);
  }
  /* Misuse. */
  CHECK_RC(read_all(other_key, ID, file.d, file.len, file.len, &rows, rhash), CDR_ERR_DECRYPT);
  CHECK_RC(read_all(key, "ffffffffffffffffffffffffffffffff", file.d, file.len, file.len, &rows, rhash),
           CDR_ERR_DECRYPT);
  file.d[chunk_starts[1] + 100] ^= 0x10;
  CHECK_RC(read_all(key, ID, file.d, file.len, 4096, &rows, rhash), CDR_ERR_DECRYPT);
  file.d[chunk_starts[1] + 100] ^= 0x10;
  /* Truncated at the end of the first chunk: no last chunk seen. */
  CHECK_RC(read_all(key, ID, file.d, chunk_starts[1], 4096, &rows, rhash), CDR_ERR_TRUNCATED);
  /* Truncated in the middle of a chunk. */
  CHECK_RC(read_all(key, ID, file.d, chunk_starts[1] + 10, 4096, &rows, rhash), CDR_ERR_TRUNCATED);
  /* The last flag is authenticated: a middle chunk relabelled as last. */
  file.d[chunk_starts[0] + 4] = 1;
  CHECK_RC(read_all(key, ID, file.d, file.len, file.len, &rows, rhash), CDR_ERR_DECRYPT);
  file.d[chunk_starts[0] + 4] = 0;
  /* Chunk 0 dropped: chunk 1 is read at index 0. */
  CHECK_RC(read_all(key, ID, file.d + chunk_starts[1], file.len - chunk_starts[1], 4096, &rows, rhash),
           CDR_ERR_DECRYPT);
  /* A duplicated chunk. */
  {
    struct cdr_buf dup;
    cdr_buf_init(&dup, 1u << 28, 0);
    CHECK_RC(cdr_buf_put(&dup, file.d, chunk_starts[1]), 0);
    CHECK_RC(cdr_buf_put(&dup, file.d, file.len), 0);
    CHECK_RC(read_all(key, ID, dup.d, dup.len, 4096, &rows, rhash), CDR_ERR_DECRYPT);
    cdr_buf_free(&dup);
  }
  /* Bytes after the last chunk. */
  CHECK_RC(cdr_buf_put(&file, "x", 1), 0);
  CHECK_RC(read_all(key, ID, file.d, file.len, 4096, &rows, rhash), CDR_ERR_TRUNCATED);
  cdr_buf_free(&file);
  return test_summary("test_tablefile");
}
