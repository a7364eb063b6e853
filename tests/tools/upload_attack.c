/*
 * upload_attack.c - attacks on the order and completeness of a streamed
 * upload (PROTOCOL 4.7), through the client library that `cdr` uses, in
 * sessions of its own with a live server.  Each attack expects its own
 * error, and afterwards that no table (and no part of one) exists.
 *
 *   upload_attack URL CA KEY CERT
 *
 * KEY/CERT: an enrolled provider of the room.  Tables called ua_* must
 * not exist.  Prints "ok - ..." / "FAIL - ..." per check and
 * "N passed, N failed".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/csv.h"
#include "common/util.h"
#include "crypto/crypto.h"

static int passed, failed;

static void result(int ok, const char *what, const struct cdr_client *c, int r) {
  if (ok) {
    passed++;
    printf("ok - %s\n", what);
  } else {
    failed++;
    printf("FAIL - %s (r=%s, http=%ld, remote=%s: %s, detail=%s)\n", what, cdr_err_code(r), c->http_status,
           c->remote_code, c->remote_message, c->detail);
  }
}

static const char CSV[] = "id,name\n1,alpha\n2,beta\n3,gamma\n4,delta\n";
#define PART 16 /* the CSV goes in chunks of this many bytes */

static struct csv_schema schema;

/* The table does not exist (the query fails with access_denied, "no such table": PROTOCOL 4.7). */
static int absent(struct cdr_client *c, struct cdr_session *s, const char *table) {
  char sql[128];
  json_t *res = NULL;
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
  int r = cdr_client_query(c, s, sql, &res);
  json_decref(res);
  return r == CDR_ERR_ACCESS_DENIED && strstr(c->remote_message, "no such table") != NULL;
}

static int chunk(struct cdr_client *c, struct cdr_session *s, const char *id, uint64_t index) {
  size_t off = (size_t)index * PART, len = sizeof(CSV) - 1;
  if (off >= len)
    off = 0;
  return cdr_client_upload_chunk(c, s, id, index, CSV + off, len - off < PART ? len - off : PART, NULL);
}

static int code_is(const struct cdr_client *c, int r, int want, const char *wire) {
  return r == want && strcmp(c->remote_code, wire) == 0 && c->remote_sealed;
}

