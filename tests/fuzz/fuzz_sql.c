/*
 * fuzz_sql.c - arbitrary SQL through engine_query_render, as the query
 * operation calls it (appending to a reply that holds its head): the
 * room's read-only policy, table ownership, grants and hidden columns,
 * and the engine's limits (src/enclave/engine_*.c, policy.c, catalog.c).
 *
 * Input: one byte choosing who runs the query (fuzz_who: the owner of
 * the fixture tables, an analyst with a role grant on three columns of
 * "patients", another provider, an auditor), then the SQL text.
 *
 * Two engines serve every input, as one enclave serves every query:
 * A and B hold the fixture tables of fuzzlib.h in variants 0 and 1, which
 * differ in every value the analyst may not read.
 *
 * Invariants:
 *   - nothing is written: SQLite's count of changed rows on A's
 *     connection, the data versions of its main and temp databases, and
 *     "patients" as its owner reads it are what they were after the
 *     fixture was loaded, and no transaction is left open;
 *   - a query that succeeds returns one JSON document that the client
 *     accepts (it parses with the client's flags: src/client
 *     cdr_json_parse_object), whose "rows" has "row_count" rows, each as
 *     long as "columns";
 *   - a query that fails says why, with a query error code, and leaves
 *     the reply as it was (only its head); one that succeeds appends to
 *     the head and leaves it untouched;
 *   - non-interference: for everyone but the owner, A and B give the same
 *     answer (code, message, result).  A difference means the answer
 *     depends on data the principal may not read, unless the query is not
 *     deterministic (random(), a time limit hit), which a second run on A
 *     and one on B tell; a text that names random, randomblob or the clock
 *     ('now', current_*) is not compared at all: 1e308 * randomblob(4) is 0
 *     unless the random bytes start with a digit, so two runs on A can
 *     agree by chance and one on B differ (seen in CI, a false alarm).
 *
 * The harness reaches A's sqlite3 handle through an SQLite
 * auto-extension, which SQLite calls for every connection it opens: the
 * engine's interface has no way to hand it out, and should not.
 */
#include <jansson.h>
#include <sqlite3.h>
#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "enclave/engine.h"
#include "enclave/wipe_alloc.h"
#include "fuzzlib.h"

static sqlite3 *db_a;
static struct cdr_engine *engine_a, *engine_b;
static sqlite3_int64 base_changes;
static unsigned int base_version_main, base_version_temp;
static int base_rc_temp;
static char *base_table;
static size_t base_table_len;

static int capture_db(sqlite3 *db, char **err, const struct sqlite3_api_routines *api) {
  if (db_a == NULL)
    db_a = db;
  return SQLITE_OK;
}

static void data_versions(unsigned int *main_v, unsigned int *temp_v, int *temp_rc) {
  *main_v = *temp_v = 0;
  FUZZ_CHECK(sqlite3_file_control(db_a, "main", SQLITE_FCNTL_DATA_VERSION, main_v) == SQLITE_OK);
  *temp_rc = sqlite3_file_control(db_a, "temp", SQLITE_FCNTL_DATA_VERSION, temp_v);
}

static char *read_table(size_t *len) {
  struct engine_principal owner;
  char *json = NULL, *err = NULL;
  static const char q[] = "SELECT * FROM patients";
  fuzz_principal(FUZZ_WHO_PROVIDER, &owner);
  FUZZ_CHECK(engine_query_json(engine_a, &owner, q, sizeof(q) - 1, &json, len, NULL, &err) == 0);
  free(err);
  return json;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  FUZZ_CHECK(wipe_alloc_install(256u * CDR_MiB) == 0);
  FUZZ_CHECK(sqlite3_auto_extension((void (*)(void))capture_db) == SQLITE_OK);
  engine_a = fuzz_engine_open(100, 0);
  FUZZ_CHECK(db_a != NULL);
  FUZZ_CHECK(sqlite3_cancel_auto_extension((void (*)(void))capture_db) == 1);
  engine_b = fuzz_engine_open(100, 1);
  base_changes = sqlite3_total_changes64(db_a);
  data_versions(&base_version_main, &base_version_temp, &base_rc_temp);
  base_table = read_table(&base_table_len);
  return 0;
}

static void check_result(const char *json, size_t len, uint64_t rows) {
  json_error_t je;
  /* The flags of the client's parser (src/client/http_client.c). */
  json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (!json_is_object(j))
    fprintf(stderr, "the client cannot parse the result: %s (at %d)\n", je.text, je.position);
  FUZZ_CHECK(json_is_object(j));
  json_t *cols = json_object_get(j, "columns"), *rs = json_object_get(j, "rows");
  FUZZ_CHECK(json_is_array(cols) && json_is_array(rs));
  FUZZ_CHECK(json_array_size(rs) == rows);
  FUZZ_CHECK(json_integer_value(json_object_get(j, "row_count")) == (json_int_t)rows);
  for (size_t i = 0; i < json_array_size(rs); i++)
    FUZZ_CHECK(json_array_size(json_array_get(rs, i)) == json_array_size(cols));
  json_decref(j);
}

