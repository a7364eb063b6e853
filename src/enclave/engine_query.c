/*
 * engine_query.c - running one user statement (engine.h:
 * engine_query_render): the text's own checks, preparing it under the
 * policy for the principal, the statement checks (engine_check.c), the
 * time limit, and rendering the result (engine_render.c).
 *
 * Contracts and invariants:
 *   - The text is at most CDR_MAX_SQL_LEN bytes of UTF-8 without NUL and
 *     holds a statement; anything else is refused before SQLite sees it.
 *   - The policy is in user mode with the call's principal from before
 *     the prepare until the statement is finalized, so a re-prepare
 *     inside sqlite3_step is checked too; afterwards the principal and
 *     any denial are cleared.
 *   - A progress handler interrupts the statement past its deadline (a
 *     monotonic clock), every ENGINE_PROGRESS_OPS virtual machine
 *     instructions; it is removed again on every path.  Inside one
 *     instruction, the functions whose cost is a product of their
 *     inputs check the same deadline (engine_funcs.c), and the rest are
 *     linear in values SQLITE_LIMIT_LENGTH bounds.
 *   - SQLite's allocations on this thread count against the query's
 *     memory limit from before the prepare until the finalize
 *     (wipe_alloc_meter_*): past it the statement fails alone with
 *     CDR_ERR_SQL_MEMORY, and the connection serves the next one.
 *   - The tables the statement read or tried to read stay listed by the
 *     policy until the next query (engine_query_tables).
 *   - A query that reads a table under its release rule (engine_rules.c)
 *     runs the checker's emitted statement only, with the policy
 *     approving exactly the columns it reads; dp queries go to
 *     engine_dp_run.  A refusal before anything ran is made uniform for
 *     tables the principal cannot read (engine_uniform_refusal).
 */
#include "engine.h"
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/utf8.h"
#include "rule.h"

/* Virtual machine instructions between two looks at the clock: one
 * instruction may build a value of up to SQLITE_LIMIT_LENGTH bytes
 * (printf, zeroblob...), so this many of them take well under a second. */
#define ENGINE_PROGRESS_OPS 200

static int engine_progress(void *arg) {
  struct cdr_engine *e = arg;
  return engine_budget_over(&e->budget);
}

void engine_user_begin(struct cdr_engine *e, const struct engine_principal *who) {
  policy_clear_touched(&e->policy);
  policy_set_mode(&e->policy, POLICY_USER);
  policy_set_principal(&e->policy, who);
  policy_clear_denial(&e->policy);
  e->budget.timed_out = 0;
  e->budget.work = 0;
  e->budget.deadline_ns = engine_mono_ns() + (uint64_t)e->time_limit_ms * 1000000u;
  sqlite3_progress_handler(e->db, ENGINE_PROGRESS_OPS, engine_progress, e);
  wipe_alloc_meter_begin(&e->meter, e->max_query_memory);
}

void engine_user_end(struct cdr_engine *e) {
  sqlite3_progress_handler(e->db, 0, NULL, NULL);
  wipe_alloc_meter_end();
  e->budget.deadline_ns = 0; /* the engine's own statements run without one */
  policy_clear_approved(&e->policy);
  policy_clear_denial(&e->policy);
  policy_set_principal(&e->policy, NULL);
}

void engine_query_tables(struct cdr_engine *e, void (*fn)(void *ud, const char *table), void *ud) {
  const struct policy_names *t = policy_touched(&e->policy);
  for (size_t i = 0; i < t->n; i++)
    fn(ud, t->v[i]);
}

/* Prepare sql[start..sqllen) for the principal already set: our code and
 * message for a denial or a statement SQLite refuses. */
static int query_prepare(struct cdr_engine *e, const char *sql, size_t sqllen, size_t start, sqlite3_stmt **st,
                         const char **tail, char **errmsg) {
  int rc = sqlite3_prepare_v3(e->db, sql + start, (int)(sqllen - start), 0, st, tail);
  if (policy_denial(&e->policy) != NULL || rc == SQLITE_AUTH) {
    const char *why = policy_denial(&e->policy);
    return engine_set_err(errmsg, why != NULL ? policy_denial_code(&e->policy) : CDR_ERR_SQL_DENIED, "%s",
                          why != NULL ? why : "the statement is not allowed");
  }
  if (rc != SQLITE_OK) {
    if (e->meter.exceeded)
      return engine_memory_err(e, errmsg);
    if (e->budget.timed_out)
      return engine_set_err(errmsg, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of %u ms", e->time_limit_ms);
    if ((rc & 0xff) == SQLITE_NOMEM)
      return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    if ((rc & 0xff) == SQLITE_TOOBIG)
      return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "%s", sqlite3_errmsg(e->db));
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", sqlite3_errmsg(e->db));
  }
  if (*st == NULL)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the request holds no statement");
  return 0;
}

/* A statement SQLite refused with "no such table: X" where X is an
 * unavailable table (its sealed file did not load) that `who` could
 * read: say so (CDR_ERR_TABLE_UNAVAILABLE, or CDR_ERR_ROOM_LOADING while
 * it is still loading after the start) instead.  To anyone else the
 * table stays unknown, as the table list has it. */
