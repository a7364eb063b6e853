/*
 * engine_rules.c - release rules on the query path (engine_int.h;
 * docs/RULES.md): which tables a query reads under their owners' rules,
 * the checker's view of the catalog, the statement that runs instead of
 * the analyst's text, and the one refusal for a table the caller cannot
 * read.
 *
 * Who is checked: a principal that may act as an analyst, reading a
 * table with a rule that it neither owns nor holds a grant on.  Owners
 * and grantees read as before (the owner opted into a grant explicitly).
 * A table with neither rule nor grant is its owner's alone.
 *
 * The checker sees, per table: a table the caller may read (with its
 * rule, if any, so that a query governed by another table judges it by
 * its rule too), a governed table with its rule, and nothing of any
 * other table (the checker then says "no table", which becomes the
 * uniform refusal).  Its accepted plan is written out by rule_emit; the
 * policy approves exactly the columns that statement reads, so the
 * authorizer and the program check hold it to them (the second line).
 *
 * The uniform refusal: SQLite resolves a query's tables before its
 * columns, and the authorizer sees a column only once it resolved, so
 * "SELECT nosuch FROM secret" and "SELECT payload FROM secret" failed
 * differently (no such column / access denied): the columns of a table
 * one cannot read could be probed.  Any failed query whose text names,
 * as a word, a table the caller cannot read, and any "no such table",
 * is answered with engine_no_table instead.  Whether a query that reads
 * such a table fails does not depend on the table's columns (every read
 * of it, with a column or without, is denied), so the answer does not
 * either.  What remains: whether a name is a table at all shows when a
 * failing query merely mentions it (and in an upload under that name,
 * which must say the name is taken); docs/RULES.md says so.
 */
#include "engine.h"
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "rule.h"

int engine_table_governed(const struct catalog_table *t, const struct engine_principal *who) {
  return t != NULL && who != NULL && t->rule_doc != NULL && t->unavailable == NULL &&
         (who->role == CDR_ROLE_ANALYST || who->analyst) && policy_table_access(t, who) == POLICY_ACCESS_NONE;
}

/* The checker's view of the catalog for one principal: a rule_table per
 * catalog entry, made on first use. */
struct rules_view {
  struct cdr_engine *e;
  const struct engine_principal *who;
  struct rule_table *rt;
  const char ***cols;
  unsigned char *made;
  int nomem;
};

static void view_free(struct rules_view *v) {
  for (size_t i = 0; v->cols != NULL && i < v->e->catalog.n; i++)
    free(v->cols[i]);
  free(v->cols);
  free(v->rt);
  free(v->made);
}

static int view_init(struct rules_view *v, struct cdr_engine *e, const struct engine_principal *who) {
  size_t n = e->catalog.n > 0 ? e->catalog.n : 1;
  memset(v, 0, sizeof(*v));
  v->e = e;
  v->who = who;
  v->rt = calloc(n, sizeof(*v->rt));
  v->cols = calloc(n, sizeof(*v->cols));
  v->made = calloc(n, 1);
  if (v->rt == NULL || v->cols == NULL || v->made == NULL) {
    view_free(v);
    return CDR_ERR_NOMEM;
  }
  return 0;
}

static const struct rule_table *view_lookup(void *ctx, const char *name) {
  struct rules_view *v = ctx;
  for (size_t i = 0; i < v->e->catalog.n; i++) {
    const struct catalog_table *t = v->e->catalog.tables[i];
    if (cdr_ascii_casecmp(t->name, name) != 0)
      continue;
    int readable = policy_table_access(t, v->who) != POLICY_ACCESS_NONE;
    if (!readable && !engine_table_governed(t, v->who))
      return NULL;
    if (!v->made[i]) {
      if ((v->cols[i] = calloc(t->ncols, sizeof(*v->cols[i]))) == NULL) {
        v->nomem = 1;
        return NULL;
      }
      for (size_t k = 0; k < t->ncols; k++)
        v->cols[i][k] = t->cols[k].name;
      v->rt[i] = (struct rule_table){t->name, t->owner, t->ncols, v->cols[i], t->rule_doc, readable};
      v->made[i] = 1;
    }
    return &v->rt[i];
  }
  return NULL;
}

