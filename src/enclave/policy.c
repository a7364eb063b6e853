/*
 * policy.c - the read-only SQL policy as an SQLite authorizer; see
 * policy.h for what is allowed.
 *
 * The policy is an allow-list: the switch in policy_authorize names the
 * few actions a read-only query needs and everything else falls through
 * to a denial, so an action code added by a later SQLite is refused.
 *
 * Things SQLite does that shaped this file (checked with SQLite 3.40):
 *   - A FROM item none of whose columns is used ("SELECT count(*) FROM
 *     t", also "SELECT rowid FROM t") produces SQLITE_READ with the
 *     table's name (any case; not its alias; a CTE's name for a CTE),
 *     column "" and the database as written (usually NULL).  The rowid
 *     arrives as column "ROWID" (also when written oid or _rowid_).
 *   - Columns read through a CTE, a subquery, a window function, ORDER
 *     BY, GROUP BY, WHERE or a function argument are reported as reads
 *     of the base table's column (a CTE's with `inner` set to its name).
 *   - The columns a JOIN's USING clause or a NATURAL JOIN compares are
 *     NOT reported (SQLite builds those column references itself, after
 *     name resolution), and a table whose only used columns are those is
 *     not reported at all.  The engine therefore checks the compiled
 *     program as well (engine_sqlite.c, check_program).
 *   - Table-valued functions (json_each, pragma_table_info, dbstat,
 *     sqlite_stmt) are eponymous virtual tables and arrive as
 *     SQLITE_READ of a table of that name; PRAGMA statements arrive as
 *     SQLITE_PRAGMA.  The first use of an eponymous table on a connection
 *     also produces a phantom SQLITE_UPDATE of sqlite_master, so the
 *     engine touches them all in internal mode when it opens.
 *   - DROP TABLE asks first for SQLITE_DELETE on sqlite_master and
 *     CREATE TABLE for SQLITE_INSERT on it; a denial stops the prepare at
 *     the first refused action, hence the "changing the schema" wording
 *     for writes to sqlite_* tables.
 *   - VACUUM consults no authorizer at all; the engine's other checks
 *     (read-only statement, SELECT/WITH/VALUES only) stop it.
 *
 * Reasons are built from names only (SQL text or schema, both valid
 * UTF-8), each clipped at a character boundary so that the sentence
 * always fits and stays valid UTF-8.
 */
#include "policy.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include <string.h>

#include "common/util.h"
#include "catalog.h"
#include "engine.h"

#define NAME_CLIP 64u

/* Functions with effects outside the data room or on process memory:
 * loading code, files (the shell's readfile/writefile/edit, in case an
 * extension ever provides them), and fts3_tokenizer which returns and
 * accepts raw pointers.  Also the ones that reveal the engine's state
 * rather than the data: what other sessions' uploads changed
 * (last_insert_rowid, changes, total_changes) and how SQLite was built. */
static const char *const denied_functions[] = {"load_extension",         "readfile",      "writefile",
                                               "edit",                   "fts3_tokenizer", "last_insert_rowid",
                                               "changes",                "total_changes",  "sqlite_compileoption_get",
                                               "sqlite_compileoption_used"};

/* Table-valued functions that only compute from their arguments. */
static const char *const pure_table_functions[] = {"json_each", "json_tree"};

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int has_prefix_nocase(const char *s, const char *prefix) {
  for (; *prefix != '\0'; s++, prefix++)
    if (ascii_lower((unsigned char)*s) != ascii_lower((unsigned char)*prefix))
      return 0;
  return 1;
}

/* Copy name into out (NAME_CLIP + 4 bytes), cut at a UTF-8 character
 * boundary with "..." if it is longer than NAME_CLIP bytes. */
static const char *clip(char *out, const char *name) {
  size_t n;
  if (name == NULL || name[0] == '\0')
    return "?";
  n = strlen(name);
  if (n <= NAME_CLIP) {
    memcpy(out, name, n + 1);
    return out;
  }
  n = NAME_CLIP;
  while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
    n--; /* name[n] would continue a character: cut before it */
  memcpy(out, name, n);
  memcpy(out + n, "...", 4);
  return out;
}

static void vrecord(struct policy *p, int code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
static void vrecord(struct policy *p, int code, const char *fmt, va_list ap) {
  if (!p->denied) {
    vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
    p->denied = 1;
    p->denied_code = code;
  }
}

/* Record the reason (only the first one counts) and deny. */
static int __attribute__((format(printf, 2, 3))) deny(struct policy *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(p, CDR_ERR_SQL_DENIED, fmt, ap);
  va_end(ap);
  return SQLITE_DENY;
}

void policy_init(struct policy *p) { memset(p, 0, sizeof(*p)); }

static void names_free(struct policy_names *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof(*l));
}

