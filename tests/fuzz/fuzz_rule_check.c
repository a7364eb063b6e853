/*
 * fuzz_rule_check.c - arbitrary SQL through the release-rule checker
 * (src/enclave/rule_check*.c, rule_parse_tree.c) against the ruled
 * tables of tests/unit/rules_fixture.h.
 *
 * Input: the SQL text.  Seeds: tests/fuzz/corpus/fuzz_rule_check/, one
 * query per file (written by hand from test_rules.c's table; shared with
 * fuzz_rule_emit).
 *
 * Invariants:
 *   - the answer is one of: accepted, not governed, rule_violation,
 *     sql_error, too_large (out_of_memory aside); a refusal has a message
 *     and no plan, an accepted query a plan; the same input gives the
 *     same answer twice;
 *   - an accepted plan keeps the rules (checked here from the plan alone,
 *     independently of the walker): every table instance has a rule of
 *     the plan's mode, never template; list plans join at least two
 *     instances and hold no aggregate; every join equality pairs a join
 *     column or privacy unit of two different instances; outside an
 *     aggregate a column is a dimension (aggregate, dp) or list column
 *     (list), never a privacy unit, a column joined to one, a metric, a
 *     join or hidden column; inside an aggregate it is a metric with that
 *     function allowed by its rule, or a privacy unit (or a column joined
 *     to one) under COUNT(DISTINCT).
 */
#include <stdlib.h>
#include <string.h>

#include "enclave/rule.h"
#include "enclave/rule_int.h"
#include "fuzzlib.h"
#include "rules_fixture.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  FUZZ_CHECK(rules_fx_init() == 0);
  return 0;
}

static unsigned fn_bit(int op) {
  static const unsigned bits[] = {RULE_FN_COUNT, RULE_FN_COUNT_DISTINCT, RULE_FN_SUM, RULE_FN_SUM_DISTINCT,
                                  RULE_FN_AVG,   RULE_FN_MIN,            RULE_FN_MAX};
  return bits[op];
}

static void check_col(struct rule_ctx *c, const struct rx *x, int in_agg, int agg_op) {
  const struct rule_plan *p = c->p;
  FUZZ_CHECK(x->rte < p->nrte && x->col < p->rte[x->rte].t->ncols);
  const struct rule_doc *d = p->rte[x->rte].t->rule;
  enum rule_class cls = d->cols[x->col].cls;
  int unit = rule_is_unit(c, x->rte, x->col);
  FUZZ_CHECK(cls != RULE_COL_HIDDEN);
  if (!in_agg) {
    FUZZ_CHECK(!unit);
    FUZZ_CHECK(cls == (p->mode == RULE_MODE_LIST ? RULE_COL_LIST : RULE_COL_DIMENSION));
  } else if (unit) {
    FUZZ_CHECK(agg_op == RX_AGG_COUNT_DISTINCT);
  } else {
    FUZZ_CHECK(cls == RULE_COL_METRIC && (d->cols[x->col].metric_fns & fn_bit(agg_op)) != 0);
  }
}

static void check_rx(struct rule_ctx *c, const struct rx *x, int in_agg, int agg_op, unsigned depth) {
  FUZZ_CHECK(depth <= RULE_MAX_DEPTH + 2);
  if (x->kind == RX_COL) {
    check_col(c, x, in_agg, agg_op);
    return;
  }
  if (x->kind == RX_AGG) {
    FUZZ_CHECK(!in_agg && c->p->mode != RULE_MODE_LIST && x->nargs <= 1);
    FUZZ_CHECK(x->nargs == 1 ? x->args[0]->kind == RX_COL : x->op == RX_AGG_COUNT);
    for (size_t i = 0; i < x->nargs; i++)
      check_rx(c, x->args[i], 1, x->op, depth + 1);
    return;
  }
  if (x->kind == RX_TEXT || x->kind == RX_REAL)
    FUZZ_CHECK(x->text != NULL);
  for (size_t i = 0; i < x->nargs; i++)
    check_rx(c, x->args[i], in_agg, agg_op, depth + 1);
}

static void check_plan(struct rule_plan *p) {
  struct rule_ctx c = {.p = p};
  FUZZ_CHECK(p->nrte >= 1 && p->nrte <= RULE_MAX_RTE && p->mode != RULE_MODE_TEMPLATE);
  FUZZ_CHECK(p->mode != RULE_MODE_LIST || p->nrte >= 2);
  for (size_t i = 0; i < p->nrte; i++)
    FUZZ_CHECK(p->rte[i].t->rule != NULL && p->rte[i].t->rule->mode == p->mode);
  for (size_t k = 0; k < p->neq; k++) {
    const struct rule_eq *q = &p->eq[k];
    FUZZ_CHECK(q->ra != q->rb && q->ra < p->nrte && q->rb < p->nrte);
    enum rule_class a = p->rte[q->ra].t->rule->cols[q->ca].cls, b = p->rte[q->rb].t->rule->cols[q->cb].cls;
    FUZZ_CHECK((a == RULE_COL_UNIT || a == RULE_COL_JOIN) && (b == RULE_COL_UNIT || b == RULE_COL_JOIN));
  }
  FUZZ_CHECK(p->ntargets >= 1);
  for (size_t i = 0; i < p->ntargets; i++)
    check_rx(&c, p->targets[i].e, 0, 0, 0);
  if (p->where != NULL)
    check_rx(&c, p->where, 0, 0, 0);
  for (size_t i = 0; i < p->ngroup; i++)
    check_rx(&c, p->group[i], 0, 0, 0);
  if (p->having != NULL)
    check_rx(&c, p->having, 0, 0, 0);
  for (size_t i = 0; i < p->norder; i++)
    FUZZ_CHECK(p->order[i].target >= 1 && p->order[i].target <= p->ntargets);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rule_plan *p = NULL, *p2 = NULL;
  char *err = NULL, *err2 = NULL;
  int r = rule_check((const char *)data, size, rules_fx_lookup, NULL, &p, &err);
  FUZZ_CHECK(r == 0 || r == RULE_UNGOVERNED || r == CDR_ERR_RULE_VIOLATION || r == CDR_ERR_SQL_ERROR ||
             r == CDR_ERR_TOO_LARGE || r == CDR_ERR_NOMEM);
  FUZZ_CHECK((r == 0) == (p != NULL));
  if (r == CDR_ERR_RULE_VIOLATION || r == CDR_ERR_SQL_ERROR)
    FUZZ_CHECK(err != NULL && err[0] != '\0');
  if (p != NULL)
    check_plan(p);
  int r2 = rule_check((const char *)data, size, rules_fx_lookup, NULL, &p2, &err2);
  FUZZ_CHECK(r2 == r || r == CDR_ERR_NOMEM || r2 == CDR_ERR_NOMEM);
  FUZZ_CHECK(r2 != r || (err == NULL) == (err2 == NULL));
  FUZZ_CHECK(r2 != r || err == NULL || strcmp(err, err2) == 0);
  rule_plan_free(p);
  rule_plan_free(p2);
  free(err);
  free(err2);
  return 0;
}
