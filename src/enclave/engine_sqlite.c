/*
 * engine_sqlite.c - the query engine (engine.h) over one in-memory SQLite
 * database.
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
 *     compiled program is checked too (check_program): every table
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
 *   - Buffers of ours that held data values (the JSON being built, the
 *     CSV parser's record) are wiped before they are freed.  SQLite's own
 *     memory is released to the allocator unwiped when the engine closes.
 */
#include "engine.h"
#include "engine_int.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/limits.h"
#include "common/util.h"
#include "catalog.h"
#include "common/csv.h"
#include "common/utf8.h"
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
/* Virtual machine instructions between two looks at the clock. */
#define ENGINE_PROGRESS_OPS 1000


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
  if (!cdr_utf8_valid((const uint8_t *)m, strlen(m)))
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

/* engine_int.h: the same for the other files of the engine. */
int engine_set_err(char **errmsg, int rc, const char *fmt, ...) {
  char m[CDR_MAX_ERROR_MSG];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof(m), fmt, ap);
  va_end(ap);
  return set_err(errmsg, rc, "%s", m);
}

int engine_sqlite_fail(struct cdr_engine *e, int rc, char **errmsg, const char *what) {
  return sqlite_fail(e, rc, errmsg, what);
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
  catalog_init(&e->catalog);
  policy_set_catalog(&e->policy, &e->catalog);
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
  engine_uploads_abort_all(e); /* their statements must go before the database */
  sqlite3_finalize(e->restore_ins);
  if (e->db != NULL)
    sqlite3_close(e->db);
  policy_free(&e->policy);
  catalog_free(&e->catalog);
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

/* ---- owner operations ---- */

/* The table `table` if who owns it; else NULL with *r and *errmsg set
 * (CDR_ERR_NOT_FOUND, CDR_ERR_ACCESS_DENIED naming the owner). */
static struct catalog_table *owned_table(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                                         const char *verb, int *r, char **errmsg) {
  struct catalog_table *t;
  if (e == NULL || who == NULL || who->name == NULL || table == NULL) {
    *r = set_err(errmsg, CDR_ERR_ARG, "no engine, user or table");
    return NULL;
  }
  if ((t = catalog_find(&e->catalog, table)) == NULL) {
    *r = set_err(errmsg, CDR_ERR_NOT_FOUND, "there is no table %.64s", table);
    return NULL;
  }
  if (strcmp(t->owner, who->name) != 0) {
    *r = set_err(errmsg, CDR_ERR_ACCESS_DENIED, "table %s belongs to %s: only its owner can %s", t->name, t->owner,
                 verb);
    return NULL;
  }
  *r = 0;
  return t;
}

int engine_drop(struct cdr_engine *e, const struct engine_principal *who, const char *table, char **errmsg) {
  struct catalog_table *t;
  char *sql;
  int r, rc;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = owned_table(e, who, table, "drop it", &r, errmsg)) == NULL)
    return r;
  if ((sql = sqlite3_mprintf("DROP TABLE \"%w\"", t->name)) == NULL)
    return set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  rc = sqlite3_exec(e->db, sql, NULL, NULL, NULL);
  policy_set_mode(&e->policy, POLICY_USER);
  sqlite3_free(sql);
  if (rc != SQLITE_OK)
    return sqlite_fail(e, rc, errmsg, "dropping the table failed");
  if ((r = catalog_remove(&e->catalog, t->name)) != 0)
    return set_err(errmsg, CDR_ERR_INTERNAL, "the catalog lost the table");
  return 0;
}

/* Encoded size of a grant to grantee of n named columns (the table's
 * spelling has the same length: names match without ASCII case). */
static size_t grant_encoded_size(const char *grantee, const char *const *cols, size_t n) {
  size_t s = 4 + strlen(grantee) + 1 + 4;
  for (size_t i = 0; cols != NULL && i < n; i++)
    s += 4 + strlen(cols[i]);
  return s;
}

