/*
 * test_engine_rules.c - release rules on the engine's query path
 * (engine_rules.c, engine_rule_owner.c, engine_dp.c; docs/RULES.md):
 * who is checked (analysts without a grant; not owners, grantees or
 * providers), the emitted statement's results and thresholds against
 * answers computed here by hand, dp queries through engine_dp_run
 * (charged once, cached, the budget running out, shown by the rule),
 * the authorizer approving only the columns of the emitted statement,
 * setting rules (owner only, grants kept or revoked, malformed refused
 * naming the field, removal), a replacement that leaves a rule stale, the
 * table list and rule as an analyst sees them, and the one refusal for a
 * table the caller cannot read.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "enclave/catalog.h"
#include "enclave/engine.h"
#include "enclave/policy.h"
#include "testlib.h"

static struct cdr_engine *E;

static const struct engine_principal HOSP = {"data@hospital", CDR_ROLE_PROVIDER, {1}, 0};
static const struct engine_principal INS = {"data@insurer", CDR_ROLE_PROVIDER, {2}, 0};
static const struct engine_principal ANA = {"ana@institute", CDR_ROLE_ANALYST, {3}, 0};
static const struct engine_principal BOB = {"bob@institute", CDR_ROLE_ANALYST, {4}, 0};
/* The insurer as the contract may list it: provider and analyst. */
static const struct engine_principal INS_ANA = {"data@insurer", CDR_ROLE_PROVIDER, {2}, 1};

static const char PRULE[] = "{\"mode\":\"aggregate\",\"columns\":{\"pid\":\"privacy_unit\",\"region\":\"dimension\","
                            "\"cost\":{\"metric\":[\"sum\",\"count\"],\"bounds\":[0,100]},\"note\":\"hidden\"},"
                            "\"min_units\":5}";

static int q(const struct engine_principal *who, const char *sql, char **json, char **err) {
  size_t len = 0;
  uint64_t rows = 0;
  *json = NULL;
  *err = NULL;
  return engine_query_json(E, who, sql, strlen(sql), json, &len, &rows, err);
}

#define QUERY_IS(who, sql, want)                                                        \
  do {                                                                                  \
    char *j_, *e_;                                                                      \
    int r_ = q(&(who), sql, &j_, &e_);                                                  \
    CHECK_RC(r_, 0);                                                                    \
    if (r_ != 0)                                                                        \
      fprintf(stderr, "  %s: %s\n", sql, e_ ? e_ : "");                                 \
    else                                                                                \
      CHECK_STR(j_, want);                                                              \
    free(j_);                                                                           \
    free(e_);                                                                           \
  } while (0)

#define QUERY_FAILS(who, sql, code, needle)                                             \
  do {                                                                                  \
    char *j_, *e_;                                                                      \
    int r_ = q(&(who), sql, &j_, &e_);                                                  \
    CHECK_RC(r_, code);                                                                 \
    CHECK_CONTAINS(e_, needle);                                                         \
    CHECK(j_ == NULL);                                                                  \
    free(j_);                                                                           \
    free(e_);                                                                           \
  } while (0)

static void load(const struct engine_principal *who, const char *name, const char *csv, int replace) {
  uint64_t rows = 0;
  char *err = NULL;
  int r = engine_load_csv(E, who, name, (const uint8_t *)csv, strlen(csv), replace, &rows, &err);
  CHECK_RC(r, 0);
  if (r != 0)
    fprintf(stderr, "  load %s: %s\n", name, err ? err : "");
  free(err);
}

static int set_rule(const struct engine_principal *who, const char *table, const char *rule,
                    enum engine_rule_grants g, size_t *revoked, char **err) {
  *err = NULL;
  return engine_set_rule(E, who, table, rule, rule != NULL ? strlen(rule) : 0, g, revoked, err);
}

/* patients: north has pids 1..6 (cost 10 each, pid 6: 500, clamped to
 * 100), south 7..9 (three patients).  */
