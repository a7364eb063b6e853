/*
 * rule_check.c - the query checker's top level (rule.h): parse, find the
 * tables the text names, and for a query that reads a ruled table walk
 * the one SELECT with an allowlist: FROM one table or inner joins on
 * equalities of join columns and privacy units, then the clauses
 * (rule_check_clause.c).
 *
 * "The most restrictive rule wins": every table of a governed query must
 * have a rule, all of one mode; each column is judged by its own table's
 * rule; every instance of a table under an aggregate rule adds its own
 * threshold.  A column equated to a privacy unit in a join condition is
 * treated as that unit (rule_is_unit).
 */
#include <openssl/crypto.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/limits.h"
#include "common/util.h"
#include "engine_int.h"
#include "rule_int.h"

enum rule_mode rule_plan_mode(const struct rule_plan *p) { return p->mode; }

void rule_plan_free(struct rule_plan *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->ntargets; i++) {
    rx_free(p->targets[i].e);
    cdr_str_wipe_free(p->targets[i].name);
  }
  rx_free(p->where);
  for (size_t i = 0; i < p->ngroup; i++)
    rx_free(p->group[i]);
  rx_free(p->having);
  free(p);
}

struct find_ruled {
  rule_lookup_fn lookup;
  void *ctx;
  const struct rule_table *first;
};

static int note_table(void *ctx, const char *relname) {
  struct find_ruled *f = ctx;
  const struct rule_table *t = f->lookup(f->ctx, relname);
  if (t != NULL && t->rule != NULL && !t->readable && f->first == NULL)
    f->first = t;
  return 0;
}

