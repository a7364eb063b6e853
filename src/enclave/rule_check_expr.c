/*
 * rule_check_expr.c - the allowlist for expressions under a rule: column
 * references by class, the aggregates each class allows, comparisons with
 * literals, AND/OR/NOT, IN, BETWEEN, IS [NOT] NULL, and a few scalar
 * functions of dimensions.  Every other node is refused, named by its
 * kind.  Builds the plan's expression tree (rule_int.h).
 */
#include <pg_query/pg_query.pb-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "engine_int.h"
#include "rule_int.h"

int rule_refuse(struct rule_ctx *c, const char *fmt, ...) {
  char msg[CDR_MAX_ERROR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  const struct rule_table *t = c->named;
  return engine_set_err(c->errmsg, CDR_ERR_RULE_VIOLATION, "%s (the %s rule of %s)", msg,
                        rule_mode_name(t->rule->mode), t->name);
}

void rx_free(struct rx *e) {
  if (e == NULL)
    return;
  for (size_t i = 0; i < e->nargs; i++)
    rx_free(e->args[i]);
  free(e->args);
  cdr_str_wipe_free(e->text); /* a literal of the query: data */
  free(e);
}

static struct rx *rx_new(enum rx_kind k, size_t nargs) {
  struct rx *e = calloc(1, sizeof(*e));
  if (e == NULL || (nargs > 0 && (e->args = calloc(nargs, sizeof(struct rx *))) == NULL)) {
    free(e);
    return NULL;
  }
  e->kind = k;
  e->nargs = nargs;
  return e;
}

static const char *node_kind(const PgQuery__Node *n) {
  const ProtobufCFieldDescriptor *f =
      n != NULL ? protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, n->node_case) : NULL;
  return f != NULL ? f->name : "empty";
}

int rule_is_unit(const struct rule_ctx *c, size_t rte, size_t col) {
  /* A column equated to a privacy unit through a join is that unit:
   * follow the join equalities from (rte, col) to a fixpoint. */
  size_t seen_r[RULE_MAX_ITEMS + 1], seen_c[RULE_MAX_ITEMS + 1], n = 1;
  seen_r[0] = rte;
  seen_c[0] = col;
  for (size_t i = 0; i < n; i++) {
    const struct rule_doc *d = c->p->rte[seen_r[i]].t->rule;
    if (d != NULL && seen_c[i] < d->ncols && d->cols[seen_c[i]].cls == RULE_COL_UNIT)
      return 1;
    for (size_t k = 0; k < c->p->neq; k++) {
      const struct rule_eq *q = &c->p->eq[k];
      size_t orr, oc;
      if (q->ra == seen_r[i] && q->ca == seen_c[i]) {
        orr = q->rb;
        oc = q->cb;
      } else if (q->rb == seen_r[i] && q->cb == seen_c[i]) {
        orr = q->ra;
        oc = q->ca;
      } else {
        continue;
      }
      size_t j;
      for (j = 0; j < n && !(seen_r[j] == orr && seen_c[j] == oc); j++)
        ;
      if (j == n && n < RULE_MAX_ITEMS + 1) {
        seen_r[n] = orr;
        seen_c[n++] = oc;
      }
    }
  }
  return 0;
}

static enum rule_class col_class(const struct rule_ctx *c, size_t rte, size_t col) {
  const struct rule_doc *d = c->p->rte[rte].t->rule;
  if (rule_is_unit(c, rte, col))
    return RULE_COL_UNIT;
  return d != NULL && col < d->ncols ? d->cols[col].cls : RULE_COL_HIDDEN;
}

/* "is the privacy unit of" (its own class) or "is joined to a privacy
 * unit, so it is one, in" (equated through a join), before a table name. */
static const char *unit_phrase(const struct rule_ctx *c, size_t rte, size_t col) {
  const struct rule_doc *d = c->p->rte[rte].t->rule;
  return d != NULL && col < d->ncols && d->cols[col].cls == RULE_COL_UNIT
             ? "is the privacy unit of"
             : "is joined to a privacy unit, so it is one, in";
}

static int match_name(const struct rule_ctx *c, size_t i, const char *q) {
  const char *alias = c->alias[i] != NULL ? c->alias[i] : c->p->rte[i].t->name;
  return strcasecmp(alias, q) == 0;
}

