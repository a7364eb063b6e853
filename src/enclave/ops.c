/*
 * ops.c - the operations a session's user may run, after the request
 * has been verified and decrypted (docs/PROTOCOL.md 4.7).
 *
 * Request plaintext: lp(header_json) || payload.
 *   {"op":"query","sql":...}                           analyst, provider
 *   {"op":"query","template","params"?}                analyst, provider: an approved template (template_ops.c)
 *   {"op":"template","action",...}                     every role; see template_ops.c
 *   {"op":"upload_begin","table","replace"?,"schema","bytes"}  provider (replace: owner)
 *   {"op":"upload_chunk","upload","index"}             provider; payload = CSV bytes
 *   {"op":"upload_commit","upload","chunks","bytes","sha256"}   provider
 *   {"op":"upload_abort","upload"}                     provider
 *   {"op":"tables"}                                    every role
 *   {"op":"grant","table","to","columns"?:[...]|"all"} provider, owner
 *   {"op":"revoke_grant","table","to"}                 provider, owner
 *   {"op":"hide","table","column","hidden"?:bool}      provider, owner
 *   {"op":"drop","table"}                              provider, owner
 *   {"op":"rule","table","action"?:"show"|"set"|"remove","grants"?:"keep"|"revoke"}
 *       + the rule's JSON text (set)                   every role shows; provider, owner sets
 *   {"op":"audit","from"?,"since"?,"limit"?}           every role (audit_ops.c)
 *   {"op":"audit_head","known"?}                       every role (audit_ops.c)
 *   {"op":"close"}                                     every role: ends the session
 *   {"op":"contract","from"?}                          every role (contract_ops.c)
 *   {"op":"contract_propose"} + document               every role; a member once one is active
 *   {"op":"contract_sign"} + signature object          every role (contract_ops.c)
 *   {"op":"limits"}                                    every role: the room's limits (room_limits.h)
 *   {"op":"limits_set",...}                            refused: the admin sets them on the host
 *   {"op":"cursor","cursor","page"|"close"}            analyst, provider: a paged result (cursor_ops.c)
 * The operations are a table (name, roles, payload allowed, handler);
 * roles are checked here, ownership by the engine (access_denied naming
 * the table).
 * Response plaintext: JSON, {"ok":true,...} or {"ok":false,"error",
 * "message"}.  A user's mistake is a FAILED response sealed to that user,
 * never an IPC error, so its details (which may name tables or columns)
 * stay confidential; the host learns only ok/failed.
 * Nothing here is logged: the enclave's log reaches the host, so even
 * row counts or refusal codes would tell it about sealed content.  The
 * audit log (audit.h), which the host stores sealed, is where each
 * decision goes: every operation names itself and adds what it acted on
 * to the pending entry that enclave_request.c finishes, with the code
 * the operation's outcome carries (ops.h), never one read back out of
 * the JSON.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "common/json_get.h"
#include "crypto/crypto.h"
#include "catalog.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "audit_ops.h"
#include "contract_ops.h"
#include "cursor_ops.h"
#include "dp_ops.h"
#include "gate.h"
#include "template_ops.h"
#include "ops.h"
#include "persist.h"
#include "room_limits.h"

#define MAX_HEADER_JSON CDR_MAX_REQUEST_HEADER
_Static_assert(CDR_MAX_REQUEST_HEADER >= CDR_MAX_SQL_LEN + 4096u, "a query's header must fit");

/* The enclave's clock (replaceable by tests). */
static int64_t enclave_now(const struct enclave *e) { return e->now != NULL ? e->now() : cdr_now(); }

/* Role sets. */
#define ROLE_BIT(r) (1u << (r))
#define ROLES_QUERY (ROLE_BIT(CDR_ROLE_ANALYST) | ROLE_BIT(CDR_ROLE_PROVIDER))
#define ROLES_PROVIDER ROLE_BIT(CDR_ROLE_PROVIDER)
#define ROLES_ALL (ROLE_BIT(CDR_ROLE_ANALYST) | ROLE_BIT(CDR_ROLE_PROVIDER) | ROLE_BIT(CDR_ROLE_AUDITOR))

/* What an operation gets: the session's principal, the header and the
 * payload; what it gives: the response in out, its outcome in res.
 * Header fields are read with common/json_get.h: a string that names
 * something must hold no NUL (JSON allows \u0000, and a name must not
 * mean one thing here and another in C). */
struct op_ctx {
  struct enclave *e;
  const struct engine_principal *who;
  json_t *hdr;
  const uint8_t *payload;
  size_t payload_len;
  struct cdr_buf *out;
  struct enclave_op_outcome *res;
  const uint8_t *sid; /* the session's id (its uploads) */
  struct contract_caller caller; /* the session's key, for the contract */
};

/* Write {"ok":false,"error":code,"message":message} (NULL: the code's
 * description); the outcome is FAILED with code. */
static int op_fail(const struct op_ctx *c, int code, const char *message) {
  return enclave_reply_op_fail(c->out, c->res, code, message);
}

/* Finish an engine call: its failure, or the success object o. */
static int op_result(const struct op_ctx *c, int er, char *errmsg, json_t *o) {
  int r;
  if (er != 0) {
    json_decref(o);
    r = op_fail(c, er, errmsg);
  } else {
    r = enclave_reply_op_json(c->out, c->res, o);
  }
  free(errmsg);
  return r;
}