static void setup(void) {
  char csv[2048];
  size_t n = 0;
  n += (size_t)snprintf(csv + n, sizeof(csv) - n, "pid,region,cost,note\n");
  for (int i = 1; i <= 9; i++)
    n += (size_t)snprintf(csv + n, sizeof(csv) - n, "%d,%s,%d,n%d\n", i, i <= 6 ? "north" : "south",
                          i == 6 ? 500 : 10, i);
  load(&HOSP, "patients", csv, 0);
  /* claims: pid 7 has 6 claims (six rows, one unit), pids 1..6 one each. */
  load(&INS, "claims", "pid,amount\n1,1\n2,1\n3,1\n4,1\n5,1\n6,1\n7,5\n7,5\n7,5\n7,5\n7,5\n7,5\n", 0);
  load(&HOSP, "secret", "id,payload\n1,x\n", 0);
}

static void test_set(void) {
  char *err = NULL;
  size_t revoked = 9;
  CHECK_RC(engine_grant(E, &HOSP, "patients", BOB.name, NULL, 0, &err), 0);
  free(err);
  /* Refusals: not the owner; malformed (naming the field); grants. */
  CHECK_RC(set_rule(&INS, "patients", PRULE, ENGINE_RULE_GRANTS_KEEP, &revoked, &err), CDR_ERR_ACCESS_DENIED);
  CHECK_CONTAINS(err, "only its owner can set its release rule");
  free(err);
  CHECK_RC(set_rule(&HOSP, "patients", "{\"mode\":\"aggregate\",\"columns\":{\"pid\":\"privacy_unit\"},\"min_units\":2}",
                    ENGINE_RULE_GRANTS_KEEP, &revoked, &err),
           CDR_ERR_ARG);
  CHECK_CONTAINS(err, "min_units");
  free(err);
  CHECK_RC(set_rule(&HOSP, "patients", "{\"mode\":", ENGINE_RULE_GRANTS_KEEP, &revoked, &err), CDR_ERR_BAD_JSON);
  free(err);
  CHECK_RC(set_rule(&HOSP, "patients", PRULE, ENGINE_RULE_GRANTS_ASK, &revoked, &err), CDR_ERR_ARG);
  CHECK_CONTAINS(err, "bob@institute");
  free(err);
  CHECK(catalog_find(engine_catalog(E), "patients")->rule == NULL);
  CHECK_RC(set_rule(&HOSP, "patients", PRULE, ENGINE_RULE_GRANTS_KEEP, &revoked, &err), 0);
  free(err);
  CHECK(revoked == 0 && catalog_find(engine_catalog(E), "patients")->ngrants == 1);
  CHECK_RC(set_rule(&INS, "claims",
                    "{\"mode\":\"aggregate\",\"columns\":{\"pid\":\"privacy_unit\",\"amount\":{\"metric\":[\"sum\"]}},"
                    "\"min_units\":5}",
                    ENGINE_RULE_GRANTS_ASK, &revoked, &err),
           0);
  free(err);
}

