/*
 * test_rule_emit.c - the emitted SQLite statements run on data, compared
 * with an independent computation in this test (src/enclave/rule_emit.c),
 * and the checker working inside the enclave's seccomp sandbox.
 *
 * The fixture's tables (rules_fixture.h) get generated rows: hospital
 * has patients 1..43 with 1 to 3 visits each, in regions north, south,
 * east and west, and a region "tiny" of 3 patients (below hospital's
 * min_units of 5); some costs are above the metric's bound 5000.  claims
 * has one claim for each of patients 4..43 and 100 claims of patient 1
 * with insurer "solo".  The test computes each answer itself from the
 * same generator (clamping, the filters, the threshold on DISTINCT units
 * per table) and compares row by row.
 *
 * The join attack: hospital JOIN claims repeats patient 1's rows
 * (3 visits x 100 claims = 300 rows for "solo"), far above any threshold
 * counted in rows; the threshold counts DISTINCT units per table (1 here),
 * so duplication cannot lift the group over it, and "solo" is absent.
 */
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enclave/rule.h"
#include "enclave/sandbox.h"
#include "rules_fixture.h"
#include "testlib.h"

#define NPAT 43
static const char *const regions[] = {"north", "south", "east", "west"};

static const char *region_of(int p) { return p <= 3 ? "tiny" : regions[p % 4]; }
static int visits_of(int p) { return p % 3 + 1; }
static double cost_of(int p, int v) { return (double)((p * 137 + v * 911) % 7000); }
static int age_of(int p, int v) { return 20 + (p * 7 + v) % 50; }
static double clamp(double x) { return x < 0 ? 0 : x > 5000 ? 5000 : x; }

static int exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1; }

static int fill(sqlite3 *db) {
  char q[256];
  int r = exec(db, "BEGIN");
  for (int p = 1; p <= NPAT && r == 0; p++) {
    for (int v = 0; v < visits_of(p) && r == 0; v++) {
      snprintf(q, sizeof(q), "INSERT INTO hospital VALUES (%d, '%s', 'd%d', %d, %g, 'n', 's')", p, region_of(p),
               (p + v) % 3, age_of(p, v), cost_of(p, v));
      r = exec(db, q);
    }
    snprintf(q, sizeof(q), "INSERT INTO claims VALUES (%d, '%s', %d, 'z%d')", p, p % 2 ? "acme" : "bolt", p * 10,
             p % 5);
    if (p >= 4 && r == 0)
      r = exec(db, q);
  }
  for (int i = 0; i < 100 && r == 0; i++)
    r = exec(db, "INSERT INTO claims VALUES (1, 'solo', 7, 'z1')");
  for (int i = 0; i < 30 && r == 0; i++) {
    snprintf(q, sizeof(q), "INSERT INTO %s VALUES ('e%d', '%s%d'%s)", i < 20 ? "lst_a" : "lst_b", i,
             i < 20 ? "s" : "t", i % 3, i < 20 ? ", 'secret'" : "");
    r = exec(db, q);
    if (i >= 10 && i < 20 && r == 0) {
      snprintf(q, sizeof(q), "INSERT INTO lst_b VALUES ('e%d', 't%d')", i, i % 2);
      r = exec(db, q);
    }
  }
  return r == 0 ? exec(db, "COMMIT") : -1;
}

struct row {
  char key[64];
  double v[3];
};

/* Check and emit sql, run it; rows[0..*n) get column 0 (and 1, for two
 * text columns) as the key and columns 1..3 as numbers. */