int rule_resolve_column(struct rule_ctx *c, const PgQuery__Node *n, size_t *rte, size_t *col) {
  const PgQuery__ColumnRef *cr = n->column_ref;
  const char *q = NULL, *name;
  if (cr->n_fields == 2) {
    q = rule_node_str(cr->fields[0]);
    name = rule_node_str(cr->fields[1]);
  } else {
    name = cr->n_fields == 1 ? rule_node_str(cr->fields[0]) : NULL;
  }
  if (name == NULL || (cr->n_fields == 2 && q == NULL))
    return rule_refuse(c, "* and qualified names beyond table.column are refused: name the columns");
  int found = 0;
  for (size_t i = 0; i < c->p->nrte; i++) {
    const struct rule_table *t = c->p->rte[i].t;
    if (q != NULL && !match_name(c, i, q))
      continue;
    for (size_t k = 0; k < t->ncols; k++) {
      /* A hidden column resolves as if it did not exist. */
      if (strcasecmp(t->cols[k], name) != 0 ||
          (t->rule != NULL && (k >= t->rule->ncols || t->rule->cols[k].cls == RULE_COL_HIDDEN)))
        continue;
      if (found++)
        return engine_set_err(c->errmsg, CDR_ERR_SQL_ERROR, "column %s is ambiguous: qualify it with its table",
                              name);
      *rte = i;
      *col = k;
    }
  }
  if (!found)
    return engine_set_err(c->errmsg, CDR_ERR_SQL_ERROR,
                          "no column %s%s%s among the columns the tables' rules let you use", q ? q : "",
                          q ? "." : "", name);
  return 0;
}

static const char *clause_verb(enum rx_where w) {
  switch (w) {
  case RX_IN_TARGET: return "selected";
  case RX_IN_WHERE: return "filtered on or compared to a literal";
  case RX_IN_GROUP: return "grouped by";
  case RX_IN_HAVING: return "used in HAVING";
  case RX_IN_ORDER: break;
  }
  return "ordered by";
}

/* A column outside an aggregate. */
static int expr_column(struct rule_ctx *c, const PgQuery__Node *n, enum rx_where w, int in_func,
                       struct rx **out) {
  size_t rte, col;
  int r = rule_resolve_column(c, n, &rte, &col);
  if (r != 0)
    return r;
  const struct rule_table *t = c->p->rte[rte].t;
  const char *cn = t->cols[col];
  enum rule_class cls = col_class(c, rte, col);
  enum rule_mode m = c->p->mode;
  if (cls == RULE_COL_UNIT)
    return rule_refuse(c, "%s %s %s: it can be counted (COUNT(DISTINCT %s)), not %s%s", cn, unit_phrase(c, rte, col),
                       t->name, cn, in_func ? "used in an expression or " : "", clause_verb(w));
  if (cls == RULE_COL_METRIC)
    return rule_refuse(c, "%s is a metric of %s: it can only be aggregated, not %s", cn, t->name, clause_verb(w));
  if (cls == RULE_COL_JOIN)
    return rule_refuse(c, "%s is a join column of %s: it is used only in JOIN ... ON equalities", cn, t->name);
  if ((m == RULE_MODE_LIST && cls != RULE_COL_LIST) || (m != RULE_MODE_LIST && cls != RULE_COL_DIMENSION))
    return rule_refuse(c, "%s (a %s of %s) cannot be %s", cn, rule_class_name(cls), t->name, clause_verb(w));
  if ((*out = rx_new(RX_COL, 0)) == NULL)
    return CDR_ERR_NOMEM;
  (*out)->rte = rte;
  (*out)->col = col;
  return 0;
}

static int expr_const(struct rule_ctx *c, const PgQuery__AConst *k, struct rx **out) {
  struct rx *e = NULL;
  if (k->isnull)
    return rule_refuse(c, "NULL literals are refused: use IS NULL or IS NOT NULL");
  switch (k->val_case) {
  case PG_QUERY__A__CONST__VAL_IVAL:
    if ((e = rx_new(RX_INT, 0)) != NULL)
      e->ival = k->ival->ival;
    break;
  case PG_QUERY__A__CONST__VAL_FVAL:
  case PG_QUERY__A__CONST__VAL_SVAL: {
    const char *s = k->val_case == PG_QUERY__A__CONST__VAL_FVAL ? k->fval->fval : k->sval->sval;
    if (s == NULL)
      return rule_refuse(c, "an empty literal is refused");
    if (k->val_case == PG_QUERY__A__CONST__VAL_FVAL && (s[0] == '\0' || strspn(s, "0123456789.eE+-") != strlen(s)))
      return rule_refuse(c, "the number %.40s is refused: write decimal digits", s);
    if ((e = rx_new(k->val_case == PG_QUERY__A__CONST__VAL_FVAL ? RX_REAL : RX_TEXT, 0)) != NULL &&
        (e->text = strdup(s)) == NULL) {
      rx_free(e);
      e = NULL;
    }
    break;
  }
  case PG_QUERY__A__CONST__VAL_BOOLVAL:
    if ((e = rx_new(RX_BOOL, 0)) != NULL)
      e->ival = k->boolval->boolval ? 1 : 0;
    break;
  default:
    return rule_refuse(c, "this literal (bit string) is refused");
  }
  *out = e;
  return e != NULL ? 0 : CDR_ERR_NOMEM;
}

