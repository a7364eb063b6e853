/*
 * engine_persist.c - what the persistence layer (persist.c) needs from
 * the SQLite engine: the catalog, every row of a table, and rebuilding a
 * table from sealed state.  See engine.h.
 *
 * All of it runs in the policy's internal mode: the enclave itself is
 * acting, not a user.  A table whose file did not load is kept in the
 * catalog only, marked unavailable (engine_restore_unavailable); one
 * still loading, marked loading too, with its rows in a staging table
 * until its last chunk (engine_restore_finish).
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_int.h"
#include "tablefile.h"

const struct catalog *engine_catalog(const struct cdr_engine *e) { return &e->catalog; }

int engine_table_rows(struct cdr_engine *e, const char *name,
                      int (*fn)(void *ctx, const struct tf_value *vals, size_t ncols), void *ctx) {
  const struct catalog_table *t = catalog_find(&e->catalog, name);
  struct tf_value vals[CDR_MAX_COLUMNS];
  sqlite3_stmt *st = NULL;
  char *sql;
  int r = 0, rc;
  if (t == NULL)
    return CDR_ERR_NOT_FOUND;
  if (t->unavailable != NULL)
    return CDR_ERR_TABLE_UNAVAILABLE;
  if ((sql = sqlite3_mprintf("SELECT * FROM \"%w\"", t->name)) == NULL)
    return CDR_ERR_NOMEM;
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  rc = sqlite3_prepare_v3(e->db, sql, -1, 0, &st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK || (size_t)sqlite3_column_count(st) != t->ncols) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (size_t c = 0; c < t->ncols; c++) {
      struct tf_value *v = &vals[c];
      memset(v, 0, sizeof(*v));
      switch (sqlite3_column_type(st, (int)c)) {
      case SQLITE_NULL: v->type = TF_NULL; break;
      case SQLITE_INTEGER:
        v->type = TF_INT;
        v->i = sqlite3_column_int64(st, (int)c);
        break;
      case SQLITE_FLOAT:
        v->type = TF_REAL;
        v->d = sqlite3_column_double(st, (int)c);
        break;
      case SQLITE_TEXT:
        v->type = TF_TEXT;
        v->p = sqlite3_column_text(st, (int)c);
        v->n = (size_t)sqlite3_column_bytes(st, (int)c);
        break;
      default:
        v->type = TF_BLOB;
        v->p = sqlite3_column_blob(st, (int)c);
        v->n = (size_t)sqlite3_column_bytes(st, (int)c);
        break;
      }
    }
    if ((r = fn(ctx, vals, t->ncols)) != 0)
      goto out;
  }
  if (rc != SQLITE_DONE)
    r = CDR_ERR_INTERNAL;
out:
  sqlite3_finalize(st);
  policy_set_mode(&e->policy, POLICY_USER);
  return r;
}

/* Run one internal statement (no policy); 0 or CDR_ERR_INTERNAL. */
static int restore_exec(struct cdr_engine *e, const char *sql) {
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  int rc = sqlite3_exec(e->db, sql, NULL, NULL, NULL);
  policy_set_mode(&e->policy, POLICY_USER);
  return rc == SQLITE_OK ? 0 : CDR_ERR_INTERNAL;
}

int engine_restore_pending(struct cdr_engine *e, struct catalog_table *t) {
  int r = engine_restore_unavailable(e, t, "it is still loading: the server started recently; retry shortly");
  if (r == 0)
    t->loading = 1; /* the engine holds t now, in its catalog */
  return r;
}

