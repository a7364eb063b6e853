/*
 * dp_ops.c - a dp query's charge made durable with its audit entry
 * before the answer leaves (dp_ops.h).  The budget is charged in memory
 * by dp_run; until that charge is in the sealed manifest, an answer (or
 * a refusal after execution) could be bought and the charge forgotten by
 * a crash, so the commit comes first and a failed commit stops the
 * enclave (persist.c) with nothing answered.
 */
#include "dp_ops.h"

#include <jansson.h>
#include <pthread.h>

#include "audit.h"
#include "dp_budget.h"
#include "enclave.h"
#include "engine.h"
#include "persist.h"

static json_t *amount(uint64_t units, unsigned decimals) {
  char s[DP_AMOUNT_STR];
  dp_amount_format(units, decimals, s);
  return json_string(s);
}

/* The query's pending entry, set aside while the charge's own entry is
 * committed, and put back (entries are per thread: audit.c's
 * audit_pending_swap). */
static json_t *pending_take(void) { return audit_pending_swap(NULL); }

static void pending_put(struct enclave *e, json_t *p) {
  audit_discard(e);
  (void)audit_pending_swap(p); /* NULL: discarded above */
}

/* One dp commit at a time: the only commits made under the shared gate
 * (every other holds it exclusive), once kept apart by the engine lock. */
static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;

int dp_ops_seal_charge(struct enclave *e, struct cdr_engine *lane, const char *analyst) {
  struct engine_dp_charge ch;
  json_t *query;
  int r;
  if (!engine_dp_take_charge(lane, &ch))
    return 0;
  pthread_mutex_lock(&commit_lock);
  /* The commit takes the pending entry as its own (persist.c): set the
   * query's aside, so that the charge is its own entry and the query's
   * is finished with the query's outcome afterwards. */
  query = pending_take();
  if ((r = audit_begin(e, "dp_charge")) == 0) {
    uint64_t left = ch.eps_total_micro > ch.eps_spent_micro ? ch.eps_total_micro - ch.eps_spent_micro : 0;
    audit_add_table(e, ch.table, NULL);
    audit_set_input(e, "analyst", json_string(analyst));
    audit_set(e, "epsilon", amount(ch.eps_micro, 6));
    audit_set(e, "delta", amount(ch.delta_pico, 12));
    audit_set(e, "epsilon_spent", amount(ch.eps_spent_micro, 6));
    audit_set(e, "epsilon_total", amount(ch.eps_total_micro, 6));
    audit_set(e, "epsilon_left", amount(left, 6));
    audit_set(e, "delta_spent", amount(ch.delta_spent_pico, 12));
    r = persist_meta_changed(e);
  } else {
    e->fatal = 1; /* the charge cannot be made durable: answer nothing */
  }
  pending_put(e, query);
  pthread_mutex_unlock(&commit_lock);
  return r;
}
