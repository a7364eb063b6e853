/*
 * dp_int.h - the dp query plan (dp_plan.c builds it from rule_check's
 * plan, dp_exec.c runs it, dp.c drives both), for the dp_*.c files and
 * their tests only.
 *
 * Calls between the files go one way (no cycle):
 *   dp.c -> dp_plan.c, dp_exec.c, dp_cache.c, dp_budget.c
 *   dp_plan.c -> rule_emit.c;  dp_exec.c -> dp_noise.c, dp_render.c
 *   dp.c, dp_plan.c, dp_exec.c, dp_budget.c -> engine_err.c (messages),
 *   dp_budget.c -> catalog.c (table names)
 *
 * The statement dp_plan writes (plan->sql) answers one row per privacy
 * unit and group, ordered by unit, with columns
 *   0              the unit's ordinal (DENSE_RANK over the unit)
 *   1              the group's ordinal (DENSE_RANK over the grouped
 *                  columns, in their order; 1 without GROUP BY)
 *   2 .. 2+ngroup  the grouped columns' values
 *   then per metric i: TOTAL(m_i) and COUNT(m_i)
 * The ordinals come from SQLite so that "same unit" and "same group"
 * mean what GROUP BY means (no C comparison of values).
 */
#ifndef CDR_DP_INT_H
#define CDR_DP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dp_noise.h"
#include "rule_int.h"

#define DP_MAX_Q (2u * RULE_MAX_ITEMS + 1u)
#define DP_MAX_CELLS 100000u /* rows under public keys: the product of the key lists */
#define DP_SCALE 1000000     /* fixed point of metric sums: millionths */

enum dp_qkind { DP_Q_UNITS, DP_Q_COUNT, DP_Q_SUM };

/* One noisy quantity: noise of scale t/s (dp_laplace). */
struct dp_quantity {
  enum dp_qkind kind;
  size_t metric; /* DP_Q_COUNT, DP_Q_SUM */
  dp_u128 t;
  uint64_t s;
};

struct dp_metric {
  size_t col;          /* column of the table */
  int64_t lo, hi;      /* bounds in millionths: ceil(lo 10^6), floor(hi 10^6) */
  double dlo, dhi;     /* the rule's bounds (AVG is clamped to them) */
  size_t q_count, q_sum; /* quantity indexes, or SIZE_MAX */
};

enum dp_out_kind { DP_OUT_DIM, DP_OUT_UNITS, DP_OUT_COUNT, DP_OUT_SUM, DP_OUT_AVG };

struct dp_output {
  enum dp_out_kind kind;
  size_t idx; /* DP_OUT_DIM: position among the grouped columns; else the metric */
  const char *name; /* the plan's target name (borrowed) */
};

enum dp_select { DP_SEL_ONE, DP_SEL_THRESHOLD, DP_SEL_PUBLIC };

struct dp_plan {
  const struct rule_table *table;
  const struct rule_doc *rule;
  char *sql;
  size_t ngroup;
  size_t group_col[RULE_MAX_ITEMS];
  size_t nmetric;
  struct dp_metric metric[RULE_MAX_ITEMS];
  size_t nq;
  struct dp_quantity q[DP_MAX_Q];
  size_t q_units; /* or SIZE_MAX */
  size_t nout;
  struct dp_output out[RULE_MAX_ITEMS];
  enum dp_select sel;
  uint64_t tau;   /* DP_SEL_THRESHOLD: the least noisy unit count released */
  uint32_t k;     /* max_groups_per_unit */
  size_t ncells;  /* DP_SEL_PUBLIC */
  uint64_t eps_micro, delta_pico; /* the charge */
  uint8_t digest[32]; /* SHA-256 of everything above that shapes the answer */
};

/* Build the dp plan of p (mode dp).  0, or CDR_ERR_RULE_VIOLATION with
 * *errmsg naming the clause, CDR_ERR_NOMEM, CDR_ERR_TOO_LARGE. */
int dp_plan_build(const struct rule_plan *p, struct dp_plan **out, char **errmsg);
void dp_plan_free(struct dp_plan *dp);

/* Step the prepared statement st of dp (its sql) to the end, bound,
 * aggregate, noise and select, and write the result document into doc
 * (empty on entry, its max the result byte limit).  *rows gets the
 * row count.  0, CDR_ERR_RESULT_TOO_LARGE (max_rows or doc's max),
 * CDR_ERR_SQL_ERROR (a run-time failure of SQLite, *errmsg),
 * CDR_ERR_NOMEM, CDR_ERR_INTERNAL (the DRBG). */
int dp_exec(const struct dp_plan *dp, sqlite3_stmt *st, uint64_t max_rows, struct cdr_buf *doc, uint64_t *rows,
            char **errmsg);

/* The result document (dp_render.c), appended to doc piece by piece:
 * begin (the column names), then rows written with the value functions
 * and dp_render_sep (",", "[", "]"), then end.  Each returns 0,
 * CDR_ERR_RESULT_TOO_LARGE (doc's max) or CDR_ERR_NOMEM. */
int dp_render_begin(struct cdr_buf *doc, const struct dp_plan *dp);
int dp_render_sep(struct cdr_buf *doc, const char *s);
int dp_render_value(struct cdr_buf *doc, sqlite3_value *v);
int dp_render_text(struct cdr_buf *doc, const uint8_t *p, size_t n);
int dp_render_int(struct cdr_buf *doc, dp_i128 v);
int dp_render_fixed(struct cdr_buf *doc, dp_i128 v); /* millionths, as a decimal */
int dp_render_double(struct cdr_buf *doc, double v); /* null if not finite */
int dp_render_end(struct cdr_buf *doc, uint64_t rows);

/* The cache (dp_cache.c); every call with the cache's mutex held
 * (dp_cache_lock). */
void dp_cache_lock(struct dp_cache *c);
void dp_cache_unlock(struct dp_cache *c);
/* The stored answer under key (and its row count in *rows, if not
 * NULL), or NULL; valid until the next put. */
const struct cdr_buf *dp_cache_get(struct dp_cache *c, const uint8_t key[32], uint64_t *rows);
/* Store a copy of doc with its row count under key (dropping the least
 * recently used answers to make room; a document over
 * DP_CACHE_MAX_BYTES is not stored).  0 or CDR_ERR_NOMEM. */
int dp_cache_put(struct dp_cache *c, const uint8_t key[32], const struct cdr_buf *doc, uint64_t rows);

#endif
