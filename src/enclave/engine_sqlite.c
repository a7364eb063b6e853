/*
 * engine_sqlite.c - the query engine (engine.h) over one in-memory SQLite
 * database.
 *
 * Workload: a room loads a few CSV tables (up to CDR_MAX_UPLOAD_BYTES
 * each), then serves read-only queries one at a time; each result is
 * rendered whole as one JSON document.
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
 *     sqlite3_step, is checked.
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
 *   - Buffers of ours that held data values (the JSON being built, the
 *     CSV parser's record) are wiped before they are freed.  SQLite's own
 *     memory is released to the allocator unwiped when the engine closes.
 */
#include "engine.h"

#include <math.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/limits.h"
#include "../common/util.h"
#include "csv.h"
#include "policy.h"

/* SQLite's own cap on statement text.  It must admit the CREATE TABLE
 * the loader writes (and which SQLite re-parses whenever it reloads the
 * schema); user statements are held to CDR_MAX_SQL_LEN by our check. */
#define ENGINE_SQLITE_SQL_LENGTH (1024u * 1024u)
_Static_assert((size_t)CDR_MAX_COLUMNS * (2u * CSV_MAX_NAME_LEN + 16u) + 4u * CDR_MAX_TABLE_NAME + 64u <=
                   ENGINE_SQLITE_SQL_LENGTH,
               "CREATE TABLE of the widest CSV must fit SQLITE_LIMIT_SQL_LENGTH");
_Static_assert(CDR_MAX_SQL_LEN <= ENGINE_SQLITE_SQL_LENGTH, "user SQL must fit SQLITE_LIMIT_SQL_LENGTH");
/* Longest string, blob or row: one whole upload in one field, plus the
 * row's record header. */
#define ENGINE_SQLITE_LENGTH (CDR_MAX_UPLOAD_BYTES + 64u * CDR_KiB)
/* Virtual machine instructions between two looks at the clock. */
#define ENGINE_PROGRESS_OPS 1000

struct cdr_engine {
  sqlite3 *db;
  struct policy policy;
  unsigned time_limit_ms;
  size_t max_result_bytes;
  uint64_t max_result_rows;
  uint64_t deadline_ns; /* CLOCK_MONOTONIC, while a query runs */
  int timed_out;
};

/* ---- messages ---- */

/* Drop an incomplete UTF-8 sequence that truncation left at the end. */
static void utf8_trim_tail(char *s) {
  size_t k = strlen(s), cont = 0;
  while (k > 0 && cont < 3 && ((unsigned char)s[k - 1] & 0xC0) == 0x80) {
    k--;
    cont++;
  }
  if (k == 0)
    return;
  unsigned char lead = (unsigned char)s[k - 1];
  size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  if (need > cont)
    s[k - 1] = '\0';
}

/* Set *errmsg (if errmsg is not NULL) to a new message; returns rc.  The
 * message is at most CDR_MAX_ERROR_MSG bytes and valid UTF-8.  If memory
 * runs out *errmsg stays NULL. */
static int __attribute__((format(printf, 3, 4))) set_err(char **errmsg, int rc, const char *fmt, ...) {
  char m[CDR_MAX_ERROR_MSG];
  va_list ap;
  if (errmsg == NULL)
    return rc;
  va_start(ap, fmt);
  vsnprintf(m, sizeof(m), fmt, ap);
  va_end(ap);
  utf8_trim_tail(m);
  if (!csv_utf8_valid((const uint8_t *)m, strlen(m)))
    snprintf(m, sizeof(m), "%s", cdr_err_describe(rc));
  free(*errmsg);
  *errmsg = strdup(m);
  return rc;
}

/* Copy SQLite's run-time message with every '...' quotation replaced by
 * '...' literally, so that a value it quoted does not leave the enclave. */
