/*
 * test_metrics.c - src/host/metrics.c and progress.c without a server:
 * the counters by route and status (the fixed status list, "other",
 * "unmatched"), the cumulative histogram, sessions that expire, the
 * audit record walk over a crafted ROOM/state/audit.sealed (a record
 * still being appended is not counted; a shorter file is walked again),
 * the load gauges, and the health/ready JSON of each phase.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "host/metrics.h"
#include "host/progress.h"
#include "testlib.h"

static int noop(void *ctx, const struct http_request *rq, struct http_reply *rep) { return 0; }
static const struct http_route routes[] = {{"GET", "/v1/health", noop}, {"POST", "/v1/request", noop}};

/* The sample of series `s` (name{labels}) in text, or -1. */
static double sample(const char *text, const char *s) {
  size_t n = strlen(s);
  for (const char *p = text; p != NULL && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    if (strncmp(p, s, n) == 0 && p[n] == ' ')
      return strtod(p + n + 1, NULL);
  return -1;
}

static char *render(struct host_metrics *m) {
  char *text = NULL;
  size_t len = 0;
  CHECK_RC(host_metrics_render(m, &text, &len), 0);
  CHECK(text != NULL && strlen(text) == len);
  return text;
}

static void write_audit(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL && fwrite(data, 1, len, f) == len);
  if (f != NULL)
    fclose(f);
}

static void test_counters(struct host_metrics *m) {
  host_metrics_observe(m, 0, 200, 500);       /* 0.5 ms */
  host_metrics_observe(m, 0, 200, 70000);     /* 70 ms */
  host_metrics_observe(m, 1, 422, 2000000);   /* 2 s */
  host_metrics_observe(m, 1, 299, 10);        /* not in the list */
  host_metrics_observe(m, -1, 404, 10);
  host_metrics_observe(m, 99, 404, 10);       /* out of range: unmatched */
  char *t = render(m);
  CHECK(sample(t, "cdr_http_requests_total{route=\"GET /v1/health\",status=\"200\"}") == 2);
  CHECK(sample(t, "cdr_http_requests_total{route=\"POST /v1/request\",status=\"422\"}") == 1);
  CHECK(sample(t, "cdr_http_requests_total{route=\"POST /v1/request\",status=\"other\"}") == 1);
  CHECK(sample(t, "cdr_http_requests_total{route=\"unmatched\",status=\"404\"}") == 2);
  CHECK(sample(t, "cdr_http_request_duration_seconds_bucket{route=\"GET /v1/health\",le=\"0.001\"}") == 1);
  CHECK(sample(t, "cdr_http_request_duration_seconds_bucket{route=\"GET /v1/health\",le=\"0.05\"}") == 1);
  CHECK(sample(t, "cdr_http_request_duration_seconds_bucket{route=\"GET /v1/health\",le=\"0.1\"}") == 2);
  CHECK(sample(t, "cdr_http_request_duration_seconds_bucket{route=\"POST /v1/request\",le=\"1\"}") == 1);
  CHECK(sample(t, "cdr_http_request_duration_seconds_bucket{route=\"POST /v1/request\",le=\"+Inf\"}") == 2);
  CHECK(sample(t, "cdr_http_request_duration_seconds_count{route=\"GET /v1/health\"}") == 2);
  CHECK(sample(t, "cdr_http_requests_in_flight") == 0);
  CHECK(sample(t, "cdr_enclave_calls_queued") == 0); /* no link yet */
  CHECK(strstr(t, "# TYPE cdr_http_request_duration_seconds histogram") != NULL);
  free(t);
}

static void test_sessions(struct host_metrics *m) {
  uint64_t now = (uint64_t)time(NULL);
  host_metrics_session_opened(m, now + 3600);
  host_metrics_session_opened(m, now + 60);
  host_metrics_session_opened(m, now - 1); /* already expired */
  char *t = render(m);
  CHECK(sample(t, "cdr_sessions_opened_total") == 3);
  CHECK(sample(t, "cdr_sessions_open") == 2);
  free(t);
}

