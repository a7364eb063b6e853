/*
 * engine_check.c - what a user statement must pass after SQLite has
 * prepared it under the authorizer and before it runs (engine_int.h:
 * engine_check_statement): one statement only, read-only, a query by its
 * first keyword, and a compiled program that reads nothing the
 * principal may not read.
 *
 * Why the program is checked too: SQLite does not show the authorizer
 * the columns that a JOIN ... USING or NATURAL JOIN compares, and
 * statements such as VACUUM never reach the authorizer at all.  The
 * program (EXPLAIN of the same text, prepared in the policy's internal
 * mode: EXPLAIN lists it, it does not run it) shows every table cursor
 * and every column read; each must be on a room table (never an
 * upload's staging table, which is not in the catalog) and readable by
 * the principal, by the policy's own rules and in its own words.
 *
 * The policy is left in user mode on every path.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- the text ---- */

size_t engine_sql_skip_blank(const char *s, size_t n, size_t i) {
  while (i < n) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == ';') {
      i++;
    } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      for (i += 2; i < n && s[i] != '\n'; i++)
        ;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      for (i += 2; i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'); i++)
        ;
      i = i + 1 < n ? i + 2 : n;
    } else {
      break;
    }
  }
  return i;
}

/* The statement at s[0..n) starts with SELECT, WITH or VALUES. */
static int sql_starts_with_query(const char *s, size_t n) {
  static const char *const kw[] = {"SELECT", "WITH", "VALUES"};
  for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
    size_t m = strlen(kw[k]);
    if (n >= m && sqlite3_strnicmp(s, kw[k], (int)m) == 0) {
      char c = n > m ? s[m] : ' ';
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
            (unsigned char)c >= 0x80))
        return 1;
    }
  }
  return 0;
}

/* ---- the compiled program ---- */

/* The VDBE opcodes check_program looks at (names as EXPLAIN prints them). */
enum prog_op { PROG_OPEN_READ, PROG_OPEN_WRITE, PROG_OPEN_DUP, PROG_COLUMN, PROG_ROW_DATA };

struct prog_ins {
  enum prog_op op;
  long long p1, p2, p3;
  int p5;
};

/* SQLite's OPFLAG_P2ISREG (sqliteInt.h): OpenRead's root page comes from a
 * register. */
#define ENGINE_OPFLAG_P2ISREG 0x10
/* Cursor numbers beyond this are not expected from one statement. */
#define ENGINE_MAX_CURSORS 65536

static int prog_op_of(const char *name, enum prog_op *op) {
  static const struct {
    const char *name;
    enum prog_op op;
  } ops[] = {{"OpenRead", PROG_OPEN_READ}, {"ReopenIdx", PROG_OPEN_READ}, {"OpenWrite", PROG_OPEN_WRITE},
             {"OpenDup", PROG_OPEN_DUP},   {"Column", PROG_COLUMN},       {"RowData", PROG_ROW_DATA},
             {"RowCell", PROG_ROW_DATA}};
  for (size_t i = 0; name != NULL && i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(name, ops[i].name) == 0) {
      *op = ops[i].op;
      return 1;
    }
  }
  return 0;
}

/* The room table whose b-tree starts at root page `page` of main, or NULL. */
static const struct catalog_table *table_at_root(struct cdr_engine *e, long long page, int *rc) {
  sqlite3_stmt *st = NULL;
  const struct catalog_table *t = NULL;
  *rc = sqlite3_prepare_v3(e->db, "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND rootpage = ?1", -1, 0,
                           &st, NULL);
  if (*rc == SQLITE_OK && (*rc = sqlite3_bind_int64(st, 1, page)) == SQLITE_OK) {
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW)
      t = catalog_find(&e->catalog, (const char *)sqlite3_column_text(st, 0));
    if (*rc == SQLITE_ROW || *rc == SQLITE_DONE)
      *rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return t;
}