static void redact_quoted(char *out, size_t outlen, const char *in) {
  size_t o = 0;
  if (outlen == 0)
    return;
  for (; *in != '\0' && o + 1 < outlen; in++) {
    if (*in != '\'') {
      out[o++] = *in;
      continue;
    }
    const char *end = strchr(in + 1, '\'');
    if (o + 6 >= outlen)
      break;
    memcpy(out + o, "'...'", 5);
    o += 5;
    if (end == NULL)
      break;
    in = end;
  }
  out[o] = '\0';
}

/* Map a failed SQLite call to our codes, with SQLite's message. */
static int sqlite_fail(struct cdr_engine *e, int rc, char **errmsg, const char *what) {
  switch (rc & 0xff) {
  case SQLITE_NOMEM:
    return set_err(errmsg, CDR_ERR_NOMEM, "%s: out of memory", what);
  case SQLITE_TOOBIG:
    return set_err(errmsg, CDR_ERR_TOO_LARGE, "%s: %s", what, sqlite3_errmsg(e->db));
  default:
    return set_err(errmsg, CDR_ERR_INTERNAL, "%s: %s", what, sqlite3_errmsg(e->db));
  }
}

/* ---- opening ---- */

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int engine_progress(void *arg) {
  struct cdr_engine *e = arg;
  if (mono_ns() >= e->deadline_ns) {
    e->timed_out = 1;
    return 1;
  }
  return 0;
}

/* Run one of the engine's own statements (policy in internal mode). */
static int engine_exec(struct cdr_engine *e, const char *sql, char **errmsg) {
  int rc = sqlite3_exec(e->db, sql, NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return sqlite_fail(e, rc, errmsg, "database setup failed");
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
  e->time_limit_ms = CDR_SQL_TIME_LIMIT_MS;
  e->max_result_bytes = CDR_MAX_RESULT_BYTES;
  e->max_result_rows = CDR_MAX_RESULT_ROWS;

  if ((r = sqlite3_open_v2(":memory:", &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           NULL)) != SQLITE_OK) {
    r = r == SQLITE_NOMEM ? CDR_ERR_NOMEM : CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = engine_harden(e)) != 0)
    goto out;
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
  if (e->db != NULL)
    sqlite3_close(e->db);
  policy_free(&e->policy);
  OPENSSL_cleanse(e, sizeof(*e));
  free(e);
}

void engine_set_time_limit_ms(struct cdr_engine *e, unsigned ms) {
  e->time_limit_ms = ms != 0 ? ms : CDR_SQL_TIME_LIMIT_MS;
}

void engine_set_result_limits(struct cdr_engine *e, size_t max_bytes, uint64_t max_rows) {
  if (max_bytes == 0 || max_bytes > SIZE_MAX / 4)
    max_bytes = CDR_MAX_RESULT_BYTES;
  e->max_result_bytes = max_bytes;
  e->max_result_rows = max_rows != 0 ? max_rows : CDR_MAX_RESULT_ROWS;
}

/* ---- loading ---- */

