/*
 * test_dp.c - dp queries end to end (src/enclave/dp*.c): a table in an
 * in-memory SQLite database, rule_check's plan, dp_run with a real
 * ledger and cache.
 *
 * Checked: contribution bounding (a unit counts once per group and in at
 * most max_groups_per_unit groups), clamping, the threshold on groups
 * and public keys; answers differ from the truth by noise of exactly the
 * stated distribution; the budget runs out exactly where it should and
 * stays spent when the table is replaced and when the ledger is sealed
 * and loaded again (which refuses every truncation of it); a repeated
 * query is answered from the cache, the same bytes, at no cost, also when
 * two come at once;
 * refusals before execution cost nothing, a statement SQLite refuses is
 * refunded.
 *
 * False alarms.  With epsilon 250 (or 100 and k = 2) the count noise has
 * scale at most 0.04 (dp.h: k * 1 * q / epsilon, q <= 2), so a count is
 * off with probability below 2 exp(-25) per draw: over fewer than 50
 * such draws, below 1e-9.  The statistical checks are: two DKW
 * comparisons of 3000 noise draws each with the exact CDF (false alarm
 * 2e-7 each), and per-draw bounds on sum noise (exceeded with
 * probability below 1e-9 each, over fewer than 100 draws): under 5e-7 in
 * all.  The binomial split of units in two groups (k = 1) is checked
 * only for its exact total.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"
#include "enclave/dp.h"
#include "enclave/rule.h"
#include "testlib.h"

static const char *const cols[] = {"uid", "region", "cost"};
static const char *const types[] = {"INTEGER", "TEXT", "REAL"};
#define COLS_JSON "\"columns\": {\"uid\": \"privacy_unit\", \"region\": \"dimension\", " \
                  "\"cost\": {\"metric\": [\"sum\", \"count\", \"avg\"], \"bounds\": [0, 100]}}"

static const struct {
  const char *name, *rule;
} defs[] = {
    {"visits", "{\"mode\": \"dp\", " COLS_JSON ", \"epsilon_per_query\": 250, \"epsilon_total\": 1000, "
               "\"delta\": 1e-6, \"max_groups_per_unit\": 1}"},
    {"visits2", "{\"mode\": \"dp\", " COLS_JSON ", \"epsilon_per_query\": 100, \"epsilon_total\": 1000, "
                "\"delta\": 1e-6, \"max_groups_per_unit\": 2}"},
    {"stats", "{\"mode\": \"dp\", " COLS_JSON ", \"epsilon_per_query\": 0.5, \"epsilon_total\": 1000, "
              "\"max_groups_per_unit\": 1, \"public_keys\": {\"region\": [\"north\", \"south\", \"nowhere\"]}}"},
    {"tiny", "{\"mode\": \"dp\", " COLS_JSON ", \"epsilon_per_query\": 0.1, \"epsilon_total\": 0.3, "
             "\"delta\": 1e-6, \"max_groups_per_unit\": 1}"},
    {"nodelta", "{\"mode\": \"dp\", " COLS_JSON ", \"epsilon_per_query\": 1, \"epsilon_total\": 10, "
                "\"max_groups_per_unit\": 1}"},
};
#define NT (sizeof(defs) / sizeof(defs[0]))

static struct rule_table tables[NT];
static struct rule_doc *docs[NT];
static sqlite3 *db;
static struct dp_ledger *ledger;
static struct dp_cache *cache;
static const uint8_t ANALYST[32] = {0xa1}, OTHER[32] = {0xb2};

static const struct rule_table *lookup(void *ctx, const char *name) {
  (void)ctx;
  for (size_t i = 0; i < NT; i++)
    if (strcasecmp(tables[i].name, name) == 0)
      return &tables[i];
  return NULL;
}

static void exec_sql(const char *sql) { CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK); }

/* units [from, to) with n rows each of cost c in region r. */
static void add_units(const char *t, int from, int to, int n, const char *r, double c) {
  char q[256];
  for (int u = from; u < to; u++)
    for (int i = 0; i < n; i++) {
      snprintf(q, sizeof(q), "INSERT INTO \"%s\" VALUES (%d, '%s', %g)", t, u, r, c);
      exec_sql(q);
    }
}

