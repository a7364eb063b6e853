/*
 * engine_int.h - the SQLite engine's private state and the functions its
 * files share, for the files that implement engine.h (engine_*.c) and
 * nothing else.
 *
 * Calls between the files go one way only (no file cycle):
 *   engine_sqlite.c (open, close) -> engine_upload.c (abort all)
 *   engine_query.c -> engine_check.c, engine_render.c
 *   every engine file -> engine_err.c, which calls none of them.
 */
#ifndef CDR_ENGINE_INT_H
#define CDR_ENGINE_INT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "engine_funcs.h"
#include "policy.h"
#include "wipe_alloc.h"

struct cdr_engine {
  sqlite3 *db;
  struct policy policy;
  struct catalog catalog; /* every room table: owner, columns, grants */
  unsigned time_limit_ms;
  size_t max_result_bytes;
  uint64_t max_result_rows;
  uint64_t max_query_memory;     /* bytes of SQLite's heap one query may take */
  struct engine_budget budget;   /* the running query's deadline (engine_funcs.h) */
  struct wipe_alloc_meter meter; /* the running query's memory (wipe_alloc.h) */
  sqlite3_stmt *restore_ins; /* INSERT of the table being restored */
  struct engine_upload *uploads; /* in progress (engine_upload.c) */
  uint64_t upload_serial;        /* names their staging tables */
};

struct cdr_buf;

/* ---- messages (engine_err.c) ---- */
/* Set *errmsg (if errmsg is not NULL) to a new formatted message of at
 * most CDR_MAX_ERROR_MSG bytes of valid UTF-8, freeing the old one;
 * returns rc.  If memory runs out *errmsg stays NULL. */
int engine_set_err(char **errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A failed SQLite call as our code (NOMEM, TOO_LARGE, else INTERNAL),
 * with SQLite's message after `what`. */
int engine_sqlite_fail(struct cdr_engine *e, int rc, char **errmsg, const char *what);
/* CDR_ERR_SQL_MEMORY: the running query passed its memory limit. */
int engine_memory_err(const struct cdr_engine *e, char **errmsg);
/* Copy SQLite's run-time message `in` to out (outlen bytes, NUL-
 * terminated) with every '...' quotation replaced by '...' literally, so
 * that a value it quoted does not leave the enclave. */
void engine_redact_quoted(char *out, size_t outlen, const char *in);

/* ---- uploads (engine_upload.c) ---- */
/* Abort every upload in progress (engine_close). */
void engine_uploads_abort_all(struct cdr_engine *e);

/* ---- statement checks (engine_check.c) ---- */
/* Skip blanks, comments and semicolons from s[i]; returns the index of
 * the first other byte, or n.  An unterminated block comment runs to the
 * end, as in SQLite's tokenizer. */
size_t engine_sql_skip_blank(const char *s, size_t n, size_t i);
/* Check the user statement st, prepared from sql[start..) with SQLite's
 * tail pointer `tail`, under the principal set in the policy: it is the
 * only statement (only blanks, comments and semicolons follow it),
 * read-only, not EXPLAIN, starts with SELECT, WITH or VALUES, and its
 * compiled program opens and reads only what the principal may read.
 * CDR_ERR_SQL_DENIED / ACCESS_DENIED (the policy's sentence),
 * CDR_ERR_SQL_ERROR, CDR_ERR_SQL_TIMEOUT, CDR_ERR_NOMEM, with *errmsg. */
int engine_check_statement(struct cdr_engine *e, sqlite3_stmt *st, const char *sql, size_t sqllen, size_t start,
                           const char *tail, char **errmsg);

/* ---- rendering (engine_render.c) ---- */
/* Step st to the end, appending its result document to out (engine.h,
 * engine_query_render); *rows gets the number of rows.  On failure
 * *errmsg says why (the time limit, a denial during a re-prepare, the
 * result limits, or SQLite's redacted run-time message) and out is as it
 * was, the appended bytes wiped. */
int engine_render_result(struct cdr_engine *e, sqlite3_stmt *st, struct cdr_buf *out, uint64_t *rows,
                         char **errmsg);
/* A malloc'd, NUL-terminated copy of b's bytes (engine_query_json,
 * engine_tables_json); *json_len (if not NULL) gets their length.
 * 0 or CDR_ERR_NOMEM. */
int engine_buf_to_cstr(struct cdr_buf *b, char **json_out, size_t *json_len);

#endif