int engine_grant(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *grantee,
                 const char *const *columns, size_t ncolumns, char **errmsg) {
  struct catalog_table *t;
  const struct catalog_grant *old;
  const char *bad = NULL;
  char b[80];
  size_t size;
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = owned_table(e, who, table, "grant access to it", &r, errmsg)) == NULL)
    return r;
  if (!catalog_grantee_valid(grantee))
    return set_err(errmsg, CDR_ERR_ARG, "a grant goes to a user name or to role:analyst, role:provider or role:auditor");
  if (strcmp(grantee, t->owner) == 0)
    return set_err(errmsg, CDR_ERR_ARG, "%s owns table %s already", t->owner, t->name);
  if (columns != NULL && (ncolumns == 0 || ncolumns > t->ncols))
    return set_err(errmsg, CDR_ERR_ARG, "the column list must name between 1 and %zu distinct columns of %s",
                   t->ncols, t->name);
  for (size_t i = 0; columns != NULL && i < ncolumns; i++)
    if (columns[i] == NULL || strlen(columns[i]) > CDR_MAX_COLUMN_NAME)
      return set_err(errmsg, CDR_ERR_ARG, "a column name is missing or too long");
  old = catalog_grant_find(t, grantee);
  size = catalog_encoded_size(&e->catalog) + grant_encoded_size(grantee, columns, ncolumns);
  if (old != NULL)
    size -= grant_encoded_size(old->grantee, (const char *const *)old->cols, old->ncols);
  if (size > CDR_MAX_CATALOG_BYTES)
    return set_err(errmsg, CDR_ERR_TOO_LARGE, "the room's catalog would pass its limit of %u bytes",
                   CDR_MAX_CATALOG_BYTES);
  switch ((r = catalog_grant(t, grantee, columns, ncolumns, &bad))) {
  case 0:
    return 0;
  case CDR_ERR_NOT_FOUND:
    snprintf(b, sizeof(b), "%.64s", bad != NULL ? bad : "?");
    return set_err(errmsg, r, "table %s has no column %s", t->name, b);
  case CDR_ERR_ARG:
    snprintf(b, sizeof(b), "%.64s", bad != NULL ? bad : "?");
    return set_err(errmsg, r, "column %s is listed twice", b);
  case CDR_ERR_TOO_LARGE:
    return set_err(errmsg, r, "table %s already has %u grants", t->name, CDR_MAX_GRANTS_PER_TABLE);
  default:
    return set_err(errmsg, r, "out of memory");
  }
}

int engine_revoke_grant(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                        const char *grantee, char **errmsg) {
  struct catalog_table *t;
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = owned_table(e, who, table, "revoke its grants", &r, errmsg)) == NULL)
    return r;
  if (grantee == NULL || catalog_revoke(t, grantee) != 0)
    return set_err(errmsg, CDR_ERR_NOT_FOUND, "%.140s holds no grant on table %s", grantee ? grantee : "?", t->name);
  return 0;
}

int engine_hide(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *column,
                int hidden, char **errmsg) {
  struct catalog_table *t;
  long k;
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = owned_table(e, who, table, "hide its columns", &r, errmsg)) == NULL)
    return r;
  if ((k = catalog_column_index(t, column)) < 0)
    return set_err(errmsg, CDR_ERR_NOT_FOUND, "table %s has no column %.64s", t->name, column ? column : "?");
  t->cols[k].hidden = hidden != 0;
  return 0;
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
  /* A NUL inside TEXT would need "\u0000", which strict JSON readers
   * (ours among them) refuse: such values travel as hex, like non-UTF-8. */
  return cdr_utf8_valid(p, n) && memchr(p, 0, n) == NULL ? jb_put_string(j, p, n) : jb_put_hex(j, p, n);
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
      r = set_err(errmsg, policy_denial_code(&e->policy), "%s", policy_denial(&e->policy));
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

/* ---- the compiled program ---- */