/* What a change must make durable before it is answered. */
enum op_durable { OP_DURABLE_META, OP_DURABLE_TABLE_WRITTEN, OP_DURABLE_TABLE_DROPPED };

/* Finish an engine call that changed the room (er == 0) or refused to:
 * the change is made durable first, with its audit entry (persist.c),
 * then answered with o (built by the caller, NULL when er != 0).  A
 * storage failure is fatal: it is returned (e->fatal is set) and nothing
 * is answered. */
static int op_result_durable(const struct op_ctx *c, int er, char *errmsg, enum op_durable what, const char *table,
                             json_t *o) {
  int pr = 0;
  if (er == 0) {
    switch (what) {
    case OP_DURABLE_META: pr = persist_meta_changed(c->e); break;
    case OP_DURABLE_TABLE_WRITTEN: pr = persist_table_written(c->e, table); break;
    case OP_DURABLE_TABLE_DROPPED: pr = persist_table_dropped(c->e, table); break;
    }
  }
  if (pr != 0) {
    json_decref(o);
    free(errmsg);
    return pr;
  }
  return op_result(c, er, errmsg, o);
}

/* {"ok":true,<head><document>} with the engine's document rendered
 * straight into out: the op writes the head (op_doc_begin; if even that
 * does not fit, result_too_large), the engine appends the document,
 * op_doc_end closes the object or turns the engine's failure into the
 * response.  The plaintext is in out only; a failure wipes it with out. */
static int op_doc_begin(const struct op_ctx *c, const char *head) {
  return cdr_buf_put(c->out, head, strlen(head));
}

static int op_doc_end(const struct op_ctx *c, int er, const char *errmsg) {
  if (er != 0)
    return op_fail(c, er, errmsg);
  if (cdr_buf_put(c->out, "}", 1) != 0)
    return op_fail(c, CDR_ERR_RESULT_TOO_LARGE, NULL);
  c->res->status = CDR_STATUS_OK;
  c->res->code = 0;
  return 0;
}

static void audit_table_cb(void *ud, const char *table) { audit_add_table(ud, table, NULL); }

static int op_query(const struct op_ctx *c) {
  const char *sql;
  char *errmsg = NULL;
  size_t sqllen;
  uint64_t rows = 0;
  int r;
  uint8_t h[32];
  char busy[192];
  if (json_object_get(c->hdr, "template") != NULL) {
    if (json_object_get(c->hdr, "sql") != NULL)
      return op_fail(c, CDR_ERR_ARG, "a query names \"sql\" or \"template\", not both");
    /* A template's run is a query: the same cap, a lane's engine. */
    if (gate_member_enter(c->e, c->who->name, busy, sizeof(busy)) != 0)
      return op_fail(c, CDR_ERR_BUSY, busy);
    struct cdr_engine *lane = gate_engine_enter(c->e);
    r = template_op_run(c->e, lane, c->who, c->hdr, c->out, c->res);
    gate_engine_leave(c->e, lane);
    gate_member_leave(c->e, c->who->name);
    return r;
  }
  /* The engine refuses a NUL in the text itself, with its own message. */
  if (cdr_json_get_str(c->hdr, "sql", SIZE_MAX, &sql, &sqllen) != 0)
    return op_fail(c, CDR_ERR_ARG, "field \"sql\" must be a string");
  /* The log keeps the SQL's hash, not its text. */
  if (cdr_sha256(h, sql, sqllen) == 0)
    audit_set(c->e, "sql_sha256", audit_hex(h, sizeof(h)));
  /* Expired cursors give their counts back before the cap is looked at. */
  cursor_sweep(c->e);
  if (gate_member_enter(c->e, c->who->name, busy, sizeof(busy)) != 0)
    return op_fail(c, CDR_ERR_BUSY, busy);
  if (op_doc_begin(c, "{\"ok\":true,\"result\":") != 0) {
    gate_member_leave(c->e, c->who->name);
    return op_fail(c, CDR_ERR_RESULT_TOO_LARGE, NULL);
  }
  /* A result past one page is spooled (cursor_ops.c): the cursor then
   * keeps this query's count until it is read, closed or expires. */
  struct cursor_spool spool;
  const struct engine_page_sink *sink;
  uint64_t pages = 0;
  cursor_spool_begin(&spool, c->e, c->sid, c->who->name, &sink);
  struct cdr_engine *lane = gate_engine_enter(c->e);
  int er = engine_query_render_paged(lane, c->who, sql, sqllen, c->out, sink, &rows, &pages, &errmsg);
  engine_query_tables(lane, audit_table_cb, c->e);
  if (er == 0)
    audit_set(c->e, "rows", json_integer((json_int_t)rows));
  if (er == 0 && pages > 0)
    audit_set(c->e, "pages", json_integer((json_int_t)pages));
  /* A dp charge is durable before the answer (or refusal) leaves.  Before
   * the lane is given back: the charge is the lane's until taken (its
   * next statement's would replace it); dp_ops serialises the commits. */
  r = dp_ops_seal_charge(c->e, lane, c->who->name);
  gate_engine_leave(c->e, lane);
  if (!cursor_spool_end(&spool, er == 0 && r == 0, pages))
    gate_member_leave(c->e, c->who->name);
  if (r != 0) {
    free(errmsg);
    return r;
  }
  r = op_doc_end(c, er, errmsg);
  free(errmsg);
  return r;
}

