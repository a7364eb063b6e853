/*
 * fuzz_dp_run.c - arbitrary SQL through the checker and, for what it
 * accepts under a dp rule, through dp_run (src/enclave/dp*.c) on the dp
 * table of tests/unit/rules_fixture.h (dpt: uid unit, region dimension,
 * cost metric in [0, 5000]; epsilon 0.5 of 3, delta 1e-7, one group per
 * unit), filled with 40 units over 3 regions, some with NULL or
 * out-of-bounds values.
 *
 * Input: the SQL text (seeds shared with fuzz_rule_check in spirit).
 *
 * Invariants, with a fresh ledger and cache per input:
 *   - dp_run answers 0 or refuses before execution
 *     (CDR_ERR_RULE_VIOLATION, nothing charged): an accepted dp plan on
 *     this data has no execution error (no data-dependent failure);
 *   - an answer is JSON whose row_count is the outcome's row count, with
 *     one value per column in every row, and charges exactly
 *     epsilon_per_query;
 *   - the same query again is the same bytes from the cache, and charges
 *     nothing.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclave/dp.h"
#include "fuzzlib.h"
#include "rules_fixture.h"

static sqlite3 *db;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet();
  FUZZ_CHECK(rules_fx_init() == 0);
  FUZZ_CHECK((db = rules_fx_db()) != NULL);
  char q[160];
  for (int p = 1; p <= 60; p++) {
    int u = (p - 1) % 40 + 1;
    snprintf(q, sizeof(q), "INSERT INTO dpt VALUES (%d, %s, %s)", u,
             p % 7 == 0 ? "NULL" : p % 3 == 0 ? "'north'" : p % 3 == 1 ? "'south'" : "'east'",
             p % 11 == 0 ? "NULL" : p % 13 == 0 ? "9999999" : p % 5 == 0 ? "-3" : "120");
    FUZZ_CHECK(sqlite3_exec(db, q, NULL, NULL, NULL) == SQLITE_OK);
  }
  FUZZ_CHECK(sqlite3_exec(db, "INSERT INTO dpt VALUES (NULL, 'north', 1)", NULL, NULL, NULL) == SQLITE_OK);
  return 0;
}

static int run(const struct rule_plan *p, struct dp_ledger *l, struct dp_cache *c, struct cdr_buf *out,
               struct dp_outcome *oc) {
  static const uint8_t who[32] = {7};
  char *err = NULL;
  struct dp_request req = {db, p, who, (const uint8_t *)"v1", 2, 1u << 20, 100000};
  int r = dp_run(&req, l, c, out, oc, &err);
  if (r != 0 && r != CDR_ERR_RULE_VIOLATION)
    fprintf(stderr, "dp_run: %s: %s\n", cdr_err_code(r), err ? err : "");
  free(err);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rule_plan *p = NULL;
  char *err = NULL;
  if (rule_check((const char *)data, size, rules_fx_lookup, NULL, &p, &err) != 0 ||
      rule_plan_mode(p) != RULE_MODE_DP) {
    rule_plan_free(p);
    free(err);
    return 0;
  }
  struct dp_ledger *l = NULL;
  struct dp_cache *c = NULL;
  struct dp_outcome oc, oc2;
  struct dp_spent sp;
  struct cdr_buf a, b;
  FUZZ_CHECK(dp_ledger_new(&l) == 0 && dp_cache_new(&c) == 0);
  cdr_buf_init(&a, 2u << 20, 0);
  cdr_buf_init(&b, 2u << 20, 0);
  int r = run(p, l, c, &a, &oc);
  FUZZ_CHECK(r == 0 || r == CDR_ERR_RULE_VIOLATION);
  dp_ledger_spent(l, "dpt", NULL, &sp);
  if (r != 0) {
    FUZZ_CHECK(!oc.charged && sp.eps_micro == 0 && a.len == 0);
  } else {
    FUZZ_CHECK(oc.charged && !oc.cached && sp.eps_micro == 500000);
    json_error_t je;
    json_t *j = json_loadb((const char *)a.d, a.len, 0, &je);
    FUZZ_CHECK(j != NULL);
    json_t *rows = json_object_get(j, "rows"), *row;
    size_t ncol = json_array_size(json_object_get(j, "columns")), i;
    FUZZ_CHECK(json_integer_value(json_object_get(j, "row_count")) == (json_int_t)oc.rows &&
               json_array_size(rows) == oc.rows);
    json_array_foreach(rows, i, row) FUZZ_CHECK(json_array_size(row) == ncol);
    json_decref(j);
    FUZZ_CHECK(run(p, l, c, &b, &oc2) == 0);
    FUZZ_CHECK(oc2.cached && !oc2.charged && oc2.rows == oc.rows);
    FUZZ_CHECK(b.len == a.len && memcmp(a.d, b.d, a.len) == 0);
    dp_ledger_spent(l, "dpt", NULL, &sp);
    FUZZ_CHECK(sp.eps_micro == 500000);
  }
  cdr_buf_free(&a);
  cdr_buf_free(&b);
  dp_cache_free(c);
  dp_ledger_free(l);
  rule_plan_free(p);
  free(err);
  return 0;
}
