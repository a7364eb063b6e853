/*
 * engine.h - the enclave's SQL engine interface.
 *
 * The enclave talks to its query engine only through these functions, so
 * that another engine (a columnar one for large analytical queries) can
 * join SQLite later without touching the protocol or the policy code.
 * Today's only implementation is an in-memory SQLite database
 * (engine_sqlite.c and the other engine_*.c files, engine_int.h).
 *
 * Policy: every statement a user submits is prepared under the room's
 * read-only policy (policy.c, an SQLite authorizer): reads of room tables
 * only; no ATTACH/DETACH, no PRAGMA, no writes or schema changes, no
 * transactions, no load_extension, no reads of sqlite_* internals.
 *
 * Ownership (catalog.h): the principal who uploads a table owns it.  A
 * user statement may read a column of a table only if its principal owns
 * the table, or the column is not hidden and a grant to the principal's
 * name or to "role:<its role>" covers the column; a read of no column
 * (count(*), rowid) needs ownership or any such grant.  The authorizer
 * checks every column SQLite reports, and the compiled program is
 * checked again (every table cursor and column it reads), because SQLite
 * does not report the columns of a JOIN's USING or NATURAL condition.
 * Only the owner may replace, drop, hide columns of, or grant on a
 * table.  A table whose sealed file did not load at start stays in the
 * catalog, unavailable (engine_restore_unavailable): its name stays
 * reserved for its owner, who alone may drop or replace it.  Role rules (who may upload at all) are the caller's (ops.c).
 * Limits: statement length CDR_MAX_SQL_LEN, one statement per request;
 * the room's limits (room_limits.h; defaults CDR_DEFAULT_* in
 * common/limits.h): run time (progress handler, and inside the
 * product-cost functions, engine_funcs.h), memory per query
 * (wipe_alloc.h's meter), result size in bytes and rows.
 *
 * Errors carry a human message (no secret data: it may name the denied
 * action, table or column, never a data value) in *errmsg, malloc'd,
 * which the caller frees.  An engine (the room's, or one lane's) is used
 * by one thread at a time: changes run on the room's engine under the
 * room gate held exclusive, queries each on a lane's engine
 * (engine_lane_take) inside the shared gate (gate.h).
 */
#ifndef CDR_ENGINE_H
#define CDR_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/limits.h"
#include "crypto/x509.h"

struct cdr_engine;
struct cdr_buf;

/* The user an engine call acts for: the certificate's name (CN) and role,
 * and the SHA-256 of the certified key's SubjectPublicKeyInfo (recorded
 * as a table owner's key).  Borrowed for the length of the call. */
struct engine_principal {
  const char *name;
  enum cdr_role role;
  uint8_t key_fp[32];
  /* The active contract also gives this member the analyst role (a
   * hospital that provides and analyses): it queries others' tables
   * under their release rules as any analyst does (engine_rules.c). */
  int analyst;
};

/* Open an empty in-memory database (pagevfs.h) with the policy
 * installed, and its one writing connection. */
int engine_open(struct cdr_engine **out) CDR_WUR;
/* Close and wipe (the lanes' connections too).  NULL is allowed. */
void engine_close(struct cdr_engine *e);

/* ---- lanes: queries in parallel (docs/ARCHITECTURE.md "Concurrency") ----
 * Open n (1..ENGINE_MAX_LANES) more connections to e's database, each
 * read-only (query_only), mapping pages rather than copying them, with
 * the engine's functions, authorizer, limits and progress handler of its
 * own.  Before the sandbox (and once).  0 or CDR_ERR_NOMEM /
 * CDR_ERR_INTERNAL / CDR_ERR_ARG. */
#define ENGINE_MAX_LANES 16
int engine_lanes_open(struct cdr_engine *e, unsigned n) CDR_WUR;
/* A lane's engine for one query, to pass to engine_query_render,
 * engine_template_run, engine_query_tables and engine_dp_take_charge in
 * place of e, then give back with engine_lane_give.  The caller holds the
 * room gate shared from take to give (the lane borrows e's catalog).
 * Without lanes it is e itself, one caller at a time (a mutex).  Waits
 * while every lane is taken (a lane's thread takes one at a time, so
 * with a lane engine per work lane it never waits). */
struct cdr_engine *engine_lane_take(struct cdr_engine *e);
void engine_lane_give(struct cdr_engine *e, struct cdr_engine *lane);

