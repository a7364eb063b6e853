/*
 * upload.c - streamed uploads from the client side (PROTOCOL 4.7:
 * upload_begin, upload_chunk, upload_commit, upload_abort), see
 * client.h.
 *
 * Memory is flat whatever the file's size: one chunk buffer
 * (CDR_UPLOAD_CHUNK_DEFAULT), the request built from it (plaintext,
 * ciphertext, base64 body, each freed after the request), and the CSV
 * parser's one record during pass 1.  Sizes are 64-bit throughout.
 *
 * The schema the client sends is the one the enclave enforces: inferred
 * here with the same code (src/common/csv.c) over the same bytes, so a
 * file that passes pass 1 loads; a file changed between the passes is
 * caught by the enclave (a value that does not fit, or a header that
 * does not match) or by the size and hash of pass 2.
 *
 * Chunk buffers held file data and are wiped before they are freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "client_int.h"
#include "common/csv.h"
#include "common/json_get.h"
#include "common/util.h"

/* ---- the four operations ---- */

int cdr_client_upload_begin(struct cdr_client *c, struct cdr_session *s, const char *table, int replace,
                            const struct csv_schema *schema, uint64_t bytes, char id[CDR_UPLOAD_ID_LEN + 1]) {
  json_t *h = NULL, *cols = NULL, *res = NULL;
  const char *got;
  uint8_t raw[CDR_UPLOAD_ID_LEN / 2];
  int r;

  id[0] = '\0';
  if (bytes > (uint64_t)INT64_MAX) {
    cdr_client_set_detail(c, "the file is too large");
    return CDR_ERR_TOO_LARGE;
  }
  if ((cols = json_array()) == NULL)
    return CDR_ERR_NOMEM;
  for (size_t i = 0; schema != NULL && i < schema->ncols; i++) {
    if (json_array_append_new(cols, json_pack("{s:s,s:s}", "name", schema->names[i], "type",
                                              csv_type_name(schema->types[i]))) != 0) {
      json_decref(cols);
      cdr_client_set_detail(c, "column name %zu is not valid UTF-8", i + 1);
      return CDR_ERR_ARG;
    }
  }
  h = json_pack("{s:s,s:s,s:b,s:o,s:I}", "op", "upload_begin", "table", table, "replace", replace != 0, "schema", cols,
                "bytes", (json_int_t)bytes);
  if (h == NULL) {
    cdr_client_set_detail(c, "the table name is not valid UTF-8");
    return CDR_ERR_ARG;
  }
  r = cdr_client_op(c, s, h, &res);
  json_decref(h);
  if (r != 0)
    return r;
  got = cdr_json_string(res, "upload");
  if (got == NULL || strlen(got) != CDR_UPLOAD_ID_LEN || cdr_hex_decode(raw, sizeof(raw), got) != 0) {
    json_decref(res);
    cdr_client_set_detail(c, "the enclave's answer to upload_begin carries no upload id");
    return CDR_ERR_SERVER;
  }
  memcpy(id, got, CDR_UPLOAD_ID_LEN + 1);
  json_decref(res);
  return 0;
}

int cdr_client_upload_chunk(struct cdr_client *c, struct cdr_session *s, const char *id, uint64_t index,
                            const void *data, size_t len, uint64_t *received) {
  json_t *h, *res = NULL;
  char *hdr;
  uint64_t got = 0;
  int r;

  if (received != NULL)
    *received = 0;
  if ((h = json_pack("{s:s,s:s,s:I}", "op", "upload_chunk", "upload", id, "index", (json_int_t)index)) == NULL ||
      (hdr = cj_dump(h)) == NULL) {
    json_decref(h);
    cdr_client_set_detail(c, "the upload id is not valid UTF-8");
    return CDR_ERR_ARG;
  }
  json_decref(h);
  r = cdr_client_request(c, s, hdr, data, len, &res);
  cdr_json_text_free(hdr);
  if (r != 0)
    return r;
  if (cdr_json_get_u64(res, "received", &got) != 0) {
    json_decref(res);
    cdr_client_set_detail(c, "the enclave's answer to upload_chunk does not say what it received");
    return CDR_ERR_SERVER;
  }
  json_decref(res);
  if (received != NULL)
    *received = got;
  return 0;
}