static void make_table(const char *t) {
  char q[256];
  snprintf(q, sizeof(q), "DROP TABLE IF EXISTS \"%s\"; CREATE TABLE \"%s\" (uid INTEGER, region TEXT, cost REAL)",
           t, t);
  exec_sql(q);
}

static void setup(void) {
  CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, (int *)0);
  for (size_t i = 0; i < NT; i++) {
    char *err = NULL;
    CHECK_RC(rule_doc_parse(defs[i].rule, strlen(defs[i].rule), cols, types, 3, &docs[i], &err), 0);
    free(err);
    /* Designated: the struct grows fields (readable) that stay 0 here. */
    tables[i] = (struct rule_table){.name = defs[i].name, .owner = "owner", .ncols = 3, .cols = cols,
                                    .rule = docs[i]};
    make_table(defs[i].name);
  }
  exec_sql("BEGIN");
  /* visits and visits2: 300 units in north with two rows of 80 each
   * (a unit total of 160, clamped to 100), 200 in south (one row of 30),
   * 100 in both north and south (one row of 10 each), 1 in east, 2 in
   * west, 3 in centre; a row without unit. */
  for (int t = 0; t < 2; t++) {
    const char *n = t == 0 ? "visits" : "visits2";
    add_units(n, 1, 301, 2, "north", 80);
    add_units(n, 301, 501, 1, "south", 30);
    add_units(n, 501, 601, 1, "north", 10);
    add_units(n, 501, 601, 1, "south", 10);
    add_units(n, 601, 602, 1, "east", 50);
    add_units(n, 602, 604, 1, "west", 50);
    add_units(n, 604, 607, 1, "centre", 50);
  }
  exec_sql("INSERT INTO visits VALUES (NULL, 'north', 5)");
  /* stats: north 300 units of 100 (two rows of 50), south 200 of 30 and
   * a value outside the keys. */
  add_units("stats", 1, 301, 2, "north", 50);
  add_units("stats", 301, 501, 1, "south", 30);
  add_units("stats", 501, 511, 1, "elsewhere", 30);
  add_units("tiny", 1, 50, 1, "north", 1);
  exec_sql("COMMIT");
  CHECK_RC(dp_ledger_new(&ledger), 0);
  CHECK_RC(dp_cache_new(&cache), 0);
}

struct answer {
  int rc;
  struct dp_outcome oc;
  char *doc, *err;
  json_t *rows;
};

static void answer_free(struct answer *a) {
  free(a->doc);
  free(a->err);
  json_decref(a->rows);
  memset(a, 0, sizeof(*a));
}

/* Check sql and run it for analyst with data version dv. */
static struct answer ask(const char *sql, const uint8_t *analyst, uint32_t dv) {
  struct answer a = {0};
  struct rule_plan *p = NULL;
  a.rc = rule_check(sql, strlen(sql), lookup, NULL, &p, &a.err);
  if (a.rc != 0)
    return a;
  uint8_t v[4] = {(uint8_t)(dv >> 24), (uint8_t)(dv >> 16), (uint8_t)(dv >> 8), (uint8_t)dv};
  struct dp_request req = {db, p, analyst, v, sizeof(v), 1u << 20, 10000};
  struct cdr_buf out;
  cdr_buf_init(&out, 2u << 20, 0);
  a.rc = dp_run(&req, ledger, cache, &out, &a.oc, &a.err);
  if (a.rc == 0 && (a.doc = test_copy_text(out.d, out.len)) != NULL) {
    json_t *j = json_loads(a.doc, 0, NULL);
    CHECK(j != NULL && json_integer_value(json_object_get(j, "row_count")) == (json_int_t)a.oc.rows);
    a.rows = json_incref(json_object_get(j, "rows"));
    json_decref(j);
  }
  cdr_buf_free(&out);
  rule_plan_free(p);
  return a;
}

