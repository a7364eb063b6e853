/*
 * catalog.c - the table catalog: owners, columns, hidden flags and
 * grants, and its exact binary encoding.  See catalog.h for the
 * invariants and the format.
 *
 * Workload: a handful to a few hundred tables, changed by owners now and
 * then and read on every SQL column access, so lookups are linear scans
 * over small arrays and every mutator builds its new state aside and
 * swaps it in, leaving the old state intact on failure.
 */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/utf8.h"
#include "common/util.h"
#include "rule_doc.h"

static const char *const column_types[] = {"INTEGER", "REAL", "TEXT"};
static const char *const grant_roles[] = {"analyst", "provider", "auditor"};

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c; }

static int bounded_utf8(const char *s, size_t maxlen) {
  size_t n;
  if (s == NULL)
    return 0;
  n = strlen(s);
  return n >= 1 && n <= maxlen && cdr_utf8_valid((const uint8_t *)s, n);
}

/* UTF-8 without C0, DEL or C1 controls (a name that reaches terminals). */
static int printable_name(const char *s, size_t maxlen) {
  const unsigned char *u = (const unsigned char *)s;
  if (!bounded_utf8(s, maxlen))
    return 0;
  for (; *u != '\0'; u++) {
    if (*u < 0x20 || *u == 0x7f)
      return 0;
    if (u[0] == 0xC2 && u[1] >= 0x80 && u[1] <= 0x9F)
      return 0;
  }
  return 1;
}

