/*
 * engine_sqlite.c - the query engine (engine.h) over one in-memory SQLite
 * database (pagevfs.h): opening and hardening its connections (the room
 * engine's, which writes, and one per lane, which read), lending a lane
 * to a query, closing them, and the limits a query runs under.  The engine's other files share its state
 * through engine_int.h: engine_query.c runs a user statement,
 * engine_check.c checks it before it runs, engine_render.c renders the
 * answers, engine_owner.c holds the owner operations, engine_upload.c
 * builds tables from CSV, engine_persist.c serves the sealed state, and
 * engine_err.c makes every error message.
 *
 * Workload: a room loads a few CSV tables (streamed in, see
 * engine_upload.c), then serves read-only queries, several at once, each
 * on a lane's connection (engine_lane_take) while the room gate keeps
 * every change out; each result is rendered as one JSON document.
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
 *     before they are freed, and so are the database's pages (pagevfs.c)
 *     and SQLite's own memory (wipe_alloc.c).
 */
#include "engine.h"
#include "engine_int.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/limits.h"
#include "catalog.h"
#include "dp.h"
#include "pagevfs.h"
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

/* Open e->db, a connection to the database e->store, and set it up:
 * hardened, the engine's functions, the policy as its authorizer, its
 * pragmas, the eponymous tables warmed.  A lane's connection is
 * read-only (query_only) and maps the database's pages (mmap_size)
 * instead of copying them into its page cache; the room's writes, and
 * keeps secure_delete on.  Temporary tables and sorts stay in each
 * connection's memory (temp_store; pagevfs refuses any other file). */
static int engine_conn_open(struct cdr_engine *e, int lane) {
  static const char main_pragmas[] = "PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON";
  static const char lane_pragmas[] =
      "PRAGMA temp_store = MEMORY; PRAGMA query_only = ON; PRAGMA mmap_size = 2147418112";
  int r, v = -1;
  if ((r = sqlite3_open_v2(e->store, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           PAGEVFS_NAME)) != SQLITE_OK)
    return r == SQLITE_NOMEM ? CDR_ERR_NOMEM : CDR_ERR_INTERNAL;
  if ((r = engine_harden(e)) != 0)
    return r;
  if (engine_funcs_register(e->db, &e->budget) != SQLITE_OK ||
      sqlite3_set_authorizer(e->db, policy_authorize, &e->policy) != SQLITE_OK)
    return CDR_ERR_INTERNAL;
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if ((r = engine_exec(e, lane ? lane_pragmas : main_pragmas, NULL)) != 0)
    return r;
  if ((r = engine_pragma_int(e, "PRAGMA temp_store", &v)) != 0 || v != 2)
    return CDR_ERR_INTERNAL;
  if (lane && ((r = engine_pragma_int(e, "PRAGMA query_only", &v)) != 0 || v != 1 ||
               (r = engine_pragma_int(e, "PRAGMA mmap_size", &v)) != 0 || v <= 0))
    return CDR_ERR_INTERNAL;
  if ((r = engine_warm_eponymous(e)) != 0)
    return r;
  policy_set_mode(&e->policy, POLICY_USER);
  return 0;
}

/* A fresh engine struct with its limits at their defaults. */
static struct cdr_engine *engine_new(void) {
  struct cdr_engine *e = calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  policy_init(&e->policy);
  catalog_init(&e->catalog);
  policy_set_catalog(&e->policy, &e->catalog);
  e->time_limit_ms = CDR_DEFAULT_QUERY_TIME_MS;
  e->max_result_bytes = CDR_DEFAULT_RESULT_BYTES;
  e->max_result_rows = CDR_DEFAULT_RESULT_ROWS;
  e->max_query_memory = CDR_DEFAULT_QUERY_MEMORY;
  return e;
}

