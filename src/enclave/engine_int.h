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
};

#endif
