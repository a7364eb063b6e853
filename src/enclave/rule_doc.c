/*
 * rule_doc.c - parse and check a table's release rule (rule_doc.h).
 *
 * The document is read with jansson (duplicates refused), then every key
 * is checked in a fixed order and the first fault is reported naming its
 * field.  Numbers for the differential-privacy budget are converted to
 * integer units and refused unless the JSON number is a whole number of
 * units: jansson's strtod gives the double nearest the text, and
 * units/10^k (both exact doubles below 2^53, one correctly rounded
 * division) is the double nearest units x 10^-k, so the two are equal
 * when the text denotes that many units; a text that does not, but
 * rounds to the same double (more than 17 significant digits), reads as
 * that many units too (rule_doc.h).  jansson keeps no number text, so
 * this round trip is the exact check available.
 */
#include "rule_doc.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine_int.h"

const char *rule_mode_name(enum rule_mode m) {
  switch (m) {
  case RULE_MODE_AGGREGATE: return "aggregate";
  case RULE_MODE_LIST: return "list";
  case RULE_MODE_DP: return "dp";
  case RULE_MODE_TEMPLATE: return "template";
  }
  return "unknown";
}

const char *rule_class_name(enum rule_class c) {
  switch (c) {
  case RULE_COL_UNIT: return "privacy unit";
  case RULE_COL_JOIN: return "join column";
  case RULE_COL_DIMENSION: return "dimension";
  case RULE_COL_METRIC: return "metric";
  case RULE_COL_LIST: return "list column";
  case RULE_COL_HIDDEN: break;
  }
  return "hidden column";
}

void rule_doc_free(struct rule_doc *d) {
  if (d == NULL)
    return;
  for (size_t i = 0; i < d->ncols; i++) {
    for (size_t k = 0; k < d->cols[i].nkeys; k++)
      free(d->cols[i].keys[k]);
    free(d->cols[i].keys);
  }
  free(d->cols);
  free(d);
}

static const struct {
  const char *name;
  unsigned bit;
} metric_fns[] = {{"sum", RULE_FN_SUM},     {"sum_distinct", RULE_FN_SUM_DISTINCT},
                  {"avg", RULE_FN_AVG},     {"count", RULE_FN_COUNT},
                  {"count_distinct", RULE_FN_COUNT_DISTINCT},
                  {"min", RULE_FN_MIN},     {"max", RULE_FN_MAX}};

#define DP_FNS (RULE_FN_SUM | RULE_FN_AVG | RULE_FN_COUNT)

/* A refusal naming its field: fmt takes two strings. */
#define bad(errmsg, fmt, a, b) engine_set_err((errmsg), CDR_ERR_ARG, fmt, (a), (b))

/* The number v as a whole count of 10^-scale units in (0, max]:
 * 0, or -1 if it is not exact at that resolution or out of range. */
static int exact_units(const json_t *v, int scale, uint64_t max, uint64_t *out) {
  if (!json_is_number(v))
    return -1;
  double x = json_number_value(v), unit = pow(10.0, scale);
  if (!isfinite(x) || x <= 0 || x * unit > (double)max)
    return -1;
  double u = nearbyint(x * unit);
  if (u < 1 || u / unit != x)
    return -1;
  *out = (uint64_t)u;
  return 0;
}