/* ---- streamed uploads (upload.c; PROTOCOL 4.7) ----
 * Any failure of an upload_* operation, whatever refused it, drops the
 * upload the session has in progress (ops_run). */

/* The "schema" field, [{"name":..,"type":"INTEGER|REAL|TEXT"},...], as a
 * csv_schema whose names point into the header (free only the arrays). */
static int hdr_schema(const struct op_ctx *c, struct csv_schema *s) {
  json_t *a = json_object_get(c->hdr, "schema"), *col;
  size_t i, n;
  memset(s, 0, sizeof(*s));
  if (!json_is_array(a) || (n = json_array_size(a)) == 0 || n > CDR_MAX_COLUMNS)
    return CDR_ERR_ARG;
  if ((s->names = calloc(n, sizeof(*s->names))) == NULL || (s->types = calloc(n, sizeof(*s->types))) == NULL)
    return CDR_ERR_NOMEM;
  s->ncols = n;
  json_array_foreach(a, i, col) {
    const char *name, *type;
    size_t tlen;
    if (!json_is_object(col) || json_object_size(col) != 2 || cdr_json_get_cstr(col, "name", SIZE_MAX, &name) != 0 ||
        cdr_json_get_str(col, "type", SIZE_MAX, &type, &tlen) != 0 || csv_type_parse(type, &s->types[i]) != 0)
      return CDR_ERR_ARG;
    s->names[i] = (char *)(uintptr_t)name;
  }
  return 0;
}

static int op_upload_begin(const struct op_ctx *c) {
  const char *table = cdr_json_get_cstr_opt(c->hdr, "table");
  char id[UPLOAD_ID_HEX + 1], *errmsg = NULL;
  struct csv_schema schema;
  uint64_t bytes;
  int replace, r;
  if (table == NULL)
    return op_fail(c, CDR_ERR_ARG, "field \"table\" must be a string");
  if (cdr_json_get_bool(c->hdr, "replace", 0, &replace) != 0)
    return op_fail(c, CDR_ERR_ARG, "field \"replace\" must be true or false");
  if (cdr_json_get_u64(c->hdr, "bytes", &bytes) != 0)
    return op_fail(c, CDR_ERR_ARG, "field \"bytes\" must be the CSV's size in bytes");
  if ((r = hdr_schema(c, &schema)) != 0) {
    free(schema.names);
    free(schema.types);
    return op_fail(c, r,
                   r == CDR_ERR_NOMEM ? NULL
                                      : "field \"schema\" must list 1 to 1000 columns as {\"name\": ..., \"type\": "
                                        "\"INTEGER\" | \"REAL\" | \"TEXT\"}");
  }
  audit_add_table(c->e, table, c->who->name);
  audit_set(c->e, "replace", json_boolean(replace));
  audit_set(c->e, "bytes", json_integer((json_int_t)bytes));
  int er = upload_begin(&c->e->uploads, c->e->engine, c->sid, c->who, table, replace, &schema, bytes,
                        enclave_now(c->e), id, &errmsg);
  if (er == 0)
    audit_set_input(c->e, "upload", json_string(id));
  free(schema.names);
  free(schema.types);
  return op_result(c, er, errmsg, er != 0 ? NULL : json_pack("{s:b,s:s}", "ok", 1, "upload", id));
}

static int op_upload_chunk(const struct op_ctx *c) {
  const char *id = cdr_json_get_cstr_opt(c->hdr, "upload");
  char *errmsg = NULL;
  uint64_t index, received = 0;
  if (id == NULL || cdr_json_get_u64(c->hdr, "index", &index) != 0)
    return op_fail(c, CDR_ERR_ARG, "fields \"upload\" (the upload's id) and \"index\" (0, 1, 2...) are required");
  audit_set_input(c->e, "upload", json_string(id));
  audit_set(c->e, "chunk", json_integer((json_int_t)index));
  audit_set(c->e, "bytes", json_integer((json_int_t)c->payload_len));
  int er = upload_chunk(&c->e->uploads, c->e->engine, c->sid, id, index, c->payload, c->payload_len,
                        enclave_now(c->e), &received, &errmsg);
  /* An upload is two entries, its begin and its commit (which counts the
   * chunks and carries the hash of their bytes, which the enclave
   * checked): an accepted chunk is not a decision of its own.  A refused
   * one is, since it ends the upload. */
  if (er == 0)
    audit_discard(c->e);
  return op_result(c, er, errmsg, er != 0 ? NULL : json_pack("{s:b,s:I}", "ok", 1, "received", (json_int_t)received));
}

/* [{"name":..,"type":..}] of the committed table. */
static json_t *columns_json(const struct op_ctx *c, const char *table) {
  const struct catalog_table *t = catalog_find(engine_catalog(c->e->engine), table);
  json_t *a = json_array();
  for (size_t k = 0; a != NULL && t != NULL && k < t->ncols; k++)
    if (json_array_append_new(a, json_pack("{s:s,s:s}", "name", t->cols[k].name, "type", t->cols[k].type)) != 0) {
      json_decref(a);
      a = NULL;
    }
  return a;
}