static int table_name_valid(const char *name) {
  size_t n;
  if (name == NULL || name[0] == '\0')
    return 0;
  n = strlen(name);
  if (n > CDR_MAX_TABLE_NAME)
    return 0;
  if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++) {
    char c = name[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return sqlite3_strnicmp(name, "sqlite_", 7) != 0;
}

/* *exists = whether some schema object already has this name (SQLite
 * compares names without ASCII case). */
static int table_exists(struct cdr_engine *e, const char *name, int *exists, char **errmsg) {
  sqlite3_stmt *st = NULL;
  int r, rc;
  *exists = 0;
  if ((rc = sqlite3_prepare_v3(e->db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE", -1, 0, &st,
                               NULL)) != SQLITE_OK ||
      (rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC)) != SQLITE_OK) {
    r = sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    r = sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  *exists = rc == SQLITE_ROW;
  r = 0;
out:
  sqlite3_finalize(st);
  return r;
}

struct load_ctx {
  sqlite3_stmt *ins;
  const struct csv_schema *schema;
  uint64_t rows;
  int sqlite_rc; /* SQLite's code when a row failed */
};

/* csv_record_fn for the second pass: insert one data record. */
static int load_record(void *arg, const struct csv_record *rec) {
  struct load_ctx *lc = arg;
  int rc = SQLITE_OK;

  if (rec->index == 0)
    return 0;
  if (rec->nfields != lc->schema->ncols)
    return CDR_ERR_INTERNAL;
  for (size_t i = 0; i < rec->nfields && rc == SQLITE_OK; i++) {
    int col = (int)i + 1;
    int64_t iv;
    double dv;
    if (rec->len[i] == 0) {
      rc = sqlite3_bind_null(lc->ins, col);
      continue;
    }
    switch (lc->schema->types[i]) {
    case CSV_INTEGER:
      if (csv_parse_int64(rec->field[i], rec->len[i], &iv) != 0)
        return CDR_ERR_INTERNAL; /* pass 1 said every value is one */
      rc = sqlite3_bind_int64(lc->ins, col, iv);
      break;
    case CSV_REAL:
      if (csv_parse_real(rec->field[i], rec->len[i], &dv) != 0)
        return CDR_ERR_INTERNAL;
      rc = sqlite3_bind_double(lc->ins, col, dv);
      break;
    case CSV_TEXT:
      /* len <= CSV_MAX_RECORD_BYTES < INT_MAX.  STATIC: the record
       * outlives the step below. */
      rc = sqlite3_bind_text(lc->ins, col, rec->field[i], (int)rec->len[i], SQLITE_STATIC);
      break;
    }
  }
  if (rc == SQLITE_OK && (rc = sqlite3_step(lc->ins)) == SQLITE_DONE)
    rc = SQLITE_OK;
  sqlite3_reset(lc->ins);
  sqlite3_clear_bindings(lc->ins);
  if (rc != SQLITE_OK) {
    lc->sqlite_rc = rc;
    return CDR_ERR_INTERNAL;
  }
  lc->rows++;
  return 0;
}

/* CREATE TABLE "name"("col" TYPE, ...) and the matching INSERT. */
static int build_sql(const char *name, const struct csv_schema *s, char **create, char **insert) {
  sqlite3_str *c = sqlite3_str_new(NULL), *i = sqlite3_str_new(NULL);
  int r;
  sqlite3_str_appendf(c, "CREATE TABLE \"%w\"(", name);
  sqlite3_str_appendf(i, "INSERT INTO \"%w\" VALUES(", name);
  for (size_t k = 0; k < s->ncols; k++) {
    sqlite3_str_appendf(c, "%s\"%w\" %s", k ? ", " : "", s->names[k], csv_type_name(s->types[k]));
    sqlite3_str_appendf(i, "%s?", k ? "," : "");
  }
  sqlite3_str_appendall(c, ")");
  sqlite3_str_appendall(i, ")");
  r = (sqlite3_str_errcode(c) == SQLITE_OK && sqlite3_str_errcode(i) == SQLITE_OK) ? 0 : CDR_ERR_NOMEM;
  *create = sqlite3_str_finish(c);
  *insert = sqlite3_str_finish(i);
  if (r == 0 && (*create == NULL || *insert == NULL))
    r = CDR_ERR_NOMEM;
  return r;
}

int engine_load_csv(struct cdr_engine *e, const char *name, const uint8_t *csv, size_t len, uint64_t *rows_loaded,
                    char **errmsg) {
  struct csv_schema schema;
  struct csv_parser *p = NULL;
  struct load_ctx lc;
  sqlite3_stmt *ins = NULL;
  char *create = NULL, *insert = NULL;
  char cerr[CDR_MAX_ERROR_MSG];
  int r, rc, exists, in_txn = 0, added = 0;

  memset(&schema, 0, sizeof(schema));
  memset(&lc, 0, sizeof(lc));
  if (rows_loaded != NULL)
    *rows_loaded = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || (csv == NULL && len > 0))
    return set_err(errmsg, CDR_ERR_ARG, "no engine or no data");
  if (!table_name_valid(name))
    return set_err(errmsg, CDR_ERR_TABLE_NAME,
                   "table name must match [A-Za-z_][A-Za-z0-9_]{0,63} and must not start with sqlite_");
  if (len > CDR_MAX_UPLOAD_BYTES)
    return set_err(errmsg, CDR_ERR_TOO_LARGE, "the CSV is %zu bytes; the limit is %u bytes", len,
                   CDR_MAX_UPLOAD_BYTES);

  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if ((r = table_exists(e, name, &exists, errmsg)) != 0)
    goto out;
  if (exists) {
    r = set_err(errmsg, CDR_ERR_TABLE_EXISTS, "table %s already exists", name);
    goto out;
  }
  /* Pass 1: validate everything and infer the column types. */
  if ((r = csv_schema_infer(&schema, csv, len, cerr, sizeof(cerr))) != 0) {
    r = r == CDR_ERR_CSV ? set_err(errmsg, r, "%s", cerr) : set_err(errmsg, r, "out of memory");
    goto out;
  }
  if ((r = build_sql(name, &schema, &create, &insert)) != 0) {
    r = set_err(errmsg, r, "out of memory");
    goto out;
  }
  if ((rc = sqlite3_exec(e->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) {
    r = sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  in_txn = 1;
  if ((rc = sqlite3_exec(e->db, create, NULL, NULL, NULL)) != SQLITE_OK) {
    r = sqlite_fail(e, rc, errmsg, "creating the table failed");
    goto out;
  }
  if ((rc = sqlite3_prepare_v3(e->db, insert, -1, SQLITE_PREPARE_PERSISTENT, &ins, NULL)) != SQLITE_OK) {
    r = sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  /* Pass 2: insert.  The bytes are the ones pass 1 accepted. */
  lc.ins = ins;
  lc.schema = &schema;
  if ((r = csv_parser_new(&p, load_record, &lc)) != 0) {
    r = set_err(errmsg, r, "out of memory");
    goto out;
  }
  if ((r = csv_parser_feed(p, csv, len)) != 0 || (r = csv_parser_finish(p)) != 0) {
    if (r == CDR_ERR_CSV)
      r = set_err(errmsg, r, "%s", csv_parser_error(p));
    else if (lc.sqlite_rc != SQLITE_OK)
      r = sqlite_fail(e, lc.sqlite_rc, errmsg, "inserting a row failed");
    else
      r = set_err(errmsg, r, "loading failed");
    goto out;
  }
  if (lc.rows != schema.nrows) {
    r = set_err(errmsg, CDR_ERR_INTERNAL, "loading failed: row count changed between passes");
    goto out;
  }
  if ((r = policy_add_table(&e->policy, name)) != 0) {
    r = set_err(errmsg, r, "out of memory");
    goto out;
  }
  added = 1;
  if ((rc = sqlite3_exec(e->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    r = sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  in_txn = 0;
  if (rows_loaded != NULL)
    *rows_loaded = lc.rows;
  r = 0;
out:
  sqlite3_finalize(ins);
  if (in_txn)
    (void)sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
  if (r != 0 && added)
    policy_remove_table(&e->policy, name);
  policy_set_mode(&e->policy, POLICY_USER);
  csv_parser_free(p);
  csv_schema_free(&schema);
  sqlite3_free(create);
  sqlite3_free(insert);
  return r;
}

/* ---- querying ---- */

/* The JSON being built: d[0..len) plus room for a NUL; len <= max. */
struct jbuf {
  char *d;
  size_t len, cap, max;
};

/* Make room for n more bytes and a NUL.  CDR_ERR_RESULT_TOO_LARGE if the
 * document would pass max, CDR_ERR_NOMEM. */
static int jb_reserve(struct jbuf *j, size_t n) {
  size_t need, ncap;
  char *nd;
  if (n > j->max || j->len > j->max - n)
    return CDR_ERR_RESULT_TOO_LARGE;
  need = j->len + n + 1; /* max <= SIZE_MAX / 4: no overflow */
  if (need <= j->cap)
    return 0;
  ncap = j->cap ? j->cap : 4096;
  while (ncap < need)
    ncap *= 2;
  if (ncap > j->max + 1)
    ncap = j->max + 1;
  if ((nd = malloc(ncap)) == NULL)
    return CDR_ERR_NOMEM;
  if (j->d != NULL) {
    memcpy(nd, j->d, j->len);
    OPENSSL_clear_free(j->d, j->cap);
  }
  j->d = nd;
  j->cap = ncap;
  return 0;
}

static int jb_put(struct jbuf *j, const void *p, size_t n) {
  int r;
  if ((r = jb_reserve(j, n)) != 0)
    return r;
  memcpy(j->d + j->len, p, n);
  j->len += n;
  j->d[j->len] = '\0';
  return 0;
}

static int jb_puts(struct jbuf *j, const char *s) { return jb_put(j, s, strlen(s)); }

static void jb_free(struct jbuf *j) {
  if (j->d != NULL)
    OPENSSL_clear_free(j->d, j->cap);
  j->d = NULL;
  j->len = j->cap = 0;
}

/* A JSON string of valid UTF-8: quote, backslash and control characters
 * escaped, everything else copied. */
static int jb_put_string(struct jbuf *j, const uint8_t *s, size_t n) {
  static const char hexd[] = "0123456789abcdef";
  size_t i = 0, run;
  int r;
  if ((r = jb_put(j, "\"", 1)) != 0)
    return r;
  while (i < n) {
    for (run = i; run < n && s[run] >= 0x20 && s[run] != '"' && s[run] != '\\'; run++)
      ;
    if (run > i && (r = jb_put(j, s + i, run - i)) != 0)
      return r;
    if ((i = run) == n)
      break;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t elen = 2;
    switch (s[i]) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hexd[s[i] >> 4];
      esc[5] = hexd[s[i] & 15];
      elen = 6;
      break;
    }
    if ((r = jb_put(j, esc, elen)) != 0)
      return r;
    i++;
  }
  return jb_put(j, "\"", 1);
}

/* {"hex":"..."} for bytes that are not text. */
static int jb_put_hex(struct jbuf *j, const uint8_t *p, size_t n) {
  int r;
  if (n > (SIZE_MAX - 1) / 2)
    return CDR_ERR_RESULT_TOO_LARGE;
  if ((r = jb_puts(j, "{\"hex\":\"")) != 0 || (r = jb_reserve(j, 2 * n)) != 0)
    return r;
  cdr_hex_encode(j->d + j->len, p, n); /* writes 2n digits and a NUL */
  j->len += 2 * n;
  return jb_puts(j, "\"}");
}

/* The shortest of %.15g..%.17g that reads back as v, with ".0" added to
 * integral values so that a REAL stays distinguishable from an INTEGER.
 * (Assumes the C locale's decimal point, as the enclave never sets one.) */
static int jb_put_double(struct jbuf *j, double v) {
  char b[48];
  if (isnan(v))
    return jb_puts(j, "{\"real\":\"nan\"}");
  if (isinf(v))
    return jb_puts(j, v > 0 ? "{\"real\":\"inf\"}" : "{\"real\":\"-inf\"}");
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(b, sizeof(b), "%.*g", prec, v);
    if (strtod(b, NULL) == v)
      break;
  }
  if (strpbrk(b, ".eE") == NULL) {
    size_t n = strlen(b);
    if (n + 3 <= sizeof(b))
      memcpy(b + n, ".0", 3);
  }
  return jb_puts(j, b);
}

static int jb_put_text(struct jbuf *j, const uint8_t *p, size_t n) {
  return csv_utf8_valid(p, n) ? jb_put_string(j, p, n) : jb_put_hex(j, p, n);
}

static int jb_put_value(struct jbuf *j, sqlite3_stmt *st, int i) {
  char b[32];
  const uint8_t *p;
  size_t n;
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER:
    snprintf(b, sizeof(b), "%lld", (long long)sqlite3_column_int64(st, i));
    return jb_puts(j, b);
  case SQLITE_FLOAT:
    return jb_put_double(j, sqlite3_column_double(st, i));
  case SQLITE_TEXT:
    p = sqlite3_column_text(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    if (p == NULL)
      return CDR_ERR_NOMEM; /* a TEXT value is never NULL otherwise */
    return jb_put_text(j, p, n);
  case SQLITE_BLOB:
    p = sqlite3_column_blob(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    if (p == NULL && n > 0)
      return CDR_ERR_NOMEM;
    return jb_put_hex(j, p, n);
  default:
    return jb_puts(j, "null");
  }
}

/* Skip blanks, comments and semicolons from s[i]; returns the index of
 * the first other byte, or n.  An unterminated block comment runs to the
 * end, as in SQLite's tokenizer. */
static size_t sql_skip_blank(const char *s, size_t n, size_t i) {
  while (i < n) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == ';') {
      i++;
    } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
      for (i += 2; i < n && s[i] != '\n'; i++)
        ;
    } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
      for (i += 2; i + 1 < n && !(s[i] == '*' && s[i + 1] == '/'); i++)
        ;
      i = i + 1 < n ? i + 2 : n;
    } else {
      break;
    }
  }
  return i;
}

/* The statement at s[0..n) starts with SELECT, WITH or VALUES. */
static int sql_starts_with_query(const char *s, size_t n) {
  static const char *const kw[] = {"SELECT", "WITH", "VALUES"};
  for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
    size_t m = strlen(kw[k]);
    if (n >= m && sqlite3_strnicmp(s, kw[k], (int)m) == 0) {
      char c = n > m ? s[m] : ' ';
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
            (unsigned char)c >= 0x80))
        return 1;
    }
  }
  return 0;
}