int cdr_client_upload_commit(struct cdr_client *c, struct cdr_session *s, const char *id, uint64_t chunks,
                             uint64_t bytes, const uint8_t sha256[32], json_t **result) {
  char hex[65];
  json_t *h;
  int r;
  *result = NULL;
  cdr_hex_encode(hex, sha256, 32);
  if ((h = json_pack("{s:s,s:s,s:I,s:I,s:s}", "op", "upload_commit", "upload", id, "chunks", (json_int_t)chunks,
                     "bytes", (json_int_t)bytes, "sha256", hex)) == NULL) {
    cdr_client_set_detail(c, "the upload id is not valid UTF-8");
    return CDR_ERR_ARG;
  }
  r = cdr_client_op(c, s, h, result);
  json_decref(h);
  return r;
}

int cdr_client_upload_abort(struct cdr_client *c, struct cdr_session *s, const char *id) {
  json_t *h, *res = NULL;
  int r;
  if ((h = json_pack("{s:s,s:s}", "op", "upload_abort", "upload", id)) == NULL) {
    cdr_client_set_detail(c, "the upload id is not valid UTF-8");
    return CDR_ERR_ARG;
  }
  r = cdr_client_op(c, s, h, &res);
  json_decref(h);
  json_decref(res);
  return r;
}

/* ---- reading the file ---- */

/* Read up to n bytes into buf, looping over short reads and EINTR; *got
 * is fewer than n only at the end of the file.  Unlike common's
 * cdr_read_full (exactly n bytes, end of file an error), the end of the
 * file is how a file being streamed ends.  0 or CDR_ERR_IO. */
static int upload_read_chunk(int fd, uint8_t *buf, size_t n, size_t *got) {
  size_t k = 0;
  while (k < n) {
    ssize_t m = read(fd, buf + k, n - k);
    if (m < 0 && errno == EINTR)
      continue;
    if (m < 0)
      return CDR_ERR_IO;
    if (m == 0)
      break;
    k += (size_t)m;
  }
  *got = k;
  return 0;
}

/* csv_record_fn that stops the parser at the header (return 1). */
struct header_check {
  const struct csv_schema *schema;
  int seen;
  int rc;
  char err[CDR_MAX_ERROR_MSG];
};

static int header_record(void *arg, const struct csv_record *rec) {
  struct header_check *h = arg;
  h->seen = 1;
  h->rc = csv_schema_match_header(h->schema, rec, h->err, sizeof(h->err));
  return 1;
}

/* Pass 1: infer the schema (schema == NULL: into *inferred) or check the
 * header against the declared one.  Reads from the start of fd. */
static int pass1(struct cdr_client *c, int fd, uint8_t *buf, size_t chunk, uint64_t size,
                 const struct csv_schema *schema, struct csv_schema *inferred, cdr_upload_progress_fn progress,
                 void *ctx) {
  struct csv_infer *inf = NULL;
  struct csv_parser *p = NULL;
  struct header_check hc;
  uint64_t done = 0;
  size_t n;
  int r;

  memset(&hc, 0, sizeof(hc));
  hc.schema = schema;
  if (schema == NULL ? (r = csv_infer_new(&inf)) != 0 : (r = csv_parser_new(&p, header_record, &hc)) != 0)
    goto out;
  for (;;) {
    if ((r = upload_read_chunk(fd, buf, chunk, &n)) != 0) {
      cdr_client_set_detail(c, "cannot read the file: %s", strerror(errno));
      goto out;
    }
    if (n == 0)
      break;
    done += n;
    if (inf != NULL) {
      r = csv_infer_feed(inf, buf, n);
    } else {
      r = csv_parser_feed(p, buf, n);
      if (hc.seen)
        break; /* the header is all a declared schema needs */
    }
    if (r != 0)
      break;
    if (progress != NULL)
      progress(ctx, 0, done, size);
  }
  if (inf != NULL) {
    if (r == 0)
      r = csv_infer_finish(inf, inferred);
    if (r == CDR_ERR_CSV)
      cdr_client_set_detail(c, "%s", csv_infer_error(inf));
  } else {
    if (r == 0 && !hc.seen)
      r = csv_parser_finish(p);
    if (hc.seen)
      r = hc.rc;
    if (r == CDR_ERR_CSV)
      cdr_client_set_detail(c, "%s", hc.seen ? hc.err : csv_parser_error(p));
  }
out:
  csv_infer_free(inf);
  csv_parser_free(p);
  return r;
}

