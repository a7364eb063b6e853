/*
 * ops.c - the operations a session's user may run, after the request
 * has been verified and decrypted (docs/PROTOCOL.md 4.7).
 *
 * Request plaintext: lp(header_json) || payload.
 *   {"op":"query","sql":...}         analyst, provider
 *   {"op":"upload","table":...}      provider; payload = CSV
 * Response plaintext: JSON, {"ok":true,...} or {"ok":false,"error",
 * "message"}.  A user's mistake is a FAILED response sealed to that user,
 * never an IPC error, so its details (which may name tables or columns)
 * stay confidential; the host learns only ok/failed.
 * Nothing here is logged: the enclave's log reaches the host, so even
 * row counts or refusal codes would tell it about sealed content.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "enclave.h"

#define MAX_HEADER_JSON (CDR_MAX_SQL_LEN + 4096u)

static int dump_to_buf(const char *p, size_t n, void *ud) { return cdr_buf_put(ud, p, n) == 0 ? 0 : -1; }

/* Append the compact JSON of o (consumed) to out.  Dumping straight into
 * the buffer keeps no second copy of the plaintext around. */
static int put_json(struct cdr_buf *out, json_t *o) {
  int r = o != NULL && json_dump_callback(o, dump_to_buf, out, JSON_COMPACT) == 0 ? 0 : CDR_ERR_NOMEM;
  json_decref(o);
  return r;
}

/* Write {"ok":false,"error":code,"message":msg}. */
static int op_fail(struct cdr_buf *out, uint8_t *status, int code, const char *message) {
  *status = CDR_STATUS_FAILED;
  cdr_buf_free(out);
  return put_json(out, json_pack("{s:b,s:s,s:s}", "ok", 0, "error", cdr_err_code(code), "message",
                                 message ? message : cdr_err_describe(code)));
}

static int op_query(struct enclave *e, const struct session *s, json_t *hdr, struct cdr_buf *out, uint8_t *status) {
  const char *sql = json_string_value(json_object_get(hdr, "sql"));
  char *result = NULL, *errmsg = NULL;
  size_t rlen = 0;
  uint64_t rows = 0;
  int r;
  if (s->role != CDR_ROLE_ANALYST && s->role != CDR_ROLE_PROVIDER)
    return op_fail(out, status, CDR_ERR_ROLE, "only analysts and providers may run queries");
  if (sql == NULL)
    return op_fail(out, status, CDR_ERR_ARG, "field \"sql\" must be a string");
  int er = engine_query_json(e->engine, sql, json_string_length(json_object_get(hdr, "sql")), &result, &rlen, &rows,
                             &errmsg);
  if (er != 0) {
    r = op_fail(out, status, er, errmsg);
    goto out;
  }
  static const char head[] = "{\"ok\":true,\"result\":";
  if ((r = cdr_buf_put(out, head, sizeof(head) - 1)) != 0 || (r = cdr_buf_put(out, result, rlen)) != 0 ||
      (r = cdr_buf_put(out, "}", 1)) != 0) {
    cdr_buf_free(out);
    r = op_fail(out, status, CDR_ERR_RESULT_TOO_LARGE, NULL);
    goto out;
  }
  *status = CDR_STATUS_OK;
out:
  if (result) {
    OPENSSL_cleanse(result, rlen);
    free(result);
  }
  free(errmsg);
  return r;
}

static int op_upload(struct enclave *e, const struct session *s, json_t *hdr, const uint8_t *csv, size_t csvlen,
                     struct cdr_buf *out, uint8_t *status) {
  const char *table = json_string_value(json_object_get(hdr, "table"));
  char *errmsg = NULL;
  uint64_t rows = 0;
  if (s->role != CDR_ROLE_PROVIDER)
    return op_fail(out, status, CDR_ERR_ROLE, "only providers may upload tables");
  if (table == NULL)
    return op_fail(out, status, CDR_ERR_ARG, "field \"table\" must be a string");
  if (csvlen > CDR_MAX_UPLOAD_BYTES)
    return op_fail(out, status, CDR_ERR_TOO_LARGE, "uploads are limited to 64 MiB");
  int er = engine_load_csv(e->engine, table, csv, csvlen, &rows, &errmsg);
  if (er != 0) {
    int r = op_fail(out, status, er, errmsg);
    free(errmsg);
    return r;
  }
  int r = put_json(out, json_pack("{s:b,s:s,s:I}", "ok", 1, "table", table, "rows", (json_int_t)rows));
  *status = CDR_STATUS_OK;
  return r;
}

int enclave_run_operation(struct enclave *e, const struct session *s, const uint8_t *pt, size_t ptlen,
                          struct cdr_buf *out, uint8_t *status) {
  struct cdr_buf in;
  const uint8_t *hdr_bytes;
  size_t hdr_len;
  json_error_t jerr;
  int r;
  cdr_buf_view(&in, pt, ptlen);
  if ((r = cdr_buf_get_lp(&in, &hdr_bytes, &hdr_len, MAX_HEADER_JSON)) != 0)
    return op_fail(out, status, CDR_ERR_ARG, "request plaintext must start with lp(header JSON)");
  json_t *hdr = json_loadb((const char *)hdr_bytes, hdr_len, JSON_REJECT_DUPLICATES, &jerr);
  if (hdr == NULL || !json_is_object(hdr)) {
    json_decref(hdr);
    return op_fail(out, status, CDR_ERR_BAD_JSON, "request header is not a JSON object");
  }
  const char *op = json_string_value(json_object_get(hdr, "op"));
  const uint8_t *payload = cdr_buf_ptr(&in);
  size_t payload_len = cdr_buf_avail(&in);
  if (op != NULL && strcmp(op, "query") == 0) {
    r = payload_len ? op_fail(out, status, CDR_ERR_ARG, "a query carries no payload")
                    : op_query(e, s, hdr, out, status);
  } else if (op != NULL && strcmp(op, "upload") == 0) {
    r = op_upload(e, s, hdr, payload, payload_len, out, status);
  } else {
    r = op_fail(out, status, CDR_ERR_ARG, "unknown \"op\" (expected \"query\" or \"upload\")");
  }
  json_decref(hdr);
  return r;
}
