/*
 * dp_plan.c - from a checked query under a dp rule to the dp plan
 * (dp_int.h): which outputs, which noisy quantities with which noise
 * scale, how groups are selected, and the per-unit statement.
 *
 * rule_check has already applied the dp rule's column classes (the unit
 * only counted, metrics only in sum/avg/count, one table, no HAVING);
 * this file refuses what the dp mechanism does not run (dp.h) and
 * derives the parameters.  Nothing here reads data: every refusal comes
 * before the budget is charged.
 */
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "dp_int.h"
#include "engine_int.h"

#define DP_MAX_SQL (256u * 1024u)

static int refuse(const struct dp_plan *dp, char **errmsg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(const struct dp_plan *dp, char **errmsg, const char *fmt, ...) {
  char msg[CDR_MAX_ERROR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return engine_set_err(errmsg, CDR_ERR_RULE_VIOLATION, "%s (the dp rule of %s)", msg, dp->table->name);
}

void dp_plan_free(struct dp_plan *dp) {
  if (dp == NULL)
    return;
  free(dp->sql);
  free(dp);
}

/* The metric of column col, added if new. */
static size_t metric_of(struct dp_plan *dp, size_t col) {
  for (size_t i = 0; i < dp->nmetric; i++)
    if (dp->metric[i].col == col)
      return i;
  const struct rule_column *rc = &dp->rule->cols[col];
  struct dp_metric *m = &dp->metric[dp->nmetric];
  m->col = col;
  m->dlo = rc->lo;
  m->dhi = rc->hi;
  /* Bounds in millionths, rounded inwards, so that a clamped
   * contribution never passes the rule's bounds (|bound| <= 10^12). */
  m->lo = (int64_t)ceil(rc->lo * DP_SCALE);
  m->hi = (int64_t)floor(rc->hi * DP_SCALE);
  if (m->hi < m->lo)
    m->hi = m->lo; /* both bounds inside one millionth */
  m->q_count = m->q_sum = SIZE_MAX;
  return dp->nmetric++;
}

static size_t add_q(struct dp_plan *dp, enum dp_qkind kind, size_t metric) {
  dp->q[dp->nq].kind = kind;
  dp->q[dp->nq].metric = metric;
  return dp->nq++;
}

static int group_position(const struct dp_plan *dp, const struct rx *e, size_t *pos) {
  for (size_t i = 0; i < dp->ngroup; i++)
    if (e->kind == RX_COL && e->col == dp->group_col[i]) {
      *pos = i;
      return 1;
    }
  return 0;
}

/* One select-list item: a grouped dimension or COUNT/SUM/AVG. */
static int plan_target(struct dp_plan *dp, const struct rule_target *tg, struct dp_output *o, char **errmsg) {
  const struct rx *e = tg->e;
  o->name = tg->name;
  if (e->kind == RX_COL && group_position(dp, e, &o->idx)) {
    o->kind = DP_OUT_DIM;
    return 0;
  }
  if (e->kind != RX_AGG)
    return refuse(dp, errmsg, "%s: under dp the select list takes grouped dimensions and COUNT, SUM or AVG",
                  tg->name);
  if (e->nargs == 0 || e->op == RX_AGG_COUNT_DISTINCT) {
    o->kind = DP_OUT_UNITS; /* COUNT(*) and COUNT(DISTINCT unit): units */
    return 0;
  }
  const struct rx *c = e->args[0];
  if (c->kind != RX_COL || c->col >= dp->rule->ncols || dp->rule->cols[c->col].cls != RULE_COL_METRIC ||
      !dp->rule->cols[c->col].has_bounds)
    return refuse(dp, errmsg, "%s: under dp an aggregate takes a metric with bounds", tg->name);
  o->idx = metric_of(dp, c->col);
  switch (e->op) {
  case RX_AGG_COUNT: o->kind = DP_OUT_COUNT; return 0;
  case RX_AGG_SUM: o->kind = DP_OUT_SUM; return 0;
  case RX_AGG_AVG: o->kind = DP_OUT_AVG; return 0;
  default: break;
  }
  return refuse(dp, errmsg, "%s: under dp the aggregates are COUNT, SUM and AVG", tg->name);
}

/* The quantities the outputs need, each once (units first). */
static void plan_quantities(struct dp_plan *dp) {
  int units = dp->sel == DP_SEL_THRESHOLD;
  for (size_t i = 0; i < dp->nout; i++)
    units |= dp->out[i].kind == DP_OUT_UNITS;
  dp->q_units = units ? add_q(dp, DP_Q_UNITS, 0) : SIZE_MAX;
  for (size_t i = 0; i < dp->nout; i++) {
    struct dp_output *o = &dp->out[i];
    struct dp_metric *m = o->kind == DP_OUT_DIM || o->kind == DP_OUT_UNITS ? NULL : &dp->metric[o->idx];
    if (m != NULL && (o->kind == DP_OUT_COUNT || o->kind == DP_OUT_AVG) && m->q_count == SIZE_MAX)
      m->q_count = add_q(dp, DP_Q_COUNT, o->idx);
    if (m != NULL && (o->kind == DP_OUT_SUM || o->kind == DP_OUT_AVG) && m->q_sum == SIZE_MAX)
      m->q_sum = add_q(dp, DP_Q_SUM, o->idx);
  }
}

/* Noise scales: epsilon split equally over the nq quantities, each of
 * L1 sensitivity k * bound; scale k * bound * nq / epsilon = t / s with
 * t = k * bound * nq * 10^6 and s = epsilon in millionths.  Then the
 * threshold (dp.h). */
static int plan_scales(struct dp_plan *dp, char **errmsg) {
  for (size_t i = 0; i < dp->nq; i++) {
    struct dp_quantity *q = &dp->q[i];
    dp_u128 bound = 1;
    if (q->kind == DP_Q_SUM) {
      const struct dp_metric *m = &dp->metric[q->metric];
      uint64_t a = m->lo < 0 ? (uint64_t)(-(m->lo + 1)) + 1 : (uint64_t)m->lo;
      uint64_t b = m->hi < 0 ? (uint64_t)(-(m->hi + 1)) + 1 : (uint64_t)m->hi;
      bound = a > b ? a : b;
      if (bound == 0)
        bound = 1; /* bounds [0, 0]: a sum of zeros, any noise will do */
    }
    q->t = bound * dp->k * (dp_u128)dp->nq * DP_SCALE;
    q->s = dp->eps_micro;
    if (q->t > DP_LAPLACE_MAX_T)
      return refuse(dp, errmsg, "the noise these bounds and max_groups_per_unit need is out of range");
  }
  if (dp->sel != DP_SEL_THRESHOLD)
    return 0;
  if (dp->rule->delta_pico == 0)
    return refuse(dp, errmsg, "GROUP BY needs the rule's delta (for the threshold on groups) or public keys for "
                  "every grouped column");
  const struct dp_quantity *u = &dp->q[dp->q_units];
  double b = (double)u->t / (double)u->s, x = b * log((double)dp->k * 1e12 / (double)dp->rule->delta_pico);
  /* x is computed in floating point from public parameters only; the
   * margin of one (the 2 below, for 1 + x) covers its rounding. */
  if (!(x < 1e18))
    return refuse(dp, errmsg, "the group threshold these parameters need is out of range");
  dp->tau = 2 + (uint64_t)ceil(x);
  dp->delta_pico = dp->rule->delta_pico;
  return 0;
}

/* Append s to b (errors gathered in *err). */
static void put(struct cdr_buf *b, const char *s, int *err) {
  if (*err == 0 && cdr_buf_put(b, s, strlen(s)) != 0)
    *err = CDR_ERR_TOO_LARGE;
}

static void put_col(const struct rule_plan *p, size_t col, struct cdr_buf *b, int *err) {
  struct rx c = {.kind = RX_COL, .rte = 0, .col = col};
  if (*err == 0)
    *err = rule_emit_expr(p, &c, b);
}

static void put_cols(const struct rule_plan *p, const struct dp_plan *dp, struct cdr_buf *b, int *err) {
  for (size_t i = 0; i < dp->ngroup; i++) {
    put(b, i > 0 ? ", " : "", err);
    put_col(p, dp->group_col[i], b, err);
  }
}

/* The per-unit statement (dp_int.h). */
static int plan_sql(const struct rule_plan *p, struct dp_plan *dp) {
  struct cdr_buf b;
  int err = 0;
  size_t unit = (size_t)dp->rule->unit_col;
  cdr_buf_init(&b, DP_MAX_SQL, 0);
  put(&b, "SELECT DENSE_RANK() OVER (ORDER BY ", &err);
  put_col(p, unit, &b, &err);
  put(&b, "), ", &err);
  if (dp->ngroup > 0) {
    put(&b, "DENSE_RANK() OVER (ORDER BY ", &err);
    put_cols(p, dp, &b, &err);
    put(&b, "), ", &err);
    put_cols(p, dp, &b, &err);
  } else {
    put(&b, "1", &err);
  }
  for (size_t i = 0; i < dp->nmetric; i++) {
    put(&b, ", TOTAL(", &err);
    put_col(p, dp->metric[i].col, &b, &err);
    put(&b, "), COUNT(", &err);
    put_col(p, dp->metric[i].col, &b, &err);
    put(&b, ")", &err);
  }
  if (err == 0)
    err = rule_emit_from(p, &b);
  put(&b, " WHERE (", &err);
  put_col(p, unit, &b, &err);
  put(&b, " IS NOT NULL)", &err);
  if (p->where != NULL) {
    put(&b, " AND ", &err);
    if (err == 0)
      err = rule_emit_expr(p, p->where, &b);
  }
  put(&b, " GROUP BY ", &err);
  put_col(p, unit, &b, &err);
  put(&b, dp->ngroup > 0 ? ", " : "", &err);
  put_cols(p, dp, &b, &err);
  put(&b, " ORDER BY 1", &err);
  if (err == 0 && cdr_buf_put(&b, "", 1) != 0)
    err = CDR_ERR_TOO_LARGE;
  if (err == 0 && (dp->sql = strdup((const char *)b.d)) == NULL)
    err = CDR_ERR_NOMEM;
  cdr_buf_free(&b);
  return err;
}

/* SHA-256 over what shapes the answer: the statement, the outputs, the
 * quantities and their scales, the selection, the charge and the public
 * keys of the grouped columns (the cache key's query part). */
static int plan_digest(struct dp_plan *dp) {
  EVP_MD_CTX *h = EVP_MD_CTX_new();
  int ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;
  uint64_t v[6] = {dp->ngroup, dp->nmetric, dp->nq, dp->nout, (uint64_t)dp->sel, dp->tau};
  ok = ok && EVP_DigestUpdate(h, "cdr-dp-plan-v1", 15) == 1 && EVP_DigestUpdate(h, dp->sql, strlen(dp->sql) + 1) &&
       EVP_DigestUpdate(h, v, sizeof(v)) == 1 && EVP_DigestUpdate(h, &dp->k, sizeof(dp->k)) == 1 &&
       EVP_DigestUpdate(h, &dp->eps_micro, 8) == 1 && EVP_DigestUpdate(h, &dp->delta_pico, 8) == 1;
  for (size_t i = 0; ok && i < dp->nq; i++)
    ok = EVP_DigestUpdate(h, &dp->q[i].t, sizeof(dp->q[i].t)) == 1 && EVP_DigestUpdate(h, &dp->q[i].kind, 4) == 1;
  for (size_t i = 0; ok && i < dp->nmetric; i++)
    ok = EVP_DigestUpdate(h, &dp->metric[i].lo, 8) == 1 && EVP_DigestUpdate(h, &dp->metric[i].hi, 8) == 1 &&
         EVP_DigestUpdate(h, &dp->metric[i].dlo, 8) == 1 && EVP_DigestUpdate(h, &dp->metric[i].dhi, 8) == 1;
  for (size_t i = 0; ok && i < dp->nout; i++)
    ok = EVP_DigestUpdate(h, &dp->out[i].kind, 4) == 1 && EVP_DigestUpdate(h, &dp->out[i].idx, 8) == 1 &&
         EVP_DigestUpdate(h, dp->out[i].name, strlen(dp->out[i].name) + 1) == 1;
  for (size_t i = 0; ok && dp->sel == DP_SEL_PUBLIC && i < dp->ngroup; i++) {
    const struct rule_column *rc = &dp->rule->cols[dp->group_col[i]];
    for (size_t k = 0; ok && k < rc->nkeys; k++)
      ok = EVP_DigestUpdate(h, rc->keys[k], strlen(rc->keys[k]) + 1) == 1;
    ok = ok && EVP_DigestUpdate(h, "\xff", 1) == 1;
  }
  ok = ok && EVP_DigestFinal_ex(h, dp->digest, NULL) == 1;
  EVP_MD_CTX_free(h);
  return ok ? 0 : CDR_ERR_NOMEM;
}

/* GROUP BY: bare dimension columns; the selection that follows. */
static int plan_groups(const struct rule_plan *p, struct dp_plan *dp, char **errmsg) {
  int all_public = p->ngroup > 0;
  size_t cells = 1;
  for (size_t i = 0; i < p->ngroup; i++) {
    const struct rx *g = p->group[i];
    if (g->kind != RX_COL)
      return refuse(dp, errmsg, "GROUP BY %zu: under dp, GROUP BY takes dimension columns", i + 1);
    size_t pos;
    if (group_position(dp, g, &pos))
      continue; /* named twice: one grouping */
    dp->group_col[dp->ngroup++] = g->col;
    size_t nk = dp->rule->cols[g->col].nkeys;
    all_public &= nk > 0;
    cells = nk > 0 && cells <= DP_MAX_CELLS ? cells * nk : DP_MAX_CELLS + 1;
  }
  dp->sel = p->ngroup == 0 ? DP_SEL_ONE : all_public ? DP_SEL_PUBLIC : DP_SEL_THRESHOLD;
  if (dp->sel == DP_SEL_PUBLIC && cells > DP_MAX_CELLS)
    return refuse(dp, errmsg, "the public keys of the grouped columns make more than %u rows", DP_MAX_CELLS);
  dp->ncells = dp->sel == DP_SEL_PUBLIC ? cells : 0;
  return 0;
}

int dp_plan_build(const struct rule_plan *p, struct dp_plan **out, char **errmsg) {
  struct dp_plan *dp;
  int r;
  *out = NULL;
  if (p->mode != RULE_MODE_DP || p->nrte != 1 || p->rte[0].t->rule == NULL ||
      p->rte[0].t->rule->mode != RULE_MODE_DP || p->rte[0].t->rule->unit_col < 0)
    return engine_set_err(errmsg, CDR_ERR_INTERNAL, "dp_plan_build: not a checked dp plan");
  if ((dp = calloc(1, sizeof(*dp))) == NULL)
    return CDR_ERR_NOMEM;
  dp->table = p->rte[0].t;
  dp->rule = dp->table->rule;
  dp->k = dp->rule->max_groups_per_unit;
  dp->eps_micro = dp->rule->eps_query_micro;
  if (p->distinct || p->norder > 0 || p->has_limit || p->has_offset)
    r = refuse(dp, errmsg, "DISTINCT, ORDER BY, LIMIT and OFFSET are not run under dp: sort the answer yourself");
  else
    r = plan_groups(p, dp, errmsg);
  for (size_t i = 0; r == 0 && i < p->ntargets; i++, dp->nout++)
    r = plan_target(dp, &p->targets[i], &dp->out[i], errmsg);
  if (r == 0) {
    plan_quantities(dp);
    r = plan_scales(dp, errmsg);
  }
  if (r == 0)
    r = plan_sql(p, dp);
  if (r == 0)
    r = plan_digest(dp);
  if (r != 0) {
    dp_plan_free(dp);
    return r;
  }
  *out = dp;
  return 0;
}

/* ---- what the statement reads (dp.h: dp_statement_columns) ---- */

static int walk_cols(const struct rule_plan *p, const struct rx *x, unsigned depth,
                     int (*fn)(void *ctx, const char *table, const char *column), void *ctx) {
  if (x == NULL)
    return 0;
  if (depth > 4u * RULE_MAX_DEPTH)
    return CDR_ERR_TOO_LARGE;
  if (x->kind == RX_COL)
    return fn(ctx, p->rte[x->rte].t->name, p->rte[x->rte].t->cols[x->col]);
  for (size_t i = 0; i < x->nargs; i++) {
    int r = walk_cols(p, x->args[i], depth + 1, fn, ctx);
    if (r != 0)
      return r;
  }
  return 0;
}

int dp_statement_columns(const struct rule_plan *p, int (*fn)(void *ctx, const char *table, const char *column),
                         void *ctx) {
  if (p->mode != RULE_MODE_DP || p->nrte != 1 || p->rte[0].t->rule == NULL || p->rte[0].t->rule->unit_col < 0)
    return CDR_ERR_ARG;
  const struct rule_table *t = p->rte[0].t;
  int r = fn(ctx, t->name, "");
  if (r == 0)
    r = fn(ctx, t->name, t->cols[t->rule->unit_col]);
  for (size_t i = 0; r == 0 && i < p->ntargets; i++)
    r = walk_cols(p, p->targets[i].e, 0, fn, ctx);
  for (size_t i = 0; r == 0 && i < p->ngroup; i++)
    r = walk_cols(p, p->group[i], 0, fn, ctx);
  return r != 0 ? r : walk_cols(p, p->where, 0, fn, ctx);
}

const char *dp_plan_table(const struct rule_plan *p) {
  return p->mode == RULE_MODE_DP && p->nrte == 1 ? p->rte[0].t->name : NULL;
}
