/*
 * bench_query.c - queries per second with N client threads, through CDR
 * or against the plain baseline server (bench/baseline_server.c).
 *
 *   bench_query --url URL --ca CA --user KEY:CERT [--user KEY:CERT ...]
 *               --threads N --seconds S [--warmup W] --sql SQL [--fresh-connections]
 *   bench_query --plain --url URL --threads N --seconds S [--warmup W] --sql SQL
 *               [--fresh-connections]
 *   bench_query --url URL --ca CA --user KEY:CERT --runs N --sql SQL
 *
 * Secure: each thread has its own client, attests the enclave and opens
 * its own session before the clock starts (thread i uses user i mod the
 * number of --user), then repeats what cdr_client_query does with the
 * client library's halves: seal and sign the request
 * (cdr_request_build), POST /v1/request, open and check the sealed answer
 * (cdr_response_verify), parse the result.  Plain: each thread POSTs
 * {"sql": SQL} to /query and parses the JSON rows.  Both send through
 * bench_http.c (one keep-alive connection per thread, or a new one per
 * request with --fresh-connections), so the HTTP client is the same and
 * the difference is the protocol's crypto and the enclave hop.
 *
 * With --runs (for long queries): one thread, one session, the query run
 * N times one after the other; prints
 *   label=secure_query_runs runs=N best_s=X median_s=X rows=R
 * where each time is from sealing the request to the parsed result, and
 * R is the result's row count.
 *
 * Prints one line (bench_lib.h).  Exit status 0 when the run completed
 * without errors, 1 otherwise.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_http.h"
#include "bench_lib.h"
#include "client/client.h"

#define BENCH_MAX_USERS 64

struct query_args {
  const char *url, *ca, *sql;
  const char *keys[BENCH_MAX_USERS], *certs[BENCH_MAX_USERS];
  unsigned nusers;
  int plain, fresh;
  char *plain_body;   /* {"sql": SQL}, built once */
  char *query_header; /* {"op":"query","sql":SQL}, built once */
};

struct query_state {
  struct cdr_client *c;
  struct cdr_attestation att;
  struct cdr_session *s;
  struct bench_http http;
};

static void worker_fail(struct bench_worker *w, struct cdr_client *c, const char *what, int r) {
  char text[200];
  if (w->error[0] != '\0')
    return;
  if (c != NULL)
    cdr_client_error_text(c, r, text, sizeof(text));
  else
    snprintf(text, sizeof(text), "%s", cdr_err_code(r));
  snprintf(w->error, sizeof(w->error), "%s: %s", what, text);
}

static int query_setup(struct bench_worker *w, void *arg) {
  struct query_args *a = arg;
  struct query_state *st = calloc(1, sizeof(*st));
  unsigned u = a->nusers ? w->index % a->nusers : 0;
  int r;

  if ((w->state = st) == NULL || bench_http_init(&st->http, a->url, a->fresh) != 0) {
    snprintf(w->error, sizeof(w->error), "out of memory");
    return -1;
  }
  if (a->plain)
    return 0;
  if ((r = cdr_client_new(&st->c, a->url)) != 0) {
    worker_fail(w, NULL, "client", r);
    return -1;
  }
  cdr_client_allow_sim(st->c, 1);
  if ((r = cdr_client_set_ca_file(st->c, a->ca)) != 0 || (r = cdr_client_load_user(st->c, a->keys[u], a->certs[u])) != 0 ||
      (r = cdr_client_attest(st->c, &st->att)) != 0 || (r = cdr_session_open(st->c, &st->att, &st->s)) != 0) {
    worker_fail(w, st->c, "connect", r);
    return -1;
  }
  /* From here the thread's own connection carries every request: close
   * the library's, which would otherwise sit idle and count against
   * cdrd's per-address limit (32 threads would hold 64). */
  cdr_client_disconnect(st->c);
  return 0;
}

/* One secure query, as cdr_client_query does it (seal and sign, POST,
 * open and check the answer, parse the result) but over the thread's
 * keep-alive connection.  *result_out (may be NULL) receives the result
 * object.  0 or a cdr_err. */
