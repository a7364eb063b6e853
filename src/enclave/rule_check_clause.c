/*
 * rule_check_clause.c - SELECT's clauses under a rule, after FROM: the
 * select list, WHERE, GROUP BY, HAVING, ORDER BY and LIMIT/OFFSET.
 *
 * Under an aggregate or dp rule every output row aggregates rows: each
 * column outside an aggregate, in the select list and in HAVING, must be
 * grouped by (otherwise SQLite would output one arbitrary row's value).
 * ORDER BY names an output column (by name, position or the same
 * expression), so it can only sort what is released.  LIMIT and OFFSET
 * take literal whole numbers.  A list rule takes no GROUP BY or HAVING.
 */
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine_int.h"
#include "rule_int.h"

static int rx_equal(const struct rx *a, const struct rx *b) {
  if (a->kind != b->kind || a->op != b->op || a->rte != b->rte || a->col != b->col || a->ival != b->ival ||
      a->nargs != b->nargs || (a->text == NULL) != (b->text == NULL) ||
      (a->text != NULL && strcmp(a->text, b->text) != 0))
    return 0;
  for (size_t i = 0; i < a->nargs; i++)
    if (!rx_equal(a->args[i], b->args[i]))
      return 0;
  return 1;
}

static struct rx *rx_copy(const struct rx *a) {
  struct rx *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  *e = *a;
  e->text = NULL;
  e->args = NULL;
  e->nargs = 0;
  if ((a->text != NULL && (e->text = strdup(a->text)) == NULL) ||
      (a->nargs > 0 && (e->args = calloc(a->nargs, sizeof(struct rx *))) == NULL)) {
    rx_free(e);
    return NULL;
  }
  for (size_t i = 0; i < a->nargs; i++, e->nargs++)
    if ((e->args[i] = rx_copy(a->args[i])) == NULL) {
      rx_free(e);
      return NULL;
    }
  return e;
}

static int has_agg(const struct rx *e) {
  if (e->kind == RX_AGG)
    return 1;
  for (size_t i = 0; i < e->nargs; i++)
    if (has_agg(e->args[i]))
      return 1;
  return 0;
}

/* Whether every column of e outside an aggregate is grouped by. */
static int grouped(const struct rule_plan *p, const struct rx *e) {
  for (size_t i = 0; i < p->ngroup; i++)
    if (rx_equal(p->group[i], e))
      return 1;
  if (e->kind == RX_COL)
    return 0;
  if (e->kind == RX_AGG)
    return 1;
  for (size_t i = 0; i < e->nargs; i++)
    if (!grouped(p, e->args[i]))
      return 0;
  return 1;
}

static char *target_name(const PgQuery__ResTarget *rt, const struct rx *e, const struct rule_plan *p) {
  static const char *const agg[] = {"count", "count", "sum", "sum", "avg", "min", "max"};
  static const char *const fn[] = {"lower", "upper", "length", "abs", "round"};
  if (rt->name != NULL && rt->name[0] != '\0')
    return strdup(rt->name);
  if (e->kind == RX_COL)
    return strdup(p->rte[e->rte].t->cols[e->col]);
  if (e->kind == RX_AGG)
    return strdup(agg[e->op]);
  if (e->kind == RX_FUNC)
    return strdup(fn[e->op]);
  return strdup("?column?");
}

static int clause_targets(struct rule_ctx *c, const PgQuery__SelectStmt *s) {
  struct rule_plan *p = c->p;
  if (s->n_target_list == 0 || s->n_target_list > RULE_MAX_ITEMS)
    return rule_refuse(c, "a query selects 1 to %u columns", RULE_MAX_ITEMS);
  for (size_t i = 0; i < s->n_target_list; i++) {
    const PgQuery__Node *n = s->target_list[i];
    if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET || n->res_target->n_indirection > 0)
      return rule_refuse(c, "this select-list item is refused");
    const PgQuery__ResTarget *rt = n->res_target;
    int r = rule_expr(c, rt->val, RX_IN_TARGET, p->mode != RULE_MODE_LIST, 1, &p->targets[i].e);
    if (r != 0)
      return r;
    p->ntargets = i + 1;
    if ((p->targets[i].name = target_name(rt, p->targets[i].e, p)) == NULL)
      return CDR_ERR_NOMEM;
  }
  return 0;
}

/* A GROUP BY or ORDER BY item that names an output column: its position
 * (1-based), or 0. */
static size_t output_ref(const struct rule_plan *p, const PgQuery__Node *n) {
  if (n->node_case == PG_QUERY__NODE__NODE_A_CONST && n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL &&
      !n->a_const->isnull) {
    int32_t k = n->a_const->ival->ival;
    return k >= 1 && (size_t)k <= p->ntargets ? (size_t)k : (size_t)-1;
  }
  if (n->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && n->column_ref->n_fields == 1) {
    const char *name = rule_node_str(n->column_ref->fields[0]);
    for (size_t i = 0; name != NULL && i < p->ntargets; i++)
      if (strcasecmp(p->targets[i].name, name) == 0)
        return i + 1;
  }
  return 0;
}

