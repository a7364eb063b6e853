/*
 * engine_upload.c - building a table from a stream of CSV bytes
 * (engine.h, "uploads"): a staging table filled record by record as the
 * chunks arrive, put in place at commit.
 *
 * Workload: one chunk (up to CDR_UPLOAD_CHUNK_MAX bytes) per call, a few
 * uploads in progress at once (the caller caps them), tables of up to a
 * few GB (the SQL heap, CDR_SQL_HEAP_LIMIT, is the bound).  Memory beyond
 * SQLite's is one CSV record (the parser's buffer) per upload.
 *
 * Invariants:
 *   - A staging table is named "cdr-upload-<serial>".  The '-' makes it
 *     a name no room table can have (catalog_table_name_valid), so it
 *     never collides with one, and it is never in the catalog, so the
 *     policy refuses every read of it (authorizer and program check).
 *   - No transaction stays open between calls: each feed is one
 *     transaction (the rows the chunk completes), so a failed chunk
 *     leaves no half-inserted record, and other sessions' work between
 *     two chunks commits on its own.  After a failure the upload only
 *     accepts abort, which drops the staging table.
 *   - The commit is one transaction: the last record, the drop of a
 *     replaced table (none when it is unavailable: its file did not load
 *     at start), the rename of the staging table.  The catalog
 *     follows after COMMIT and cannot fail then (catalog_reserve first),
 *     so the catalog and the database never disagree.
 *   - Every upload is on e->uploads until it is committed or aborted;
 *     engine_close aborts the rest, finalizing their statements before
 *     the database closes.
 *   - The parser's record buffer held data and is wiped when freed;
 *     SQLite drops the staging rows with secure_delete on.
 *   - Error messages name lines, columns and types, never a value.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/util.h"
#include "catalog.h"
#include "engine.h"
#include "engine_int.h"

struct engine_upload {
  struct engine_upload *next;
  char name[CDR_MAX_TABLE_NAME + 1];
  char staging[32];
  int replace;
  char owner[CDR_MAX_NAME_LEN + 1];
  uint8_t owner_fp[32];
  struct csv_schema schema; /* declared; names as the table will have them */
  struct csv_parser *p;
  sqlite3_stmt *ins;        /* INSERT INTO the staging table */
  uint64_t rows;
  int failed;               /* a feed failed: abort is all that is left */
  int sqlite_rc;            /* SQLite's code when a row failed */
  char err[CDR_MAX_ERROR_MSG]; /* a record's refusal (header, type) */
};

/* *exists = whether some schema object already has this name (SQLite
 * compares names without ASCII case). */
