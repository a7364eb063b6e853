/*
 * tablefile.h - the sealed file format of one table's rows
 * (docs/design/persistence.md).
 *
 *   file  = chunk* ; the last chunk has last = 1 (it may hold no rows)
 *   chunk = u32be len || u8 last || AES-256-GCM(key, nonce = u32be(0) || u64be(index),
 *                        aad = lp("CDR-v1 table") || lp(table id) || u64be(index) || u8(last),
 *                        rows)          (len counts the last byte and the ciphertext)
 *   rows  = u32be nrows || nrows x (ncols x value)
 *   value = u8 0 (NULL) | u8 1 || i64be | u8 2 || f64 bits be | u8 3 || lp(text) | u8 4 || lp(blob)
 *
 * Each table version has its own random key and id, so a chunk cannot
 * move between tables or versions; the index catches reordering and
 * dropping, the last flag truncation, and the reader refuses any byte
 * after the last chunk.  The writer hands out sealed chunks through a
 * callback as they fill (flat memory for any table size); the reader
 * accepts the file in pieces of any size.
 */
#ifndef CDR_TABLEFILE_H
#define CDR_TABLEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define TABLEFILE_CHUNK_ROWS_BYTES (1u << 20) /* seal a chunk once its rows pass 1 MiB */
#define TABLEFILE_MAX_CHUNK (64u << 20)       /* a reader refuses larger chunks */

enum tf_type { TF_NULL = 0, TF_INT = 1, TF_REAL = 2, TF_TEXT = 3, TF_BLOB = 4 };

struct tf_value {
  uint8_t type;
  int64_t i;
  double d;
  const uint8_t *p; /* TEXT / BLOB bytes */
  size_t n;
};

/* Receives each sealed chunk (u32 len prefix included). */
typedef int (*tf_emit_fn)(void *ctx, const uint8_t *chunk, size_t len);
/* Receives each row of ncols values (valid only during the call). */
typedef int (*tf_row_fn)(void *ctx, const struct tf_value *vals, size_t ncols);

struct tf_writer {
  uint8_t key[32];
  char id[33];
  size_t ncols;
  uint64_t index, nrows_chunk, rows_total;
  struct cdr_buf rows;
  tf_emit_fn emit;
  void *ctx;
  void *sha; /* running SHA-256 of the file (EVP_MD_CTX) */
};

int tf_writer_init(struct tf_writer *w, const uint8_t key[32], const char *table_id, size_t ncols, tf_emit_fn emit,
                   void *ctx) CDR_WUR;
int tf_writer_row(struct tf_writer *w, const struct tf_value *vals) CDR_WUR;
/* Seal the last chunk; *file_hash gets SHA-256 of the whole file. */
int tf_writer_finish(struct tf_writer *w, uint8_t file_hash[32]) CDR_WUR;
void tf_writer_free(struct tf_writer *w);

struct tf_reader {
  uint8_t key[32];
  char id[33];
  size_t ncols;
  uint64_t index, rows_total;
  int done; /* the last chunk was read */
  struct cdr_buf pending; /* bytes of an incomplete chunk */
  tf_row_fn row;
  void *ctx;
  void *sha;
};

int tf_reader_init(struct tf_reader *rd, const uint8_t key[32], const char *table_id, size_t ncols, tf_row_fn row,
                   void *ctx) CDR_WUR;
/* Feed the next bytes of the file.  CDR_ERR_DECRYPT for a chunk that
 * fails authentication (tampered, reordered, from another table),
 * CDR_ERR_TRUNCATED for bad framing, rows of the wrong shape or bytes
 * after the last chunk, or the row callback's error. */
int tf_reader_feed(struct tf_reader *rd, const uint8_t *p, size_t n) CDR_WUR;
/* The file ended: CDR_ERR_TRUNCATED unless the last chunk was read and
 * nothing is pending; *file_hash gets SHA-256 of what was fed. */
int tf_reader_finish(struct tf_reader *rd, uint8_t file_hash[32]) CDR_WUR;
void tf_reader_free(struct tf_reader *rd);

#endif