static int run_ruled(sqlite3 *db, const char *sql, struct row *rows, size_t max, size_t *n, int text_cols) {
  struct rule_plan *p = NULL;
  char *out = NULL, *err = NULL;
  sqlite3_stmt *st = NULL;
  int r = rule_check(sql, strlen(sql), rules_fx_lookup, NULL, &p, &err);
  if (r == 0)
    r = rule_emit(p, &out, &err);
  if (r != 0 || sqlite3_prepare_v2(db, out, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "[%s]: %d %s %s\n", sql, r, err ? err : "", sqlite3_errmsg(db));
    r = -1;
  }
  *n = 0;
  while (r == 0 && sqlite3_step(st) == SQLITE_ROW && *n < max) {
    struct row *w = &rows[(*n)++];
    memset(w, 0, sizeof(*w));
    snprintf(w->key, sizeof(w->key), "%s%s%s", (const char *)sqlite3_column_text(st, 0), text_cols > 1 ? "|" : "",
             text_cols > 1 ? (const char *)sqlite3_column_text(st, 1) : "");
    for (int k = text_cols; k < sqlite3_column_count(st) && k - text_cols < 3; k++)
      w->v[k - text_cols] = sqlite3_column_double(st, k);
  }
  sqlite3_finalize(st);
  rule_plan_free(p);
  free(out);
  free(err);
  return r;
}

static void compare(const char *what, const struct row *got, size_t ngot, const struct row *want, size_t nwant) {
  test_checks++;
  int bad = ngot != nwant;
  for (size_t i = 0; !bad && i < ngot; i++)
    bad = strcmp(got[i].key, want[i].key) != 0 || got[i].v[0] != want[i].v[0] || got[i].v[1] != want[i].v[1] ||
          got[i].v[2] != want[i].v[2];
  if (bad) {
    test_failures++;
    fprintf(stderr, "%s: %zu rows, want %zu\n", what, ngot, nwant);
    for (size_t i = 0; i < ngot || i < nwant; i++)
      fprintf(stderr, "  got %s %g %g %g | want %s %g %g %g\n", i < ngot ? got[i].key : "-", i < ngot ? got[i].v[0] : 0,
              i < ngot ? got[i].v[1] : 0, i < ngot ? got[i].v[2] : 0, i < nwant ? want[i].key : "-",
              i < nwant ? want[i].v[0] : 0, i < nwant ? want[i].v[1] : 0, i < nwant ? want[i].v[2] : 0);
  }
}

/* Per region (sorted: east, north, south, west; tiny is below 5 units),
 * over visits with age >= min_age: distinct patients, clamped cost sum,
 * visit count; kept when the distinct patients reach 5. */
static size_t expect_regions(int min_age, struct row *want) {
  static const char *const sorted[] = {"east", "north", "south", "tiny", "west"};
  size_t n = 0;
  for (size_t g = 0; g < 5; g++) {
    double units = 0, sum = 0, rows = 0;
    for (int p = 1; p <= NPAT; p++) {
      int counted = 0;
      for (int v = 0; v < visits_of(p); v++) {
        if (strcmp(region_of(p), sorted[g]) != 0 || age_of(p, v) < min_age)
          continue;
        sum += clamp(cost_of(p, v));
        rows++;
        counted = 1;
      }
      units += counted;
    }
    if (units >= 5) {
      snprintf(want[n].key, sizeof(want[n].key), "%s", sorted[g]);
      want[n].v[0] = units;
      want[n].v[1] = sum;
      want[n].v[2] = rows;
      n++;
    }
  }
  return n;
}

