/*
 * test_catalog.c - the table catalog (src/enclave/catalog.c): names and
 * grantees, building tables, grants (replace, revoke, limits), what a
 * replacement inherits, and the encoding: exact round trips, the size
 * function, every truncation, trailing bytes, each invalid field, and
 * single-byte corruptions that must never decode into something the
 * encoder would not write.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"
#include "enclave/catalog.h"
#include "enclave/rule_doc.h"
#include "testlib.h"

static const uint8_t FP[32] = {0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB,
                               0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB,
                               0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB};

static void test_names(void) {
  char longname[CDR_MAX_NAME_LEN + 2];

  CHECK(catalog_table_name_valid("patients"));
  CHECK(catalog_table_name_valid("_x1"));
  CHECK(catalog_table_name_valid("A234567890123456789012345678901234567890123456789012345678901234"));
  CHECK(!catalog_table_name_valid("B2345678901234567890123456789012345678901234567890123456789012345"));
  CHECK(!catalog_table_name_valid(""));
  CHECK(!catalog_table_name_valid(NULL));
  CHECK(!catalog_table_name_valid("1abc"));
  CHECK(!catalog_table_name_valid("a-b"));
  CHECK(!catalog_table_name_valid("sqlite_x"));
  CHECK(!catalog_table_name_valid("SQLite_x"));
  CHECK(catalog_table_name_valid("sqlite"));

  CHECK(catalog_grantee_valid("analyst@institute.example"));
  CHECK(catalog_grantee_valid("role:analyst"));
  CHECK(catalog_grantee_valid("role:provider"));
  CHECK(catalog_grantee_valid("role:auditor"));
  CHECK(catalog_grantee_valid("Zo\xC3\xA9 M\xC3\xBCller"));
  CHECK(!catalog_grantee_valid("role:admin"));
  CHECK(!catalog_grantee_valid("role:"));
  CHECK(!catalog_grantee_valid("role:Analyst"));
  CHECK(!catalog_grantee_valid(""));
  CHECK(!catalog_grantee_valid(NULL));
  CHECK(!catalog_grantee_valid("bad\nname"));
  CHECK(!catalog_grantee_valid("esc\x1b[31m"));
  CHECK(!catalog_grantee_valid("c1\xC2\x85"));
  CHECK(!catalog_grantee_valid("\xC3\x28"));
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  CHECK(!catalog_grantee_valid(longname));
  longname[CDR_MAX_NAME_LEN] = '\0';
  CHECK(catalog_grantee_valid(longname));
}

/* patients(id INTEGER, name TEXT, ssn TEXT hidden), owned by data@h,
 * with grants role:analyst (all) and bob (id, name). */
static struct catalog_table *sample_table(const char *name) {
  static const char *const cols[] = {"ID", "name"};
  struct catalog_table *t = catalog_table_new(name, "data@h", FP, 1700000000, 5);
  CHECK(t != NULL);
  if (t == NULL)
    return NULL;
  CHECK_RC(catalog_table_add_column(t, "id", "INTEGER", 0), 0);
  CHECK_RC(catalog_table_add_column(t, "name", "TEXT", 0), 0);
  CHECK_RC(catalog_table_add_column(t, "ssn", "TEXT", 1), 0);
  CHECK_RC(catalog_grant(t, "role:analyst", NULL, 0, NULL), 0);
  CHECK_RC(catalog_grant(t, "bob", cols, 2, NULL), 0);
  return t;
}

