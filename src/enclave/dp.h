/*
 * dp.h - running a query under a differential-privacy (dp) rule (issue
 * 11, docs/RULES.md "dp"): the interface the query path calls once
 * rule_check has accepted a query whose plan is in mode dp.
 *
 * The mechanism, for one table T with privacy unit U and the rule's
 * max_groups_per_unit k:
 *   1. SQLite aggregates per unit and group (the enclave's own statement,
 *      written from the checked plan: rows whose unit is NULL are left
 *      out, the analyst's WHERE applies to rows);
 *   2. contribution bounding, in C: a unit in more than k groups keeps k
 *      of them chosen uniformly at random (CSPRNG); per kept group it
 *      counts 1 (COUNT(*), COUNT(DISTINCT U)), 1 if it has a non-NULL
 *      value of metric m (COUNT(m)), and its own total of m clamped to
 *      m's bounds [lo, hi] (SUM(m)) -- a unit with no value of m adds 0;
 *   3. the per-group sums are exact integers (counts, and metric totals
 *      in millionths: fixed point with scale 10^-6, bounds at most 10^12
 *      so a contribution fits 63 bits, group sums in 128 bits, which no
 *      table can overflow);
 *   4. each distinct quantity a query needs (units, COUNT(m), SUM(m)) is
 *      noised once per group with discrete Laplace noise (dp_noise.h) of
 *      scale k * c * q / epsilon_per_query, where c is the quantity's
 *      contribution bound (1, or max(|lo|, |hi|)) and q the number of
 *      quantities: epsilon is split equally among them.  AVG(m) is the
 *      noisy SUM(m) over the noisy COUNT(m) (no epsilon of its own),
 *      clamped to [lo, hi], NULL when the noisy count is not positive;
 *      noisy counts below 0 are shown as 0;
 *   5. groups: without GROUP BY, one row, always.  With GROUP BY on
 *      dimensions that all have public keys, every combination of keys
 *      is a row, empty or not, and rows whose values are not keys are
 *      left out before bounding (keys match the value's text as SQLite
 *      renders it).  Otherwise a group is released only if its noisy
 *      unit count is at least tau = 2 + ceil(b ln(k / delta)), b the
 *      unit count's noise scale: a group made by one unit alone passes
 *      with probability below delta / k, so the query is (epsilon,
 *      delta)-DP; such a query needs the rule's delta.
 * The query is charged epsilon_per_query, and delta if it thresholds.
 *
 * Refused before anything is charged (CDR_ERR_RULE_VIOLATION, naming the
 * clause): under dp a query selects grouped dimensions and COUNT(*),
 * COUNT(DISTINCT unit), COUNT(m), SUM(m), AVG(m); groups by bare
 * dimension columns; has no DISTINCT, ORDER BY, LIMIT or OFFSET; and a
 * GROUP BY without public keys needs a delta.
 */
#ifndef CDR_DP_H
#define CDR_DP_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "dp_budget.h"
#include "rule.h"

/* The answers already given, so that the same query by the same analyst
 * on the same data is answered again with the same noise at no cost.
 * Holds at most DP_CACHE_MAX_ENTRIES documents of DP_CACHE_MAX_BYTES in
 * all (the least recently used go first; a query whose answer was
 * dropped is charged again when asked again, so no answer is ever free
 * twice with fresh noise).  Its mutex also makes dp_run's look-up,
 * charge, run and store one step: of two identical queries at once, one
 * runs and is charged, the other gets its answer. */
struct dp_cache;
#define DP_CACHE_MAX_ENTRIES 1024u
#define DP_CACHE_MAX_BYTES (64u * 1024u * 1024u)

int dp_cache_new(struct dp_cache **out) CDR_WUR;
/* Wipe and free every answer.  NULL is allowed. */
void dp_cache_free(struct dp_cache *c);

struct dp_request {
  sqlite3 *db;                 /* the engine's connection: the statement is
                                  prepared and stepped on it as it is (the
                                  caller has installed the authorizer for
                                  the columns the statement reads -- T's
                                  unit, grouped dimensions, metrics -- and
                                  the time limit) */
  const struct rule_plan *plan; /* rule_check's plan, mode dp, one table */
  const uint8_t *analyst_fp;   /* 32 bytes: SHA-256 of the analyst's SPKI */
  const uint8_t *data_version; /* bytes that change whenever T's data does */
  size_t data_version_len;     /* (e.g. its sealed file's hash); 1..64 */
  size_t max_result_bytes;     /* the result limits of engine.h */
  uint64_t max_result_rows;
};

struct dp_outcome {
  int cached;           /* answered from the cache: nothing charged */
  int charged;          /* the ledger changed: seal it with the answer */
  uint64_t eps_micro;   /* what was charged */
  uint64_t delta_pico;
  uint64_t rows;        /* rows of the answer */
};

/* The name of the one table a checked dp plan reads (as the rule_table
 * spells it), or NULL if p is not one. */
const char *dp_plan_table(const struct rule_plan *p);

/* Call fn(ctx, table, column) for every column the statement of the dp
 * plan p reads -- the table itself with column "", its privacy unit, and
 * every column the select list, GROUP BY and WHERE name -- so that the
 * caller can let the authorizer approve exactly those before dp_run
 * (the unit is read though the query never names it).  Stops at fn's
 * first non-zero return and returns it; CDR_ERR_ARG if p is not a
 * checked dp plan. */
int dp_statement_columns(const struct rule_plan *p, int (*fn)(void *ctx, const char *table, const char *column),
                         void *ctx) CDR_WUR;

/* Run the dp query req->plan and append its result document to out, in
 * the form of engine_query_render (engine.h): {"columns":[...],"rows":
 * [[...]],"row_count":N}.  Dimensions come as their SQLite values (under
 * public keys: the key, a string), counts as integers, sums as decimals
 * with up to six decimal places, averages as numbers or null.
 *
 * Order of events: plan (a refusal here costs nothing) -> cache look-up
 * (a hit costs nothing) -> charge the ledger -> prepare (a failure here
 * is refunded) -> run, bound, noise, render (a failure from here on stays
 * charged: execution has no data-dependent error, clamped inputs and
 * wide sums, so what can fail here is memory, the time limit or the
 * result limits) -> store in the cache.  *oc says what happened, on
 * failure too: oc->charged set means the ledger changed and must be
 * sealed whether or not an answer is released.
 *
 * Returns 0, or: CDR_ERR_RULE_VIOLATION (the plan, *errmsg names the
 * clause), CDR_ERR_BUDGET_EXHAUSTED (*errmsg names the table and what is
 * left), CDR_ERR_SQL_ERROR (SQLite refused to prepare the statement:
 * refunded; or stopped it while it ran, the time limit's interrupt
 * included: charged -- the caller that armed the limit tells the two
 * apart as engine_query does and answers CDR_ERR_SQL_TIMEOUT; SQLite's
 * message with its quotations removed), CDR_ERR_RESULT_TOO_LARGE,
 * CDR_ERR_NOMEM, CDR_ERR_INTERNAL (the DRBG), CDR_ERR_ARG (a request
 * without analyst, plan, database or data version).  On failure out is
 * as it was. */
int dp_run(const struct dp_request *req, struct dp_ledger *ledger, struct dp_cache *cache, struct cdr_buf *out,
           struct dp_outcome *oc, char **errmsg) CDR_WUR;

#endif