/* Collect the instructions of the program of stmt[0..n) that open or
 * read table cursors, by preparing it again under EXPLAIN (internal
 * mode: EXPLAIN lists the program, it does not run it). */
static int program_read(struct cdr_engine *e, const char *stmt, size_t n, struct prog_ins **out, size_t *nout,
                        char **errmsg) {
  struct prog_ins *v = NULL, *nv;
  size_t cnt = 0, cap = 0;
  sqlite3_stmt *st = NULL;
  char *sql;
  int r = 0, rc;

  *out = NULL;
  *nout = 0;
  if ((sql = sqlite3_mprintf("EXPLAIN %.*s", (int)n, stmt)) == NULL)
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  if ((rc = sqlite3_prepare_v3(e->db, sql, -1, 0, &st, NULL)) != SQLITE_OK) {
    /* The statement itself prepared, but EXPLAIN of it can still fail on
     * the SQL (one more level for SQLite's parser: "parser stack
     * overflow" for deeply nested expressions): the user's to fix, and
     * the statement does not run unchecked. */
    if ((rc & 0xff) == SQLITE_ERROR)
      r = engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the statement could not be checked: %s", sqlite3_errmsg(e->db));
    else
      r = engine_sqlite_fail(e, rc, errmsg, "checking the statement failed");
    goto out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    enum prog_op op;
    if (!prog_op_of((const char *)sqlite3_column_text(st, 1), &op))
      continue;
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
        r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
        goto out;
      }
      v = nv;
    }
    v[cnt].op = op;
    v[cnt].p1 = sqlite3_column_int64(st, 2);
    v[cnt].p2 = sqlite3_column_int64(st, 3);
    v[cnt].p3 = sqlite3_column_int64(st, 4);
    v[cnt].p5 = sqlite3_column_int(st, 6);
    cnt++;
  }
  if (rc != SQLITE_DONE) {
    r = e->budget.timed_out
            ? engine_set_err(errmsg, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of %u ms", e->time_limit_ms)
        : e->meter.exceeded ? engine_memory_err(e, errmsg)
                            : engine_sqlite_fail(e, rc, errmsg, "checking the statement failed");
    goto out;
  }
  *out = v;
  *nout = cnt;
  v = NULL;
out:
  sqlite3_finalize(st);
  sqlite3_free(sql);
  free(v);
  return r;
}

/* Check the program of the user statement stmt[0..n), already prepared
 * and authorised: every table cursor must be on a room table the
 * principal may access (OpenRead of anything else, OpenWrite, or a
 * schema other than main is refused), and every column read from one
 * (Column; RowData reads them all) must be readable by the principal.
 * The denial is the policy's sentence.  This is what catches the
 * columns of JOIN ... USING and NATURAL JOIN, which SQLite never shows
 * the authorizer.  Cursor numbers are unique within a program, so the
 * cursors are mapped first and the reads checked after, whatever the
 * order in which the program jumps between them. */