static int expr_list(struct rule_ctx *c, PgQuery__Node **items, size_t n, struct rx *e, size_t first,
                     enum rx_where w, int agg_ok, unsigned depth) {
  for (size_t i = 0; i < n; i++) {
    int r = rule_expr(c, items[i], w, agg_ok, depth + 1, &e->args[first + i]);
    if (r != 0)
      return r;
  }
  return 0;
}

static int cmp_op(const char *s) {
  static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">="};
  for (int i = 0; i < 6; i++)
    if (s != NULL && strcmp(s, ops[i]) == 0)
      return i;
  return (s != NULL && strcmp(s, "!=") == 0) ? RX_CMP_NE : -1;
}

static int expr_aexpr(struct rule_ctx *c, const PgQuery__AExpr *a, enum rx_where w, int agg_ok, unsigned depth,
                      struct rx **out) {
  const char *op = a->n_name == 1 ? rule_node_str(a->name[0]) : NULL;
  struct rx *e = NULL;
  int r;
  if (a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP && a->lexpr != NULL && cmp_op(op) >= 0) {
    if ((e = rx_new(RX_CMP, 2)) == NULL)
      return CDR_ERR_NOMEM;
    e->op = cmp_op(op);
    if ((r = rule_expr(c, a->lexpr, w, agg_ok, depth + 1, &e->args[0])) == 0)
      r = rule_expr(c, a->rexpr, w, agg_ok, depth + 1, &e->args[1]);
  } else if ((a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_IN || a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN ||
              a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN) &&
             a->rexpr != NULL && a->rexpr->node_case == PG_QUERY__NODE__NODE_LIST) {
    const PgQuery__List *l = a->rexpr->list;
    int in = a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_IN;
    if (l->n_items == 0 || l->n_items > RULE_MAX_ITEMS || (!in && l->n_items != 2))
      return rule_refuse(c, "an IN list has 1 to 256 values");
    if ((e = rx_new(in ? RX_IN : RX_BETWEEN, 1 + l->n_items)) == NULL)
      return CDR_ERR_NOMEM;
    e->op = in ? (op != NULL && strcmp(op, "<>") == 0) : a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN;
    if ((r = rule_expr(c, a->lexpr, w, agg_ok, depth + 1, &e->args[0])) == 0)
      r = expr_list(c, l->items, l->n_items, e, 1, w, agg_ok, depth);
  } else {
    return rule_refuse(c, "the operator %s is refused: comparisons (= <> < <= > >=), IN, BETWEEN, IS NULL, AND, "
                       "OR and NOT are allowed", op != NULL ? op : "(this kind)");
  }
  if (r != 0)
    rx_free(e);
  else
    *out = e;
  return r;
}

static int expr_bool(struct rule_ctx *c, const PgQuery__BoolExpr *b, enum rx_where w, int agg_ok, unsigned depth,
                     struct rx **out) {
  enum rx_kind k = b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR  ? RX_AND
                   : b->boolop == PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR ? RX_OR
                                                                    : RX_NOT;
  if (b->n_args == 0 || b->n_args > RULE_MAX_ITEMS || (k == RX_NOT && b->n_args != 1))
    return rule_refuse(c, "a boolean expression has 1 to 256 terms");
  struct rx *e = rx_new(k, b->n_args);
  if (e == NULL)
    return CDR_ERR_NOMEM;
  int r = expr_list(c, b->args, b->n_args, e, 0, w, agg_ok, depth);
  if (r != 0)
    rx_free(e);
  else
    *out = e;
  return r;
}