static void test_queries(void) {
  /* The owner and a grantee read rows as before. */
  QUERY_IS(HOSP, "SELECT note FROM patients WHERE pid = 2", "{\"columns\":[\"note\"],\"rows\":[[\"n2\"]],\"row_count\":1}");
  QUERY_IS(BOB, "SELECT note FROM patients WHERE pid = 3", "{\"columns\":[\"note\"],\"rows\":[[\"n3\"]],\"row_count\":1}");
  /* The analyst: south (3 patients) is removed; pid 6's 500 is clamped. */
  QUERY_IS(ANA, "SELECT region, COUNT(DISTINCT pid) AS n, SUM(cost) AS s FROM patients GROUP BY region",
           "{\"columns\":[\"region\",\"n\",\"s\"],\"rows\":[[\"north\",6,150]],\"row_count\":1}");
  /* A join repeating pid 7 six times does not lift south. */
  QUERY_IS(ANA,
           "SELECT p.region, COUNT(*) AS c, SUM(c.amount) AS a FROM patients p JOIN claims c ON c.pid = p.pid "
           "GROUP BY p.region",
           "{\"columns\":[\"region\",\"c\",\"a\"],\"rows\":[[\"north\",6,6]],\"row_count\":1}");
  QUERY_FAILS(ANA, "SELECT pid FROM patients", CDR_ERR_RULE_VIOLATION, "privacy unit of patients");
  QUERY_FAILS(ANA, "SELECT note, COUNT(*) FROM patients GROUP BY note", CDR_ERR_SQL_ERROR, "no column note");
  /* In a governed query too, a table one cannot read answers as a
   * missing one. */
  QUERY_FAILS(ANA, "SELECT COUNT(*) FROM patients p JOIN secret s ON s.id = p.pid", CDR_ERR_ACCESS_DENIED,
              "no access to table secret (no such table: secret");
  QUERY_FAILS(ANA, "SELECT COUNT(*) FROM patients p JOIN nothere s ON s.id = p.pid", CDR_ERR_ACCESS_DENIED,
              "no access to table nothere (no such table: nothere");
  /* A provider without a grant is not an analyst: no rule for it. */
  QUERY_FAILS(INS, "SELECT region, COUNT(*) FROM patients GROUP BY region", CDR_ERR_ACCESS_DENIED,
              "no such table: patients");
  /* The same provider whose contract roles include analyst queries it
   * under its rule, as an analyst (before: refused as a provider). */
  QUERY_IS(INS_ANA, "SELECT region, COUNT(DISTINCT pid) AS n, SUM(cost) AS s FROM patients GROUP BY region",
           "{\"columns\":[\"region\",\"n\",\"s\"],\"rows\":[[\"north\",6,150]],\"row_count\":1}");
  QUERY_FAILS(INS_ANA, "SELECT pid FROM patients", CDR_ERR_RULE_VIOLATION, "privacy unit of patients");
  /* Its owner, a provider, reads the other owner's ruled table no more
   * than any provider does. */
  QUERY_FAILS(HOSP, "SELECT COUNT(*) FROM patients p JOIN claims c ON c.pid = p.pid", CDR_ERR_ACCESS_DENIED,
              "no such table: claims");
}

/* The second line: with approvals for one column only, the authorizer
 * refuses any other, and without approvals it refuses the governed table. */
static void test_second_line(void) {
  struct policy p;
  struct catalog c;
  struct catalog_table *t = catalog_table_new("gov", "owner", (const uint8_t *)"01234567890123456789012345678901", 0, 0);
  CHECK(t != NULL && catalog_table_add_column(t, "a", "TEXT", 0) == 0 && catalog_table_add_column(t, "b", "TEXT", 0) == 0);
  catalog_init(&c);
  CHECK(catalog_put(&c, t) == 0);
  policy_init(&p);
  policy_set_catalog(&p, &c);
  policy_set_principal(&p, &ANA);
  CHECK(policy_check_read(&p, "gov", "a") == SQLITE_DENY);
  policy_clear_denial(&p);
  CHECK_RC(policy_approve(&p, "gov", "a"), 0);
  CHECK(policy_check_read(&p, "GOV", "A") == SQLITE_OK);
  CHECK(policy_check_read(&p, "gov", "b") == SQLITE_DENY);
  policy_clear_denial(&p);
  CHECK(policy_check_read(&p, "gov", "") == SQLITE_DENY);
  policy_clear_approved(&p);
  CHECK(policy_check_read(&p, "gov", "a") == SQLITE_DENY);
  policy_free(&p);
  catalog_free(&c);
}