/* The VDBE opcodes check_program looks at (names as EXPLAIN prints them). */
enum prog_op { PROG_OPEN_READ, PROG_OPEN_WRITE, PROG_OPEN_DUP, PROG_COLUMN, PROG_ROW_DATA };

struct prog_ins {
  enum prog_op op;
  long long p1, p2, p3;
  int p5;
};

/* SQLite's OPFLAG_P2ISREG (sqliteInt.h): OpenRead's root page comes from a
 * register. */
#define ENGINE_OPFLAG_P2ISREG 0x10
/* Cursor numbers beyond this are not expected from one statement. */
#define ENGINE_MAX_CURSORS 65536

static int prog_op_of(const char *name, enum prog_op *op) {
  static const struct {
    const char *name;
    enum prog_op op;
  } ops[] = {{"OpenRead", PROG_OPEN_READ}, {"ReopenIdx", PROG_OPEN_READ}, {"OpenWrite", PROG_OPEN_WRITE},
             {"OpenDup", PROG_OPEN_DUP},   {"Column", PROG_COLUMN},       {"RowData", PROG_ROW_DATA},
             {"RowCell", PROG_ROW_DATA}};
  for (size_t i = 0; name != NULL && i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(name, ops[i].name) == 0) {
      *op = ops[i].op;
      return 1;
    }
  }
  return 0;
}

/* The room table whose b-tree starts at root page `page` of main, or NULL. */
static const struct catalog_table *table_at_root(struct cdr_engine *e, long long page, int *rc) {
  sqlite3_stmt *st = NULL;
  const struct catalog_table *t = NULL;
  *rc = sqlite3_prepare_v3(e->db, "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND rootpage = ?1", -1, 0,
                           &st, NULL);
  if (*rc == SQLITE_OK && (*rc = sqlite3_bind_int64(st, 1, page)) == SQLITE_OK) {
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW)
      t = catalog_find(&e->catalog, (const char *)sqlite3_column_text(st, 0));
    if (*rc == SQLITE_ROW || *rc == SQLITE_DONE)
      *rc = SQLITE_OK;
  }
  sqlite3_finalize(st);
  return t;
}

/* Collect the instructions of the program of stmt[0..n) that open or
 * read table cursors, by preparing it again under EXPLAIN (internal
 * mode: EXPLAIN lists the program, it does not run it). */
static int program_read(struct cdr_engine *e, const char *stmt, size_t n, struct prog_ins **out, size_t *nout,
                        char **errmsg) {
  struct prog_ins *v = NULL, *nv;
  size_t cnt = 0, cap = 0;
  sqlite3_stmt *st = NULL;
  char *sql;
  int r = 0, rc;

  *out = NULL;
  *nout = 0;
  if ((sql = sqlite3_mprintf("EXPLAIN %.*s", (int)n, stmt)) == NULL)
    return set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  if ((rc = sqlite3_prepare_v3(e->db, sql, -1, 0, &st, NULL)) != SQLITE_OK) {
    /* The statement itself prepared, but EXPLAIN of it can still fail on
     * the SQL (one more level for SQLite's parser: "parser stack
     * overflow" for deeply nested expressions): the user's to fix, and
     * the statement does not run unchecked. */
    if ((rc & 0xff) == SQLITE_ERROR)
      r = set_err(errmsg, CDR_ERR_SQL_ERROR, "the statement could not be checked: %s", sqlite3_errmsg(e->db));
    else
      r = sqlite_fail(e, rc, errmsg, "checking the statement failed");
    goto out;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    enum prog_op op;
    if (!prog_op_of((const char *)sqlite3_column_text(st, 1), &op))
      continue;
    if (cnt == cap) {
      cap = cap ? cap * 2 : 64;
      if ((nv = realloc(v, cap * sizeof(*v))) == NULL) {
        r = set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
        goto out;
      }
      v = nv;
    }
    v[cnt].op = op;
    v[cnt].p1 = sqlite3_column_int64(st, 2);
    v[cnt].p2 = sqlite3_column_int64(st, 3);
    v[cnt].p3 = sqlite3_column_int64(st, 4);
    v[cnt].p5 = sqlite3_column_int(st, 6);
    cnt++;
  }
  if (rc != SQLITE_DONE) {
    r = e->timed_out ? set_err(errmsg, CDR_ERR_SQL_TIMEOUT, "query exceeded its time limit of %u ms", e->time_limit_ms)
                     : sqlite_fail(e, rc, errmsg, "checking the statement failed");
    goto out;
  }
  *out = v;
  *nout = cnt;
  v = NULL;
out:
  sqlite3_finalize(st);
  sqlite3_free(sql);
  free(v);
  return r;
}

