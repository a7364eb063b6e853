/*
 * engine_int.h - the SQLite engine's private state and the functions its
 * files share, for the files that implement engine.h (engine_*.c) and
 * nothing else.
 *
 * Calls between the files go one way only (no file cycle):
 *   engine_sqlite.c (open, close) -> engine_upload.c (abort all)
 *   engine_query.c -> engine_check.c, engine_render.c
 *   engine_template.c -> engine_query.c, engine_check.c, engine_render.c, engine_rules.c
 *   every engine file -> engine_err.c, which calls none of them.
 */
#ifndef CDR_ENGINE_INT_H
#define CDR_ENGINE_INT_H

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "engine.h"
#include "engine_funcs.h"
#include "policy.h"
#include "wipe_alloc.h"

struct engine_lanes;

/* The room's engine owns the catalog, the uploads, the dp ledger and
 * cache, and the one connection that writes.  A lane's engine
 * (engine_lane_take) is a struct of the same shape with a read-only
 * connection of its own to the same database (pagevfs.h) and its own
 * per-query state (policy principal and lists, deadline, memory meter,
 * rules view, dp charge); while it is taken, its catalog, limits and dp
 * pointers are a borrowed view of the room engine's (valid because the
 * room gate is held shared, so nothing changes them), and it owns none
 * of them. */
struct cdr_engine {
  sqlite3 *db;
  struct policy policy;
  struct catalog catalog; /* every room table: owner, columns, grants (a lane's: borrowed) */
  char store[32];          /* the database's name in pagevfs */
  struct engine_lanes *lanes; /* the room's engine: its lane engines (engine_sqlite.c); NULL in a lane's */
  sqlite3_stmt *schema_sync;  /* a lane's: brings its cached schema up to date (engine_lane_take) */
  unsigned time_limit_ms;
  size_t max_result_bytes;
  uint64_t max_result_rows;
  uint64_t max_query_memory;     /* bytes of SQLite's heap one query may take */
  struct engine_budget budget;   /* the running query's deadline (engine_funcs.h) */
  struct wipe_alloc_meter meter; /* the running query's memory (wipe_alloc.h) */
  sqlite3_stmt *restore_ins; /* INSERT of the table being restored */
  struct engine_upload *uploads; /* in progress (engine_upload.c) */
  uint64_t upload_serial;        /* names their staging tables */
  struct rules_view *rules_view; /* the checker's catalog view of the query running (engine_rules.c) */
  struct dp_ledger *dp_ledger;   /* the privacy budgets spent, per table name (dp_budget.h): sealed */
  struct dp_cache *dp_cache;     /* the dp answers given (dp.h): memory only */
  struct engine_dp_charge dp_charge; /* what the last dp query charged, until engine_dp_take_charge */
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

/* The refusal for a table the caller cannot read, the same whether it
 * exists or not (name as the caller wrote it): CDR_ERR_ACCESS_DENIED. */
int engine_no_table(char **errmsg, const char *name);
/* CDR_ERR_ROOM_LOADING for table `name`, still loading after the start
 * (catalog_table.loading), with how many tables still are. */
int engine_table_loading(const struct cdr_engine *e, char **errmsg, const char *name);

/* ---- owner operations (engine_owner.c) ---- */
/* The table `table` if who owns it; else NULL with *r and *errmsg set
 * (CDR_ERR_NOT_FOUND, CDR_ERR_ACCESS_DENIED naming the owner).  Unless
 * `any`, an unavailable table is CDR_ERR_TABLE_UNAVAILABLE.  verb ends
 * the refusal "only its owner can <verb>". */
struct catalog_table *engine_owned_table(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                                         const char *verb, int any, int *r, char **errmsg);

/* ---- release rules on the query path (engine_rules.c) ---- */
struct rule_plan;
/* Whether who reads t under its rule: t has a (current) rule and is
 * available, who acts as an analyst (its engine role), and neither owns
 * t nor holds a grant on it. */
int engine_table_governed(const struct catalog_table *t, const struct engine_principal *who);
/* Check sql for who against the rules (rule.h).  RULE_UNGOVERNED: run
 * it as it is.  0: *plan is the checked query; unless it is a dp query
 * (the caller hands it to engine_dp_run) *emitted is the statement to
 * run instead of sql, and the policy approves exactly what it reads
 * (the caller clears that with policy_clear_approved).  Else a refusal
 * with *errmsg. */
int engine_rules_check(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                       struct rule_plan **plan, char **emitted, char **errmsg);
/* Free what engine_rules_check made (NULLs allowed) and clear the
 * policy's approvals. */
void engine_rules_done(struct cdr_engine *e, struct rule_plan *plan, char *emitted);
/* A failed query (r != 0) whose text names a table who cannot read, or
 * that SQLite refused with "no such table": the uniform refusal
 * (engine_no_table) for the first such name, so that what a caller
 * learns of a table it cannot read does not depend on its columns.
 * Rule violations and unavailable tables are left as they are. */
int engine_uniform_refusal(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                           int r, char **errmsg);

/* t's rule (t->rule_doc, not NULL) as an analyst may see it: its mode
 * and numbers, and the columns it does not hide with their classes; no
 * hidden column named (engine_rule_owner.c).  NULL if memory runs out. */
json_t *engine_rule_public_json(const struct catalog_table *t);

/* ---- differential privacy (engine_dp.c) ---- */
/* Run a checked dp query (rule_plan_mode RULE_MODE_DP) for who and
 * append its result document to out as engine_query_render does, through
 * dp_run (dp.h) with the engine's ledger and cache.  When the ledger
 * changed (a charge, on success or after execution failed) e->dp_charge
 * records it, for the caller to seal before any answer leaves
 * (engine_dp_take_charge).  dp_run's errors, with CDR_ERR_SQL_TIMEOUT
 * for the time limit. */
int engine_dp_run(struct cdr_engine *e, const struct engine_principal *who, const struct rule_plan *plan,
                  struct cdr_buf *out, uint64_t *rows, char **errmsg);

/* ---- a user statement's frame (engine_query.c) ---- */
/* Begin: the policy in user mode for who, its touched list and denial
 * cleared, the time limit armed.  End: the progress handler removed, the
 * approved columns, the denial and the principal cleared (the touched
 * list stays, for engine_query_tables).  Every begin is paired with an
 * end on every path. */
void engine_user_begin(struct cdr_engine *e, const struct engine_principal *who);
void engine_user_end(struct cdr_engine *e);

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
/* The same with pages going to sink (engine.h, engine_query_render_paged;
 * NULL: as engine_render_result); *pages gets the pages flushed. */
int engine_render_result_paged(struct cdr_engine *e, sqlite3_stmt *st, struct cdr_buf *out,
                               const struct engine_page_sink *sink, uint64_t *rows, uint64_t *pages, char **errmsg);
/* A malloc'd, NUL-terminated copy of b's bytes (engine_query_json,
 * engine_tables_json); *json_len (if not NULL) gets their length.
 * 0 or CDR_ERR_NOMEM. */
int engine_buf_to_cstr(struct cdr_buf *b, char **json_out, size_t *json_len);

#endif