static void test_dp_and_views(void) {
  char *err = NULL, *json = NULL;
  size_t len = 0;
  struct cdr_buf b;
  load(&INS, "visits", "pid,region,cost\n1,a,3\n", 0);
  CHECK_RC(set_rule(&INS, "visits",
                    "{\"mode\":\"dp\",\"columns\":{\"pid\":\"privacy_unit\",\"region\":\"dimension\",\"cost\":{"
                    "\"metric\":[\"sum\"],\"bounds\":[0,10]}},\"epsilon_per_query\":0.5,\"epsilon_total\":1,"
                    "\"max_groups_per_unit\":1}",
                    ENGINE_RULE_GRANTS_ASK, NULL, &err),
           0);
  free(err);
  /* Grouping without public keys needs a delta: refused before a charge. */
  QUERY_FAILS(ANA, "SELECT region, SUM(cost) FROM visits GROUP BY region", CDR_ERR_RULE_VIOLATION,
              "GROUP BY needs the rule's delta");
  struct engine_dp_charge ch;
  CHECK(engine_dp_take_charge(E, &ch) == 0);
  /* One row, charged 0.5 of 1; the same query again: the same answer
   * from the cache, at no charge. */
  char *first = NULL, *again = NULL, *e1 = NULL;
  CHECK_RC(q(&ANA, "SELECT SUM(cost) FROM visits", &first, &e1), 0);
  CHECK(first != NULL && strstr(first, "\"row_count\":1") != NULL);
  free(e1);
  CHECK(engine_dp_take_charge(E, &ch) == 1 && strcmp(ch.table, "visits") == 0 && ch.eps_micro == 500000 &&
        ch.eps_spent_micro == 500000 && ch.eps_total_micro == 1000000);
  CHECK_RC(q(&ANA, "select sum(cost) from visits", &again, &e1), 0);
  CHECK(first != NULL && again != NULL && strcmp(first, again) == 0);
  CHECK(engine_dp_take_charge(E, &ch) == 0);
  free(first);
  free(again);
  free(e1);
  CHECK_RC(q(&ANA, "SELECT COUNT(*) AS n FROM visits", &first, &e1), 0);
  CHECK(first != NULL && strstr(first, "\"columns\":[\"n\"]") != NULL);
  free(first);
  free(e1);
  CHECK(engine_dp_take_charge(E, &ch) == 1 && ch.eps_spent_micro == 1000000);
  QUERY_FAILS(ANA, "SELECT COUNT(DISTINCT pid) FROM visits", CDR_ERR_BUDGET_EXHAUSTED, "0 of 1 is left");
  CHECK(engine_dp_take_charge(E, &ch) == 0);
  cdr_buf_init(&b, 1u << 20, 0);
  CHECK_RC(engine_rule_render(E, &ANA, "visits", &b, &err), 0);
  /* A charge stands once the statement ran, even if the answer then
   * fails (here: past the result size): the caller must seal it. */
  load(&INS, "visits2", "pid,region,cost\n1,a,3\n2,b,4\n", 0);
  CHECK_RC(set_rule(&INS, "visits2",
                    "{\"mode\":\"dp\",\"columns\":{\"pid\":\"privacy_unit\",\"region\":\"dimension\"},"
                    "\"epsilon_per_query\":0.25,\"epsilon_total\":1,\"max_groups_per_unit\":1}",
                    ENGINE_RULE_GRANTS_ASK, NULL, &err),
           0);
  free(err);
  err = NULL;
  engine_set_result_limits(E, 8, 0);
  QUERY_FAILS(ANA, "SELECT COUNT(*) FROM visits2", CDR_ERR_RESULT_TOO_LARGE, "larger than 8 bytes");
  engine_set_result_limits(E, 0, 0);
  CHECK(engine_dp_take_charge(E, &ch) == 1 && strcmp(ch.table, "visits2") == 0 && ch.eps_micro == 250000 &&
        ch.eps_spent_micro == 250000);
  static const char spent[] = "\"budget\":{\"epsilon_spent\":\"1\",\"epsilon_left\":\"0\",\"epsilon_total\":\"1\"";
  CHECK(memmem(b.d, b.len, spent, sizeof(spent) - 1) != NULL);
  cdr_buf_free(&b);
  /* What an analyst sees: the ruled tables, no hidden column, no rows. */
  CHECK_RC(engine_tables_json(E, &ANA, &json, &len, &err), 0);
  CHECK(json != NULL && strstr(json, "\"access\":\"rule\"") != NULL && strstr(json, "\"name\":\"patients\"") != NULL);
  CHECK(json != NULL && strstr(json, "note") == NULL && strstr(json, "secret") == NULL && strstr(json, "\"rows\"") == NULL);
  free(json);
  free(err);
  err = NULL;
  cdr_buf_init(&b, 1u << 20, 0);
  CHECK_RC(engine_rule_render(E, &ANA, "patients", &b, &err), 0);
  CHECK(b.len > 0 && memmem(b.d, b.len, "note", 4) == NULL && memmem(b.d, b.len, "min_units", 9) != NULL);
  b.len = 0;
  CHECK_RC(engine_rule_render(E, &HOSP, "patients", &b, &err), 0);
  CHECK(memmem(b.d, b.len, "\"note\":\"hidden\"", 15) != NULL && memmem(b.d, b.len, "\"grants\":1", 10) != NULL);
  b.len = 0;
  CHECK_RC(engine_rule_render(E, &ANA, "secret", &b, &err), CDR_ERR_ACCESS_DENIED);
  CHECK_CONTAINS(err, "no such table: secret");
  free(err);
  cdr_buf_free(&b);
}