static int approve_cb(void *ctx, const char *table, const char *column) {
  return policy_approve(ctx, table, column);
}

int engine_rules_check(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                       struct rule_plan **plan, char **emitted, char **errmsg) {
  struct rules_view *v;
  int r;
  size_t i;
  *plan = NULL;
  *emitted = NULL;
  /* Nothing to check unless some table is governed for who. */
  for (i = 0; i < e->catalog.n && !engine_table_governed(e->catalog.tables[i], who); i++)
    ;
  if (i == e->catalog.n)
    return RULE_UNGOVERNED;
  /* The plan points into the view's tables: the view lives as long as
   * the plan, until engine_rules_done. */
  if ((v = malloc(sizeof(*v))) == NULL || view_init(v, e, who) != 0) {
    free(v);
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  }
  e->rules_view = v;
  r = rule_check(sql, len, view_lookup, v, plan, errmsg);
  if (r == 0 && v->nomem)
    r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  if (r == 0 && rule_plan_mode(*plan) != RULE_MODE_DP) {
    if ((r = rule_emit(*plan, emitted, errmsg)) == 0 &&
        (r = rule_plan_columns(*plan, approve_cb, &e->policy)) != 0)
      r = engine_set_err(errmsg, r, "out of memory");
  }
  if (r != 0) {
    engine_rules_done(e, *plan, *emitted);
    *plan = NULL;
    *emitted = NULL;
  }
  return r;
}

void engine_rules_done(struct cdr_engine *e, struct rule_plan *plan, char *emitted) {
  rule_plan_free(plan);
  cdr_str_wipe_free(emitted);
  policy_clear_approved(&e->policy);
  if (e->rules_view != NULL) {
    view_free(e->rules_view);
    free(e->rules_view);
    e->rules_view = NULL;
  }
}

/* The first word of sql[0..len) (a run of [A-Za-z0-9_], the only way
 * SQLite names a table) that names a table who cannot read, copied to
 * word; 0 if there is none. */
static int unreadable_word(const struct cdr_engine *e, const struct engine_principal *who, const char *sql,
                           size_t len, char word[CDR_MAX_TABLE_NAME + 1]) {
  for (size_t i = 0; i < len;) {
    size_t n = 0;
    while (i + n < len && ((sql[i + n] >= 'A' && sql[i + n] <= 'Z') || (sql[i + n] >= 'a' && sql[i + n] <= 'z') ||
                           (sql[i + n] >= '0' && sql[i + n] <= '9') || sql[i + n] == '_'))
      n++;
    if (n > 0 && n <= CDR_MAX_TABLE_NAME) {
      memcpy(word, sql + i, n);
      word[n] = '\0';
      const struct catalog_table *t = catalog_find(&e->catalog, word);
      if (t != NULL && policy_table_access(t, who) == POLICY_ACCESS_NONE && !engine_table_governed(t, who))
        return 1;
    }
    i += n > 0 ? n : 1;
  }
  return 0;
}

int engine_uniform_refusal(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                           int r, char **errmsg) {
  static const char prefix[] = "no such table: ";
  char word[CDR_MAX_TABLE_NAME + 1];
  if (r == 0 || r == CDR_ERR_RULE_VIOLATION || r == CDR_ERR_TABLE_UNAVAILABLE || r == CDR_ERR_NOMEM)
    return r;
  if (unreadable_word(e, who, sql, len, word))
    return engine_no_table(errmsg, word);
  if (r == CDR_ERR_SQL_ERROR && errmsg != NULL && *errmsg != NULL &&
      strncmp(*errmsg, prefix, sizeof(prefix) - 1) == 0) {
    const char *name = *errmsg + sizeof(prefix) - 1;
    const char *dot = strchr(name, '.');
    if (dot != NULL && dot - name == 4 && (name[0] | 0x20) == 'm' && (name[1] | 0x20) == 'a' &&
        (name[2] | 0x20) == 'i' && (name[3] | 0x20) == 'n')
      name = dot + 1;
    size_t n = strlen(name);
    if (n > CDR_MAX_TABLE_NAME)
      n = CDR_MAX_TABLE_NAME;
    memcpy(word, name, n);
    word[n] = '\0';
    return engine_no_table(errmsg, word);
  }
  return r;
}
