/*
 * bench_session.c - session setups per second (PROTOCOL 4.6) for one
 * kind of user key.
 *
 *   bench_session --url URL --ca CA --user KEY:CERT --threads N --seconds S [--warmup W]
 *                 [--label NAME] [--fresh-connections]
 *
 * Each thread has its own client and attests the enclave once, before
 * the clock starts; then it repeats what cdr_session_open does, with the
 * client library's halves over the thread's keep-alive connection
 * (bench_http.h): cdr_session_open_build makes a fresh key share
 * and nonce, U's signature over T_req, POST /v1/session (the enclave
 * checks the certificate, revocation and signature, makes E, derives the
 * keys, seals the parameters to U and signs T_resp with I), and the
 * client's checks of the answer (I's signature, opening the sealed
 * parameters with U, the session keys: cdr_session_open_finish).  The
 * session is freed at once;
 * the enclave keeps at most 32 per certificate and ends the oldest, so
 * the session table does not grow.
 *
 * Prints one line (bench_lib.h); exit status 0 without errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_http.h"
#include "bench_lib.h"
#include "client/client.h"

struct session_args {
  const char *url, *ca, *key, *cert;
  int fresh;
};

struct session_state {
  struct cdr_client *c;
  struct cdr_attestation att;
  struct bench_http http;
};

static void worker_fail(struct bench_worker *w, struct cdr_client *c, const char *what, int r) {
  char text[200];
  if (w->error[0] != '\0')
    return;
  cdr_client_error_text(c, r, text, sizeof(text));
  snprintf(w->error, sizeof(w->error), "%s: %s", what, text);
}

static int session_setup(struct bench_worker *w, void *arg) {
  struct session_args *a = arg;
  struct session_state *st = calloc(1, sizeof(*st));
  int r;

  if ((w->state = st) == NULL || cdr_client_new(&st->c, a->url) != 0 ||
      bench_http_init(&st->http, a->url, a->fresh) != 0) {
    snprintf(w->error, sizeof(w->error), "out of memory");
    return -1;
  }
  cdr_client_allow_sim(st->c, 1);
  if ((r = cdr_client_set_ca_file(st->c, a->ca)) != 0 || (r = cdr_client_load_user(st->c, a->key, a->cert)) != 0 ||
      (r = cdr_client_attest(st->c, &st->att)) != 0) {
    worker_fail(w, st->c, "connect", r);
    return -1;
  }
  cdr_client_disconnect(st->c); /* the thread's own connection carries the opens */
  return 0;
}

static int session_op(struct bench_worker *w, void *arg) {
  struct session_state *st = w->state;
  struct cdr_open_pending p;
  struct cdr_session *s = NULL;
  struct cdr_buf resp;
  json_t *answer = NULL;
  char *body = NULL;
  long status = 0;
  int r;

  memset(&p, 0, sizeof(p));
  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  if ((r = cdr_session_open_build(st->c, 0, &p, &body)) != 0)
    goto out;
  if (bench_http_post(&st->http, "/v1/session", body, strlen(body), &status, &resp) != 0) {
    if (w->error[0] == '\0')
      snprintf(w->error, sizeof(w->error), "session open: %.200s", st->http.error);
    r = CDR_ERR_NETWORK;
    goto out;
  }
  if (status != 200) {
    r = cdr_http_error(st->c, status, cdr_buf_ptr(&resp), cdr_buf_avail(&resp));
    goto out;
  }
  if ((r = cdr_json_parse_object(&answer, cdr_buf_ptr(&resp), cdr_buf_avail(&resp))) != 0)
    goto out;
  r = cdr_session_open_finish(st->c, st->att.identity, &p, answer, &s);
out:
  if (r != 0)
    worker_fail(w, st->c, "session open", r);
  cdr_session_free(s);
  cdr_open_pending_clear(&p);
  json_decref(answer);
  free(body);
  cdr_buf_free(&resp);
  return r ? -1 : 0;
}

static void session_teardown(struct bench_worker *w, void *arg) {
  struct session_state *st = w->state;
  if (st == NULL)
    return;
  cdr_attestation_clear(&st->att);
  cdr_client_free(st->c);
  bench_http_free(&st->http);
  free(st);
  w->state = NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: bench_session --url URL --ca CA --user KEY:CERT --threads N --seconds S [--warmup W]\n"
                  "                     [--label NAME] [--fresh-connections]\n");
  exit(2);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},     {"ca", required_argument, NULL, 'c'},
      {"user", required_argument, NULL, 'U'},    {"threads", required_argument, NULL, 't'},
      {"seconds", required_argument, NULL, 's'}, {"warmup", required_argument, NULL, 'w'},
      {"label", required_argument, NULL, 'l'},   {"fresh-connections", no_argument, NULL, 'f'},
      {NULL, 0, NULL, 0}};
  static const struct bench_ops ops = {session_setup, session_op, session_teardown};
  struct session_args a;
  struct bench_result res;
  unsigned threads = 1;
  double seconds = 5.0, warmup = 1.0;
  const char *label = "session_open";
  int ch;

  memset(&a, 0, sizeof(a));
  while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (ch) {
    case 'u': a.url = optarg; break;
    case 'c': a.ca = optarg; break;
    case 'U': {
      char *colon = strchr(optarg, ':');
      if (colon == NULL)
        usage();
      *colon = '\0';
      a.key = optarg;
      a.cert = colon + 1;
      break;
    }
    case 't': threads = bench_arg_uint("--threads", optarg); break;
    case 's': seconds = bench_arg_seconds("--seconds", optarg); break;
    case 'w': warmup = bench_arg_seconds("--warmup", optarg); break;
    case 'l': label = optarg; break;
    case 'f': a.fresh = 1; break;
    default: usage();
    }
  }
  if (optind != argc || a.url == NULL || a.ca == NULL || a.key == NULL || seconds <= 0.0)
    usage();
  if (bench_http_global_init() != 0)
    return 1;
  int r = bench_run(threads, warmup, seconds, &ops, &a, &res);
  bench_result_print(label, &res);
  if (r != 0) {
    fprintf(stderr, "bench_session: setup failed: %s\n", res.error);
    return 1;
  }
  return res.errors ? 1 : 0;
}