/* ---- uploads (engine_upload.c) ----
 * A table arrives as a stream of CSV bytes (RFC 4180; the header row
 * names the columns; an empty field is NULL) with a declared schema, and
 * is built in a staging table that is not in the catalog, so no query
 * can read it (the authorizer and the program check allow room tables
 * only).  Nothing is kept unless the commit succeeds: any failure, or an
 * abort, drops the staging table.
 *
 * begin: `name` must match [A-Za-z_][A-Za-z0-9_]{0,63} and not start
 *   with "sqlite_" (CDR_ERR_TABLE_NAME); without replace it must be free
 *   (CDR_ERR_TABLE_EXISTS), with replace it must exist (CDR_ERR_NOT_FOUND)
 *   and belong to owner (CDR_ERR_ACCESS_DENIED naming the owner); schema
 *   (copied) must pass csv_schema_check (CDR_ERR_ARG).  Both name checks
 *   are made again at commit.
 * feed: any number of bytes, boundaries anywhere.  The header must name
 *   the schema's columns (count, and names without ASCII case); every
 *   non-empty value must fit its column's declared type
 *   (csv_value_fits).  CDR_ERR_CSV with "line N: ..." (never quoting a
 *   value), CDR_ERR_TOO_LARGE when the enclave's SQL heap is full.
 * commit: end of input, then in one transaction: drop the replaced table
 *   (whose hidden flags and grants carry over to the columns of the same
 *   name), rename the staging table into place; then the catalog entry.
 *   The table takes the schema's column names and types.
 * After a failed feed only abort is allowed; commit and abort always
 * consume u (commit aborts on failure). */
struct csv_schema;
struct engine_upload;
struct engine_upload_result {
  char table[CDR_MAX_TABLE_NAME + 1]; /* as the catalog spells it */
  uint64_t rows;
  int replaced;
};
int engine_upload_begin(struct cdr_engine *e, const struct engine_principal *owner, const char *name, int replace,
                        const struct csv_schema *schema, struct engine_upload **out, char **errmsg) CDR_WUR;
int engine_upload_feed(struct cdr_engine *e, struct engine_upload *u, const uint8_t *data, size_t len,
                       char **errmsg) CDR_WUR;
int engine_upload_commit(struct cdr_engine *e, struct engine_upload *u, struct engine_upload_result *res,
                         char **errmsg) CDR_WUR;
void engine_upload_abort(struct cdr_engine *e, struct engine_upload *u);

/* The whole upload over CSV bytes in memory, with the schema inferred
 * from all values (csv_schema_infer: INTEGER, REAL or TEXT): what a
 * client that infers first and then streams achieves, in one call (for
 * tests and tools).  Errors as above; *rows_loaded gets the data rows. */
int engine_load_csv(struct cdr_engine *e, const struct engine_principal *owner, const char *name, const uint8_t *csv,
                    size_t len, int replace, uint64_t *rows_loaded, char **errmsg) CDR_WUR;

/* Run one read-only statement for `who` and append its whole result to
 * out as a JSON document (UTF-8), exactly:
 *   {"columns":["a","b"],"rows":[[1,"x"],[2.5,null]],"row_count":2}
 * Values: INTEGER -> JSON integer, REAL -> JSON number (non-finite as
 * {"real":"inf"|"-inf"|"nan"}), TEXT -> JSON string (if not valid UTF-8
 * or holding a NUL, {"hex":"..."}), BLOB -> {"hex":"..."}, NULL -> null.
 * The document is rendered as the statement steps, straight into out
 * (the caller writes what goes around it): no other copy of the result
 * is made.  *rows_out (if not NULL) gets the number of rows.
 * Errors: CDR_ERR_ACCESS_DENIED (a table or column who may not read; the
 * message names it and says why, e.g. "no access to column
 * patients.ssn: the column is hidden by its owner"), CDR_ERR_SQL_DENIED
 * (message says what the policy refused and why, e.g. "ATTACH is not
 * allowed: queries in a data room are read-only"), CDR_ERR_SQL_ERROR
 * (SQLite's message), CDR_ERR_SQL_TIMEOUT, CDR_ERR_RESULT_TOO_LARGE (the
 * document would pass the result limits or out's own max),
 * CDR_ERR_TOO_LARGE (statement too long).  On failure out is as it was:
 * the bytes appended are wiped and dropped. */
int engine_query_render(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t sqllen,
                        struct cdr_buf *out, uint64_t *rows_out, char **errmsg) CDR_WUR;