/* The row whose first value is the string key, or NULL. */
static json_t *row_of(const struct answer *a, const char *key) {
  size_t i;
  json_t *r;
  json_array_foreach(a->rows, i, r) {
    if (json_is_string(json_array_get(r, 0)) && strcmp(json_string_value(json_array_get(r, 0)), key) == 0)
      return r;
  }
  return NULL;
}

static json_int_t ival(const json_t *row, size_t i) { return json_integer_value(json_array_get(row, i)); }

static void check_bounding(void) {
  /* k = 1: each of the 100 units in north and south counts in one. */
  struct answer a = ask("SELECT region, COUNT(*) AS n, COUNT(DISTINCT uid) FROM visits GROUP BY region", ANALYST, 1);
  CHECK_RC(a.rc, 0);
  json_t *n = row_of(&a, "north"), *s = row_of(&a, "south");
  CHECK(n != NULL && s != NULL);
  if (n != NULL && s != NULL) {
    CHECK(ival(n, 1) + ival(s, 1) == 600);
    CHECK(ival(n, 1) >= 300 && ival(s, 1) >= 200);
    CHECK(ival(n, 1) == ival(n, 2)); /* COUNT(*) counts units: the same quantity, one noise */
  }
  /* The threshold is 3 here: 3 units pass, 1 and 2 do not. */
  CHECK(row_of(&a, "centre") != NULL && ival(row_of(&a, "centre"), 1) == 3);
  CHECK(row_of(&a, "east") == NULL && row_of(&a, "west") == NULL);
  CHECK(a.oc.charged && a.oc.eps_micro == 250000000ull && a.oc.delta_pico == 1000000);
  CHECK(json_array_size(a.rows) == 3 && a.oc.rows == 3);
  answer_free(&a);
  /* k = 2: every unit counts in both its groups. */
  a = ask("SELECT region, COUNT(*) FROM visits2 GROUP BY region", ANALYST, 1);
  CHECK_RC(a.rc, 0);
  CHECK(row_of(&a, "north") != NULL && ival(row_of(&a, "north"), 1) == 400);
  CHECK(row_of(&a, "south") != NULL && ival(row_of(&a, "south"), 1) == 300);
  answer_free(&a);
  /* No GROUP BY: one row, units with a NULL unit left out; 606 units. */
  a = ask("SELECT COUNT(*) FROM visits2 WHERE region <> 'east'", ANALYST, 1);
  CHECK_RC(a.rc, 0);
  CHECK(json_array_size(a.rows) == 1 && ival(json_array_get(a.rows, 0), 0) == 605);
  answer_free(&a);
  /* Clamping: a north unit's total (160) counts 100; the 100 shared
   * units add 10 each where they are kept (k = 2: in both).  Sum noise
   * at epsilon 100 / 2 quantities, bound 100: scale 2 * 100 * 2 / 100 =
   * 4 units, exceeded by 90 with probability 2 exp(-22.5) < 1e-9. */
  a = ask("SELECT region, SUM(cost), AVG(cost) FROM visits2 GROUP BY region", ANALYST, 1);
  CHECK_RC(a.rc, 0);
  json_t *r = row_of(&a, "north");
  CHECK(r != NULL && fabs(json_number_value(json_array_get(r, 1)) - (300 * 100 + 100 * 10)) < 90);
  CHECK(r != NULL && fabs(json_number_value(json_array_get(r, 2)) - 31000.0 / 400) < 1);
  answer_free(&a);
}