static void test_tables_and_grants(void) {
  static const char *const one[] = {"ssn"}, *const unknown[] = {"id", "nope"}, *const dup[] = {"id", "ID"},
                           *const three[] = {"id", "name", "ssn"}, *const four[] = {"id", "name", "ssn", "x"};
  struct catalog c;
  struct catalog_table *t;
  const struct catalog_grant *g;
  const char *bad = NULL;
  char grantee[32];

  CHECK(catalog_table_new("bad name", "o", FP, 0, 0) == NULL);
  CHECK(catalog_table_new("t", "", FP, 0, 0) == NULL);
  CHECK(catalog_table_new("t", "o\n", FP, 0, 0) == NULL);
  CHECK(catalog_table_new("t", "o", NULL, 0, 0) == NULL);

  t = sample_table("patients");
  if (t == NULL)
    return;
  /* Columns: distinct without ASCII case, valid types. */
  CHECK_RC(catalog_table_add_column(t, "NAME", "TEXT", 0), CDR_ERR_ARG);
  CHECK_RC(catalog_table_add_column(t, "x", "BLOB", 0), CDR_ERR_ARG);
  CHECK_RC(catalog_table_add_column(t, "", "TEXT", 0), CDR_ERR_ARG);
  CHECK_RC(catalog_table_add_column(t, "x", "TEXT", 2), CDR_ERR_ARG);
  CHECK(t->ncols == 3);
  CHECK(catalog_column_index(t, "SSN") == 2);
  CHECK(catalog_column_index(t, "nope") == -1);

  /* Grants store the table's spelling; a list covers only its columns. */
  g = catalog_grant_find(t, "bob");
  CHECK(g != NULL && !g->all_columns && g->ncols == 2 && strcmp(g->cols[0], "id") == 0);
  CHECK(catalog_grant_find(t, "BOB") == NULL); /* grantees compare exactly */
  CHECK_RC(catalog_grant(t, "bob", unknown, 2, &bad), CDR_ERR_NOT_FOUND);
  CHECK_STR(bad, "nope");
  CHECK_RC(catalog_grant(t, "bob", dup, 2, &bad), CDR_ERR_ARG);
  CHECK_STR(bad, "ID");
  CHECK_RC(catalog_grant(t, "bob", one, 0, NULL), CDR_ERR_ARG);
  CHECK_RC(catalog_grant(t, "bob", four, 4, NULL), CDR_ERR_ARG);
  CHECK_RC(catalog_grant(t, "role:root", NULL, 0, NULL), CDR_ERR_ARG);
  /* Failures left bob's grant as it was. */
  g = catalog_grant_find(t, "bob");
  CHECK(g != NULL && g->ncols == 2);
  /* A new grant replaces the grantee's old one. */
  CHECK_RC(catalog_grant(t, "bob", one, 1, NULL), 0);
  g = catalog_grant_find(t, "bob");
  CHECK(g != NULL && g->ncols == 1 && strcmp(g->cols[0], "ssn") == 0);
  CHECK(t->ngrants == 2);
  CHECK_RC(catalog_grant(t, "bob", three, 3, NULL), 0);
  CHECK_RC(catalog_revoke(t, "bob"), 0);
  CHECK_RC(catalog_revoke(t, "bob"), CDR_ERR_NOT_FOUND);
  CHECK(t->ngrants == 1 && strcmp(t->grants[0].grantee, "role:analyst") == 0);
  /* At most CDR_MAX_GRANTS_PER_TABLE grants; replacing one still works. */
  for (unsigned i = 1; i < CDR_MAX_GRANTS_PER_TABLE; i++) {
    snprintf(grantee, sizeof(grantee), "user%u", i);
    CHECK_RC(catalog_grant(t, grantee, NULL, 0, NULL), 0);
  }
  CHECK(t->ngrants == CDR_MAX_GRANTS_PER_TABLE);
  CHECK_RC(catalog_grant(t, "one-too-many", NULL, 0, NULL), CDR_ERR_TOO_LARGE);
  CHECK_RC(catalog_grant(t, "user7", one, 1, NULL), 0);

  /* The table list. */
  catalog_init(&c);
  CHECK_RC(catalog_put(&c, t), 0);
  CHECK(catalog_find(&c, "PATIENTS") == t);
  CHECK(catalog_find(&c, "visits") == NULL);
  CHECK(catalog_find(&c, NULL) == NULL);
  t = sample_table("visits");
  CHECK_RC(catalog_put(&c, t), 0);
  CHECK(c.n == 2);
  /* Same name, other case: replaces. */
  t = sample_table("Visits");
  CHECK_RC(catalog_put(&c, t), 0);
  CHECK(c.n == 2 && catalog_find(&c, "visits") == t && strcmp(t->name, "Visits") == 0);
  CHECK_RC(catalog_remove(&c, "patients"), 0);
  CHECK_RC(catalog_remove(&c, "patients"), CDR_ERR_NOT_FOUND);
  CHECK(c.n == 1 && c.tables[0] == t);
  catalog_free(&c);
  CHECK(c.n == 0 && c.tables == NULL);

  /* At most CDR_MAX_TABLES tables. */
  catalog_init(&c);
  for (unsigned i = 0; i < CDR_MAX_TABLES; i++) {
    char name[16];
    snprintf(name, sizeof(name), "t%u", i);
    CHECK_RC(catalog_reserve(&c), 0);
    t = catalog_table_new(name, "o", FP, 0, 0);
    CHECK(t != NULL && catalog_put(&c, t) == 0);
  }
  CHECK_RC(catalog_reserve(&c), CDR_ERR_TOO_LARGE);
  catalog_free(&c);
}

