/*
 * catalog.h - the enclave's catalog of room tables: who owns each table,
 * its columns (with the owner's "hidden" flags) and the grants the owner
 * made.  The SQL policy (policy.c) decides every column read from it.
 *
 * The catalog is plain data: no SQLite handle or pointer into the
 * engine, so that it can be sealed, persisted and decoded again
 * (catalog_encode / catalog_decode; later work seals the bytes).  The
 * engine keeps it in step with the database: an entry is changed only
 * after the SQLite change it describes has committed.
 *
 * Invariants (checked by every mutator and by the decoder):
 *   - at most CDR_MAX_TABLES tables; table names are valid
 *     (catalog_table_name_valid) and distinct without ASCII case, as
 *     SQLite compares them;
 *   - a table has 1..CDR_MAX_COLUMNS columns with distinct names (ASCII
 *     case folded), each 1..CDR_MAX_COLUMN_NAME bytes of UTF-8, and a
 *     type INTEGER, REAL or TEXT; columns are in the table's order, so
 *     column i of the catalog is column i of the SQLite table;
 *   - the owner is a certificate name (1..CDR_MAX_NAME_LEN bytes of
 *     UTF-8, no control characters) with the SHA-256 of its
 *     SubjectPublicKeyInfo;
 *   - a table has at most CDR_MAX_GRANTS_PER_TABLE grants, one per
 *     grantee (catalog_grantee_valid); a grant covers all columns or a
 *     non-empty list of distinct existing columns;
 *   - the encoding is at most CDR_MAX_CATALOG_BYTES.
 *
 * Names of tables and columns compare without ASCII case (as SQLite's
 * do); owner and grantee names compare exactly.
 *
 * Encoding (big-endian, lp = u32 length || bytes, see buf.h):
 *   "CDRCATv1" (8 bytes)  u32 ntables
 *   per table: lp(name) lp(owner) owner_key_sha256 (32 bytes)
 *              u64 created_at  u64 rows  u32 ncols
 *              per column: lp(name) lp(type) u8 hidden (0 or 1)
 *              u32 ngrants
 *              per grant: lp(grantee) u8 all_columns (0 or 1) u32 n
 *                         n x lp(column name)   (n = 0 iff all_columns)
 *              lp(release rule: its JSON text, empty for none)
 * "CDRCATv1" (before release rules: no rule field) is read, never written.
 * Decoding is exact: every count and length against its cap, every
 * flag 0 or 1, names validated, grants naming only existing columns, no
 * duplicates, no trailing bytes.
 */
#ifndef CDR_CATALOG_H
#define CDR_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"

#define CATALOG_MAGIC "CDRCATv2"
#define CATALOG_MAGIC_V1 "CDRCATv1" /* before release rules: read, never written */
#define CATALOG_MAGIC_LEN 8u
#define CATALOG_ROLE_PREFIX "role:"

struct rule_doc;

struct catalog_column {
  char *name;
  char *type; /* "INTEGER", "REAL" or "TEXT" */
  int hidden; /* readable by the owner only */
};

struct catalog_grant {
  char *grantee;    /* a user name, or "role:analyst" etc. */
  int all_columns;  /* 1: every column; else cols[0..ncols) */
  size_t ncols;
  char **cols;      /* as spelled in the table */
};

struct catalog_table {
  char *name;
  char *owner;                  /* certificate CN of the uploader */
  uint8_t owner_key_fp[32];     /* SHA-256 of the owner's SPKI DER */
  int64_t created_at;
  uint64_t rows;
  size_t ncols;
  struct catalog_column *cols;
  size_t ngrants;
  struct catalog_grant *grants;
  /* NULL, or why the table's sealed file did not load at start (withheld,
   * damaged, an older copy): the entry then has no SQLite table, keeps
   * its name for its owner, and only drop and replace act on it
   * (engine.h).  Memory only: never encoded (the manifest keeps the
   * entry's bytes as loaded, persist.c). */
  char *unavailable;
  /* Memory only: 1 while the table's sealed file is still being loaded
   * in the background after the start (unavailable then says so); its
   * rows go to a staging table no query can name, and the entry becomes
   * available whole when the last chunk is in (engine_restore_finish). */
  int loading;
  /* The release rule its owner set (rule_doc.h, docs/RULES.md): the JSON
   * text as set (NULL: none), sealed with the entry, and the rule parsed
   * against the columns (memory only).  rule_doc is NULL while rule is
   * set when the text no longer fits the columns (a replacement dropped
   * or retyped a column it names): the table is then read by its owner
   * and grantees only, until the owner sets a rule again. */
  char *rule;
  struct rule_doc *rule_doc;
  /* Memory only: a number catalog_put gives each entry it takes, distinct
   * within the catalog's life, so that an entry put in place again (an
   * upload --replace, a restore) never shares cached dp answers with the
   * data it replaced (engine_dp.c's data version). */
  uint64_t data_serial;
};

struct catalog {
  size_t n, cap;
  struct catalog_table **tables; /* owned */
  uint64_t puts;                 /* entries catalog_put took: the last data_serial */
};

void catalog_init(struct catalog *c);
/* Free every table.  The catalog can be used again after catalog_init. */
void catalog_free(struct catalog *c);

