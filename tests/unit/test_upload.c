/*
 * test_upload.c - streamed uploads inside the enclave (upload.c over
 * engine_upload.c): the chunk sequence (missing, repeated, reordered
 * chunks), the commit's checks (count, size, hash, truncation), CSV
 * errors in a later chunk with the right line number, declared schemas
 * (header names, values that do not fit), abort, one upload per session
 * and the enclave's cap, ids that do not cross sessions, the end of a
 * session and idleness, replacement and races with other sessions, chunk
 * boundaries anywhere, and that a staging table can never be read.
 *
 * After every failure the test checks the two promises: no room table
 * appeared, and no staging table is left in the database.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "enclave/catalog.h"
#include "enclave/engine.h"
#include "enclave/engine_int.h"
#include "enclave/upload.h"
#include "testlib.h"

static struct cdr_engine *E;
static struct upload_set U;
static const struct engine_principal OWNER = {"owner@example.org", CDR_ROLE_PROVIDER, {1}, 0};
static const struct engine_principal OTHER = {"other@example.org", CDR_ROLE_PROVIDER, {2}, 0};
static const uint8_t SID_A[CDR_SESSION_ID_LEN] = {0xA};
static const uint8_t SID_B[CDR_SESSION_ID_LEN] = {0xB};
static int64_t NOW = 1000000;

/* Staging tables left in the database (they must never outlive an upload). */
static int staging_tables(void) {
  sqlite3_stmt *st = NULL;
  int n = -1;
  policy_set_mode(&E->policy, POLICY_INTERNAL);
  if (sqlite3_prepare_v2(E->db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'cdr-upload-%'", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  policy_set_mode(&E->policy, POLICY_USER);
  return n;
}

/* The answer to `sql` for the owner: its JSON, or "error <code>: <msg>". */
static char *query(const struct engine_principal *who, const char *sql) {
  char *json = NULL, *err = NULL, *out;
  size_t len = 0;
  int r = engine_query_json(E, who, sql, strlen(sql), &json, &len, NULL, &err);
  if (r == 0)
    return json;
  out = malloc(600);
  snprintf(out, 600, "error %s: %s", cdr_err_code(r), err ? err : "");
  free(err);
  return out;
}

#define QUERY_IS(who, sql, expect)    \
  do {                                \
    char *q_ = query(who, sql);       \
    CHECK_STR(q_, expect);            \
    free(q_);                         \
  } while (0)
#define QUERY_HAS(who, sql, expect)   \
  do {                                \
    char *q_ = query(who, sql);       \
    CHECK_CONTAINS(q_, expect);       \
    free(q_);                         \
  } while (0)

/* Nothing is kept: no table called name, no staging table, no upload. */
#define NOTHING_KEPT(name)                                                            \
  do {                                                                                \
    CHECK(catalog_find(engine_catalog(E), name) == NULL);                             \
    QUERY_HAS(&OWNER, "SELECT count(*) FROM " name, "no such table: " name);          \
    CHECK(staging_tables() == 0);                                                     \
    CHECK(upload_set_count(&U) == 0);                                                 \
  } while (0)

static struct csv_schema SCHEMA_AB; /* a INTEGER, b TEXT */

static void sha_hex(char out[65], const char *data, size_t len) {
  uint8_t d[32];
  if (cdr_sha256(d, data, len) != 0)
    memset(d, 0, sizeof(d));
  cdr_hex_encode(out, d, sizeof(d));
}

static int begin(const uint8_t *sid, const struct engine_principal *who, const char *table, int replace,
                 const struct csv_schema *s, uint64_t bytes, char id[UPLOAD_ID_HEX + 1], char **err) {
  return upload_begin(&U, E, sid, who, table, replace, s, bytes, NOW, id, err);
}

static int chunk(const uint8_t *sid, const char *id, uint64_t index, const char *data, size_t len, char **err) {
  uint64_t received = 0;
  return upload_chunk(&U, E, sid, id, index, (const uint8_t *)data, len, NOW, &received, err);
}

/* Upload csv whole in chunks of `step` bytes (0: one chunk) and commit
 * with the true totals.  Returns the first failure; *err its message. */
static int upload_all(const uint8_t *sid, const char *table, int replace, const struct csv_schema *s, const char *csv,
                      size_t step, struct engine_upload_result *res, char **err) {
  char id[UPLOAD_ID_HEX + 1], hex[65];
  size_t len = strlen(csv), n = 0;
  int r;
  if (step == 0)
    step = len;
  if ((r = begin(sid, &OWNER, table, replace, s, len, id, err)) != 0)
    return r;
  for (size_t off = 0; off < len; off += step, n++) {
    free(*err);
    *err = NULL;
    if ((r = chunk(sid, id, n, csv + off, len - off < step ? len - off : step, err)) != 0)
      return r;
  }
  sha_hex(hex, csv, len);
  free(*err);
  *err = NULL;
  return upload_commit(&U, E, sid, id, n, len, hex, res, err);
}

static const char AB_CSV[] = "a,b\n1,x\n2,y\n3,z\n";

static void test_happy_path(void) {
  struct engine_upload_result res;
  char *err = NULL;
  CHECK_RC(upload_all(SID_A, "t1", 0, &SCHEMA_AB, AB_CSV, 5, &res, &err), 0);
  CHECK_STR(res.table, "t1");
  CHECK(res.rows == 3 && !res.replaced);
  QUERY_IS(&OWNER, "SELECT a, b FROM t1 ORDER BY a",
           "{\"columns\":[\"a\",\"b\"],\"rows\":[[1,\"x\"],[2,\"y\"],[3,\"z\"]],\"row_count\":3}");
  const struct catalog_table *t = catalog_find(engine_catalog(E), "t1");
  CHECK(t != NULL && t->ncols == 2 && t->rows == 3 && strcmp(t->owner, OWNER.name) == 0);
  if (t != NULL && t->ncols == 2) {
    CHECK_STR(t->cols[0].type, "INTEGER");
    CHECK_STR(t->cols[1].type, "TEXT");
  }
  CHECK(staging_tables() == 0 && upload_set_count(&U) == 0);
  free(err);
}

static void test_sequence(void) {
  char id[UPLOAD_ID_HEX + 1], *err = NULL;

  /* Missing: 0 then 2. */
  CHECK_RC(begin(SID_A, &OWNER, "seq", 0, &SCHEMA_AB, sizeof(AB_CSV) - 1, id, &err), 0);
  CHECK(strlen(id) == 16);
  CHECK(staging_tables() == 1);
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 4, &err), 0);
  CHECK_RC(chunk(SID_A, id, 2, AB_CSV + 4, 4, &err), CDR_ERR_UPLOAD_SEQUENCE);
  CHECK_CONTAINS(err, "chunk 1 is missing (chunk 2 arrived instead)");
  free(err);
  err = NULL;
  NOTHING_KEPT("seq");
  /* The id is dead now. */
  CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 4, 4, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;

  /* Repeated: 0, 1, 1. */
  CHECK_RC(begin(SID_A, &OWNER, "seq", 0, &SCHEMA_AB, sizeof(AB_CSV) - 1, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 4, &err), 0);
  CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 4, 4, &err), 0);
  CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 4, 4, &err), CDR_ERR_UPLOAD_SEQUENCE);
  CHECK_CONTAINS(err, "chunk 1 was already received");
  CHECK_CONTAINS(err, "chunk 2 was expected");
  free(err);
  err = NULL;
  NOTHING_KEPT("seq");

  /* Reordered: 1 before 0. */
  CHECK_RC(begin(SID_A, &OWNER, "seq", 0, &SCHEMA_AB, sizeof(AB_CSV) - 1, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 4, 4, &err), CDR_ERR_UPLOAD_SEQUENCE);
  CHECK_CONTAINS(err, "chunk 0 is missing");
  free(err);
  err = NULL;
  NOTHING_KEPT("seq");

  /* Empty and oversized chunks. */
  CHECK_RC(begin(SID_A, &OWNER, "seq", 0, &SCHEMA_AB, sizeof(AB_CSV) - 1, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 0, &err), CDR_ERR_ARG);
  free(err);
  err = NULL;
  NOTHING_KEPT("seq");
  {
    size_t n = CDR_UPLOAD_CHUNK_MAX + 1;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (big != NULL) {
      memset(big, 'x', n);
      CHECK_RC(begin(SID_A, &OWNER, "seq", 0, &SCHEMA_AB, 2 * (uint64_t)n, id, &err), 0);
      CHECK_RC(chunk(SID_A, id, 0, big, n, &err), CDR_ERR_TOO_LARGE);
      free(err);
      err = NULL;
      NOTHING_KEPT("seq");
    }
    free(big);
  }
}