/* The exact CDF of the discrete Laplace of scale t/s at y. */
static double dlap_cdf(double t, double s, double y) {
  double p = exp(-s / t);
  return y >= 0 ? 1.0 - exp(-(y + 1) * s / t) / (1.0 + p) : exp(y * s / t) / (1.0 + p);
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

/* DKW: sup |F_n - F| over the sample's values with false alarm 2e-7. */
static void check_dkw(long long *v, size_t n, double t, double s, const char *what) {
  qsort(v, n, sizeof(*v), cmp_ll);
  double worst = 0, tol = sqrt(log(2.0 / 2e-7) / (2.0 * (double)n));
  for (size_t i = 0; i < n; i++) {
    size_t j = i;
    while (j + 1 < n && v[j + 1] == v[i])
      j++;
    double below = fabs((double)i / (double)n - dlap_cdf(t, s, (double)v[i] - 1));
    double at = fabs((double)(j + 1) / (double)n - dlap_cdf(t, s, (double)v[i]));
    worst = fmax(worst, fmax(below, at));
    i = j;
  }
  if (worst > tol)
    fprintf(stderr, "%s: KS distance %.4f over %zu draws (tolerance %.4f)\n", what, worst, n, tol);
  CHECK(worst <= tol);
}

/* Many answers of one query (a new data version each: no cache hit) on
 * the public-key table: noise on the unit count of scale 4 (k 1, 2
 * quantities, epsilon 0.5) and on the sum of scale 4 * 10^8 millionths. */
static void check_noise(void) {
  enum { R = 1500 };
  long long *cn = malloc(2 * R * sizeof(*cn)), *sn = malloc(2 * R * sizeof(*sn));
  size_t k = 0;
  for (uint32_t i = 0; cn != NULL && sn != NULL && i < R; i++) {
    struct answer a = ask("SELECT region, COUNT(*), SUM(cost) FROM stats GROUP BY region", OTHER, 1000 + i);
    CHECK_RC(a.rc, 0);
    /* Every key is a row, the absent one too; "elsewhere" is none. */
    CHECK(json_array_size(a.rows) == 3 && row_of(&a, "nowhere") != NULL && row_of(&a, "elsewhere") == NULL);
    json_t *n = row_of(&a, "north"), *s = row_of(&a, "south");
    if (n != NULL && s != NULL) {
      cn[k] = ival(n, 1) - 300;
      sn[k++] = llround(json_number_value(json_array_get(n, 2)) * 1e6) - 30000000000ll;
      cn[k] = ival(s, 1) - 200;
      sn[k++] = llround(json_number_value(json_array_get(s, 2)) * 1e6) - 6000000000ll;
    }
    answer_free(&a);
  }
  CHECK(k == 2 * R);
  if (k == 2 * R) {
    check_dkw(cn, k, 2e6, 500000, "count noise");
    check_dkw(sn, k, 2e14, 500000, "sum noise");
  }
  free(cn);
  free(sn);
}

static void check_budget(void) {
  struct dp_spent sp;
  struct answer first = ask("SELECT COUNT(*) FROM tiny", ANALYST, 7), a;
  CHECK_RC(first.rc, 0);
  CHECK(first.oc.charged && !first.oc.cached);
  for (uint32_t i = 0; i < 2; i++) {
    a = ask("SELECT COUNT(*) FROM tiny", ANALYST, 8 + i);
    CHECK_RC(a.rc, 0);
    answer_free(&a);
  }
  a = ask("SELECT COUNT(*) FROM tiny", ANALYST, 10);
  CHECK_RC(a.rc, CDR_ERR_BUDGET_EXHAUSTED);
  CHECK_STR(a.err, "the privacy budget of table tiny is spent: this query needs epsilon 0.1 and 0 of 0.3 is left");
  CHECK(!a.oc.charged);
  answer_free(&a);
  /* The first query again: the same bytes, from the cache, no charge. */
  a = ask("SELECT  count(*)   FROM tiny", ANALYST, 7);
  CHECK_RC(a.rc, 0);
  CHECK(a.oc.cached && !a.oc.charged && a.oc.rows == 1);
  CHECK(a.doc != NULL && first.doc != NULL && strcmp(a.doc, first.doc) == 0);
  answer_free(&a);
  /* Another analyst gets no one else's answer. */
  a = ask("SELECT COUNT(*) FROM tiny", OTHER, 7);
  CHECK_RC(a.rc, CDR_ERR_BUDGET_EXHAUSTED);
  answer_free(&a);
  dp_ledger_spent(ledger, "tiny", ANALYST, &sp);
  CHECK(sp.eps_micro == 300000 && sp.analyst_micro == 300000);
  /* The table replaced (new data, new version): still spent. */
  make_table("tiny");
  add_units("tiny", 1, 20, 1, "south", 2);
  a = ask("SELECT COUNT(*) FROM tiny", ANALYST, 11);
  CHECK_RC(a.rc, CDR_ERR_BUDGET_EXHAUSTED);
  answer_free(&a);
  answer_free(&first);
}

static void check_refusals(void) {
  struct dp_spent before, after;
  static const struct {
    const char *sql, *msg;
  } bad[] = {
      {"SELECT region, COUNT(*) FROM nodelta GROUP BY region", "GROUP BY needs the rule's delta"},
      {"SELECT region, COUNT(*) FROM visits GROUP BY region ORDER BY 2", "ORDER BY"},
      {"SELECT COUNT(*) FROM visits LIMIT 1", "LIMIT"},
      {"SELECT lower(region), COUNT(*) FROM visits GROUP BY lower(region)", "GROUP BY takes dimension columns"},
      {"SELECT region FROM visits GROUP BY region", NULL},
      {"SELECT region, COUNT(*) FROM visits GROUP BY region HAVING COUNT(*) > 5", "HAVING"},
      {"SELECT uid FROM visits", "privacy unit"},
  };
  dp_ledger_spent(ledger, "visits", NULL, &before);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct answer a = ask(bad[i].sql, ANALYST, 1);
    if (bad[i].msg != NULL) {
      CHECK_RC(a.rc, CDR_ERR_RULE_VIOLATION);
      CHECK_CONTAINS(a.err, bad[i].msg);
    } else {
      /* Only dimensions: no noise needed but the threshold's, allowed. */
      CHECK_RC(a.rc, 0);
    }
    answer_free(&a);
  }
  dp_ledger_spent(ledger, "visits", NULL, &after);
  CHECK(after.eps_micro == before.eps_micro + 250000000ull); /* the one allowed */
  /* A request without a data version (the cache could serve a replaced
   * table's answer) is refused, nothing charged. */
  struct rule_plan *p = NULL;
  char *err = NULL;
  CHECK_RC(rule_check("SELECT COUNT(*) FROM visits", 27, lookup, NULL, &p, &err), 0);
  if (p != NULL) {
    struct dp_request req = {db, p, ANALYST, (const uint8_t *)"", 0, 1u << 20, 100};
    struct dp_outcome oc;
    struct cdr_buf out;
    cdr_buf_init(&out, 1u << 20, 0);
    CHECK_RC(dp_run(&req, ledger, cache, &out, &oc, &err), CDR_ERR_ARG);
    CHECK(!oc.charged && out.len == 0);
    cdr_buf_free(&out);
  }
  rule_plan_free(p);
  free(err);
  /* SQLite refuses the statement (the table is gone): refunded. */
  struct answer a = ask("SELECT COUNT(*) FROM nodelta", ANALYST, 1);
  CHECK_RC(a.rc, 0);
  answer_free(&a);
  exec_sql("DROP TABLE nodelta");
  a = ask("SELECT COUNT(cost) FROM nodelta", ANALYST, 1);
  CHECK_RC(a.rc, CDR_ERR_SQL_ERROR);
  CHECK_CONTAINS(a.err, "no such table");
  CHECK(!a.oc.charged);
  answer_free(&a);
  dp_ledger_spent(ledger, "nodelta", NULL, &after);
  CHECK(after.eps_micro == 1000000);
}