static int parse_metric(const json_t *spec, const char *col, enum rule_mode mode, const char *type,
                        struct rule_column *rc, char **errmsg) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)spec, key, v) {
    if (strcmp(key, "metric") != 0 && strcmp(key, "bounds") != 0)
      return bad(errmsg, "rule: columns.%s: unknown key \"%s\" (a metric has \"metric\" and \"bounds\")", col, key);
  }
  if (strcmp(type, "TEXT") == 0)
    return bad(errmsg, "rule: columns.%s: a metric must be an INTEGER or REAL column, not %s", col, type);
  json_t *fns = json_object_get(spec, "metric");
  if (!json_is_array(fns) || json_array_size(fns) == 0)
    return bad(errmsg, "rule: columns.%s.metric: a non-empty list of functions is required%s", col, "");
  size_t i;
  json_array_foreach(fns, i, v) {
    size_t k;
    for (k = 0; k < sizeof(metric_fns) / sizeof(metric_fns[0]); k++)
      if (json_is_string(v) && strcmp(json_string_value(v), metric_fns[k].name) == 0)
        break;
    if (k == sizeof(metric_fns) / sizeof(metric_fns[0]))
      return bad(errmsg, "rule: columns.%s.metric: unknown function%s (sum, sum_distinct, avg, count, "
                 "count_distinct, min, max)", col, "");
    if (mode == RULE_MODE_DP && (metric_fns[k].bit & DP_FNS) == 0)
      return bad(errmsg, "rule: columns.%s.metric: %s is not available under dp (sum, avg, count)", col,
                 metric_fns[k].name);
    if (rc->metric_fns & metric_fns[k].bit)
      return bad(errmsg, "rule: columns.%s.metric: %s is listed twice", col, metric_fns[k].name);
    rc->metric_fns |= metric_fns[k].bit;
  }
  json_t *b = json_object_get(spec, "bounds");
  if (b == NULL)
    return mode == RULE_MODE_DP ? bad(errmsg, "rule: columns.%s.bounds: dp needs clamping bounds [lo, hi]%s", col, "")
                                : 0;
  if (!json_is_array(b) || json_array_size(b) != 2 || !json_is_number(json_array_get(b, 0)) ||
      !json_is_number(json_array_get(b, 1)))
    return bad(errmsg, "rule: columns.%s.bounds: two numbers [lo, hi] are required%s", col, "");
  rc->lo = json_number_value(json_array_get(b, 0));
  rc->hi = json_number_value(json_array_get(b, 1));
  if (!isfinite(rc->lo) || !isfinite(rc->hi) || fabs(rc->lo) > 1e15 || fabs(rc->hi) > 1e15)
    return bad(errmsg, "rule: columns.%s.bounds: bounds must be finite, at most 10^15 in size%s", col, "");
  if (mode == RULE_MODE_DP && (fabs(rc->lo) > RULE_DP_MAX_BOUND || fabs(rc->hi) > RULE_DP_MAX_BOUND))
    return bad(errmsg, "rule: columns.%s.bounds: under dp, bounds are at most 10^12 in size%s", col, "");
  if (rc->lo > rc->hi) {
    char lo[32], hi[32];
    snprintf(lo, sizeof(lo), "%.17g", rc->lo);
    snprintf(hi, sizeof(hi), "%.17g", rc->hi);
    return engine_set_err(errmsg, CDR_ERR_ARG, "rule: columns.%s.bounds: the lower bound %s is above the upper bound %s",
                          col, lo, hi);
  }
  rc->has_bounds = 1;
  return 0;
}

/* Which classes each mode takes. */
static int class_allowed(enum rule_mode m, enum rule_class c) {
  if (c == RULE_COL_HIDDEN)
    return 1;
  switch (m) {
  case RULE_MODE_AGGREGATE: return c != RULE_COL_LIST;
  case RULE_MODE_LIST: return c == RULE_COL_JOIN || c == RULE_COL_LIST;
  case RULE_MODE_DP: return c == RULE_COL_UNIT || c == RULE_COL_DIMENSION || c == RULE_COL_METRIC;
  case RULE_MODE_TEMPLATE: break;
  }
  return 0;
}

static int parse_class(const char *s, enum rule_class *c) {
  static const struct {
    const char *name;
    enum rule_class c;
  } names[] = {{"privacy_unit", RULE_COL_UNIT}, {"join", RULE_COL_JOIN}, {"dimension", RULE_COL_DIMENSION},
               {"list", RULE_COL_LIST},         {"hidden", RULE_COL_HIDDEN}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(s, names[i].name) == 0) {
      *c = names[i].c;
      return 0;
    }
  return -1;
}

static long find_col(const char *const *names, size_t ncols, const char *name) {
  for (size_t i = 0; i < ncols; i++)
    if (strcasecmp(names[i], name) == 0)
      return (long)i;
  return -1;
}

static int parse_column(struct rule_doc *d, const char *const *names, const char *const *types, long i,
                        const char *key, const json_t *v, char **errmsg);

static int parse_columns(const json_t *cols, const char *const *names, const char *const *types,
                         struct rule_doc *d, char **errmsg) {
  const char *key;
  json_t *v;
  unsigned char *named;
  int r = 0;
  if (!json_is_object(cols))
    return bad(errmsg, "rule: columns: an object {\"column\": class} is required%s%s", "", "");
  /* Column names compare without case (as SQLite's do), so "id" and "ID"
   * are one column: naming it twice would let the second class overwrite
   * the first (a privacy unit made a dimension), and is refused. */
  if ((named = calloc(d->ncols > 0 ? d->ncols : 1, 1)) == NULL)
    return CDR_ERR_NOMEM;
  json_object_foreach((json_t *)cols, key, v) {
    long i = find_col(names, d->ncols, key);
    if (i < 0 || named[i]) {
      r = i < 0 ? bad(errmsg, "rule: columns.%s: the table has no such column%s", key, "")
                : bad(errmsg, "rule: columns.%s: column %s is named twice (names compare without case)", key,
                      names[i]);
      break;
    }
    named[i] = 1;
    if ((r = parse_column(d, names, types, i, key, v, errmsg)) != 0)
      break;
  }
  free(named);
  return r;
}