static void test_commit_checks(void) {
  struct engine_upload_result res;
  char id[UPLOAD_ID_HEX + 1], hex[65], wrong[65], *err = NULL;
  size_t len = sizeof(AB_CSV) - 1;

  sha_hex(hex, AB_CSV, len);
  memcpy(wrong, hex, sizeof(wrong));
  wrong[0] = wrong[0] == '0' ? '1' : '0';

#define SEND_ALL()                                                                   \
  do {                                                                               \
    CHECK_RC(begin(SID_A, &OWNER, "cc", 0, &SCHEMA_AB, len, id, &err), 0);           \
    CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 8, &err), 0);                               \
    CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 8, len - 8, &err), 0);                     \
  } while (0)
#define COMMIT_FAILS(chunks, bytes, h, code, msg)                                    \
  do {                                                                               \
    CHECK_RC(upload_commit(&U, E, SID_A, id, chunks, bytes, h, &res, &err), code);   \
    CHECK_CONTAINS(err, msg);                                                        \
    CHECK(res.rows == 0 && res.table[0] == '\0');                                    \
    free(err);                                                                       \
    err = NULL;                                                                      \
    NOTHING_KEPT("cc");                                                              \
  } while (0)

  SEND_ALL();
  COMMIT_FAILS(2, len, wrong, CDR_ERR_UPLOAD_MISMATCH, "SHA-256 of the bytes that arrived");
  SEND_ALL();
  COMMIT_FAILS(3, len, hex, CDR_ERR_UPLOAD_MISMATCH, "the commit counts 3 chunks but 2 arrived");
  SEND_ALL();
  COMMIT_FAILS(1, len, hex, CDR_ERR_UPLOAD_MISMATCH, "the commit counts 1 chunks but 2 arrived");
  SEND_ALL();
  COMMIT_FAILS(2, len + 1, hex, CDR_ERR_UPLOAD_MISMATCH, "bytes");
  SEND_ALL();
  COMMIT_FAILS(2, len, "xyz", CDR_ERR_ARG, "64 hex digits");

  /* Truncated: the last chunk never came; the commit states what did
   * arrive (consistent count, size and hash), which is not what was
   * declared. */
  {
    char part[65];
    sha_hex(part, AB_CSV, 8);
    CHECK_RC(begin(SID_A, &OWNER, "cc", 0, &SCHEMA_AB, len, id, &err), 0);
    CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 8, &err), 0);
    COMMIT_FAILS(1, 8, part, CDR_ERR_UPLOAD_MISMATCH, "were declared");
  }
  /* More bytes than declared. */
  CHECK_RC(begin(SID_A, &OWNER, "cc", 0, &SCHEMA_AB, 8, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 8, &err), 0);
  CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 8, 4, &err), CDR_ERR_UPLOAD_MISMATCH);
  CHECK_CONTAINS(err, "goes past the 8 bytes the upload declared");
  free(err);
  err = NULL;
  NOTHING_KEPT("cc");

  /* Declared sizes. */
  CHECK_RC(begin(SID_A, &OWNER, "cc", 0, &SCHEMA_AB, 0, id, &err), CDR_ERR_ARG);
  free(err);
  err = NULL;
  CHECK_RC(begin(SID_A, &OWNER, "cc", 0, &SCHEMA_AB, CDR_MAX_UPLOAD_TOTAL + 1, id, &err), CDR_ERR_TOO_LARGE);
  free(err);
  err = NULL;
  NOTHING_KEPT("cc");
  /* A truncated CSV (open quote at the end) fails at commit. */
  {
    static const char open_quote[] = "a,b\n1,\"x\n";
    struct engine_upload_result r2;
    CHECK_RC(upload_all(SID_A, "cc", 0, &SCHEMA_AB, open_quote, 3, &r2, &err), CDR_ERR_CSV);
    CHECK_CONTAINS(err, "line 2: field 2: unterminated quoted field");
    free(err);
    err = NULL;
    NOTHING_KEPT("cc");
  }