static int op_upload_commit(const struct op_ctx *c) {
  const char *id = cdr_json_get_cstr_opt(c->hdr, "upload"), *sha = cdr_json_get_cstr_opt(c->hdr, "sha256");
  struct engine_upload_result res;
  char *errmsg = NULL;
  uint64_t chunks, bytes;
  if (id == NULL || sha == NULL || cdr_json_get_u64(c->hdr, "chunks", &chunks) != 0 ||
      cdr_json_get_u64(c->hdr, "bytes", &bytes) != 0)
    return op_fail(c, CDR_ERR_ARG, "fields \"upload\", \"chunks\", \"bytes\" and \"sha256\" are required");
  audit_set_input(c->e, "upload", json_string(id));
  audit_set(c->e, "chunks", json_integer((json_int_t)chunks));
  audit_set(c->e, "bytes", json_integer((json_int_t)bytes));
  audit_set_input(c->e, "csv_sha256", json_string(sha));
  int er = upload_commit(&c->e->uploads, c->e->engine, c->sid, id, chunks, bytes, sha, &res, &errmsg);
  if (er == 0) {
    audit_add_table(c->e, res.table, NULL);
    audit_set(c->e, "rows", json_integer((json_int_t)res.rows));
    audit_set(c->e, "replaced", json_boolean(res.replaced));
  }
  return op_result_durable(c, er, errmsg, OP_DURABLE_TABLE_WRITTEN, res.table,
                           er != 0 ? NULL
                                   : json_pack("{s:b,s:s,s:I,s:b,s:o*}", "ok", 1, "table", res.table, "rows",
                                               (json_int_t)res.rows, "replaced", res.replaced, "columns",
                                               columns_json(c, res.table)));
}

static int op_upload_abort(const struct op_ctx *c) {
  const char *id = cdr_json_get_cstr_opt(c->hdr, "upload");
  char *errmsg = NULL;
  if (id == NULL)
    return op_fail(c, CDR_ERR_ARG, "field \"upload\" must be the upload's id");
  audit_set_input(c->e, "upload", json_string(id));
  int er = upload_abort(&c->e->uploads, c->e->engine, c->sid, id, &errmsg);
  return op_result(c, er, errmsg, er != 0 ? NULL : json_pack("{s:b,s:s,s:b}", "ok", 1, "upload", id, "aborted", 1));
}

static int op_tables(const struct op_ctx *c) {
  char *errmsg = NULL;
  int r;
  if (op_doc_begin(c, "{\"ok\":true,\"tables\":") != 0)
    return op_fail(c, CDR_ERR_RESULT_TOO_LARGE, NULL);
  r = op_doc_end(c, engine_tables_render(c->e->engine, c->who, c->out, &errmsg), errmsg);
  free(errmsg);
  return r;
}

/* Once a contract version is active, a grant names one of its members
 * (or a role): a misspelled or unknown name is refused, never kept. */
static int grantee_known(const struct enclave *e, const char *to) {
  const struct contract_version *cur = contract_state_current(&e->contract);
  if (cur == NULL || strncmp(to, "role:", 5) == 0)
    return 1;
  for (size_t i = 0; i < cur->c.n_members; i++)
    if (strcmp(cur->c.members[i].name, to) == 0)
      return 1;
  return 0;
}

static int op_grant(const struct op_ctx *c) {
  const char *table = cdr_json_get_cstr_opt(c->hdr, "table"), *to = cdr_json_get_cstr_opt(c->hdr, "to");
  json_t *jcols = json_object_get(c->hdr, "columns"), *v;
  const char **cols = NULL;
  char *errmsg = NULL;
  size_t n = 0, i;
  int er;
  if (table == NULL || to == NULL)
    return op_fail(c, CDR_ERR_ARG, "fields \"table\" and \"to\" must be strings without NUL");
  if (jcols != NULL && json_is_string(jcols) && strcmp(json_string_value(jcols), "all") == 0)
    jcols = NULL;
  if (jcols != NULL) {
    if (!json_is_array(jcols) || (n = json_array_size(jcols)) == 0 || n > CDR_MAX_COLUMNS)
      return op_fail(c, CDR_ERR_ARG, "field \"columns\" must be \"all\" or a list of 1 to 1000 column names");
    if ((cols = calloc(n, sizeof(*cols))) == NULL)
      return op_fail(c, CDR_ERR_NOMEM, NULL);
    json_array_foreach(jcols, i, v) {
      if ((cols[i] = json_string_value(v)) == NULL || strlen(cols[i]) != json_string_length(v)) {
        free(cols);
        return op_fail(c, CDR_ERR_ARG, "every column name must be a string without NUL");
      }
    }
  }
  audit_add_table(c->e, table, NULL);
  audit_set_input(c->e, "to", json_string(to));
  audit_set_input(c->e, "columns", jcols != NULL ? json_incref(jcols) : json_string("all"));
  if (!grantee_known(c->e, to)) {
    free(cols);
    return op_fail(c, CDR_ERR_NOT_A_MEMBER, "the grantee is not a member of the room's active contract (give a "
                                            "member's name as `cdr contract` shows it, or role:NAME)");
  }
  er = engine_grant(c->e->engine, c->who, table, to, cols, n, &errmsg);
  free(cols);
  return op_result_durable(c, er, errmsg, OP_DURABLE_META, table,
                           er != 0 ? NULL
                                   : json_pack("{s:b,s:s,s:s,s:o}", "ok", 1, "table", table, "to", to, "columns",
                                               jcols != NULL ? json_incref(jcols) : json_string("all")));
}