static void test_inherit(void) {
  static const char *const some[] = {"name", "ssn"}, *const gone[] = {"ssn"};
  struct catalog_table *old = sample_table("patients"), *nt = catalog_table_new("patients", "data@h", FP, 1, 9);
  const struct catalog_grant *g;
  if (old == NULL || nt == NULL) {
    CHECK(0);
    catalog_table_free(old);
    catalog_table_free(nt);
    return;
  }
  CHECK_RC(catalog_grant(old, "carol", some, 2, NULL), 0);
  CHECK_RC(catalog_grant(old, "dave", gone, 1, NULL), 0);
  /* The new version: NAME (other case), age; no ssn, no id. */
  CHECK_RC(catalog_table_add_column(nt, "NAME", "TEXT", 0), 0);
  CHECK_RC(catalog_table_add_column(nt, "age", "INTEGER", 0), 0);
  CHECK_RC(catalog_table_inherit(nt, old), 0);
  CHECK(nt->ngrants == 3);
  CHECK(catalog_grant_find(nt, "dave") == NULL); /* nothing of it survives */
  g = catalog_grant_find(nt, "role:analyst");
  CHECK(g != NULL && g->all_columns);
  g = catalog_grant_find(nt, "bob");
  CHECK(g != NULL && g->ncols == 1 && strcmp(g->cols[0], "NAME") == 0);
  g = catalog_grant_find(nt, "carol");
  CHECK(g != NULL && g->ncols == 1 && strcmp(g->cols[0], "NAME") == 0);
  CHECK(nt->cols[0].hidden == 0 && nt->cols[1].hidden == 0);
  catalog_table_free(nt);

  /* Hidden flags follow the column name. */
  nt = catalog_table_new("patients", "data@h", FP, 1, 9);
  CHECK_RC(catalog_table_add_column(nt, "Ssn", "INTEGER", 0), 0);
  CHECK_RC(catalog_table_inherit(nt, old), 0);
  CHECK(nt->cols[0].hidden == 1);
  catalog_table_free(nt);
  catalog_table_free(old);
}

/* Encode c, check the size function, decode, and re-encode to the same
 * bytes. */
