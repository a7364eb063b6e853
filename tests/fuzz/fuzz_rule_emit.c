/*
 * fuzz_rule_emit.c - arbitrary SQL through the checker and the emitter
 * (src/enclave/rule_emit.c), and the emitted statement through SQLite,
 * on the tables of tests/unit/rules_fixture.h.
 *
 * Input: the SQL text (seeds shared with fuzz_rule_check).
 *
 * Two databases hold the fixture tables: SMALL, where every table under
 * an aggregate rule has only 4 distinct privacy units (below every
 * min_units of the fixture, 5 or 6), and BIG with 60 units.
 *
 * Invariants, for every query the checker accepts:
 *   - under a dp rule the emitter refuses (rule_violation: not yet);
 *     otherwise it writes a statement that SQLite prepares, read-only, on
 *     both databases (double-quoted strings off, as in the engine);
 *   - the threshold holds whatever the query: under an aggregate rule no
 *     row comes out of SMALL, since no output row can aggregate 5
 *     distinct units of any table instance;
 *   - on BIG the statement runs to its end, or stops at the step budget
 *     (a progress handler), or fails with SQLite's run-time error (an
 *     integer overflow of SUM is one) -- never a crash.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclave/rule.h"
#include "fuzzlib.h"
#include "rules_fixture.h"

static sqlite3 *small_db, *big_db;

static int fill(sqlite3 *db, int units) {
  char q[1024];
  int r = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  for (int p = 1; p <= units * 2 && r == SQLITE_OK; p++) {
    int u = (p - 1) % units + 1;
    snprintf(q, sizeof(q),
             "INSERT INTO hospital VALUES (%d, 'r%d', 'd%d', %d, %d.5, 'n', 's');"
             "INSERT INTO claims VALUES (%d, 'i%d', %d, 'z%d');"
             "INSERT INTO zips VALUES ('z%d', 'c%d', %d);"
             "INSERT INTO odd VALUES (%d, 'w%d', %d);"
             "INSERT INTO lst_a VALUES ('e%d', 's%d', 'x');"
             "INSERT INTO lst_b VALUES ('e%d', 't%d');",
             u, p % 3, p % 2, 20 + p % 7, p * 997 % 9000, u, p % 2, p * 3, p % 5, p % 5, p % 3, u, u, p % 2, p, p,
             p % 3, p + 1, p % 2);
    r = sqlite3_exec(db, q, NULL, NULL, NULL);
  }
  return r == SQLITE_OK ? sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) : r;
}

static int budget(void *arg) {
  int *left = arg;
  return --*left < 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  FUZZ_CHECK(rules_fx_init() == 0);
  FUZZ_CHECK((small_db = rules_fx_db()) != NULL && fill(small_db, 4) == SQLITE_OK);
  FUZZ_CHECK((big_db = rules_fx_db()) != NULL && fill(big_db, 60) == SQLITE_OK);
  return 0;
}

/* Run sql on db; the number of rows, or -1 if SQLite stopped it. */
static long run(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int left = 2000, rc;
  long rows = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fprintf(stderr, "emitted SQL does not prepare: %s\n%s\n", sqlite3_errmsg(db), sql);
  FUZZ_CHECK(st != NULL && sqlite3_stmt_readonly(st));
  sqlite3_progress_handler(db, 1000, budget, &left);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    rows++;
  sqlite3_progress_handler(db, 0, NULL, NULL);
  FUZZ_CHECK(rc == SQLITE_DONE || rc == SQLITE_INTERRUPT || rc == SQLITE_ERROR);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? rows : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct rule_plan *p = NULL;
  char *err = NULL, *sql = NULL;
  if (rule_check((const char *)data, size, rules_fx_lookup, NULL, &p, &err) != 0) {
    free(err);
    return 0;
  }
  int r = rule_emit(p, &sql, &err);
  if (rule_plan_mode(p) == RULE_MODE_DP) {
    FUZZ_CHECK(r == CDR_ERR_RULE_VIOLATION && sql == NULL);
  } else {
    FUZZ_CHECK(r == 0 && sql != NULL);
    long small_rows = run(small_db, sql);
    if (rule_plan_mode(p) == RULE_MODE_AGGREGATE && small_rows > 0)
      fprintf(stderr, "rows below the threshold came out of:\n%s\n", sql);
    FUZZ_CHECK(rule_plan_mode(p) != RULE_MODE_AGGREGATE || small_rows <= 0);
    (void)run(big_db, sql);
  }
  rule_plan_free(p);
  free(sql);
  free(err);
  return 0;
}