static int query_secure_try(struct bench_worker *w, struct query_args *a, struct query_state *st, json_t **result_out) {
  struct cdr_buf pt, body, resp;
  struct cdr_pending p;
  json_t *plain = NULL, *result;
  long status = 0;
  int failed = 0, r;

  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  cdr_buf_init(&body, CDR_MAX_HTTP_BODY, 0);
  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  if ((r = cdr_request_plaintext(&pt, a->query_header, NULL, 0)) != 0 ||
      (r = cdr_request_build(st->c, st->s, pt.d, pt.len, &p, &body)) != 0) {
    worker_fail(w, st->c, "build", r);
    goto out;
  }
  cdr_buf_free(&pt);
  if (bench_http_post(&st->http, "/v1/request", body.d, body.len, &status, &resp) != 0) {
    r = CDR_ERR_NETWORK;
    if (w->error[0] == '\0')
      snprintf(w->error, sizeof(w->error), "query: %.200s", st->http.error);
    goto out;
  }
  if ((r = cdr_response_verify(st->c, st->s, &p, status, cdr_buf_ptr(&resp), cdr_buf_avail(&resp), &plain,
                               &failed)) != 0) {
    worker_fail(w, st->c, "query", r);
    goto out;
  }
  result = json_object_get(plain, "result");
  if (failed && json_string_value(json_object_get(plain, "error")) != NULL &&
      strcmp(json_string_value(json_object_get(plain, "error")), "busy") == 0) {
    r = CDR_ERR_BUSY; /* the member's cap (query_secure_once retries) */
    goto out;
  }
  if (failed || !json_is_array(json_object_get(result, "rows"))) {
    r = CDR_ERR_REQUEST_FAILED;
    if (w->error[0] == '\0')
      snprintf(w->error, sizeof(w->error), "query refused: %s: %s",
               json_string_value(json_object_get(plain, "error")) ? json_string_value(json_object_get(plain, "error"))
                                                                  : "no result",
               json_string_value(json_object_get(plain, "message")) ? json_string_value(json_object_get(plain, "message"))
                                                                    : "");
    goto out;
  }
  if (result_out != NULL)
    *result_out = json_incref(result);
  r = 0;
out:
  json_decref(plain);
  cdr_buf_free(&pt);
  cdr_buf_free(&body);
  cdr_buf_free(&resp);
  return r;
}

/* query_secure_try until the enclave takes the query: a member runs at
 * most max(1, workers - 1) queries at once and the enclave refuses one
 * more with `busy` (docs/ARCHITECTURE.md, "Concurrency"); threads of one
 * member try again after a millisecond. */