/* [A-Za-z_][A-Za-z0-9_]{0,63}, not starting with "sqlite_" (any case). */
int catalog_table_name_valid(const char *name);
/* A user name (1..CDR_MAX_NAME_LEN bytes of UTF-8 without control
 * characters, not starting with "role:") or "role:analyst",
 * "role:provider", "role:auditor". */
int catalog_grantee_valid(const char *grantee);
/* An owner: 1..CDR_MAX_NAME_LEN bytes of UTF-8 without control
 * characters. */
int catalog_owner_valid(const char *owner);

/* The table called name (ASCII case folded), or NULL. */
struct catalog_table *catalog_find(const struct catalog *c, const char *name);
/* Index of column name in t (ASCII case folded), or -1. */
long catalog_column_index(const struct catalog_table *t, const char *name);
/* t's grant to grantee (exact), or NULL. */
struct catalog_grant *catalog_grant_find(const struct catalog_table *t, const char *grantee);

/* A new table entry with no columns and no grants (copies the strings).
 * NULL if memory runs out or an argument is invalid. */
struct catalog_table *catalog_table_new(const char *name, const char *owner, const uint8_t owner_key_fp[32],
                                        int64_t created_at, uint64_t rows);
void catalog_table_free(struct catalog_table *t);
/* Append a column.  CDR_ERR_ARG (invalid or duplicate name, bad type),
 * CDR_ERR_TOO_LARGE (CDR_MAX_COLUMNS), CDR_ERR_NOMEM. */
int catalog_table_add_column(struct catalog_table *t, const char *name, const char *type, int hidden) CDR_WUR;

/* Grant grantee the columns cols[0..ncols) (cols NULL: every column),
 * replacing any earlier grant of the same grantee.  CDR_ERR_ARG (bad
 * grantee, duplicate or empty list), CDR_ERR_NOT_FOUND (a column that
 * t lacks; *bad is set to it when bad is not NULL), CDR_ERR_TOO_LARGE,
 * CDR_ERR_NOMEM.  On failure t is unchanged. */
int catalog_grant(struct catalog_table *t, const char *grantee, const char *const *cols, size_t ncols,
                  const char **bad) CDR_WUR;
/* Remove grantee's grant: 0 or CDR_ERR_NOT_FOUND. */
int catalog_revoke(struct catalog_table *t, const char *grantee) CDR_WUR;

/* Make room for one more table (so that catalog_put of a new table then
 * cannot fail): 0, CDR_ERR_TOO_LARGE (CDR_MAX_TABLES), CDR_ERR_NOMEM. */
int catalog_reserve(struct catalog *c) CDR_WUR;
/* Put t in the catalog (taking ownership), replacing and freeing any
 * table of the same name; t gets the next data_serial.  Never fails after catalog_reserve; returns
 * CDR_ERR_NOMEM otherwise if it must grow and cannot. */
int catalog_put(struct catalog *c, struct catalog_table *t) CDR_WUR;
/* Remove and free the table called name: 0 or CDR_ERR_NOT_FOUND. */
int catalog_remove(struct catalog *c, const char *name) CDR_WUR;

/* Carry the hidden flags and grants of old over to new, for the columns
 * new still has (matched by name); a column-list grant none of whose
 * columns survives is dropped.  The release rule carries over, parsed
 * again against new's columns (stale if it no longer fits).  CDR_ERR_NOMEM leaves new as it was. */
int catalog_table_inherit(struct catalog_table *new_t, const struct catalog_table *old) CDR_WUR;

/* Set t's release rule to the JSON text json[0..len) (json NULL: remove
 * it), parsed against t's columns.  CDR_ERR_ARG / BAD_JSON / TOO_LARGE
 * with *errmsg naming the field (rule_doc_parse) leave t as it was,
 * unless keep_stale: then the text is kept with rule_doc NULL (a sealed
 * rule that no longer fits, see above) and 0 is returned.
 * CDR_ERR_NOMEM. */
int catalog_table_set_rule(struct catalog_table *t, const char *json, size_t len, int keep_stale,
                           char **errmsg) CDR_WUR;
/* Whether json[0..len) is a rule for t's columns (0), changing nothing;
 * the refusals of catalog_table_set_rule. */
int catalog_table_check_rule(const struct catalog_table *t, const char *json, size_t len, char **errmsg) CDR_WUR;

/* Exact length of catalog_encode's output for one table / the catalog. */
size_t catalog_table_encoded_size(const struct catalog_table *t);
size_t catalog_encoded_size(const struct catalog *c);

/* Append the encoding to out.  CDR_ERR_TOO_LARGE past
 * CDR_MAX_CATALOG_BYTES or out's max, CDR_ERR_NOMEM. */
int catalog_encode(const struct catalog *c, struct cdr_buf *out) CDR_WUR;
/* Decode exactly [p, p+n) into *out (initialised here; on failure it is
 * left empty).  CDR_ERR_TRUNCATED, CDR_ERR_TOO_LARGE, CDR_ERR_ARG
 * (invalid or duplicate content), CDR_ERR_NOMEM. */
int catalog_decode(struct catalog *out, const uint8_t *p, size_t n) CDR_WUR;

#endif
