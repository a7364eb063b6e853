/*
 * mitm.c - a tampering HTTP proxy for tests: the "host or network" that
 * the client must not believe.
 *
 *   mitm UPSTREAM_URL MODE READY_FILE
 *
 * Listens on an ephemeral loopback port (written to READY_FILE as a URL),
 * forwards every request to UPSTREAM_URL with libcurl (an https upstream
 * verified against $CURL_CA_BUNDLE, as lib.sh sets it), and for answers to
 * POST /v1/request applies MODE:
 *   flip     flip one bit of the response ciphertext (kept valid base64)
 *   replay   answer with the previous /v1/request response instead
 *   status   turn "status":"ok" into "failed" and 200 into 422
 *   attest   (answers to POST /v1/attest instead) flip one bit of the
 *            evidence, inside the signed bytes (kept valid base64)
 *   none     forward unchanged
 * and one mode for POST /v1/attest answers:
 *   contract name another contract hash than the enclave's (flip one
 *            hex digit; version 0 becomes version 1 with a made-up hash)
 * Everything else passes through unchanged.  Stops on SIGTERM.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *upstream, *mode;
static char *last_response; /* previous /v1/request answer body (replay) */
static long last_status;

struct body {
  char *d;
  size_t n;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud) {
  struct body *b = ud;
  size_t k = sz * nm;
  char *nd = realloc(b->d, b->n + k + 1);
  if (nd == NULL)
    return 0;
  b->d = nd;
  memcpy(b->d + b->n, p, k);
  b->n += k;
  b->d[b->n] = '\0';
  return k;
}

static char *tamper(const char *in, long *status) {
  json_t *o = json_loads(in, 0, NULL);
  if (o == NULL)
    return strdup(in);
  if (strcmp(mode, "flip") == 0) {
    const char *ct = json_string_value(json_object_get(o, "ciphertext"));
    if (ct != NULL && strlen(ct) > 8) {
      char *c = strdup(ct);
      c[4] = c[4] == 'A' ? 'B' : 'A';
      json_object_set_new(o, "ciphertext", json_string(c));
      free(c);
    }
  } else if (strcmp(mode, "status") == 0) {
    json_object_set_new(o, "status", json_string("failed"));
    json_object_set_new(o, "error", json_string("request_failed"));
    json_object_set_new(o, "message", json_string("forged by the proxy"));
    *status = 422;
  }
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **ctx) {
  struct body *req = *ctx;
  if (req == NULL) {
    *ctx = calloc(1, sizeof(struct body));
    return MHD_YES;
  }
  if (*upload_size > 0) {
    on_data((char *)upload, 1, *upload_size, req);
    *upload_size = 0;
    return MHD_YES;
  }
  char target[1024];
  snprintf(target, sizeof(target), "%s%s", upstream, url);
  struct body resp = {0};
  long status = 502;
  CURL *c = curl_easy_init();
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, target);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (getenv("CURL_CA_BUNDLE") != NULL) /* an https upstream: lib.sh's bundle of room CAs */
    curl_easy_setopt(c, CURLOPT_CAINFO, getenv("CURL_CA_BUNDLE"));
  if (strcmp(method, "POST") == 0) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->d ? req->d : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)req->n);
  }
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  char *out = resp.d ? resp.d : strdup("");
  if (strcmp(url, "/v1/attest") == 0 && strcmp(mode, "attest") == 0) {
    json_t *o = json_loads(out, 0, NULL);
    const char *ev = o ? json_string_value(json_object_get(o, "evidence")) : NULL;
    if (ev != NULL && strlen(ev) > 64) {
      char *e = strdup(ev);
      e[60] = e[60] == 'A' ? 'B' : 'A'; /* byte 45: the report_data */
      json_object_set_new(o, "evidence", json_string(e));
      free(e);
      free(out);
      out = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
  }
  if (strcmp(url, "/v1/attest") == 0 && strcmp(mode, "contract") == 0) {
    json_t *o = json_loads(out, 0, NULL);
    const char *hash = json_string_value(json_object_get(o, "contract_sha256"));
    if (hash != NULL && strlen(hash) == 64) {
      char *fake = strdup(hash);
      if (json_integer_value(json_object_get(o, "contract_version")) == 0) {
        memset(fake, '1', 64);
        json_object_set_new(o, "contract_version", json_integer(1));
      } else {
        fake[0] = fake[0] == 'a' ? 'b' : 'a';
      }
      json_object_set_new(o, "contract_sha256", json_string(fake));
      free(fake);
      free(out);
      out = json_dumps(o, JSON_COMPACT);
    }
    json_decref(o);
  }
  if (strcmp(url, "/v1/request") == 0 && strcmp(mode, "none") != 0) {
    if (strcmp(mode, "replay") == 0) {
      char *prev = last_response;
      long prev_status = last_status;
      last_response = strdup(out);
      last_status = status;
      if (prev != NULL) {
        free(out);
        out = prev;
        status = prev_status;
      }
    } else {
      char *t = tamper(out, &status);
      free(out);
      out = t;
    }
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(strlen(out), out, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  free(req->d);
  free(req);
  *ctx = NULL;
  return ret;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: mitm UPSTREAM_URL none|flip|replay|status|attest|contract READY_FILE\n");
    return 2;
  }
  upstream = argv[1];
  mode = argv[2];
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                                          NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
  if (d == NULL)
    return 1;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  FILE *f = fopen(argv[3], "w");
  fprintf(f, "http://127.0.0.1:%u\n", (unsigned)info->port);
  fclose(f);
  sigset_t set;
  int sig;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  return 0;
}