/* Step st to the end, rendering the JSON document into j.  On failure
 * *errmsg says why: the time limit, a denial during a re-prepare, the
 * result limits, or SQLite's (redacted) run-time message. */
static int render_result(struct cdr_engine *e, sqlite3_stmt *st, struct jbuf *j, uint64_t *rows, char **errmsg) {
  char b[64], m[CDR_MAX_ERROR_MSG];
  int r, rc, ncol = sqlite3_column_count(st);

  *rows = 0;
  if ((r = jb_puts(j, "{\"columns\":[")) != 0)
    goto out;
  for (int i = 0; i < ncol; i++) {
    const char *name = sqlite3_column_name(st, i);
    if (name == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    if ((i > 0 && (r = jb_put(j, ",", 1)) != 0) || (r = jb_put_text(j, (const uint8_t *)name, strlen(name))) != 0)
      goto out;
  }
  if ((r = jb_puts(j, "],\"rows\":[")) != 0)
    goto out;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (*rows >= e->max_result_rows) {
      r = set_err(errmsg, CDR_ERR_RESULT_TOO_LARGE, "the result has more than %llu rows",
                  (unsigned long long)e->max_result_rows);
      goto out;
    }
    if ((*rows > 0 && (r = jb_put(j, ",", 1)) != 0) || (r = jb_put(j, "[", 1)) != 0)
      goto out;
    for (int i = 0; i < ncol; i++)
      if ((i > 0 && (r = jb_put(j, ",", 1)) != 0) || (r = jb_put_value(j, st, i)) != 0)
        goto out;
    if ((r = jb_put(j, "]", 1)) != 0)
      goto out;
    (*rows)++;
  }
  if (rc != SQLITE_DONE) {
    if (e->timed_out) {
      r = set_err(errmsg, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of %u ms", e->time_limit_ms);
    } else if (policy_denial(&e->policy) != NULL) {
      r = set_err(errmsg, CDR_ERR_SQL_DENIED, "%s", policy_denial(&e->policy));
    } else if ((rc & 0xff) == SQLITE_NOMEM) {
      r = set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    } else {
      redact_quoted(m, sizeof(m), sqlite3_errmsg(e->db));
      r = set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", m);
    }
    goto out;
  }
  snprintf(b, sizeof(b), "],\"row_count\":%llu}", (unsigned long long)*rows);
  r = jb_puts(j, b);
out:
  /* The buffer's own failures carry no message yet. */
  if (r == CDR_ERR_RESULT_TOO_LARGE && (errmsg == NULL || *errmsg == NULL))
    r = set_err(errmsg, r, "the result is larger than %zu bytes", e->max_result_bytes);
  else if (r == CDR_ERR_NOMEM && (errmsg == NULL || *errmsg == NULL))
    r = set_err(errmsg, r, "out of memory");
  return r;
}

int engine_query_json(struct cdr_engine *e, const char *sql, size_t sqllen, char **json_out, size_t *json_len,
                      uint64_t *rows_out, char **errmsg) {
  struct jbuf j;
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  uint64_t rows = 0;
  size_t start;
  int r, rc;

  memset(&j, 0, sizeof(j));
  *json_out = NULL;
  if (json_len != NULL)
    *json_len = 0;
  if (rows_out != NULL)
    *rows_out = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || (sql == NULL && sqllen > 0))
    return set_err(errmsg, CDR_ERR_ARG, "no engine or no SQL");
  if (sqllen > CDR_MAX_SQL_LEN)
    return set_err(errmsg, CDR_ERR_TOO_LARGE, "the SQL statement is %zu bytes; the limit is %u bytes", sqllen,
                   CDR_MAX_SQL_LEN);
  if (sqllen > 0 && memchr(sql, '\0', sqllen) != NULL)
    return set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text contains a NUL byte");
  if (!csv_utf8_valid((const uint8_t *)sql, sqllen))
    return set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text is not valid UTF-8");
  if ((start = sql_skip_blank(sql, sqllen, 0)) == sqllen)
    return set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the request holds no statement");

  policy_set_mode(&e->policy, POLICY_USER);
  policy_clear_denial(&e->policy);
  e->timed_out = 0;
  e->deadline_ns = mono_ns() + (uint64_t)e->time_limit_ms * 1000000u;
  sqlite3_progress_handler(e->db, ENGINE_PROGRESS_OPS, engine_progress, e);

  rc = sqlite3_prepare_v3(e->db, sql + start, (int)(sqllen - start), 0, &st, &tail);
  if (policy_denial(&e->policy) != NULL || rc == SQLITE_AUTH) {
    const char *why = policy_denial(&e->policy);
    r = set_err(errmsg, CDR_ERR_SQL_DENIED, "%s", why != NULL ? why : "the statement is not allowed");
    goto out;
  }
  if (rc != SQLITE_OK) {
    if ((rc & 0xff) == SQLITE_NOMEM)
      r = set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    else if ((rc & 0xff) == SQLITE_TOOBIG)
      r = set_err(errmsg, CDR_ERR_TOO_LARGE, "%s", sqlite3_errmsg(e->db));
    else
      r = set_err(errmsg, CDR_ERR_SQL_ERROR, "%s", sqlite3_errmsg(e->db));
    goto out;
  }
  if (st == NULL) {
    r = set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the request holds no statement");
    goto out;
  }
  if (tail == NULL || tail < sql || tail > sql + sqllen ||
      sql_skip_blank(sql, sqllen, (size_t)(tail - sql)) != sqllen) {
    r = set_err(errmsg, CDR_ERR_SQL_DENIED, "only one statement per request is allowed");
    goto out;
  }
  if (!sqlite3_stmt_readonly(st) || sqlite3_stmt_isexplain(st) || !sql_starts_with_query(sql + start, sqllen - start)) {
    r = set_err(errmsg, CDR_ERR_SQL_DENIED,
                "only queries (SELECT, WITH ... SELECT, VALUES) are allowed: a data room is read-only");
    goto out;
  }
  j.max = e->max_result_bytes;
  if ((r = render_result(e, st, &j, &rows, errmsg)) != 0)
    goto out;
  *json_out = j.d;
  if (json_len != NULL)
    *json_len = j.len;
  if (rows_out != NULL)
    *rows_out = rows;
  j.d = NULL;
  r = 0;
out:
  sqlite3_finalize(st);
  sqlite3_progress_handler(e->db, 0, NULL, NULL);
  policy_clear_denial(&e->policy);
  jb_free(&j);
  return r;
}
