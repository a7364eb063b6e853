/*
 * test_rule_doc.c - release rule documents (src/enclave/rule_doc.c):
 * the four modes parse into the classes and numbers they say, and every
 * malformed rule is refused with CDR_ERR_ARG (or BAD_JSON) and a message
 * naming the field.  The dp amounts are exact integers of 10^-6 (epsilon)
 * and 10^-12 (delta): 0.1 three times is exactly 0.3.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "enclave/rule_doc.h"
#include "testlib.h"

static const char *const names[] = {"patient_id", "region", "diagnosis", "cost", "note", "email", "Seg"};
static const char *const types[] = {"INTEGER", "TEXT", "TEXT", "REAL", "TEXT", "TEXT", "TEXT"};
#define NCOLS 7u

static struct rule_doc *parse_ok(const char *json) {
  struct rule_doc *d = NULL;
  char *err = NULL;
  int r = rule_doc_parse(json, strlen(json), names, types, NCOLS, &d, &err);
  if (r != 0)
    fprintf(stderr, "refused: %s: %s\n", json, err ? err : "");
  CHECK_RC(r, 0);
  free(err);
  return d;
}

struct bad_case {
  const char *json;
  int rc;
  const char *msg;
};

static const struct bad_case bad[] = {
    /* one column named twice, in two cases: the second class would have
     * overwritten the privacy unit (review of 2026-12-07) */
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"PATIENT_ID\": \"dimension\"}, "
     "\"min_units\": 5}",
     CDR_ERR_ARG, "rule: columns.PATIENT_ID: column patient_id is named twice"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"nosuch\": \"dimension\", \"patient_id\": \"privacy_unit\"}, "
     "\"min_units\": 5}", CDR_ERR_ARG, "rule: columns.nosuch: the table has no such column"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"email\": \"privacy_unit\"}, "
     "\"min_units\": 5}", CDR_ERR_ARG, "rule: columns.email: a second privacy unit (patient_id is one already"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", "
     "\"cost\": {\"metric\": [\"sum\"], \"bounds\": [5000, 0]}}, \"min_units\": 5}", CDR_ERR_ARG,
     "rule: columns.cost.bounds: the lower bound 5000 is above the upper bound 0"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"min_units\": 4}", CDR_ERR_ARG,
     "rule: min_units: an integer from 5"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\"}}", CDR_ERR_ARG, "rule: min_units"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"min_units\": 5.5}", CDR_ERR_ARG,
     "rule: min_units"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"region\": \"dimension\"}, \"min_units\": 5}", CDR_ERR_ARG,
     "rule: columns: mode aggregate names exactly one privacy_unit"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"min_units\": 5, \"extra\": 1}",
     CDR_ERR_ARG, "rule: extra: unknown key for mode aggregate"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": \"dimensional\"}, "
     "\"min_units\": 5}", CDR_ERR_ARG, "rule: columns.region: unknown class"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": {\"metric\": [\"sum\"]}}, "
     "\"min_units\": 5}", CDR_ERR_ARG, "rule: columns.region: a metric must be an INTEGER or REAL column, not TEXT"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": [\"median\"]}}, "
     "\"min_units\": 5}", CDR_ERR_ARG, "rule: columns.cost.metric: unknown function"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": [\"sum\", "
     "\"sum\"]}}, \"min_units\": 5}", CDR_ERR_ARG, "rule: columns.cost.metric: sum is listed twice"},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": [\"sum\"], "
     "\"clamp\": 1}}, \"min_units\": 5}", CDR_ERR_ARG, "rule: columns.cost: unknown key \"clamp\""},
    {"{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", \"Seg\": \"list\"}, \"min_units\": 5}",
     CDR_ERR_ARG, "rule: columns.Seg: mode aggregate has no list column"},
    {"{\"mode\": \"list\", \"columns\": {\"email\": \"join\"}}", CDR_ERR_ARG,
     "rule: columns: a list rule names at least one join and one list column"},
    {"{\"mode\": \"list\", \"columns\": {\"email\": \"join\", \"seg\": \"list\", \"patient_id\": \"privacy_unit\"}}",
     CDR_ERR_ARG, "rule: columns.patient_id: mode list has no privacy unit"},
    {"{\"mode\": \"list\", \"columns\": {\"email\": \"join\", \"seg\": \"list\"}, \"min_units\": 5}", CDR_ERR_ARG,
     "rule: min_units: unknown key for mode list"},
    {"{\"mode\": \"template\", \"columns\": {}}", CDR_ERR_ARG, "rule: columns: unknown key for mode template"},
    {"{\"mode\": \"secret\"}", CDR_ERR_ARG, "rule: mode: one of"},
    {"{\"columns\": {}}", CDR_ERR_ARG, "rule: mode: one of"},
    {"[1]", CDR_ERR_ARG, "rule: the rule is a JSON object"},
    {"{\"mode\": \"aggregate\",", CDR_ERR_BAD_JSON, "rule: not JSON"},
    {"{\"mode\": \"list\", \"mode\": \"aggregate\"}", CDR_ERR_BAD_JSON, "rule: not JSON"},
    /* dp */
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1}", CDR_ERR_ARG, "rule: epsilon_per_query: a number above 0"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": -0.5, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1}", CDR_ERR_ARG, "rule: epsilon_per_query"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.1000001, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1}", CDR_ERR_ARG, "exact to 10^-6"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 0.25, \"max_groups_per_unit\": 1}", CDR_ERR_ARG,
     "rule: epsilon_total: it is below epsilon_per_query"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1, \"delta\": 1.5}", CDR_ERR_ARG, "rule: delta"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1, \"delta\": 1e-13}", CDR_ERR_ARG, "exact to 10^-12"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 1}", CDR_ERR_ARG, "rule: max_groups_per_unit"},
    /* a per-analyst share outside [epsilon_per_query, epsilon_total], or
     * not exact */
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1, \"epsilon_per_analyst\": 0.25}", CDR_ERR_ARG,
     "rule: epsilon_per_analyst: a number from epsilon_per_query to epsilon_total"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1, \"epsilon_per_analyst\": 2}", CDR_ERR_ARG,
     "rule: epsilon_per_analyst"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.5, "
     "\"epsilon_total\": 1, \"max_groups_per_unit\": 1, \"epsilon_per_analyst\": 0.7000005}", CDR_ERR_ARG,
     "rule: epsilon_per_analyst"},
    /* dp bounds past 10^12 (a contribution in millionths must fit 63
     * bits) */
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": [\"sum\"], "
     "\"bounds\": [0, 2e12]}}, \"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1}",
     CDR_ERR_ARG, "rule: columns.cost.bounds: under dp, bounds are at most 10^12 in size"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": [\"sum\"]}}, "
     "\"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1}", CDR_ERR_ARG,
     "rule: columns.cost.bounds: dp needs clamping bounds"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": [\"max\"], "
     "\"bounds\": [0, 1]}}, \"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1}",
     CDR_ERR_ARG, "rule: columns.cost.metric: max is not available under dp"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"email\": \"join\"}, "
     "\"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1}", CDR_ERR_ARG,
     "rule: columns.email: mode dp has no join column"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": \"dimension\"}, "
     "\"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1, "
     "\"public_keys\": {\"region\": [\"a\"], \"REGION\": [\"b\"]}}",
     CDR_ERR_ARG, "rule: public_keys.REGION: column region is named twice"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": \"dimension\"}, "
     "\"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1, "
     "\"public_keys\": {\"diagnosis\": [\"a\"]}}", CDR_ERR_ARG, "rule: public_keys.diagnosis: public keys belong to a "
                                                                "dimension"},
    {"{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": \"dimension\"}, "
     "\"epsilon_per_query\": 0.5, \"epsilon_total\": 1, \"max_groups_per_unit\": 1, "
     "\"public_keys\": {\"region\": [\"a\", 3]}}", CDR_ERR_ARG, "rule: public_keys.region: every key is a string"},
};