/* Where the pages of a paged result go (cursor_ops.c; docs/PROTOCOL.md
 * 4.7 "Paged results").  The rows are rendered as usual; once they reach
 * page_bytes and another row follows, the rows so far (the text between
 * "rows":[ and ], without either) are handed to flush as page `index`
 * (0, 1, ...) and dropped from out, wiped; after the last row the rest
 * is flushed with last = 1.  No page passes CDR_RESULT_PAGE_MAX bytes,
 * and all the pages together with the head stay within the result
 * limits (result_too_large otherwise).  A paged document is
 *   {"columns":[...],"row_count":N,"cursor":{"id":"<id>","pages":P,
 *    "bytes":B,"idle_timeout_s":<idle_s>}}
 * with B the bytes of all pages; a result that fits one page is the
 * usual document and flush is never called.  flush returns 0 or an
 * error code with *errmsg set (it may leave *errmsg NULL: out of memory). */
struct engine_page_sink {
  size_t page_bytes;
  const char *id; /* the cursor's id, as it goes into the document */
  unsigned idle_s;
  int (*flush)(void *ud, const uint8_t *rows, size_t len, uint64_t index, int last, char **errmsg);
  void *ud;
};
/* engine_query_render with a page sink (NULL: never paged); *pages_out
 * (if not NULL) gets the number of pages flushed, 0 for a document that
 * fits one response.  After a failure the caller discards the pages
 * already flushed. */
int engine_query_render_paged(struct cdr_engine *e, const struct engine_principal *who, const char *sql,
                              size_t sqllen, struct cdr_buf *out, const struct engine_page_sink *sink,
                              uint64_t *rows_out, uint64_t *pages_out, char **errmsg) CDR_WUR;
/* The same document as a malloc'd, NUL-terminated string (for tests and
 * tools; the caller frees it): *json_len gets its length without the
 * NUL.  Errors as engine_query_render. */
int engine_query_json(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t sqllen,
                      char **json_out, size_t *json_len, uint64_t *rows_out, char **errmsg) CDR_WUR;

/* The room tables the last engine_query_render read or tried to read, in
 * first-seen order: fn(ud, name) for each. */
void engine_query_tables(struct cdr_engine *e, void (*fn)(void *ud, const char *table), void *ud);

/* Owner operations (engine_owner.c).  Each fails with CDR_ERR_NOT_FOUND
 * if the table (or column, or grant) does not exist and
 * CDR_ERR_ACCESS_DENIED unless who owns the table; the message names the
 * table.  Names of tables and columns match without ASCII case. */

/* Drop the table and its catalog entry. */
int engine_drop(struct cdr_engine *e, const struct engine_principal *who, const char *table, char **errmsg) CDR_WUR;
/* Grant `grantee` (a user name or "role:analyst|provider|auditor") read
 * access to columns[0..ncolumns) of table, or to every column when
 * columns is NULL.  A grant replaces the grantee's earlier grant on the
 * table.  CDR_ERR_ARG for a bad grantee, a grant to the owner, or an
 * empty or repeating column list; CDR_ERR_NOT_FOUND names a missing
 * column; CDR_ERR_TOO_LARGE past CDR_MAX_GRANTS_PER_TABLE. */
int engine_grant(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *grantee,
                 const char *const *columns, size_t ncolumns, char **errmsg) CDR_WUR;
/* Remove grantee's grant on table. */
int engine_revoke_grant(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                        const char *grantee, char **errmsg) CDR_WUR;
/* Set (hidden != 0) or clear the hidden flag of a column: a hidden
 * column is readable by the owner only, whatever the grants say. */
int engine_hide(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *column,
                int hidden, char **errmsg) CDR_WUR;

/* ---- release rules (engine_rules.c, engine_rule_owner.c; docs/RULES.md) ----
 * A table's owner sets a rule (rule_doc.h) that says what analysts
 * without a grant may learn from the table.  A query that names such a
 * table, by a principal who neither owns it nor holds a grant on it, is
 * checked (rule.h) and only the statement the checker's emitter writes
 * runs, with the authorizer allowing exactly the columns it reads.  A
 * refusal is CDR_ERR_RULE_VIOLATION naming the rule and the clause. */

/* What to do with the grants of a table that gets a rule. */
enum engine_rule_grants { ENGINE_RULE_GRANTS_ASK = 0, ENGINE_RULE_GRANTS_KEEP, ENGINE_RULE_GRANTS_REVOKE };
/* Set (json != NULL) or remove the rule of table.  Owner only (as the
 * other owner operations).  A table with grants gets a rule only with
 * KEEP (they stay full access) or REVOKE (*revoked gets their number);
 * ASK refuses with CDR_ERR_ARG listing them.  A malformed rule is
 * CDR_ERR_ARG / BAD_JSON naming the field; CDR_ERR_TOO_LARGE past the
 * catalog's limit.  On failure nothing changed. */
