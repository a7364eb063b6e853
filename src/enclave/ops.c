/*
 * ops.c - the operations a session's user may run, after the request
 * has been verified and decrypted (docs/PROTOCOL.md 4.7).
 *
 * Request plaintext: lp(header_json) || payload.
 *   {"op":"query","sql":...}                           analyst, provider
 *   {"op":"upload","table":...,"replace"?:bool}        provider (replace: owner); payload = CSV
 *   {"op":"tables"}                                    every role
 *   {"op":"grant","table","to","columns"?:[...]|"all"} provider, owner
 *   {"op":"revoke_grant","table","to"}                 provider, owner
 *   {"op":"hide","table","column","hidden"?:bool}      provider, owner
 *   {"op":"drop","table"}                              provider, owner
 * The operations are a table (name, roles, payload allowed, handler);
 * roles are checked here, ownership by the engine (access_denied naming
 * the table).
 * Response plaintext: JSON, {"ok":true,...} or {"ok":false,"error",
 * "message"}.  A user's mistake is a FAILED response sealed to that user,
 * never an IPC error, so its details (which may name tables or columns)
 * stay confidential; the host learns only ok/failed.
 * Nothing here is logged: the enclave's log reaches the host, so even
 * row counts or refusal codes would tell it about sealed content.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "enclave.h"
#include "persist.h"

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

/* Role sets. */
#define ROLE_BIT(r) (1u << (r))
#define ROLES_QUERY (ROLE_BIT(CDR_ROLE_ANALYST) | ROLE_BIT(CDR_ROLE_PROVIDER))
#define ROLES_PROVIDER ROLE_BIT(CDR_ROLE_PROVIDER)
#define ROLES_ALL (ROLE_BIT(CDR_ROLE_ANALYST) | ROLE_BIT(CDR_ROLE_PROVIDER) | ROLE_BIT(CDR_ROLE_AUDITOR))

/* What an operation gets: the session's principal, the header and the
 * payload. */
struct op_ctx {
  struct enclave *e;
  const struct engine_principal *who;
  json_t *hdr;
  const uint8_t *payload;
  size_t payload_len;
  struct cdr_buf *out;
  uint8_t *status;
};

/* A string field of the header without NUL (JSON allows \u0000, and a
 * name must not mean one thing here and another in C), or NULL (then
 * the request fails). */
static const char *hdr_string(const struct op_ctx *c, const char *key) {
  json_t *v = json_object_get(c->hdr, key);
  const char *s = json_string_value(v);
  return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

/* An optional boolean field: 0 with *v = dflt if absent, -1 if not a
 * boolean. */
static int hdr_bool(const struct op_ctx *c, const char *key, int dflt, int *v) {
  json_t *b = json_object_get(c->hdr, key);
  if (b == NULL) {
    *v = dflt;
    return 0;
  }
  if (!json_is_boolean(b))
    return -1;
  *v = json_is_true(b);
  return 0;
}

/* Finish an engine call: its failure, or the success object o. */
static int op_result(const struct op_ctx *c, int er, char *errmsg, json_t *o) {
  int r;
  if (er != 0) {
    json_decref(o);
    r = op_fail(c->out, c->status, er, errmsg);
  } else {
    r = put_json(c->out, o);
    *c->status = r == 0 ? CDR_STATUS_OK : CDR_STATUS_FAILED;
  }
  free(errmsg);
  return r;
}

/* {"ok":true,<head>...<json>} with a JSON text made by the engine. */
static int op_wrap(const struct op_ctx *c, const char *head, char *json, size_t len) {
  int r;
  if ((r = cdr_buf_put(c->out, head, strlen(head))) != 0 || (r = cdr_buf_put(c->out, json, len)) != 0 ||
      (r = cdr_buf_put(c->out, "}", 1)) != 0) {
    cdr_buf_free(c->out);
    return op_fail(c->out, c->status, CDR_ERR_RESULT_TOO_LARGE, NULL);
  }
  *c->status = CDR_STATUS_OK;
  return 0;
}

static int op_query(const struct op_ctx *c) {
  json_t *jsql = json_object_get(c->hdr, "sql");
  char *result = NULL, *errmsg = NULL;
  size_t rlen = 0;
  uint64_t rows = 0;
  int r;
  if (!json_is_string(jsql))
    return op_fail(c->out, c->status, CDR_ERR_ARG, "field \"sql\" must be a string");
  int er = engine_query_json(c->e->engine, c->who, json_string_value(jsql), json_string_length(jsql), &result, &rlen,
                             &rows, &errmsg);
  if (er != 0)
    r = op_fail(c->out, c->status, er, errmsg);
  else
    r = op_wrap(c, "{\"ok\":true,\"result\":", result, rlen);
  if (result) {
    OPENSSL_cleanse(result, rlen);
    free(result);
  }
  free(errmsg);
  return r;
}

static int op_upload(const struct op_ctx *c) {
  const char *table = hdr_string(c, "table");
  char *errmsg = NULL;
  uint64_t rows = 0;
  int replace;
  if (table == NULL)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "field \"table\" must be a string");
  if (hdr_bool(c, "replace", 0, &replace) != 0)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "field \"replace\" must be true or false");
  if (c->payload_len > CDR_MAX_UPLOAD_BYTES)
    return op_fail(c->out, c->status, CDR_ERR_TOO_LARGE, "uploads are limited to 64 MiB");
  int er = engine_load_csv(c->e->engine, c->who, table, c->payload, c->payload_len, replace, &rows, &errmsg);
  /* durable before the client hears of it; a storage failure is fatal */
  int pr = er == 0 ? persist_table_written(c->e, table) : 0;
  if (pr != 0) {
    free(errmsg);
    return pr;
  }
  return op_result(c, er, errmsg,
                   er != 0 ? NULL
                           : json_pack("{s:b,s:s,s:I,s:b}", "ok", 1, "table", table, "rows", (json_int_t)rows,
                                       "replaced", replace));
}

