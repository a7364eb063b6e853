/*
 * test_template_engine.c - approved query templates below the operation
 * (src/enclave/engine_template.c, template_state.c): which tables and
 * parameters the engine finds, what a proposal may not be, a run that
 * binds values (SQL in a value is data) and reads only the approved
 * tables; the hash against an independent encoding of PROTOCOL 4.7's
 * definition; the sealed encoding's round trip, truncations and bad
 * fields.
 */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "enclave/engine.h"
#include "enclave/template_state.h"
#include "testlib.h"

static struct cdr_engine *E;
static const struct engine_principal HOSP = {"data@hospital", CDR_ROLE_PROVIDER, {1}, 0};
static const struct engine_principal INS = {"data@insurer", CDR_ROLE_PROVIDER, {2}, 0};
static const struct engine_principal ANA = {"ana@institute", CDR_ROLE_ANALYST, {3}, 0};

static void load(const struct engine_principal *who, const char *name, const char *csv) {
  uint64_t rows = 0;
  char *err = NULL;
  CHECK_RC(engine_load_csv(E, who, name, (const uint8_t *)csv, strlen(csv), 0, &rows, &err), 0);
  free(err);
}

static int inspect(const char *sql, struct engine_template_info *info, char **err) {
  *err = NULL;
  return engine_template_inspect(E, &ANA, sql, strlen(sql), info, err);
}

static void test_inspect(void) {
  struct engine_template_info info;
  char *err = NULL;
  const char *sql = "SELECT p.region, SUM(c.amount) FROM patients p JOIN claims c ON c.pid = p.pid "
                    "WHERE p.name = :name AND c.amount > :min AND p.region <> :name GROUP BY 1";
  CHECK_RC(inspect(sql, &info, &err), 0);
  CHECK(info.ntables == 2 && info.nparams == 2);
  if (info.ntables == 2 && info.nparams == 2) {
    CHECK_STR(info.tables[0], "patients");
    CHECK_STR(info.tables[1], "claims");
    CHECK_STR(info.params[0], "name");
    CHECK_STR(info.params[1], "min");
  }
  engine_template_info_free(&info);
  free(err);
  /* A table in a subquery counts too: the authorizer sees every read. */
  CHECK_RC(inspect("SELECT 1 WHERE EXISTS (SELECT 1 FROM claims)", &info, &err), 0);
  CHECK(info.ntables == 1 && info.nparams == 0);
  engine_template_info_free(&info);
  free(err);
  /* Refusals.  A write to a table the caller cannot read is the uniform
   * refusal; to one it may read, the policy's. */
  CHECK_RC(inspect("DELETE FROM patients", &info, &err), CDR_ERR_ACCESS_DENIED);
  free(err);
  CHECK_RC(engine_grant(E, &HOSP, "patients", ANA.name, NULL, 0, &err), 0);
  free(err);
  CHECK_RC(inspect("DELETE FROM patients", &info, &err), CDR_ERR_SQL_DENIED);
  free(err);
  CHECK_RC(inspect("SELECT name FROM patients WHERE pid = ?", &info, &err), CDR_ERR_ARG);
  CHECK_CONTAINS(err, ":name");
  free(err);
  CHECK_RC(inspect("SELECT name FROM patients WHERE pid = @p", &info, &err), CDR_ERR_ARG);
  free(err);
  CHECK_RC(inspect("SELECT name FROM patients WHERE pid = $p", &info, &err), CDR_ERR_ARG);
  free(err);
  CHECK_RC(inspect("SELECT 1", &info, &err), CDR_ERR_ARG);
  CHECK_CONTAINS(err, "reads no room table");
  free(err);
  CHECK_RC(inspect("SELECT 1 FROM patients; SELECT 2 FROM patients", &info, &err), CDR_ERR_SQL_DENIED);
  free(err);
  /* A missing column answers as one a rule hides or the caller may not
   * see (every column is approved for the prepare): no "no such column". */
  CHECK_RC(inspect("SELECT nosuch FROM patients", &info, &err), CDR_ERR_SQL_ERROR);
  CHECK_CONTAINS(err, "names a column that does not exist or that you may not see");
  CHECK(err != NULL && strstr(err, "nosuch") == NULL);
  free(err);
  CHECK_RC(engine_revoke_grant(E, &HOSP, "patients", ANA.name, &err), 0);
  free(err);
  /* A failure naming a table the caller cannot read is the uniform one. */
  CHECK_RC(inspect("SELECT nosuch FROM claims", &info, &err), CDR_ERR_ACCESS_DENIED);
  CHECK_CONTAINS(err, "no access to table claims");
  free(err);
  CHECK(info.ntables == 0 && info.tables == NULL);
}

