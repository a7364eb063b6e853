/*
 * rule_emit.c - write the SQLite statement of a checked plan (rule.h).
 *
 * Written from the plan alone: tables and columns by the catalog's
 * spelling, double-quoted (quotes doubled) and qualified by instance
 * aliases of our own ("t0", "t1", ...), never the analyst's; literals
 * re-encoded (integers printed, decimal digits as the parser read them
 * after rule_check's character check, strings single-quoted with quotes
 * doubled); every operator parenthesised, so SQLite's precedence cannot
 * differ from the tree's.  The release conditions are added here:
 *   aggregate: for every instance i of a ruled table,
 *              HAVING COUNT(DISTINCT "ti"."unit") >= min_units, ANDed with
 *              the analyst's HAVING; rows below are removed.  DISTINCT
 *              counts units, not rows, so a join that repeats one unit's
 *              rows cannot lift a group over the threshold;
 *              a metric with bounds is clamped inside every aggregate but
 *              COUNT: MAX(MIN(x, hi), lo);
 *   list:      SELECT DISTINCT.
 * The statement needs a connection with double-quoted string literals
 * off (SQLITE_DBCONFIG_DQS_DML 0), so that a quoted name can never turn
 * into a string.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "engine_int.h"
#include "rule_int.h"

#define RULE_MAX_EMIT (1u * 1024u * 1024u)

struct emit {
  struct cdr_buf b;
  const struct rule_plan *p;
  int err;
};

static void put(struct emit *e, const char *s) {
  if (e->err == 0 && cdr_buf_put(&e->b, s, strlen(s)) != 0)
    e->err = CDR_ERR_TOO_LARGE;
}

static void putf(struct emit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct emit *e, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp))
    e->err = CDR_ERR_INTERNAL;
  else
    put(e, tmp);
}

/* s quoted with q, every q inside doubled. */
static void put_quoted(struct emit *e, const char *s, char q) {
  char qs[2] = {q, '\0'};
  put(e, qs);
  for (const char *c = s; *c != '\0' && e->err == 0; c++) {
    if (*c == q)
      put(e, qs);
    if (cdr_buf_put(&e->b, c, 1) != 0)
      e->err = CDR_ERR_TOO_LARGE;
  }
  put(e, qs);
}

static void put_col(struct emit *e, size_t rte, size_t col) {
  putf(e, "\"t%zu\".", rte);
  put_quoted(e, e->p->rte[rte].t->cols[col], '"');
}

static void put_bound(struct emit *e, double v) {
  putf(e, "(%.17g)", v);
}

static void put_expr(struct emit *e, const struct rx *x);

static void put_agg(struct emit *e, const struct rx *x) {
  static const char *const head[] = {"COUNT(", "COUNT(DISTINCT ", "SUM(", "SUM(DISTINCT ", "AVG(", "MIN(", "MAX("};
  if (x->nargs == 0) {
    put(e, "COUNT(*)");
    return;
  }
  const struct rx *c = x->args[0];
  const struct rule_doc *d = e->p->rte[c->rte].t->rule;
  const struct rule_column *rc = d != NULL && c->col < d->ncols ? &d->cols[c->col] : NULL;
  int clamp = rc != NULL && rc->cls == RULE_COL_METRIC && rc->has_bounds && x->op != RX_AGG_COUNT &&
              x->op != RX_AGG_COUNT_DISTINCT;
  put(e, head[x->op]);
  if (clamp) {
    put(e, "MAX(MIN(");
    put_col(e, c->rte, c->col);
    put(e, ", ");
    put_bound(e, rc->hi);
    put(e, "), ");
    put_bound(e, rc->lo);
    put(e, ")");
  } else {
    put_col(e, c->rte, c->col);
  }
  put(e, ")");
}

static void put_args(struct emit *e, const struct rx *x, size_t from, const char *sep) {
  for (size_t i = from; i < x->nargs; i++) {
    if (i > from)
      put(e, sep);
    put_expr(e, x->args[i]);
  }
}