static int op_tables(const struct op_ctx *c) {
  char *json = NULL, *errmsg = NULL;
  size_t len = 0;
  int r, er = engine_tables_json(c->e->engine, c->who, &json, &len, &errmsg);
  if (er != 0)
    r = op_fail(c->out, c->status, er, errmsg);
  else
    r = op_wrap(c, "{\"ok\":true,\"tables\":", json, len);
  if (json != NULL) {
    OPENSSL_cleanse(json, len);
    free(json);
  }
  free(errmsg);
  return r;
}

static int op_grant(const struct op_ctx *c) {
  const char *table = hdr_string(c, "table"), *to = hdr_string(c, "to");
  json_t *jcols = json_object_get(c->hdr, "columns"), *v;
  const char **cols = NULL;
  char *errmsg = NULL;
  size_t n = 0, i;
  int er;
  if (table == NULL || to == NULL)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "fields \"table\" and \"to\" must be strings without NUL");
  if (jcols != NULL && json_is_string(jcols) && strcmp(json_string_value(jcols), "all") == 0)
    jcols = NULL;
  if (jcols != NULL) {
    if (!json_is_array(jcols) || (n = json_array_size(jcols)) == 0 || n > CDR_MAX_COLUMNS)
      return op_fail(c->out, c->status, CDR_ERR_ARG,
                     "field \"columns\" must be \"all\" or a list of 1 to 1000 column names");
    if ((cols = calloc(n, sizeof(*cols))) == NULL)
      return op_fail(c->out, c->status, CDR_ERR_NOMEM, NULL);
    json_array_foreach(jcols, i, v) {
      if ((cols[i] = json_string_value(v)) == NULL || strlen(cols[i]) != json_string_length(v)) {
        free(cols);
        return op_fail(c->out, c->status, CDR_ERR_ARG, "every column name must be a string without NUL");
      }
    }
  }
  er = engine_grant(c->e->engine, c->who, table, to, cols, n, &errmsg);
  free(cols);
  /* durable before the client hears of it; a storage failure is fatal */
  int pr = er == 0 ? persist_meta_changed(c->e) : 0;
  if (pr != 0) {
    free(errmsg);
    return pr;
  }
  return op_result(c, er, errmsg,
                   er != 0 ? NULL
                           : json_pack("{s:b,s:s,s:s,s:o}", "ok", 1, "table", table, "to", to, "columns",
                                       jcols != NULL ? json_incref(jcols) : json_string("all")));
}

static int op_revoke_grant(const struct op_ctx *c) {
  const char *table = hdr_string(c, "table"), *to = hdr_string(c, "to");
  char *errmsg = NULL;
  if (table == NULL || to == NULL)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "fields \"table\" and \"to\" must be strings");
  int er = engine_revoke_grant(c->e->engine, c->who, table, to, &errmsg);
  /* durable before the client hears of it; a storage failure is fatal */
  int pr = er == 0 ? persist_meta_changed(c->e) : 0;
  if (pr != 0) {
    free(errmsg);
    return pr;
  }
  return op_result(c, er, errmsg,
                   er != 0 ? NULL : json_pack("{s:b,s:s,s:s,s:b}", "ok", 1, "table", table, "to", to, "revoked", 1));
}

