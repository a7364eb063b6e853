/*
 * engine_sqlite.c - the query engine (engine.h) over one in-memory SQLite
 * database: opening and hardening the connection, closing it, and the
 * limits a query runs under.  The engine's other files share its state
 * through engine_int.h: engine_query.c runs a user statement,
 * engine_check.c checks it before it runs, engine_render.c renders the
 * answers, engine_owner.c holds the owner operations, engine_upload.c
 * builds tables from CSV, engine_persist.c serves the sealed state, and
 * engine_err.c makes every error message.
 *
 * Workload: a room loads a few CSV tables (streamed in, see
 * engine_upload.c), then serves read-only queries one at a time; each
 * result is rendered whole as one JSON document.
 *
 * Invariants and defences, in the order a query meets them:
 *   - The connection is hardened when opened: no extension loading,
 *     DEFENSIVE (no writable_schema or shadow-table writes), untrusted
 *     schema, no triggers or views, no double-quoted string literals, no
 *     ATTACH (limit 0), temporary tables and sort spills kept in memory
 *     (the compile-time default would put them in files outside the
 *     enclave), and secure_delete on.
 *   - The policy (policy.c) is the connection's authorizer for its whole
 *     life; the policy is in user mode except while the engine runs its
 *     own statements (loading a CSV, opening), so whatever SQLite
 *     prepares on a user's behalf, even a re-prepare inside
 *     sqlite3_step, is checked.  The policy reads the catalog (owners,
 *     hidden columns, grants) and the principal of the current call.
 *   - The catalog changes only after the SQLite change it describes has
 *     committed, and cannot fail then (room is reserved first), so the
 *     two never disagree.  An upload fills a staging table that is not
 *     in the catalog (engine_upload.c); putting it in place (dropping a
 *     replaced table, renaming the staging table) is one transaction, so
 *     a failure anywhere leaves the old state.
 *   - After a user statement is prepared and passed the authorizer, its
 *     compiled program is checked too (engine_check.c): every table
 *     cursor it opens must be a room table (never an upload's staging
 *     table, which is not in the catalog) the principal may access and
 *     every column it reads from one must be readable.  SQLite does not
 *     show the authorizer the columns that a JOIN ... USING or NATURAL
 *     JOIN compares; the program does.
 *   - A user statement is at most CDR_MAX_SQL_LEN bytes of UTF-8 without
 *     NUL, exactly one statement (only blanks, comments and semicolons
 *     may follow it), read-only by sqlite3_stmt_readonly, and starts
 *     with SELECT, WITH or VALUES.  The last two checks stop statements
 *     the authorizer never sees (VACUUM, VACUUM INTO a file).
 *   - A progress handler interrupts a statement past its deadline (a
 *     monotonic clock), and the JSON result is capped in rows and bytes
 *     while it is rendered, never after.
 *   - Error messages never quote a data value: SQLite's message is
 *     passed through for prepare errors (it can only quote the SQL text
 *     or the schema) and has its quoted parts removed for run-time
 *     errors (e.g. "JSON path error near '...'" can quote a value).
 *   - Buffers of ours that held data values (the reply the result is
 *     rendered into, a cdr_buf, and the CSV parser's record) are wiped
 *     before they are freed.  SQLite's own
 *     memory is released to the allocator unwiped when the engine closes.
 */
#include "engine.h"
#include "engine_int.h"

#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/limits.h"
#include "catalog.h"
#include "dp.h"
#include "policy.h"

_Static_assert(CSV_MAX_NAME_LEN == CDR_MAX_COLUMN_NAME, "every CSV column name must fit the catalog");

/* SQLite's own cap on statement text.  It must admit the CREATE TABLE
 * the loader writes (and which SQLite re-parses whenever it reloads the
 * schema); user statements are held to CDR_MAX_SQL_LEN by our check. */
#define ENGINE_SQLITE_SQL_LENGTH (1024u * 1024u)
_Static_assert((size_t)CDR_MAX_COLUMNS * (2u * CSV_MAX_NAME_LEN + 16u) + 4u * CDR_MAX_TABLE_NAME + 64u <=
                   ENGINE_SQLITE_SQL_LENGTH,
               "CREATE TABLE of the widest CSV must fit SQLITE_LIMIT_SQL_LENGTH");
