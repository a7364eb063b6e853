/*
 * engine.h - the enclave's SQL engine interface.
 *
 * The enclave talks to its query engine only through these functions, so
 * that another engine (a columnar one for large analytical queries) can
 * join SQLite later without touching the protocol or the policy code.
 * Today's only implementation is engine_sqlite.c: an in-memory SQLite
 * database.
 *
 * Policy: every statement a user submits is prepared under the room's
 * read-only policy (policy.c, an SQLite authorizer): reads of room tables
 * only; no ATTACH/DETACH, no PRAGMA, no writes or schema changes, no
 * transactions, no load_extension, no reads of sqlite_* internals.
 * Limits: statement length CDR_MAX_SQL_LEN, one statement per request,
 * run time CDR_SQL_TIME_LIMIT_MS (progress handler), result size
 * CDR_MAX_RESULT_BYTES / CDR_MAX_RESULT_ROWS.
 *
 * Errors carry a human message (no secret data: it may name the denied
 * action, table or column, never a data value) in *errmsg, malloc'd,
 * which the caller frees.  The engine is single-threaded: the enclave
 * serves one request at a time.
 */
#ifndef CDR_ENGINE_H
#define CDR_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

struct cdr_engine;

/* Open an empty in-memory database with the policy installed. */
int engine_open(struct cdr_engine **out) CDR_WUR;
/* Close and wipe.  NULL is allowed. */
void engine_close(struct cdr_engine *e);

/* Create table `name` from CSV bytes (RFC 4180; header row names the
 * columns; types INTEGER, REAL or TEXT inferred from all values of a
 * column; an empty field is NULL).  The load is one transaction: on any
 * error nothing is kept.  Errors: CDR_ERR_TABLE_NAME (name must match
 * [A-Za-z_][A-Za-z0-9_]{0,63} and not start with "sqlite_"),
 * CDR_ERR_TABLE_EXISTS, CDR_ERR_CSV (message says the line number and
 * what is wrong: ragged row, bad quoting, invalid UTF-8, empty or
 * duplicate column name, no header), CDR_ERR_TOO_LARGE.
 * *rows_loaded gets the number of data rows. */
int engine_load_csv(struct cdr_engine *e, const char *name, const uint8_t *csv, size_t len, uint64_t *rows_loaded,
                    char **errmsg) CDR_WUR;

/* Run one read-only statement and render its whole result as a JSON
 * document (UTF-8, malloc'd, NUL-terminated), exactly:
 *   {"columns":["a","b"],"rows":[[1,"x"],[2.5,null]],"row_count":2}
 * Values: INTEGER -> JSON integer, REAL -> JSON number (non-finite as the
 * strings "inf", "-inf", "nan"), TEXT -> JSON string (if not valid UTF-8,
 * {"hex":"..."}), BLOB -> {"hex":"..."}, NULL -> null.
 * Errors: CDR_ERR_SQL_DENIED (message says what the policy refused and
 * why, e.g. "ATTACH is not allowed: queries in a data room are
 * read-only"), CDR_ERR_SQL_ERROR (SQLite's message), CDR_ERR_SQL_TIMEOUT,
 * CDR_ERR_RESULT_TOO_LARGE, CDR_ERR_TOO_LARGE (statement too long). */
int engine_query_json(struct cdr_engine *e, const char *sql, size_t sqllen, char **json_out, size_t *json_len,
                      uint64_t *rows_out, char **errmsg) CDR_WUR;

/* Test hooks: lower the per-query time limit (0 restores
 * CDR_SQL_TIME_LIMIT_MS) and the result limits (0 restores
 * CDR_MAX_RESULT_BYTES / CDR_MAX_RESULT_ROWS).  max_bytes counts the
 * whole JSON document, without its terminating NUL. */
void engine_set_time_limit_ms(struct cdr_engine *e, unsigned ms);
void engine_set_result_limits(struct cdr_engine *e, size_t max_bytes, uint64_t max_rows);

#endif