static int names_has(const struct policy_names *l, const char *name) {
  if (name == NULL)
    return 0;
  for (size_t i = 0; i < l->n; i++)
    if (cdr_ascii_casecmp(l->v[i], name) == 0)
      return 1;
  return 0;
}

static int names_add(struct policy_names *l, const char *name) {
  char *copy;
  if (names_has(l, name))
    return 0;
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 8;
    char **nv;
    if (ncap > SIZE_MAX / sizeof(*nv))
      return CDR_ERR_NOMEM;
    if ((nv = realloc(l->v, ncap * sizeof(*nv))) == NULL)
      return CDR_ERR_NOMEM;
    l->v = nv;
    l->cap = ncap;
  }
  if ((copy = strdup(name)) == NULL)
    return CDR_ERR_NOMEM;
  l->v[l->n++] = copy;
  return 0;
}

void policy_free(struct policy *p) {
  names_free(&p->builtins);
  names_free(&p->touched);
  names_free(&p->approved);
  memset(p, 0, sizeof(*p));
}

void policy_set_mode(struct policy *p, enum policy_mode mode) { p->mode = mode; }

void policy_set_catalog(struct policy *p, const struct catalog *c) { p->catalog = c; }

void policy_set_principal(struct policy *p, const struct engine_principal *who) { p->who = who; }

const char *policy_denial(const struct policy *p) { return p->denied ? p->reason : NULL; }

int policy_denial_code(const struct policy *p) { return p->denied ? p->denied_code : 0; }

const struct policy_names *policy_touched(const struct policy *p) { return &p->touched; }

void policy_clear_touched(struct policy *p) { names_free(&p->touched); }

void policy_clear_denial(struct policy *p) {
  p->denied = 0;
  p->denied_code = 0;
  p->reason[0] = '\0';
}

int policy_is_room_table(const struct policy *p, const char *name) { return catalog_find(p->catalog, name) != NULL; }

int policy_add_builtin(struct policy *p, const char *name) { return names_add(&p->builtins, name); }

/* "table\ncolumn": a table name never holds a newline, so the key splits
 * at its first one. */
static char *approval_key(const char *table, const char *column) {
  size_t a = strlen(table), b = column != NULL ? strlen(column) : 0;
  char *k = malloc(a + b + 2);
  if (k == NULL)
    return NULL;
  memcpy(k, table, a);
  k[a] = '\n';
  if (b > 0)
    memcpy(k + a + 1, column, b);
  k[a + 1 + b] = '\0';
  return k;
}

int policy_approve(struct policy *p, const char *table, const char *column) {
  char *k = approval_key(table, column);
  int r = k != NULL ? names_add(&p->approved, k) : CDR_ERR_NOMEM;
  free(k);
  return r;
}

void policy_clear_approved(struct policy *p) { names_free(&p->approved); }

static int approved(const struct policy *p, const char *table, const char *column) {
  if (p->approved.n == 0)
    return 0;
  char *k = approval_key(table, column);
  int yes = k != NULL && names_has(&p->approved, k);
  free(k);
  return yes;
}

/* ---- access to room tables ---- */

static int is_rowid_name(const char *c) {
  return cdr_ascii_casecmp(c, "rowid") == 0 || cdr_ascii_casecmp(c, "oid") == 0 || cdr_ascii_casecmp(c, "_rowid_") == 0;
}

/* Does grant g (to who) cover column k of its table? */
static int grant_covers(const struct catalog_grant *g, const struct catalog_table *t, size_t k) {
  if (g->all_columns)
    return 1;
  for (size_t i = 0; i < g->ncols; i++)
    if (cdr_ascii_casecmp(g->cols[i], t->cols[k].name) == 0)
      return 1;
  return 0;
}

/* Is g a grant to who: to its role, or to its name?  A "role:" grantee
 * never matches a name, so a certificate named "role:analyst" gains
 * nothing by it. */
static int grant_matches(const struct catalog_grant *g, const struct engine_principal *who) {
  size_t plen = strlen(CATALOG_ROLE_PREFIX);
  if (strncmp(g->grantee, CATALOG_ROLE_PREFIX, plen) == 0)
    return who->role != CDR_ROLE_NONE && strcmp(g->grantee + plen, cdr_role_name(who->role)) == 0;
  return strcmp(g->grantee, who->name) == 0;
}

/* Ownership is the uploader's key (SHA-256 of its SPKI), never its name:
 * a contract version that gives the owner's display name to another key
 * gives that key nothing of the owner's. */
static int is_owner(const struct catalog_table *t, const struct engine_principal *who) {
  return who != NULL && who->name != NULL && CRYPTO_memcmp(t->owner_key_fp, who->key_fp, sizeof(t->owner_key_fp)) == 0;
}

