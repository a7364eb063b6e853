/*
 * dp_budget.h - the privacy budget ledger of the tables under a dp rule
 * (issue 11, docs/RULES.md): per table name, the epsilon spent (in
 * millionths) and the delta spent (in units of 10^-12), and per analyst
 * key what that analyst spent of it.
 *
 * Exact arithmetic: amounts are whole numbers of units, so a total of 0.3
 * spent in steps of 0.1 allows exactly three queries.  The totals are
 * not kept here: they are the rule's (epsilon_total and, optionally,
 * epsilon_per_analyst), passed at each charge, so a rule change applies
 * at once while what was spent stays spent (nothing here is ever reset).
 *
 * The ledger is keyed by table name (ASCII case folded, as SQLite
 * compares names): it belongs to the name, not to one upload, so it
 * survives `upload --replace` and a drop followed by a new upload.
 *
 * Charge before release: the query path charges (dp_ledger_charge)
 * before the statement runs and seals the ledger with the result it
 * releases; dp_ledger_refund undoes a charge only for a failure before
 * execution (dp.h says which).
 *
 * Thread safety: every function takes the ledger's mutex, so charges,
 * refunds, reads and encodings may come from several threads.
 *
 * Encoding (big-endian, lp = u32 length || bytes, buf.h), exact:
 *   "CDRDPLv1" (8 bytes)  u32 ntables            (<= CDR_MAX_TABLES)
 *   per table: lp(name)                          (catalog_table_name_valid,
 *                                                 distinct without case)
 *              u64 epsilon_spent_micro           (<= RULE_EPSILON_MAX_MICRO)
 *              u64 delta_spent_pico              (saturates at 2^64 - 1)
 *              u32 nanalysts                     (<= DP_MAX_ANALYSTS)
 *              per analyst: key fingerprint (32 bytes, distinct)
 *                           u64 epsilon_spent_micro
 *   and the analysts' amounts of a table add up to the table's epsilon
 *   exactly.  No trailing bytes; at most DP_LEDGER_MAX_BYTES.
 */
#ifndef CDR_DP_BUDGET_H
#define CDR_DP_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"

#define DP_LEDGER_MAGIC "CDRDPLv1"
#define DP_LEDGER_MAGIC_LEN 8u
#define DP_MAX_ANALYSTS 1024u
#define DP_LEDGER_TABLE_MAX_BYTES (4u + CDR_MAX_TABLE_NAME + 8u + 8u + 4u + DP_MAX_ANALYSTS * (32u + 8u))
#define DP_LEDGER_MAX_BYTES (DP_LEDGER_MAGIC_LEN + 4u + CDR_MAX_TABLES * DP_LEDGER_TABLE_MAX_BYTES)
/* Room for an amount printed by dp_amount_format. */
#define DP_AMOUNT_STR 32u

struct dp_ledger;

/* A new, empty ledger (dp_ledger_free).  0 or CDR_ERR_NOMEM. */
int dp_ledger_new(struct dp_ledger **out) CDR_WUR;
void dp_ledger_free(struct dp_ledger *l);

/* What table has spent, and (analyst_fp not NULL) what that analyst
 * spent of it; zeros for a table or analyst never charged. */
struct dp_spent {
  uint64_t eps_micro, delta_pico, analyst_micro;
};
void dp_ledger_spent(struct dp_ledger *l, const char *table, const uint8_t *analyst_fp, struct dp_spent *out);

/* Spend eps_micro (>= 1) and delta_pico of table's budget for the
 * analyst, if the table's spent epsilon plus eps_micro stays within
 * total_micro and (per_analyst_micro != 0) the analyst's stays within
 * per_analyst_micro.  Otherwise nothing changes and the answer is
 * CDR_ERR_BUDGET_EXHAUSTED with *errmsg naming the table and what is
 * left, e.g. "the privacy budget of table visits is spent: this query
 * needs epsilon 0.1 and 0 of 0.3 is left".  Also CDR_ERR_BUDGET_EXHAUSTED
 * for a new analyst when the table has DP_MAX_ANALYSTS already,
 * CDR_ERR_ARG (eps_micro 0, a name catalog_table_name_valid refuses),
 * CDR_ERR_NOMEM. */
int dp_ledger_charge(struct dp_ledger *l, const char *table, const uint8_t analyst_fp[32], uint64_t total_micro,
                     uint64_t per_analyst_micro, uint64_t eps_micro, uint64_t delta_pico, char **errmsg) CDR_WUR;
/* Undo one dp_ledger_charge with the same arguments, for a query that
 * failed before it ran.  0, or CDR_ERR_INTERNAL if no such charge can
 * be undone (the ledger is left as it was). */
int dp_ledger_refund(struct dp_ledger *l, const char *table, const uint8_t analyst_fp[32], uint64_t eps_micro,
                     uint64_t delta_pico) CDR_WUR;

/* Append the encoding to out.  0, CDR_ERR_TOO_LARGE (out's max),
 * CDR_ERR_NOMEM. */
int dp_ledger_encode(struct dp_ledger *l, struct cdr_buf *out) CDR_WUR;
/* Decode p[0..n) into a new ledger, checking every rule of the
 * encoding.  0, CDR_ERR_TOO_LARGE (n or a count past its cap),
 * CDR_ERR_TRUNCATED (bytes missing or left over), CDR_ERR_ARG (a wrong
 * magic, invalid or repeated name or key, amounts that do not add up),
 * CDR_ERR_NOMEM.  On failure *out is NULL. */
int dp_ledger_decode(const uint8_t *p, size_t n, struct dp_ledger **out) CDR_WUR;

/* units / 10^decimals as a decimal with no trailing zeros ("0.3", "3",
 * "0.000001"), in out (DP_AMOUNT_STR bytes). */
void dp_amount_format(uint64_t units, unsigned decimals, char out[DP_AMOUNT_STR]);

#endif
