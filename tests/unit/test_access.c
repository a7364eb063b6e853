/*
 * test_access.c - who may read what (engine + policy + catalog): tables
 * belong to their uploaders; grants by name and by role, whole-table or
 * per column; hidden columns; and every way we know to reach a column in
 * SQL (SELECT *, joins, USING and NATURAL joins, subqueries, CTEs,
 * recursive CTEs, window functions, WHERE, ORDER BY, GROUP BY, function
 * arguments, json_each, compound SELECTs, pragma_table_info), each tried
 * as the owner, a user with a column grant, a user with a whole-table
 * grant and a user with none.  Then the owner operations (grant, revoke,
 * hide, replace, drop) and who may run them, and the table list; and a
 * table whose sealed file did not load, whose name stays its owner's.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "enclave/catalog.h"
#include "enclave/engine.h"
#include "testlib.h"

static struct cdr_engine *E;

static const struct engine_principal HOSP = {"data@hospital", CDR_ROLE_PROVIDER, {1}, 0};
static const struct engine_principal CLINIC = {"data@clinic", CDR_ROLE_PROVIDER, {2}, 0};
static const struct engine_principal ANA = {"ana@institute", CDR_ROLE_ANALYST, {3}, 0};  /* column grant */
static const struct engine_principal BOB = {"bob@institute", CDR_ROLE_ANALYST, {4}, 0};  /* whole-table grant */
static const struct engine_principal CAROL = {"carol@institute", CDR_ROLE_ANALYST, {5}, 0}; /* role grants only */

static const char patients_csv[] = "id,name,ssn,diagnosis,age\n"
                                   "1,Alice,111-11-1111,flu,34\n"
                                   "2,Bob,222-22-2222,asthma,51\n"
                                   "3,Carol,333-33-3333,flu,27\n";
static const char visits_csv[] = "id,patient_id,cost\n10,1,100.5\n11,1,20\n12,3,7.25\n";
static const char clinic_csv[] = "id,note,ssn\n1,seen,111-11-1111\n9,other,999-99-9999\n";

static int run(const struct engine_principal *who, const char *sql, char **json, char **err) {
  size_t len = 0;
  uint64_t rows = 0;
  *json = NULL;
  *err = NULL;
  return engine_query_json(E, who, sql, strlen(sql), json, &len, &rows, err);
}

/* The query succeeds (and, if expect is not NULL, gives exactly it). */
#define ALLOWED(who, sql, expect)                                               \
  do {                                                                          \
    char *j_, *e_;                                                              \
    int r_ = run(&(who), sql, &j_, &e_);                                        \
    CHECK_RC(r_, 0);                                                            \
    if (r_ != 0)                                                                \
      fprintf(stderr, "  %s as %s: %s\n", sql, (who).name, e_ ? e_ : "");      \
    if ((expect) != NULL)                                                       \
      CHECK_STR(j_, (const char *)(expect));                                    \
    free(j_);                                                                   \
    free(e_);                                                                   \
  } while (0)

/* The query fails with code and a message containing needle, and
 * returns no result. */
#define DENIED(who, sql, code, needle)                                          \
  do {                                                                          \
    char *j_, *e_;                                                              \
    int r_ = run(&(who), sql, &j_, &e_);                                        \
    CHECK_RC(r_, code);                                                         \
    CHECK_CONTAINS(e_, needle);                                                 \
    if (r_ != (code) || e_ == NULL || strstr(e_, needle) == NULL)               \
      fprintf(stderr, "  %s as %s: %s\n", sql, (who).name, e_ ? e_ : "(no message)"); \
    CHECK(j_ == NULL);                                                          \
    free(j_);                                                                   \
    free(e_);                                                                   \
  } while (0)

static int load(const struct engine_principal *who, const char *name, const char *csv, int replace) {
  uint64_t rows = 0;
  char *err = NULL;
  int r = engine_load_csv(E, who, name, (const uint8_t *)csv, strlen(csv), replace, &rows, &err);
  if (r != 0)
    fprintf(stderr, "  load %s: %s\n", name, err ? err : "");
  free(err);
  return r;
}

/* Run an owner operation; CHECK its code and that the message has needle. */
#define OWNER_OP(expr, code, needle)                                            \
  do {                                                                          \
    char *err = NULL;                                                           \
    CHECK_RC(expr, code);                                                       \
    if ((needle) != NULL)                                                       \
      CHECK_CONTAINS(err, (const char *)(needle));                              \
    free(err);                                                                  \
  } while (0)