static void round_trip(const struct catalog *c) {
  struct cdr_buf a, b;
  struct catalog d;
  cdr_buf_init(&a, CDR_MAX_CATALOG_BYTES, 0);
  cdr_buf_init(&b, CDR_MAX_CATALOG_BYTES, 0);
  CHECK_RC(catalog_encode(c, &a), 0);
  CHECK(a.len == catalog_encoded_size(c));
  CHECK_RC(catalog_decode(&d, a.d, a.len), 0);
  CHECK(d.n == c->n);
  CHECK_RC(catalog_encode(&d, &b), 0);
  CHECK(a.len == b.len && (a.len == 0 || memcmp(a.d, b.d, a.len) == 0));
  for (size_t i = 0; i < c->n && i < d.n; i++) {
    const struct catalog_table *x = c->tables[i], *y = d.tables[i];
    CHECK(strcmp(x->name, y->name) == 0 && strcmp(x->owner, y->owner) == 0);
    CHECK(memcmp(x->owner_key_fp, y->owner_key_fp, 32) == 0);
    CHECK(x->created_at == y->created_at && x->rows == y->rows && x->ncols == y->ncols && x->ngrants == y->ngrants);
  }
  catalog_free(&d);
  cdr_buf_free(&a);
  cdr_buf_free(&b);
}

/* Variants of a hand-built encoding, each wrong in one way. */
enum variant {
  V_OK,
  V_MAGIC,
  V_NTABLES_CAP,
  V_TABLE_NAME,
  V_OWNER_EMPTY,
  V_OWNER_CONTROL,
  V_CREATED,
  V_NCOLS_ZERO,
  V_NCOLS_CAP,
  V_COLUMN_DUP,
  V_COLUMN_EMPTY,
  V_COLUMN_UTF8,
  V_COLUMN_NUL,
  V_TYPE,
  V_HIDDEN,
  V_NGRANTS_CAP,
  V_GRANTEE,
  V_GRANTEE_DUP,
  V_ALL_WITH_LIST,
  V_LIST_EMPTY,
  V_LIST_UNKNOWN,
  V_LIST_DUP,
  V_LIST_SPELLING,
  V_LIST_LONGER,
  V_ALL_FLAG,
  V_TABLE_DUP,
  V_TRAILING,
  V__COUNT
};

static int put_s(struct cdr_buf *b, const char *s) { return cdr_buf_put_lpstr(b, s); }

static int build(struct cdr_buf *b, enum variant v) {
  int r = 0;
  unsigned ntables = v == V_TABLE_DUP ? 2 : 1;
  r |= cdr_buf_put(b, v == V_MAGIC ? "CDRCATv9" : CATALOG_MAGIC, CATALOG_MAGIC_LEN);
  r |= cdr_buf_put_u32(b, v == V_NTABLES_CAP ? CDR_MAX_TABLES + 1 : ntables);
  for (unsigned t = 0; t < ntables; t++) {
    r |= put_s(b, v == V_TABLE_NAME ? "sqlite_x" : t == 1 ? "PATIENTS" : "patients");
    r |= put_s(b, v == V_OWNER_EMPTY ? "" : v == V_OWNER_CONTROL ? "data\x07@h" : "data@h");
    r |= cdr_buf_put(b, FP, sizeof(FP));
    r |= cdr_buf_put_u64(b, v == V_CREATED ? (uint64_t)INT64_MAX + 1 : 1700000000u);
    r |= cdr_buf_put_u64(b, 5);
    if (v == V_NCOLS_ZERO) {
      r |= cdr_buf_put_u32(b, 0);
    } else if (v == V_NCOLS_CAP) {
      r |= cdr_buf_put_u32(b, CDR_MAX_COLUMNS + 1);
    } else {
      r |= cdr_buf_put_u32(b, 3);
      r |= put_s(b, "id") | put_s(b, "INTEGER") | cdr_buf_put_u8(b, 0);
      if (v == V_COLUMN_NUL)
        r |= cdr_buf_put_lp(b, "na\0me", 5);
      else
        r |= put_s(b, v == V_COLUMN_DUP ? "ID" : v == V_COLUMN_EMPTY ? "" : v == V_COLUMN_UTF8 ? "n\xC3" : "name");
      r |= put_s(b, v == V_TYPE ? "BLOB" : "TEXT") | cdr_buf_put_u8(b, 0);
      r |= put_s(b, "ssn") | put_s(b, "TEXT") | cdr_buf_put_u8(b, v == V_HIDDEN ? 2 : 1);
    }
    if (v == V_NGRANTS_CAP) {
      r |= cdr_buf_put_u32(b, CDR_MAX_GRANTS_PER_TABLE + 1);
      continue;
    }
    r |= cdr_buf_put_u32(b, 2);
    r |= put_s(b, v == V_GRANTEE ? "role:root" : "role:analyst");
    r |= cdr_buf_put_u8(b, v == V_ALL_FLAG ? 2 : 1);
    if (v == V_ALL_WITH_LIST)
      r |= cdr_buf_put_u32(b, 1) | put_s(b, "id");
    else
      r |= cdr_buf_put_u32(b, 0);
    r |= put_s(b, v == V_GRANTEE_DUP ? "role:analyst" : "bob") | cdr_buf_put_u8(b, 0);
    if (v == V_LIST_EMPTY) {
      r |= cdr_buf_put_u32(b, 0);
    } else if (v == V_LIST_LONGER) {
      r |= cdr_buf_put_u32(b, 4);
    } else {
      r |= cdr_buf_put_u32(b, 2) | put_s(b, "id");
      r |= put_s(b, v == V_LIST_UNKNOWN ? "nope" : v == V_LIST_DUP ? "id" : v == V_LIST_SPELLING ? "NAME" : "name");
    }
    r |= put_s(b, ""); /* no release rule */
  }
  if (v == V_TRAILING)
    r |= cdr_buf_put_u8(b, 0);
  return r;
}

