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
 * time limit bounds them); reading a column of a room table (one in the
 * catalog) that the principal may read (below), or the pure
 * table-valued functions json_each and json_tree; calling any function
 * but load_extension, readfile, writefile, edit and fts3_tokenizer.  One
 * more kind of read is allowed: SQLite reports a FROM item none of whose
 * columns is used ("SELECT count(*) FROM x") as SQLITE_READ of x with
 * column "", and x may then be a CTE, which the authorizer cannot tell
 * from a table.  Such a read of a room table needs table access (below);
 * of another name it is allowed unless the name is an sqlite_*,
 * pragma_* or built-in table (registered with policy_add_builtin): SQLite
 * has already resolved it, and the only other objects are CTEs and
 * subqueries, whose own reads were checked.
 * Everything else is denied: every
 * write and schema change, ATTACH/DETACH, PRAGMA (statements and the
 * pragma_* table-valued functions), transactions and savepoints,
 * ANALYZE, REINDEX, virtual tables, and reads of SQLite's internal
 * tables (sqlite_*) or other built-in virtual tables (dbstat,
 * sqlite_stmt...).  Unknown action codes are denied.
 *
 * Access to a room table (policy_check_read, also used by the engine's
 * check of the compiled program): the principal may read column c of
 * table t iff it owns t (same name), or c is not hidden and a grant on
 * t to the principal's name or to "role:<its role>" covers c.  A read of
 * no column, or of the rowid, needs ownership or any such grant.  With
 * no principal set nothing is readable.
 *
 * The first denial while in user mode is kept as a sentence saying what
 * was refused and why, e.g. "ATTACH is not allowed: queries in a data
 * room are read-only".  It names tables, functions or pragmas, never a
 * data value, and is always valid UTF-8.
 */
#ifndef CDR_POLICY_H
#define CDR_POLICY_H

#include <stddef.h>

#include "common/err.h"

enum policy_mode { POLICY_USER = 0, POLICY_INTERNAL = 1 };

#define POLICY_REASON_MAX 256u

/* A set of names compared without ASCII case, as SQLite compares them. */
struct policy_names {
  char **v; /* malloc'd names */
  size_t n, cap;
};

struct catalog;
struct catalog_table;
struct engine_principal;

struct policy {
  enum policy_mode mode;
  int denied;                       /* a denial is recorded in reason */
  int denied_code;                  /* CDR_ERR_SQL_DENIED or CDR_ERR_ACCESS_DENIED */
  char reason[POLICY_REASON_MAX];
  const struct catalog *catalog;    /* room tables (not owned) */
  const struct engine_principal *who; /* the user whose statement runs (not owned), or NULL */
  struct policy_names builtins;     /* built-in virtual tables */
  struct policy_names touched;      /* room tables a read was checked on since the last clear */
  struct policy_names approved;     /* "table\ncolumn" the release-rule checker approved for this statement */
};

/* An empty policy in user mode, with no catalog and no principal. */
void policy_init(struct policy *p);
/* Free the name lists.  The policy can be initialised again. */
void policy_free(struct policy *p);

/* The authorizer callback (sqlite3_set_authorizer's signature): ctx is
 * the struct policy.  Returns SQLITE_OK or SQLITE_DENY, never
 * SQLITE_IGNORE (which would silently turn columns into NULL). */
int policy_authorize(void *ctx, int action, const char *arg1, const char *arg2, const char *dbname,
                     const char *inner);

void policy_set_mode(struct policy *p, enum policy_mode mode);
/* The catalog that names the room tables; both pointers are borrowed
 * and must outlive their use. */
void policy_set_catalog(struct policy *p, const struct catalog *c);
/* The principal whose statements are prepared and run from now on
 * (NULL: nobody, nothing is readable). */
void policy_set_principal(struct policy *p, const struct engine_principal *who);
/* The first reason recorded since the last clear, or NULL. */
const char *policy_denial(const struct policy *p);
/* The code of that denial: CDR_ERR_ACCESS_DENIED for a table or column
 * the principal may not read, CDR_ERR_SQL_DENIED otherwise. */
int policy_denial_code(const struct policy *p);
void policy_clear_denial(struct policy *p);
/* The room tables the statements since the last clear read or tried to
 * read (the audit log names them, so their owners see the entry).  A
 * name that could not be recorded for want of memory is missing. */
const struct policy_names *policy_touched(const struct policy *p);
void policy_clear_touched(struct policy *p);

/* Release rules (rule.h, engine_rules.c): the statement the checker's
 * emitter wrote may read column `column` ("" : the table without a
 * column) of `table` although the principal holds no grant on it.  The
 * authorizer and the program check allow exactly these reads beyond the
 * principal's own access, until policy_clear_approved.  0 or
 * CDR_ERR_NOMEM. */
int policy_approve(struct policy *p, const char *table, const char *column) CDR_WUR;
void policy_clear_approved(struct policy *p);

/* 1 if name is a room table (in the catalog). */
int policy_is_room_table(const struct policy *p, const char *name);
/* Register the name of a built-in (eponymous) virtual table, such as
 * dbstat, so that even a column-less read of it is refused.  0 or
 * CDR_ERR_NOMEM. */
int policy_add_builtin(struct policy *p, const char *name) CDR_WUR;

/* May the principal read column `column` of room table `table` ("" or
 * NULL: no column, as for count(*); "ROWID" when the table has no such
 * column: the rowid)?  SQLITE_OK, or SQLITE_DENY with the reason
 * recorded (code CDR_ERR_ACCESS_DENIED; "reading X is not allowed" if
 * table is not a room table). */
int policy_check_read(struct policy *p, const char *table, const char *column);

/* The decision alone, recording nothing: 0 if who may read `column` of
 * t (NULL or "": no column), else CDR_ERR_ACCESS_DENIED with a sentence
 * in why (whylen > 0) naming the table or column and the reason. */
int policy_access(const struct catalog_table *t, const struct engine_principal *who, const char *column, char *why,
                  size_t whylen);

/* How much of t who may read. */
enum policy_table_access {
  POLICY_ACCESS_NONE = 0,
  POLICY_ACCESS_COLUMNS = 1, /* grants cover some columns */
  POLICY_ACCESS_ALL = 2,     /* a grant covers every column (hidden ones stay hidden) */
  POLICY_ACCESS_OWNER = 3
};
enum policy_table_access policy_table_access(const struct catalog_table *t, const struct engine_principal *who);

#endif