static int run(const char *sql, const char *const *tables, size_t nt, const struct engine_param_value *v, size_t nv,
               char **json, char **err) {
  struct cdr_buf b;
  uint64_t rows = 0;
  cdr_buf_init(&b, SIZE_MAX, 0);
  *err = NULL;
  int r = engine_template_run(E, &ANA, sql, strlen(sql), tables, nt, v, nv, &b, &rows, err);
  *json = r == 0 ? test_copy_text(b.d, b.len) : NULL;
  cdr_buf_free(&b);
  return r;
}

static void test_run(void) {
  const char *both[] = {"patients", "claims"}, *one[] = {"patients"};
  const char *sql = "SELECT name FROM patients WHERE name = :name";
  struct engine_param_value v = {"name", ENGINE_PARAM_TEXT, 0, 0, NULL, 0};
  char *json = NULL, *err = NULL;
  v.s = "x' OR 1=1 --";
  v.slen = strlen(v.s);
  CHECK_RC(run(sql, one, 1, &v, 1, &json, &err), 0);
  CHECK_STR(json, "{\"columns\":[\"name\"],\"rows\":[],\"row_count\":0}");
  free(json);
  free(err);
  v.s = "O'Neil";
  v.slen = strlen(v.s);
  CHECK_RC(run(sql, one, 1, &v, 1, &json, &err), 0);
  CHECK_STR(json, "{\"columns\":[\"name\"],\"rows\":[[\"O'Neil\"]],\"row_count\":1}");
  free(json);
  free(err);
  /* Typed values. */
  struct engine_param_value m = {"min", ENGINE_PARAM_INTEGER, 4, 0, NULL, 0};
  CHECK_RC(run("SELECT COUNT(*) FROM claims WHERE amount > :min", both + 1, 1, &m, 1, &json, &err), 0);
  CHECK_STR(json, "{\"columns\":[\"COUNT(*)\"],\"rows\":[[2]],\"row_count\":1}");
  free(json);
  free(err);
  /* A parameter left out, or one the text lacks. */
  CHECK_RC(run(sql, one, 1, NULL, 0, &json, &err), CDR_ERR_ARG);
  free(err);
  CHECK_RC(run(sql, one, 1, &m, 1, &json, &err), CDR_ERR_ARG);
  CHECK_CONTAINS(err, "no parameter min");
  free(err);
  /* Only the approved tables are opened for the caller: claims is not
   * in the list, and the analyst has no access of its own. */
  CHECK_RC(run("SELECT COUNT(*) FROM patients p JOIN claims c ON c.pid = p.pid", one, 1, NULL, 0, &json, &err),
           CDR_ERR_ACCESS_DENIED);
  free(err);
  CHECK_RC(run("SELECT COUNT(*) FROM gone", (const char *[]){"gone"}, 1, NULL, 0, &json, &err), CDR_ERR_NOT_FOUND);
  free(err);
}

/* The hash as PROTOCOL 4.7 defines it, written out independently. */
static void lp(uint8_t *b, size_t *n, const char *s) {
  size_t l = strlen(s);
  b[(*n)++] = (uint8_t)(l >> 24);
  b[(*n)++] = (uint8_t)(l >> 16);
  b[(*n)++] = (uint8_t)(l >> 8);
  b[(*n)++] = (uint8_t)l;
  memcpy(b + *n, s, l);
  *n += l;
}

static struct cdr_template *sample(void) {
  struct cdr_template *t = calloc(1, sizeof(*t));
  t->name = strdup("by_region");
  t->sql = strdup("SELECT 1 FROM p WHERE a = :a AND b = :b");
  t->proposer = strdup("ana");
  t->created = 1700000000;
  t->nparams = 2;
  t->params = calloc(2, sizeof(*t->params));
  t->params[0] = (struct template_param){strdup("a"), 1};
  t->params[1] = (struct template_param){strdup("b"), 3};
  t->nfor = 2;
  t->for_members = calloc(2, sizeof(char *));
  t->for_members[0] = strdup("ana");
  t->for_members[1] = strdup("bob");
  t->ntables = 1;
  t->tables = calloc(1, sizeof(*t->tables));
  t->tables[0] = (struct template_table){strdup("p"), strdup("hosp")};
  t->nowners = 1;
  t->owners = calloc(1, sizeof(*t->owners));
  t->owners[0] = (struct template_owner){strdup("hosp"), TEMPLATE_APPROVED};
  return t;
}