static int check_program(struct cdr_engine *e, const char *stmt, size_t n, char **errmsg) {
  struct prog_ins *ins = NULL;
  const struct catalog_table **cur = NULL;
  size_t nins = 0, ncur = 0;
  int r, rc, changed;

  policy_set_mode(&e->policy, POLICY_INTERNAL);
  r = program_read(e, stmt, n, &ins, &nins, errmsg);
  if (r != 0)
    goto out;
  for (size_t i = 0; i < nins; i++)
    if (ins[i].p1 >= 0 && ins[i].p1 < ENGINE_MAX_CURSORS && (size_t)ins[i].p1 >= ncur)
      ncur = (size_t)ins[i].p1 + 1;
  if (ncur > 0 && (cur = calloc(ncur, sizeof(*cur))) == NULL) {
    r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  /* Map the table cursors. */
  for (size_t i = 0; i < nins; i++) {
    const struct prog_ins *x = &ins[i];
    const struct catalog_table *t;
    if (x->op == PROG_OPEN_WRITE) {
      r = engine_set_err(errmsg, CDR_ERR_SQL_DENIED, "writing is not allowed: queries in a data room are read-only");
      goto out;
    }
    if (x->op != PROG_OPEN_READ)
      continue;
    if (x->p1 < 0 || (size_t)x->p1 >= ncur || x->p3 != 0 || (x->p5 & ENGINE_OPFLAG_P2ISREG) != 0) {
      r = engine_set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement reads outside the room's tables");
      goto out;
    }
    if ((t = table_at_root(e, x->p2, &rc)) == NULL) {
      r = rc != SQLITE_OK ? engine_sqlite_fail(e, rc, errmsg, "checking the statement failed")
                          : engine_set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement reads outside the room's tables");
      goto out;
    }
    if (cur[x->p1] != NULL && cur[x->p1] != t) {
      r = engine_set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement's program is not understood");
      goto out;
    }
    cur[x->p1] = t;
  }
  /* Duplicated cursors read the same table. */
  do {
    changed = 0;
    for (size_t i = 0; i < nins; i++) {
      const struct prog_ins *x = &ins[i];
      if (x->op != PROG_OPEN_DUP || x->p1 < 0 || x->p2 < 0 || (size_t)x->p1 >= ncur || (size_t)x->p2 >= ncur)
        continue;
      if (cur[x->p2] != NULL && cur[x->p1] != cur[x->p2]) {
        cur[x->p1] = cur[x->p2];
        changed = 1;
      }
    }
  } while (changed);
  /* Table access for every cursor, column access for every read. */
  policy_set_mode(&e->policy, POLICY_USER);
  for (size_t i = 0; i < nins; i++) {
    const struct prog_ins *x = &ins[i];
    const struct catalog_table *t = x->p1 >= 0 && (size_t)x->p1 < ncur ? cur[x->p1] : NULL;
    if (t == NULL)
      continue; /* an ephemeral table, sorter, pseudo or virtual table cursor */
    if (x->op == PROG_OPEN_READ || x->op == PROG_OPEN_DUP) {
      rc = policy_check_read(&e->policy, t->name, "");
    } else if (x->op == PROG_COLUMN) {
      if (x->p2 < 0 || (unsigned long long)x->p2 >= t->ncols) {
        r = engine_set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement's program is not understood");
        goto out;
      }
      rc = policy_check_read(&e->policy, t->name, t->cols[x->p2].name);
    } else { /* the whole record */
      rc = SQLITE_OK;
      for (size_t k = 0; k < t->ncols && rc == SQLITE_OK; k++)
        rc = policy_check_read(&e->policy, t->name, t->cols[k].name);
    }
    if (rc != SQLITE_OK) {
      r = engine_set_err(errmsg, policy_denial_code(&e->policy), "%s", policy_denial(&e->policy));
      goto out;
    }
  }
  r = 0;
out:
  policy_set_mode(&e->policy, POLICY_USER);
  free(cur);
  free(ins);
  return r;
}

/* ---- the statement ---- */

int engine_check_statement(struct cdr_engine *e, sqlite3_stmt *st, const char *sql, size_t sqllen, size_t start,
                           const char *tail, char **errmsg) {
  if (tail == NULL || tail < sql + start || tail > sql + sqllen ||
      engine_sql_skip_blank(sql, sqllen, (size_t)(tail - sql)) != sqllen)
    return engine_set_err(errmsg, CDR_ERR_SQL_DENIED, "only one statement per request is allowed");
  if (!sqlite3_stmt_readonly(st) || sqlite3_stmt_isexplain(st) || !sql_starts_with_query(sql + start, sqllen - start))
    return engine_set_err(errmsg, CDR_ERR_SQL_DENIED,
                          "only queries (SELECT, WITH ... SELECT, VALUES) are allowed: a data room is read-only");
  return check_program(e, sql + start, (size_t)(tail - (sql + start)), errmsg);
}