int engine_set_rule(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *json,
                    size_t len, enum engine_rule_grants grants, size_t *revoked, char **errmsg) CDR_WUR;
/* Append table's rule as a JSON object to out:
 *   owner:    {"table","owner","rule":<the rule as set>|null,"stale":bool,"grants":N}
 *   analyst under the rule: {"table","owner","rule":<its columns that are
 *             not hidden, with their classes, and its other fields>}
 * Anyone else gets the refusal for a table it cannot read. */
int engine_rule_render(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                       struct cdr_buf *out, char **errmsg) CDR_WUR;

/* ---- approved query templates (engine_template.c; docs/RULES.md) ----
 * A template is a named SELECT with :name parameters that every owner of
 * every table it reads approved (template_state.h keeps them; the engine
 * only compiles and runs the text).  The text is the proposer's; it runs
 * with values bound through sqlite3_bind_*, never spliced. */

/* What a template's text reads and takes: the room tables it reads
 * (catalog spelling) and its parameter names (without the ':'), each in
 * first-seen order; malloc'd, freed by engine_template_info_free. */
struct engine_template_info {
  size_t ntables, nparams;
  char **tables;
  char **params;
};
void engine_template_info_free(struct engine_template_info *info);
/* Compile sql[0..len) for who as a template: the checks of a query
 * (length, UTF-8, one read-only SELECT), with every column of every
 * available room table allowed (to learn which tables it reads: the
 * authorizer records them), nothing run.  Parameters must be named
 * :name ([A-Za-z_][A-Za-z0-9_]{0,63}); ?, ?N, @x and $x are refused
 * (CDR_ERR_ARG).  A failure that names a table who cannot read is the
 * uniform refusal (engine_uniform_refusal). */
int engine_template_inspect(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                            struct engine_template_info *info, char **errmsg) CDR_WUR;

/* A parameter's value, already checked against its declared type. */
enum engine_param_type { ENGINE_PARAM_INTEGER = 1, ENGINE_PARAM_REAL = 2, ENGINE_PARAM_TEXT = 3 };
struct engine_param_value {
  const char *name; /* without the ':' */
  enum engine_param_type type;
  int64_t i;
  double d;
  const char *s; /* TEXT: UTF-8 without NUL, s[0..slen) */
  size_t slen;
};
/* Run an approved template for who: sql compiled as by inspect, but with
 * only the columns of tables[0..ntables) allowed beyond what who reads
 * anyway, every parameter bound from vals (each of the text's parameters
 * exactly once: a missing one is CDR_ERR_ARG), and the result rendered
 * as engine_query_render does.  The caller checked the approvals. */
int engine_template_run(struct cdr_engine *e, const struct engine_principal *who, const char *sql, size_t len,
                        const char *const *tables, size_t ntables, const struct engine_param_value *vals,
                        size_t nvals, struct cdr_buf *out, uint64_t *rows_out, char **errmsg) CDR_WUR;

/* Append the tables `who` can see (owns, or holds a grant on) to out as
 * a JSON array, in upload order:
 *   [{"name":"t","owner":"cn","owner_key_sha256":"<hex>","created_at":N,
 *     "rows":N,"access":"owner"|"all"|"columns",
 *     "columns":[{"name":"a","type":"TEXT","hidden":false,"readable":true}],
 *     "grants":[{"to":"role:analyst","columns":"all"|["a"]}]}]
 * "grants" is present for the owner only.  CDR_ERR_RESULT_TOO_LARGE past
 * the result byte limit; on failure out is as it was. */
int engine_tables_render(struct cdr_engine *e, const struct engine_principal *who, struct cdr_buf *out,
                         char **errmsg) CDR_WUR;
/* The same array as a malloc'd, NUL-terminated string (tests, tools). */
int engine_tables_json(struct cdr_engine *e, const struct engine_principal *who, char **json_out, size_t *json_len,
                       char **errmsg) CDR_WUR;

/* ---- differential privacy (engine_dp.c; docs/RULES.md "dp") ---- */
/* What one dp query charged to its table's budget, and where the budget
 * stands after it (amounts in millionths of epsilon, 10^-12 of delta). */