static void test_hash(void) {
  struct cdr_template *t = sample();
  uint8_t b[512], want[32], first[32];
  size_t n = 0;
  lp(b, &n, "CDR-v1 template");
  lp(b, &n, "by_region");
  lp(b, &n, "SELECT 1 FROM p WHERE a = :a AND b = :b");
  memcpy(b + n, "\0\0\0\2", 4);
  n += 4;
  lp(b, &n, "a");
  lp(b, &n, "integer");
  lp(b, &n, "b");
  lp(b, &n, "text");
  memcpy(b + n, "\0\0\0\2", 4);
  n += 4;
  lp(b, &n, "ana");
  lp(b, &n, "bob");
  SHA256(b, n, want);
  CHECK_RC(template_hash(t), 0);
  CHECK(memcmp(t->sha256, want, 32) == 0);
  memcpy(first, t->sha256, 32);
  /* Every field an owner approves changes it. */
  t->params[1].type = 2;
  CHECK_RC(template_hash(t), 0);
  CHECK(memcmp(t->sha256, first, 32) != 0);
  t->params[1].type = 3;
  t->for_members[1][0] = 'c';
  CHECK_RC(template_hash(t), 0);
  CHECK(memcmp(t->sha256, first, 32) != 0);
  t->for_members[1][0] = 'b';
  t->sql[7] = '2';
  CHECK_RC(template_hash(t), 0);
  CHECK(memcmp(t->sha256, first, 32) != 0);
  template_free(t);
}

static void test_encoding(void) {
  struct template_set s = {0}, d;
  struct cdr_buf enc, view;
  struct cdr_template *t = sample();
  CHECK_RC(template_hash(t), 0);
  CHECK_RC(template_put(&s, t), 0);
  cdr_buf_init(&enc, SIZE_MAX, 0);
  CHECK_RC(template_set_encode(&s, &enc), 0);
  CHECK(enc.len == 12 + template_encoded_size(t));
  cdr_buf_view(&view, enc.d, enc.len);
  CHECK_RC(template_set_decode(&view, &d), 0);
  CHECK(cdr_buf_avail(&view) == 0);
  CHECK(d.n == 1);
  if (d.n == 1) {
    const struct cdr_template *u = d.v[0];
    CHECK(memcmp(u->sha256, t->sha256, 32) == 0);
    CHECK_STR(u->sql, t->sql);
    CHECK_STR(u->proposer, "ana");
    CHECK(u->created == 1700000000 && u->nowners == 1 && u->owners[0].decision == TEMPLATE_APPROVED);
    CHECK_STR(template_status(u), "approved");
    CHECK(u->ntables == 1 && strcmp(u->tables[0].owner, "hosp") == 0);
  }
  template_set_free(&d);
  /* Every truncation fails (and frees what it built). */
  for (size_t cut = 0; cut < enc.len; cut++) {
    cdr_buf_view(&view, enc.d, cut);
    int r = template_set_decode(&view, &d);
    if (r == 0) {
      CHECK(r != 0);
      fprintf(stderr, "decoded a truncation at %zu\n", cut);
    }
    template_set_free(&d);
  }
  /* A decision or a type out of range, a withdrawn flag above 1. */
  uint8_t *bad = malloc(enc.len);
  memcpy(bad, enc.d, enc.len);
  bad[enc.len - 1] = 2;
  cdr_buf_view(&view, bad, enc.len);
  CHECK_RC(template_set_decode(&view, &d), CDR_ERR_ARG);
  template_set_free(&d);
  memcpy(bad, enc.d, enc.len);
  bad[enc.len - 2] = 3; /* the owner's decision */
  cdr_buf_view(&view, bad, enc.len);
  CHECK_RC(template_set_decode(&view, &d), CDR_ERR_ARG);
  template_set_free(&d);
  memcpy(bad, enc.d, enc.len);
  bad[0] = 'X';
  cdr_buf_view(&view, bad, enc.len);
  CHECK(template_set_decode(&view, &d) != 0);
  template_set_free(&d);
  free(bad);
  /* Two templates of one name do not decode. */
  struct cdr_buf two;
  cdr_buf_init(&two, SIZE_MAX, 0);
  CHECK_RC(cdr_buf_put(&two, TEMPLATE_MAGIC, 8), 0);
  CHECK_RC(cdr_buf_put_u32(&two, 2), 0);
  CHECK_RC(cdr_buf_put(&two, enc.d + 12, enc.len - 12), 0);
  CHECK_RC(cdr_buf_put(&two, enc.d + 12, enc.len - 12), 0);
  cdr_buf_view(&view, two.d, two.len);
  CHECK(template_set_decode(&view, &d) != 0);
  template_set_free(&d);
  cdr_buf_free(&two);
  cdr_buf_free(&enc);
  template_set_free(&s);
}

int main(void) {
  CHECK_RC(engine_open(&E), 0);
  if (E == NULL)
    return test_summary("test_template_engine");
  load(&HOSP, "patients", "pid,name,region\n1,O'Neil,north\n2,Smith,south\n3,x,north\n");
  load(&INS, "claims", "pid,amount\n1,5\n2,3\n3,9\n");
  test_inspect();
  test_run();
  test_hash();
  test_encoding();
  engine_close(E);
  return test_summary("test_template_engine");
}
