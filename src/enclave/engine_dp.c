/*
 * engine_dp.c - release rules in mode dp on the query path (engine_int.h:
 * engine_dp_run; engine.h: the ledger and the last charge; docs/RULES.md
 * "dp").  The checker accepts a dp query's shape (rule_check); this file
 * hands it to the differential-privacy engine (dp.h: dp_run) with the
 * engine's ledger and answer cache, after the policy approved exactly
 * the columns its statement reads.
 *
 * Contracts:
 *   - The data version dp_run keys its cache with is the table entry's
 *     data_serial (catalog.h: a new number whenever an entry is put in
 *     place, so an upload --replace is new data even within one second
 *     and at the same row count), its creation time and its rows.
 *   - A query whose ledger changed (charged, whether it then succeeded
 *     or failed while it ran) leaves that charge in e->dp_charge; the
 *     enclave seals the ledger with the room's state before the answer
 *     (or the refusal) leaves (dp_ops.c).
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "dp.h"
#include "rule.h"
#include "rule_doc.h"

static int approve_cb(void *ctx, const char *table, const char *column) {
  return policy_approve(ctx, table, column);
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Record the charge oc made to t's budget in e->dp_charge. */
static void note_charge(struct cdr_engine *e, const struct catalog_table *t, const struct dp_outcome *oc) {
  struct engine_dp_charge *c = &e->dp_charge;
  struct dp_spent s;
  dp_ledger_spent(e->dp_ledger, t->name, NULL, &s);
  memset(c, 0, sizeof(*c));
  c->charged = 1;
  snprintf(c->table, sizeof(c->table), "%s", t->name);
  c->eps_micro = oc->eps_micro;
  c->delta_pico = oc->delta_pico;
  c->eps_spent_micro = s.eps_micro;
  c->delta_spent_pico = s.delta_pico;
  c->eps_total_micro = t->rule_doc != NULL ? t->rule_doc->eps_total_micro : 0;
}

int engine_dp_run(struct cdr_engine *e, const struct engine_principal *who, const struct rule_plan *plan,
                  struct cdr_buf *out, uint64_t *rows, char **errmsg) {
  const char *name = dp_plan_table(plan);
  const struct catalog_table *t = name != NULL ? catalog_find(&e->catalog, name) : NULL;
  struct dp_outcome oc;
  uint8_t version[24];
  int r;
  *rows = 0;
  if (t == NULL || e->dp_ledger == NULL || e->dp_cache == NULL)
    return engine_set_err(errmsg, CDR_ERR_INTERNAL, "the dp engine is not ready");
  if ((r = dp_statement_columns(plan, approve_cb, &e->policy)) != 0)
    return engine_set_err(errmsg, r, "out of memory");
  put_u64(version, t->data_serial);
  put_u64(version + 8, (uint64_t)t->created_at);
  put_u64(version + 16, t->rows);
  struct dp_request req = {e->db, plan, who->key_fp, version, sizeof(version), e->max_result_bytes,
                           e->max_result_rows};
  r = dp_run(&req, e->dp_ledger, e->dp_cache, out, &oc, errmsg);
  if (r == CDR_ERR_SQL_ERROR && e->budget.timed_out)
    r = engine_set_err(errmsg, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of %u ms", e->time_limit_ms);
  else if ((r == CDR_ERR_SQL_ERROR || r == CDR_ERR_NOMEM) && e->meter.exceeded)
    r = engine_memory_err(e, errmsg);
  if (oc.charged)
    note_charge(e, t, &oc);
  *rows = oc.rows;
  return r;
}

int engine_dp_take_charge(struct cdr_engine *e, struct engine_dp_charge *out) {
  if (e == NULL || !e->dp_charge.charged)
    return 0;
  *out = e->dp_charge;
  memset(&e->dp_charge, 0, sizeof(e->dp_charge));
  return 1;
}

struct dp_ledger *engine_dp_ledger(struct cdr_engine *e) { return e->dp_ledger; }

void engine_dp_set_ledger(struct cdr_engine *e, struct dp_ledger *l) {
  dp_ledger_free(e->dp_ledger);
  e->dp_ledger = l;
}