/* Check the program of the user statement stmt[0..n), already prepared
 * and authorised: every table cursor must be on a room table the
 * principal may access (OpenRead of anything else, OpenWrite, or a
 * schema other than main is refused), and every column read from one
 * (Column; RowData reads them all) must be readable by the principal.
 * The denial is the policy's sentence.  This is what catches the
 * columns of JOIN ... USING and NATURAL JOIN, which SQLite never shows
 * the authorizer.  Cursor numbers are unique within a program, so the
 * cursors are mapped first and the reads checked after, whatever the
 * order in which the program jumps between them. */
static int check_program(struct cdr_engine *e, const char *stmt, size_t n, char **errmsg) {
  struct prog_ins *ins = NULL;
  const struct catalog_table **cur = NULL;
  size_t nins = 0, ncur = 0;
  int r, rc, changed;

  policy_set_mode(&e->policy, POLICY_INTERNAL);
  r = program_read(e, stmt, n, &ins, &nins, errmsg);
  if (r != 0)
    goto out;
  for (size_t i = 0; i < nins; i++)
    if (ins[i].p1 >= 0 && ins[i].p1 < ENGINE_MAX_CURSORS && (size_t)ins[i].p1 >= ncur)
      ncur = (size_t)ins[i].p1 + 1;
  if (ncur > 0 && (cur = calloc(ncur, sizeof(*cur))) == NULL) {
    r = set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  /* Map the table cursors. */
  for (size_t i = 0; i < nins; i++) {
    const struct prog_ins *x = &ins[i];
    const struct catalog_table *t;
    if (x->op == PROG_OPEN_WRITE) {
      r = set_err(errmsg, CDR_ERR_SQL_DENIED, "writing is not allowed: queries in a data room are read-only");
      goto out;
    }
    if (x->op != PROG_OPEN_READ)
      continue;
    if (x->p1 < 0 || (size_t)x->p1 >= ncur || x->p3 != 0 || (x->p5 & ENGINE_OPFLAG_P2ISREG) != 0) {
      r = set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement reads outside the room's tables");
      goto out;
    }
    if ((t = table_at_root(e, x->p2, &rc)) == NULL) {
      r = rc != SQLITE_OK ? sqlite_fail(e, rc, errmsg, "checking the statement failed")
                          : set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement reads outside the room's tables");
      goto out;
    }
    if (cur[x->p1] != NULL && cur[x->p1] != t) {
      r = set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement's program is not understood");
      goto out;
    }
    cur[x->p1] = t;
  }
  /* Duplicated cursors read the same table. */
  do {
    changed = 0;
    for (size_t i = 0; i < nins; i++) {
      const struct prog_ins *x = &ins[i];
      if (x->op != PROG_OPEN_DUP || x->p1 < 0 || x->p2 < 0 || (size_t)x->p1 >= ncur || (size_t)x->p2 >= ncur)
        continue;
      if (cur[x->p2] != NULL && cur[x->p1] != cur[x->p2]) {
        cur[x->p1] = cur[x->p2];
        changed = 1;
      }
    }
  } while (changed);
  /* Table access for every cursor, column access for every read. */
  policy_set_mode(&e->policy, POLICY_USER);
  for (size_t i = 0; i < nins; i++) {
    const struct prog_ins *x = &ins[i];
    const struct catalog_table *t = x->p1 >= 0 && (size_t)x->p1 < ncur ? cur[x->p1] : NULL;
    if (t == NULL)
      continue; /* an ephemeral table, sorter, pseudo or virtual table cursor */
    if (x->op == PROG_OPEN_READ || x->op == PROG_OPEN_DUP) {
      rc = policy_check_read(&e->policy, t->name, "");
    } else if (x->op == PROG_COLUMN) {
      if (x->p2 < 0 || (unsigned long long)x->p2 >= t->ncols) {
        r = set_err(errmsg, CDR_ERR_SQL_DENIED, "the statement's program is not understood");
        goto out;
      }
      rc = policy_check_read(&e->policy, t->name, t->cols[x->p2].name);
    } else { /* the whole record */
      rc = SQLITE_OK;
      for (size_t k = 0; k < t->ncols && rc == SQLITE_OK; k++)
        rc = policy_check_read(&e->policy, t->name, t->cols[k].name);
    }
    if (rc != SQLITE_OK) {
      r = set_err(errmsg, policy_denial_code(&e->policy), "%s", policy_denial(&e->policy));
      goto out;
    }
  }
  r = 0;
out:
  policy_set_mode(&e->policy, POLICY_USER);
  free(cur);
  free(ins);
  return r;
}

void engine_query_tables(struct cdr_engine *e, void (*fn)(void *ud, const char *table), void *ud) {
  const struct policy_names *t = policy_touched(&e->policy);
  for (size_t i = 0; i < t->n; i++)
    fn(ud, t->v[i]);
}

int engine_query_json(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t sqllen,
                      char **json_out, size_t *json_len, uint64_t *rows_out, char **errmsg) {
  struct jbuf j;
  sqlite3_stmt *st = NULL;
  const char *tail = NULL;
  uint64_t rows = 0;
  size_t start;
  int r, rc;

  memset(&j, 0, sizeof(j));
  if (e != NULL)
    policy_clear_touched(&e->policy);
  *json_out = NULL;
  if (json_len != NULL)
    *json_len = 0;
  if (rows_out != NULL)
    *rows_out = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || who == NULL || who->name == NULL || (sql == NULL && sqllen > 0))
    return set_err(errmsg, CDR_ERR_ARG, "no engine, user or SQL");
  if (sqllen > CDR_MAX_SQL_LEN)
    return set_err(errmsg, CDR_ERR_TOO_LARGE, "the SQL statement is %zu bytes; the limit is %u bytes", sqllen,
                   CDR_MAX_SQL_LEN);
  if (sqllen > 0 && memchr(sql, '\0', sqllen) != NULL)
    return set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text contains a NUL byte");
  if (!cdr_utf8_valid((const uint8_t *)sql, sqllen))
    return set_err(errmsg, CDR_ERR_SQL_ERROR, "the SQL text is not valid UTF-8");
  if ((start = sql_skip_blank(sql, sqllen, 0)) == sqllen)
    return set_err(errmsg, CDR_ERR_SQL_ERROR, "empty SQL: the request holds no statement");

  policy_set_mode(&e->policy, POLICY_USER);
  policy_set_principal(&e->policy, who);
  policy_clear_denial(&e->policy);
  e->timed_out = 0;
  e->deadline_ns = mono_ns() + (uint64_t)e->time_limit_ms * 1000000u;
  sqlite3_progress_handler(e->db, ENGINE_PROGRESS_OPS, engine_progress, e);

  rc = sqlite3_prepare_v3(e->db, sql + start, (int)(sqllen - start), 0, &st, &tail);
  if (policy_denial(&e->policy) != NULL || rc == SQLITE_AUTH) {
    const char *why = policy_denial(&e->policy);
    r = set_err(errmsg, why != NULL ? policy_denial_code(&e->policy) : CDR_ERR_SQL_DENIED, "%s",
                why != NULL ? why : "the statement is not allowed");
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
  if ((r = check_program(e, sql + start, (size_t)(tail - (sql + start)), errmsg)) != 0)
    goto out;
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
  policy_set_principal(&e->policy, NULL);
  jb_free(&j);
  return r;
}

/* ---- the table list ---- */

static int jb_dump_cb(const char *p, size_t n, void *ud) { return jb_put(ud, p, n) == 0 ? 0 : -1; }

static const char *access_name(enum policy_table_access a) {
  switch (a) {
  case POLICY_ACCESS_OWNER: return "owner";
  case POLICY_ACCESS_ALL: return "all";
  default: return "columns";
  }
}

/* The JSON object describing t to who (access a, not NONE); NULL if
 * memory runs out. */
static json_t *table_json(const struct catalog_table *t, const struct engine_principal *who,
                          enum policy_table_access a) {
  char fp[65];
  json_t *o, *cols, *grants = NULL;
  cdr_hex_encode(fp, t->owner_key_fp, sizeof(t->owner_key_fp));
  o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "name", t->name, "owner", t->owner, "owner_key_sha256", fp,
                "created_at", (json_int_t)t->created_at, "rows", (json_int_t)t->rows, "access", access_name(a));
  cols = json_array();
  if (o == NULL || cols == NULL || json_object_set_new(o, "columns", cols) != 0) {
    json_decref(o);
    return NULL;
  }
  for (size_t k = 0; k < t->ncols; k++) {
    int readable = policy_access(t, who, t->cols[k].name, NULL, 0) == 0;
    if (json_array_append_new(cols, json_pack("{s:s,s:s,s:b,s:b}", "name", t->cols[k].name, "type", t->cols[k].type,
                                              "hidden", t->cols[k].hidden, "readable", readable)) != 0)
      goto fail;
  }
  if (a != POLICY_ACCESS_OWNER)
    return o;
  if ((grants = json_array()) == NULL || json_object_set_new(o, "grants", grants) != 0)
    goto fail;
  for (size_t i = 0; i < t->ngrants; i++) {
    const struct catalog_grant *g = &t->grants[i];
    json_t *gc = g->all_columns ? json_string("all") : json_array();
    for (size_t k = 0; gc != NULL && !g->all_columns && k < g->ncols; k++)
      if (json_array_append_new(gc, json_string(g->cols[k])) != 0) {
        json_decref(gc);
        gc = NULL;
      }
    if (gc == NULL || json_array_append_new(grants, json_pack("{s:s,s:o}", "to", g->grantee, "columns", gc)) != 0)
      goto fail;
  }
  return o;
fail:
  json_decref(o);
  return NULL;
}