struct answer {
  int r;
  char *json, *err;
  size_t len;
  uint64_t rows;
};

/* The head ops.c writes before the engine's document. */
static const char reply_head[] = "{\"ok\":true,\"result\":";

static void ask(struct cdr_engine *e, const struct engine_principal *who, const uint8_t *sql, size_t n,
                struct answer *a) {
  struct cdr_buf out;
  const size_t h = sizeof(reply_head) - 1;
  memset(a, 0, sizeof(*a));
  cdr_buf_init(&out, CDR_MAX_PLAINTEXT, 0);
  FUZZ_CHECK(cdr_buf_put(&out, reply_head, h) == 0);
  a->r = engine_query_render(e, who, (const char *)sql, n, &out, &a->rows, &a->err);
  FUZZ_CHECK(out.len >= h && memcmp(out.d, reply_head, h) == 0);
  if (a->r != 0) {
    FUZZ_CHECK(out.len == h);
  } else {
    a->len = out.len - h;
    FUZZ_CHECK((a->json = malloc(a->len + 1)) != NULL);
    memcpy(a->json, out.d + h, a->len);
    a->json[a->len] = '\0';
  }
  cdr_buf_free(&out);
}

/* Does the text name a function whose answer changes from run to run
 * (random, randomblob, the clock)?  Letters compare without case; a
 * function's name is always spelled out in the text, quoted or not. */
static int nondeterministic(const uint8_t *sql, size_t n) {
  static const char *const words[] = {"random", "now", "current_"};
  for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
    size_t k = strlen(words[w]);
    for (size_t i = 0; i + k <= n; i++) {
      size_t j = 0;
      while (j < k && (sql[i + j] | 0x20) == (uint8_t)words[w][j])
        j++;
      if (j == k)
        return 1;
    }
  }
  return 0;
}

static int same(const struct answer *a, const struct answer *b) {
  if (a->r != b->r || a->len != b->len || (a->json == NULL) != (b->json == NULL) || (a->err == NULL) != (b->err == NULL))
    return 0;
  if (a->json != NULL && memcmp(a->json, b->json, a->len) != 0)
    return 0;
  return a->err == NULL || strcmp(a->err, b->err) == 0;
}

static void forget(struct answer *a) {
  free(a->json);
  free(a->err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct engine_principal who;
  struct answer a, b, a2;
  if (size < 1)
    return 0;
  enum fuzz_who w = (enum fuzz_who)(data[0] % 4);
  fuzz_principal(w, &who);
  const uint8_t *sql = data + 1;
  size_t n = size - 1;

  ask(engine_a, &who, sql, n, &a);
  if (a.r == 0) {
    FUZZ_CHECK(a.json != NULL && a.json[a.len] == '\0');
    check_result(a.json, a.len, a.rows);
  } else {
    FUZZ_CHECK(a.json == NULL);
    FUZZ_CHECK(a.r == CDR_ERR_SQL_DENIED || a.r == CDR_ERR_ACCESS_DENIED || a.r == CDR_ERR_SQL_ERROR ||
               a.r == CDR_ERR_SQL_TIMEOUT || a.r == CDR_ERR_RESULT_TOO_LARGE || a.r == CDR_ERR_TOO_LARGE ||
               a.r == CDR_ERR_NOMEM);
    FUZZ_CHECK(a.err != NULL || a.r == CDR_ERR_NOMEM);
  }

  /* Non-interference: only the owner may see what differs between A and B. */
  if (w != FUZZ_WHO_PROVIDER && a.r != CDR_ERR_SQL_TIMEOUT && a.r != CDR_ERR_NOMEM && !nondeterministic(sql, n)) {
    ask(engine_b, &who, sql, n, &b);
    if (!same(&a, &b) && b.r != CDR_ERR_SQL_TIMEOUT && b.r != CDR_ERR_NOMEM) {
      struct answer b2;
      ask(engine_a, &who, sql, n, &a2);
      ask(engine_b, &who, sql, n, &b2);
      if (same(&a, &a2) && same(&b, &b2)) {
        fprintf(stderr, "principal %s sees different answers in A and B:\nA: %d %s %s\nB: %d %s %s\n", who.name, a.r,
                a.err ? a.err : "", a.json ? a.json : "", b.r, b.err ? b.err : "", b.json ? b.json : "");
        FUZZ_CHECK(!"an answer depends on data the principal may not read");
      }
      forget(&a2);
      forget(&b2);
    }
    forget(&b);
  }
  forget(&a);

  /* Nothing written, nothing left open. */
  unsigned int vm, vt;
  int rct;
  FUZZ_CHECK(sqlite3_total_changes64(db_a) == base_changes);
  data_versions(&vm, &vt, &rct);
  FUZZ_CHECK(vm == base_version_main);
  FUZZ_CHECK(rct == base_rc_temp && vt == base_version_temp);
  FUZZ_CHECK(sqlite3_get_autocommit(db_a) != 0);
  size_t tlen = 0;
  char *table = read_table(&tlen);
  FUZZ_CHECK(tlen == base_table_len && memcmp(table, base_table, tlen) == 0);
  free(table);
  return 0;
}