static int op_hide(const struct op_ctx *c) {
  const char *table = hdr_string(c, "table"), *column = hdr_string(c, "column");
  char *errmsg = NULL;
  int hidden;
  if (table == NULL || column == NULL)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "fields \"table\" and \"column\" must be strings");
  if (hdr_bool(c, "hidden", 1, &hidden) != 0)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "field \"hidden\" must be true or false");
  int er = engine_hide(c->e->engine, c->who, table, column, hidden, &errmsg);
  /* durable before the client hears of it; a storage failure is fatal */
  int pr = er == 0 ? persist_meta_changed(c->e) : 0;
  if (pr != 0) {
    free(errmsg);
    return pr;
  }
  return op_result(c, er, errmsg,
                   er != 0 ? NULL
                           : json_pack("{s:b,s:s,s:s,s:b}", "ok", 1, "table", table, "column", column, "hidden",
                                       hidden));
}

static int op_drop(const struct op_ctx *c) {
  const char *table = hdr_string(c, "table");
  char *errmsg = NULL;
  if (table == NULL)
    return op_fail(c->out, c->status, CDR_ERR_ARG, "field \"table\" must be a string");
  int er = engine_drop(c->e->engine, c->who, table, &errmsg);
  /* durable before the client hears of it; a storage failure is fatal */
  int pr = er == 0 ? persist_table_dropped(c->e, table) : 0;
  if (pr != 0) {
    free(errmsg);
    return pr;
  }
  return op_result(c, er, errmsg,
                   er != 0 ? NULL : json_pack("{s:b,s:s,s:b}", "ok", 1, "table", table, "dropped", 1));
}

static const struct op_entry {
  const char *name;
  unsigned roles;    /* ROLE_BIT set allowed to run it */
  int payload;       /* a payload may follow the header */
  const char *roles_msg;
  int (*run)(const struct op_ctx *c);
} op_table[] = {
    {"query", ROLES_QUERY, 0, "only analysts and providers may run queries", op_query},
    {"upload", ROLES_PROVIDER, 1, "only providers may upload tables", op_upload},
    {"tables", ROLES_ALL, 0, NULL, op_tables},
    {"grant", ROLES_PROVIDER, 0, "only providers own tables and grant access to them", op_grant},
    {"revoke_grant", ROLES_PROVIDER, 0, "only providers own tables and grant access to them", op_revoke_grant},
    {"hide", ROLES_PROVIDER, 0, "only providers own tables and hide their columns", op_hide},
    {"drop", ROLES_PROVIDER, 0, "only providers own tables and drop them", op_drop},
};

/* The session's user as the engine sees it: name, role, and the SHA-256
 * of the certified key's SubjectPublicKeyInfo. */
static int principal_of(const struct session *s, struct engine_principal *p) {
  unsigned char *der = NULL;
  int n, r;
  memset(p, 0, sizeof(*p));
  p->name = s->name;
  p->role = s->role;
  if ((n = i2d_PUBKEY(s->user_key, &der)) <= 0)
    return CDR_ERR_CRYPTO;
  r = cdr_sha256(p->key_fp, der, (size_t)n);
  OPENSSL_free(der);
  return r;
}

int enclave_run_operation(struct enclave *e, const struct session *s, const uint8_t *pt, size_t ptlen,
                          struct cdr_buf *out, uint8_t *status) {
  struct cdr_buf in;
  struct engine_principal who;
  struct op_ctx c;
  const struct op_entry *op = NULL;
  const uint8_t *hdr_bytes;
  const char *name;
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
  name = json_string_value(json_object_get(hdr, "op"));
  for (size_t i = 0; name != NULL && i < sizeof(op_table) / sizeof(op_table[0]); i++)
    if (strcmp(name, op_table[i].name) == 0)
      op = &op_table[i];
  if (op == NULL) {
    r = op_fail(out, status, CDR_ERR_ARG,
                "unknown \"op\" (expected query, upload, tables, grant, revoke_grant, hide or drop)");
  } else if (s->role < CDR_ROLE_ANALYST || s->role > CDR_ROLE_AUDITOR || (op->roles & ROLE_BIT(s->role)) == 0) {
    r = op_fail(out, status, CDR_ERR_ROLE, op->roles_msg);
  } else if (!op->payload && cdr_buf_avail(&in) > 0) {
    r = op_fail(out, status, CDR_ERR_ARG, "this operation carries no payload");
  } else if (principal_of(s, &who) != 0) {
    r = op_fail(out, status, CDR_ERR_INTERNAL, "cannot identify the session's key");
  } else {
    memset(&c, 0, sizeof(c));
    c.e = e;
    c.who = &who;
    c.hdr = hdr;
    c.payload = cdr_buf_ptr(&in);
    c.payload_len = cdr_buf_avail(&in);
    c.out = out;
    c.status = status;
    r = op->run(&c);
  }
  json_decref(hdr);
  return r;
}