int engine_tables_json(struct cdr_engine *e, const struct engine_principal *who, char **json_out, size_t *json_len,
                       char **errmsg) {
  struct jbuf j;
  json_t *arr = NULL, *o;
  int r;

  memset(&j, 0, sizeof(j));
  *json_out = NULL;
  if (json_len != NULL)
    *json_len = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || who == NULL || who->name == NULL)
    return set_err(errmsg, CDR_ERR_ARG, "no engine or user");
  if ((arr = json_array()) == NULL)
    return set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < e->catalog.n; i++) {
    const struct catalog_table *t = e->catalog.tables[i];
    enum policy_table_access a = policy_table_access(t, who);
    if (a == POLICY_ACCESS_NONE)
      continue;
    if ((o = table_json(t, who, a)) == NULL || json_array_append_new(arr, o) != 0) {
      r = set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
      goto out;
    }
  }
  j.max = e->max_result_bytes;
  if (json_dump_callback(arr, jb_dump_cb, &j, JSON_COMPACT) != 0 || j.d == NULL) {
    r = set_err(errmsg, CDR_ERR_RESULT_TOO_LARGE, "the list of tables is larger than %zu bytes", e->max_result_bytes);
    goto out;
  }
  *json_out = j.d;
  if (json_len != NULL)
    *json_len = j.len;
  j.d = NULL;
  r = 0;
out:
  json_decref(arr);
  jb_free(&j);
  return r;
}
