/*
 * test_policy.c - the read-only policy: the authorizer on its own (with
 * the arguments SQLite was seen to pass), then every kind of refused
 * statement through the engine, each checked for its code and reason,
 * and each followed by a query that must still work.
 */
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "enclave/catalog.h"
#include "common/csv.h"
#include "common/utf8.h"
#include "enclave/engine.h"
#include "enclave/policy.h"
#include "testlib.h"

static const struct engine_principal OWNER = {"owner@example.org", CDR_ROLE_PROVIDER, {0}, 0};

static void test_authorizer(void) {
  static const uint8_t fp[32] = {0};
  struct policy p;
  struct catalog cat;
  struct catalog_table *t;
  char longname[200];

  policy_init(&p);
  CHECK(p.mode == POLICY_USER); /* deny by default */
  catalog_init(&cat);
  t = catalog_table_new("people", OWNER.name, fp, 0, 0);
  CHECK(t != NULL);
  if (t == NULL)
    return;
  CHECK_RC(catalog_table_add_column(t, "name", "TEXT", 0), 0);
  CHECK_RC(catalog_put(&cat, t), 0);
  /* No catalog, no principal: nothing is a room table or readable. */
  CHECK(!policy_is_room_table(&p, "people"));
  policy_set_catalog(&p, &cat);
  CHECK(policy_authorize(&p, SQLITE_READ, "people", "name", "main", NULL) == SQLITE_DENY);
  CHECK_STR(policy_denial(&p), "no access to table people (no such table: people, or one you may not read; its owner can give access: a "
                                  "grant, or a release rule for analysts)");
  CHECK(policy_denial_code(&p) == CDR_ERR_ACCESS_DENIED);
  policy_clear_denial(&p);
  policy_set_principal(&p, &OWNER);
  CHECK(policy_is_room_table(&p, "People"));
  CHECK(!policy_is_room_table(&p, "peoplex"));
  CHECK(!policy_is_room_table(&p, NULL));

  CHECK(policy_authorize(&p, SQLITE_SELECT, NULL, NULL, NULL, NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_RECURSIVE, NULL, NULL, NULL, "c") == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_READ, "people", "name", "main", NULL) == SQLITE_OK);
  /* count(*) and rowid: empty column, NULL database. */
  CHECK(policy_authorize(&p, SQLITE_READ, "people", "", NULL, NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_READ, "json_each", "value", "main", NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_READ, "JSON_TREE", "value", "main", NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_FUNCTION, NULL, "abs", NULL, NULL) == SQLITE_OK);
  /* A column-less read names the FROM item as written: a CTE is fine. */
  CHECK_RC(policy_add_builtin(&p, "dbstat"), 0);
  CHECK(policy_authorize(&p, SQLITE_READ, "my_cte", "", NULL, NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_FUNCTION, NULL, "sqlite_offset", NULL, NULL) == SQLITE_OK);
  CHECK(policy_denial(&p) == NULL);

  CHECK(policy_authorize(&p, SQLITE_READ, NULL, "x", "main", NULL) == SQLITE_DENY);
  CHECK_STR(policy_denial(&p), "reading a table without a name is not allowed");
  CHECK(policy_denial_code(&p) == CDR_ERR_SQL_DENIED);
  /* Only the first reason is kept. */
  CHECK(policy_authorize(&p, SQLITE_ATTACH, "x", NULL, NULL, NULL) == SQLITE_DENY);
  CHECK_STR(policy_denial(&p), "reading a table without a name is not allowed");
  policy_clear_denial(&p);
  CHECK(policy_denial(&p) == NULL);