static void check_aggregates(sqlite3 *db) {
  struct row got[64], want[8];
  size_t n = 0, nw = expect_regions(0, want);
  CHECK(run_ruled(db, "SELECT region, COUNT(DISTINCT patient_id), SUM(cost), COUNT(*) FROM hospital "
                      "GROUP BY region ORDER BY 1", got, 64, &n, 1) == 0);
  compare("per region", got, n, want, nw);
  CHECK(nw == 4); /* tiny is suppressed, though it has rows: */
  sqlite3_stmt *st = NULL;
  CHECK(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM hospital WHERE region = 'tiny'", -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0);
  sqlite3_finalize(st);

  nw = expect_regions(50, want);
  CHECK(run_ruled(db, "SELECT region, COUNT(DISTINCT patient_id), SUM(cost), COUNT(*) FROM hospital "
                      "WHERE age >= 50 GROUP BY region ORDER BY region", got, 64, &n, 1) == 0);
  compare("per region, age >= 50", got, n, want, nw);

  /* One aggregated row of 3 units: removed. */
  CHECK(run_ruled(db, "SELECT COUNT(*), SUM(cost) FROM hospital WHERE region = 'tiny'", got, 64, &n, 0) == 0);
  CHECK(n == 0);
  CHECK(run_ruled(db, "SELECT COUNT(*), SUM(cost) FROM hospital WHERE region = 'north'", got, 64, &n, 0) == 0);
  CHECK(n == 1);
}

static void check_join_attack(sqlite3 *db) {
  /* want: acme (odd patients 5..43), bolt (even 4..42): join rows are
   * the patient's visits, units the distinct patients. */
  struct row got[16], want[2];
  size_t n = 0;
  memset(want, 0, sizeof(want));
  for (int p = 4; p <= NPAT; p++) {
    struct row *w = &want[p % 2 ? 0 : 1];
    snprintf(w->key, sizeof(w->key), "%s", p % 2 ? "acme" : "bolt");
    w->v[0] += visits_of(p);
    w->v[1] += 1;
  }
  CHECK(run_ruled(db, "SELECT c.insurer, COUNT(*), COUNT(DISTINCT c.pid) FROM hospital h JOIN claims c "
                      "ON h.patient_id = c.pid GROUP BY c.insurer ORDER BY 1", got, 16, &n, 1) == 0);
  compare("join attack", got, n, want, 2);
  for (size_t i = 0; i < n; i++)
    CHECK(strcmp(got[i].key, "solo") != 0);
}

static void check_list(sqlite3 *db) {
  /* Matched emails e10..e19: pairs (s i%3, t i%2), distinct, sorted. */
  struct row got[16], want[16];
  size_t n = 0, nw = 0;
  memset(want, 0, sizeof(want));
  for (int s = 0; s < 3; s++)
    for (int t = 0; t < 2; t++) {
      int seen = 0;
      for (int i = 10; i < 20; i++)
        seen |= i % 3 == s && i % 2 == t;
      if (seen)
        snprintf(want[nw++].key, sizeof(want[0].key), "s%d|t%d", s, t);
    }
  CHECK(run_ruled(db, "SELECT a.seg, b.tier FROM lst_a a JOIN lst_b b ON a.email = b.email ORDER BY 1, 2", got, 16,
                  &n, 2) == 0);
  compare("list", got, n, want, nw);
}

/* libpg_query under the enclave's filter: the first parse (its lazy
 * initialisation), errors (longjmp) and a full check run with no system
 * call outside the list, or the child dies of SIGSYS. */
static void check_sandboxed(void) {
  int sv[2], st = -1;
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    static const char *const qs[] = {"SELECT region, COUNT(*) FROM hospital GROUP BY region", "SELEC region FROM hospital",
                                     "SELECT patient_id FROM hospital", "SELECT 1 FROM mine"};
    static const int want[] = {0, CDR_ERR_SQL_ERROR, CDR_ERR_RULE_VIOLATION, RULE_UNGOVERNED};
    close(sv[0]);
    if (sandbox_enter("sim", sv[1]) != 0)
      _exit(99);
    for (int i = 0; i < 4; i++) {
      struct rule_plan *p = NULL;
      char *err = NULL, *sql = NULL;
      int r = rule_check(qs[i], strlen(qs[i]), rules_fx_lookup, NULL, &p, &err);
      if (r != want[i] || (r == 0 && rule_emit(p, &sql, &err) != 0))
        _exit(10 + i);
      rule_plan_free(p);
      free(err);
      free(sql);
    }
    _exit(0);
  }
  close(sv[1]);
  CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (WIFSIGNALED(st))
    fprintf(stderr, "sandboxed check died of signal %d\n", WTERMSIG(st));
  close(sv[0]);
}

int main(void) {
  CHECK(rules_fx_init() == 0);
  check_sandboxed(); /* first: no parse has run in this process yet */
  sqlite3 *db = rules_fx_db();
  CHECK(db != NULL && fill(db) == 0);
  if (db != NULL) {
    check_aggregates(db);
    check_join_attack(db);
    check_list(db);
    sqlite3_close(db);
  }
  rules_fx_free();
  return test_summary("test_rule_emit");
}