static void test_uniform(void) {
  static const char *const texts[] = {"SELECT payload FROM secret", "SELECT nosuch FROM secret",
                                      "SELECT count(*) FROM secret", "SELECT rowid FROM secret",
                                      "SELECT payload FROM nothere", "SELECT * FROM secret JOIN nothere USING (id)"};
  char *first = NULL;
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    char *j, *e;
    CHECK_RC(q(&ANA, texts[i], &j, &e), CDR_ERR_ACCESS_DENIED);
    CHECK(j == NULL && e != NULL);
    if (e != NULL) {
      /* The same words, the name aside. */
      char *s;
      while ((s = strstr(e, "nothere")) != NULL)
        memcpy(s, "secret\x01", 7);
      for (char *d = e, *o = e;; o++)
        if (*o != '\x01' && (*d++ = *o) == '\0')
          break;
      if (first == NULL)
        first = strdup(e);
      else
        CHECK_STR(e, first);
    }
    free(j);
    free(e);
  }
  CHECK(first != NULL && strstr(first, "data@hospital") == NULL);
  free(first);
}

static void test_replace_and_remove(void) {
  char *err = NULL;
  size_t revoked = 0;
  /* Without the unit column the rule no longer fits: stale, owner only. */
  load(&HOSP, "patients", "region,cost,note\nnorth,1,x\n", 1);
  const struct catalog_table *t = catalog_find(engine_catalog(E), "patients");
  CHECK(t != NULL && t->rule != NULL && t->rule_doc == NULL);
  QUERY_FAILS(ANA, "SELECT region, COUNT(*) FROM patients GROUP BY region", CDR_ERR_ACCESS_DENIED,
              "no such table: patients");
  QUERY_IS(BOB, "SELECT note FROM patients", "{\"columns\":[\"note\"],\"rows\":[[\"x\"]],\"row_count\":1}");
  /* Revoking grants with a new rule, then removing it. */
  CHECK_RC(set_rule(&HOSP, "patients",
                    "{\"mode\":\"list\",\"columns\":{\"region\":\"join\",\"note\":\"list\"}}", ENGINE_RULE_GRANTS_REVOKE,
                    &revoked, &err),
           0);
  free(err);
  CHECK(revoked == 1 && t->ngrants == 0 && t->rule_doc != NULL);
  QUERY_FAILS(BOB, "SELECT note FROM patients", CDR_ERR_RULE_VIOLATION, "list rule of patients");
  CHECK_RC(set_rule(&HOSP, "patients", NULL, ENGINE_RULE_GRANTS_ASK, &revoked, &err), 0);
  free(err);
  CHECK(t->rule == NULL && t->rule_doc == NULL);
  QUERY_FAILS(BOB, "SELECT note FROM patients", CDR_ERR_ACCESS_DENIED, "no such table: patients");
}

int main(void) {
  CHECK_RC(engine_open(&E), 0);
  if (E == NULL)
    return test_summary("test_engine_rules");
  setup();
  test_set();
  test_queries();
  test_second_line();
  test_dp_and_views();
  test_uniform();
  test_replace_and_remove();
  engine_close(E);
  return test_summary("test_engine_rules");
}