static int table_exists(struct cdr_engine *e, const char *name, int *exists, char **errmsg) {
  sqlite3_stmt *st = NULL;
  int r, rc;
  *exists = 0;
  if ((rc = sqlite3_prepare_v3(e->db, "SELECT 1 FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE", -1, 0, &st,
                               NULL)) != SQLITE_OK ||
      (rc = sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    r = engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  *exists = rc == SQLITE_ROW;
  r = 0;
out:
  sqlite3_finalize(st);
  return r;
}

/* The name checks of begin and commit: *old is the table to replace. */
static int check_target(struct cdr_engine *e, const struct engine_upload *u, struct catalog_table **old,
                        char **errmsg) {
  const struct catalog_table *t;
  int r, exists;
  *old = NULL;
  if (u->replace) {
    if ((*old = catalog_find(&e->catalog, u->name)) == NULL)
      return engine_set_err(errmsg, CDR_ERR_NOT_FOUND, "there is no table %s to replace", u->name);
    if (CRYPTO_memcmp((*old)->owner_key_fp, u->owner_fp, sizeof(u->owner_fp)) != 0) /* by key, not name */
      return engine_set_err(errmsg, CDR_ERR_ACCESS_DENIED, "table %s belongs to %s: only its owner can replace it",
                            (*old)->name, (*old)->owner);
    if ((*old)->loading) /* its rows are coming in at start: replace it once loaded */
      return engine_table_loading(e, errmsg, (*old)->name);
    return 0;
  }
  /* An unavailable table has no SQLite table, but its name is its
   * owner's all the same (engine_restore_unavailable). */
  if ((t = catalog_find(&e->catalog, u->name)) != NULL && t->unavailable != NULL) {
    int own = CRYPTO_memcmp(t->owner_key_fp, u->owner_fp, sizeof(u->owner_fp)) == 0;
    if (own && t->loading)
      return engine_table_loading(e, errmsg, t->name);
    if (own)
      return engine_set_err(errmsg, CDR_ERR_TABLE_EXISTS,
                            "table %s is yours but unavailable (%s): replace it (upload --replace) or drop it",
                            t->name, t->unavailable);
    /* To anyone else it is a name in use, worded as for an available
     * table, so that a refusal tells nothing of its state. */
    return engine_set_err(errmsg, CDR_ERR_TABLE_EXISTS, "table %s already exists", u->name);
  }
  if ((r = table_exists(e, u->name, &exists, errmsg)) != 0)
    return r;
  if (exists)
    return engine_set_err(errmsg, CDR_ERR_TABLE_EXISTS, "table %s already exists", u->name);
  if (e->catalog.n >= CDR_MAX_TABLES)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the room already holds %u tables", CDR_MAX_TABLES);
  return 0;
}

/* A refused record: the value in column i does not fit its type. */
static int type_mismatch(struct engine_upload *u, const struct csv_record *rec, size_t i) {
  enum csv_type t = u->schema.types[i];
  snprintf(u->err, sizeof(u->err), "line %llu: column %zu (%s): the value is not %s", (unsigned long long)rec->line,
           i + 1, u->schema.names[i],
           t == CSV_INTEGER ? "an INTEGER (a whole number of at most 19 digits)" : "a REAL number");
  return CDR_ERR_CSV;
}

/* csv_record_fn: check the header, insert a data record. */
static int upload_record(void *arg, const struct csv_record *rec) {
  struct engine_upload *u = arg;
  int rc = SQLITE_OK;

  if (rec->index == 0)
    return csv_schema_match_header(&u->schema, rec, u->err, sizeof(u->err));
  if (rec->nfields != u->schema.ncols)
    return CDR_ERR_INTERNAL; /* the parser holds every record to the header's count */
  for (size_t i = 0; i < rec->nfields && rc == SQLITE_OK; i++) {
    int col = (int)i + 1;
    int64_t iv;
    double dv;
    if (rec->len[i] == 0) {
      rc = sqlite3_bind_null(u->ins, col);
      continue;
    }
    switch (u->schema.types[i]) {
    case CSV_INTEGER:
      if (csv_parse_int64(rec->field[i], rec->len[i], &iv) != 0)
        return type_mismatch(u, rec, i);
      rc = sqlite3_bind_int64(u->ins, col, iv);
      break;
    case CSV_REAL:
      if (csv_parse_real(rec->field[i], rec->len[i], &dv) != 0)
        return type_mismatch(u, rec, i);
      rc = sqlite3_bind_double(u->ins, col, dv);
      break;
    case CSV_TEXT:
      /* len <= CSV_MAX_RECORD_BYTES < INT_MAX.  STATIC: the record
       * outlives the step below. */
      rc = sqlite3_bind_text(u->ins, col, rec->field[i], (int)rec->len[i], SQLITE_STATIC);
      break;
    }
  }
  if (rc == SQLITE_OK && (rc = sqlite3_step(u->ins)) == SQLITE_DONE)
    rc = SQLITE_OK;
  sqlite3_reset(u->ins);
  sqlite3_clear_bindings(u->ins);
  if (rc != SQLITE_OK) {
    u->sqlite_rc = rc;
    return CDR_ERR_INTERNAL;
  }
  u->rows++;
  return 0;
}

/* The message for a failed feed or finish (parser result r). */
static int feed_error(struct cdr_engine *e, struct engine_upload *u, int r, char **errmsg) {
  if (r == CDR_ERR_CSV)
    return engine_set_err(errmsg, r, "%s", u->err[0] != '\0' ? u->err : csv_parser_error(u->p));
  if (u->sqlite_rc == SQLITE_NOMEM || u->sqlite_rc == SQLITE_FULL)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE,
                          "the table does not fit: the enclave's memory for tables (%llu MiB) is full",
                          (unsigned long long)(CDR_SQL_HEAP_LIMIT / CDR_MiB));
  if (u->sqlite_rc != SQLITE_OK)
    return engine_sqlite_fail(e, u->sqlite_rc, errmsg, "inserting a row failed");
  if (r == CDR_ERR_NOMEM)
    return engine_set_err(errmsg, r, "out of memory");
  return engine_set_err(errmsg, r == 0 ? CDR_ERR_INTERNAL : r, "loading failed");
}

/* CREATE TABLE "name"("col" TYPE, ...) and the matching INSERT. */
static int build_sql(const char *name, const struct csv_schema *s, char **create, char **insert) {
  sqlite3_str *c = sqlite3_str_new(NULL), *i = sqlite3_str_new(NULL);
  int r;
  sqlite3_str_appendf(c, "CREATE TABLE \"%w\"(", name);
  sqlite3_str_appendf(i, "INSERT INTO \"%w\" VALUES(", name);
  for (size_t k = 0; k < s->ncols; k++) {
    sqlite3_str_appendf(c, "%s\"%w\" %s", k ? ", " : "", s->names[k], csv_type_name(s->types[k]));
    sqlite3_str_appendf(i, "%s?", k ? "," : "");
  }
  sqlite3_str_appendall(c, ")");
  sqlite3_str_appendall(i, ")");
  r = (sqlite3_str_errcode(c) == SQLITE_OK && sqlite3_str_errcode(i) == SQLITE_OK) ? 0 : CDR_ERR_NOMEM;
  *create = sqlite3_str_finish(c);
  *insert = sqlite3_str_finish(i);
  if (r == 0 && (*create == NULL || *insert == NULL))
    r = CDR_ERR_NOMEM;
  return r;
}

/* Unlink u, finalize its statement, drop its staging table (if drop),
 * wipe and free it. */
static void upload_free(struct cdr_engine *e, struct engine_upload *u, int drop) {
  for (struct engine_upload **pp = &e->uploads; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == u) {
      *pp = u->next;
      break;
    }
  }
  sqlite3_finalize(u->ins);
  if (drop) {
    char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\"", u->staging);
    policy_set_mode(&e->policy, POLICY_INTERNAL);
    /* A failure here (out of memory) leaves an unreadable table that
     * holds memory until the enclave restarts: nothing reads it. */
    if (sql != NULL)
      (void)sqlite3_exec(e->db, sql, NULL, NULL, NULL);
    policy_set_mode(&e->policy, POLICY_USER);
    sqlite3_free(sql);
  }
  csv_parser_free(u->p);
  csv_schema_free(&u->schema);
  OPENSSL_cleanse(u, sizeof(*u));
  free(u);
}

