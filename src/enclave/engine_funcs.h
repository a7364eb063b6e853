/*
 * engine_funcs.h - SQL functions whose cost grows with the product of
 * their inputs, replaced by versions that stop at the query's deadline.
 *
 * SQLite checks its progress handler (and sqlite3_interrupt) only between
 * virtual machine instructions, so one call of instr(), replace(), trim(),
 * LIKE or GLOB on two long values (up to SQLITE_LIMIT_LENGTH each) could
 * run for minutes past any deadline: instr of a 1 MiB needle in a 2 MiB
 * haystack compares about 10^12 bytes.  engine_funcs_register overrides
 * those built-ins on one connection with versions that return the same
 * results as SQLite's (tests/unit/test_funcs.c compares them on a table
 * of cases) but count their work and look at the clock every
 * ENGINE_BUDGET_STEP units; past the deadline they fail the statement
 * and set timed_out, which the engine reports as sql_timeout.
 *
 * The rest of SQLite's functions cost at most linear time in their
 * inputs and output (printf, substr, hex, zeroblob, randomblob, char,
 * upper/lower, quote, group_concat per row, the json functions per
 * argument), which SQLITE_LIMIT_LENGTH bounds per call and the progress
 * handler bounds per run of calls.
 */
#ifndef CDR_ENGINE_FUNCS_H
#define CDR_ENGINE_FUNCS_H

#include <sqlite3.h>
#include <stdint.h>

/* Units of work (bytes compared or scanned, pattern steps) between two
 * looks at the clock: about a millisecond of work at most. */
#define ENGINE_BUDGET_STEP (1u << 20)

/* The deadline of the statement running on a connection.  Owned by the
 * engine; the functions registered with it read and update it. */
struct engine_budget {
  uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0: no deadline (the engine's own statements) */
  uint64_t work;        /* units spent since the clock was last read */
  int timed_out;        /* set once a check found the deadline passed */
};

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t engine_mono_ns(void);

/* 1 (and b->timed_out set) if b's deadline has passed, else 0. */
int engine_budget_over(struct engine_budget *b);

/* Override instr(2), replace(3), trim/ltrim/rtrim(1, 2), like(2, 3) and
 * glob(2) on db with the bounded versions, all reading b, which must
 * outlive db.  SQLITE_OK or SQLite's error code. */
int engine_funcs_register(sqlite3 *db, struct engine_budget *b);

#endif