static void put_expr(struct emit *e, const struct rx *x) {
  static const char *const cmp[] = {" = ", " <> ", " < ", " <= ", " > ", " >= "};
  static const char *const fn[] = {"LOWER(", "UPPER(", "LENGTH(", "ABS(", "ROUND("};
  switch (x->kind) {
  case RX_COL: put_col(e, x->rte, x->col); break;
  case RX_INT: putf(e, "(%lld)", (long long)x->ival); break;
  case RX_BOOL: put(e, x->ival ? "1" : "0"); break;
  case RX_REAL: put(e, "("); put(e, x->text); put(e, ")"); break;
  case RX_TEXT: put_quoted(e, x->text, '\''); break;
  case RX_AGG: put_agg(e, x); break;
  case RX_CMP: put(e, "("); put_expr(e, x->args[0]); put(e, cmp[x->op]); put_expr(e, x->args[1]); put(e, ")"); break;
  case RX_AND:
  case RX_OR: put(e, "("); put_args(e, x, 0, x->kind == RX_AND ? " AND " : " OR "); put(e, ")"); break;
  case RX_NOT: put(e, "(NOT "); put_expr(e, x->args[0]); put(e, ")"); break;
  case RX_IN:
    put(e, "(");
    put_expr(e, x->args[0]);
    put(e, x->op ? " NOT IN (" : " IN (");
    put_args(e, x, 1, ", ");
    put(e, "))");
    break;
  case RX_BETWEEN:
    put(e, "(");
    put_expr(e, x->args[0]);
    put(e, x->op ? " NOT BETWEEN " : " BETWEEN ");
    put_expr(e, x->args[1]);
    put(e, " AND ");
    put_expr(e, x->args[2]);
    put(e, ")");
    break;
  case RX_NULLTEST: put(e, "("); put_expr(e, x->args[0]); put(e, x->op ? " IS NOT NULL)" : " IS NULL)"); break;
  case RX_FUNC: put(e, fn[x->op]); put_args(e, x, 0, ", "); put(e, ")"); break;
  }
}

static void put_from(struct emit *e) {
  const struct rule_plan *p = e->p;
  put(e, " FROM ");
  for (size_t i = 0; i < p->nrte; i++) {
    if (i > 0)
      put(e, " JOIN ");
    put_quoted(e, p->rte[i].t->name, '"');
    putf(e, " AS \"t%zu\"", i);
    if (i == 0)
      continue;
    put(e, " ON (");
    for (size_t k = p->eq_end[i - 1]; k < p->eq_end[i]; k++) {
      if (k > p->eq_end[i - 1])
        put(e, " AND ");
      put_col(e, p->eq[k].ra, p->eq[k].ca);
      put(e, " = ");
      put_col(e, p->eq[k].rb, p->eq[k].cb);
    }
    put(e, ")");
  }
}

/* HAVING: the analyst's condition and one threshold per ruled instance. */
static void put_having(struct emit *e) {
  const struct rule_plan *p = e->p;
  const char *sep = " HAVING ";
  if (p->having != NULL) {
    put(e, sep);
    put_expr(e, p->having);
    sep = " AND ";
  }
  for (size_t i = 0; i < p->nrte; i++) {
    const struct rule_doc *d = p->rte[i].t->rule;
    put(e, sep);
    put(e, "COUNT(DISTINCT ");
    put_col(e, i, (size_t)d->unit_col);
    putf(e, ") >= %u", d->min_units);
    sep = " AND ";
  }
}

static void put_tail(struct emit *e) {
  const struct rule_plan *p = e->p;
  for (size_t i = 0; i < p->norder; i++)
    putf(e, "%s%zu%s", i == 0 ? " ORDER BY " : ", ", p->order[i].target, p->order[i].desc ? " DESC" : "");
  if (p->has_limit)
    putf(e, " LIMIT %lld", (long long)p->limit);
  else if (p->has_offset)
    put(e, " LIMIT -1");
  if (p->has_offset)
    putf(e, " OFFSET %lld", (long long)p->offset);
}