_Static_assert(CDR_MAX_SQL_LEN <= ENGINE_SQLITE_SQL_LENGTH, "user SQL must fit SQLITE_LIMIT_SQL_LENGTH");
/* Longest string, blob or row: the longest CSV record in one field,
 * plus the row's record header.  Also what stops one SQL function call
 * (printf('%.*c', 1e8, 'x'), zeroblob, replace...) from building a value
 * so large that the progress handler, which runs between VM steps, could
 * not stop it in time. */
#define ENGINE_SQLITE_LENGTH (CDR_MAX_CSV_RECORD + 64u * CDR_KiB)

/* Longest LIKE or GLOB pattern (SQLite's default is 50000). */
#define ENGINE_SQLITE_LIKE_PATTERN (10u * CDR_KiB)

/* ---- opening ---- */

/* Run one of the engine's own statements (policy in internal mode). */
static int engine_exec(struct cdr_engine *e, const char *sql, char **errmsg) {
  int rc = sqlite3_exec(e->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return engine_sqlite_fail(e, rc, errmsg, "database setup failed");
  return 0;
}

/* Read back an integer PRAGMA to check that a setting took. */
static int engine_pragma_int(struct cdr_engine *e, const char *sql, int *out) {
  sqlite3_stmt *st = NULL;
  int r = CDR_ERR_INTERNAL;
  if (sqlite3_prepare_v3(e->db, sql, -1, 0, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    *out = sqlite3_column_int(st, 0);
    r = 0;
  }
  sqlite3_finalize(st);
  return r;
}

static int engine_harden(struct cdr_engine *e) {
  static const struct {
    int op, value;
  } cfg[] = {
      {SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0},
      {SQLITE_DBCONFIG_DEFENSIVE, 1},
      {SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0},
      {SQLITE_DBCONFIG_ENABLE_TRIGGER, 0},
      {SQLITE_DBCONFIG_ENABLE_VIEW, 0},
      {SQLITE_DBCONFIG_WRITABLE_SCHEMA, 0},
      {SQLITE_DBCONFIG_DQS_DML, 0},
      {SQLITE_DBCONFIG_DQS_DDL, 0},
  };
  static const struct {
    int id, value;
  } lim[] = {
      {SQLITE_LIMIT_LENGTH, (int)ENGINE_SQLITE_LENGTH},
      {SQLITE_LIMIT_SQL_LENGTH, (int)ENGINE_SQLITE_SQL_LENGTH},
      {SQLITE_LIMIT_ATTACHED, 0},
      {SQLITE_LIMIT_VARIABLE_NUMBER, (int)CDR_MAX_COLUMNS},
      {SQLITE_LIMIT_WORKER_THREADS, 0},
      {SQLITE_LIMIT_TRIGGER_DEPTH, 1},
      /* LIKE and GLOB recurse once per wildcard run (engine_funcs.c):
       * this keeps their depth well inside a worker thread's stack */
      {SQLITE_LIMIT_LIKE_PATTERN_LENGTH, (int)ENGINE_SQLITE_LIKE_PATTERN},
  };
  int v;

  for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
    v = -1;
    if (sqlite3_db_config(e->db, cfg[i].op, cfg[i].value, &v) != SQLITE_OK || v != cfg[i].value)
      return CDR_ERR_INTERNAL;
  }
  for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
    sqlite3_limit(e->db, lim[i].id, lim[i].value);
    if (sqlite3_limit(e->db, lim[i].id, -1) > lim[i].value)
      return CDR_ERR_INTERNAL;
  }
  return 0;
}

/* Register every virtual table module with the policy as a built-in
 * name, and connect every eponymous virtual table now, in internal mode:
 * the first use of one makes SQLite ask the authorizer about a phantom
 * UPDATE of sqlite_master, which user mode would refuse with a confusing
 * reason (and json_each/json_tree would not work).  A table that fails
 * to connect only costs that; failing to list them fails the open. */