int engine_restore_chunk_begin(struct cdr_engine *e, const char *name, const char *stage) {
  const struct catalog_table *t = catalog_find(&e->catalog, name);
  sqlite3_str *c = sqlite3_str_new(NULL), *i = sqlite3_str_new(NULL);
  char *create = NULL, *insert = NULL;
  int r = CDR_ERR_INTERNAL;
  if (t != NULL && t->loading && e->restore_ins == NULL) {
    sqlite3_str_appendf(c, "CREATE TABLE IF NOT EXISTS \"%w\"(", stage);
    sqlite3_str_appendf(i, "INSERT INTO \"%w\" VALUES(", stage);
    for (size_t k = 0; k < t->ncols; k++) {
      sqlite3_str_appendf(c, "%s\"%w\" %s", k ? ", " : "", t->cols[k].name, t->cols[k].type);
      sqlite3_str_appendf(i, "%s?", k ? "," : "");
    }
    sqlite3_str_appendall(c, ")");
    sqlite3_str_appendall(i, ")");
  }
  create = sqlite3_str_finish(c);
  insert = sqlite3_str_finish(i);
  if (t != NULL && t->loading && e->restore_ins == NULL && create != NULL && insert != NULL &&
      restore_exec(e, "BEGIN") == 0) {
    policy_set_mode(&e->policy, POLICY_INTERNAL);
    if (sqlite3_exec(e->db, create, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v3(e->db, insert, -1, SQLITE_PREPARE_PERSISTENT, &e->restore_ins, NULL) == SQLITE_OK)
      r = 0;
    else
      (void)sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
    policy_set_mode(&e->policy, POLICY_USER);
  }
  sqlite3_free(create);
  sqlite3_free(insert);
  return r;
}

int engine_restore_row(struct cdr_engine *e, const struct tf_value *vals, size_t ncols) {
  sqlite3_stmt *st = e->restore_ins;
  int rc = SQLITE_OK;
  if (st == NULL || (int)ncols != sqlite3_bind_parameter_count(st))
    return CDR_ERR_INTERNAL;
  for (size_t c = 0; c < ncols && rc == SQLITE_OK; c++) {
    const struct tf_value *v = &vals[c];
    int col = (int)c + 1;
    switch (v->type) {
    case TF_NULL: rc = sqlite3_bind_null(st, col); break;
    case TF_INT: rc = sqlite3_bind_int64(st, col, v->i); break;
    case TF_REAL: rc = sqlite3_bind_double(st, col, v->d); break;
    case TF_TEXT:
      rc = v->n > INT32_MAX ? SQLITE_TOOBIG : sqlite3_bind_text(st, col, (const char *)v->p, (int)v->n, SQLITE_STATIC);
      break;
    case TF_BLOB:
      rc = v->n > INT32_MAX ? SQLITE_TOOBIG : sqlite3_bind_blob(st, col, v->p, (int)v->n, SQLITE_STATIC);
      break;
    default: rc = SQLITE_MISMATCH;
    }
  }
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
    rc = SQLITE_OK;
  policy_set_mode(&e->policy, POLICY_USER);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_OK ? 0 : CDR_ERR_INTERNAL;
}

int engine_restore_chunk_end(struct cdr_engine *e, int ok) {
  int r = 0;
  if (e->restore_ins == NULL)
    return CDR_ERR_INTERNAL;
  sqlite3_finalize(e->restore_ins);
  e->restore_ins = NULL;
  if (ok && (r = restore_exec(e, "COMMIT")) != 0)
    ok = 0;
  if (!ok)
    (void)restore_exec(e, "ROLLBACK");
  return r;
}

int engine_restore_finish(struct cdr_engine *e, const char *name, const char *stage, int ok, uint64_t rows,
                          const char *reason) {
  struct catalog_table *t = catalog_find(&e->catalog, name);
  char *sql;
  int r = 0;
  if (t == NULL || !t->loading || e->restore_ins != NULL)
    return CDR_ERR_INTERNAL;
  if (ok) {
    /* The one step that makes the table visible, under the exclusive gate. */
    if ((sql = sqlite3_mprintf("ALTER TABLE \"%w\" RENAME TO \"%w\"", stage, t->name)) == NULL)
      return CDR_ERR_NOMEM;
    r = restore_exec(e, sql);
    sqlite3_free(sql);
    if (r != 0)
      return r; /* still loading: the caller ends it with ok = 0 */
    free(t->unavailable);
    t->unavailable = NULL;
    t->loading = 0;
    t->rows = rows;
    return 0;
  }
  if ((sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\"", stage)) == NULL)
    return CDR_ERR_NOMEM;
  (void)restore_exec(e, sql);
  sqlite3_free(sql);
  char *why = strdup(reason != NULL && reason[0] ? reason : "its sealed file did not load");
  if (why == NULL)
    return CDR_ERR_NOMEM;
  free(t->unavailable);
  t->unavailable = why;
  t->loading = 0;
  return 0;
}

void engine_restore_counts(const struct cdr_engine *e, size_t *loading, size_t *total) {
  *loading = 0;
  *total = e->catalog.n;
  for (size_t i = 0; i < e->catalog.n; i++)
    if (e->catalog.tables[i]->loading)
      (*loading)++;
}

int engine_restore_unavailable(struct cdr_engine *e, struct catalog_table *t, const char *reason) {
  int exists = 0;
  sqlite3_stmt *st = NULL;
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if (catalog_find(&e->catalog, t->name) == NULL &&
      sqlite3_prepare_v3(e->db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE", -1, 0, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC) == SQLITE_OK)
    exists = sqlite3_step(st) != SQLITE_DONE;
  else
    exists = 1;
  sqlite3_finalize(st);
  policy_set_mode(&e->policy, POLICY_USER);
  if (exists || catalog_reserve(&e->catalog) != 0) {
    catalog_table_free(t);
    return CDR_ERR_INTERNAL;
  }
  if ((t->unavailable = strdup(reason != NULL && reason[0] ? reason : "its sealed file did not load")) == NULL) {
    catalog_table_free(t);
    return CDR_ERR_NOMEM;
  }
  return catalog_put(&e->catalog, t); /* cannot fail after catalog_reserve */
}

int engine_table_loading(const struct cdr_engine *e, char **errmsg, const char *name) {
  size_t loading = 0, total = 0;
  engine_restore_counts(e, &loading, &total);
  return engine_set_err(errmsg, CDR_ERR_ROOM_LOADING,
                        "table %s is still loading: the server started recently and loads its sealed tables in the "
                        "background (%zu of %zu tables still loading); retry shortly",
                        name, loading, total);
}