#define DENIES(action, a1, a2, reason)                                          \
  do {                                                                          \
    policy_clear_denial(&p);                                                    \
    CHECK(policy_authorize(&p, action, a1, a2, "main", NULL) == SQLITE_DENY);   \
    CHECK_CONTAINS(policy_denial(&p), reason);                                  \
  } while (0)

  DENIES(SQLITE_READ, "", "x", "reading a table without a name is not allowed");
  DENIES(SQLITE_READ, "sqlite_master", "sql", "reading internal table sqlite_master is not allowed");
  DENIES(SQLITE_READ, "SQLITE_temp_master", "sql", "reading internal table SQLITE_temp_master is not allowed");
  DENIES(SQLITE_READ, "sqlite_stmt", "sql", "reading internal table sqlite_stmt");
  DENIES(SQLITE_READ, "sqlite_dbpage", "data", "reading internal table sqlite_dbpage");
  DENIES(SQLITE_READ, "pragma_table_info", "name", "PRAGMA is not allowed (pragma_table_info)");
  DENIES(SQLITE_READ, "dbstat", "name", "reading dbstat is not allowed: only the room's tables can be read");
  DENIES(SQLITE_READ, "other", "a", "reading other is not allowed");
  /* ... but not when it names an internal or built-in table. */
  DENIES(SQLITE_READ, "DBSTAT", "", "reading DBSTAT is not allowed: only the room's tables can be read");
  DENIES(SQLITE_READ, "sqlite_schema", "", "reading internal table sqlite_schema is not allowed");
  DENIES(SQLITE_READ, "pragma_table_list", "", "PRAGMA is not allowed (pragma_table_list)");
  DENIES(SQLITE_FUNCTION, NULL, "load_extension", "function load_extension is not allowed");
  DENIES(SQLITE_FUNCTION, NULL, "LOAD_EXTENSION", "function LOAD_EXTENSION is not allowed");
  DENIES(SQLITE_FUNCTION, NULL, "readfile", "function readfile is not allowed");
  DENIES(SQLITE_FUNCTION, NULL, "writefile", "function writefile is not allowed");
  DENIES(SQLITE_FUNCTION, NULL, "edit", "function edit is not allowed");
  DENIES(SQLITE_FUNCTION, NULL, "fts3_tokenizer", "function fts3_tokenizer is not allowed");
  DENIES(SQLITE_FUNCTION, NULL, NULL, "calling a function without a name is not allowed");
  DENIES(SQLITE_INSERT, "people", NULL, "INSERT into table people is not allowed: queries are read-only");
  DENIES(SQLITE_UPDATE, "people", "name", "UPDATE of table people is not allowed");
  DENIES(SQLITE_DELETE, "people", NULL, "DELETE from table people is not allowed");
  DENIES(SQLITE_INSERT, "sqlite_master", NULL, "changing the schema is not allowed");
  DENIES(SQLITE_UPDATE, "sqlite_master", "sql", "changing the schema is not allowed");
  DENIES(SQLITE_DROP_TABLE, "people", NULL, "DROP TABLE people is not allowed: queries cannot change the schema");
  DENIES(SQLITE_CREATE_TEMP_VIEW, "v", NULL, "CREATE TEMP VIEW v is not allowed");
  DENIES(SQLITE_CREATE_VTABLE, "v", "fts5", "CREATE VIRTUAL TABLE v is not allowed");
  DENIES(SQLITE_DROP_VTABLE, "v", "fts5", "DROP VIRTUAL TABLE v is not allowed");
  DENIES(SQLITE_ALTER_TABLE, "main", "people", "ALTER TABLE people is not allowed");
  DENIES(SQLITE_ATTACH, "x.db", NULL, "ATTACH is not allowed: queries in a data room are read-only");
  DENIES(SQLITE_DETACH, "x", NULL, "DETACH is not allowed");
  DENIES(SQLITE_PRAGMA, "writable_schema", "1", "PRAGMA is not allowed (PRAGMA writable_schema)");
  DENIES(SQLITE_TRANSACTION, "COMMIT", NULL, "COMMIT is not allowed: queries cannot control transactions");
  DENIES(SQLITE_SAVEPOINT, "BEGIN", "s", "SAVEPOINT is not allowed");
  DENIES(SQLITE_ANALYZE, "people", NULL, "ANALYZE is not allowed");
  DENIES(SQLITE_REINDEX, "i", NULL, "REINDEX is not allowed");
  DENIES(SQLITE_COPY, "people", "f", "authorizer action 0");
  DENIES(9999, NULL, NULL, "authorizer action 9999"); /* unknown: denied */

  /* Long names are clipped at a character boundary; reasons stay UTF-8
   * and never contain the argument that is not a name (the PRAGMA value). */
  memset(longname, 0, sizeof(longname));
  memcpy(longname, "zz", 2);
  for (size_t i = 2; i + 2 < 150; i += 2)
    memcpy(longname + i, "\xC3\xA9", 2);
  DENIES(SQLITE_READ, longname, "a", "...");
  CHECK(cdr_utf8_valid((const uint8_t *)policy_denial(&p), strlen(policy_denial(&p))));
  CHECK(strlen(policy_denial(&p)) < 160);
  DENIES(SQLITE_PRAGMA, "cache_size", "123456", "PRAGMA is not allowed");
  CHECK(strstr(policy_denial(&p), "123456") == NULL);

  /* Internal mode allows the engine's own statements. */
  policy_clear_denial(&p);
  policy_set_mode(&p, POLICY_INTERNAL);
  CHECK(policy_authorize(&p, SQLITE_INSERT, "sqlite_master", NULL, "main", NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_CREATE_TABLE, "t", NULL, "main", NULL) == SQLITE_OK);
  CHECK(policy_authorize(&p, SQLITE_READ, "sqlite_master", "name", "main", NULL) == SQLITE_OK);
  CHECK(policy_denial(&p) == NULL);
  policy_set_mode(&p, POLICY_USER);

  CHECK_RC(catalog_remove(&cat, "PeOpLe"), 0);
  CHECK(!policy_is_room_table(&p, "people"));
  CHECK_RC(catalog_remove(&cat, "nothing"), CDR_ERR_NOT_FOUND);
  DENIES(SQLITE_READ, "people", "name", "reading people is not allowed");
  policy_free(&p);
  catalog_free(&cat);
