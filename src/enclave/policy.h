/*
 * policy.h - the data room's read-only SQL policy, as an SQLite
 * authorizer.
 *
 * The authorizer is installed once on the engine's connection and never
 * removed, because SQLite may re-prepare a statement inside sqlite3_step
 * (after a schema change) and the policy must hold then too.  A mode
 * flag says whose statement is being prepared:
 *
 *   POLICY_INTERNAL  the engine's own statements (loading a CSV): allow.
 *   POLICY_USER      a user's query: the default, and the policy below.
 *
 * In user mode exactly these are allowed: SELECT; recursive CTEs (the
 * time limit bounds them); reading a room table (one registered with
 * policy_add_table) or the pure table-valued functions json_each and
 * json_tree; calling any function but load_extension, readfile,
 * writefile, edit and fts3_tokenizer.  One more kind of read is allowed:
 * SQLite reports a FROM item none of whose columns is used ("SELECT
 * count(*) FROM x") as SQLITE_READ of x's name *as written*, with column
 * "", and x may then be a CTE, which the authorizer cannot tell from a
 * table.  Since SQLite has already resolved x by then, and the only
 * objects in the database are room tables, sqlite_* tables and built-in
 * virtual tables (registered with policy_add_builtin), such a read is
 * allowed unless x names an sqlite_*, pragma_* or built-in table.
 * Everything else is denied: every
 * write and schema change, ATTACH/DETACH, PRAGMA (statements and the
 * pragma_* table-valued functions), transactions and savepoints,
 * ANALYZE, REINDEX, virtual tables, and reads of SQLite's internal
 * tables (sqlite_*) or other built-in virtual tables (dbstat,
 * sqlite_stmt...).  Unknown action codes are denied.
 *
 * The first denial while in user mode is kept as a sentence saying what
 * was refused and why, e.g. "ATTACH is not allowed: queries in a data
 * room are read-only".  It names tables, functions or pragmas, never a
 * data value, and is always valid UTF-8.
 */
#ifndef CDR_POLICY_H
#define CDR_POLICY_H

#include <stddef.h>

#include "../common/err.h"

enum policy_mode { POLICY_USER = 0, POLICY_INTERNAL = 1 };

#define POLICY_REASON_MAX 256u

/* A set of names compared without ASCII case, as SQLite compares them. */
struct policy_names {
  char **v; /* malloc'd names */
  size_t n, cap;
};

struct policy {
  enum policy_mode mode;
  int denied;                       /* a denial is recorded in reason */
  char reason[POLICY_REASON_MAX];
  struct policy_names tables;       /* room tables */
  struct policy_names builtins;     /* built-in virtual tables */
};

/* An empty policy in user mode. */
void policy_init(struct policy *p);
/* Free the name lists.  The policy can be initialised again. */
void policy_free(struct policy *p);

/* The authorizer callback (sqlite3_set_authorizer's signature): ctx is
 * the struct policy.  Returns SQLITE_OK or SQLITE_DENY, never
 * SQLITE_IGNORE (which would silently turn columns into NULL). */
int policy_authorize(void *ctx, int action, const char *arg1, const char *arg2, const char *dbname,
                     const char *inner);

void policy_set_mode(struct policy *p, enum policy_mode mode);
/* The first reason recorded since the last clear, or NULL. */
const char *policy_denial(const struct policy *p);
void policy_clear_denial(struct policy *p);

/* Register a room table that user queries may read.  The name is
 * compared without ASCII case, as SQLite does.  0 or CDR_ERR_NOMEM. */
int policy_add_table(struct policy *p, const char *name) CDR_WUR;
/* Forget a room table (no-op if unknown). */
void policy_remove_table(struct policy *p, const char *name);
/* 1 if name is a registered room table. */
int policy_is_room_table(const struct policy *p, const char *name);
/* Register the name of a built-in (eponymous) virtual table, such as
 * dbstat, so that even a column-less read of it is refused.  0 or
 * CDR_ERR_NOMEM. */
int policy_add_builtin(struct policy *p, const char *name) CDR_WUR;

#endif