#undef SEND_ALL
#undef COMMIT_FAILS
}

/* A CSV error in the third chunk names its line, counted across chunks
 * (a quoted field spans lines 4-5 in chunk 2). */
static void test_csv_error_in_chunk_3(void) {
  static const char csv[] = "a,b\n"                 /* chunk 0: line 1 */
                            "1,one\n2,two\n"        /* chunk 1: lines 2-3 */
                            "3,\"th\nree\"\n4,four\n" /* chunk 2: lines 4-6 */
                            "5,five,extra\n";       /* chunk 3: line 7 */
  const size_t cut[] = {4, 12, 18, 13};
  char id[UPLOAD_ID_HEX + 1], *err = NULL;
  size_t off = 0;
  CHECK(cut[0] + cut[1] + cut[2] + cut[3] == sizeof(csv) - 1);
  CHECK_RC(begin(SID_A, &OWNER, "bad", 0, &SCHEMA_AB, sizeof(csv) - 1, id, &err), 0);
  for (int i = 0; i < 3; i++) {
    CHECK_RC(chunk(SID_A, id, (uint64_t)i, csv + off, cut[i], &err), 0);
    off += cut[i];
  }
  CHECK_RC(chunk(SID_A, id, 3, csv + off, cut[3], &err), CDR_ERR_CSV);
  CHECK_STR(err, "line 7: expected 2 fields, found 3");
  free(err);
  err = NULL;
  NOTHING_KEPT("bad");

  /* Invalid UTF-8 and bad quoting, in a later chunk too. */
  static const struct {
    const char *csv, *msg;
  } bad[] = {
      {"a,b\n1,x\n2,y\n3,\xC3\x28\n", "line 4: invalid UTF-8"},
      {"a,b\n1,x\n2,y\n3,a\"b\n", "line 4: field 2: quote character inside an unquoted field"},
      {"a,b\n1,x\n2,y\n3,\"a\"b\n", "line 4: field 2: unexpected character after a closing quote"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct engine_upload_result res;
    CHECK_RC(upload_all(SID_A, "bad", 0, &SCHEMA_AB, bad[i].csv, 4, &res, &err), CDR_ERR_CSV);
    CHECK_CONTAINS(err, bad[i].msg);
    free(err);
    err = NULL;
    NOTHING_KEPT("bad");
  }
}

static void test_declared_schema(void) {
  struct csv_schema s;
  struct engine_upload_result res;
  char why[256], *err = NULL;

  /* Header names must be the schema's (case aside), count and order. */
  CHECK_RC(upload_all(SID_A, "ds", 0, &SCHEMA_AB, "a,c\n1,x\n", 0, &res, &err), CDR_ERR_CSV);
  CHECK_STR(err, "line 1: column 2 is \"c\" in the header but \"b\" in the schema");
  free(err);
  err = NULL;
  NOTHING_KEPT("ds");
  CHECK_RC(upload_all(SID_A, "ds", 0, &SCHEMA_AB, "a,b,c\n1,x,2\n", 2, &res, &err), CDR_ERR_CSV);
  CHECK_STR(err, "line 1: the header has 3 columns but the schema names 2");
  free(err);
  err = NULL;
  NOTHING_KEPT("ds");

  /* A value that does not fit: its line and column, never the value. */
  CHECK_RC(upload_all(SID_A, "ds", 0, &SCHEMA_AB, "A,B\n1,x\n2,y\n\n4.5,secret\n", 3, &res, &err), CDR_ERR_CSV);
  CHECK_STR(err, "line 4: expected 2 fields, found 1");
  free(err);
  err = NULL;
  NOTHING_KEPT("ds");
  CHECK_RC(upload_all(SID_A, "ds", 0, &SCHEMA_AB, "A,B\n1,x\n2,y\n\"3\nx\",z\n4.5,w\n", 3, &res, &err),
           CDR_ERR_CSV);
  CHECK_STR(err, "line 4: column 1 (a): the value is not an INTEGER (a whole number of at most 19 digits)");
  free(err);
  err = NULL;
  NOTHING_KEPT("ds");
  CHECK_RC(csv_schema_parse(&s, "x REAL, y TEXT", why, sizeof(why)), 0);
  CHECK_RC(upload_all(SID_A, "ds", 0, &s, "x,y\n1,a\n2.5,b\n1e400,c\n", 0, &res, &err), CDR_ERR_CSV);
  CHECK_STR(err, "line 4: column 1 (x): the value is not a REAL number");
  free(err);
  err = NULL;
  NOTHING_KEPT("ds");

  /* Declared types win over what the values look like; names keep the
   * schema's spelling; an empty value is NULL in every type. */
  CHECK_RC(upload_all(SID_A, "ds", 0, &s, "X,Y\n1,007\n,\n2.5,3\n", 1, &res, &err), 0);
  QUERY_IS(&OWNER, "SELECT x, y, typeof(x) FROM ds ORDER BY rowid",
           "{\"columns\":[\"x\",\"y\",\"typeof(x)\"],\"rows\":[[1.0,\"007\",\"real\"],[null,null,\"null\"],[2.5,\"3\",\"real\"]],"
           "\"row_count\":3}");
  csv_schema_free(&s);
  free(err);
  err = NULL;

  /* A schema the enclave refuses. */
  {
    char *names[] = {"a", "A"};
    enum csv_type types[] = {CSV_TEXT, CSV_TEXT};
    struct csv_schema dup = {2, names, types, 0};
    char id[UPLOAD_ID_HEX + 1];
    CHECK_RC(begin(SID_A, &OWNER, "ds2", 0, &dup, 10, id, &err), CDR_ERR_ARG);
    CHECK_CONTAINS(err, "have the same name");
    free(err);
    err = NULL;
    NOTHING_KEPT("ds2");
  }
}

static void test_abort_and_sessions(void) {
  char id[UPLOAD_ID_HEX + 1], id2[UPLOAD_ID_HEX + 1], *err = NULL;
  struct engine_upload_result res;

  /* Abort. */
  CHECK_RC(begin(SID_A, &OWNER, "ab", 0, &SCHEMA_AB, 16, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 8, &err), 0);
  CHECK_RC(upload_abort(&U, E, SID_A, id, &err), 0);
  NOTHING_KEPT("ab");
  CHECK_RC(chunk(SID_A, id, 1, AB_CSV + 8, 8, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;
  CHECK_RC(upload_abort(&U, E, SID_A, id, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;

  /* One upload per session: a second begin cancels both. */
  CHECK_RC(begin(SID_A, &OWNER, "ab", 0, &SCHEMA_AB, 16, id, &err), 0);
  CHECK_RC(begin(SID_A, &OWNER, "ab2", 0, &SCHEMA_AB, 16, id2, &err), CDR_ERR_BUSY);
  CHECK_CONTAINS(err, "already had an upload in progress");
  free(err);
  err = NULL;
  NOTHING_KEPT("ab");

  /* Ids do not cross sessions: B cannot feed, commit or abort A's
   * upload (its own upload would be dropped; A's goes on). */
  CHECK_RC(begin(SID_A, &OWNER, "ab", 0, &SCHEMA_AB, sizeof(AB_CSV) - 1, id, &err), 0);
  CHECK_RC(chunk(SID_B, id, 0, "a,b\n9,evil\n", 11, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;
  CHECK_RC(upload_abort(&U, E, SID_B, id, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;
  CHECK(upload_set_count(&U) == 1);
  {
    char hex[65];
    size_t len = sizeof(AB_CSV) - 1;
    sha_hex(hex, AB_CSV, len);
    CHECK_RC(chunk(SID_A, id, 0, AB_CSV, len, &err), 0);
    CHECK_RC(upload_commit(&U, E, SID_B, id, 1, len, hex, &res, &err), CDR_ERR_NOT_FOUND);
    free(err);
    err = NULL;
    CHECK_RC(upload_commit(&U, E, SID_A, id, 1, len, hex, &res, &err), 0);
    CHECK(res.rows == 3);
  }
  CHECK(staging_tables() == 0);

  /* The enclave's cap. */
  {
    uint8_t sid[CDR_MAX_UPLOADS + 1][CDR_SESSION_ID_LEN];
    char ids[CDR_MAX_UPLOADS + 1][UPLOAD_ID_HEX + 1];
    memset(sid, 0, sizeof(sid));
    for (unsigned i = 0; i <= CDR_MAX_UPLOADS; i++) {
      char name[8];
      sid[i][0] = (uint8_t)(0x40 + i);
      snprintf(name, sizeof(name), "cap%u", i);
      CHECK_RC(begin(sid[i], &OWNER, name, 0, &SCHEMA_AB, 16, ids[i], &err), i < CDR_MAX_UPLOADS ? 0 : CDR_ERR_BUSY);
    }
    CHECK_CONTAINS(err, "try again later");
    free(err);
    err = NULL;
    CHECK(upload_set_count(&U) == CDR_MAX_UPLOADS);
    CHECK(staging_tables() == (int)CDR_MAX_UPLOADS);
    upload_set_clear(&U, E);
    CHECK(staging_tables() == 0 && upload_set_count(&U) == 0);
  }
}

/* upload_set_reap: sessions that ended, and idle uploads. */
static int alive_only_a(void *ctx, const uint8_t sid[CDR_SESSION_ID_LEN]) {
  (void)ctx;
  return memcmp(sid, SID_A, CDR_SESSION_ID_LEN) == 0;
}

static void test_reap(void) {
  char id[UPLOAD_ID_HEX + 1], idb[UPLOAD_ID_HEX + 1], *err = NULL;
  CHECK_RC(begin(SID_A, &OWNER, "ra", 0, &SCHEMA_AB, 16, id, &err), 0);
  CHECK_RC(begin(SID_B, &OWNER, "rb", 0, &SCHEMA_AB, 16, idb, &err), 0);
  upload_set_reap(&U, E, NOW, alive_only_a, NULL);
  CHECK(upload_set_count(&U) == 1 && staging_tables() == 1);
  CHECK_RC(chunk(SID_B, idb, 0, AB_CSV, 4, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;
  /* A chunk keeps it alive; silence for CDR_UPLOAD_IDLE_S ends it. */
  NOW += CDR_UPLOAD_IDLE_S - 1;
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 4, &err), 0);
  NOW += CDR_UPLOAD_IDLE_S;
  upload_set_reap(&U, E, NOW, alive_only_a, NULL);
  CHECK(upload_set_count(&U) == 1);
  NOW += 1;
  upload_set_reap(&U, E, NOW, alive_only_a, NULL);
  NOTHING_KEPT("ra");
  NOTHING_KEPT("rb");
}

/* A staging table can be neither read nor listed, by anyone. */
static void test_staging_unreadable(void) {
  char id[UPLOAD_ID_HEX + 1], *err = NULL, *json = NULL;
  size_t len;
  CHECK_RC(begin(SID_A, &OWNER, "hidden", 0, &SCHEMA_AB, sizeof(AB_CSV) - 1, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, AB_CSV, 12, &err), 0);
  CHECK(staging_tables() == 1);
  QUERY_HAS(&OWNER, "SELECT name FROM sqlite_schema", "error");
  QUERY_HAS(&OWNER, "SELECT * FROM hidden", "no such table: hidden");
  {
    /* Whatever the staging table is called now. */
    sqlite3_stmt *st = NULL;
    char name[64] = "", sql[256];
    policy_set_mode(&E->policy, POLICY_INTERNAL);
    if (sqlite3_prepare_v2(E->db, "SELECT name FROM sqlite_schema WHERE name LIKE 'cdr-upload-%'", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      snprintf(name, sizeof(name), "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    policy_set_mode(&E->policy, POLICY_USER);
    CHECK(name[0] != '\0');
    snprintf(sql, sizeof(sql), "SELECT b FROM \"%s\"", name);
    QUERY_HAS(&OWNER, sql, "only the room's tables can be read");
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", name);
    QUERY_HAS(&OWNER, sql, "the statement reads outside the room's tables");
    snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", name);
    QUERY_HAS(&OTHER, sql, "only the room's tables can be read");
    /* The USING-join path that the authorizer never sees. */
    snprintf(sql, sizeof(sql), "SELECT t1.a FROM t1 JOIN \"%s\" USING (a, b)", name);
    QUERY_HAS(&OWNER, sql, "error");
    snprintf(sql, sizeof(sql), "SELECT 1 FROM t1 NATURAL JOIN \"%s\"", name);
    QUERY_HAS(&OWNER, sql, "error");
  }
  CHECK_RC(engine_tables_json(E, &OWNER, &json, &len, &err), 0);
  CHECK(json != NULL && strstr(json, "\"name\":\"hidden\"") == NULL && strstr(json, "cdr-upload") == NULL);
  free(json);
  CHECK_RC(upload_abort(&U, E, SID_A, id, &err), 0);
  NOTHING_KEPT("hidden");
}

static void test_replace_and_races(void) {
  struct engine_upload_result res;
  struct csv_schema s;
  char id[UPLOAD_ID_HEX + 1], idb[UPLOAD_ID_HEX + 1], hex[65], why[128], *err = NULL;

  /* Replace: hidden flags and grants carry over by column name. */
  CHECK_RC(upload_all(SID_A, "rep", 0, &SCHEMA_AB, AB_CSV, 0, &res, &err), 0);
  CHECK_RC(engine_hide(E, &OWNER, "rep", "b", 1, &err), 0);
  CHECK_RC(engine_grant(E, &OWNER, "rep", "role:analyst", NULL, 0, &err), 0);
  CHECK_RC(csv_schema_parse(&s, "b TEXT, c REAL", why, sizeof(why)), 0);
  CHECK_RC(upload_all(SID_A, "REP", 1, &s, "b,c\nq,1.5\n", 3, &res, &err), 0);
  CHECK(res.replaced && res.rows == 1);
  CHECK_STR(res.table, "rep"); /* the table keeps its spelling */
  {
    const struct catalog_table *t = catalog_find(engine_catalog(E), "rep");
    CHECK(t != NULL && t->ncols == 2 && t->cols[0].hidden && t->ngrants == 1);
  }
  QUERY_IS(&OWNER, "SELECT * FROM rep", "{\"columns\":[\"b\",\"c\"],\"rows\":[[\"q\",1.5]],\"row_count\":1}");

  /* A failed replacement leaves the old table. */
  CHECK_RC(upload_all(SID_A, "rep", 1, &s, "b,c\nq,notanumber\n", 0, &res, &err), CDR_ERR_CSV);
  free(err);
  err = NULL;
  QUERY_IS(&OWNER, "SELECT * FROM rep", "{\"columns\":[\"b\",\"c\"],\"rows\":[[\"q\",1.5]],\"row_count\":1}");
  CHECK(staging_tables() == 0);

  /* Only the owner replaces; a new table's name must be free. */
  CHECK_RC(upload_begin(&U, E, SID_B, &OTHER, "rep", 1, &s, 10, NOW, idb, &err), CDR_ERR_ACCESS_DENIED);
  CHECK_CONTAINS(err, "belongs to owner@example.org");
  free(err);
  err = NULL;
  CHECK_RC(upload_begin(&U, E, SID_B, &OTHER, "Rep", 0, &s, 10, NOW, idb, &err), CDR_ERR_TABLE_EXISTS);
  free(err);
  err = NULL;
  CHECK_RC(begin(SID_A, &OWNER, "nope", 1, &s, 10, id, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;
  CHECK_RC(begin(SID_A, &OWNER, "sqlite_x", 0, &s, 10, id, &err), CDR_ERR_TABLE_NAME);
  free(err);
  err = NULL;
  CHECK(staging_tables() == 0 && upload_set_count(&U) == 0);

  /* Races: the name is taken by another session between begin and
   * commit; the table to replace is dropped meanwhile. */
  sha_hex(hex, "b,c\nq,1\n", 8);
  CHECK_RC(begin(SID_A, &OWNER, "race", 0, &s, 8, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, "b,c\nq,1\n", 8, &err), 0);
  CHECK_RC(upload_all(SID_B, "RACE", 0, &s, "b,c\nz,2\n", 0, &res, &err), 0);
  CHECK_RC(upload_commit(&U, E, SID_A, id, 1, 8, hex, &res, &err), CDR_ERR_TABLE_EXISTS);
  free(err);
  err = NULL;
  QUERY_IS(&OWNER, "SELECT b FROM race", "{\"columns\":[\"b\"],\"rows\":[[\"z\"]],\"row_count\":1}");
  CHECK_RC(begin(SID_A, &OWNER, "race", 1, &s, 8, id, &err), 0);
  CHECK_RC(chunk(SID_A, id, 0, "b,c\nq,1\n", 8, &err), 0);
  CHECK_RC(engine_drop(E, &OWNER, "race", &err), 0);
  CHECK_RC(upload_commit(&U, E, SID_A, id, 1, 8, hex, &res, &err), CDR_ERR_NOT_FOUND);
  free(err);
  err = NULL;
  NOTHING_KEPT("race");
  csv_schema_free(&s);
}

/* Chunk boundaries anywhere (inside a record, a quoted field, a doubled
 * quote, a CRLF, a UTF-8 sequence, the BOM) give the same table. */
static void test_boundaries(void) {
  static const char csv[] = "\xEF\xBB\xBFid,name,note\r\n"
                            "1,\"Ann, \"\"the\"\" first\",\"two\r\nlines\"\r\n"
                            "2,J\xC3\xBCrgen,\xE2\x82\xAC \xF0\x9F\x98\x80\r\n"
                            "3,,\"\"\r\n";
  struct csv_schema s;
  struct engine_upload_result res;
  char why[128], *err = NULL, *want = NULL;
  CHECK_RC(csv_schema_infer(&s, (const uint8_t *)csv, sizeof(csv) - 1, why, sizeof(why)), 0);
  for (size_t step = 1; step <= sizeof(csv); step++) {
    CHECK_RC(upload_all(SID_A, "bnd", 0, &s, csv, step, &res, &err), 0);
    if (err != NULL)
      fprintf(stderr, "  step %zu: %s\n", step, err);
    free(err);
    err = NULL;
    CHECK(res.rows == 3);
    char *got = query(&OWNER, "SELECT * FROM bnd ORDER BY id");
    if (want == NULL) {
      want = got;
      CHECK_STR(want, "{\"columns\":[\"id\",\"name\",\"note\"],\"rows\":[[1,\"Ann, \\\"the\\\" first\",\"two\\r\\nlines\"],"
                      "[2,\"J\xC3\xBCrgen\",\"\xE2\x82\xAC \xF0\x9F\x98\x80\"],[3,null,null]],\"row_count\":3}");
    } else {
      CHECK_STR(got, want);
      free(got);
    }
    CHECK_RC(engine_drop(E, &OWNER, "bnd", &err), 0);
  }
  free(want);
  csv_schema_free(&s);
  CHECK(staging_tables() == 0);
}

/* engine_close with uploads in progress finalizes their statements. */
static void test_close_with_uploads(void) {
  struct cdr_engine *e2 = NULL;
  struct upload_set u2;
  char id[UPLOAD_ID_HEX + 1], *err = NULL;
  memset(&u2, 0, sizeof(u2));
  CHECK_RC(engine_open(&e2), 0);
  CHECK_RC(upload_begin(&u2, e2, SID_A, &OWNER, "x", 0, &SCHEMA_AB, 16, NOW, id, &err), 0);
  CHECK_RC(upload_chunk(&u2, e2, SID_A, id, 0, (const uint8_t *)AB_CSV, 8, NOW, &(uint64_t){0}, &err), 0);
  upload_set_clear(&u2, e2);
  CHECK_RC(upload_begin(&u2, e2, SID_A, &OWNER, "x", 0, &SCHEMA_AB, 16, NOW, id, &err), 0);
  engine_close(e2); /* aborts what is on the engine's own list */
  EVP_MD_CTX_free(u2.slot[0].sha);
  free(err);
}

int main(void) {
  char why[128];
  if (engine_open(&E) != 0) {
    fprintf(stderr, "engine_open failed\n");
    return 1;
  }
  if (csv_schema_parse(&SCHEMA_AB, "a INTEGER, b TEXT", why, sizeof(why)) != 0)
    return 1;
  test_happy_path();
  test_sequence();
  test_commit_checks();
  test_csv_error_in_chunk_3();
  test_declared_schema();
  test_abort_and_sessions();
  test_reap();
  test_staging_unreadable();
  test_replace_and_races();
  test_boundaries();
  test_close_with_uploads();
  upload_set_clear(&U, E);
  csv_schema_free(&SCHEMA_AB);
  engine_close(E);
  return test_summary("test_upload");
}