static void test_encoding(void) {
  struct catalog c, d;
  struct catalog_table *t;
  struct cdr_buf b;
  int r;

  /* Empty, one table, several; then the hand-built bytes decode and
   * re-encode to themselves. */
  catalog_init(&c);
  round_trip(&c);
  t = sample_table("patients");
  CHECK(t != NULL && catalog_put(&c, t) == 0);
  round_trip(&c);
  t = catalog_table_new("visits", "clinic \xC3\xA9", FP, 0, 0);
  CHECK(t != NULL);
  CHECK_RC(catalog_table_add_column(t, "c\xC3\xA9ll, \"quoted\"", "REAL", 0), 0);
  CHECK(catalog_put(&c, t) == 0);
  round_trip(&c);
  catalog_free(&c);

  cdr_buf_init(&b, CDR_MAX_CATALOG_BYTES, 0);
  CHECK_RC(build(&b, V_OK), 0);
  CHECK_RC(catalog_decode(&c, b.d, b.len), 0);
  CHECK(c.n == 1);
  if (c.n == 1) {
    t = c.tables[0];
    CHECK_STR(t->name, "patients");
    CHECK_STR(t->owner, "data@h");
    CHECK(t->created_at == 1700000000 && t->rows == 5 && t->ncols == 3 && t->cols[2].hidden == 1);
    CHECK(t->ngrants == 2 && t->grants[0].all_columns && !t->grants[1].all_columns && t->grants[1].ncols == 2);
    round_trip(&c);
    {
      /* The decoder's catalog encodes to exactly the input. */
      struct cdr_buf again;
      cdr_buf_init(&again, CDR_MAX_CATALOG_BYTES, 0);
      CHECK_RC(catalog_encode(&c, &again), 0);
      CHECK(again.len == b.len && memcmp(again.d, b.d, b.len) == 0);
      cdr_buf_free(&again);
    }
  }
  catalog_free(&c);

  /* Every truncation fails, and leaves an empty catalog. */
  for (size_t n = 0; n < b.len; n++) {
    r = catalog_decode(&c, b.d, n);
    CHECK(r != 0);
    CHECK(c.n == 0 && c.tables == NULL);
  }
  CHECK_RC(catalog_decode(&c, NULL, 0), CDR_ERR_TRUNCATED);
  CHECK_RC(catalog_decode(&c, NULL, 5), CDR_ERR_ARG);
  CHECK_RC(catalog_decode(&c, b.d, (size_t)CDR_MAX_CATALOG_BYTES + 1), CDR_ERR_TOO_LARGE);

  /* Single-byte corruptions: anything that still decodes must re-encode
   * to the same bytes (the decoder accepts only what the encoder writes). */
  for (size_t i = 0; i < b.len; i++) {
    for (unsigned x = 1; x < 256; x <<= 1) {
      struct cdr_buf again;
      b.d[i] ^= (uint8_t)x;
      if (catalog_decode(&c, b.d, b.len) == 0) {
        cdr_buf_init(&again, CDR_MAX_CATALOG_BYTES, 0);
        CHECK_RC(catalog_encode(&c, &again), 0);
        CHECK(again.len == b.len && memcmp(again.d, b.d, b.len) == 0);
        cdr_buf_free(&again);
        catalog_free(&c);
      }
      b.d[i] ^= (uint8_t)x;
    }
  }
  cdr_buf_free(&b);

  /* Each invalid field. */
  static const struct {
    enum variant v;
    int want;
  } bad[] = {
      {V_MAGIC, CDR_ERR_ARG},          {V_NTABLES_CAP, CDR_ERR_TOO_LARGE}, {V_TABLE_NAME, CDR_ERR_ARG},
      {V_OWNER_EMPTY, CDR_ERR_ARG},    {V_OWNER_CONTROL, CDR_ERR_ARG},     {V_CREATED, CDR_ERR_ARG},
      {V_NCOLS_ZERO, CDR_ERR_ARG},     {V_NCOLS_CAP, CDR_ERR_TOO_LARGE},   {V_COLUMN_DUP, CDR_ERR_ARG},
      {V_COLUMN_EMPTY, CDR_ERR_ARG},   {V_COLUMN_UTF8, CDR_ERR_ARG},       {V_COLUMN_NUL, CDR_ERR_TRUNCATED},
      {V_TYPE, CDR_ERR_ARG},           {V_HIDDEN, CDR_ERR_ARG},            {V_NGRANTS_CAP, CDR_ERR_TOO_LARGE},
      {V_GRANTEE, CDR_ERR_ARG},        {V_GRANTEE_DUP, CDR_ERR_ARG},       {V_ALL_WITH_LIST, CDR_ERR_ARG},
      {V_LIST_EMPTY, CDR_ERR_ARG},     {V_LIST_UNKNOWN, CDR_ERR_ARG},      {V_LIST_DUP, CDR_ERR_ARG},
      {V_LIST_SPELLING, CDR_ERR_ARG},  {V_LIST_LONGER, CDR_ERR_TOO_LARGE}, {V_ALL_FLAG, CDR_ERR_ARG},
      {V_TABLE_DUP, CDR_ERR_ARG},      {V_TRAILING, CDR_ERR_TRUNCATED},
  };
  CHECK(sizeof(bad) / sizeof(bad[0]) == V__COUNT - 1);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cdr_buf_init(&b, CDR_MAX_CATALOG_BYTES, 0);
    CHECK_RC(build(&b, bad[i].v), 0);
    r = catalog_decode(&d, b.d, b.len);
    if (r != bad[i].want)
      fprintf(stderr, "  variant %d: got %s\n", (int)bad[i].v, cdr_err_code(r));
    CHECK_RC(r, bad[i].want);
    CHECK(d.n == 0 && d.tables == NULL);
    cdr_buf_free(&b);
  }

  /* The encoder refuses an output buffer that is too small, cleanly. */
  catalog_init(&c);
  t = sample_table("patients");
  CHECK(t != NULL && catalog_put(&c, t) == 0);
  cdr_buf_init(&b, 16, 0);
  CHECK_RC(catalog_encode(&c, &b), CDR_ERR_TOO_LARGE);
  cdr_buf_free(&b);
  catalog_free(&c);
}