void engine_upload_abort(struct cdr_engine *e, struct engine_upload *u) {
  if (e != NULL && u != NULL)
    upload_free(e, u, 1);
}

void engine_uploads_abort_all(struct cdr_engine *e) {
  while (e->uploads != NULL)
    upload_free(e, e->uploads, 0); /* the database is about to close */
}

int engine_upload_begin(struct cdr_engine *e, const struct engine_principal *owner, const char *name, int replace,
                        const struct csv_schema *schema, struct engine_upload **out, char **errmsg) {
  struct engine_upload *u = NULL;
  struct catalog_table *old;
  char *create = NULL, *insert = NULL, why[CDR_MAX_ERROR_MSG];
  int r, rc;

  *out = NULL;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || owner == NULL || owner->name == NULL || schema == NULL)
    return engine_set_err(errmsg, CDR_ERR_ARG, "no engine, owner, table or schema");
  if (!catalog_table_name_valid(name))
    return engine_set_err(errmsg, CDR_ERR_TABLE_NAME,
                          "table name must match [A-Za-z_][A-Za-z0-9_]{0,63} and must not start with sqlite_");
  if (!catalog_owner_valid(owner->name) || strlen(owner->name) > CDR_MAX_NAME_LEN)
    return engine_set_err(errmsg, CDR_ERR_ARG, "a certificate name with control characters cannot own a table");
  if (csv_schema_check(schema, why, sizeof(why)) != 0)
    return engine_set_err(errmsg, CDR_ERR_ARG, "%s", why);
  if ((u = calloc(1, sizeof(*u))) == NULL)
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
  snprintf(u->name, sizeof(u->name), "%s", name);
  snprintf(u->owner, sizeof(u->owner), "%s", owner->name);
  memcpy(u->owner_fp, owner->key_fp, sizeof(u->owner_fp));
  u->replace = replace != 0;
  snprintf(u->staging, sizeof(u->staging), "cdr-upload-%llu", (unsigned long long)++e->upload_serial);
  /* On the list from here, so that upload_free can always unlink it. */
  u->next = e->uploads;
  e->uploads = u;

  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if ((r = check_target(e, u, &old, errmsg)) != 0)
    goto out;
  if (csv_schema_copy(&u->schema, schema) != 0 || build_sql(u->staging, &u->schema, &create, &insert) != 0 ||
      csv_parser_new(&u->p, upload_record, u) != 0) {
    r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  u->schema.nrows = 0;
  if ((rc = sqlite3_exec(e->db, create, NULL, NULL, NULL)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "creating the table failed");
    goto out;
  }
  if ((rc = sqlite3_prepare_v3(e->db, insert, -1, SQLITE_PREPARE_PERSISTENT, &u->ins, NULL)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  *out = u;
  u = NULL;
  r = 0;
out:
  policy_set_mode(&e->policy, POLICY_USER);
  sqlite3_free(create);
  sqlite3_free(insert);
  if (u != NULL)
    upload_free(e, u, 1);
  return r;
}

int engine_upload_feed(struct cdr_engine *e, struct engine_upload *u, const uint8_t *data, size_t len,
                       char **errmsg) {
  int r, rc;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || u == NULL || (data == NULL && len > 0))
    return engine_set_err(errmsg, CDR_ERR_ARG, "no engine, upload or data");
  if (u->failed)
    return engine_set_err(errmsg, CDR_ERR_ARG, "the upload has failed: it can only be aborted");
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if ((rc = sqlite3_exec(e->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) {
    u->failed = 1;
    r = engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  if ((r = csv_parser_feed(u->p, data, len)) != 0) {
    (void)sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
    u->failed = 1;
    r = feed_error(e, u, r, errmsg);
    goto out;
  }
  if ((rc = sqlite3_exec(e->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    (void)sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
    u->failed = 1;
    r = (rc & 0xff) == SQLITE_NOMEM || (rc & 0xff) == SQLITE_FULL
            ? engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the table does not fit in the enclave's memory for tables")
            : engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  r = 0;
out:
  policy_set_mode(&e->policy, POLICY_USER);
  return r;
}

/* A new catalog entry for the upload's table, called name. */
static int catalog_entry(struct catalog_table **out, const char *name, const struct engine_upload *u) {
  struct catalog_table *t = catalog_table_new(name, u->owner, u->owner_fp, cdr_now(), u->rows);
  int r = 0;
  *out = NULL;
  if (t == NULL)
    return CDR_ERR_NOMEM; /* name and owner were checked at begin */
  for (size_t k = 0; k < u->schema.ncols && r == 0; k++)
    r = catalog_table_add_column(t, u->schema.names[k], csv_type_name(u->schema.types[k]), 0);
  if (r != 0) {
    catalog_table_free(t);
    return r;
  }
  *out = t;
  return 0;
}

int engine_upload_commit(struct cdr_engine *e, struct engine_upload *u, struct engine_upload_result *res,
                         char **errmsg) {
  struct catalog_table *old = NULL, *nt = NULL;
  char name[CDR_MAX_TABLE_NAME + 1];
  char *drop = NULL, *rename = NULL;
  size_t size;
  int r, rc, in_txn = 0;

  memset(res, 0, sizeof(*res));
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || u == NULL)
    return engine_set_err(errmsg, CDR_ERR_ARG, "no engine or upload");
  if (u->failed) {
    r = engine_set_err(errmsg, CDR_ERR_ARG, "the upload has failed: it can only be aborted");
    goto out;
  }
  policy_set_mode(&e->policy, POLICY_INTERNAL);
  if ((rc = sqlite3_exec(e->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  in_txn = 1;
  if ((r = csv_parser_finish(u->p)) != 0) {
    r = feed_error(e, u, r, errmsg);
    goto out;
  }
  sqlite3_finalize(u->ins);
  u->ins = NULL;
  /* The room may have changed since begin (another session). */
  if ((r = check_target(e, u, &old, errmsg)) != 0)
    goto out;
  snprintf(name, sizeof(name), "%s", old != NULL ? old->name : u->name); /* a replacement keeps the spelling */
  if (old == NULL && (r = catalog_reserve(&e->catalog)) != 0) {
    r = r == CDR_ERR_TOO_LARGE ? engine_set_err(errmsg, r, "the room already holds %u tables", CDR_MAX_TABLES)
                               : engine_set_err(errmsg, r, "out of memory");
    goto out;
  }
  if ((r = catalog_entry(&nt, name, u)) != 0 || (old != NULL && (r = catalog_table_inherit(nt, old)) != 0)) {
    r = engine_set_err(errmsg, r == CDR_ERR_NOMEM ? r : CDR_ERR_INTERNAL, "loading failed: cannot describe the table");
    goto out;
  }
  size = catalog_encoded_size(&e->catalog) - (old != NULL ? catalog_table_encoded_size(old) : 0);
  if (size + catalog_table_encoded_size(nt) > CDR_MAX_CATALOG_BYTES) {
    r = engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the room's catalog of tables would pass its limit of %u bytes",
                       CDR_MAX_CATALOG_BYTES);
    goto out;
  }
  /* An unavailable table being replaced has no SQLite table to drop. */
  if ((old != NULL && old->unavailable == NULL && (drop = sqlite3_mprintf("DROP TABLE \"%w\"", name)) == NULL) ||
      (rename = sqlite3_mprintf("ALTER TABLE \"%w\" RENAME TO \"%w\"", u->staging, name)) == NULL) {
    r = engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (drop != NULL && (rc = sqlite3_exec(e->db, drop, NULL, NULL, NULL)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "replacing the table failed");
    goto out;
  }
  if ((rc = sqlite3_exec(e->db, rename, NULL, NULL, NULL)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "putting the table in place failed");
    goto out;
  }
  if ((rc = sqlite3_exec(e->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
    r = engine_sqlite_fail(e, rc, errmsg, "loading failed");
    goto out;
  }
  in_txn = 0;
  /* Committed: the catalog follows.  catalog_put replaces `old` (no
   * allocation) or uses the slot reserved above, so it cannot fail. */
  res->rows = u->rows;
  res->replaced = old != NULL;
  snprintf(res->table, sizeof(res->table), "%s", name);
  if ((r = catalog_put(&e->catalog, nt)) != 0) {
    r = engine_set_err(errmsg, CDR_ERR_INTERNAL, "loading failed: the catalog could not record the table");
    goto out;
  }
  nt = NULL;
  upload_free(e, u, 0); /* the staging table is the room table now */
  u = NULL;
  r = 0;
out:
  if (in_txn)
    (void)sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
  policy_set_mode(&e->policy, POLICY_USER);
  catalog_table_free(nt);
  sqlite3_free(drop);
  sqlite3_free(rename);
  if (u != NULL)
    upload_free(e, u, 1);
  if (r != 0)
    memset(res, 0, sizeof(*res));
  return r;
}

int engine_load_csv(struct cdr_engine *e, const struct engine_principal *owner, const char *name, const uint8_t *csv,
                    size_t len, int replace, uint64_t *rows_loaded, char **errmsg) {
  struct csv_schema schema;
  struct engine_upload *u = NULL;
  struct engine_upload_result res;
  char cerr[CDR_MAX_ERROR_MSG];
  int r;

  if (rows_loaded != NULL)
    *rows_loaded = 0;
  if (errmsg != NULL)
    *errmsg = NULL;
  if (e == NULL || owner == NULL || owner->name == NULL || (csv == NULL && len > 0))
    return engine_set_err(errmsg, CDR_ERR_ARG, "no engine, owner or data");
  if (!catalog_table_name_valid(name))
    return engine_set_err(errmsg, CDR_ERR_TABLE_NAME,
                          "table name must match [A-Za-z_][A-Za-z0-9_]{0,63} and must not start with sqlite_");
  if ((r = csv_schema_infer(&schema, csv, len, cerr, sizeof(cerr))) != 0)
    return r == CDR_ERR_CSV ? engine_set_err(errmsg, r, "%s", cerr) : engine_set_err(errmsg, r, "out of memory");
  r = engine_upload_begin(e, owner, name, replace, &schema, &u, errmsg);
  csv_schema_free(&schema);
  if (r != 0)
    return r;
  if ((r = engine_upload_feed(e, u, csv, len, errmsg)) != 0) {
    engine_upload_abort(e, u);
    return r;
  }
  if ((r = engine_upload_commit(e, u, &res, errmsg)) != 0)
    return r;
  if (rows_loaded != NULL)
    *rows_loaded = res.rows;
  return 0;
}
