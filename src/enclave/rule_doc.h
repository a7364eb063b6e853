/*
 * rule_doc.h - a table owner's release rule (issue 11, docs/RULES.md):
 * the JSON document, checked against the table's columns and kept as
 * plain data (no pointer into the engine), one class per column.
 *
 * Shapes (every key is required unless marked optional; any other key,
 * or a key that the mode does not take, is refused):
 *   {"mode": "aggregate", "columns": {...}, "min_units": N}          N >= 5
 *   {"mode": "list", "columns": {...}}
 *   {"mode": "dp", "columns": {...}, "epsilon_per_query": E, "epsilon_total": T,
 *    "max_groups_per_unit": G, "delta": D (optional),
 *    "epsilon_per_analyst": A (optional: what one analyst may spend of T),
 *    "public_keys": {"dimension column": ["value", ...]} (optional)}
 *   {"mode": "template"}
 * A column's class is a string, "privacy_unit", "join", "dimension",
 * "list" or "hidden", or for a metric an object
 *   {"metric": ["sum", "avg", "count", ...], "bounds": [LO, HI]}
 * (bounds optional except under dp).  Classes by mode:
 *   aggregate: exactly one privacy_unit; join, dimension, metric, hidden;
 *   list:      at least one join and one list column; hidden;
 *   dp:        exactly one privacy_unit; dimension, metric (with bounds),
 *              hidden;
 *   template:  no columns.
 * A column the rule does not name is hidden.  A metric is an INTEGER or
 * REAL column.  Metric functions: sum, sum_distinct, avg, count,
 * count_distinct, min, max (dp: sum, avg, count only).
 *
 * Differential-privacy amounts are exact: epsilon in units of 10^-6
 * (0 < E <= A <= T <= 1000), delta in units of 10^-12 (0 < D < 1); a
 * value that is not a whole number of units is refused, so that a budget
 * is spent by exact integer arithmetic.  The number is read by jansson
 * as the double nearest its text, and accepted when that double is the
 * one nearest a whole number u of units (u / 10^k, correctly rounded,
 * compares equal); then the amount is exactly u units.  A text of 17 or
 * fewer significant digits is accepted exactly when it denotes u units;
 * a longer text within half a double's ulp of u units (say
 * 0.10000000000000000001) reads as u units too.  Metric bounds under dp
 * are at most 10^12 in size, so that a contribution in millionths fits
 * 63 bits (dp.h).
 *
 * Every refusal is CDR_ERR_ARG (CDR_ERR_BAD_JSON for text that is not
 * JSON, CDR_ERR_NOMEM) with a message that names the field, e.g.
 * "rule: columns.cost.bounds: the lower bound 5000 is above the upper
 * bound 0".
 */
#ifndef CDR_RULE_DOC_H
#define CDR_RULE_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum rule_mode { RULE_MODE_AGGREGATE = 1, RULE_MODE_LIST, RULE_MODE_DP, RULE_MODE_TEMPLATE };

enum rule_class {
  RULE_COL_HIDDEN = 0, /* also every column the rule does not name */
  RULE_COL_UNIT,
  RULE_COL_JOIN,
  RULE_COL_DIMENSION,
  RULE_COL_METRIC,
  RULE_COL_LIST
};

/* Metric functions, as bits of rule_column.metric_fns. */
enum rule_fn {
  RULE_FN_SUM = 1u << 0,
  RULE_FN_SUM_DISTINCT = 1u << 1,
  RULE_FN_AVG = 1u << 2,
  RULE_FN_COUNT = 1u << 3,
  RULE_FN_COUNT_DISTINCT = 1u << 4,
  RULE_FN_MIN = 1u << 5,
  RULE_FN_MAX = 1u << 6
};

#define RULE_MIN_UNITS_FLOOR 5u
#define RULE_EPSILON_MAX_MICRO 1000000000ull /* 1000 */
#define RULE_MAX_DOC_BYTES (1u * 1024u * 1024u)
#define RULE_MAX_PUBLIC_KEYS 10000u
#define RULE_DP_MAX_BOUND 1e12

struct rule_column {
  enum rule_class cls;
  unsigned metric_fns; /* RULE_FN_* bits (metrics) */
  int has_bounds;
  double lo, hi;       /* clamping bounds, lo <= hi, finite */
  size_t nkeys;        /* dp public keys of a dimension */
  char **keys;
};

struct rule_doc {
  enum rule_mode mode;
  size_t ncols;              /* = the table's columns, in its order */
  struct rule_column *cols;
  long unit_col;             /* index of the privacy unit, or -1 */
  uint32_t min_units;        /* aggregate */
  uint64_t eps_query_micro;  /* dp: epsilon_per_query x 10^6 */
  uint64_t eps_total_micro;  /* dp: epsilon_total x 10^6 */
  uint64_t delta_pico;       /* dp: delta x 10^12, 0 if absent */
  uint64_t eps_analyst_micro; /* dp: epsilon_per_analyst x 10^6, 0 if absent (no cap but the total) */
  uint32_t max_groups_per_unit;
  int has_public_keys;
};

/* Parse and check the rule text json[0..len) against the table's
 * columns (names[0..ncols) and types[i] "INTEGER", "REAL" or "TEXT", as
 * the catalog holds them; names compare without ASCII case).  On success
 * *out is a new rule_doc (rule_doc_free).  On failure *errmsg (if not
 * NULL) names the field; *out is NULL. */
int rule_doc_parse(const char *json, size_t len, const char *const *names, const char *const *types, size_t ncols,
                   struct rule_doc **out, char **errmsg) CDR_WUR;
void rule_doc_free(struct rule_doc *d);

/* "aggregate", "list", "dp", "template". */
const char *rule_mode_name(enum rule_mode m);
/* "privacy unit", "join column", "dimension", "metric", "list column",
 * "hidden column". */
const char *rule_class_name(enum rule_class c);

#endif