static int expr_nulltest(struct rule_ctx *c, const PgQuery__NullTest *t, enum rx_where w, int agg_ok, unsigned depth,
                         struct rx **out) {
  struct rx *e = rx_new(RX_NULLTEST, 1);
  if (e == NULL)
    return CDR_ERR_NOMEM;
  e->op = t->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL;
  int r = rule_expr(c, t->arg, w, agg_ok, depth + 1, &e->args[0]);
  if (r != 0)
    rx_free(e);
  else
    *out = e;
  return r;
}

int rule_expr(struct rule_ctx *c, const PgQuery__Node *n, enum rx_where w, int agg_ok, unsigned depth,
              struct rx **out) {
  *out = NULL;
  if (depth > RULE_MAX_DEPTH)
    return rule_refuse(c, "the expression is nested more than %u deep", RULE_MAX_DEPTH);
  if (n == NULL)
    return rule_refuse(c, "an empty expression is refused");
  switch (n->node_case) {
  case PG_QUERY__NODE__NODE_COLUMN_REF: return expr_column(c, n, w, c->in_func > 0, out);
  case PG_QUERY__NODE__NODE_A_CONST: return expr_const(c, n->a_const, out);
  case PG_QUERY__NODE__NODE_A_EXPR: return expr_aexpr(c, n->a_expr, w, agg_ok, depth, out);
  case PG_QUERY__NODE__NODE_BOOL_EXPR: return expr_bool(c, n->bool_expr, w, agg_ok, depth, out);
  case PG_QUERY__NODE__NODE_NULL_TEST: return expr_nulltest(c, n->null_test, w, agg_ok, depth, out);
  case PG_QUERY__NODE__NODE_FUNC_CALL: return rule_func(c, n->func_call, w, agg_ok, depth, out);
  case PG_QUERY__NODE__NODE_SUB_LINK: return rule_refuse(c, "subqueries are refused");
  case PG_QUERY__NODE__NODE_CASE_EXPR: return rule_refuse(c, "CASE is refused");
  case PG_QUERY__NODE__NODE_TYPE_CAST: return rule_refuse(c, "casts are refused");
  default: break;
  }
  return rule_refuse(c, "this expression (%s) is not in the allowlist", node_kind(n));
}

/* An aggregate: COUNT(*), COUNT(DISTINCT unit), or a metric's allowed
 * function over the bare column (clamped by the emitter). */