struct engine_dp_charge {
  int charged;
  char table[CDR_MAX_TABLE_NAME + 1];
  uint64_t eps_micro, delta_pico;        /* this charge */
  uint64_t eps_spent_micro, delta_spent_pico; /* the table's, after it */
  uint64_t eps_total_micro;              /* the rule's epsilon_total */
};
/* The last dp query's charge, if it made one since the last call: 1 and
 * *out filled (the flag is cleared), else 0.  A charge must be sealed
 * (persist_meta_changed) before the query's answer leaves. */
int engine_dp_take_charge(struct cdr_engine *e, struct engine_dp_charge *out);
struct dp_ledger;
/* The engine's ledger (never NULL after engine_open), for sealing. */
struct dp_ledger *engine_dp_ledger(struct cdr_engine *e);
/* Replace the ledger with l (the engine takes it), at start. */
void engine_dp_set_ledger(struct cdr_engine *e, struct dp_ledger *l);

/* ---- persistence (engine_persist.c; docs/design/persistence.md) ----
 * These act for the enclave itself, never for a user: no policy applies. */
struct catalog;
struct catalog_table;
struct tf_value;
/* The catalog, read-only (valid until the next engine call that changes it). */
const struct catalog *engine_catalog(const struct cdr_engine *e);
/* Call fn once per row of table `name`, values in column order. */
int engine_table_rows(struct cdr_engine *e, const char *name,
                      int (*fn)(void *ctx, const struct tf_value *vals, size_t ncols), void *ctx) CDR_WUR;
/* Restore a table from sealed state in the background, while the room
 * serves (enclave_load.c).  The catalog entry goes in first, marked
 * loading (engine_restore_pending: the engine takes t; no SQLite table of
 * that name, so queries, owner operations and uploads of the name are
 * refused with CDR_ERR_ROOM_LOADING).  Rows go to the staging table
 * `stage` ("cdr-load-<id>": the '-' keeps it out of room table names; the
 * authorizer and the program check refuse it to users), one transaction
 * per chunk: chunk_begin (creates it on first use), rows, chunk_end
 * (commit if ok, else roll back).  restore_finish then renames it to the
 * table (ok: the entry becomes available whole, with `rows`) or drops it
 * (the entry becomes unavailable with `reason`); a rename that fails
 * leaves it loading, for the caller to end with ok = 0.  The caller holds the
 * room gate exclusive throughout each call; one chunk at a time. */
int engine_restore_pending(struct cdr_engine *e, struct catalog_table *t) CDR_WUR;
int engine_restore_chunk_begin(struct cdr_engine *e, const char *name, const char *stage) CDR_WUR;
int engine_restore_row(struct cdr_engine *e, const struct tf_value *vals, size_t ncols) CDR_WUR;
int engine_restore_chunk_end(struct cdr_engine *e, int ok) CDR_WUR;
int engine_restore_finish(struct cdr_engine *e, const char *name, const char *stage, int ok, uint64_t rows,
                          const char *reason) CDR_WUR;
/* How many catalog entries are still loading, and how many there are. */
void engine_restore_counts(const struct cdr_engine *e, size_t *loading, size_t *total);
/* Keep the catalog entry t of a table whose sealed file did not load
 * (the engine takes t; t->unavailable becomes a copy of reason): no
 * SQLite table, but the name stays its owner's.  Nobody else can upload
 * under it (CDR_ERR_TABLE_EXISTS naming the owner); its owner can drop
 * it or replace it, which makes it available again; grant, revoke_grant
 * and hide are refused with CDR_ERR_TABLE_UNAVAILABLE, and a query that
 * names it, for a user who could read it, too.  CDR_ERR_INTERNAL if the
 * name is taken, CDR_ERR_NOMEM. */
int engine_restore_unavailable(struct cdr_engine *e, struct catalog_table *t, const char *reason) CDR_WUR;

/* The room's limits (room_limits.c applies them; tests set them
 * directly): the per-query time limit (0 restores
 * CDR_DEFAULT_QUERY_TIME_MS) and the result limits (0 restores
 * CDR_DEFAULT_RESULT_BYTES / CDR_DEFAULT_RESULT_ROWS).  max_bytes counts
 * the whole JSON document, without its terminating NUL. */
void engine_set_time_limit_ms(struct cdr_engine *e, unsigned ms);
void engine_set_result_limits(struct cdr_engine *e, size_t max_bytes, uint64_t max_rows);
/* Bytes of SQLite's heap one query may take (0 restores
 * CDR_DEFAULT_QUERY_MEMORY); past it the query fails alone with
 * CDR_ERR_SQL_MEMORY.  Counted only where wipe_alloc_install runs (the
 * enclave). */
void engine_set_memory_limit(struct cdr_engine *e, uint64_t bytes);

#endif
