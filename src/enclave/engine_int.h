/*
 * engine_int.h - the SQLite engine's private state, shared by the files
 * that implement engine.h (engine_sqlite.c, engine_persist.c) and by
 * nothing else.
 */
#ifndef CDR_ENGINE_INT_H
#define CDR_ENGINE_INT_H

#include <sqlite3.h>
#include <stdint.h>

#include "catalog.h"
#include "policy.h"

struct cdr_engine {
  sqlite3 *db;
  struct policy policy;
  struct catalog catalog; /* every room table: owner, columns, grants */
  unsigned time_limit_ms;
  size_t max_result_bytes;
  uint64_t max_result_rows;
  uint64_t deadline_ns; /* CLOCK_MONOTONIC, while a query runs */
  int timed_out;
  sqlite3_stmt *restore_ins; /* INSERT of the table being restored */
  struct engine_upload *uploads; /* in progress (engine_upload.c) */
  uint64_t upload_serial;        /* names their staging tables */
};

/* Set *errmsg (if not NULL) to a formatted message of at most
 * CDR_MAX_ERROR_MSG bytes of UTF-8; returns rc (engine_sqlite.c). */
int engine_set_err(char **errmsg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A failed SQLite call as our code, with SQLite's message after `what`. */
int engine_sqlite_fail(struct cdr_engine *e, int rc, char **errmsg, const char *what);
/* Abort every upload in progress (engine_close). */
void engine_uploads_abort_all(struct cdr_engine *e);

#endif
