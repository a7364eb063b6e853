/*
 * test_alloc.c - the enclave's wiping allocators and SQLite heap cap:
 * a query that tries to allocate far more than the cap fails cleanly
 * with an error, and the engine (and its tables) keep working; SQLite's
 * realloc keeps the bytes, and a block that grows by small steps moves
 * only a logarithmic number of times (it was copied at every step, which
 * made one printf() of a 4 MiB value take minutes: the fuzz_sql
 * regression timeout-e7518db6...).
 */
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "enclave/engine.h"
#include "enclave/wipe_alloc.h"
#include "testlib.h"

int main(void) {
  const struct engine_principal who = {"owner", CDR_ROLE_PROVIDER, {0}, 0};
  struct cdr_engine *e = NULL;
  char *json = NULL, *msg = NULL;
  size_t len;
  uint64_t rows;
  CHECK_RC(wipe_alloc_install(96u * 1024 * 1024), 0);
  CHECK_RC(engine_open(&e), 0);
  const char *csv = "id,v\n1,a\n2,b\n";
  CHECK_RC(engine_load_csv(e, &who, "t", (const uint8_t *)csv, strlen(csv), 0, &rows, &msg), 0);
  /* About 6 GB of blobs to sort: far over the 96 MiB cap (each blob is
   * under the 4 MiB value-length cap, so it is the heap cap that stops it). */
  const char *bomb = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c LIMIT 2000) "
                     "SELECT length(b) FROM (SELECT zeroblob(3000000)||x b FROM c ORDER BY b) LIMIT 1";
  int r = engine_query_json(e, &who, bomb, strlen(bomb), &json, &len, &rows, &msg);
  CHECK(r == CDR_ERR_SQL_ERROR || r == CDR_ERR_NOMEM || r == CDR_ERR_RESULT_TOO_LARGE);
  CHECK(r != 0);
  CHECK_CONTAINS(msg, "memory");
  free(msg);
  msg = NULL;
  free(json);
  json = NULL;
  CHECK_RC(engine_query_json(e, &who, "SELECT count(*) FROM t", 22, &json, &len, &rows, &msg), 0);
  CHECK_STR(json, "{\"columns\":[\"count(*)\"],\"rows\":[[2]],\"row_count\":1}");
  free(json);
  /* The per-query limit: 100,000 distinct values of 200 bytes (about
   * 25 MB) pass a 16 MiB limit, which fails that query alone with its own
   * code; the next query works, and under the default limit (the heap's
   * 96 MiB still holds) the same query succeeds: it was the query's
   * limit, not the heap's. */
  const char *distinct = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 100000) "
                         "SELECT count(*) FROM (SELECT DISTINCT printf('%.200c', 'd') || x FROM c)";
  engine_set_memory_limit(e, 16u * 1024 * 1024);
  CHECK_RC(engine_query_json(e, &who, distinct, strlen(distinct), &json, &len, &rows, &msg), CDR_ERR_SQL_MEMORY);
  CHECK_CONTAINS(msg, "memory limit of 16 MiB");
  free(msg);
  msg = NULL;
  CHECK_RC(engine_query_json(e, &who, "SELECT count(*) FROM t", 22, &json, &len, &rows, &msg), 0);
  free(json);
  json = NULL;
  engine_set_memory_limit(e, 0);
  CHECK_RC(engine_query_json(e, &who, distinct, strlen(distinct), &json, &len, &rows, &msg), 0);
  CHECK_STR(json, "{\"columns\":[\"count(*)\"],\"rows\":[[100000]],\"row_count\":1}");
  free(json);
  json = NULL;
  /* jansson goes through the same allocator and still works. */
  json_t *o = json_pack("{s:s}", "k", "value");
  char *s = json_dumps(o, JSON_COMPACT);
  CHECK_STR(s, "{\"k\":\"value\"}");
  json_free_t jfree;
  json_get_alloc_funcs(NULL, &jfree);
  jfree(s); /* json_dumps output goes back through jansson's allocator */
  json_decref(o);
  engine_close(e);

  /* Realloc through the installed allocator. */
  unsigned char *p = sqlite3_malloc(100), *q;
  CHECK(p != NULL);
  for (int i = 0; i < 100; i++)
    p[i] = (unsigned char)i;
  q = sqlite3_realloc(p, 1000);
  CHECK(q != NULL && sqlite3_msize(q) >= 1000);
  int kept = 1;
  for (int i = 0; i < 100; i++)
    kept &= q[i] == (unsigned char)i;
  CHECK(kept);
  p = sqlite3_realloc(q, 50); /* shrinking: stays in place */
  CHECK(p == q && sqlite3_msize(p) >= 50);
  /* Growing from 1 KiB to 4 MiB in 8-byte steps, as SQLite's string
   * builder does near its length cap: 524,160 calls, a few dozen moves. */
  int moves = 0;
  kept = 1;
  p = sqlite3_realloc(p, 1024);
  memset(p, 0x5a, 1024);
  for (int n = 1032; n <= 4 << 20 && p != NULL; n += 8) {
    q = sqlite3_realloc(p, n);
    if (q == NULL) {
      sqlite3_free(p);
      p = NULL;
      break;
    }
    moves += q != p;
    kept &= q[0] == 0x5a && q[1023] == 0x5a;
    p = q;
  }
  CHECK(p != NULL && kept);
  CHECK(moves > 0 && moves <= 40);
  if (moves > 40)
    fprintf(stderr, "  %d moves for 8-byte growth to 4 MiB\n", moves);
  sqlite3_free(p);
  return test_summary("test_alloc");
}