#undef DENIES
}

static struct cdr_engine *E;

/* Run sql; returns the code, *json and *err to be freed. */
static int run(const char *sql, char **json, char **err) {
  size_t len = 0;
  uint64_t rows = 0;
  return engine_query_json(E, &OWNER, sql, strlen(sql), json, &len, &rows, err);
}

#define QUERY_IS(sql, expect)                                                   \
  do {                                                                          \
    char *j_ = NULL, *e_ = NULL;                                                \
    CHECK_RC(run(sql, &j_, &e_), 0);                                            \
    CHECK_STR(j_, expect);                                                      \
    if (e_ != NULL)                                                             \
      fprintf(stderr, "  (error: %s)\n", e_);                                   \
    free(j_);                                                                   \
    free(e_);                                                                   \
  } while (0)

/* A refused statement: code, reason, no output, and the engine still
 * answers the next query. */
#define DENIED(sql, code, reason)                                               \
  do {                                                                          \
    char *dj_ = NULL, *de_ = NULL;                                                \
    CHECK_RC(run(sql, &dj_, &de_), code);                                         \
    CHECK_CONTAINS(de_, reason);                                                 \
    CHECK(dj_ == NULL);                                                          \
    free(dj_);                                                                   \
    free(de_);                                                                   \
    QUERY_IS("SELECT count(*) AS n FROM t", "{\"columns\":[\"n\"],\"rows\":[[2]],\"row_count\":1}"); \
  } while (0)