static int op_revoke_grant(const struct op_ctx *c) {
  const char *table = cdr_json_get_cstr_opt(c->hdr, "table"), *to = cdr_json_get_cstr_opt(c->hdr, "to");
  char *errmsg = NULL;
  if (table == NULL || to == NULL)
    return op_fail(c, CDR_ERR_ARG, "fields \"table\" and \"to\" must be strings");
  audit_add_table(c->e, table, NULL);
  audit_set_input(c->e, "to", json_string(to));
  int er = engine_revoke_grant(c->e->engine, c->who, table, to, &errmsg);
  return op_result_durable(
      c, er, errmsg, OP_DURABLE_META, table,
      er != 0 ? NULL : json_pack("{s:b,s:s,s:s,s:b}", "ok", 1, "table", table, "to", to, "revoked", 1));
}

static int op_hide(const struct op_ctx *c) {
  const char *table = cdr_json_get_cstr_opt(c->hdr, "table"), *column = cdr_json_get_cstr_opt(c->hdr, "column");
  char *errmsg = NULL;
  int hidden;
  if (table == NULL || column == NULL)
    return op_fail(c, CDR_ERR_ARG, "fields \"table\" and \"column\" must be strings");
  if (cdr_json_get_bool(c->hdr, "hidden", 1, &hidden) != 0)
    return op_fail(c, CDR_ERR_ARG, "field \"hidden\" must be true or false");
  audit_add_table(c->e, table, NULL);
  audit_set_input(c->e, "column", json_string(column));
  audit_set(c->e, "hidden", json_boolean(hidden));
  int er = engine_hide(c->e->engine, c->who, table, column, hidden, &errmsg);
  return op_result_durable(c, er, errmsg, OP_DURABLE_META, table,
                           er != 0 ? NULL
                                   : json_pack("{s:b,s:s,s:s,s:b}", "ok", 1, "table", table, "column", column,
                                               "hidden", hidden));
}

static int op_drop(const struct op_ctx *c) {
  const char *table = cdr_json_get_cstr_opt(c->hdr, "table");
  char *errmsg = NULL;
  if (table == NULL)
    return op_fail(c, CDR_ERR_ARG, "field \"table\" must be a string");
  audit_add_table(c->e, table, NULL); /* before it is gone: its owner sees the entry */
  int er = engine_drop(c->e->engine, c->who, table, &errmsg);
  return op_result_durable(c, er, errmsg, OP_DURABLE_TABLE_DROPPED, table,
                           er != 0 ? NULL : json_pack("{s:b,s:s,s:b}", "ok", 1, "table", table, "dropped", 1));
}

/* A table's release rule (engine_rule_owner.c; docs/RULES.md): shown to
 * its owner and to analysts who query under it; set (payload: the
 * rule's JSON text) or removed by its owner, durable with its audit
 * entry, which keeps the rule's text (or its size and hash). */
static int op_rule(const struct op_ctx *c) {
  const char *table = cdr_json_get_cstr_opt(c->hdr, "table");
  const char *action = json_string_value(json_object_get(c->hdr, "action"));
  const char *grants = json_string_value(json_object_get(c->hdr, "grants"));
  enum engine_rule_grants g = ENGINE_RULE_GRANTS_ASK;
  char *errmsg = NULL;
  size_t revoked = 0;
  uint8_t h[32];
  int er, set;
  if (table == NULL)
    return op_fail(c, CDR_ERR_ARG, "field \"table\" must be a string");
  if (action == NULL || strcmp(action, "show") == 0) {
    if (c->payload_len > 0)
      return op_fail(c, CDR_ERR_ARG, "showing a rule carries no payload");
    audit_add_table(c->e, table, NULL);
    audit_set(c->e, "action", json_string("show"));
    if (op_doc_begin(c, "{\"ok\":true,\"rule\":") != 0)
      return op_fail(c, CDR_ERR_RESULT_TOO_LARGE, NULL);
    er = engine_rule_render(c->e->engine, c->who, table, c->out, &errmsg);
    int r = op_doc_end(c, er, errmsg);
    free(errmsg);
    return r;
  }
  if ((set = strcmp(action, "set") == 0) == 0 && strcmp(action, "remove") != 0)
    return op_fail(c, CDR_ERR_ARG, "field \"action\" must be \"show\", \"set\" or \"remove\"");
  if (grants != NULL && strcmp(grants, "keep") == 0)
    g = ENGINE_RULE_GRANTS_KEEP;
  else if (grants != NULL && strcmp(grants, "revoke") == 0)
    g = ENGINE_RULE_GRANTS_REVOKE;
  else if (json_object_get(c->hdr, "grants") != NULL)
    return op_fail(c, CDR_ERR_ARG, "field \"grants\" must be \"keep\" or \"revoke\"");
  if (set != (c->payload_len > 0))
    return op_fail(c, CDR_ERR_ARG, set ? "setting a rule needs the rule's JSON text as the payload"
                                       : "removing a rule carries no payload");
  audit_add_table(c->e, table, NULL);
  audit_set(c->e, "action", json_string(action));
  if (set && cdr_sha256(h, c->payload, c->payload_len) == 0) {
    audit_set(c->e, "rule_sha256", audit_hex(h, sizeof(h)));
    audit_set_input(c->e, "rule", json_stringn((const char *)c->payload, c->payload_len));
  }
  if (grants != NULL)
    audit_set(c->e, "grants", json_string(grants));
  if (c->who->role != CDR_ROLE_PROVIDER)
    return op_fail(c, CDR_ERR_ROLE, "only providers own tables and set their release rules");
  er = engine_set_rule(c->e->engine, c->who, table, set ? (const char *)c->payload : NULL, c->payload_len, g,
                       &revoked, &errmsg);
  if (er == 0)
    audit_set(c->e, "revoked_grants", json_integer((json_int_t)revoked));
  return op_result_durable(c, er, errmsg, OP_DURABLE_META, table,
                           er != 0 ? NULL
                                   : json_pack("{s:b,s:s,s:s,s:I}", "ok", 1, "table", table, "action", action,
                                               "revoked_grants", (json_int_t)revoked));
}