int cdr_client_upload_stream(struct cdr_client *c, struct cdr_session *s, const char *table, const char *path,
                             const struct cdr_upload_opts *opts, cdr_upload_progress_fn progress, void *ctx,
                             json_t **result) {
  struct csv_schema inferred;
  const struct csv_schema *schema = opts != NULL ? opts->schema : NULL;
  size_t chunk = opts != NULL && opts->chunk_size != 0 ? opts->chunk_size : CDR_UPLOAD_CHUNK_DEFAULT;
  EVP_MD_CTX *sha = NULL;
  uint8_t *buf = NULL, digest[32];
  char id[CDR_UPLOAD_ID_LEN + 1] = "";
  uint64_t size, sent = 0, index = 0, received = 0;
  struct stat st;
  size_t n;
  int fd = -1, r, begun = 0;

  *result = NULL;
  memset(&inferred, 0, sizeof(inferred));
  cdr_client_clear_error(c);
  if (chunk > CDR_UPLOAD_CHUNK_MAX) {
    cdr_client_set_detail(c, "a chunk carries at most %u bytes", CDR_UPLOAD_CHUNK_MAX);
    return CDR_ERR_ARG;
  }
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    cdr_client_set_detail(c, "cannot open %s: %s", path, strerror(errno));
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    cdr_client_set_detail(c, "%s is not a regular file", path);
    r = CDR_ERR_ARG;
    goto out;
  }
  size = (uint64_t)st.st_size;
  if (size == 0) {
    cdr_client_set_detail(c, "line 1: no header row (the CSV is empty)");
    r = CDR_ERR_CSV;
    goto out;
  }
  if (size > CDR_MAX_UPLOAD_TOTAL) {
    cdr_client_set_detail(c, "the file is %llu bytes; an upload is at most %llu", (unsigned long long)size,
                          (unsigned long long)CDR_MAX_UPLOAD_TOTAL);
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  if ((buf = malloc(chunk)) == NULL || (sha = EVP_MD_CTX_new()) == NULL ||
      EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
    r = CDR_ERR_NOMEM;
    goto out;
  }

  /* Pass 1: the schema. */
  if ((r = pass1(c, fd, buf, chunk, size, schema, &inferred, progress, ctx)) != 0)
    goto out;
  if (schema == NULL)
    schema = &inferred;
  if (lseek(fd, 0, SEEK_SET) != 0) {
    cdr_client_set_detail(c, "cannot read %s again: %s", path, strerror(errno));
    r = CDR_ERR_IO;
    goto out;
  }

  /* Pass 2: the bytes. */
  if ((r = cdr_client_upload_begin(c, s, table, opts != NULL && opts->replace, schema, size, id)) != 0)
    goto out;
  begun = 1;
  if (progress != NULL)
    progress(ctx, 1, 0, size);
  for (;;) {
    if ((r = upload_read_chunk(fd, buf, chunk, &n)) != 0) {
      cdr_client_set_detail(c, "cannot read %s: %s", path, strerror(errno));
      goto out;
    }
    if (n == 0)
      break;
    if (n > size - sent) {
      cdr_client_set_detail(c, "%s grew while it was being uploaded", path);
      r = CDR_ERR_IO;
      goto out;
    }
    if (EVP_DigestUpdate(sha, buf, n) != 1) {
      r = CDR_ERR_CRYPTO;
      goto out;
    }
    if ((r = cdr_client_upload_chunk(c, s, id, index, buf, n, &received)) != 0) {
      begun = 0; /* the enclave dropped it */
      goto out;
    }
    index++;
    sent += n;
    if (received != sent) {
      cdr_client_set_detail(c, "the enclave holds %llu bytes after %llu were sent", (unsigned long long)received,
                            (unsigned long long)sent);
      r = CDR_ERR_SERVER;
      goto out;
    }
    if (progress != NULL)
      progress(ctx, 1, sent, size);
  }
  if (sent != size) {
    cdr_client_set_detail(c, "%s shrank while it was being uploaded", path);
    r = CDR_ERR_IO;
    goto out;
  }
  if (EVP_DigestFinal_ex(sha, digest, NULL) != 1) {
    r = CDR_ERR_CRYPTO;
    goto out;
  }
  begun = 0; /* the commit ends the upload, whatever its answer */
  r = cdr_client_upload_commit(c, s, id, index, size, digest, result);
out:
  if (begun) {
    /* A local failure: tell the enclave to drop what it holds now
     * rather than when the session ends.  Keep the first error's text. */
    char keep[sizeof(c->detail)];
    memcpy(keep, c->detail, sizeof(keep));
    if (cdr_client_upload_abort(c, s, id) != 0) {
      /* best effort: the enclave drops it when the session ends */
    }
    cdr_client_clear_error(c);
    memcpy(c->detail, keep, sizeof(keep));
  }
  if (buf != NULL)
    OPENSSL_clear_free(buf, chunk);
  EVP_MD_CTX_free(sha);
  csv_schema_free(&inferred);
  if (fd >= 0)
    close(fd);
  return r;
}