int catalog_table_name_valid(const char *name) {
  size_t n;
  if (name == NULL || name[0] == '\0')
    return 0;
  n = strlen(name);
  if (n > CDR_MAX_TABLE_NAME)
    return 0;
  if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
    return 0;
  for (size_t i = 1; i < n; i++) {
    char c = name[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  for (size_t i = 0; i < 7; i++)
    if (ascii_lower((unsigned char)name[i]) != "sqlite_"[i])
      return 1;
  return 0;
}

int catalog_owner_valid(const char *owner) { return printable_name(owner, CDR_MAX_NAME_LEN); }

int catalog_grantee_valid(const char *g) {
  size_t plen = strlen(CATALOG_ROLE_PREFIX);
  if (g == NULL)
    return 0;
  if (strncmp(g, CATALOG_ROLE_PREFIX, plen) == 0) {
    for (size_t i = 0; i < sizeof(grant_roles) / sizeof(grant_roles[0]); i++)
      if (strcmp(g + plen, grant_roles[i]) == 0)
        return 1;
    return 0;
  }
  return printable_name(g, CDR_MAX_NAME_LEN);
}

static int column_name_valid(const char *name) { return bounded_utf8(name, CDR_MAX_COLUMN_NAME); }

static int column_type_valid(const char *type) {
  if (type == NULL)
    return 0;
  for (size_t i = 0; i < sizeof(column_types) / sizeof(column_types[0]); i++)
    if (strcmp(type, column_types[i]) == 0)
      return 1;
  return 0;
}

/* ---- life cycle ---- */

void catalog_init(struct catalog *c) { memset(c, 0, sizeof(*c)); }

static void grant_clear(struct catalog_grant *g) {
  free(g->grantee);
  for (size_t i = 0; i < g->ncols; i++)
    free(g->cols[i]);
  free(g->cols);
  memset(g, 0, sizeof(*g));
}

static void grants_free(struct catalog_grant *v, size_t n) {
  for (size_t i = 0; i < n; i++)
    grant_clear(&v[i]);
  free(v);
}

void catalog_table_free(struct catalog_table *t) {
  if (t == NULL)
    return;
  free(t->name);
  free(t->owner);
  for (size_t i = 0; i < t->ncols; i++) {
    free(t->cols[i].name);
    free(t->cols[i].type);
  }
  free(t->cols);
  grants_free(t->grants, t->ngrants);
  free(t->unavailable);
  free(t->rule);
  rule_doc_free(t->rule_doc);
  free(t);
}

void catalog_free(struct catalog *c) {
  for (size_t i = 0; i < c->n; i++)
    catalog_table_free(c->tables[i]);
  free(c->tables);
  memset(c, 0, sizeof(*c));
}

/* ---- lookups ---- */

struct catalog_table *catalog_find(const struct catalog *c, const char *name) {
  if (c == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < c->n; i++)
    if (cdr_ascii_casecmp(c->tables[i]->name, name) == 0)
      return c->tables[i];
  return NULL;
}

long catalog_column_index(const struct catalog_table *t, const char *name) {
  if (t == NULL || name == NULL)
    return -1;
  for (size_t i = 0; i < t->ncols; i++)
    if (cdr_ascii_casecmp(t->cols[i].name, name) == 0)
      return (long)i;
  return -1;
}

struct catalog_grant *catalog_grant_find(const struct catalog_table *t, const char *grantee) {
  if (t == NULL || grantee == NULL)
    return NULL;
  for (size_t i = 0; i < t->ngrants; i++)
    if (strcmp(t->grants[i].grantee, grantee) == 0)
      return &t->grants[i];
  return NULL;
}

/* ---- building tables ---- */

struct catalog_table *catalog_table_new(const char *name, const char *owner, const uint8_t owner_key_fp[32],
                                        int64_t created_at, uint64_t rows) {
  struct catalog_table *t;
  if (!catalog_table_name_valid(name) || !catalog_owner_valid(owner) || owner_key_fp == NULL)
    return NULL;
  if ((t = calloc(1, sizeof(*t))) == NULL)
    return NULL;
  t->name = strdup(name);
  t->owner = strdup(owner);
  if (t->name == NULL || t->owner == NULL) {
    catalog_table_free(t);
    return NULL;
  }
  memcpy(t->owner_key_fp, owner_key_fp, 32);
  t->created_at = created_at;
  t->rows = rows;
  return t;
}

int catalog_table_add_column(struct catalog_table *t, const char *name, const char *type, int hidden) {
  struct catalog_column *nv;
  char *n, *ty;
  if (!column_name_valid(name) || !column_type_valid(type) || (hidden != 0 && hidden != 1))
    return CDR_ERR_ARG;
  if (catalog_column_index(t, name) >= 0)
    return CDR_ERR_ARG;
  if (t->ncols >= CDR_MAX_COLUMNS)
    return CDR_ERR_TOO_LARGE;
  if ((nv = realloc(t->cols, (t->ncols + 1) * sizeof(*nv))) == NULL)
    return CDR_ERR_NOMEM;
  t->cols = nv;
  n = strdup(name);
  ty = strdup(type);
  if (n == NULL || ty == NULL) {
    free(n);
    free(ty);
    return CDR_ERR_NOMEM;
  }
  t->cols[t->ncols].name = n;
  t->cols[t->ncols].type = ty;
  t->cols[t->ncols].hidden = hidden;
  t->ncols++;
  return 0;
}

/* ---- grants ---- */

/* Fill g (zeroed by the caller) with a copy of grantee and the columns
 * of t at idx[0..n) (n == 0 with all set: every column). */
static int grant_fill(struct catalog_grant *g, const struct catalog_table *t, const char *grantee, int all,
                      const size_t *idx, size_t n) {
  if ((g->grantee = strdup(grantee)) == NULL)
    return CDR_ERR_NOMEM;
  g->all_columns = all;
  if (all || n == 0)
    return 0;
  if ((g->cols = calloc(n, sizeof(*g->cols))) == NULL)
    return CDR_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    if ((g->cols[i] = strdup(t->cols[idx[i]].name)) == NULL)
      return CDR_ERR_NOMEM;
    g->ncols++;
  }
  return 0;
}

int catalog_grant(struct catalog_table *t, const char *grantee, const char *const *cols, size_t ncols,
                  const char **bad) {
  struct catalog_grant g, *old;
  size_t *idx = NULL;
  int r;

  memset(&g, 0, sizeof(g));
  if (bad != NULL)
    *bad = NULL;
  if (t == NULL || !catalog_grantee_valid(grantee) || (cols != NULL && ncols == 0))
    return CDR_ERR_ARG;
  if (cols != NULL) {
    if (ncols > t->ncols)
      return CDR_ERR_ARG; /* some name repeats or does not exist */
    if ((idx = calloc(ncols, sizeof(*idx))) == NULL)
      return CDR_ERR_NOMEM;
    for (size_t i = 0; i < ncols; i++) {
      long k = catalog_column_index(t, cols[i]);
      if (k < 0) {
        if (bad != NULL)
          *bad = cols[i];
        r = CDR_ERR_NOT_FOUND;
        goto out;
      }
      for (size_t j = 0; j < i; j++) {
        if (idx[j] == (size_t)k) {
          if (bad != NULL)
            *bad = cols[i];
          r = CDR_ERR_ARG;
          goto out;
        }
      }
      idx[i] = (size_t)k;
    }
  }
  old = catalog_grant_find(t, grantee);
  if (old == NULL && t->ngrants >= CDR_MAX_GRANTS_PER_TABLE) {
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  if ((r = grant_fill(&g, t, grantee, cols == NULL, idx, cols == NULL ? 0 : ncols)) != 0)
    goto out;
  if (old != NULL) {
    grant_clear(old);
    *old = g;
  } else {
    struct catalog_grant *nv = realloc(t->grants, (t->ngrants + 1) * sizeof(*nv));
    if (nv == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    t->grants = nv;
    t->grants[t->ngrants++] = g;
  }
  memset(&g, 0, sizeof(g));
  r = 0;
out:
  grant_clear(&g);
  free(idx);
  return r;
}

int catalog_revoke(struct catalog_table *t, const char *grantee) {
  struct catalog_grant *g = catalog_grant_find(t, grantee);
  size_t k;
  if (g == NULL)
    return CDR_ERR_NOT_FOUND;
  k = (size_t)(g - t->grants);
  grant_clear(g);
  memmove(&t->grants[k], &t->grants[k + 1], (t->ngrants - k - 1) * sizeof(*g));
  t->ngrants--;
  return 0;
}

int catalog_table_check_rule(const struct catalog_table *t, const char *json, size_t len, char **errmsg) {
  struct catalog_table probe = *t;
  probe.rule = NULL;
  probe.rule_doc = NULL;
  int r = catalog_table_set_rule(&probe, json, len, 0, errmsg);
  free(probe.rule);
  rule_doc_free(probe.rule_doc);
  return r;
}

int catalog_table_set_rule(struct catalog_table *t, const char *json, size_t len, int keep_stale, char **errmsg) {
  struct rule_doc *d = NULL;
  const char **names = NULL, **types = NULL;
  char *text = NULL;
  int r = CDR_ERR_NOMEM;
  if (json == NULL) {
    free(t->rule);
    rule_doc_free(t->rule_doc);
    t->rule = NULL;
    t->rule_doc = NULL;
    return 0;
  }
  if (memchr(json, '\0', len) != NULL || !cdr_utf8_valid((const uint8_t *)json, len)) {
    if (errmsg != NULL && *errmsg == NULL)
      *errmsg = strdup("rule: the text is not UTF-8 JSON without NUL");
    return CDR_ERR_BAD_JSON;
  }
  if ((names = calloc(t->ncols + 1, sizeof(*names))) == NULL || (types = calloc(t->ncols + 1, sizeof(*types))) == NULL ||
      (text = malloc(len + 1)) == NULL)
    goto out;
  for (size_t i = 0; i < t->ncols; i++) {
    names[i] = t->cols[i].name;
    types[i] = t->cols[i].type;
  }
  memcpy(text, json, len);
  text[len] = '\0';
  r = rule_doc_parse(json, len, names, types, t->ncols, &d, errmsg);
  if (r == CDR_ERR_NOMEM || (r != 0 && !keep_stale))
    goto out;
  free(t->rule);
  rule_doc_free(t->rule_doc);
  t->rule = text;
  t->rule_doc = d; /* NULL if stale */
  text = NULL;
  r = 0;
out:
  free(text);
  free(names);
  free(types);
  return r;
}

int catalog_table_inherit(struct catalog_table *nt, const struct catalog_table *old) {
  struct catalog_grant *v = NULL;
  size_t nv = 0, *idx = NULL;
  int r = CDR_ERR_NOMEM;

  if (old->ngrants > 0 && (v = calloc(old->ngrants, sizeof(*v))) == NULL)
    return CDR_ERR_NOMEM;
  if (nt->ncols > 0 && (idx = calloc(nt->ncols, sizeof(*idx))) == NULL)
    goto out;
  if (old->rule != NULL && (r = catalog_table_set_rule(nt, old->rule, strlen(old->rule), 1, NULL)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  for (size_t i = 0; i < old->ngrants; i++) {
    const struct catalog_grant *og = &old->grants[i];
    size_t n = 0;
    if (!og->all_columns) {
      for (size_t j = 0; j < og->ncols; j++) {
        long k = catalog_column_index(nt, og->cols[j]);
        if (k >= 0)
          idx[n++] = (size_t)k; /* old columns are distinct, so n <= nt->ncols */
      }
      if (n == 0)
        continue; /* nothing of this grant survives */
    }
    if ((r = grant_fill(&v[nv], nt, og->grantee, og->all_columns, idx, n)) != 0) {
      nv++;
      goto out;
    }
    nv++;
  }
  /* Nothing can fail from here on. */
  for (size_t i = 0; i < nt->ncols; i++) {
    long k = catalog_column_index(old, nt->cols[i].name);
    if (k >= 0)
      nt->cols[i].hidden = old->cols[k].hidden;
  }
  grants_free(nt->grants, nt->ngrants);
  nt->grants = v;
  nt->ngrants = nv;
  v = NULL;
  nv = 0;
  r = 0;
out:
  grants_free(v, nv);
  free(idx);
  return r;
}

/* ---- the table list ---- */

int catalog_reserve(struct catalog *c) {
  struct catalog_table **nv;
  size_t ncap;
  if (c->n < c->cap)
    return 0;
  if (c->n >= CDR_MAX_TABLES)
    return CDR_ERR_TOO_LARGE;
  ncap = c->cap ? c->cap * 2 : 16;
  if (ncap > CDR_MAX_TABLES)
    ncap = CDR_MAX_TABLES;
  if ((nv = realloc(c->tables, ncap * sizeof(*nv))) == NULL)
    return CDR_ERR_NOMEM;
  c->tables = nv;
  c->cap = ncap;
  return 0;
}

int catalog_put(struct catalog *c, struct catalog_table *t) {
  int r;
  t->data_serial = ++c->puts;
  for (size_t i = 0; i < c->n; i++) {
    if (cdr_ascii_casecmp(c->tables[i]->name, t->name) == 0) {
      catalog_table_free(c->tables[i]);
      c->tables[i] = t;
      return 0;
    }
  }
  if ((r = catalog_reserve(c)) != 0)
    return r;
  c->tables[c->n++] = t;
  return 0;
}

int catalog_remove(struct catalog *c, const char *name) {
  for (size_t i = 0; i < c->n; i++) {
    if (cdr_ascii_casecmp(c->tables[i]->name, name) == 0) {
      catalog_table_free(c->tables[i]);
      memmove(&c->tables[i], &c->tables[i + 1], (c->n - i - 1) * sizeof(c->tables[0]));
      c->n--;
      return 0;
    }
  }
  return CDR_ERR_NOT_FOUND;
}

/* ---- encoding ---- */

static size_t lp_size(const char *s) { return 4 + strlen(s); }

size_t catalog_table_encoded_size(const struct catalog_table *t) {
  size_t n = lp_size(t->name) + lp_size(t->owner) + 32 + 8 + 8 + 4 + 4;
  for (size_t i = 0; i < t->ncols; i++)
    n += lp_size(t->cols[i].name) + lp_size(t->cols[i].type) + 1;
  for (size_t i = 0; i < t->ngrants; i++) {
    n += lp_size(t->grants[i].grantee) + 1 + 4;
    for (size_t j = 0; j < t->grants[i].ncols; j++)
      n += lp_size(t->grants[i].cols[j]);
  }
  return n + (t->rule != NULL ? lp_size(t->rule) : 4);
}

size_t catalog_encoded_size(const struct catalog *c) {
  size_t n = CATALOG_MAGIC_LEN + 4;
  for (size_t i = 0; i < c->n; i++)
    n += catalog_table_encoded_size(c->tables[i]);
  return n;
}

static int encode_table(const struct catalog_table *t, struct cdr_buf *out) {
  int r;
  if ((r = cdr_buf_put_lpstr(out, t->name)) != 0 || (r = cdr_buf_put_lpstr(out, t->owner)) != 0 ||
      (r = cdr_buf_put(out, t->owner_key_fp, 32)) != 0 || (r = cdr_buf_put_u64(out, (uint64_t)t->created_at)) != 0 ||
      (r = cdr_buf_put_u64(out, t->rows)) != 0 || (r = cdr_buf_put_u32(out, (uint32_t)t->ncols)) != 0)
    return r;
  for (size_t i = 0; i < t->ncols; i++)
    if ((r = cdr_buf_put_lpstr(out, t->cols[i].name)) != 0 || (r = cdr_buf_put_lpstr(out, t->cols[i].type)) != 0 ||
        (r = cdr_buf_put_u8(out, t->cols[i].hidden ? 1 : 0)) != 0)
      return r;
  if ((r = cdr_buf_put_u32(out, (uint32_t)t->ngrants)) != 0)
    return r;
  for (size_t i = 0; i < t->ngrants; i++) {
    const struct catalog_grant *g = &t->grants[i];
    if ((r = cdr_buf_put_lpstr(out, g->grantee)) != 0 || (r = cdr_buf_put_u8(out, g->all_columns ? 1 : 0)) != 0 ||
        (r = cdr_buf_put_u32(out, (uint32_t)g->ncols)) != 0)
      return r;
    for (size_t j = 0; j < g->ncols; j++)
      if ((r = cdr_buf_put_lpstr(out, g->cols[j])) != 0)
        return r;
  }
  return cdr_buf_put_lpstr(out, t->rule != NULL ? t->rule : "");
}

int catalog_encode(const struct catalog *c, struct cdr_buf *out) {
  size_t need = catalog_encoded_size(c), start = out->len;
  int r;
  if (need > CDR_MAX_CATALOG_BYTES)
    return CDR_ERR_TOO_LARGE;
  if ((r = cdr_buf_reserve(out, need)) != 0)
    return r;
  if ((r = cdr_buf_put(out, CATALOG_MAGIC, CATALOG_MAGIC_LEN)) != 0 ||
      (r = cdr_buf_put_u32(out, (uint32_t)c->n)) != 0)
    return r;
  for (size_t i = 0; i < c->n; i++)
    if ((r = encode_table(c->tables[i], out)) != 0)
      return r;
  return out->len - start == need ? 0 : CDR_ERR_INTERNAL;
}

/* ---- decoding ---- */

/* A count that must be at most max. */
static int get_count(struct cdr_buf *b, size_t max, size_t *n) {
  uint32_t v;
  int r;
  if ((r = cdr_buf_get_u32(b, &v)) != 0)
    return r;
  if (v > max)
    return CDR_ERR_TOO_LARGE;
  *n = v;
  return 0;
}

static int get_flag(struct cdr_buf *b, int *flag) {
  uint8_t v;
  int r;
  if ((r = cdr_buf_get_u8(b, &v)) != 0)
    return r;
  if (v > 1)
    return CDR_ERR_ARG;
  *flag = v;
  return 0;
}

static int decode_grant(struct cdr_buf *b, struct catalog_table *t) {
  char *grantee = NULL, **cols = NULL;
  size_t n = 0, got = 0;
  int all = 0, r;

  if ((r = cdr_buf_get_lpstr(b, &grantee, CDR_MAX_GRANTEE_LEN)) != 0 || (r = get_flag(b, &all)) != 0 ||
      (r = get_count(b, t->ncols, &n)) != 0)
    goto out;
  if (!catalog_grantee_valid(grantee) || catalog_grant_find(t, grantee) != NULL || (all != 0) != (n == 0)) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if (n > 0 && (cols = calloc(n, sizeof(*cols))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (got = 0; got < n; got++)
    if ((r = cdr_buf_get_lpstr(b, &cols[got], CDR_MAX_COLUMN_NAME)) != 0)
      goto out;
  /* catalog_grant checks that the columns exist and are distinct. */
  r = catalog_grant(t, grantee, all ? NULL : (const char *const *)cols, n, NULL);
  if (r == CDR_ERR_NOT_FOUND)
    r = CDR_ERR_ARG;
  /* It stores the table's spelling; the encoding must have used it. */
  if (r == 0 && !all) {
    const struct catalog_grant *g = catalog_grant_find(t, grantee);
    for (size_t i = 0; i < n && r == 0; i++)
      if (strcmp(g->cols[i], cols[i]) != 0)
        r = CDR_ERR_ARG;
  }
out:
  for (size_t i = 0; i < got && cols != NULL; i++)
    free(cols[i]);
  free(cols);
  free(grantee);
  return r;
}

/* The rule field of a CDRCATv2 entry: empty for none.  A sealed rule
 * that no longer parses is kept, stale (catalog.h). */
static int decode_rule(struct cdr_buf *b, struct catalog_table *t) {
  const uint8_t *p;
  size_t n;
  char *msg = NULL;
  int r = cdr_buf_get_lp(b, &p, &n, RULE_MAX_DOC_BYTES);
  if (r == 0 && n > 0)
    r = catalog_table_set_rule(t, (const char *)p, n, 1, &msg);
  free(msg);
  return r == CDR_ERR_BAD_JSON ? CDR_ERR_ARG : r;
}

static int decode_table(struct cdr_buf *b, struct catalog *c, int with_rule) {
  struct catalog_table *t = NULL;
  char *name = NULL, *owner = NULL, *cname = NULL, *ctype = NULL;
  uint8_t fp[32];
  uint64_t created, rows;
  size_t ncols = 0, ngrants = 0;
  int r, hidden;

  if ((r = cdr_buf_get_lpstr(b, &name, CDR_MAX_TABLE_NAME)) != 0 ||
      (r = cdr_buf_get_lpstr(b, &owner, CDR_MAX_NAME_LEN)) != 0 || (r = cdr_buf_get(b, fp, sizeof(fp))) != 0 ||
      (r = cdr_buf_get_u64(b, &created)) != 0 || (r = cdr_buf_get_u64(b, &rows)) != 0 ||
      (r = get_count(b, CDR_MAX_COLUMNS, &ncols)) != 0)
    goto out;
  if (ncols == 0 || created > (uint64_t)INT64_MAX || !catalog_table_name_valid(name) || !catalog_owner_valid(owner) ||
      catalog_find(c, name) != NULL) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((t = catalog_table_new(name, owner, fp, (int64_t)created, rows)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < ncols; i++) {
    if ((r = cdr_buf_get_lpstr(b, &cname, CDR_MAX_COLUMN_NAME)) != 0 ||
        (r = cdr_buf_get_lpstr(b, &ctype, 16)) != 0 || (r = get_flag(b, &hidden)) != 0 ||
        (r = catalog_table_add_column(t, cname, ctype, hidden)) != 0)
      goto out;
    free(cname);
    free(ctype);
    cname = ctype = NULL;
  }
  if ((r = get_count(b, CDR_MAX_GRANTS_PER_TABLE, &ngrants)) != 0)
    goto out;
  for (size_t i = 0; i < ngrants; i++)
    if ((r = decode_grant(b, t)) != 0)
      goto out;
  if (with_rule && (r = decode_rule(b, t)) != 0)
    goto out;
  if ((r = catalog_put(c, t)) != 0)
    goto out;
  t = NULL;
out:
  catalog_table_free(t);
  free(name);
  free(owner);
  free(cname);
  free(ctype);
  return r;
}

int catalog_decode(struct catalog *out, const uint8_t *p, size_t n) {
  struct cdr_buf b;
  uint8_t magic[CATALOG_MAGIC_LEN];
  size_t ntables = 0;
  int r;

  catalog_init(out);
  if (p == NULL && n > 0)
    return CDR_ERR_ARG;
  if (n > CDR_MAX_CATALOG_BYTES)
    return CDR_ERR_TOO_LARGE;
  cdr_buf_view(&b, p, n);
  if ((r = cdr_buf_get(&b, magic, sizeof(magic))) != 0)
    goto out;
  int v2 = memcmp(magic, CATALOG_MAGIC, CATALOG_MAGIC_LEN) == 0;
  if (!v2 && memcmp(magic, CATALOG_MAGIC_V1, CATALOG_MAGIC_LEN) != 0) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((r = get_count(&b, CDR_MAX_TABLES, &ntables)) != 0)
    goto out;
  for (size_t i = 0; i < ntables; i++)
    if ((r = decode_table(&b, out, v2)) != 0)
      goto out;
  r = cdr_buf_expect_end(&b);
out:
  if (r != 0)
    catalog_free(out);
  return r;
}