int engine_open(struct cdr_engine **out) {
  static unsigned serial; /* names each engine's database */
  struct cdr_engine *e;
  int r;

  *out = NULL;
  if (pagevfs_register() != 0)
    return CDR_ERR_INTERNAL;
  if ((e = engine_new()) == NULL)
    return CDR_ERR_NOMEM;
  snprintf(e->store, sizeof(e->store), "room-%u", __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
  if ((r = dp_ledger_new(&e->dp_ledger)) != 0 || (r = dp_cache_new(&e->dp_cache)) != 0)
    goto out;
  if ((r = engine_conn_open(e, 0)) != 0)
    goto out;
  *out = e;
  e = NULL;
  r = 0;
out:
  engine_close(e);
  return r;
}

/* ---- lanes ---- */

struct engine_lanes {
  pthread_mutex_t lock;
  pthread_cond_t freed;
  unsigned n;
  struct cdr_engine *lane[ENGINE_MAX_LANES];
  unsigned char taken[ENGINE_MAX_LANES];
};

/* An engine without lanes serves one query at a time, as before lanes. */
static pthread_mutex_t solo_lock = PTHREAD_MUTEX_INITIALIZER;

static void engine_lanes_close(struct engine_lanes *ls) {
  if (ls == NULL)
    return;
  for (unsigned i = 0; i < ls->n; i++)
    engine_close(ls->lane[i]); /* borrowing nothing: given back */
  pthread_cond_destroy(&ls->freed);
  pthread_mutex_destroy(&ls->lock);
  free(ls);
}

int engine_lanes_open(struct cdr_engine *e, unsigned n) {
  struct engine_lanes *ls;
  int r = 0;
  if (e == NULL || e->lanes != NULL || n == 0 || n > ENGINE_MAX_LANES)
    return CDR_ERR_ARG;
  if ((ls = calloc(1, sizeof(*ls))) == NULL)
    return CDR_ERR_NOMEM;
  if (pthread_mutex_init(&ls->lock, NULL) != 0 || pthread_cond_init(&ls->freed, NULL) != 0) {
    free(ls);
    return CDR_ERR_INTERNAL;
  }
  for (; ls->n < n && r == 0; ls->n++) {
    struct cdr_engine *l = engine_new();
    if (l == NULL) {
      r = CDR_ERR_NOMEM;
      break;
    }
    memcpy(l->store, e->store, sizeof(l->store));
    ls->lane[ls->n] = l;
    r = engine_conn_open(l, 1);
  }
  if (r != 0) {
    engine_lanes_close(ls);
    return r;
  }
  e->lanes = ls;
  return 0;
}

/* Bring a lane's cached schema up to date with the room engine's last
 * commit.  A statement is compiled against the schema its connection has
 * cached, and only its first step notices a newer one; the statement
 * checks (engine_check.c) read the program before that step, so a
 * program compiled against a dropped or replaced table would be judged
 * by root pages that are no longer its.  Stepping a statement that reads
 * the schema makes SQLite compare the schema cookie and reload (the
 * step is re-prepared when it changed).  A failure here (out of memory)
 * is left to the query, which meets the same condition. */
static void engine_lane_sync(struct cdr_engine *l) {
  policy_set_mode(&l->policy, POLICY_INTERNAL);
  if (l->schema_sync == NULL)
    (void)sqlite3_prepare_v3(l->db, "SELECT 1 FROM main.sqlite_schema LIMIT 1", -1, SQLITE_PREPARE_PERSISTENT,
                             &l->schema_sync, NULL);
  if (l->schema_sync != NULL) {
    (void)sqlite3_step(l->schema_sync);
    (void)sqlite3_reset(l->schema_sync);
  }
  policy_set_mode(&l->policy, POLICY_USER);
}

struct cdr_engine *engine_lane_take(struct cdr_engine *e) {
  struct engine_lanes *ls = e->lanes;
  struct cdr_engine *l = NULL;
  if (ls == NULL) {
    pthread_mutex_lock(&solo_lock);
    return e;
  }
  pthread_mutex_lock(&ls->lock);
  while (l == NULL) {
    for (unsigned i = 0; i < ls->n && l == NULL; i++)
      if (!ls->taken[i]) {
        ls->taken[i] = 1;
        l = ls->lane[i];
      }
    if (l == NULL)
      pthread_cond_wait(&ls->freed, &ls->lock);
  }
  pthread_mutex_unlock(&ls->lock);
  /* The borrowed view: the caller holds the gate shared, so none of it
   * changes until engine_lane_give. */
  l->catalog = e->catalog;
  l->time_limit_ms = e->time_limit_ms;
  l->max_result_bytes = e->max_result_bytes;
  l->max_result_rows = e->max_result_rows;
  l->max_query_memory = e->max_query_memory;
  l->dp_ledger = e->dp_ledger;
  l->dp_cache = e->dp_cache;
  engine_lane_sync(l);
  return l;
}

void engine_lane_give(struct cdr_engine *e, struct cdr_engine *l) {
  struct engine_lanes *ls = e->lanes;
  if (l == e) {
    pthread_mutex_unlock(&solo_lock);
    return;
  }
  memset(&l->catalog, 0, sizeof(l->catalog));
  l->dp_ledger = NULL;
  l->dp_cache = NULL;
  pthread_mutex_lock(&ls->lock);
  for (unsigned i = 0; i < ls->n; i++)
    if (ls->lane[i] == l)
      ls->taken[i] = 0;
  pthread_cond_signal(&ls->freed);
  pthread_mutex_unlock(&ls->lock);
}

void engine_close(struct cdr_engine *e) {
  if (e == NULL)
    return;
  engine_lanes_close(e->lanes); /* their connections before the database's last */
  engine_uploads_abort_all(e); /* their statements must go before the database */
  sqlite3_finalize(e->restore_ins);
  sqlite3_finalize(e->schema_sync);
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
