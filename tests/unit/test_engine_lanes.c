/*
 * test_engine_lanes.c - the engine's lanes (engine.h "lanes";
 * docs/ARCHITECTURE.md "Concurrency"): queries on connections of their
 * own to the room's one database.
 *   - a lane's engine is not the room's, each lane is distinct, and a
 *     second engine_lanes_open is refused;
 *   - a lane sees what the room's engine committed since it last ran: a
 *     new table, a replaced one (its new rows, not a refusal because the
 *     lane's cached schema named the old root page), a dropped one (the
 *     uniform refusal, access_denied);
 *   - two queries run at once: while one lane's query runs to its time
 *     limit, another lane's query completes (an order, not a time: with
 *     one statement at a time the second would wait for the first).
 * Run under TSan by make test-tsan.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "enclave/engine.h"
#include "testlib.h"

static struct cdr_engine *E;
static const struct engine_principal OWNER = {"owner@example.org", CDR_ROLE_PROVIDER, {0}, 0};

static int load(const char *name, const char *csv, int replace) {
  uint64_t rows = 0;
  char *err = NULL;
  int r = engine_load_csv(E, &OWNER, name, (const uint8_t *)csv, strlen(csv), replace, &rows, &err);
  if (err != NULL)
    fprintf(stderr, "  (load: %s)\n", err);
  free(err);
  return r;
}

/* Run sql on lane l; the result document in *json (malloc'd) or the
 * error's message in *err. */
static int run_on(struct cdr_engine *l, const char *sql, char **json, char **err) {
  *json = NULL;
  return engine_query_json(l, &OWNER, sql, strlen(sql), json, NULL, NULL, err);
}

static void expect(struct cdr_engine *l, const char *sql, const char *want) {
  char *j = NULL, *err = NULL;
  CHECK_RC(run_on(l, sql, &j, &err), 0);
  CHECK_STR(j, want);
  if (err != NULL)
    fprintf(stderr, "  (error: %s)\n", err);
  free(j);
  free(err);
}

static void test_lanes_see_commits(void) {
  struct cdr_engine *a, *b;
  char *j = NULL, *err = NULL;
  CHECK_RC(engine_lanes_open(E, 2), 0);
  CHECK_RC(engine_lanes_open(E, 2), CDR_ERR_ARG);
  a = engine_lane_take(E);
  b = engine_lane_take(E);
  CHECK(a != NULL && b != NULL && a != E && b != E && a != b);
  /* A table created after both lanes ran a first query. */
  expect(a, "SELECT 1 AS one", "{\"columns\":[\"one\"],\"rows\":[[1]],\"row_count\":1}");
  expect(b, "SELECT 1 AS one", "{\"columns\":[\"one\"],\"rows\":[[1]],\"row_count\":1}");
  engine_lane_give(E, a);
  engine_lane_give(E, b);
  CHECK_RC(load("t", "id,v\n1,10\n2,20\n3,30\n", 0), 0);
  a = engine_lane_take(E);
  b = engine_lane_take(E);
  expect(a, "SELECT count(*) AS n, sum(v) AS s FROM t", "{\"columns\":[\"n\",\"s\"],\"rows\":[[3,60]],\"row_count\":1}");
  expect(b, "SELECT count(*) AS n, sum(v) AS s FROM t", "{\"columns\":[\"n\",\"s\"],\"rows\":[[3,60]],\"row_count\":1}");
  engine_lane_give(E, a);
  engine_lane_give(E, b);
  /* Replaced: a new table under the old name, at another root page. */
  CHECK_RC(load("t", "id,v\n7,70\n8,80\n", 1), 0);
  a = engine_lane_take(E);
  b = engine_lane_take(E);
  expect(a, "SELECT count(*) AS n, sum(v) AS s FROM t", "{\"columns\":[\"n\",\"s\"],\"rows\":[[2,150]],\"row_count\":1}");
  expect(b, "SELECT id FROM t ORDER BY id", "{\"columns\":[\"id\"],\"rows\":[[7],[8]],\"row_count\":2}");
  engine_lane_give(E, a);
  engine_lane_give(E, b);
  /* Dropped: the uniform refusal. */
  CHECK_RC(engine_drop(E, &OWNER, "t", &err), 0);
  free(err);
  err = NULL;
  a = engine_lane_take(E);
  CHECK_RC(run_on(a, "SELECT count(*) FROM t", &j, &err), CDR_ERR_ACCESS_DENIED);
  CHECK(j == NULL);
  free(err);
  err = NULL;
  engine_lane_give(E, a);
}

/* ---- two queries at once ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int heavy_started, heavy_done, heavy_rc;

static void *heavy_main(void *arg) {
  struct cdr_engine *l = engine_lane_take(E);
  char *j = NULL, *err = NULL;
  (void)arg;
  pthread_mutex_lock(&mu);
  heavy_started = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  int r = run_on(l, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c", &j, &err);
  engine_lane_give(E, l);
  free(j);
  free(err);
  pthread_mutex_lock(&mu);
  heavy_done = 1;
  heavy_rc = r;
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void test_parallel(void) {
  pthread_t th;
  engine_set_time_limit_ms(E, 10000); /* ample for the small query to finish first */
  CHECK_RC(load("u", "id\n1\n2\n", 0), 0);
  CHECK(pthread_create(&th, NULL, heavy_main, NULL) == 0);
  pthread_mutex_lock(&mu);
  while (!heavy_started)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  struct cdr_engine *l = engine_lane_take(E); /* the other lane */
  expect(l, "SELECT count(*) AS n FROM u", "{\"columns\":[\"n\"],\"rows\":[[2]],\"row_count\":1}");
  engine_lane_give(E, l);
  pthread_mutex_lock(&mu);
  CHECK(!heavy_done); /* ours completed while the heavy one still ran */
  pthread_mutex_unlock(&mu);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK(heavy_done && heavy_rc == CDR_ERR_SQL_TIMEOUT);
}

int main(void) {
  CHECK_RC(engine_open(&E), 0);
  test_lanes_see_commits();
  test_parallel();
  engine_close(E);
  return test_summary("engine_lanes");
}
