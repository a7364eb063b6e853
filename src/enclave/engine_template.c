/*
 * engine_template.c - compiling and running approved query templates
 * (engine.h: engine_template_inspect, engine_template_run; docs/RULES.md
 * "Approved queries").
 *
 * Which tables a template reads is SQLite's answer, not a guess from the
 * text: the text is prepared on the engine's own connection under the
 * room's authorizer, which records every room table a read was checked
 * on (policy_touched) and refuses every write, ATTACH, PRAGMA and the
 * rest as for any query.  To learn the tables without the caller's
 * access getting in the way, inspect allows every column of every
 * available table for that one prepare (policy_approve); nothing is
 * stepped, so no row is read.  A run allows only the columns of the
 * tables whose owners approved, and binds the values with
 * sqlite3_bind_*: a value is data, never SQL.
 *
 * Invariants: every engine_user_begin is paired with engine_user_end
 * (which clears the approved columns); the statement is finalized on
 * every path.
 */
#include "engine.h"
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "common/util.h"

void engine_template_info_free(struct engine_template_info *info) {
  if (info == NULL)
    return;
  for (size_t i = 0; i < info->ntables; i++)
    free(info->tables[i]);
  for (size_t i = 0; i < info->nparams; i++)
    free(info->params[i]);
  free(info->tables);
  free(info->params);
  memset(info, 0, sizeof(*info));
}

/* The text's own checks, as engine_query_render makes them. */
static int text_check(const char *sql, size_t len, size_t *start, char **errmsg) {
  if (sql == NULL || len > CDR_MAX_SQL_LEN)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the template's SQL is over %u bytes", CDR_MAX_SQL_LEN);
  if (memchr(sql, '\0', len) != NULL)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text contains a NUL byte");
  if (!cdr_utf8_valid((const uint8_t *)sql, len))
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text is not valid UTF-8");
  if ((*start = engine_sql_skip_blank(sql, len, 0)) == len)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the template holds no statement");
  return 0;
}

/* Allow every column of t, and opening it (column ""), for the
 * statement about to be prepared. */
static int approve_table(struct cdr_engine *e, const struct catalog_table *t) {
  int r = policy_approve(&e->policy, t->name, "");
  for (size_t k = 0; r == 0 && k < t->ncols; k++)
    r = policy_approve(&e->policy, t->name, t->cols[k].name);
  return r;
}

/* Prepare and check sql (after engine_user_begin and the approvals). */
static int prepare(struct cdr_engine *e, const char *sql, size_t len, size_t start, sqlite3_stmt **st,
                   char **errmsg) {
  const char *tail = NULL;
  int rc = sqlite3_prepare_v3(e->db, sql + start, (int)(len - start), 0, st, &tail);
  if (policy_denial(&e->policy) != NULL || rc == SQLITE_AUTH) {
    const char *why = policy_denial(&e->policy);
    return engine_set_err(errmsg, why != NULL ? policy_denial_code(&e->policy) : CDR_ERR_SQL_DENIED, "%s",
                          why != NULL ? why : "the statement is not allowed");
  }
  if (rc != SQLITE_OK)
    return (rc & 0xff) == SQLITE_NOMEM ? engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory")
                                       : engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", sqlite3_errmsg(e->db));
  if (*st == NULL)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the template holds no statement");
  return engine_check_statement(e, *st, sql, len, start, tail, errmsg);
}

/* A parameter name after its ':' is [A-Za-z_][A-Za-z0-9_]{0,63}. */
static int param_name_ok(const char *p) {
  size_t n = strlen(p);
  if (n == 0 || n > 64 || !((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++)
    if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
          p[i] == '_'))
      return 0;
  return 1;
}

static int collect(struct cdr_engine *e, sqlite3_stmt *st, struct engine_template_info *info, char **errmsg) {
  const struct policy_names *t = policy_touched(&e->policy);
  int np = sqlite3_bind_parameter_count(st);
  if (t->n == 0)
    return engine_set_err(errmsg, CDR_ERR_ARG, "the template reads no room table: there is nothing to approve");
  if ((info->tables = calloc(t->n, sizeof(char *))) == NULL ||
      (np > 0 && (info->params = calloc((size_t)np, sizeof(char *))) == NULL))
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < t->n; i++) {
    if ((info->tables[i] = strdup(t->v[i])) == NULL)
      return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    info->ntables = i + 1;
  }
  for (int i = 1; i <= np; i++) {
    const char *name = sqlite3_bind_parameter_name(st, i);
    if (name == NULL || name[0] != ':' || !param_name_ok(name + 1))
      return engine_set_err(errmsg, CDR_ERR_ARG,
                            "parameter %d of the template is not of the form :name (letters, digits and _, at most "
                            "64): ?, ?N, @name and $name are not accepted",
                            i);
    if ((info->params[info->nparams] = strdup(name + 1)) == NULL)
      return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    info->nparams++;
  }
  return 0;
}