static void check_refusals(void) {
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct rule_doc *d = NULL;
    char *err = NULL;
    int r = rule_doc_parse(bad[i].json, strlen(bad[i].json), names, types, NCOLS, &d, &err);
    test_checks++;
    if (r != bad[i].rc) {
      test_failures++;
      fprintf(stderr, "bad %zu [%s]: rc %d, want %d (%s)\n", i, bad[i].json, r, bad[i].rc, err ? err : "");
    }
    CHECK_CONTAINS(err, bad[i].msg);
    CHECK(d == NULL);
    free(err);
  }
}

static void check_accepted(void) {
  struct rule_doc *d = parse_ok("{\"mode\": \"aggregate\", \"columns\": {\"patient_id\": \"privacy_unit\", "
                                "\"REGION\": \"dimension\", \"diagnosis\": \"dimension\", \"cost\": {\"metric\": "
                                "[\"sum\", \"avg\", \"count\"], \"bounds\": [0, 5000]}, \"note\": \"hidden\"}, "
                                "\"min_units\": 10}");
  if (d != NULL) {
    CHECK(d->mode == RULE_MODE_AGGREGATE && d->ncols == NCOLS && d->unit_col == 0 && d->min_units == 10);
    CHECK(d->cols[1].cls == RULE_COL_DIMENSION); /* names fold ASCII case */
    CHECK(d->cols[3].cls == RULE_COL_METRIC && d->cols[3].has_bounds && d->cols[3].lo == 0 && d->cols[3].hi == 5000);
    CHECK(d->cols[3].metric_fns == (RULE_FN_SUM | RULE_FN_AVG | RULE_FN_COUNT));
    CHECK(d->cols[4].cls == RULE_COL_HIDDEN && d->cols[5].cls == RULE_COL_HIDDEN); /* unnamed: hidden */
  }
  rule_doc_free(d);
  d = parse_ok("{\"mode\": \"list\", \"columns\": {\"email\": \"join\", \"seg\": \"list\"}}");
  CHECK(d != NULL && d->mode == RULE_MODE_LIST && d->unit_col == -1 && d->cols[6].cls == RULE_COL_LIST);
  rule_doc_free(d);
  d = parse_ok("{\"mode\": \"template\"}");
  CHECK(d != NULL && d->mode == RULE_MODE_TEMPLATE);
  rule_doc_free(d);
  d = parse_ok("{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"region\": \"dimension\", "
               "\"cost\": {\"metric\": [\"sum\", \"count\", \"avg\"], \"bounds\": [0, 5000]}}, "
               "\"epsilon_per_query\": 0.1, \"epsilon_total\": 0.3, \"delta\": 1e-7, \"max_groups_per_unit\": 1, "
               "\"public_keys\": {\"region\": [\"north\", \"south\", \"east\", \"west\"]}}");
  if (d != NULL) {
    CHECK(d->eps_query_micro == 100000 && d->eps_total_micro == 300000);
    CHECK(3 * d->eps_query_micro == d->eps_total_micro); /* exactly three queries */
    CHECK(d->delta_pico == 100000);
    CHECK(d->eps_analyst_micro == 0); /* absent: only the total caps an analyst */
    CHECK(d->max_groups_per_unit == 1 && d->has_public_keys && d->cols[1].nkeys == 4);
    CHECK_STR(d->cols[1].keys[3], "west");
  }
  rule_doc_free(d);
  d = parse_ok("{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\"}, \"epsilon_per_query\": 0.000001, "
               "\"epsilon_total\": 1000, \"delta\": 0.000000000001, \"max_groups_per_unit\": 3}");
  CHECK(d != NULL && d->eps_query_micro == 1 && d->eps_total_micro == 1000000000ull && d->delta_pico == 1);
  rule_doc_free(d);
  d = parse_ok("{\"mode\": \"dp\", \"columns\": {\"patient_id\": \"privacy_unit\", \"cost\": {\"metric\": "
               "[\"sum\"], \"bounds\": [-1e12, 1e12]}}, \"epsilon_per_query\": 0.1, \"epsilon_total\": 0.7, "
               "\"epsilon_per_analyst\": 0.3, \"max_groups_per_unit\": 2}");
  CHECK(d != NULL && d->eps_analyst_micro == 300000 && d->cols[3].lo == -1e12);
  rule_doc_free(d);
}

int main(void) {
  check_accepted();
  check_refusals();
  CHECK_STR(rule_mode_name(RULE_MODE_DP), "dp");
  CHECK_STR(rule_class_name(RULE_COL_UNIT), "privacy unit");
  return test_summary("test_rule_doc");
}