enum policy_table_access policy_table_access(const struct catalog_table *t, const struct engine_principal *who) {
  enum policy_table_access best = POLICY_ACCESS_NONE;
  if (t == NULL || who == NULL || who->name == NULL)
    return POLICY_ACCESS_NONE;
  if (is_owner(t, who))
    return POLICY_ACCESS_OWNER;
  for (size_t i = 0; i < t->ngrants; i++) {
    if (!grant_matches(&t->grants[i], who))
      continue;
    if (t->grants[i].all_columns)
      return POLICY_ACCESS_ALL;
    best = POLICY_ACCESS_COLUMNS;
  }
  return best;
}

static void __attribute__((format(printf, 3, 4))) say(char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  if (why == NULL || whylen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
}

int policy_access(const struct catalog_table *t, const struct engine_principal *who, const char *column, char *why,
                  size_t whylen) {
  char a[NAME_CLIP + 4], b[NAME_CLIP + 4];
  enum policy_table_access acc;
  long k = -1;

  if (t == NULL)
    return CDR_ERR_ACCESS_DENIED;
  acc = policy_table_access(t, who);
  if (acc == POLICY_ACCESS_OWNER)
    return 0;
  if (acc == POLICY_ACCESS_NONE) {
    /* The words of engine_no_table: the same whether or not the table
     * exists, and no owner named (engine_rules.c). */
    say(why, whylen,
        "no access to table %s (no such table: %s, or one you may not read; its owner can give access: a grant, or "
        "a release rule for analysts)",
        clip(a, t->name), clip(a, t->name));
    return CDR_ERR_ACCESS_DENIED;
  }
  if (column == NULL || column[0] == '\0')
    return 0; /* no column: any grant will do */
  if ((k = catalog_column_index(t, column)) < 0) {
    if (is_rowid_name(column))
      return 0;
    say(why, whylen, "no access to column %s.%s: the table has no such column", clip(a, t->name), clip(b, column));
    return CDR_ERR_ACCESS_DENIED;
  }
  if (t->cols[k].hidden) {
    say(why, whylen, "no access to column %s.%s: the column is hidden by its owner", clip(a, t->name),
        clip(b, t->cols[k].name));
    return CDR_ERR_ACCESS_DENIED;
  }
  for (size_t i = 0; i < t->ngrants; i++)
    if (grant_matches(&t->grants[i], who) && grant_covers(&t->grants[i], t, (size_t)k))
      return 0;
  say(why, whylen, "no access to column %s.%s: your grant on %s does not include it", clip(a, t->name),
      clip(b, t->cols[k].name), t->name);
  return CDR_ERR_ACCESS_DENIED;
}

static int __attribute__((format(printf, 3, 4))) deny_code(struct policy *p, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vrecord(p, code, fmt, ap);
  va_end(ap);
  return SQLITE_DENY;
}

int policy_check_read(struct policy *p, const char *table, const char *column) {
  char a[NAME_CLIP + 4], why[POLICY_REASON_MAX];
  const struct catalog_table *t = catalog_find(p->catalog, table);
  if (t == NULL)
    return deny(p, "reading %s is not allowed: only the room's tables can be read", clip(a, table));
  if (p->mode == POLICY_USER)
    (void)names_add(&p->touched, t->name);
  if (approved(p, t->name, column))
    return SQLITE_OK;
  if (policy_access(t, p->who, column, why, sizeof(why)) != 0)
    return deny_code(p, CDR_ERR_ACCESS_DENIED, "%s", why);
  return SQLITE_OK;
}

static int in_list(const char *name, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (cdr_ascii_casecmp(name, list[i]) == 0)
      return 1;
  return 0;
}

/* SQLITE_READ of column `column` of `table`; column "" means that no
 * column of the FROM item is used, and table may then be a CTE's name. */
static int authorize_read(struct policy *p, const char *table, const char *column) {
  char a[NAME_CLIP + 4];
  if (table == NULL || table[0] == '\0')
    return deny(p, "reading a table without a name is not allowed");
  if (policy_is_room_table(p, table))
    return policy_check_read(p, table, column);
  if (in_list(table, pure_table_functions, sizeof(pure_table_functions) / sizeof(pure_table_functions[0])))
    return SQLITE_OK;
  if (has_prefix_nocase(table, "sqlite_"))
    return deny(p, "reading internal table %s is not allowed", clip(a, table));
  if (has_prefix_nocase(table, "pragma_"))
    return deny(p, "PRAGMA is not allowed (%s): queries cannot inspect or change engine settings", clip(a, table));
  if (column != NULL && column[0] == '\0' && !names_has(&p->builtins, table))
    return SQLITE_OK; /* a CTE or subquery: its own reads were checked */
  return deny(p, "reading %s is not allowed: only the room's tables can be read", clip(a, table));
}

static int authorize_write(struct policy *p, const char *verb, const char *table) {
  char a[NAME_CLIP + 4];
  if (table != NULL && has_prefix_nocase(table, "sqlite_"))
    return deny(p, "changing the schema is not allowed: queries in a data room are read-only");
  return deny(p, "%s table %s is not allowed: queries are read-only", verb, clip(a, table));
}

/* SQLite's name of a schema-changing action, or NULL. */
static const char *schema_verb(int action) {
  switch (action) {
  case SQLITE_CREATE_INDEX: return "CREATE INDEX";
  case SQLITE_CREATE_TABLE: return "CREATE TABLE";
  case SQLITE_CREATE_TEMP_INDEX: return "CREATE TEMP INDEX";
  case SQLITE_CREATE_TEMP_TABLE: return "CREATE TEMP TABLE";
  case SQLITE_CREATE_TEMP_TRIGGER: return "CREATE TEMP TRIGGER";
  case SQLITE_CREATE_TEMP_VIEW: return "CREATE TEMP VIEW";
  case SQLITE_CREATE_TRIGGER: return "CREATE TRIGGER";
  case SQLITE_CREATE_VIEW: return "CREATE VIEW";
  case SQLITE_CREATE_VTABLE: return "CREATE VIRTUAL TABLE";
  case SQLITE_DROP_INDEX: return "DROP INDEX";
  case SQLITE_DROP_TABLE: return "DROP TABLE";
  case SQLITE_DROP_TEMP_INDEX: return "DROP TEMP INDEX";
  case SQLITE_DROP_TEMP_TABLE: return "DROP TEMP TABLE";
  case SQLITE_DROP_TEMP_TRIGGER: return "DROP TEMP TRIGGER";
  case SQLITE_DROP_TEMP_VIEW: return "DROP TEMP VIEW";
  case SQLITE_DROP_TRIGGER: return "DROP TRIGGER";
  case SQLITE_DROP_VIEW: return "DROP VIEW";
  case SQLITE_DROP_VTABLE: return "DROP VIRTUAL TABLE";
  default: return NULL;
  }
}

int policy_authorize(void *ctx, int action, const char *arg1, const char *arg2, const char *dbname,
                     const char *inner) {
  struct policy *p = ctx;
  char a[NAME_CLIP + 4];
  const char *verb;
  (void)dbname;
  (void)inner;

  if (p->mode == POLICY_INTERNAL)
    return SQLITE_OK;

  switch (action) {
  case SQLITE_SELECT:
  case SQLITE_RECURSIVE:
    return SQLITE_OK;
  case SQLITE_READ:
    return authorize_read(p, arg1, arg2);
  case SQLITE_FUNCTION:
    if (arg2 == NULL)
      return deny(p, "calling a function without a name is not allowed");
    if (in_list(arg2, denied_functions, sizeof(denied_functions) / sizeof(denied_functions[0])))
      return deny(p, "function %s is not allowed: it reaches outside the data room", clip(a, arg2));
    return SQLITE_OK;
  case SQLITE_INSERT:
    return authorize_write(p, "INSERT into", arg1);
  case SQLITE_UPDATE:
    return authorize_write(p, "UPDATE of", arg1);
  case SQLITE_DELETE:
    return authorize_write(p, "DELETE from", arg1);
  case SQLITE_ALTER_TABLE:
    return deny(p, "ALTER TABLE %s is not allowed: queries cannot change the schema", clip(a, arg2));
  case SQLITE_ATTACH:
    return deny(p, "ATTACH is not allowed: queries in a data room are read-only");
  case SQLITE_DETACH:
    return deny(p, "DETACH is not allowed: queries in a data room are read-only");
  case SQLITE_PRAGMA:
    return deny(p, "PRAGMA is not allowed (PRAGMA %s): queries cannot inspect or change engine settings",
                clip(a, arg1));
  case SQLITE_TRANSACTION:
    return deny(p, "%s is not allowed: queries cannot control transactions", arg1 != NULL ? clip(a, arg1) : "BEGIN");
  case SQLITE_SAVEPOINT:
    return deny(p, "SAVEPOINT is not allowed: queries cannot control transactions");
  case SQLITE_ANALYZE:
    return deny(p, "ANALYZE is not allowed: queries in a data room are read-only");
  case SQLITE_REINDEX:
    return deny(p, "REINDEX is not allowed: queries in a data room are read-only");
  default:
    break;
  }
  if ((verb = schema_verb(action)) != NULL)
    return deny(p, "%s %s is not allowed: queries cannot change the schema", verb, clip(a, arg1));
  return deny(p, "this statement (authorizer action %d) is not allowed: queries in a data room are read-only",
              action);
}
