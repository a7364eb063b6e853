/*
 * engine_rule_owner.c - a table's release rule as its owner sets it and
 * as members read it (engine.h: engine_set_rule, engine_rule_render;
 * docs/RULES.md).
 *
 * Contracts:
 *   - Only the owner sets or removes a rule (engine_owned_table's
 *     refusal otherwise).  The rule is parsed against the table's
 *     columns before anything changes (a malformed one is refused naming
 *     its field), and the catalog's sealed encoding must stay within
 *     CDR_MAX_CATALOG_BYTES.
 *   - Grants are full access and a rule does not narrow them: a table
 *     with grants gets a rule only when the owner says to keep them or
 *     to revoke them; asked neither, the refusal lists them.
 *   - What an analyst sees of a rule is what it may use: the columns
 *     the rule does not hide, with their classes, and its numbers.  A
 *     hidden column's name never appears (a hidden column answers as a
 *     missing one, rule_check).  A table the caller can neither read nor
 *     query under a rule gets the uniform refusal (engine_no_table).
 */
#include "engine.h"
#include "engine_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "dp_budget.h"
#include "rule_doc.h"

/* "to role:analyst (all), to bob (a, b)" in buf, cut to fit. */
static void grants_list(const struct catalog_table *t, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < t->ngrants && used + 1 < len; i++) {
    const struct catalog_grant *g = &t->grants[i];
    int n = snprintf(buf + used, len - used, "%s%s (%s)", i > 0 ? ", " : "", g->grantee,
                     g->all_columns ? "all columns" : "some columns");
    if (n < 0)
      break;
    used += (size_t)n < len - used ? (size_t)n : len - used - 1;
  }
}

int engine_set_rule(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *json,
                    size_t len, enum engine_rule_grants grants, size_t *revoked, char **errmsg) {
  struct catalog_table *t;
  char list[512];
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (revoked != NULL)
    *revoked = 0;
  if ((t = engine_owned_table(e, who, table, "set its release rule", 0, &r, errmsg)) == NULL)
    return r;
  if (json != NULL) {
    size_t old = t->rule != NULL ? strlen(t->rule) : 0;
    if (len > RULE_MAX_DOC_BYTES || catalog_encoded_size(&e->catalog) - old + len > CDR_MAX_CATALOG_BYTES)
      return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "rule: the rule is too large for the room's catalog");
    if ((r = catalog_table_check_rule(t, json, len, errmsg)) != 0)
      return r;
    if (t->ngrants > 0 && grants == ENGINE_RULE_GRANTS_ASK) {
      grants_list(t, list, sizeof(list));
      return engine_set_err(errmsg, CDR_ERR_ARG,
                            "table %s has grants, which stay full access under a rule: %s; set the rule with "
                            "--keep-grants to keep them or --revoke-grants to revoke them",
                            t->name, list);
    }
  }
  if ((r = catalog_table_set_rule(t, json, len, 0, errmsg)) != 0)
    return r;
  if (json != NULL && grants == ENGINE_RULE_GRANTS_REVOKE) {
    if (revoked != NULL)
      *revoked = t->ngrants;
    while (t->ngrants > 0)
      if (catalog_revoke(t, t->grants[0].grantee) != 0)
        return engine_set_err(errmsg, CDR_ERR_INTERNAL, "the catalog lost a grant");
  }
  return 0;
}