/* Approved query templates (template_ops.c; docs/RULES.md). */
static int op_template(const struct op_ctx *c) { return template_op(c->e, c->who, c->hdr, c->out, c->res); }

static int op_audit(const struct op_ctx *c) {
  return audit_op_read(c->e, c->who, c->hdr, c->out, c->res);
}

static int op_audit_head(const struct op_ctx *c) {
  audit_discard(c->e); /* part of connecting (rollback check), not a decision */
  return audit_op_head(c->e, c->hdr, c->out, c->res);
}

static int op_contract(const struct op_ctx *c) { return contract_op_read(c->e, c->hdr, c->out, c->res); }

static int op_contract_propose(const struct op_ctx *c) {
  return contract_op_propose(c->e, &c->caller, c->payload, c->payload_len, c->out, c->res);
}

static int op_contract_sign(const struct op_ctx *c) {
  return contract_op_sign(c->e, &c->caller, c->payload, c->payload_len, c->out, c->res);
}

/* The room's limits (room_limits.h): every member may read them; no
 * session may set them. */
static int op_limits(const struct op_ctx *c) {
  return enclave_reply_op_json(c->out, c->res,
                               json_pack("{s:b,s:o}", "ok", 1, "limits", cdr_room_limits_to_json(&c->e->limits)));
}

static int op_limits_set(const struct op_ctx *c) {
  return op_fail(c, CDR_ERR_ROLE,
                 "the room's limits are set by the room's admin on the server's host (`cdr room limits ROOM`), "
                 "never through a member's session");
}

/* The session ends once this answer is sealed (enclave_request.c, told
 * by the outcome): its keys are wiped now rather than at expiry. */
static int op_close(const struct op_ctx *c) {
  c->res->close_session = 1;
  return enclave_reply_op_json(c->out, c->res, json_pack("{s:b,s:b}", "ok", 1, "closed", 1));
}

/* A paged result's page, or its close (cursor_ops.c). */
static int op_cursor(const struct op_ctx *c) { return cursor_op_run(c->e, c->sid, c->hdr, c->out, c->res); }

/* An operation that changes the room holds the gate exclusive (gate.h);
 * every row says which it is.  OP_BY_ACTION: its "action" says (op_writes). */
#define OP_READS 0
#define OP_WRITES 1
#define OP_BY_ACTION 2