/* One entry of "columns": column i, as `key` named it, with value v. */
static int parse_column(struct rule_doc *d, const char *const *names, const char *const *types, long i,
                        const char *key, const json_t *v, char **errmsg) {
  const char *mode = rule_mode_name(d->mode);
  struct rule_column *rc = &d->cols[i];
  if (json_is_object(v)) {
    rc->cls = RULE_COL_METRIC;
  } else if (!json_is_string(v) || parse_class(json_string_value(v), &rc->cls) != 0) {
    return bad(errmsg, "rule: columns.%s: unknown class (privacy_unit, join, dimension, list, hidden, or "
               "{\"metric\": [...]})%s", key, "");
  }
  if (!class_allowed(d->mode, rc->cls))
    return engine_set_err(errmsg, CDR_ERR_ARG, "rule: columns.%s: mode %s has no %s", key, mode,
                          rule_class_name(rc->cls));
  if (rc->cls == RULE_COL_METRIC) {
    int r = parse_metric(v, key, d->mode, types[i], rc, errmsg);
    if (r != 0)
      return r;
  }
  if (rc->cls == RULE_COL_UNIT) {
    if (d->unit_col >= 0)
      return bad(errmsg, "rule: columns.%s: a second privacy unit (%s is one already; a rule has exactly one)",
                 key, names[d->unit_col]);
    d->unit_col = i;
  }
  return 0;
}

static int count_class(const struct rule_doc *d, enum rule_class c) {
  int n = 0;
  for (size_t i = 0; i < d->ncols; i++)
    n += d->cols[i].cls == c;
  return n;
}

static int parse_public_keys(const json_t *pk, const char *const *names, struct rule_doc *d, char **errmsg) {
  const char *key;
  json_t *v;
  if (!json_is_object(pk))
    return bad(errmsg, "rule: public_keys: an object {\"dimension\": [values]} is required%s%s", "", "");
  json_object_foreach((json_t *)pk, key, v) {
    long i = find_col(names, d->ncols, key);
    if (i < 0 || d->cols[i].cls != RULE_COL_DIMENSION)
      return bad(errmsg, "rule: public_keys.%s: public keys belong to a dimension of the rule%s", key, "");
    if (d->cols[i].keys != NULL)
      return bad(errmsg, "rule: public_keys.%s: column %s is named twice (names compare without case)", key,
                 names[i]);
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0 || n > RULE_MAX_PUBLIC_KEYS)
      return bad(errmsg, "rule: public_keys.%s: a list of 1 to 10000 strings is required%s", key, "");
    if ((d->cols[i].keys = calloc(n, sizeof(char *))) == NULL)
      return CDR_ERR_NOMEM;
    for (size_t k = 0; k < n; k++) {
      if (!json_is_string(json_array_get(v, k)))
        return bad(errmsg, "rule: public_keys.%s: every key is a string%s", key, "");
      if ((d->cols[i].keys[k] = strdup(json_string_value(json_array_get(v, k)))) == NULL)
        return CDR_ERR_NOMEM;
      d->cols[i].nkeys = k + 1;
    }
  }
  d->has_public_keys = 1;
  return 0;
}

static int parse_dp(const json_t *root, const char *const *names, struct rule_doc *d, char **errmsg) {
  json_t *g = json_object_get(root, "max_groups_per_unit");
  if (exact_units(json_object_get(root, "epsilon_per_query"), 6, RULE_EPSILON_MAX_MICRO, &d->eps_query_micro) != 0)
    return bad(errmsg, "rule: epsilon_per_query: a number above 0, at most 1000, exact to 10^-6 is required%s%s", "",
               "");
  if (exact_units(json_object_get(root, "epsilon_total"), 6, RULE_EPSILON_MAX_MICRO, &d->eps_total_micro) != 0)
    return bad(errmsg, "rule: epsilon_total: a number above 0, at most 1000, exact to 10^-6 is required%s%s", "", "");
  if (d->eps_total_micro < d->eps_query_micro)
    return bad(errmsg, "rule: epsilon_total: it is below epsilon_per_query%s%s", "", "");
  json_t *ea = json_object_get(root, "epsilon_per_analyst");
  if (ea != NULL && (exact_units(ea, 6, RULE_EPSILON_MAX_MICRO, &d->eps_analyst_micro) != 0 ||
                     d->eps_analyst_micro < d->eps_query_micro || d->eps_analyst_micro > d->eps_total_micro))
    return bad(errmsg, "rule: epsilon_per_analyst: a number from epsilon_per_query to epsilon_total, exact to "
               "10^-6 is required%s%s", "", "");
  json_t *delta = json_object_get(root, "delta");
  if (delta != NULL && exact_units(delta, 12, 999999999999ull, &d->delta_pico) != 0)
    return bad(errmsg, "rule: delta: a number above 0 and below 1, exact to 10^-12 is required%s%s", "", "");
  if (!json_is_integer(g) || json_integer_value(g) < 1 || json_integer_value(g) > 1000000)
    return bad(errmsg, "rule: max_groups_per_unit: an integer from 1 to 1000000 is required%s%s", "", "");
  d->max_groups_per_unit = (uint32_t)json_integer_value(g);
  json_t *pk = json_object_get(root, "public_keys");
  return pk == NULL ? 0 : parse_public_keys(pk, names, d, errmsg);
}