int rule_emit(const struct rule_plan *p, char **sql, char **errmsg) {
  struct emit e = {.p = p};
  *sql = NULL;
  if (p->mode != RULE_MODE_AGGREGATE && p->mode != RULE_MODE_LIST)
    return engine_set_err(errmsg, CDR_ERR_RULE_VIOLATION, "queries under a %s rule cannot run yet",
                          rule_mode_name(p->mode));
  for (size_t i = 0; i < p->nrte; i++)
    if (p->rte[i].t->rule == NULL || p->rte[i].t->rule->mode != p->mode)
      return engine_set_err(errmsg, CDR_ERR_INTERNAL, "the plan mixes rules");
  cdr_buf_init(&e.b, RULE_MAX_EMIT, 0);
  put(&e, p->mode == RULE_MODE_LIST || p->distinct ? "SELECT DISTINCT " : "SELECT ");
  for (size_t i = 0; i < p->ntargets; i++) {
    if (i > 0)
      put(&e, ", ");
    put_expr(&e, p->targets[i].e);
    put(&e, " AS ");
    put_quoted(&e, p->targets[i].name, '"');
  }
  put_from(&e);
  if (p->where != NULL) {
    put(&e, " WHERE ");
    put_expr(&e, p->where);
  }
  /* SQLite reads an integer literal in GROUP BY as a position, so a
   * grouping by an integer or boolean constant (which groups nothing) is
   * left out. */
  const char *gsep = " GROUP BY ";
  for (size_t i = 0; i < p->ngroup; i++) {
    if (p->group[i]->kind == RX_INT || p->group[i]->kind == RX_BOOL)
      continue;
    put(&e, gsep);
    put_expr(&e, p->group[i]);
    gsep = ", ";
  }
  if (p->mode == RULE_MODE_AGGREGATE)
    put_having(&e);
  put_tail(&e);
  if (e.err == 0 && cdr_buf_put(&e.b, "", 1) != 0)
    e.err = CDR_ERR_TOO_LARGE;
  if (e.err != 0) {
    cdr_buf_free(&e.b);
    return engine_set_err(errmsg, e.err, "the query is too large to run");
  }
  *sql = strdup((const char *)e.b.d);
  cdr_buf_free(&e.b);
  return *sql != NULL ? 0 : CDR_ERR_NOMEM;
}

/* ---- what the statement reads (rule.h: rule_plan_columns) ---- */

struct cols_walk {
  const struct rule_plan *p;
  int (*fn)(void *ctx, const char *table, const char *column);
  void *ctx;
};

static int walk_rx(const struct cols_walk *w, const struct rx *x, unsigned depth) {
  if (x == NULL)
    return 0;
  if (depth > 4u * RULE_MAX_DEPTH)
    return CDR_ERR_TOO_LARGE;
  if (x->kind == RX_COL)
    return w->fn(w->ctx, w->p->rte[x->rte].t->name, w->p->rte[x->rte].t->cols[x->col]);
  for (size_t i = 0; i < x->nargs; i++) {
    int r = walk_rx(w, x->args[i], depth + 1);
    if (r != 0)
      return r;
  }
  return 0;
}

int rule_plan_columns(const struct rule_plan *p, int (*fn)(void *ctx, const char *table, const char *column),
                      void *ctx) {
  const struct cols_walk w = {p, fn, ctx};
  int r = 0;
  for (size_t i = 0; r == 0 && i < p->nrte; i++) {
    const struct rule_table *t = p->rte[i].t;
    r = fn(ctx, t->name, "");
    if (r == 0 && p->mode == RULE_MODE_AGGREGATE && t->rule != NULL && t->rule->unit_col >= 0)
      r = fn(ctx, t->name, t->cols[t->rule->unit_col]);
  }
  for (size_t i = 0; r == 0 && i < p->neq; i++) {
    const struct rule_eq *q = &p->eq[i];
    if ((r = fn(ctx, p->rte[q->ra].t->name, p->rte[q->ra].t->cols[q->ca])) == 0)
      r = fn(ctx, p->rte[q->rb].t->name, p->rte[q->rb].t->cols[q->cb]);
  }
  for (size_t i = 0; r == 0 && i < p->ntargets; i++)
    r = walk_rx(&w, p->targets[i].e, 0);
  for (size_t i = 0; r == 0 && i < p->ngroup; i++)
    r = walk_rx(&w, p->group[i], 0);
  if (r == 0)
    r = walk_rx(&w, p->where, 0);
  if (r == 0)
    r = walk_rx(&w, p->having, 0);
  return r;
}
/* For the dp planner (dp_plan.c), which writes its own statement around
 * the checked plan's pieces in this emitter's form. */
static int emit_into(const struct rule_plan *p, const struct rx *x, struct cdr_buf *b) {
  struct emit e = {.p = p, .b = *b};
  if (x != NULL)
    put_expr(&e, x);
  else
    put_from(&e);
  *b = e.b;
  return e.err;
}

int rule_emit_expr(const struct rule_plan *p, const struct rx *x, struct cdr_buf *b) {
  return x != NULL ? emit_into(p, x, b) : CDR_ERR_ARG;
}

int rule_emit_from(const struct rule_plan *p, struct cdr_buf *b) { return emit_into(p, NULL, b); }