/* The ledger as sealed and loaded again (a restart): the spending
 * survives, and the decoder refuses every cut of it and an oversized
 * input. */
static void check_restart(void) {
  struct cdr_buf b, b2;
  struct dp_ledger *l2 = NULL;
  struct dp_spent s1, s2;
  cdr_buf_init(&b, DP_LEDGER_MAX_BYTES, 0);
  cdr_buf_init(&b2, DP_LEDGER_MAX_BYTES, 0);
  CHECK_RC(dp_ledger_encode(ledger, &b), 0);
  CHECK_RC(dp_ledger_decode(b.d, b.len, &l2), 0);
  if (l2 != NULL) {
    CHECK_RC(dp_ledger_encode(l2, &b2), 0);
    CHECK(b2.len == b.len && memcmp(b.d, b2.d, b.len) == 0);
    const char *names[] = {"visits", "visits2", "stats", "tiny", "nodelta"};
    for (size_t i = 0; i < 5; i++) {
      dp_ledger_spent(ledger, names[i], ANALYST, &s1);
      dp_ledger_spent(l2, names[i], ANALYST, &s2);
      CHECK(s1.eps_micro == s2.eps_micro && s1.delta_pico == s2.delta_pico && s1.analyst_micro == s2.analyst_micro);
    }
    dp_ledger_free(ledger);
    ledger = l2;
  }
  for (size_t n = 0; n < b.len; n++) {
    struct dp_ledger *x = NULL;
    CHECK(dp_ledger_decode(b.d, n, &x) != 0 && x == NULL);
  }
  struct dp_ledger *x = NULL;
  CHECK_RC(dp_ledger_decode(b.d, DP_LEDGER_MAX_BYTES + 1, &x), CDR_ERR_TOO_LARGE);
  /* After the restart: tiny is still spent (a new query, no cache). */
  struct answer a = ask("SELECT COUNT(*) AS again FROM tiny", ANALYST, 12);
  CHECK_RC(a.rc, CDR_ERR_BUDGET_EXHAUSTED);
  CHECK_CONTAINS(a.err, "0 of 0.3 is left");
  answer_free(&a);
  cdr_buf_free(&b);
  cdr_buf_free(&b2);
}