static int engine_warm_eponymous(struct cdr_engine *e) {
  static const char *const lists[] = {
      "SELECT name FROM pragma_module_list",
      "SELECT 'pragma_' || name FROM pragma_pragma_list",
  };
  int r = 0;
  for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]) && r == 0; l++) {
    sqlite3_stmt *st = NULL;
    sqlite3_str *names = sqlite3_str_new(e->db);
    char *all, *name, *next;
    int rc;
    /* Collect first: connecting a table while the list is being read
     * would change the module hash under the reader. */
    if ((rc = sqlite3_prepare_v3(e->db, lists[l], -1, 0, &st, NULL)) == SQLITE_OK) {
      while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        sqlite3_str_appendf(names, "%s\n", (const char *)sqlite3_column_text(st, 0));
      if (rc == SQLITE_DONE)
        rc = sqlite3_str_errcode(names);
    }
    sqlite3_finalize(st);
    all = sqlite3_str_finish(names);
    if (rc != SQLITE_OK)
      r = (rc & 0xff) == SQLITE_NOMEM ? CDR_ERR_NOMEM : CDR_ERR_INTERNAL;
    for (name = all; r == 0 && name != NULL && *name != '\0'; name = next) {
      char *sql;
      next = strchr(name, '\n');
      *next++ = '\0';
      if (l == 0 && (r = policy_add_builtin(&e->policy, name)) != 0)
        break;
      if ((sql = sqlite3_mprintf("SELECT * FROM \"%w\"", name)) == NULL) {
        r = CDR_ERR_NOMEM;
        break;
      }
      st = NULL;
      (void)sqlite3_prepare_v3(e->db, sql, -1, 0, &st, NULL);
      sqlite3_finalize(st);
      sqlite3_free(sql);
    }
    sqlite3_free(all);
  }
  return r;
}

int engine_open(struct cdr_engine **out) {
  struct cdr_engine *e;
  int r, v = -1;

  *out = NULL;
  if ((e = calloc(1, sizeof(*e))) == NULL)
    return CDR_ERR_NOMEM;
  policy_init(&e->policy);
  catalog_init(&e->catalog);
  policy_set_catalog(&e->policy, &e->catalog);
  e->time_limit_ms = CDR_DEFAULT_QUERY_TIME_MS;
  e->max_result_bytes = CDR_DEFAULT_RESULT_BYTES;
  e->max_result_rows = CDR_DEFAULT_RESULT_ROWS;
  e->max_query_memory = CDR_DEFAULT_QUERY_MEMORY;

  if ((r = dp_ledger_new(&e->dp_ledger)) != 0 || (r = dp_cache_new(&e->dp_cache)) != 0)
    goto out;
  if ((r = sqlite3_open_v2(":memory:", &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           NULL)) != SQLITE_OK) {
    r = r == SQLITE_NOMEM ? CDR_ERR_NOMEM : CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = engine_harden(e)) != 0)
    goto out;
  if (engine_funcs_register(e->db, &e->budget) != SQLITE_OK) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if (sqlite3_set_authorizer(e->db, policy_authorize, &e->policy) != SQLITE_OK) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if ((r = engine_exec(e, "PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON", NULL)) != 0)
    goto out;
  if ((r = engine_pragma_int(e, "PRAGMA temp_store", &v)) != 0 || v != 2) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = engine_warm_eponymous(e)) != 0)
    goto out;
  policy_set_mode(&e->policy, POLICY_USER);
  *out = e;
  e = NULL;
  r = 0;
out:
  engine_close(e);
  return r;
}

void engine_close(struct cdr_engine *e) {
  if (e == NULL)
    return;
  engine_uploads_abort_all(e); /* their statements must go before the database */
  sqlite3_finalize(e->restore_ins);
  if (e->db != NULL)
    sqlite3_close(e->db);
  policy_free(&e->policy);
  catalog_free(&e->catalog);
  dp_cache_free(e->dp_cache);
  dp_ledger_free(e->dp_ledger);
  OPENSSL_cleanse(e, sizeof(*e));
  free(e);
}

void engine_set_time_limit_ms(struct cdr_engine *e, unsigned ms) {
  e->time_limit_ms = ms != 0 ? ms : CDR_DEFAULT_QUERY_TIME_MS;
}

void engine_set_result_limits(struct cdr_engine *e, size_t max_bytes, uint64_t max_rows) {
  if (max_bytes == 0 || max_bytes > SIZE_MAX / 4)
    max_bytes = CDR_DEFAULT_RESULT_BYTES;
  e->max_result_bytes = max_bytes;
  e->max_result_rows = max_rows != 0 ? max_rows : CDR_DEFAULT_RESULT_ROWS;
}

void engine_set_memory_limit(struct cdr_engine *e, uint64_t bytes) {
  e->max_query_memory = bytes != 0 ? bytes : CDR_DEFAULT_QUERY_MEMORY;
}
