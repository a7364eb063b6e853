/*
 * engine_dp.c - the dispatch point of release rules in mode dp
 * (engine_int.h: engine_dp_run; docs/RULES.md).  The checker accepts a
 * dp query's shape (rule_check); running it (contribution bounding per
 * privacy unit, integer noise from the enclave's CSPRNG, partition
 * selection, the budget charged before the answer leaves) is the
 * differential-privacy engine's, which plugs in here.  Until then a dp
 * query is refused before anything runs, so no budget is spent and
 * nothing of the table is read.
 */
#include "engine_int.h"

#include "rule.h"

int engine_dp_run(struct cdr_engine *e, const struct engine_principal *who, const struct rule_plan *plan,
                  struct cdr_buf *out, uint64_t *rows, char **errmsg) {
  (void)e;
  (void)who;
  (void)out;
  *rows = 0;
  return engine_set_err(errmsg, CDR_ERR_RULE_VIOLATION,
                        "queries under a %s rule are not executed yet: differential privacy is coming (nothing ran, "
                        "no budget was spent)",
                        rule_mode_name(rule_plan_mode(plan)));
}