/* Release rules kept with the table: set (parsed against the columns),
 * refused naming the field, sealed in the encoding, carried over a
 * replacement (stale when a named column is gone), and a CDRCATv1
 * catalog (before rules) still reads. */
static void test_rules(void) {
  static const char rule[] = "{\"mode\":\"aggregate\",\"columns\":{\"id\":\"privacy_unit\",\"name\":"
                             "\"dimension\"},\"min_units\":5}";
  static const char bad[] = "{\"mode\":\"aggregate\",\"columns\":{\"id\":\"privacy_unit\"},\"min_units\":4}";
  struct catalog c, d;
  struct catalog_table *t = sample_table("patients"), *nt;
  struct cdr_buf b;
  char *msg = NULL;

  catalog_init(&c);
  CHECK_RC(catalog_table_set_rule(t, bad, strlen(bad), 0, &msg), CDR_ERR_ARG);
  CHECK(msg != NULL && strstr(msg, "min_units") != NULL);
  CHECK(t->rule == NULL && t->rule_doc == NULL);
  free(msg);
  msg = NULL;
  CHECK_RC(catalog_table_set_rule(t, rule, strlen(rule), 0, &msg), 0);
  CHECK(t->rule != NULL && strcmp(t->rule, rule) == 0 && t->rule_doc != NULL && t->rule_doc->unit_col == 0);
  CHECK(catalog_put(&c, t) == 0);
  round_trip(&c);
  cdr_buf_init(&b, CDR_MAX_CATALOG_BYTES, 0);
  CHECK_RC(catalog_encode(&c, &b), 0);
  CHECK(b.len == catalog_encoded_size(&c));
  CHECK_RC(catalog_decode(&d, b.d, b.len), 0);
  CHECK(d.n == 1 && d.tables[0]->rule != NULL && strcmp(d.tables[0]->rule, rule) == 0 &&
        d.tables[0]->rule_doc != NULL && d.tables[0]->rule_doc->min_units == 5);
  catalog_free(&d);
  /* The same bytes under the v1 magic without the rule field read as a
   * catalog without rules. */
  b.len -= 4 + strlen(rule);
  memcpy(b.d, CATALOG_MAGIC_V1, CATALOG_MAGIC_LEN);
  CHECK_RC(catalog_decode(&d, b.d, b.len), 0);
  CHECK(d.n == 1 && d.tables[0]->rule == NULL && d.tables[0]->rule_doc == NULL);
  catalog_free(&d);
  cdr_buf_free(&b);

  /* A replacement keeping the columns keeps the rule; one without the
   * unit column keeps it stale (read by owner and grantees only). */
  nt = catalog_table_new("patients", "data@h", FP, 1700000001, 6);
  CHECK(nt != NULL && catalog_table_add_column(nt, "id", "INTEGER", 0) == 0 &&
        catalog_table_add_column(nt, "name", "TEXT", 0) == 0);
  CHECK_RC(catalog_table_inherit(nt, t), 0);
  CHECK(nt->rule != NULL && nt->rule_doc != NULL);
  catalog_table_free(nt);
  nt = catalog_table_new("patients", "data@h", FP, 1700000001, 6);
  CHECK(nt != NULL && catalog_table_add_column(nt, "name", "TEXT", 0) == 0);
  CHECK_RC(catalog_table_inherit(nt, t), 0);
  CHECK(nt->rule != NULL && strcmp(nt->rule, rule) == 0 && nt->rule_doc == NULL);
  catalog_table_free(nt);
  /* Removing it. */
  CHECK_RC(catalog_table_set_rule(t, NULL, 0, 0, NULL), 0);
  CHECK(t->rule == NULL && t->rule_doc == NULL);
  free(msg);
  catalog_free(&c);
}

int main(void) {
  test_rules();
  test_names();
  test_tables_and_grants();
  test_inherit();
  test_encoding();
  return test_summary("test_catalog");
}