static int note_col(void *ctx, const char *table, const char *column) {
  char *seen = ctx;
  size_t n = strlen(seen);
  snprintf(seen + n, 256 - n, "%s.%s;", table, column);
  return 0;
}

/* What the statement reads, for the authorizer: the table, the unit
 * (never named by the query), and the columns the query names. */
static void check_columns(void) {
  struct rule_plan *p = NULL;
  char *err = NULL, seen[256] = "";
  const char *sql = "SELECT region, SUM(cost) FROM visits WHERE region <> 'x' GROUP BY region";
  CHECK_RC(rule_check(sql, strlen(sql), lookup, NULL, &p, &err), 0);
  if (p != NULL)
    CHECK_RC(dp_statement_columns(p, note_col, seen), 0);
  CHECK_STR(seen, "visits.;visits.uid;visits.region;visits.cost;visits.region;visits.region;");
  CHECK(p != NULL && dp_plan_table(p) != NULL && strcmp(dp_plan_table(p), "visits") == 0);
  rule_plan_free(p);
  free(err);
}

struct racer {
  struct answer a;
};

static void *race(void *arg) {
  struct racer *r = arg;
  r->a = ask("SELECT SUM(cost) FROM visits2", OTHER, 99);
  return NULL;
}

static void check_race(void) {
  struct racer r[2];
  pthread_t th[2];
  struct dp_spent before, after;
  dp_ledger_spent(ledger, "visits2", NULL, &before);
  for (int i = 0; i < 2; i++)
    CHECK(pthread_create(&th[i], NULL, race, &r[i]) == 0);
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  dp_ledger_spent(ledger, "visits2", NULL, &after);
  CHECK(after.eps_micro == before.eps_micro + 100000000ull);
  CHECK(r[0].a.rc == 0 && r[1].a.rc == 0 && r[0].a.oc.cached + r[1].a.oc.cached == 1);
  CHECK(r[0].a.doc != NULL && r[1].a.doc != NULL && strcmp(r[0].a.doc, r[1].a.doc) == 0);
  answer_free(&r[0].a);
  answer_free(&r[1].a);
}

int main(void) {
  setup();
  check_bounding();
  check_noise();
  check_budget();
  check_refusals();
  check_restart();
  check_race();
  check_columns();
  dp_cache_free(cache);
  dp_ledger_free(ledger);
  for (size_t i = 0; i < NT; i++)
    rule_doc_free(docs[i]);
  sqlite3_close(db);
  return test_summary("dp");
}