static int add_rte(struct rule_ctx *c, const PgQuery__Node *n, rule_lookup_fn lookup, void *lctx) {
  struct rule_plan *p = c->p;
  if (n->node_case == PG_QUERY__NODE__NODE_RANGE_SUBSELECT)
    return rule_refuse(c, "subqueries in FROM are refused");
  if (n->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
    return rule_refuse(c, "FROM takes tables and JOIN ... ON, not this (%s)",
                       n->node_case == PG_QUERY__NODE__NODE_RANGE_FUNCTION ? "a table function" : "construct");
  const PgQuery__RangeVar *rv = n->range_var;
  if ((rv->schemaname != NULL && rv->schemaname[0] != '\0') || (rv->catalogname != NULL && rv->catalogname[0] != '\0'))
    return rule_refuse(c, "schema-qualified table names are refused");
  if (rv->alias != NULL && rv->alias->n_colnames > 0)
    return rule_refuse(c, "column aliases on a table are refused");
  const struct rule_table *t = lookup(lctx, rv->relname != NULL ? rv->relname : "");
  if (t == NULL)
    return engine_set_err(c->errmsg, CDR_ERR_SQL_ERROR, "no such table: %.64s", rv->relname != NULL ? rv->relname : "");
  if (p->nrte >= RULE_MAX_RTE)
    return rule_refuse(c, "a query reads at most %u tables", RULE_MAX_RTE);
  c->alias[p->nrte] = rv->alias != NULL ? rv->alias->aliasname : NULL;
  for (size_t i = 0; i < p->nrte; i++) {
    const char *a = c->alias[i] != NULL ? c->alias[i] : p->rte[i].t->name;
    const char *b = c->alias[p->nrte] != NULL ? c->alias[p->nrte] : t->name;
    if (strcasecmp(a, b) == 0)
      return engine_set_err(c->errmsg, CDR_ERR_SQL_ERROR, "the name %s is used twice in FROM: give an alias", b);
  }
  p->rte[p->nrte++].t = t;
  return 0;
}

/* One equality of a join: two columns of two instances, each a join
 * column or a privacy unit of a ruled table. */
static int join_eq(struct rule_ctx *c, const PgQuery__Node *n) {
  struct rule_plan *p = c->p;
  const PgQuery__AExpr *a = n->node_case == PG_QUERY__NODE__NODE_A_EXPR ? n->a_expr : NULL;
  const char *op = a != NULL && a->n_name == 1 ? rule_node_str(a->name[0]) : NULL;
  if (op == NULL || a->kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP || strcmp(op, "=") != 0 || a->lexpr == NULL ||
      a->rexpr == NULL || a->lexpr->node_case != PG_QUERY__NODE__NODE_COLUMN_REF ||
      a->rexpr->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
    return rule_refuse(c, "JOIN ... ON takes equalities of two columns, joined by AND");
  size_t r[2], col[2];
  const PgQuery__Node *side[2] = {a->lexpr, a->rexpr};
  for (int i = 0; i < 2; i++) {
    int rc = rule_resolve_column(c, side[i], &r[i], &col[i]);
    if (rc != 0)
      return rc;
  }
  for (int i = 0; i < 2; i++) {
    const struct rule_table *t = p->rte[r[i]].t, *o = p->rte[r[1 - i]].t;
    enum rule_class cls =
        t->rule != NULL && col[i] < t->rule->ncols ? t->rule->cols[col[i]].cls : RULE_COL_HIDDEN;
    if (t->rule != NULL && cls == RULE_COL_UNIT && o->rule == NULL)
      return rule_refuse(c, "%s is the privacy unit of %s: it joins only to another ruled table, not to %s (no "
                         "rule), which would make the threshold a membership oracle", t->cols[col[i]], t->name,
                         o->name);
    if (t->rule != NULL && cls != RULE_COL_UNIT && cls != RULE_COL_JOIN)
      return rule_refuse(c, "%s is a %s of %s: JOIN ... ON takes join columns and privacy units only",
                         t->cols[col[i]], rule_class_name(cls), t->name);
  }
  if (r[0] == r[1] || (r[0] != p->nrte - 1 && r[1] != p->nrte - 1))
    return rule_refuse(c, "each equality of JOIN ... ON compares the joined table with an earlier one");
  if (p->neq >= RULE_MAX_ITEMS)
    return rule_refuse(c, "too many join conditions");
  p->eq[p->neq++] = (struct rule_eq){r[0], col[0], r[1], col[1]};
  return 0;
}

static int join_quals(struct rule_ctx *c, const PgQuery__Node *q) {
  if (q == NULL)
    return rule_refuse(c, "CROSS JOIN is refused: write JOIN ... ON");
  if (q->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR && q->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
    for (size_t i = 0; i < q->bool_expr->n_args; i++) {
      int r = join_eq(c, q->bool_expr->args[i]);
      if (r != 0)
        return r;
    }
    return 0;
  }
  return join_eq(c, q);
}

/* FROM: a table, or a left-deep chain of inner joins. */
static int walk_from(struct rule_ctx *c, const PgQuery__Node *n, rule_lookup_fn lookup, void *lctx, unsigned depth) {
  if (depth > RULE_MAX_RTE)
    return rule_refuse(c, "a query reads at most %u tables", RULE_MAX_RTE);
  if (n->node_case != PG_QUERY__NODE__NODE_JOIN_EXPR)
    return add_rte(c, n, lookup, lctx);
  const PgQuery__JoinExpr *j = n->join_expr;
  if (j->jointype != PG_QUERY__JOIN_TYPE__JOIN_INNER)
    return rule_refuse(c, "outer joins are refused: they keep unmatched rows; use JOIN ... ON");
  if (j->is_natural || j->n_using_clause > 0 || j->alias != NULL)
    return rule_refuse(c, "NATURAL, USING and join aliases are refused: write JOIN ... ON a = b");
  if (j->larg == NULL || j->rarg == NULL || j->rarg->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR)
    return rule_refuse(c, "nested joins on the right are refused: write t1 JOIN t2 ON ... JOIN t3 ON ...");
  int r = walk_from(c, j->larg, lookup, lctx, depth + 1);
  if (r == 0)
    r = add_rte(c, j->rarg, lookup, lctx);
  if (r == 0)
    r = join_quals(c, j->quals);
  if (c->p->nrte > 0)
    c->p->eq_end[c->p->nrte - 1] = c->p->neq;
  return r;
}

/* Every table of a governed query has a rule, all of one mode. */
static int check_modes(struct rule_ctx *c) {
  struct rule_plan *p = c->p;
  for (size_t i = 0; i < p->nrte; i++) {
    const struct rule_table *t = p->rte[i].t;
    if (t->rule == NULL)
      return rule_refuse(c, "%s has no rule: a query that reads a ruled table reads only ruled tables", t->name);
    if (t->rule->ncols != t->ncols)
      return rule_refuse(c, "the rule of %s was set for other columns: its owner must set it again", t->name);
    if (t->rule->mode != p->mode)
      return rule_refuse(c, "%s is under a %s rule: a query combines tables of one mode", t->name,
                         rule_mode_name(t->rule->mode));
  }
  if (p->mode == RULE_MODE_TEMPLATE)
    return rule_refuse(c, "only approved templates run on this table");
  if (p->mode == RULE_MODE_LIST && p->nrte < 2)
    return rule_refuse(c, "a list rule releases rows only for keys matched by an inner join with another ruled "
                       "table");
  /* A table joined to itself matches every row's own key: its list
   * columns would come out for every row (review of 2026-12-07). */
  for (size_t i = 0; p->mode == RULE_MODE_LIST && i < p->neq; i++)
    if (strcmp(p->rte[p->eq[i].ra].t->name, p->rte[p->eq[i].rb].t->name) == 0)
      return rule_refuse(c,
                         "%s is joined to itself: a list rule releases rows only for keys matched with another "
                         "ruled table",
                         p->rte[p->eq[i].ra].t->name);
  if (p->mode == RULE_MODE_DP && p->nrte > 1)
    return rule_refuse(c, "a dp query reads one table");
  return 0;
}

static int check_select_shape(struct rule_ctx *c, const PgQuery__SelectStmt *s) {
  if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE)
    return rule_refuse(c, "UNION, INTERSECT and EXCEPT are refused");
  if (s->with_clause != NULL)
    return rule_refuse(c, "WITH is refused");
  if (s->into_clause != NULL || s->n_locking_clause > 0 || s->n_values_lists > 0)
    return rule_refuse(c, "SELECT INTO, FOR UPDATE and VALUES are refused");
  if (s->n_window_clause > 0)
    return rule_refuse(c, "window functions are refused");
  if (s->group_distinct)
    return rule_refuse(c, "GROUP BY DISTINCT is refused");
  for (size_t i = 0; i < s->n_distinct_clause; i++)
    if (s->distinct_clause[i] != NULL && s->distinct_clause[i]->node_case != PG_QUERY__NODE__NODE__NOT_SET)
      return rule_refuse(c, "DISTINCT ON is refused");
  c->p->distinct = s->n_distinct_clause > 0;
  if (s->n_from_clause != 1)
    return rule_refuse(c, "%s", s->n_from_clause == 0 ? "a query names its tables in FROM"
                                                       : "comma joins are refused: write JOIN ... ON");
  return 0;
}

static int check_stmt(struct rule_ctx *c, const PgQuery__ParseResult *tree, rule_lookup_fn lookup, void *lctx,
                      const struct rule_table *first) {
  struct rule_plan *p = c->p;
  /* Refusals name `first` until FROM is read. */
  c->named = first;
  if (tree->n_stmts != 1 || tree->stmts[0]->stmt == NULL)
    return rule_refuse(c, "one statement at a time");
  const PgQuery__Node *st = tree->stmts[0]->stmt;
  if (st->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
    return rule_refuse(c, "only SELECT reads a ruled table");
  const PgQuery__SelectStmt *s = st->select_stmt;
  int r = check_select_shape(c, s);
  if (r != 0)
    return r;
  r = walk_from(c, s->from_clause[0], lookup, lctx, 0);
  /* Name the refusals after a ruled table of the query from here on. */
  for (size_t i = 0; i < p->nrte; i++)
    if (p->rte[i].t->rule != NULL) {
      c->named = p->rte[i].t;
      break;
    }
  if (r != 0 || (r = check_modes(c)) != 0)
    return r;
  return rule_clauses(c, s);
}

/* Whether a word of the text (a maximal run of [A-Za-z0-9_]) is the name
 * of a ruled table.  SQLite can name a table only by such a word (bare or
 * in "", ``, []), so a text with none cannot read a ruled table however
 * SQLite or PostgreSQL reads it; the parser is then not needed. */
static const struct rule_table *names_ruled_word(const char *text, rule_lookup_fn lookup, void *ctx) {
  char word[CDR_MAX_TABLE_NAME + 1];
  for (const char *s = text; *s != '\0';) {
    size_t n = 0;
    while ((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') ||
           s[n] == '_')
      n++;
    if (n > 0 && n <= CDR_MAX_TABLE_NAME) {
      memcpy(word, s, n);
      word[n] = '\0';
      const struct rule_table *t = lookup(ctx, word);
      if (t != NULL && t->rule != NULL && !t->readable)
        return t;
    }
    s += n > 0 ? n : 1;
  }
  return NULL;
}

/* The parse tree of a text that names a ruled table, or a refusal. */
static int parse_bounded(const char *text, struct PgQuery__ParseResult **tree, char **errmsg) {
  size_t ntok = 0;
  int r = rule_tree_count_tokens(text, &ntok, errmsg);
  if (r != 0)
    return r;
  if (ntok > RULE_MAX_TOKENS)
    return engine_set_err(errmsg, CDR_ERR_RULE_VIOLATION,
                          "a query that names a ruled table has at most %u tokens (this one has %zu)", RULE_MAX_TOKENS,
                          ntok);
  return rule_tree_parse(text, tree, errmsg);
}

int rule_check(const char *sql, size_t len, rule_lookup_fn lookup, void *ctx, struct rule_plan **plan,
               char **errmsg) {
  *plan = NULL;
  if (len > RULE_MAX_SQL)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the query is over %u bytes", RULE_MAX_SQL);
  if (memchr(sql, '\0', len) != NULL)
    return engine_set_err(errmsg, CDR_ERR_SQL_ERROR, "the query contains a NUL byte");
  char *text = malloc(len + 1);
  if (text == NULL)
    return CDR_ERR_NOMEM;
  memcpy(text, sql, len);
  text[len] = '\0';
  struct PgQuery__ParseResult *tree = NULL;
  const struct rule_table *word = names_ruled_word(text, lookup, ctx);
  int r = word != NULL ? parse_bounded(text, &tree, errmsg) : RULE_UNGOVERNED;
  OPENSSL_cleanse(text, len);
  free(text);
  if (r != 0)
    return r;
  struct find_ruled f = {lookup, ctx, NULL};
  if ((r = rule_tree_each_table(tree, note_table, &f)) != 0) {
    rule_tree_free(tree);
    return engine_set_err(errmsg, r, "the query is nested too deeply");
  }
  if (f.first == NULL) {
    /* PostgreSQL reads no ruled table where a word names one: in a
     * string or a comment, or in text the dialects read differently
     * (PostgreSQL nests block comments, SQLite does not).  Refused
     * rather than handed to SQLite, which might read the table. */
    rule_tree_free(tree);
    return engine_set_err(errmsg, CDR_ERR_RULE_VIOLATION,
                          "the text names the ruled table %s outside FROM (in a string, a comment or a construct "
                          "that SQLite may read differently): refused (the %s rule of %s)",
                          word->name, rule_mode_name(word->rule->mode), word->name);
  }
  struct rule_plan *p = calloc(1, sizeof(*p));
  struct rule_ctx c = {.p = p, .errmsg = errmsg};
  if (p == NULL) {
    rule_tree_free(tree);
    return CDR_ERR_NOMEM;
  }
  p->mode = f.first->rule->mode;
  r = check_stmt(&c, tree, lookup, ctx, f.first);
  rule_tree_free(tree);
  if (r != 0) {
    rule_plan_free(p);
    return r;
  }
  *plan = p;
  return 0;
}