/* {"metric":[...],"bounds":[lo,hi]} of a metric column. */
static json_t *metric_json(const struct rule_column *c) {
  static const struct {
    unsigned bit;
    const char *name;
  } fns[] = {{RULE_FN_SUM, "sum"},     {RULE_FN_SUM_DISTINCT, "sum_distinct"},     {RULE_FN_AVG, "avg"},
             {RULE_FN_COUNT, "count"}, {RULE_FN_COUNT_DISTINCT, "count_distinct"}, {RULE_FN_MIN, "min"},
             {RULE_FN_MAX, "max"}};
  json_t *a = json_array(), *o = json_object();
  for (size_t i = 0; a != NULL && i < sizeof(fns) / sizeof(fns[0]); i++)
    if ((c->metric_fns & fns[i].bit) != 0 && json_array_append_new(a, json_string(fns[i].name)) != 0) {
      json_decref(a);
      a = NULL;
    }
  if (o == NULL || a == NULL || json_object_set_new(o, "metric", a) != 0 ||
      (c->has_bounds && json_object_set_new(o, "bounds", json_pack("[f,f]", c->lo, c->hi)) != 0)) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static const char *class_word(enum rule_class c) {
  switch (c) {
  case RULE_COL_UNIT: return "privacy_unit";
  case RULE_COL_JOIN: return "join";
  case RULE_COL_DIMENSION: return "dimension";
  case RULE_COL_LIST: return "list";
  default: return "hidden";
  }
}

json_t *engine_rule_public_json(const struct catalog_table *t) {
  const struct rule_doc *d = t->rule_doc;
  json_t *o = json_pack("{s:s}", "mode", rule_mode_name(d->mode)), *cols = json_object();
  if (o == NULL || cols == NULL || json_object_set_new(o, "columns", cols) != 0) {
    json_decref(o);
    return NULL;
  }
  for (size_t i = 0; i < d->ncols && i < t->ncols; i++) {
    const struct rule_column *c = &d->cols[i];
    if (c->cls == RULE_COL_HIDDEN)
      continue;
    json_t *v = c->cls == RULE_COL_METRIC ? metric_json(c) : json_string(class_word(c->cls));
    if (v == NULL || json_object_set_new(cols, t->cols[i].name, v) != 0)
      goto fail;
  }
  if (d->mode == RULE_MODE_AGGREGATE && json_object_set_new(o, "min_units", json_integer(d->min_units)) != 0)
    goto fail;
  if (d->mode == RULE_MODE_DP &&
      (json_object_set_new(o, "epsilon_per_query", json_real((double)d->eps_query_micro / 1e6)) != 0 ||
       json_object_set_new(o, "epsilon_total", json_real((double)d->eps_total_micro / 1e6)) != 0 ||
       json_object_set_new(o, "max_groups_per_unit", json_integer(d->max_groups_per_unit)) != 0))
    goto fail;
  return o;
fail:
  json_decref(o);
  return NULL;
}

/* {"epsilon_spent","epsilon_left","epsilon_total","delta_spent"} of a
 * table under a dp rule: what its ledger holds against the rule's total,
 * as exact decimal strings (dp_amount_format). */
static json_t *budget_json(struct cdr_engine *e, const struct catalog_table *t) {
  char spent[DP_AMOUNT_STR], left[DP_AMOUNT_STR], total[DP_AMOUNT_STR], delta[DP_AMOUNT_STR];
  struct dp_spent s;
  uint64_t tot = t->rule_doc->eps_total_micro;
  dp_ledger_spent(e->dp_ledger, t->name, NULL, &s);
  dp_amount_format(s.eps_micro, 6, spent);
  dp_amount_format(tot > s.eps_micro ? tot - s.eps_micro : 0, 6, left);
  dp_amount_format(tot, 6, total);
  dp_amount_format(s.delta_pico, 12, delta);
  return json_pack("{s:s,s:s,s:s,s:s}", "epsilon_spent", spent, "epsilon_left", left, "epsilon_total", total,
                   "delta_spent", delta);
}

static int dump_cb(const char *p, size_t n, void *ud) { return cdr_buf_put(ud, p, n) == 0 ? 0 : -1; }

int engine_rule_render(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                       struct cdr_buf *out, char **errmsg) {
  const struct catalog_table *t = catalog_find(&e->catalog, table);
  enum policy_table_access a = policy_table_access(t, who);
  json_t *o, *rule = NULL;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (t == NULL || (a == POLICY_ACCESS_NONE && !engine_table_governed(t, who)))
    return engine_no_table(errmsg, table);
  if (a == POLICY_ACCESS_OWNER)
    rule = t->rule != NULL ? json_loads(t->rule, 0, NULL) : json_null();
  else
    rule = t->rule_doc != NULL ? engine_rule_public_json(t) : json_null();
  o = json_pack("{s:s,s:s,s:o*}", "table", t->name, "owner", t->owner, "rule", rule);
  if (o != NULL && t->rule_doc != NULL && t->rule_doc->mode == RULE_MODE_DP &&
      json_object_set_new(o, "budget", budget_json(e, t)) != 0) {
    json_decref(o);
    o = NULL;
  }
  if (o != NULL && a == POLICY_ACCESS_OWNER &&
      (json_object_set_new(o, "stale", json_boolean(t->rule != NULL && t->rule_doc == NULL)) != 0 ||
       json_object_set_new(o, "grants", json_integer((json_int_t)t->ngrants)) != 0)) {
    json_decref(o);
    o = NULL;
  }
  if (o == NULL)
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  size_t start = out->len;
  int r = json_dump_callback(o, dump_cb, out, JSON_COMPACT) == 0 ? 0 : CDR_ERR_RESULT_TOO_LARGE;
  json_decref(o);
  if (r != 0) {
    out->len = start;
    return engine_set_err(errmsg, r, "the rule is too large to answer");
  }
  return 0;
}