static void test_statements(void) {
  static const char csv[] = "a,b\n1,x\n2,y\n";
  static const char vacuum_file[] = "/tmp/cdr_test_policy_vacuum.db";
  uint64_t rows = 0;
  char *err = NULL;

  CHECK_RC(engine_open(&E), 0);
  if (E == NULL)
    return;
  CHECK_RC(engine_load_csv(E, &OWNER, "t", (const uint8_t *)csv, sizeof(csv) - 1, 0, &rows, &err), 0);
  free(err);

  /* What a read-only query needs is allowed. */
  QUERY_IS("SELECT a, b FROM t ORDER BY a", "{\"columns\":[\"a\",\"b\"],\"rows\":[[1,\"x\"],[2,\"y\"]],\"row_count\":2}");
  QUERY_IS("SELECT rowid FROM t ORDER BY 1", "{\"columns\":[\"rowid\"],\"rows\":[[1],[2]],\"row_count\":2}");
  QUERY_IS("select count(*) from T", "{\"columns\":[\"count(*)\"],\"rows\":[[2]],\"row_count\":1}");
  QUERY_IS("SELECT key, value FROM json_each('[10,20]')",
           "{\"columns\":[\"key\",\"value\"],\"rows\":[[0,10],[1,20]],\"row_count\":2}");
  QUERY_IS("SELECT count(*) AS n FROM json_tree('{\"a\":[1]}')", "{\"columns\":[\"n\"],\"rows\":[[3]],\"row_count\":1}");
  QUERY_IS("VALUES (1, 'v')", "{\"columns\":[\"column1\",\"column2\"],\"rows\":[[1,\"v\"]],\"row_count\":1}");
  QUERY_IS("  -- leading comment\n/* block */ ;SELECT 1 AS one;; -- trailing\n /* c */ ;",
           "{\"columns\":[\"one\"],\"rows\":[[1]],\"row_count\":1}");

  /* Column-less reads: of a CTE, a room table, a pure function. */
  QUERY_IS("WITH c AS (SELECT 1 UNION ALL SELECT 2) SELECT count(*) AS n FROM c",
           "{\"columns\":[\"n\"],\"rows\":[[2]],\"row_count\":1}");
  QUERY_IS("SELECT 1 AS one FROM T LIMIT 1", "{\"columns\":[\"one\"],\"rows\":[[1]],\"row_count\":1}");
  QUERY_IS("SELECT count(*) AS n FROM json_each('[1,2,3]')", "{\"columns\":[\"n\"],\"rows\":[[3]],\"row_count\":1}");

  /* Writes. */
  DENIED("INSERT INTO t VALUES (3, 'z')", CDR_ERR_SQL_DENIED, "INSERT into table t is not allowed: queries are read-only");
  DENIED("UPDATE t SET b = 'q'", CDR_ERR_SQL_DENIED, "UPDATE of table t is not allowed");
  DENIED("DELETE FROM t", CDR_ERR_SQL_DENIED, "DELETE from table t is not allowed");
  DENIED("REPLACE INTO t VALUES (1, 'z')", CDR_ERR_SQL_DENIED, "INSERT into table t is not allowed");
  DENIED("WITH x AS (SELECT 1) DELETE FROM t", CDR_ERR_SQL_DENIED, "DELETE from table t is not allowed");
  DENIED("WITH x AS (SELECT 1, 2) INSERT INTO t SELECT * FROM x", CDR_ERR_SQL_DENIED, "INSERT into table t");
  /* SQLite refuses this one itself, before asking the authorizer. */
  DENIED("UPDATE sqlite_master SET sql = ''", CDR_ERR_SQL_ERROR, "table sqlite_master may not be modified");
  /* Schema changes (SQLite asks about the write to sqlite_master first). */
  DENIED("CREATE TABLE x(a)", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  DENIED("CREATE TEMP TABLE x(a)", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  DENIED("CREATE TABLE x AS SELECT * FROM t", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  DENIED("CREATE INDEX i ON t(a)", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  DENIED("CREATE VIEW v AS SELECT 1", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  DENIED("CREATE VIRTUAL TABLE v USING fts5(a)", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  DENIED("DROP TABLE t", CDR_ERR_SQL_DENIED, "changing the schema is not allowed");
  /* No table, so no authorizer call: the query-keyword check stops it. */
  DENIED("DROP TABLE IF EXISTS nope", CDR_ERR_SQL_DENIED, "only queries");
  DENIED("ALTER TABLE t ADD COLUMN c", CDR_ERR_SQL_DENIED, "ALTER TABLE t is not allowed");
  DENIED("ALTER TABLE t RENAME TO u", CDR_ERR_SQL_DENIED, "ALTER TABLE t is not allowed");
  DENIED("ANALYZE", CDR_ERR_SQL_DENIED, "not allowed");
  /* Other databases. */
  DENIED("ATTACH DATABASE ':memory:' AS x", CDR_ERR_SQL_DENIED,
         "ATTACH is not allowed: queries in a data room are read-only");
  DENIED("ATTACH '/tmp/cdr_test_policy_attach.db' AS x", CDR_ERR_SQL_DENIED, "ATTACH is not allowed");
  DENIED("DETACH x", CDR_ERR_SQL_DENIED, "DETACH is not allowed");
  /* PRAGMA, as statements and as table-valued functions. */
  DENIED("PRAGMA writable_schema=1", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed (PRAGMA writable_schema)");
  DENIED("PRAGMA table_info(t)", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed (PRAGMA table_info)");
  DENIED("PRAGMA temp_store", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed");
  DENIED("SELECT * FROM pragma_table_info('t')", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed (pragma_table_info)");
  DENIED("SELECT name FROM pragma_function_list", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed (pragma_function_list)");
  DENIED("SELECT * FROM pragma_database_list", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed (pragma_database_list)");
  /* Functions that reach outside. */
  DENIED("SELECT load_extension('x')", CDR_ERR_SQL_DENIED, "function load_extension is not allowed");
  DENIED("SELECT LOAD_EXTENSION('/tmp/x.so', 'entry')", CDR_ERR_SQL_DENIED, "function load_extension is not allowed");
  DENIED("SELECT fts3_tokenizer('simple')", CDR_ERR_SQL_DENIED, "function fts3_tokenizer is not allowed");
  /* Internals and built-in virtual tables. */
  DENIED("SELECT * FROM sqlite_master", CDR_ERR_SQL_DENIED, "reading internal table sqlite_master is not allowed");
  DENIED("SELECT name FROM sqlite_schema", CDR_ERR_SQL_DENIED, "reading internal table sqlite_master is not allowed");
  DENIED("SELECT * FROM temp.sqlite_master", CDR_ERR_SQL_DENIED, "reading internal table sqlite_temp_master");
  DENIED("SELECT count(*) FROM main.sqlite_master", CDR_ERR_SQL_DENIED, "reading internal table sqlite_master");
  DENIED("SELECT * FROM t WHERE a IN (SELECT rootpage FROM sqlite_master)", CDR_ERR_SQL_DENIED,
         "reading internal table sqlite_master");
  DENIED("SELECT * FROM sqlite_stmt", CDR_ERR_SQL_DENIED, "reading internal table sqlite_stmt is not allowed");
  DENIED("SELECT * FROM dbstat", CDR_ERR_SQL_DENIED, "reading dbstat is not allowed");
  /* The same, reading no column. */
  DENIED("SELECT count(*) FROM dbstat", CDR_ERR_SQL_DENIED, "reading dbstat is not allowed");
  DENIED("SELECT 1 FROM sqlite_master", CDR_ERR_SQL_DENIED, "reading internal table sqlite_master is not allowed");
  DENIED("SELECT count(*) FROM SQLITE_SCHEMA", CDR_ERR_SQL_DENIED, "reading internal table SQLITE_SCHEMA");
  DENIED("SELECT count(*) FROM temp.sqlite_master", CDR_ERR_SQL_DENIED, "reading internal table sqlite_master");
  DENIED("SELECT count(*) FROM sqlite_stmt", CDR_ERR_SQL_DENIED, "reading internal table sqlite_stmt");
  DENIED("SELECT count(*) FROM pragma_function_list", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed");
  DENIED("SELECT count(*) FROM pragma_table_info('t')", CDR_ERR_SQL_DENIED, "PRAGMA is not allowed");
  /* Transactions. */
  DENIED("BEGIN", CDR_ERR_SQL_DENIED, "BEGIN is not allowed: queries cannot control transactions");
  DENIED("BEGIN IMMEDIATE", CDR_ERR_SQL_DENIED, "BEGIN is not allowed");
  DENIED("COMMIT", CDR_ERR_SQL_DENIED, "COMMIT is not allowed");
  DENIED("ROLLBACK", CDR_ERR_SQL_DENIED, "ROLLBACK is not allowed");
  DENIED("SAVEPOINT s", CDR_ERR_SQL_DENIED, "SAVEPOINT is not allowed");
  DENIED("RELEASE s", CDR_ERR_SQL_DENIED, "SAVEPOINT is not allowed");
  /* Statements no authorizer sees: stopped by the read-only and
   * query-keyword checks. */
  DENIED("VACUUM", CDR_ERR_SQL_DENIED, "only queries (SELECT, WITH ... SELECT, VALUES) are allowed");
  unlink(vacuum_file);
  DENIED("VACUUM INTO '/tmp/cdr_test_policy_vacuum.db'", CDR_ERR_SQL_DENIED, "only queries");
  CHECK(access(vacuum_file, F_OK) != 0);
  DENIED("REINDEX", CDR_ERR_SQL_DENIED, "only queries");
  DENIED("EXPLAIN SELECT * FROM t", CDR_ERR_SQL_DENIED, "only queries");
  DENIED("EXPLAIN QUERY PLAN SELECT * FROM t", CDR_ERR_SQL_DENIED, "only queries");
  /* One statement per request. */
  DENIED("SELECT 1; DROP TABLE t", CDR_ERR_SQL_DENIED, "only one statement per request is allowed");
  DENIED("SELECT 1; SELECT 2", CDR_ERR_SQL_DENIED, "only one statement per request is allowed");
  DENIED("SELECT 1 /* c */ ; -- c\n x", CDR_ERR_SQL_DENIED, "only one statement per request is allowed");
  /* The first refused action decides the reason. */
  DENIED("INSERT INTO t SELECT * FROM sqlite_master", CDR_ERR_SQL_DENIED, "INSERT into table t");

  /* Tables a room loads are readable whatever their name. */
  CHECK_RC(engine_load_csv(E, &OWNER, "dbstat", (const uint8_t *)"k\n7\n", 4, 0, &rows, &err), 0);
  free(err);
  QUERY_IS("SELECT k FROM dbstat", "{\"columns\":[\"k\"],\"rows\":[[7]],\"row_count\":1}");

  engine_close(E);
  E = NULL;
}

int main(void) {
  test_authorizer();
  test_statements();
  return test_summary("test_policy");
}
