/*
 * test_engine.c - the SQLite engine: loading CSV (types, NULLs, names,
 * every load error and that a failed load keeps nothing), the exact JSON
 * of results (all value kinds, escaping checked again by parsing with
 * jansson), SQL errors, and the limits (statement length, time, result
 * rows and bytes), each followed by proof that the engine still works;
 * and rendering into a reply that already holds bytes (as the query and
 * tables operations do): appended exactly, or on failure the reply is
 * left as it was.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"
#include "enclave/engine.h"
#include "testlib.h"

static struct cdr_engine *E;
/* Every table here is loaded and queried by its owner; access rules are
 * tested in test_access.c. */
static const struct engine_principal OWNER = {"owner@example.org", CDR_ROLE_PROVIDER, {0}, 0};

static int run(const char *sql, char **json, size_t *len, uint64_t *rows, char **err) {
  return engine_query_json(E, &OWNER, sql, strlen(sql), json, len, rows, err);
}

#define QUERY_IS(sql, expect)                                                   \
  do {                                                                          \
    char *j_ = NULL, *e_ = NULL;                                                \
    size_t l_ = 0;                                                              \
    uint64_t r_ = 0;                                                            \
    CHECK_RC(run(sql, &j_, &l_, &r_, &e_), 0);                                  \
    CHECK_STR(j_, expect);                                                      \
    CHECK(j_ == NULL || l_ == strlen(j_));                                      \
    if (e_ != NULL)                                                             \
      fprintf(stderr, "  (error: %s)\n", e_);                                   \
    free(j_);                                                                   \
    free(e_);                                                                   \
  } while (0)

#define ALIVE() QUERY_IS("SELECT count(*) AS n FROM depts", "{\"columns\":[\"n\"],\"rows\":[[2]],\"row_count\":1}")

#define QUERY_FAILS(sql, code, msg)                                             \
  do {                                                                          \
    char *fj_ = NULL, *fe_ = NULL;                                              \
    size_t fl_ = 99;                                                            \
    uint64_t fr_ = 99;                                                          \
    CHECK_RC(run(sql, &fj_, &fl_, &fr_, &fe_), code);                           \
    CHECK_CONTAINS(fe_, msg);                                                   \
    CHECK(fj_ == NULL && fl_ == 0 && fr_ == 0);                                 \
    free(fj_);                                                                  \
    free(fe_);                                                                  \
    ALIVE();                                                                    \
  } while (0)

static int load(const char *name, const char *csv, uint64_t *rows, char **err) {
  return engine_load_csv(E, &OWNER, name, (const uint8_t *)csv, strlen(csv), 0, rows, err);
}

#define LOAD_FAILS(name, csv, code, msg)                                        \
  do {                                                                          \
    char *le_ = NULL;                                                           \
    uint64_t lr_ = 99;                                                          \
    CHECK_RC(load(name, csv, &lr_, &le_), code);                                \
    CHECK_CONTAINS(le_, msg);                                                   \
    CHECK(lr_ == 0);                                                            \
    free(le_);                                                                  \
  } while (0)

static const char people_csv[] = "id,name,dept,salary\n"
                                 "1,Alice,eng,100.5\n"
                                 "2,Bob,eng,90\n"
                                 "3,\"Carol, \"\"CJ\"\"\",ops,\n"
                                 "4,Dan,ops,70.25\n";