/* Every query here reads patients.ssn somewhere. */
static const char *const ssn_queries[] = {
    "SELECT * FROM patients",
    "SELECT * FROM patients AS p",
    "SELECT p.* FROM patients p",
    "SELECT ssn FROM patients",
    "SELECT count(*) FROM patients WHERE ssn = 'x'",
    "SELECT name FROM patients WHERE ssn IS NOT NULL",
    "SELECT name FROM patients ORDER BY ssn",
    "SELECT count(*) FROM patients GROUP BY ssn",
    "SELECT typeof(ssn) FROM patients",
    "SELECT length(ssn) FROM patients",
    "SELECT sum(instr(ssn, '1')) FROM patients",
    "SELECT CASE WHEN ssn LIKE '1%' THEN 1 END FROM patients",
    "SELECT group_concat(ssn) FROM patients",
    "SELECT max(ssn) FILTER (WHERE 1) FROM patients",
    "SELECT json_object('s', ssn) FROM patients",
    "SELECT value FROM patients, json_each(json_array(patients.ssn))",
    /* joins */
    "SELECT p.name, v.cost FROM patients p JOIN visits v ON v.patient_id = p.id AND p.ssn <> ''",
    "SELECT v.cost FROM visits v JOIN patients p ON p.ssn = 'x'",
    "SELECT name FROM patients JOIN (SELECT '111-11-1111' AS ssn) USING (ssn)",
    "SELECT name FROM patients NATURAL JOIN (SELECT '111-11-1111' AS ssn)",
    "SELECT x.k FROM (SELECT '111-11-1111' AS ssn, 1 AS k) x LEFT JOIN patients USING (ssn)",
    "SELECT count(*) FROM (SELECT '111-11-1111' AS ssn) NATURAL JOIN patients",
    /* subqueries */
    "SELECT name FROM patients WHERE id IN (SELECT id FROM patients WHERE ssn LIKE '1%')",
    "SELECT (SELECT max(ssn) FROM patients)",
    "SELECT * FROM (SELECT * FROM patients)",
    "SELECT name FROM patients p WHERE EXISTS (SELECT 1 FROM patients q WHERE q.ssn = p.name)",
    "SELECT name FROM patients WHERE rowid IN (SELECT rowid FROM patients WHERE ssn > '2')",
    "VALUES ((SELECT ssn FROM patients LIMIT 1))",
    "SELECT id FROM patients UNION SELECT ssn FROM patients",
    /* CTEs */
    "WITH s AS (SELECT ssn FROM patients) SELECT count(*) FROM s",
    "WITH s AS (SELECT * FROM patients) SELECT name FROM s",
    "WITH s AS MATERIALIZED (SELECT ssn AS x FROM patients) SELECT count(*) FROM s WHERE x > '2'",
    "WITH RECURSIVE r(x) AS (SELECT ssn FROM patients UNION SELECT x FROM r) SELECT count(*) FROM r",
    /* window functions */
    "SELECT avg(length(ssn)) OVER () FROM patients",
    "SELECT name, rank() OVER (ORDER BY ssn) FROM patients",
    "SELECT name, count(*) OVER (PARTITION BY ssn) FROM patients",
};

static void check_ssn_queries(const struct engine_principal *who, int code, const char *needle) {
  for (size_t i = 0; i < sizeof(ssn_queries) / sizeof(ssn_queries[0]); i++) {
    if (code == 0)
      ALLOWED(*who, ssn_queries[i], NULL);
    else
      DENIED(*who, ssn_queries[i], code, needle);
  }
}

