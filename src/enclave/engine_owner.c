/*
 * engine_owner.c - what a table's owner may change (engine.h, "owner
 * operations"): drop the table, grant and revoke read access to it, hide
 * and show its columns.
 *
 * Contracts and invariants:
 *   - Each operation finds the table by name without ASCII case and acts
 *     only if the caller's principal owns it (CDR_ERR_NOT_FOUND,
 *     CDR_ERR_ACCESS_DENIED naming the owner otherwise).  An unavailable
 *     table (its sealed file did not load) can only be dropped: grants
 *     and hidden flags are CDR_ERR_TABLE_UNAVAILABLE.
 *   - The catalog changes only after the SQLite change it describes has
 *     succeeded (drop), or alone when there is none (grants, hidden
 *     flags); a grant is refused before the catalog changes if the
 *     catalog's encoding would pass CDR_MAX_CATALOG_BYTES, so what is
 *     sealed always fits.
 *   - The engine's own DROP runs in the policy's internal mode, and the
 *     policy is back in user mode afterwards.
 */
#include "engine.h"
#include "engine_int.h"

#include <stdio.h>
#include <openssl/crypto.h>
#include <string.h>

/* The table `table` if who owns it; else NULL with *r and *errmsg set
 * (CDR_ERR_NOT_FOUND, CDR_ERR_ACCESS_DENIED naming the owner).  Unless
 * `any` (drop), an unavailable table is refused too
 * (CDR_ERR_TABLE_UNAVAILABLE): its catalog entry is what the manifest
 * holds, and stays so until its owner drops or replaces it.  A table
 * still loading is refused to its owner whatever the operation
 * (CDR_ERR_ROOM_LOADING) until it has loaded. */
struct catalog_table *engine_owned_table(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                                         const char *verb, int any, int *r, char **errmsg) {
  struct catalog_table *t;
  if (e == NULL || who == NULL || who->name == NULL || table == NULL) {
    *r = engine_set_err(errmsg, CDR_ERR_ARG, "no engine, user or table");
    return NULL;
  }
  if ((t = catalog_find(&e->catalog, table)) == NULL) {
    *r = engine_set_err(errmsg, CDR_ERR_NOT_FOUND, "there is no table %.64s", table);
    return NULL;
  }
  if (CRYPTO_memcmp(t->owner_key_fp, who->key_fp, sizeof(t->owner_key_fp)) != 0) { /* the owner's key, not name */
    /* The same words whether or not the table is available: whoever
     * cannot see it learns nothing of its state from a refusal. */
    *r = engine_set_err(errmsg, CDR_ERR_ACCESS_DENIED, "table %s belongs to %s: only its owner can %s", t->name,
                        t->owner, verb);
    return NULL;
  }
  if (t->loading) { /* not even a drop: its rows are coming in */
    *r = engine_table_loading(e, errmsg, t->name);
    return NULL;
  }
  if (!any && t->unavailable != NULL) {
    *r = engine_set_err(errmsg, CDR_ERR_TABLE_UNAVAILABLE,
                        "table %s is unavailable (%s): it cannot change until it loads again (the server puts its "
                        "sealed file back) or you replace it (upload --replace) or drop it",
                        t->name, t->unavailable);
    return NULL;
  }
  *r = 0;
  return t;
}

int engine_drop(struct cdr_engine *e, const struct engine_principal *who, const char *table, char **errmsg) {
  struct catalog_table *t;
  char *sql;
  int r, rc;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = engine_owned_table(e, who, table, "drop it", 1, &r, errmsg)) == NULL)
    return r;
  if (t->unavailable == NULL) { /* an unavailable table has no SQLite table */
    if ((sql = sqlite3_mprintf("DROP TABLE \"%w\"", t->name)) == NULL)
      return engine_set_err(errmsg, CDR_ERR_NOMEM, "out of memory");
    policy_set_mode(&e->policy, POLICY_INTERNAL);
    rc = sqlite3_exec(e->db, sql, NULL, NULL, NULL);
    policy_set_mode(&e->policy, POLICY_USER);
    sqlite3_free(sql);
    if (rc != SQLITE_OK)
      return engine_sqlite_fail(e, rc, errmsg, "dropping the table failed");
  }
  if ((r = catalog_remove(&e->catalog, t->name)) != 0)
    return engine_set_err(errmsg, CDR_ERR_INTERNAL, "the catalog lost the table");
  return 0;
}