static int clause_group(struct rule_ctx *c, const PgQuery__SelectStmt *s) {
  struct rule_plan *p = c->p;
  if (s->n_group_clause > 0 && p->mode == RULE_MODE_LIST)
    return rule_refuse(c, "a list rule takes SELECT DISTINCT, no GROUP BY");
  if (s->n_group_clause > RULE_MAX_ITEMS)
    return rule_refuse(c, "GROUP BY takes at most %u items", RULE_MAX_ITEMS);
  for (size_t i = 0; i < s->n_group_clause; i++) {
    const PgQuery__Node *n = s->group_clause[i];
    size_t k = output_ref(p, n);
    int r = 0;
    if (k == (size_t)-1)
      return rule_refuse(c, "GROUP BY %zu: there is no such output column", i + 1);
    if (n->node_case == PG_QUERY__NODE__NODE_A_CONST && k > 0) {
      if (has_agg(p->targets[k - 1].e))
        return rule_refuse(c, "GROUP BY %zu names an aggregate", k);
      if ((p->group[i] = rx_copy(p->targets[k - 1].e)) == NULL)
        return CDR_ERR_NOMEM;
    } else if ((r = rule_expr(c, n, RX_IN_GROUP, 0, 1, &p->group[i])) != 0) {
      /* An output name that is not a column of the tables. */
      if (r != CDR_ERR_SQL_ERROR || k == 0 || has_agg(p->targets[k - 1].e))
        return r;
      if (c->errmsg != NULL) {
        free(*c->errmsg);
        *c->errmsg = NULL;
      }
      if ((p->group[i] = rx_copy(p->targets[k - 1].e)) == NULL)
        return CDR_ERR_NOMEM;
    }
    p->ngroup = i + 1;
  }
  return 0;
}

static int clause_order(struct rule_ctx *c, const PgQuery__SelectStmt *s) {
  struct rule_plan *p = c->p;
  if (s->n_sort_clause > RULE_MAX_ITEMS)
    return rule_refuse(c, "ORDER BY takes at most %u items", RULE_MAX_ITEMS);
  for (size_t i = 0; i < s->n_sort_clause; i++) {
    const PgQuery__Node *n = s->sort_clause[i];
    if (n->node_case != PG_QUERY__NODE__NODE_SORT_BY || n->sort_by->node == NULL)
      return rule_refuse(c, "this ORDER BY item is refused");
    const PgQuery__SortBy *sb = n->sort_by;
    if (sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING || sb->n_use_op > 0 ||
        (sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_DEFAULT &&
         sb->sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORT_BY_NULLS_UNDEFINED))
      return rule_refuse(c, "ORDER BY takes ASC or DESC only");
    size_t k = output_ref(p, sb->node);
    if (k == (size_t)-1)
      return rule_refuse(c, "ORDER BY %zu: there is no such output column", i + 1);
    if (k == 0) {
      struct rx *e = NULL;
      int r = rule_expr(c, sb->node, RX_IN_ORDER, p->mode != RULE_MODE_LIST, 1, &e);
      if (r != 0)
        return r;
      for (size_t t = 0; t < p->ntargets && k == 0; t++)
        if (rx_equal(p->targets[t].e, e))
          k = t + 1;
      rx_free(e);
      if (k == 0)
        return rule_refuse(c, "ORDER BY takes an output column (by name, position or the same expression)");
    }
    p->order[i].target = k;
    p->order[i].desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    p->norder = i + 1;
  }
  return 0;
}

static int limit_value(struct rule_ctx *c, const PgQuery__Node *n, const char *what, int64_t *v) {
  if (n->node_case != PG_QUERY__NODE__NODE_A_CONST || n->a_const->isnull ||
      n->a_const->val_case != PG_QUERY__A__CONST__VAL_IVAL || n->a_const->ival->ival < 0)
    return rule_refuse(c, "%s takes a literal whole number", what);
  *v = n->a_const->ival->ival;
  return 0;
}

static int clause_limit(struct rule_ctx *c, const PgQuery__SelectStmt *s) {
  struct rule_plan *p = c->p;
  int r = 0;
  if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES)
    return rule_refuse(c, "FETCH ... WITH TIES is refused");
  if (s->limit_count != NULL && (r = limit_value(c, s->limit_count, "LIMIT", &p->limit)) == 0)
    p->has_limit = 1;
  if (r == 0 && s->limit_offset != NULL && (r = limit_value(c, s->limit_offset, "OFFSET", &p->offset)) == 0)
    p->has_offset = 1;
  return r;
}

int rule_clauses(struct rule_ctx *c, const PgQuery__SelectStmt *s) {
  struct rule_plan *p = c->p;
  int r = clause_targets(c, s);
  if (r == 0 && s->where_clause != NULL)
    r = rule_expr(c, s->where_clause, RX_IN_WHERE, 0, 1, &p->where);
  if (r == 0)
    r = clause_group(c, s);
  if (r == 0 && s->having_clause != NULL) {
    if (p->mode != RULE_MODE_AGGREGATE)
      return rule_refuse(c, "HAVING is refused under a %s rule", rule_mode_name(p->mode));
    r = rule_expr(c, s->having_clause, RX_IN_HAVING, 1, 1, &p->having);
  }
  if (r == 0)
    r = clause_order(c, s);
  if (r == 0)
    r = clause_limit(c, s);
  if (r != 0 || p->mode == RULE_MODE_LIST)
    return r;
  for (size_t i = 0; i < p->ntargets; i++)
    if (!grouped(p, p->targets[i].e))
      return rule_refuse(c, "%s is neither grouped by nor aggregated: every output row aggregates rows",
                         p->targets[i].name);
  if (p->having != NULL && !grouped(p, p->having))
    return rule_refuse(c, "HAVING uses a column that is neither grouped by nor aggregated");
  return 0;
}