static void test_audit(struct host_metrics *m, const char *state) {
  char *path = cdr_path_join(state, "audit.sealed");
  /* Two records (3 and 0 bytes) and the header of a third still coming. */
  static const uint8_t two[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 0, 0, 0, 9, 'x'};
  static const uint8_t one[] = {0, 0, 0, 1, 'z'};
  write_audit(path, two, sizeof(two));
  char *t = render(m);
  CHECK(sample(t, "cdr_audit_records") == 2);
  CHECK(sample(t, "cdr_sealed_bytes") == (double)sizeof(two));
  free(t);
  write_audit(path, one, sizeof(one)); /* shorter: walked again */
  t = render(m);
  CHECK(sample(t, "cdr_audit_records") == 1);
  free(t);
  free(path);
}

static void test_progress(struct host_progress *p, struct host_metrics *m) {
  json_t *j = host_progress_json(p);
  CHECK(j != NULL && strcmp(json_string_value(json_object_get(j, "phase")), "starting") == 0);
  CHECK(json_object_get(j, "progress") == NULL); /* totals not known yet */
  CHECK(json_is_false(json_object_get(j, "ready")));
  json_decref(j);
  atomic_store(&p->tables_total, 3);
  atomic_store(&p->bytes_total, 3000);
  atomic_store(&p->tables_loaded, 1);
  atomic_store(&p->bytes_loaded, 1000);
  atomic_store(&p->totals_known, 1);
  host_progress_set_phase(p, HOST_PHASE_LOADING);
  j = host_progress_json(p);
  CHECK(strcmp(json_string_value(json_object_get(j, "status")), "loading") == 0);
  CHECK(json_integer_value(json_object_get(json_object_get(j, "progress"), "tables_total")) == 3);
  CHECK(json_integer_value(json_object_get(json_object_get(j, "progress"), "bytes_loaded")) == 1000);
  json_decref(j);
  char *t = render(m);
  CHECK(sample(t, "cdr_ready") == 0);
  CHECK(sample(t, "cdr_load_tables_loaded") == 1);
  CHECK(sample(t, "cdr_load_tables_on_disk") == 3);
  CHECK(sample(t, "cdr_load_bytes_on_disk") == 3000);
  CHECK(sample(t, "cdr_enclave_resident_memory_bytes") == -1); /* no enclave pid */
  free(t);
  host_progress_set_phase(p, HOST_PHASE_READY);
  host_metrics_set_enclave_pid(m, getpid());
  j = host_progress_json(p);
  CHECK(strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0 && json_is_true(json_object_get(j, "ready")));
  json_decref(j);
  t = render(m);
  CHECK(sample(t, "cdr_ready") == 1);
  CHECK(sample(t, "cdr_enclave_resident_memory_bytes") > 0);
  free(t);
  host_progress_set_phase(p, HOST_PHASE_FAILED);
  j = host_progress_json(p);
  CHECK(strcmp(json_string_value(json_object_get(j, "status")), "failed") == 0);
  json_decref(j);
}

int main(void) {
  char room[] = "/tmp/cdr-metrics.XXXXXX";
  struct host_progress progress;
  struct host_metrics *m = NULL;

  CHECK(mkdtemp(room) != NULL);
  char *state = cdr_path_join(room, "state"), *tables = cdr_path_join(state, "tables");
  CHECK(mkdir(state, 0700) == 0 && mkdir(tables, 0700) == 0);
  host_progress_init(&progress);
  CHECK_RC(host_metrics_new(&m, routes, 2, room, &progress), 0);
  if (m != NULL) {
    test_counters(m);
    test_sessions(m);
    test_audit(m, state);
    test_progress(&progress, m);
    host_metrics_free(m);
  }
  char *audit = cdr_path_join(state, "audit.sealed");
  unlink(audit);
  rmdir(tables);
  rmdir(state);
  rmdir(room);
  free(audit);
  free(tables);
  free(state);
  return test_summary("test_metrics");
}