/* Encoded size of a grant to grantee of n named columns (the table's
 * spelling has the same length: names match without ASCII case). */
static size_t grant_encoded_size(const char *grantee, const char *const *cols, size_t n) {
  size_t s = 4 + strlen(grantee) + 1 + 4;
  for (size_t i = 0; cols != NULL && i < n; i++)
    s += 4 + strlen(cols[i]);
  return s;
}

int engine_grant(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *grantee,
                 const char *const *columns, size_t ncolumns, char **errmsg) {
  struct catalog_table *t;
  const struct catalog_grant *old;
  const char *bad = NULL;
  char b[80];
  size_t size;
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = engine_owned_table(e, who, table, "grant access to it", 0, &r, errmsg)) == NULL)
    return r;
  if (!catalog_grantee_valid(grantee))
    return engine_set_err(errmsg, CDR_ERR_ARG,
                          "a grant goes to a user name or to role:analyst, role:provider or role:auditor");
  if (strcmp(grantee, t->owner) == 0)
    return engine_set_err(errmsg, CDR_ERR_ARG, "%s owns table %s already", t->owner, t->name);
  if (columns != NULL && (ncolumns == 0 || ncolumns > t->ncols))
    return engine_set_err(errmsg, CDR_ERR_ARG, "the column list must name between 1 and %zu distinct columns of %s",
                          t->ncols, t->name);
  for (size_t i = 0; columns != NULL && i < ncolumns; i++)
    if (columns[i] == NULL || strlen(columns[i]) > CDR_MAX_COLUMN_NAME)
      return engine_set_err(errmsg, CDR_ERR_ARG, "a column name is missing or too long");
  old = catalog_grant_find(t, grantee);
  size = catalog_encoded_size(&e->catalog) + grant_encoded_size(grantee, columns, ncolumns);
  if (old != NULL)
    size -= grant_encoded_size(old->grantee, (const char *const *)old->cols, old->ncols);
  if (size > CDR_MAX_CATALOG_BYTES)
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "the room's catalog would pass its limit of %u bytes",
                          CDR_MAX_CATALOG_BYTES);
  switch ((r = catalog_grant(t, grantee, columns, ncolumns, &bad))) {
  case 0:
    return 0;
  case CDR_ERR_NOT_FOUND:
    snprintf(b, sizeof(b), "%.64s", bad != NULL ? bad : "?");
    return engine_set_err(errmsg, r, "table %s has no column %s", t->name, b);
  case CDR_ERR_ARG:
    snprintf(b, sizeof(b), "%.64s", bad != NULL ? bad : "?");
    return engine_set_err(errmsg, r, "column %s is listed twice", b);
  case CDR_ERR_TOO_LARGE:
    return engine_set_err(errmsg, r, "table %s already has %u grants", t->name, CDR_MAX_GRANTS_PER_TABLE);
  default:
    return engine_set_err(errmsg, r, "out of memory");
  }
}

int engine_revoke_grant(struct cdr_engine *e, const struct engine_principal *who, const char *table,
                        const char *grantee, char **errmsg) {
  struct catalog_table *t;
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = engine_owned_table(e, who, table, "revoke its grants", 0, &r, errmsg)) == NULL)
    return r;
  if (grantee == NULL || catalog_revoke(t, grantee) != 0)
    return engine_set_err(errmsg, CDR_ERR_NOT_FOUND, "%.140s holds no grant on table %s", grantee ? grantee : "?",
                          t->name);
  return 0;
}

int engine_hide(struct cdr_engine *e, const struct engine_principal *who, const char *table, const char *column,
                int hidden, char **errmsg) {
  struct catalog_table *t;
  long k;
  int r;
  if (errmsg != NULL)
    *errmsg = NULL;
  if ((t = engine_owned_table(e, who, table, "hide its columns", 0, &r, errmsg)) == NULL)
    return r;
  if ((k = catalog_column_index(t, column)) < 0)
    return engine_set_err(errmsg, CDR_ERR_NOT_FOUND, "table %s has no column %.64s", t->name, column ? column : "?");
  t->cols[k].hidden = hidden != 0;
  return 0;
}