static int query_unavailable(struct cdr_engine *e, const struct engine_principal *who, int r, char **errmsg) {
  static const char prefix[] = "no such table: ";
  const struct catalog_table *t;
  const char *name;
  if (r != CDR_ERR_SQL_ERROR || errmsg == NULL || *errmsg == NULL ||
      strncmp(*errmsg, prefix, sizeof(prefix) - 1) != 0)
    return r;
  name = *errmsg + sizeof(prefix) - 1;
  const char *dot = strchr(name, '.');
  if (dot != NULL && dot - name == 4 && (name[0] | 0x20) == 'm' && (name[1] | 0x20) == 'a' &&
      (name[2] | 0x20) == 'i' && (name[3] | 0x20) == 'n')
    name = dot + 1;
  if ((t = catalog_find(&e->catalog, name)) == NULL || t->unavailable == NULL ||
      policy_table_access(t, who) == POLICY_ACCESS_NONE)
    return r;
  free(*errmsg);
  *errmsg = NULL;
  if (t->loading)
    return engine_table_loading(e, errmsg, t->name);
  return engine_set_err(errmsg, CDR_ERR_TABLE_UNAVAILABLE,
                        "table %s is unavailable (%s): ask the server's operator to put its sealed file back; its "
                        "owner can also replace or drop it",
                        t->name, t->unavailable);
}

int engine_query_render(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t sqllen,
                        struct cdr_buf *out, uint64_t *rows_out, char **errmsg) {
  return engine_query_render_paged(e, who, sql, sqllen, out, NULL, rows_out, NULL, errmsg);
}

int engine_query_render_paged(struct cdr_engine *e, const struct engine_principal *who, const char *sql,
                              size_t sqllen, struct cdr_buf *out, const struct engine_page_sink *sink,
                              uint64_t *rows_out, uint64_t *pages_out, char **errmsg) {
  sqlite3_stmt *st = NULL;
  const char *tail = NULL, *run = sql;
  struct rule_plan *plan = NULL;
  char *emitted = NULL;
  uint64_t rows = 0, pages = 0;
  size_t start, runlen = sqllen;
  int r;

  if (e != NULL)
    policy_clear_touched(&e->policy);
  if (rows_out != NULL)
    *rows_out = 0;
  if (pages_out != NULL)
    *pages_out = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || who == NULL || who->name == NULL || (sql == NULL && sqllen > 0) || out == NULL)
    return engine_set_err(errmsg, CDR_ERR_ARG, "no engine, user or SQL");
  if (sqllen > CDR_MAX_SQL_LEN)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the SQL statement is %zu bytes; the limit is %u bytes", sqllen,
                          CDR_MAX_SQL_LEN);
  if (sqllen > 0 && memchr(sql, '\0', sqllen) != NULL)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text contains a NUL byte");
  if (!cdr_utf8_valid((const uint8_t *)sql, sqllen))
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text is not valid UTF-8");
  if ((start = engine_sql_skip_blank(sql, sqllen, 0)) == sqllen)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the request holds no statement");

  engine_user_begin(e, who);

  /* Release rules first: a governed query runs the emitter's statement,
   * never the analyst's text (engine_rules.c). */
  r = engine_rules_check(e, who, sql, sqllen, &plan, &emitted, errmsg);
  if (r == 0 && rule_plan_mode(plan) == RULE_MODE_DP) {
    r = engine_dp_run(e, who, plan, out, &rows, errmsg);
    goto ran;
  }
  if (r == 0) {
    run = emitted;
    runlen = strlen(emitted);
    start = 0;
  } else if (r != RULE_UNGOVERNED) {
    goto refused;
  }
  if ((r = query_unavailable(e, who, query_prepare(e, run, runlen, start, &st, &tail, errmsg), errmsg)) != 0 ||
      (r = engine_check_statement(e, st, run, runlen, start, tail, errmsg)) != 0)
    goto refused;
  r = engine_render_result_paged(e, st, out, sink, &rows, &pages, errmsg);
ran:
  if (r == 0 && rows_out != NULL)
    *rows_out = rows;
  if (pages_out != NULL)
    *pages_out = pages; /* also after a failure: the caller discards them */
  goto out;
refused:
  /* Nothing ran: what a refusal says must not depend on the columns of
   * a table who cannot read. */
  r = engine_uniform_refusal(e, who, sql, sqllen, r, errmsg);
out:
  sqlite3_finalize(st);
  engine_rules_done(e, plan, emitted);
  engine_user_end(e);
  return r;
}

int engine_query_json(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t sqllen,
                      char **json_out, size_t *json_len, uint64_t *rows_out, char **errmsg) {
  struct cdr_buf b;
  int r;
  *json_out = NULL;
  if (json_len != NULL)
    *json_len = 0;
  cdr_buf_init(&b, SIZE_MAX, 0);
  if ((r = engine_query_render(e, who, sql, sqllen, &b, rows_out, errmsg)) == 0 &&
      (r = engine_buf_to_cstr(&b, json_out, json_len)) != 0) {
    if (rows_out != NULL)
      *rows_out = 0;
    r = engine_set_err(errmsg, r, "out of memory");
  }
  cdr_buf_free(&b);
  return r;
}