/* The keys each mode takes ("mode" always). */
static int key_allowed(enum rule_mode m, const char *k) {
  if (strcmp(k, "mode") == 0)
    return 1;
  if (m == RULE_MODE_TEMPLATE)
    return 0;
  if (strcmp(k, "columns") == 0)
    return 1;
  if (m == RULE_MODE_AGGREGATE)
    return strcmp(k, "min_units") == 0;
  if (m == RULE_MODE_DP) {
    static const char *const dp_keys[] = {"epsilon_per_query", "epsilon_total", "delta", "max_groups_per_unit",
                                          "public_keys", "epsilon_per_analyst"};
    for (size_t i = 0; i < sizeof(dp_keys) / sizeof(dp_keys[0]); i++)
      if (strcmp(k, dp_keys[i]) == 0)
        return 1;
  }
  return 0;
}

static int parse_mode(const json_t *root, struct rule_doc *d, char **errmsg) {
  const char *m = json_string_value(json_object_get(root, "mode"));
  static const enum rule_mode modes[] = {RULE_MODE_AGGREGATE, RULE_MODE_LIST, RULE_MODE_DP, RULE_MODE_TEMPLATE};
  for (size_t i = 0; m != NULL && i < sizeof(modes) / sizeof(modes[0]); i++)
    if (strcmp(m, rule_mode_name(modes[i])) == 0) {
      d->mode = modes[i];
      return 0;
    }
  return bad(errmsg, "rule: mode: one of \"aggregate\", \"list\", \"dp\", \"template\" is required%s%s", "", "");
}

static int parse_body(const json_t *root, const char *const *names, const char *const *types, struct rule_doc *d,
                      char **errmsg) {
  const char *key;
  json_t *v;
  int r;
  if (!json_is_object(root))
    return bad(errmsg, "rule: the rule is a JSON object%s%s", "", "");
  if ((r = parse_mode(root, d, errmsg)) != 0)
    return r;
  json_object_foreach((json_t *)root, key, v) {
    if (!key_allowed(d->mode, key))
      return bad(errmsg, "rule: %s: unknown key for mode %s", key, rule_mode_name(d->mode));
  }
  if (d->mode == RULE_MODE_TEMPLATE)
    return 0;
  if ((r = parse_columns(json_object_get(root, "columns"), names, types, d, errmsg)) != 0)
    return r;
  if ((d->mode == RULE_MODE_AGGREGATE || d->mode == RULE_MODE_DP) && d->unit_col < 0)
    return bad(errmsg, "rule: columns: mode %s names exactly one privacy_unit column%s", rule_mode_name(d->mode),
               "");
  if (d->mode == RULE_MODE_LIST && (count_class(d, RULE_COL_JOIN) == 0 || count_class(d, RULE_COL_LIST) == 0))
    return bad(errmsg, "rule: columns: a list rule names at least one join and one list column%s%s", "", "");
  if (d->mode == RULE_MODE_AGGREGATE) {
    json_t *mu = json_object_get(root, "min_units");
    if (!json_is_integer(mu) || json_integer_value(mu) < (json_int_t)RULE_MIN_UNITS_FLOOR ||
        json_integer_value(mu) > 1000000)
      return bad(errmsg, "rule: min_units: an integer from 5 to 1000000 is required%s%s", "", "");
    d->min_units = (uint32_t)json_integer_value(mu);
  }
  return d->mode == RULE_MODE_DP ? parse_dp(root, names, d, errmsg) : 0;
}

int rule_doc_parse(const char *json, size_t len, const char *const *names, const char *const *types, size_t ncols,
                   struct rule_doc **out, char **errmsg) {
  json_error_t je;
  *out = NULL;
  if (len > RULE_MAX_DOC_BYTES)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "rule: the rule is over %u bytes", RULE_MAX_DOC_BYTES);
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (root == NULL)
    return engine_set_err(errmsg, CDR_ERR_BAD_JSON, "rule: not JSON: %s", je.text);
  struct rule_doc *d = calloc(1, sizeof(*d));
  int r = CDR_ERR_NOMEM;
  if (d != NULL && (ncols == 0 || (d->cols = calloc(ncols, sizeof(*d->cols))) != NULL)) {
    d->ncols = ncols;
    d->unit_col = -1;
    r = parse_body(root, names, types, d, errmsg);
  }
  json_decref(root);
  if (r != 0) {
    rule_doc_free(d);
    return r;
  }
  *out = d;
  return 0;
}