static void test_no_grants(void) {
  /* The owner reads everything. */
  ALLOWED(HOSP, "SELECT name, ssn FROM patients WHERE id = 1",
          "{\"columns\":[\"name\",\"ssn\"],\"rows\":[[\"Alice\",\"111-11-1111\"]],\"row_count\":1}");
  check_ssn_queries(&HOSP, 0, NULL);
  /* Nobody else reads anything, not even the row count or the rowids. */
  DENIED(ANA, "SELECT * FROM patients", CDR_ERR_ACCESS_DENIED,
         "no access to table patients (no such table: patients, or one you may not read");
  DENIED(ANA, "SELECT count(*) FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(ANA, "SELECT 1 FROM patients LIMIT 1", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(ANA, "SELECT rowid FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(ANA, "SELECT count(*) FROM patients AS p", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(CLINIC, "SELECT id FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  check_ssn_queries(&ANA, CDR_ERR_ACCESS_DENIED, "no access to table");
  /* SQLite never shows the authorizer a table that is reached only
   * through the columns of a USING or NATURAL join; the program check
   * catches it. */
  ALLOWED(CLINIC, "SELECT note FROM clinic ORDER BY id", NULL);
  DENIED(CLINIC, "SELECT note FROM clinic JOIN patients USING (id)", CDR_ERR_ACCESS_DENIED,
         "no access to table patients");
  DENIED(CLINIC, "SELECT count(*) FROM clinic NATURAL JOIN patients", CDR_ERR_ACCESS_DENIED,
         "no access to table patients");
  DENIED(CLINIC, "SELECT note FROM clinic JOIN patients USING (ssn)", CDR_ERR_ACCESS_DENIED,
         "no access to table patients");
  DENIED(HOSP, "SELECT name FROM patients JOIN clinic USING (ssn)", CDR_ERR_ACCESS_DENIED,
         "no access to table clinic (no such table: clinic, or one you may not read");
  /* The rest of the policy is unchanged: */
  DENIED(HOSP, "SELECT * FROM pragma_table_info('patients')", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed");
  /* A failing text that names a table the caller cannot read gets the
   * uniform refusal, whatever else failed (engine_uniform_refusal). */
  DENIED(ANA, "SELECT * FROM pragma_table_info('patients')", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(ANA, "SELECT * FROM sqlite_master", CDR_ERR_SQL_DENIED, "reading internal table sqlite_master");
  ALLOWED(ANA, "SELECT 1 AS one", "{\"columns\":[\"one\"],\"rows\":[[1]],\"row_count\":1}");
  ALLOWED(ANA, "WITH c AS (SELECT 2 AS x) SELECT count(*) AS n FROM c",
          "{\"columns\":[\"n\"],\"rows\":[[1]],\"row_count\":1}");
}

static void test_grants(void) {
  static const char *const ana_cols[] = {"id", "diagnosis", "AGE"};
  static const char *const role_cols[] = {"diagnosis", "age"};

  /* A column grant by name. */
  OWNER_OP(engine_grant(E, &HOSP, "patients", ANA.name, ana_cols, 3, &err), 0, NULL);
  ALLOWED(ANA, "SELECT id, diagnosis, age FROM patients WHERE id = 2",
          "{\"columns\":[\"id\",\"diagnosis\",\"age\"],\"rows\":[[2,\"asthma\",51]],\"row_count\":1}");
  ALLOWED(ANA, "SELECT count(*) AS n FROM patients", "{\"columns\":[\"n\"],\"rows\":[[3]],\"row_count\":1}");
  ALLOWED(ANA, "SELECT diagnosis, avg(age) OVER (PARTITION BY diagnosis) FROM patients", NULL);
  ALLOWED(ANA, "WITH s AS (SELECT diagnosis FROM patients) SELECT count(*) FROM s", NULL);
  ALLOWED(ANA, "SELECT rowid FROM patients", NULL);
  DENIED(ANA, "SELECT name FROM patients", CDR_ERR_ACCESS_DENIED,
         "no access to column patients.name: your grant on patients does not include it");
  DENIED(ANA, "SELECT * FROM patients", CDR_ERR_ACCESS_DENIED, "no access to column patients.name");
  DENIED(ANA, "SELECT id FROM patients WHERE name = 'Alice'", CDR_ERR_ACCESS_DENIED, "patients.name");
  DENIED(ANA, "SELECT id FROM patients JOIN (SELECT 'Alice' AS name) USING (name)", CDR_ERR_ACCESS_DENIED,
         "patients.name");
  check_ssn_queries(&ANA, CDR_ERR_ACCESS_DENIED, "no access to");

  /* A whole-table grant by name; then the owner hides ssn. */
  OWNER_OP(engine_grant(E, &HOSP, "patients", BOB.name, NULL, 0, &err), 0, NULL);
  OWNER_OP(engine_grant(E, &HOSP, "visits", BOB.name, NULL, 0, &err), 0, NULL);
  check_ssn_queries(&BOB, 0, NULL);
  OWNER_OP(engine_hide(E, &HOSP, "patients", "SSN", 1, &err), 0, NULL);
  check_ssn_queries(&BOB, CDR_ERR_ACCESS_DENIED, "no access to column patients.ssn: the column is hidden by its owner");
  check_ssn_queries(&HOSP, 0, NULL);
  ALLOWED(BOB, "SELECT p.name, v.cost FROM patients p JOIN visits v ON v.patient_id = p.id ORDER BY v.id",
          "{\"columns\":[\"name\",\"cost\"],\"rows\":[[\"Alice\",100.5],[\"Alice\",20.0],[\"Carol\",7.25]],"
          "\"row_count\":3}");
  ALLOWED(BOB, "SELECT count(*) FROM patients JOIN visits USING (id)", NULL);
  /* A hidden column stays hidden whatever the grant lists. */
  {
    static const char *const with_ssn[] = {"id", "ssn"};
    OWNER_OP(engine_grant(E, &HOSP, "patients", BOB.name, with_ssn, 2, &err), 0, NULL);
    DENIED(BOB, "SELECT ssn FROM patients", CDR_ERR_ACCESS_DENIED, "hidden by its owner");
    DENIED(BOB, "SELECT name FROM patients", CDR_ERR_ACCESS_DENIED, "does not include it");
    OWNER_OP(engine_grant(E, &HOSP, "patients", BOB.name, NULL, 0, &err), 0, NULL);
  }
  /* Unhiding restores what the grants say. */
  OWNER_OP(engine_hide(E, &HOSP, "patients", "ssn", 0, &err), 0, NULL);
  ALLOWED(BOB, "SELECT ssn FROM patients WHERE id = 3",
          "{\"columns\":[\"ssn\"],\"rows\":[[\"333-33-3333\"]],\"row_count\":1}");
  OWNER_OP(engine_hide(E, &HOSP, "patients", "ssn", 1, &err), 0, NULL);

  /* Role grants: every analyst, but not providers. */
  DENIED(CAROL, "SELECT diagnosis FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  OWNER_OP(engine_grant(E, &HOSP, "patients", "role:analyst", role_cols, 2, &err), 0, NULL);
  ALLOWED(CAROL, "SELECT diagnosis, count(*) AS n, avg(age) AS a FROM patients GROUP BY diagnosis ORDER BY diagnosis",
          "{\"columns\":[\"diagnosis\",\"n\",\"a\"],\"rows\":[[\"asthma\",1,51.0],[\"flu\",2,30.5]],\"row_count\":2}");
  DENIED(CAROL, "SELECT id, diagnosis FROM patients", CDR_ERR_ACCESS_DENIED,
         "no access to column patients.id: your grant on patients does not include it");
  check_ssn_queries(&CAROL, CDR_ERR_ACCESS_DENIED, "no access to");
  DENIED(CLINIC, "SELECT diagnosis FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  {
    /* A role grant goes by the certificate's role, never by a name that
     * looks like one. */
    static const struct engine_principal named_like_role = {"role:analyst", CDR_ROLE_PROVIDER, {6}, 0};
    DENIED(named_like_role, "SELECT diagnosis FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  }
  /* Grants add up: ANA has id by name and age by both. */
  ALLOWED(ANA, "SELECT id, age FROM patients WHERE id = 1",
          "{\"columns\":[\"id\",\"age\"],\"rows\":[[1,34]],\"row_count\":1}");

  /* Revoking. */
  OWNER_OP(engine_revoke_grant(E, &HOSP, "patients", BOB.name, &err), 0, NULL);
  DENIED(BOB, "SELECT name FROM patients", CDR_ERR_ACCESS_DENIED,
         "no access to column patients.name: your grant on patients does not include it");
  ALLOWED(BOB, "SELECT diagnosis FROM patients", NULL); /* still an analyst */
  ALLOWED(BOB, "SELECT count(*) FROM visits", NULL);
  OWNER_OP(engine_revoke_grant(E, &HOSP, "patients", "role:analyst", &err), 0, NULL);
  DENIED(BOB, "SELECT diagnosis FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(BOB, "SELECT count(*) FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  DENIED(CAROL, "SELECT diagnosis FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
  OWNER_OP(engine_grant(E, &HOSP, "patients", "role:analyst", role_cols, 2, &err), 0, NULL);
  OWNER_OP(engine_revoke_grant(E, &HOSP, "patients", BOB.name, &err), CDR_ERR_NOT_FOUND,
           "bob@institute holds no grant on table patients");
}

static void test_owner_ops(void) {
  static const char *const unknown[] = {"id", "nope"}, *const dup[] = {"id", "Id"};

  /* Only the owner. */
  OWNER_OP(engine_grant(E, &CLINIC, "patients", CLINIC.name, NULL, 0, &err), CDR_ERR_ACCESS_DENIED,
           "table patients belongs to data@hospital: only its owner can grant access to it");
  OWNER_OP(engine_revoke_grant(E, &ANA, "patients", ANA.name, &err), CDR_ERR_ACCESS_DENIED, "belongs to data@hospital");
  OWNER_OP(engine_hide(E, &CLINIC, "patients", "name", 1, &err), CDR_ERR_ACCESS_DENIED, "belongs to data@hospital");
  OWNER_OP(engine_drop(E, &CLINIC, "patients", &err), CDR_ERR_ACCESS_DENIED,
           "table patients belongs to data@hospital: only its owner can drop it");
  {
    uint64_t rows = 0;
    char *err = NULL;
    CHECK_RC(engine_load_csv(E, &CLINIC, "patients", (const uint8_t *)"a\n1\n", 4, 1, &rows, &err),
             CDR_ERR_ACCESS_DENIED);
    CHECK_CONTAINS(err, "only its owner can replace it");
    free(err);
    err = NULL;
    CHECK_RC(engine_load_csv(E, &CLINIC, "PATIENTS", (const uint8_t *)"a\n1\n", 4, 0, &rows, &err),
             CDR_ERR_TABLE_EXISTS);
    free(err);
  }
  ALLOWED(HOSP, "SELECT count(*) AS n FROM patients", "{\"columns\":[\"n\"],\"rows\":[[3]],\"row_count\":1}");
  {
    static const struct engine_principal odd = {"bad\x1b[2Jname", CDR_ROLE_PROVIDER, {7}, 0};
    uint64_t rows = 0;
    char *err = NULL;
    CHECK_RC(engine_load_csv(E, &odd, "odd", (const uint8_t *)"a\n1\n", 4, 0, &rows, &err), CDR_ERR_ARG);
    CHECK_CONTAINS(err, "cannot own a table");
    free(err);
  }

  /* Mistakes. */
  OWNER_OP(engine_grant(E, &HOSP, "nope", ANA.name, NULL, 0, &err), CDR_ERR_NOT_FOUND, "there is no table nope");
  OWNER_OP(engine_grant(E, &HOSP, "patients", ANA.name, unknown, 2, &err), CDR_ERR_NOT_FOUND,
           "table patients has no column nope");
  OWNER_OP(engine_grant(E, &HOSP, "patients", ANA.name, dup, 2, &err), CDR_ERR_ARG, "column Id is listed twice");
  OWNER_OP(engine_grant(E, &HOSP, "patients", ANA.name, dup, 0, &err), CDR_ERR_ARG, "column list");
  OWNER_OP(engine_grant(E, &HOSP, "patients", "role:admin", NULL, 0, &err), CDR_ERR_ARG, "role:analyst");
  OWNER_OP(engine_grant(E, &HOSP, "patients", "", NULL, 0, &err), CDR_ERR_ARG, "user name");
  OWNER_OP(engine_grant(E, &HOSP, "patients", HOSP.name, NULL, 0, &err), CDR_ERR_ARG, "owns table patients already");
  OWNER_OP(engine_hide(E, &HOSP, "patients", "nope", 1, &err), CDR_ERR_NOT_FOUND, "table patients has no column nope");
  OWNER_OP(engine_drop(E, &HOSP, "nope", &err), CDR_ERR_NOT_FOUND, "there is no table nope");
  OWNER_OP(engine_revoke_grant(E, &HOSP, "patients", "nobody", &err), CDR_ERR_NOT_FOUND, "holds no grant");
  /* ANA's earlier grant survived the failed attempts. */
  ALLOWED(ANA, "SELECT id FROM patients WHERE id = 1", NULL);
}

/* The JSON table list for who, parsed. */
static json_t *tables_of(const struct engine_principal *who) {
  char *json = NULL, *err = NULL;
  size_t len = 0;
  json_t *doc = NULL;
  json_error_t je;
  CHECK_RC(engine_tables_json(E, who, &json, &len, &err), 0);
  if (json != NULL) {
    CHECK(len == strlen(json));
    doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  }
  CHECK(json_is_array(doc));
  free(json);
  free(err);
  return doc;
}

static json_t *find_table(json_t *list, const char *name) {
  size_t i;
  json_t *t;
  json_array_foreach(list, i, t) {
    if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
      return t;
  }
  return NULL;
}

static json_t *find_column(json_t *t, const char *name) {
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(t, "columns"), i, c) {
    if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
      return c;
  }
  return NULL;
}

static void test_tables(void) {
  json_t *l, *t, *c;

  l = tables_of(&HOSP);
  CHECK(json_array_size(l) == 2);
  t = find_table(l, "patients");
  CHECK(t != NULL && find_table(l, "clinic") == NULL);
  if (t != NULL) {
    CHECK_STR(json_string_value(json_object_get(t, "owner")), "data@hospital");
    CHECK_STR(json_string_value(json_object_get(t, "access")), "owner");
    CHECK_STR(json_string_value(json_object_get(t, "owner_key_sha256")),
              "0100000000000000000000000000000000000000000000000000000000000000");
    CHECK(json_integer_value(json_object_get(t, "rows")) == 3);
    CHECK(json_array_size(json_object_get(t, "columns")) == 5);
    c = find_column(t, "ssn");
    CHECK(c != NULL && json_is_true(json_object_get(c, "hidden")) && json_is_true(json_object_get(c, "readable")));
    c = find_column(t, "age");
    CHECK(c != NULL && strcmp(json_string_value(json_object_get(c, "type")), "INTEGER") == 0);
    /* Grants: ANA (id, diagnosis, age), role:analyst (diagnosis, age). */
    CHECK(json_array_size(json_object_get(t, "grants")) == 2);
    c = json_array_get(json_object_get(t, "grants"), 0);
    CHECK_STR(json_string_value(json_object_get(c, "to")), ANA.name);
    CHECK(json_array_size(json_object_get(c, "columns")) == 3);
    CHECK_STR(json_string_value(json_array_get(json_object_get(c, "columns"), 2)), "age");
  }
  json_decref(l);

  l = tables_of(&ANA);
  CHECK(json_array_size(l) == 1);
  t = find_table(l, "patients");
  if (t != NULL) {
    CHECK_STR(json_string_value(json_object_get(t, "access")), "columns");
    CHECK(json_object_get(t, "grants") == NULL); /* only the owner sees them */
    c = find_column(t, "name");
    CHECK(c != NULL && json_is_false(json_object_get(c, "readable")) && json_is_false(json_object_get(c, "hidden")));
    c = find_column(t, "ssn");
    CHECK(c != NULL && json_is_false(json_object_get(c, "readable")) && json_is_true(json_object_get(c, "hidden")));
    c = find_column(t, "age");
    CHECK(c != NULL && json_is_true(json_object_get(c, "readable")));
  }
  json_decref(l);

  l = tables_of(&BOB); /* visits, whole table; patients through role:analyst */
  CHECK(json_array_size(l) == 2);
  t = find_table(l, "visits");
  CHECK(t != NULL && strcmp(json_string_value(json_object_get(t, "access")), "all") == 0);
  t = find_table(l, "patients");
  CHECK(t != NULL && strcmp(json_string_value(json_object_get(t, "access")), "columns") == 0);
  json_decref(l);

  l = tables_of(&CLINIC);
  CHECK(json_array_size(l) == 1 && find_table(l, "clinic") != NULL);
  json_decref(l);
}

static void test_replace_and_drop(void) {
  static const char *const eve_cols[] = {"age"};
  static const char new_csv[] = "id,name,ssn,diagnosis,city\n7,Gina,777-77-7777,flu,Oslo\n8,Hal,888-88-8888,gout,Bergen\n";
  uint64_t rows = 0;
  char *msg = NULL;
  json_t *l, *t;

  OWNER_OP(engine_grant(E, &HOSP, "patients", "eve@institute", eve_cols, 1, &err), 0, NULL);
  CHECK_RC(engine_load_csv(E, &HOSP, "nothere", (const uint8_t *)"a\n1\n", 4, 1, &rows, &msg), CDR_ERR_NOT_FOUND);
  CHECK_CONTAINS(msg, "there is no table nothere to replace");
  free(msg);
  msg = NULL;

  /* A failed replacement keeps the old table, rows and grants. */
  CHECK_RC(engine_load_csv(E, &HOSP, "patients", (const uint8_t *)"a,b\n1,2,3\n", 10, 1, &rows, &msg), CDR_ERR_CSV);
  free(msg);
  msg = NULL;
  ALLOWED(ANA, "SELECT id, age FROM patients ORDER BY id LIMIT 1",
          "{\"columns\":[\"id\",\"age\"],\"rows\":[[1,34]],\"row_count\":1}");

  /* The owner replaces (other case in the name): new rows and columns;
   * grants and hidden flags carry over to the columns that remain. */
  CHECK_RC(load(&HOSP, "PATIENTS", new_csv, 1), 0);
  ALLOWED(ANA, "SELECT id, diagnosis FROM patients ORDER BY id",
          "{\"columns\":[\"id\",\"diagnosis\"],\"rows\":[[7,\"flu\"],[8,\"gout\"]],\"row_count\":2}");
  DENIED(ANA, "SELECT city FROM patients", CDR_ERR_ACCESS_DENIED, "no access to column patients.city");
  DENIED(ANA, "SELECT age FROM patients", CDR_ERR_SQL_ERROR, "no such column: age");
  ALLOWED(CAROL, "SELECT diagnosis FROM patients ORDER BY diagnosis", NULL);
  DENIED(CAROL, "SELECT id FROM patients", CDR_ERR_ACCESS_DENIED, "patients.id");
  ALLOWED(HOSP, "SELECT ssn FROM patients WHERE id = 8",
          "{\"columns\":[\"ssn\"],\"rows\":[[\"888-88-8888\"]],\"row_count\":1}");
  l = tables_of(&HOSP);
  t = find_table(l, "patients");
  CHECK(t != NULL);
  if (t != NULL) {
    json_t *c = find_column(t, "ssn");
    CHECK(json_integer_value(json_object_get(t, "rows")) == 2);
    CHECK(c != NULL && json_is_true(json_object_get(c, "hidden")));
    /* eve's grant covered only age, which is gone: so is the grant. */
    CHECK(json_array_size(json_object_get(t, "grants")) == 2);
    c = json_array_get(json_object_get(t, "grants"), 0);
    CHECK(json_array_size(json_object_get(c, "columns")) == 2); /* ANA: id, diagnosis */
  }
  json_decref(l);

  /* Drop: the table, its grants and its name go. */
  OWNER_OP(engine_drop(E, &HOSP, "Patients", &err), 0, NULL);
  DENIED(HOSP, "SELECT * FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients (no such table: patients");
  DENIED(ANA, "SELECT id FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients (no such table: patients");
  l = tables_of(&ANA);
  CHECK(json_array_size(l) == 0);
  json_decref(l);
  /* The name is free again, for anyone; the new owner starts without grants. */
  CHECK_RC(load(&CLINIC, "patients", "id\n1\n", 0), 0);
  DENIED(ANA, "SELECT id FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients (no such table: patients");
  DENIED(HOSP, "SELECT id FROM patients", CDR_ERR_ACCESS_DENIED, "no access to table patients");
}

/* A catalog entry as the manifest would hold it for a table whose sealed
 * file did not load: owner HOSP, columns id and v, read by analysts. */
static struct catalog_table *held_entry(const char *name) {
  struct catalog_table *t = catalog_table_new(name, HOSP.name, HOSP.key_fp, 1700000000, 3);
  CHECK(t != NULL);
  if (t == NULL)
    return NULL;
  CHECK_RC(catalog_table_add_column(t, "id", "INTEGER", 0), 0);
  CHECK_RC(catalog_table_add_column(t, "v", "TEXT", 0), 0);
  CHECK_RC(catalog_grant(t, "role:analyst", NULL, 0, NULL), 0);
  return t;
}

/* Tables keep their owner (issue 10, item 7): an unavailable table's
 * name stays its owner's; only its owner drops or replaces it. */
static void test_unavailable(void) {
  static const char why[] = "the server did not provide its sealed file";
  uint64_t rows = 0;
  char *msg = NULL;
  json_t *l, *t;

  CHECK_RC(engine_restore_unavailable(E, held_entry("held"), why), 0);
  CHECK_RC(engine_restore_unavailable(E, held_entry("gone"), why), 0);
  /* A name that is taken, by a table or by another unavailable entry. */
  CHECK_RC(engine_restore_unavailable(E, held_entry("visits"), why), CDR_ERR_INTERNAL);
  CHECK_RC(engine_restore_unavailable(E, held_entry("HELD"), why), CDR_ERR_INTERNAL);

  /* The squat: another provider cannot take the name, in any case. */
  CHECK_RC(engine_load_csv(E, &CLINIC, "held", (const uint8_t *)"a\n1\n", 4, 0, &rows, &msg), CDR_ERR_TABLE_EXISTS);
  CHECK_CONTAINS(msg, "table held already exists"); /* as for an available table: nothing of its state */
  free(msg);
  msg = NULL;
  CHECK_RC(engine_load_csv(E, &CLINIC, "HeLd", (const uint8_t *)"a\n1\n", 4, 0, &rows, &msg), CDR_ERR_TABLE_EXISTS);
  free(msg);
  msg = NULL;
  CHECK_RC(engine_load_csv(E, &CLINIC, "held", (const uint8_t *)"a\n1\n", 4, 1, &rows, &msg), CDR_ERR_ACCESS_DENIED);
  CHECK_CONTAINS(msg, "table held belongs to data@hospital: only its owner can replace it");
  free(msg);
  msg = NULL;
  OWNER_OP(engine_drop(E, &CLINIC, "held", &err), CDR_ERR_ACCESS_DENIED,
           "table held belongs to data@hospital: only its owner can drop it");
  /* Its owner: not a new upload over it, and nothing but drop or replace. */
  CHECK_RC(engine_load_csv(E, &HOSP, "held", (const uint8_t *)"a\n1\n", 4, 0, &rows, &msg), CDR_ERR_TABLE_EXISTS);
  CHECK_CONTAINS(msg, "is yours but unavailable (the server did not provide its sealed file)");
  free(msg);
  msg = NULL;
  OWNER_OP(engine_grant(E, &HOSP, "held", "ana@institute", NULL, 0, &err), CDR_ERR_TABLE_UNAVAILABLE, "unavailable");
  OWNER_OP(engine_revoke_grant(E, &HOSP, "held", "role:analyst", &err), CDR_ERR_TABLE_UNAVAILABLE, "unavailable");
  OWNER_OP(engine_hide(E, &HOSP, "held", "v", 1, &err), CDR_ERR_TABLE_UNAVAILABLE, "unavailable");
  /* Queries: those who could read it are told; to others it is unknown. */
  DENIED(CAROL, "SELECT * FROM held", CDR_ERR_TABLE_UNAVAILABLE, "table held is unavailable");
  DENIED(HOSP, "SELECT count(*) FROM main.held", CDR_ERR_TABLE_UNAVAILABLE, "table held is unavailable");
  DENIED(CLINIC, "SELECT * FROM held", CDR_ERR_ACCESS_DENIED, "no access to table held (no such table: held");
  l = tables_of(&CAROL);
  t = find_table(l, "held");
  CHECK(t != NULL && json_is_string(json_object_get(t, "unavailable")));
  if (t != NULL) {
    CHECK_STR(json_string_value(json_object_get(t, "unavailable")), why);
    CHECK(json_integer_value(json_object_get(t, "rows")) == 3);
    CHECK(json_is_false(json_object_get(find_column(t, "v"), "readable")));
  }
  json_decref(l);
  l = tables_of(&CLINIC);
  CHECK(find_table(l, "held") == NULL);
  json_decref(l);

  /* The owner replaces it: available again, with its grant. */
  CHECK_RC(load(&HOSP, "held", "id,v\n1,x\n2,y\n", 1), 0);
  ALLOWED(CAROL, "SELECT count(*) AS n FROM held", "{\"columns\":[\"n\"],\"rows\":[[2]],\"row_count\":1}");
  l = tables_of(&HOSP);
  t = find_table(l, "held");
  CHECK(t != NULL && json_object_get(t, "unavailable") == NULL);
  json_decref(l);
  /* The owner drops the other: the name is free for anyone. */
  OWNER_OP(engine_drop(E, &HOSP, "gone", &err), 0, NULL);
  CHECK_RC(load(&CLINIC, "gone", "a\n1\n", 0), 0);
  OWNER_OP(engine_drop(E, &CLINIC, "gone", &err), 0, NULL);
  OWNER_OP(engine_drop(E, &HOSP, "held", &err), 0, NULL);
}

int main(void) {
  CHECK_RC(engine_open(&E), 0);
  if (E == NULL)
    return test_summary("test_access");
  CHECK_RC(load(&HOSP, "patients", patients_csv, 0), 0);
  CHECK_RC(load(&HOSP, "visits", visits_csv, 0), 0);
  CHECK_RC(load(&CLINIC, "clinic", clinic_csv, 0), 0);
  test_no_grants();
  test_grants();
  test_owner_ops();
  test_tables();
  test_replace_and_drop();
  test_unavailable();
  engine_close(E);
  return test_summary("test_access");
}