int main(int argc, char **argv) {
  struct cdr_client *c = NULL;
  struct cdr_attestation att;
  struct cdr_session *s = NULL, *s2 = NULL;
  char id[CDR_UPLOAD_ID_LEN + 1], why[128];
  uint8_t sha[32], wrong[32], part_sha[32];
  size_t len = sizeof(CSV) - 1, nchunks = (len + PART - 1) / PART;
  json_t *res = NULL;
  int r;

  if (argc != 5) {
    fprintf(stderr, "usage: upload_attack URL CA KEY CERT\n");
    return 2;
  }
  memset(&att, 0, sizeof(att));
  if (cdr_client_new(&c, argv[1]) != 0 || cdr_client_set_ca_file(c, argv[2]) != 0 ||
      cdr_client_load_user(c, argv[3], argv[4]) != 0 || csv_schema_parse(&schema, "id INTEGER, name TEXT", why,
                                                                          sizeof(why)) != 0) {
    fprintf(stderr, "upload_attack: cannot set up the client\n");
    return 2;
  }
  cdr_client_allow_sim(c, 1);
  if ((r = cdr_client_attest(c, &att)) != 0 || (r = cdr_session_open(c, &att, &s)) != 0 ||
      (r = cdr_session_open(c, &att, &s2)) != 0) {
    fprintf(stderr, "upload_attack: attestation or session failed: %s %s\n", cdr_err_code(r), c->detail);
    return 2;
  }
  if (cdr_sha256(sha, CSV, len) != 0 || cdr_sha256(part_sha, CSV, PART) != 0)
    return 2;
  memcpy(wrong, sha, sizeof(wrong));
  wrong[31] ^= 1;

  /* 1. A skipped chunk. */
  r = cdr_client_upload_begin(c, s, "ua_skip", 0, &schema, len, id);
  r = r ? r : chunk(c, s, id, 0);
  r = r ? r : chunk(c, s, id, 2);
  result(code_is(c, r, CDR_ERR_UPLOAD_SEQUENCE, "upload_out_of_sequence") && strstr(c->remote_message, "chunk 1 is missing"),
         "a skipped chunk is refused (upload_out_of_sequence: chunk 1 is missing)", c, r);
  r = chunk(c, s, id, 1);
  result(code_is(c, r, CDR_ERR_NOT_FOUND, "not_found"), "the upload is gone: the missing chunk comes too late", c, r);
  result(absent(c, s, "ua_skip"), "no table after a skipped chunk", c, 0);

  /* 2. A duplicated chunk. */
  r = cdr_client_upload_begin(c, s, "ua_dup", 0, &schema, len, id);
  r = r ? r : chunk(c, s, id, 0);
  r = r ? r : chunk(c, s, id, 1);
  r = r ? r : chunk(c, s, id, 1);
  result(code_is(c, r, CDR_ERR_UPLOAD_SEQUENCE, "upload_out_of_sequence") &&
             strstr(c->remote_message, "chunk 1 was already received"),
         "a repeated chunk is refused (upload_out_of_sequence)", c, r);
  result(absent(c, s, "ua_dup"), "no table after a repeated chunk", c, 0);

  /* 3. Reordered chunks. */
  r = cdr_client_upload_begin(c, s, "ua_order", 0, &schema, len, id);
  r = r ? r : chunk(c, s, id, 1);
  result(code_is(c, r, CDR_ERR_UPLOAD_SEQUENCE, "upload_out_of_sequence") && strstr(c->remote_message, "chunk 0 is missing"),
         "chunks out of order are refused (upload_out_of_sequence)", c, r);
  result(absent(c, s, "ua_order"), "no table after reordered chunks", c, 0);

  /* 4. A truncated stream, committed as if it were whole. */
  r = cdr_client_upload_begin(c, s, "ua_trunc", 0, &schema, len, id);
  r = r ? r : chunk(c, s, id, 0);
  r = r ? r : cdr_client_upload_commit(c, s, id, 1, PART, part_sha, &res);
  json_decref(res);
  res = NULL;
  result(code_is(c, r, CDR_ERR_UPLOAD_MISMATCH, "upload_mismatch"), "a truncated stream cannot be committed (upload_mismatch)",
         c, r);
  result(absent(c, s, "ua_trunc"), "no table after a truncated stream", c, 0);

  /* 5. Every chunk, then a wrong hash; then a wrong count. */
  for (int k = 0; k < 2; k++) {
    const char *table = k == 0 ? "ua_hash" : "ua_count";
    r = cdr_client_upload_begin(c, s, table, 0, &schema, len, id);
    for (uint64_t i = 0; r == 0 && i < nchunks; i++)
      r = chunk(c, s, id, i);
    r = r ? r : cdr_client_upload_commit(c, s, id, k == 0 ? nchunks : nchunks + 1, len, k == 0 ? wrong : sha, &res);
    json_decref(res);
    res = NULL;
    result(code_is(c, r, CDR_ERR_UPLOAD_MISMATCH, "upload_mismatch"),
           k == 0 ? "a commit with the wrong SHA-256 is refused (upload_mismatch)"
                  : "a commit with the wrong chunk count is refused (upload_mismatch)",
           c, r);
    result(absent(c, s, table), k == 0 ? "no table after a wrong hash" : "no table after a wrong count", c, 0);
  }

  /* 6. Another session cannot feed, commit or abort this session's
   * upload; this one goes on and completes. */
  r = cdr_client_upload_begin(c, s, "ua_cross", 0, &schema, len, id);
  r = r ? r : chunk(c, s, id, 0);
  int r2 = cdr_client_upload_chunk(c, s2, id, 1, "9,mallory\n", 10, NULL);
  result(code_is(c, r2, CDR_ERR_NOT_FOUND, "not_found"), "another session's chunk for this upload is refused (not_found)",
         c, r2);
  r2 = cdr_client_upload_abort(c, s2, id);
  result(code_is(c, r2, CDR_ERR_NOT_FOUND, "not_found"), "another session cannot abort it", c, r2);
  for (uint64_t i = 1; r == 0 && i < nchunks; i++)
    r = chunk(c, s, id, i);
  r = r ? r : cdr_client_upload_commit(c, s, id, nchunks, len, sha, &res);
  result(r == 0 && json_integer_value(json_object_get(res, "rows")) == 4,
         "the session's own upload completes untouched (4 rows)", c, r);
  json_decref(res);
  res = NULL;

  /* 7. While an upload is in progress its staging table cannot be read,
   * whatever it is called. */
  r = cdr_client_upload_begin(c, s, "ua_peek", 0, &schema, len, id);
  r = r ? r : chunk(c, s, id, 0);
  result(r == 0, "an upload is in progress", c, r);
  int leaked = 0;
  for (int n = 1; n <= 64; n++) {
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT * FROM \"cdr-upload-%d\"", n);
    if (cdr_client_query(c, s2, sql, &res) == 0)
      leaked = 1;
    json_decref(res);
    res = NULL;
  }
  result(!leaked, "no query reads a staging table (cdr-upload-1..64 all refused)", c, 0);
  result(absent(c, s2, "ua_peek"), "the table being uploaded does not exist yet", c, 0);

  /* 8. Abort. */
  r = cdr_client_upload_abort(c, s, id);
  result(r == 0, "upload_abort is accepted", c, r);
  r = chunk(c, s, id, 1);
  result(code_is(c, r, CDR_ERR_NOT_FOUND, "not_found"), "an aborted upload takes no more chunks", c, r);
  result(absent(c, s, "ua_peek"), "no table after an abort", c, 0);

  /* 9. Two uploads in one session: both cancelled. */
  r = cdr_client_upload_begin(c, s, "ua_one", 0, &schema, len, id);
  char id2[CDR_UPLOAD_ID_LEN + 1];
  r = r ? r : cdr_client_upload_begin(c, s, "ua_two", 0, &schema, len, id2);
  result(code_is(c, r, CDR_ERR_BUSY, "busy"), "a second upload in the same session is refused (busy)", c, r);
  r = chunk(c, s, id, 0);
  result(code_is(c, r, CDR_ERR_NOT_FOUND, "not_found"), "and the first one is cancelled with it", c, r);

  /* 10. A chunk larger than the protocol allows. */
  {
    size_t n = CDR_UPLOAD_CHUNK_MAX + 1;
    char *big = malloc(n);
    if (big != NULL) {
      memset(big, '1', n);
      r = cdr_client_upload_begin(c, s, "ua_big", 0, &schema, 2 * (uint64_t)n, id);
      r = r ? r : cdr_client_upload_chunk(c, s, id, 0, big, n, NULL);
      result(code_is(c, r, CDR_ERR_TOO_LARGE, "too_large"), "a chunk over 4 MiB is refused (too_large)", c, r);
      free(big);
    }
  }

  cdr_session_free(s);
  cdr_session_free(s2);
  cdr_attestation_clear(&att);
  csv_schema_free(&schema);
  cdr_client_free(c);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