static const struct op_entry {
  const char *name;
  int writes;        /* OP_WRITES: the room gate exclusive; OP_READS shared; OP_BY_ACTION: op_writes */
  unsigned roles;    /* ROLE_BIT set allowed to run it */
  int payload;       /* a payload may follow the header */
  int not_member;    /* open to a key outside the active contract (only in the pending version), and to every
                      * session before version 1 is active (every other op is then contract_not_active) */
  const char *roles_msg;
  int (*run)(const struct op_ctx *c);
} op_table[] = {
    {"query", OP_READS, ROLES_QUERY, 0, 0, "only analysts and providers may run queries", op_query},
    {"upload_begin", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers may upload tables", op_upload_begin},
    {"upload_chunk", OP_WRITES, ROLES_PROVIDER, 1, 0, "only providers may upload tables", op_upload_chunk},
    {"upload_commit", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers may upload tables", op_upload_commit},
    {"upload_abort", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers may upload tables", op_upload_abort},
    {"tables", OP_READS, ROLES_ALL, 0, 0, NULL, op_tables},
    {"grant", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers own tables and grant access to them", op_grant},
    {"revoke_grant", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers own tables and grant access to them", op_revoke_grant},
    {"hide", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers own tables and hide their columns", op_hide},
    {"drop", OP_WRITES, ROLES_PROVIDER, 0, 0, "only providers own tables and drop them", op_drop},
    {"rule", OP_BY_ACTION, ROLES_ALL, 1, 0, NULL, op_rule},
    {"template", OP_BY_ACTION, ROLES_ALL, 0, 0, NULL, op_template},
    {"audit", OP_READS, ROLES_ALL, 0, 0, NULL, op_audit},
    {"audit_head", OP_READS, ROLES_ALL, 0, 1, NULL, op_audit_head},
    {"close", OP_READS, ROLES_ALL, 0, 1, NULL, op_close},
    {"contract", OP_READS, ROLES_ALL, 0, 1, NULL, op_contract},
    {"contract_propose", OP_WRITES, ROLES_ALL, 1, 1, NULL, op_contract_propose},
    {"contract_sign", OP_WRITES, ROLES_ALL, 1, 1, NULL, op_contract_sign},
    {"limits", OP_READS, ROLES_ALL, 0, 0, NULL, op_limits},
    {"limits_set", OP_READS, ROLES_ALL, 0, 0, NULL, op_limits_set},
    {"cursor", OP_READS, ROLES_QUERY, 0, 0, "only analysts and providers run queries and read their results", op_cursor},
};

/* Whether op, with this header, changes the room.  rule and template
 * (OP_BY_ACTION): "show" (rule's default) and "list" read; set, remove,
 * propose, approve, reject, withdraw change the room.  An unknown action
 * is refused by the op itself, changing nothing, so it may go either way:
 * it goes exclusive, the safe side.  A query under a template is the
 * query op, a read. */
static int op_writes(const struct op_entry *op, const json_t *hdr) {
  if (op->writes != OP_BY_ACTION)
    return op->writes;
  const char *a = json_string_value(json_object_get(hdr, "action"));
  return !(a == NULL || strcmp(a, "show") == 0 || strcmp(a, "list") == 0);
}

/* upload_set_reap's test: the session is in the table and not expired. */
static int session_alive(void *ctx, const uint8_t sid[CDR_SESSION_ID_LEN]) {
  struct enclave *e = ctx;
  return session_table_alive(&e->sessions, sid, enclave_now(e));
}

/* The session's user as the engine sees it: name, role, and the SHA-256
 * of the certified key's SubjectPublicKeyInfo.  Once a contract version
 * is active, the name and roles are the contract's (checked at every
 * request, so a version that removes or narrows a member takes effect
 * on its open sessions at once); *roles is the ROLE_BIT set the session
 * may use, 0 for a key only in the pending version.  Before any version
 * is active, the certificate's name and role (which then serve only the
 * contract operations: ops_run_gated refuses the rest). */
static int principal_of(const struct enclave *e, const struct session *s, struct engine_principal *p,
                        unsigned *roles) {
  const struct contract_version *cur = contract_state_current(&e->contract);
  long m = cur != NULL ? cdr_contract_find_member(&cur->c, s->key_fp) : -1;
  memset(p, 0, sizeof(*p));
  p->name = s->name;
  p->role = s->role;
  memcpy(p->key_fp, s->key_fp, sizeof(p->key_fp)); /* computed once, at open */
  *roles = s->role >= CDR_ROLE_ANALYST && s->role <= CDR_ROLE_AUDITOR ? ROLE_BIT(s->role) : 0;
  if (cur == NULL)
    return 0;
  *roles = 0;
  if (m < 0)
    return 0;
  unsigned cr = cur->c.members[m].roles;
  *roles = ((cr & CDR_CONTRACT_ROLE_ANALYST) ? ROLE_BIT(CDR_ROLE_ANALYST) : 0) |
           ((cr & CDR_CONTRACT_ROLE_PROVIDER) ? ROLE_BIT(CDR_ROLE_PROVIDER) : 0) |
           ((cr & CDR_CONTRACT_ROLE_AUDITOR) ? ROLE_BIT(CDR_ROLE_AUDITOR) : 0);
  p->name = cur->c.members[m].name;
  p->analyst = (cr & CDR_CONTRACT_ROLE_ANALYST) != 0;
  /* The engine's one role (grants to role:NAME): the certificate's if the
   * contract gives it, else the widest the contract gives. */
  if ((*roles & ROLE_BIT(s->role)) == 0)
    p->role = (cr & CDR_CONTRACT_ROLE_PROVIDER)  ? CDR_ROLE_PROVIDER
              : (cr & CDR_CONTRACT_ROLE_ANALYST) ? CDR_ROLE_ANALYST
                                                 : CDR_ROLE_AUDITOR;
  return 0;
}

/* The refusal of an operation to a key outside the active contract. */
static int not_member(const struct op_ctx *c, const struct session *s) {
  char msg[CDR_MAX_NAME_LEN + 192], hex[65];
  cdr_hex_encode(hex, s->key_fp, sizeof(s->key_fp));
  snprintf(msg, sizeof(msg),
           "certificate %s, key %s, is not a member of the room's active contract: it may only read and sign a "
           "pending version that lists it",
           s->name, hex);
  return op_fail(c, CDR_ERR_NOT_A_MEMBER, msg);
}

static int ops_run_gated(struct enclave *e, const struct session *s, const struct op_entry *op, int writes,
                         json_t *hdr, struct cdr_buf *in, struct op_ctx *c);

int ops_run(struct enclave *e, const struct session *s, const uint8_t *pt, size_t ptlen, struct cdr_buf *out,
            struct enclave_op_outcome *res) {
  struct cdr_buf in;
  struct op_ctx c;
  const struct op_entry *op = NULL;
  const uint8_t *hdr_bytes;
  const char *name = NULL;
  size_t hdr_len;
  json_error_t jerr;
  json_t *hdr = NULL;
  int r;
  memset(res, 0, sizeof(*res));
  res->status = CDR_STATUS_FAILED;
  memset(&c, 0, sizeof(c));
  c.e = e;
  c.out = out;
  c.res = res;
  cdr_buf_view(&in, pt, ptlen);
  if ((r = cdr_buf_get_lp(&in, &hdr_bytes, &hdr_len, MAX_HEADER_JSON)) != 0)
    return op_fail(&c, CDR_ERR_ARG, "request plaintext must start with lp(header JSON)");
  hdr = json_loadb((const char *)hdr_bytes, hdr_len, JSON_REJECT_DUPLICATES, &jerr);
  if (hdr == NULL || !json_is_object(hdr)) {
    json_decref(hdr);
    return op_fail(&c, CDR_ERR_BAD_JSON, "request header is not a JSON object");
  }
  name = json_string_value(json_object_get(hdr, "op"));
  for (size_t i = 0; name != NULL && i < sizeof(op_table) / sizeof(op_table[0]); i++)
    if (strcmp(name, op_table[i].name) == 0)
      op = &op_table[i];
  if (op != NULL)
    audit_set(e, "op", json_string(op->name));
  if (op == NULL) {
    r = op_fail(&c, CDR_ERR_ARG,
                "unknown \"op\" (expected query, upload_begin, upload_chunk, upload_commit, upload_abort, tables, "
                "grant, revoke_grant, hide, drop, rule, template, audit, audit_head, close, contract, contract_propose, "
                "contract_sign, limits, limits_set or cursor)");
  } else {
    int writes = op_writes(op, hdr);
    if (writes)
      gate_write_enter(e);
    else
      gate_read_enter(e);
    r = ops_run_gated(e, s, op, writes, hdr, &in, &c);
    gate_leave(e);
  }
  json_decref(hdr);
  return r;
}

/* ops_run's part under the room gate (shared for reads, exclusive for
 * writes): the contract and catalog it reads cannot change meanwhile. */
static int ops_run_gated(struct enclave *e, const struct session *s, const struct op_entry *op, int writes,
                         json_t *hdr, struct cdr_buf *in_buf, struct op_ctx *cp) {
  struct engine_principal who;
  struct op_ctx c = *cp;
  struct cdr_buf in = *in_buf;
  unsigned roles = 0;
  int r;
  /* Uploads of sessions that have ended (expired, evicted) go first:
   * their staging tables must not outlive them.  Only a change may drop
   * them (it holds the gate exclusive). */
  if (writes)
    upload_set_reap(&e->uploads, e->engine, enclave_now(e), session_alive, e);
  if (principal_of(e, s, &who, &roles) != 0) {
    r = op_fail(&c, CDR_ERR_INTERNAL, "cannot identify the session's key");
  } else if (contract_state_current(&e->contract) == NULL && !op->not_member) {
    /* Before version 1 is active nobody is a member yet: the room
     * serves only what it takes to read, propose and sign the contract
     * (PROTOCOL 8.9), whatever the certificate's role says. */
    r = op_fail(&c, CDR_ERR_CONTRACT_NOT_ACTIVE,
                "this room has no active contract yet: its members must sign version 1 (cdr contract); until then "
                "only contract, contract_propose, contract_sign, audit_head and close are served");
  } else if (roles == 0 && contract_state_current(&e->contract) != NULL && !op->not_member) {
    r = not_member(&c, s);
  } else if (roles == 0 && contract_state_current(&e->contract) != NULL && strcmp(op->name, "close") != 0 &&
             contract_state_key(&e->contract, s->key_fp, enclave_now(e)) != CONTRACT_KEY_PENDING) {
    /* A pending-only session's standing, again at every request: the
     * pending version that listed its key may have been replaced or
     * have expired since the session opened. */
    r = not_member(&c, s);
  } else if (!op->not_member && (op->roles & roles) == 0) {
    r = op_fail(&c, CDR_ERR_ROLE, op->roles_msg);
  } else if (!op->payload && cdr_buf_avail(&in) > 0) {
    r = op_fail(&c, CDR_ERR_ARG, "this operation carries no payload");
  } else {
    c.who = &who;
    c.hdr = hdr;
    c.payload = cdr_buf_ptr(&in);
    c.payload_len = cdr_buf_avail(&in);
    c.sid = s->id;
    c.caller.key_fp = s->key_fp;
    c.caller.spki = s->user_spki;
    c.caller.spki_len = s->user_spki_len;
    r = op->run(&c);
  }
  if (strncmp(op->name, "upload_", 7) == 0 && c.res->status != CDR_STATUS_OK)
    upload_drop_session(&e->uploads, e->engine, s->id);
  return r;
}