static void test_load(void) {
  uint64_t rows = 0;
  char *err = NULL;

  CHECK_RC(load("people", people_csv, &rows, &err), 0);
  CHECK(rows == 4);
  CHECK(err == NULL);
  CHECK_RC(load("depts", "dept,floor\r\neng,3\r\nops,1\r\n", &rows, &err), 0);
  CHECK(rows == 2);

  /* Inferred types and NULLs. */
  QUERY_IS("SELECT typeof(id), typeof(name), typeof(dept), typeof(salary) FROM people WHERE id IN (1, 3) ORDER BY id",
           "{\"columns\":[\"typeof(id)\",\"typeof(name)\",\"typeof(dept)\",\"typeof(salary)\"],"
           "\"rows\":[[\"integer\",\"text\",\"text\",\"real\"],[\"integer\",\"text\",\"text\",\"null\"]],\"row_count\":2}");
  /* 90 in a REAL column is stored as a real. */
  QUERY_IS("SELECT salary FROM people WHERE id = 2", "{\"columns\":[\"salary\"],\"rows\":[[90.0]],\"row_count\":1}");

  /* Leading zeros stay text; mixed columns are text; empty is NULL. */
  CHECK_RC(load("codes", "zip,mixed,empty\n01234,1,\n10115,x,\n", &rows, &err), 0);
  QUERY_IS("SELECT zip, typeof(zip), mixed, typeof(mixed), empty FROM codes ORDER BY zip",
           "{\"columns\":[\"zip\",\"typeof(zip)\",\"mixed\",\"typeof(mixed)\",\"empty\"],"
           "\"rows\":[[\"01234\",\"text\",\"1\",\"text\",null],[\"10115\",\"text\",\"x\",\"text\",null]],\"row_count\":2}");

  /* Odd column names are quoted, not interpreted. */
  CHECK_RC(load("odd", "\"we\"\"ird\",sp ace,\"x); DROP TABLE people; --\"\n1,2,3\n", &rows, &err), 0);
  QUERY_IS("SELECT * FROM odd",
           "{\"columns\":[\"we\\\"ird\",\"sp ace\",\"x); DROP TABLE people; --\"],\"rows\":[[1,2,3]],\"row_count\":1}");

  /* Header only: an empty table. */
  CHECK_RC(load("empty", "a,b\n", &rows, &err), 0);
  CHECK(rows == 0);
  QUERY_IS("SELECT * FROM empty", "{\"columns\":[\"a\",\"b\"],\"rows\":[],\"row_count\":0}");

  /* BOM, 64-character name, a name that only differs from a keyword. */
  CHECK_RC(load("A234567890123456789012345678901234567890123456789012345678901234", "\xEF\xBB\xBF" "v\n1\n", &rows,
                &err), 0);
  QUERY_IS("SELECT v FROM a234567890123456789012345678901234567890123456789012345678901234",
           "{\"columns\":[\"v\"],\"rows\":[[1]],\"row_count\":1}");
  CHECK_RC(load("_select", "v\n2\n", &rows, &err), 0);
  CHECK(err == NULL);

  /* Table names. */
  LOAD_FAILS("people", "a\n1\n", CDR_ERR_TABLE_EXISTS, "table people already exists");
  LOAD_FAILS("PEOPLE", "a\n1\n", CDR_ERR_TABLE_EXISTS, "table PEOPLE already exists");
  LOAD_FAILS("", "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS(NULL, "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS("1abc", "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS("a-b", "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS("a b", "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS("t\"x", "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS("caf\xC3\xA9", "a\n1\n", CDR_ERR_TABLE_NAME, "table name must match");
  LOAD_FAILS("sqlite_x", "a\n1\n", CDR_ERR_TABLE_NAME, "must not start with sqlite_");
  LOAD_FAILS("SQLite_x", "a\n1\n", CDR_ERR_TABLE_NAME, "must not start with sqlite_");
  LOAD_FAILS("B2345678901234567890123456789012345678901234567890123456789012345", "a\n1\n", CDR_ERR_TABLE_NAME,
             "table name must match");

  /* CSV errors keep nothing, so the name is still free afterwards. */
  LOAD_FAILS("bad", "a,b\n1,2\n\"3\",4,5\n", CDR_ERR_CSV, "line 3: expected 2 fields, found 3");
  LOAD_FAILS("bad", "a,b\n1,\"2\n", CDR_ERR_CSV, "line 2: field 2: unterminated quoted field");
  LOAD_FAILS("bad", "a,A\n", CDR_ERR_CSV, "line 1: columns 1 and 2 have the same name");
  LOAD_FAILS("bad", "", CDR_ERR_CSV, "line 1: no header row");
  LOAD_FAILS("bad", "a\n\xC3\x28\n", CDR_ERR_CSV, "line 2: invalid UTF-8");
  QUERY_FAILS("SELECT * FROM bad", CDR_ERR_ACCESS_DENIED, "no access to table bad (no such table: bad");
  CHECK_RC(load("bad", "a\n1\n", &rows, &err), 0);
  CHECK(rows == 1);
}

static void test_results(void) {
  QUERY_IS("SELECT id, name FROM people ORDER BY id",
           "{\"columns\":[\"id\",\"name\"],\"rows\":[[1,\"Alice\"],[2,\"Bob\"],[3,\"Carol, \\\"CJ\\\"\"],[4,\"Dan\"]],"
           "\"row_count\":4}");
  /* Aggregate. */
  QUERY_IS("SELECT dept, count(*) AS n, sum(salary) AS total FROM people GROUP BY dept ORDER BY dept",
           "{\"columns\":[\"dept\",\"n\",\"total\"],\"rows\":[[\"eng\",2,190.5],[\"ops\",2,70.25]],\"row_count\":2}");
  /* Join. */
  QUERY_IS("SELECT p.name, d.floor FROM people p JOIN depts d ON p.dept = d.dept WHERE p.id <= 2 ORDER BY p.id",
           "{\"columns\":[\"name\",\"floor\"],\"rows\":[[\"Alice\",3],[\"Bob\",3]],\"row_count\":2}");
  /* Subquery. */
  QUERY_IS("SELECT name FROM people WHERE salary > (SELECT avg(salary) FROM people) ORDER BY name",
           "{\"columns\":[\"name\"],\"rows\":[[\"Alice\"],[\"Bob\"]],\"row_count\":2}");
  /* CTE. */
  QUERY_IS("WITH s AS (SELECT dept, max(salary) AS m FROM people GROUP BY dept) SELECT dept, m FROM s ORDER BY dept",
           "{\"columns\":[\"dept\",\"m\"],\"rows\":[[\"eng\",100.5],[\"ops\",70.25]],\"row_count\":2}");
  /* Window functions. */
  QUERY_IS("SELECT id, sum(id) OVER (ORDER BY id) AS running, "
           "rank() OVER (PARTITION BY dept ORDER BY salary DESC) AS r FROM people ORDER BY id",
           "{\"columns\":[\"id\",\"running\",\"r\"],\"rows\":[[1,1,1],[2,3,2],[3,6,2],[4,10,1]],\"row_count\":4}");
  /* A bounded recursive CTE. */
  QUERY_IS("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3) SELECT x FROM c",
           "{\"columns\":[\"x\"],\"rows\":[[1],[2],[3]],\"row_count\":3}");
  /* No rows. */
  QUERY_IS("SELECT id FROM people WHERE id > 100", "{\"columns\":[\"id\"],\"rows\":[],\"row_count\":0}");
  QUERY_IS("select 1 as \"x\"\"y\"", "{\"columns\":[\"x\\\"y\"],\"rows\":[[1]],\"row_count\":1}");

  /* Every kind of value. */
  QUERY_IS("SELECT 1 AS i, -2.5 AS r, 3.0 AS w, 0.1 AS t, 1/3.0 AS third, 1e20 AS e, -0.0 AS nz, "
           "9223372036854775807 AS big, -9223372036854775808 AS small, NULL AS n, "
           "'a\"b\\c/' AS s, char(10, 9, 13, 8, 12, 1, 31, 127) AS ctl, 'é😀' AS u, "
           "x'00ff' AS b, x'' AS eb, '' AS es, CAST(x'ff' AS TEXT) AS bad, CAST(x'610062' AS TEXT) AS nul, "
           "1e999 AS pinf, -1e999 AS ninf",
           "{\"columns\":[\"i\",\"r\",\"w\",\"t\",\"third\",\"e\",\"nz\",\"big\",\"small\",\"n\",\"s\",\"ctl\",\"u\","
           "\"b\",\"eb\",\"es\",\"bad\",\"nul\",\"pinf\",\"ninf\"],"
           "\"rows\":[[1,-2.5,3.0,0.1,0.3333333333333333,1e+20,-0.0,9223372036854775807,-9223372036854775808,null,"
           "\"a\\\"b\\\\c/\",\"\\n\\t\\r\\b\\f\\u0001\\u001f\x7f\",\"é😀\","
           "{\"hex\":\"00ff\"},{\"hex\":\"\"},\"\",{\"hex\":\"ff\"},{\"hex\":\"610062\"},{\"real\":\"inf\"},{\"real\":\"-inf\"}]],\"row_count\":1}");
  QUERY_IS("SELECT key, value FROM json_each('[10,\"x\"]')",
           "{\"columns\":[\"key\",\"value\"],\"rows\":[[0,10],[1,\"x\"]],\"row_count\":2}");
}

/* The escaping again, judged by a JSON parser rather than by strings. */
static void test_json_parses(void) {
  static const char sql[] = "SELECT 'q\"b\\s' AS s, char(0, 1, 10, 31, 127) AS c, 'é😀' AS u, 2.5 AS r, "
                            "1/3.0 AS third, 123 AS i";
  char *json = NULL, *err = NULL;
  size_t len = 0;
  uint64_t rows = 0;
  json_error_t jerr;
  json_t *doc, *row;

  CHECK_RC(run(sql, &json, &len, &rows, &err), 0);
  CHECK(rows == 1);
  doc = json != NULL ? json_loadb(json, len, JSON_ALLOW_NUL, &jerr) : NULL;
  CHECK(doc != NULL);
  if (doc != NULL) {
    row = json_array_get(json_object_get(doc, "rows"), 0);
    CHECK_STR(json_string_value(json_array_get(row, 0)), "q\"b\\s");
    /* Text holding a NUL travels as hex (a strict JSON reader refuses \u0000). */
    CHECK_STR(json_string_value(json_object_get(json_array_get(row, 1), "hex")), "00010a1f7f");
    CHECK_STR(json_string_value(json_array_get(row, 2)), "é😀");
    CHECK(json_is_real(json_array_get(row, 3)) && json_real_value(json_array_get(row, 3)) == 2.5);
    CHECK(json_real_value(json_array_get(row, 4)) == 1 / 3.0);
    CHECK(json_is_integer(json_array_get(row, 5)) && json_integer_value(json_array_get(row, 5)) == 123);
    CHECK(json_integer_value(json_object_get(doc, "row_count")) == 1);
    CHECK_STR(json_string_value(json_array_get(json_object_get(doc, "columns"), 0)), "s");
    json_decref(doc);
  }
  free(json);
  free(err);
}

static void test_sql_errors(void) {
  char *sql;
  size_t n = CDR_MAX_SQL_LEN;

  QUERY_FAILS("SELEC 1", CDR_ERR_SQL_ERROR, "syntax error");
  QUERY_FAILS("SELECT nope FROM people", CDR_ERR_SQL_ERROR, "no such column: nope");
  QUERY_FAILS("SELECT * FROM nope", CDR_ERR_ACCESS_DENIED, "no access to table nope (no such table: nope");
  /* Double-quoted strings are identifiers only. */
  QUERY_FAILS("SELECT \"nope\" FROM people", CDR_ERR_SQL_ERROR, "no such column: nope");
  QUERY_FAILS("", CDR_ERR_SQL_ERROR, "empty SQL");
  QUERY_FAILS("  ;; -- nothing\n /* here */", CDR_ERR_SQL_ERROR, "empty SQL");
  QUERY_FAILS("SELECT '\xC3('", CDR_ERR_SQL_ERROR, "not valid UTF-8");
  {
    char *j = NULL, *e = NULL;
    CHECK_RC(engine_query_json(E, &OWNER, "SELECT 1\0; DROP TABLE people", 28, &j, NULL, NULL, &e), CDR_ERR_SQL_ERROR);
    CHECK_CONTAINS(e, "NUL byte");
    CHECK(j == NULL);
    free(e);
  }
  /* A run-time error must not quote a value (json_extract quotes its
   * path argument, here a secret from the table). */
  {
    uint64_t rows = 0;
    char *e = NULL;
    CHECK_RC(load("secrets", "v\ntopsecret\n", &rows, &e), 0);
    QUERY_FAILS("SELECT json_extract('{}', v) FROM secrets", CDR_ERR_SQL_ERROR, "JSON path error near '...'");
    char *j = NULL;
    CHECK_RC(run("SELECT json_extract('{}', v) FROM secrets", &j, NULL, NULL, &e), CDR_ERR_SQL_ERROR);
    CHECK(e != NULL && strstr(e, "topsecret") == NULL);
    free(e);
  }

  /* Statement length: CDR_MAX_SQL_LEN bytes are fine, one more is not. */
  sql = malloc(n + 2);
  CHECK(sql != NULL);
  if (sql == NULL)
    return;
  memset(sql, ' ', n + 1);
  memcpy(sql, "SELECT 1 AS one", 15);
  sql[n] = '\0';
  QUERY_IS(sql, "{\"columns\":[\"one\"],\"rows\":[[1]],\"row_count\":1}");
  sql[n] = ' ';
  sql[n + 1] = '\0';
  QUERY_FAILS(sql, CDR_ERR_TOO_LARGE, "the SQL statement is 65537 bytes; the limit is 65536 bytes");
  free(sql);
}

static void test_limits(void) {
  static const char forever[] = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  static const char people[] = "SELECT id, name FROM people ORDER BY id";
  struct timespec t0, t1;
  char *json = NULL, *err = NULL;
  size_t len = 0, full;
  uint64_t rows = 0;
  double secs;

  /* Time. */
  engine_set_time_limit_ms(E, 200);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  QUERY_FAILS(forever, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of 200 ms");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(secs >= 0.2 && secs < 5.0);
  /* Inside one function call too: instr, replace, trim, LIKE and GLOB
   * of long values would otherwise run for minutes in one instruction. */
  QUERY_FAILS("SELECT instr(printf('%.*c',2200000,'a'), printf('%.*c',1100000,'a')||'b')", CDR_ERR_SQL_TIMEOUT,
              "query exceeded its time limit of 200 ms");
  QUERY_FAILS("SELECT printf('%.*c',3000000,'a') LIKE '%'||printf('%.*c',4000,'a')||'b'", CDR_ERR_SQL_TIMEOUT,
              "query exceeded its time limit of 200 ms");
  /* The deadline is per query: a quick one after a slow one is fine. */
  QUERY_IS("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000) SELECT count(*) AS n FROM c",
           "{\"columns\":[\"n\"],\"rows\":[[1000]],\"row_count\":1}");
  engine_set_time_limit_ms(E, 0);

  /* Rows: exactly the limit is fine, one more is not. */
  engine_set_result_limits(E, 0, 4);
  CHECK_RC(run(people, &json, &len, &rows, &err), 0);
  CHECK(rows == 4);
  free(json);
  json = NULL;
  engine_set_result_limits(E, 0, 3);
  QUERY_FAILS(people, CDR_ERR_RESULT_TOO_LARGE, "the result has more than 3 rows");

  /* Bytes: exactly the document's length is fine, one byte less is not. */
  engine_set_result_limits(E, 0, 0);
  CHECK_RC(run(people, &json, &len, &rows, &err), 0);
  full = len;
  CHECK(full > 50);
  free(json);
  json = NULL;
  engine_set_result_limits(E, full, 0);
  CHECK_RC(run(people, &json, &len, &rows, &err), 0);
  CHECK(len == full);
  free(json);
  json = NULL;
  engine_set_result_limits(E, full - 1, 0);
  QUERY_FAILS(people, CDR_ERR_RESULT_TOO_LARGE, "the result is larger than");

  /* A big result stops at the cap instead of being built whole. */
  engine_set_result_limits(E, 64 * 1024, 0);
  QUERY_FAILS("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
              "SELECT x, hex(randomblob(32)) FROM c",
              CDR_ERR_RESULT_TOO_LARGE, "the result is larger than 65536 bytes");
  QUERY_FAILS("SELECT zeroblob(100000)", CDR_ERR_RESULT_TOO_LARGE, "the result is larger than 65536 bytes");
  engine_set_result_limits(E, 0, 0);
  /* Back to the defaults. */
  CHECK_RC(run("SELECT zeroblob(100000) AS z", &json, &len, &rows, &err), 0);
  CHECK(len == strlen("{\"columns\":[\"z\"],\"rows\":[[{\"hex\":\"\"}]],\"row_count\":1}") + 200000);
  free(json);
  free(err);
}

/* engine_query_render and engine_tables_render append to the caller's
 * buffer the same bytes the _json forms return, after what it holds, and
 * on failure leave it as it was (a cap of their own or the buffer's). */
static void test_render_into_reply(void) {
  static const char head[] = "{\"ok\":true,\"result\":";
  static const char people[] = "SELECT id, name FROM people ORDER BY id", bad[] = "SELECT nope FROM people";
  const size_t h = sizeof(head) - 1;
  struct cdr_buf b;
  char *json = NULL, *err = NULL;
  size_t len = 0;
  uint64_t rows = 0;

  cdr_buf_init(&b, CDR_MAX_PLAINTEXT, 0);
  CHECK_RC(run(people, &json, &len, &rows, &err), 0);
  CHECK_RC(cdr_buf_put(&b, head, h), 0);
  CHECK_RC(engine_query_render(E, &OWNER, people, strlen(people), &b, &rows, &err), 0);
  CHECK(rows == 4);
  CHECK(json != NULL && b.len == h + len && memcmp(b.d, head, h) == 0 && memcmp(b.d + h, json, len) == 0);
  /* Its own cap: one byte short of the document. */
  cdr_buf_free(&b);
  CHECK_RC(cdr_buf_put(&b, head, h), 0);
  engine_set_result_limits(E, len - 1, 0);
  CHECK_RC(engine_query_render(E, &OWNER, people, strlen(people), &b, &rows, &err), CDR_ERR_RESULT_TOO_LARGE);
  CHECK(b.len == h && memcmp(b.d, head, h) == 0);
  engine_set_result_limits(E, 0, 0);
  free(err);
  err = NULL;
  /* The buffer's own max. */
  cdr_buf_free(&b);
  cdr_buf_init(&b, h + len - 1, 0);
  CHECK_RC(cdr_buf_put(&b, head, h), 0);
  CHECK_RC(engine_query_render(E, &OWNER, people, strlen(people), &b, &rows, &err), CDR_ERR_RESULT_TOO_LARGE);
  CHECK(b.len == h && memcmp(b.d, head, h) == 0);
  free(err);
  err = NULL;
  /* An SQL error leaves it too. */
  CHECK_RC(engine_query_render(E, &OWNER, bad, strlen(bad), &b, &rows, &err), CDR_ERR_SQL_ERROR);
  CHECK(b.len == h);
  free(err);
  err = NULL;
  free(json);
  json = NULL;
  cdr_buf_free(&b);

  /* The table list. */
  cdr_buf_init(&b, CDR_MAX_PLAINTEXT, 0);
  CHECK_RC(engine_tables_json(E, &OWNER, &json, &len, &err), 0);
  CHECK_RC(cdr_buf_put(&b, head, h), 0);
  CHECK_RC(engine_tables_render(E, &OWNER, &b, &err), 0);
  CHECK(json != NULL && b.len == h + len && memcmp(b.d + h, json, len) == 0);
  cdr_buf_free(&b);
  CHECK_RC(cdr_buf_put(&b, head, h), 0);
  engine_set_result_limits(E, len - 1, 0);
  CHECK_RC(engine_tables_render(E, &OWNER, &b, &err), CDR_ERR_RESULT_TOO_LARGE);
  CHECK(b.len == h && memcmp(b.d, head, h) == 0);
  engine_set_result_limits(E, 0, 0);
  free(err);
  free(json);
  cdr_buf_free(&b);
}

int main(void) {
  CHECK_RC(engine_open(&E), 0);
  if (E == NULL)
    return test_summary("test_engine");
  test_load();
  test_results();
  test_json_parses();
  test_sql_errors();
  test_limits();
  test_render_into_reply();
  engine_close(E);
  engine_close(NULL);
  return test_summary("test_engine");
}