static int func_agg(struct rule_ctx *c, const PgQuery__FuncCall *f, const char *name, int agg_ok, struct rx **out) {
  static const struct {
    const char *name;
    int distinct, op;
    unsigned bit;
  } fns[] = {{"count", 0, RX_AGG_COUNT, RULE_FN_COUNT},   {"count", 1, RX_AGG_COUNT_DISTINCT, RULE_FN_COUNT_DISTINCT},
             {"sum", 0, RX_AGG_SUM, RULE_FN_SUM},         {"sum", 1, RX_AGG_SUM_DISTINCT, RULE_FN_SUM_DISTINCT},
             {"avg", 0, RX_AGG_AVG, RULE_FN_AVG},         {"min", 0, RX_AGG_MIN, RULE_FN_MIN},
             {"max", 0, RX_AGG_MAX, RULE_FN_MAX}};
  size_t rte, col;
  int r, distinct = f->agg_distinct ? 1 : 0;
  if (c->p->mode == RULE_MODE_LIST)
    return rule_refuse(c, "%s: a list rule releases SELECT DISTINCT of list columns, no aggregates", name);
  if (!agg_ok)
    return rule_refuse(c, "%s is allowed only in the select list, HAVING and ORDER BY, and not inside another "
                       "aggregate", name);
  if (f->agg_filter != NULL || f->n_agg_order > 0 || f->agg_within_group || f->func_variadic)
    return rule_refuse(c, "FILTER, ORDER BY, WITHIN GROUP and VARIADIC inside %s are refused", name);
  if (f->agg_star) {
    if (strcmp(name, "count") != 0 || f->n_args != 0 || distinct)
      return rule_refuse(c, "only COUNT takes *");
    if ((*out = rx_new(RX_AGG, 0)) == NULL)
      return CDR_ERR_NOMEM;
    (*out)->op = RX_AGG_COUNT;
    return 0;
  }
  if (f->n_args != 1)
    return rule_refuse(c, "%s takes one column", name);
  if (f->args[0]->node_case == PG_QUERY__NODE__NODE_CASE_EXPR)
    return rule_refuse(c, "CASE inside %s is refused: aggregates take a bare column", name);
  if (f->args[0]->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
    return rule_refuse(c, "%s takes a bare column: expressions inside aggregates (%s) are refused", name,
                       node_kind(f->args[0]));
  if ((r = rule_resolve_column(c, f->args[0], &rte, &col)) != 0)
    return r;
  const struct rule_table *t = c->p->rte[rte].t;
  enum rule_class cls = col_class(c, rte, col);
  size_t k;
  for (k = 0; k < sizeof(fns) / sizeof(fns[0]); k++)
    if (strcmp(fns[k].name, name) == 0 && fns[k].distinct == distinct)
      break;
  if (cls == RULE_COL_UNIT) {
    if (k == sizeof(fns) / sizeof(fns[0]) || fns[k].op != RX_AGG_COUNT_DISTINCT)
      return rule_refuse(c, "%s %s %s: only COUNT(DISTINCT %s) may use it", t->cols[col], unit_phrase(c, rte, col),
                         t->name, t->cols[col]);
  } else if (cls == RULE_COL_METRIC) {
    if (k == sizeof(fns) / sizeof(fns[0]) || (t->rule->cols[col].metric_fns & fns[k].bit) == 0)
      return rule_refuse(c, "%s%s on the metric %s of %s is not among the functions its rule allows", name,
                         distinct ? " DISTINCT" : "", t->cols[col], t->name);
  } else {
    return rule_refuse(c, "%s is a %s of %s: aggregates take a metric, or COUNT(DISTINCT privacy unit)",
                       t->cols[col], rule_class_name(cls), t->name);
  }
  struct rx *e = rx_new(RX_AGG, 1);
  if (e == NULL || (e->args[0] = rx_new(RX_COL, 0)) == NULL) {
    rx_free(e);
    return CDR_ERR_NOMEM;
  }
  e->op = fns[k].op;
  e->args[0]->rte = rte;
  e->args[0]->col = col;
  *out = e;
  return 0;
}

int rule_func(struct rule_ctx *c, const PgQuery__FuncCall *f, enum rx_where w, int agg_ok, unsigned depth,
              struct rx **out) {
  static const char *const aggs[] = {"count", "sum", "avg", "min", "max"};
  static const struct {
    const char *name;
    int op;
    size_t maxargs;
  } scalars[] = {{"lower", RX_FN_LOWER, 1}, {"upper", RX_FN_UPPER, 1}, {"length", RX_FN_LENGTH, 1},
                 {"abs", RX_FN_ABS, 1},     {"round", RX_FN_ROUND, 2}};
  const char *name = f->n_funcname == 1 ? rule_node_str(f->funcname[0]) : NULL;
  if (name == NULL)
    return rule_refuse(c, "qualified function names are refused");
  if (f->over != NULL)
    return rule_refuse(c, "window functions (%s ... OVER) are refused", name);
  for (size_t i = 0; i < sizeof(aggs) / sizeof(aggs[0]); i++)
    if (strcmp(name, aggs[i]) == 0)
      return func_agg(c, f, name, agg_ok, out);
  size_t k;
  for (k = 0; k < sizeof(scalars) / sizeof(scalars[0]) && strcmp(scalars[k].name, name) != 0; k++)
    ;
  if (k == sizeof(scalars) / sizeof(scalars[0]))
    return rule_refuse(c, "the function %.64s is not in the allowlist (count, sum, avg, min, max, lower, upper, "
                       "length, abs, round)", name);
  if (f->n_args < 1 || f->n_args > scalars[k].maxargs || f->agg_star || f->agg_distinct || f->agg_filter != NULL ||
      f->n_agg_order > 0 || f->func_variadic)
    return rule_refuse(c, "%s takes %zu argument%s", name, scalars[k].maxargs, scalars[k].maxargs > 1 ? "s at most" : "");
  if (f->n_args == 2 && f->args[1]->node_case != PG_QUERY__NODE__NODE_A_CONST)
    return rule_refuse(c, "the second argument of %s is a literal", name);
  struct rx *e = rx_new(RX_FUNC, f->n_args);
  if (e == NULL)
    return CDR_ERR_NOMEM;
  e->op = scalars[k].op;
  c->in_func++;
  int r = expr_list(c, f->args, f->n_args, e, 0, w, agg_ok, depth);
  c->in_func--;
  if (r != 0)
    rx_free(e);
  else
    *out = e;
  return r;
}