static int query_secure_once(struct bench_worker *w, struct query_args *a, struct query_state *st, json_t **result_out) {
  int r;
  while ((r = query_secure_try(w, a, st, result_out)) == CDR_ERR_BUSY) {
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  return r;
}

/* One plain query; the answer must be 200 with a JSON object with rows. */
static int query_plain(struct bench_worker *w, struct query_args *a, struct query_state *st) {
  struct cdr_buf resp;
  json_t *res = NULL;
  long status = 0;
  int r = 0;

  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  if (bench_http_post(&st->http, "/query", a->plain_body, strlen(a->plain_body), &status, &resp) != 0) {
    r = -1;
    if (w->error[0] == '\0')
      snprintf(w->error, sizeof(w->error), "query: %.200s", st->http.error);
  } else if (status != 200 || cdr_json_parse_object(&res, cdr_buf_ptr(&resp), cdr_buf_avail(&resp)) != 0 ||
             !json_is_array(json_object_get(res, "rows"))) {
    r = -1;
    if (w->error[0] == '\0')
      snprintf(w->error, sizeof(w->error), "query: HTTP %ld: %.150s", status, (const char *)cdr_buf_ptr(&resp));
  }
  json_decref(res);
  cdr_buf_free(&resp);
  return r;
}

static int query_op(struct bench_worker *w, void *arg) {
  struct query_args *a = arg;
  if (a->plain)
    return query_plain(w, a, w->state);
  return query_secure_once(w, a, w->state, NULL) == 0 ? 0 : -1;
}

static void query_teardown(struct bench_worker *w, void *arg) {
  struct query_state *st = w->state;
  if (st == NULL)
    return;
  cdr_session_free(st->s);
  cdr_attestation_clear(&st->att);
  cdr_client_free(st->c);
  bench_http_free(&st->http);
  free(st);
  w->state = NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The --runs mode: N sequential queries on one session. */
static int query_runs(struct query_args *a, unsigned runs) {
  struct bench_worker w;
  struct query_state *st;
  double *t = calloc(runs, sizeof(*t));
  json_int_t rows = -1;
  int r = 1;

  memset(&w, 0, sizeof(w));
  if (t == NULL || query_setup(&w, a) != 0)
    goto out;
  st = w.state;
  for (unsigned i = 0; i < runs; i++) {
    json_t *res = NULL;
    double t0 = bench_now();
    int qr = query_secure_once(&w, a, st, &res);
    t[i] = bench_now() - t0;
    if (qr == 0 && json_is_integer(json_object_get(res, "row_count")))
      rows = json_integer_value(json_object_get(res, "row_count"));
    json_decref(res);
    if (qr != 0)
      goto out;
  }
  qsort(t, runs, sizeof(*t), cmp_double);
  printf("label=secure_query_runs runs=%u best_s=%.3f median_s=%.3f rows=%lld\n", runs, t[0], t[runs / 2],
         (long long)rows);
  r = 0;
out:
  if (r != 0)
    fprintf(stderr, "bench_query: %s\n", w.error[0] ? w.error : "out of memory");
  query_teardown(&w, a);
  free(t);
  return r;
}

static void usage(void) {
  fprintf(stderr, "usage: bench_query --url URL --ca CA --user KEY:CERT [--user ...] --threads N --seconds S\n"
                  "                   [--warmup W] --sql SQL [--fresh-connections]\n"
                  "       bench_query --plain --url URL --threads N --seconds S [--warmup W] --sql SQL\n"
                  "                   [--fresh-connections]\n"
                  "       bench_query --url URL --ca CA --user KEY:CERT --runs N --sql SQL\n");
  exit(2);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},     {"ca", required_argument, NULL, 'c'},
      {"user", required_argument, NULL, 'U'},    {"threads", required_argument, NULL, 't'},
      {"seconds", required_argument, NULL, 's'}, {"warmup", required_argument, NULL, 'w'},
      {"sql", required_argument, NULL, 'q'},     {"plain", no_argument, NULL, 'p'},
      {"runs", required_argument, NULL, 'r'},    {"fresh-connections", no_argument, NULL, 'f'},
      {NULL, 0, NULL, 0}};
  static const struct bench_ops ops = {query_setup, query_op, query_teardown};
  struct query_args a;
  struct bench_result res;
  unsigned threads = 1, runs = 0;
  double seconds = 5.0, warmup = 1.0;
  char label[64];
  int ch;

  memset(&a, 0, sizeof(a));
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 'u': a.url = optarg; break;
    case 'c': a.ca = optarg; break;
    case 'U': {
      char *colon = strchr(optarg, ':');
      if (colon == NULL || a.nusers == BENCH_MAX_USERS)
        usage();
      *colon = '\0';
      a.keys[a.nusers] = optarg;
      a.certs[a.nusers++] = colon + 1;
      break;
    }
    case 't': threads = bench_arg_uint("--threads", optarg); break;
    case 's': seconds = bench_arg_seconds("--seconds", optarg); break;
    case 'w': warmup = bench_arg_seconds("--warmup", optarg); break;
    case 'q': a.sql = optarg; break;
    case 'p': a.plain = 1; break;
    case 'r': runs = bench_arg_uint("--runs", optarg); break;
    case 'f': a.fresh = 1; break;
    default: usage();
    }
  }
  if (optind != argc || a.url == NULL || a.sql == NULL || seconds <= 0.0 ||
      (!a.plain && (a.ca == NULL || a.nusers == 0)) || (runs > 0 && a.plain))
    usage();
  if (bench_http_global_init() != 0)
    return 1;
  json_t *body = json_pack("{s:s}", "sql", a.sql), *hdr = json_pack("{s:s, s:s}", "op", "query", "sql", a.sql);
  if (body == NULL || hdr == NULL || (a.plain_body = json_dumps(body, JSON_COMPACT)) == NULL ||
      (a.query_header = json_dumps(hdr, JSON_COMPACT)) == NULL) {
    fprintf(stderr, "bench_query: the SQL is not valid UTF-8\n");
    return 2;
  }
  json_decref(body);
  json_decref(hdr);
  if (runs > 0)
    return query_runs(&a, runs);
  snprintf(label, sizeof(label), "%s_query%s", a.plain ? "plain" : "secure", a.fresh ? "_fresh" : "");
  int r = bench_run(threads, warmup, seconds, &ops, &a, &res);
  bench_result_print(label, &res);
  free(a.plain_body);
  free(a.query_header);
  if (r != 0) {
    fprintf(stderr, "bench_query: setup failed: %s\n", res.error);
    return 1;
  }
  return res.errors ? 1 : 0;
}