int engine_template_inspect(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                            struct engine_template_info *info, char **errmsg) {
  sqlite3_stmt *st = NULL;
  size_t start = 0;
  int r;
  memset(info, 0, sizeof(*info));
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((r = text_check(sql, len, &start, errmsg)) != 0)
    return r;
  engine_user_begin(e, who);
  for (size_t i = 0; r == 0 && i < e->catalog.n; i++)
    if (e->catalog.tables[i]->unavailable == NULL)
      r = approve_table(e, e->catalog.tables[i]);
  if (r != 0)
    r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  if (r == 0 && (r = prepare(e, sql, len, start, &st, errmsg)) != 0) {
    r = engine_uniform_refusal(e, who, sql, len, r, errmsg);
    /* Every column of every table was approved for this prepare, so
     * SQLite's "no such column" would tell a missing column from one a
     * rule hides (or that the proposer may not read): one answer for all
     * of them (review).  A text that compiles still tells the proposer
     * the columns exist: docs/RULES.md, "What proposing reveals". */
    if (r == CDR_ERR_SQL_ERROR && errmsg != NULL && *errmsg != NULL && strncmp(*errmsg, "no such column", 14) == 0) {
      free(*errmsg);
      *errmsg = NULL;
      r = engine_set_err(errmsg, CDR_ERR_SQL_ERROR,
                         "the template does not compile: it names a column that does not exist or that you may not "
                         "see");
    }
  }
  if (r == 0)
    r = collect(e, st, info, errmsg);
  sqlite3_finalize(st);
  engine_user_end(e);
  if (r != 0)
    engine_template_info_free(info);
  return r;
}

static int bind_values(sqlite3_stmt *st, const struct engine_param_value *vals, size_t nvals, char **errmsg) {
  int np = sqlite3_bind_parameter_count(st);
  char key[80];
  for (size_t i = 0; i < nvals; i++) {
    int rc = SQLITE_OK;
    snprintf(key, sizeof(key), ":%s", vals[i].name);
    int idx = sqlite3_bind_parameter_index(st, key);
    if (idx <= 0)
      return engine_set_err(errmsg, CDR_ERR_ARG, "the template has no parameter %s", vals[i].name);
    switch (vals[i].type) {
    case ENGINE_PARAM_INTEGER: rc = sqlite3_bind_int64(st, idx, vals[i].i); break;
    case ENGINE_PARAM_REAL: rc = sqlite3_bind_double(st, idx, vals[i].d); break;
    case ENGINE_PARAM_TEXT: rc = sqlite3_bind_text64(st, idx, vals[i].s, vals[i].slen, SQLITE_TRANSIENT, SQLITE_UTF8); break;
    }
    if (rc != SQLITE_OK)
      return engine_set_err(errmsg, rc == SQLITE_NOMEM ? CDR_ERR_NOMEM : CDR_ERR_TOO_LARGE,
                            "cannot bind parameter %s", vals[i].name);
  }
  if ((size_t)np != nvals)
    return engine_set_err(errmsg, CDR_ERR_ARG, "the template takes %d parameters; %zu were given", np, nvals);
  return 0;
}

int engine_template_run(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                        const char *const *tables, size_t ntables, const struct engine_param_value *vals,
                        size_t nvals, struct cdr_buf *out, uint64_t *rows_out, char **errmsg) {
  sqlite3_stmt *st = NULL;
  size_t start = 0;
  uint64_t rows = 0;
  int r;
  if (rows_out != NULL)
    *rows_out = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((r = text_check(sql, len, &start, errmsg)) != 0)
    return r;
  engine_user_begin(e, who);
  for (size_t i = 0; r == 0 && i < ntables; i++) {
    const struct catalog_table *t = catalog_find(&e->catalog, tables[i]);
    if (t != NULL && t->loading) /* after the start: the client asks again */
      r = engine_table_loading(e, errmsg, t->name);
    else if (t == NULL || t->unavailable != NULL)
      r = engine_set_err(errmsg, t == NULL ? CDR_ERR_NOT_FOUND : CDR_ERR_TABLE_UNAVAILABLE,
                         "table %s, which the template reads, is %s", tables[i],
                         t == NULL ? "gone" : "unavailable");
    else if (approve_table(e, t) != 0)
      r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  }
  if (r == 0 && (r = prepare(e, sql, len, start, &st, errmsg)) == 0 && (r = bind_values(st, vals, nvals, errmsg)) == 0)
    r = engine_render_result(e, st, out, &rows, errmsg);
  sqlite3_finalize(st);
  engine_user_end(e);
  if (r == 0 && rows_out != NULL)
    *rows_out = rows;
  return r;
}
