/*
 * http.c - cdrd's HTTP server on libmicrohttpd; see http.h.
 *
 * Threading: MHD runs a pool of worker threads, each with its own epoll
 * loop; the access handler and the route handlers run on those threads.
 * Handlers may block (an enclave call waits for the enclave's mutex), so
 * the pool size bounds how many requests are in the enclave's queue.  A
 * reaper thread of ours enforces the deadlines (http_limits.c, which
 * also counts, refuses and evicts connections: "Life of a connection").
 *
 * Life of a request (MHD calls on_access several times per request):
 *   1st call   allocate the per-request state, find the route, answer
 *              404/405 at once, refuse a declared Content-Length over
 *              the cap with 413, or one that would pass the budget of
 *              bodies in flight with 503, before a byte of body is read.
 *   next calls append the body.  Past the cap (chunked bodies have no
 *              Content-Length) or past the budget, the buffer is freed,
 *              the answer (413 or 503) is written on the socket at once
 *              (MHD only lets us queue one once the upload ends) with
 *              Connection: close and a FIN after it, and the rest is
 *              discarded up to HTTP_DISCARD_MAX, then the connection is
 *              cut.
 *   last call  (upload_data_size 0) call the handler and queue its answer.
 *   completed  log one line and free the state.
 *
 * Memory: a body is held in one buffer, sized from Content-Length when
 * there is one (its pages are touched only as data arrives), else grown
 * by doubling (realloc; large blocks move by remapping, not copying);
 * both capped at max_body.  The bytes received into body buffers of all
 * requests together are capped at CDR_HTTP_BODY_BUDGET bodies' worth, so
 * that 256 slow clients cannot make the host hold 256 full bodies; they
 * are charged as they arrive, so that a declared length holds nothing.
 * The host holds no plaintext: bodies are freed without wiping.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "http_int.h"

#define HTTP_THREADS_DEFAULT 4u
/* MHD's own connection limits, a backstop above ours (its total is split
 * between the pool's threads, hence the slack). */
#define HTTP_MHD_CONNECTION_LIMIT (2u * CDR_HTTP_MAX_CONNECTIONS)
#define HTTP_MHD_PER_IP_LIMIT (CDR_HTTP_MAX_CONNECTIONS_PER_IP + 16u)
/* Per-connection read buffer: upload data arrives in pieces this big,
 * and request headers must fit in it (MHD answers 431 otherwise). */
#define HTTP_CONNECTION_MEMORY (128u * CDR_KiB)
/* Body bytes read and dropped after a refusal before the connection is
 * cut (a client may stream a chunked body without end). */
#define HTTP_DISCARD_MAX (16u * CDR_MiB)
/* Longest path and method kept for the log line. */
#define HTTP_LOG_PATH_MAX 96
#define HTTP_LOG_METHOD_MAX 12

/* Per-request state, MHD's *con_cls. */
struct http_conn {
  struct http_server *srv;
  struct http_link *link; /* NULL if the connection is not tracked */
  struct timespec t0;
  char method[HTTP_LOG_METHOD_MAX + 4]; /* + "..." + NUL */
  char path[HTTP_LOG_PATH_MAX + 4];
  const struct http_route *route;
  uint8_t *body; /* plain malloc: ciphertext and public data only */
  size_t body_len, body_cap;
  size_t charged;  /* this request's share of srv->body_charged */
  size_t bytes_in; /* body bytes received, kept or not */
  size_t rejected_at; /* bytes_in when the body was refused */
  int reject;      /* cdr_err to answer when the upload ends, or 0 */
  int answered;
  int status;
  size_t bytes_out;
  const char *content_type; /* the handler's, or NULL: JSON */
  const char *const *headers; /* the handler's extra headers, or NULL */
  unsigned retry_after;     /* seconds, or 0: no Retry-After */
};

int http_reply_fail(struct http_reply *rep, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rep->message, sizeof(rep->message), fmt, ap);
  va_end(ap);
  return err;
}

/* Copy s for the log: printable ASCII only, at most max characters then
 * "..." (out holds max + 4 bytes). */
static void http_log_copy(char *out, size_t max, const char *s) {
  size_t i = 0;
  for (; s != NULL && s[i] != '\0' && i < max; i++)
    out[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (s != NULL && s[i] != '\0') {
    memcpy(out + i, "...", 3);
    i += 3;
  }
  out[i] = '\0';
}

static void http_body_release(struct http_conn *c) {
  free(c->body);
  c->body = NULL;
  c->body_len = c->body_cap = 0;
  atomic_fetch_sub(&c->srv->body_charged, c->charged);
  c->charged = 0;
}

void http_release_body(struct http_reply *rep) {
  if (rep != NULL && rep->server_ != NULL)
    http_body_release(rep->server_);
}

/* Set the phase of c's connection (under the lock the reaper reads it with). */
static void http_link_phase(struct http_conn *c, enum http_phase phase) {
  if (c->link == NULL)
    return;
  pthread_mutex_lock(&c->srv->lock);
  c->link->phase = phase;
  c->link->since_ms = http_now_ms();
  c->link->body_bytes = 0;
  pthread_mutex_unlock(&c->srv->lock);
}

/* ---- answers ---- */

/* Queue text (len bytes) with this status.  must_free: text is malloc'd
 * and now MHD's.  allow: an Allow header or NULL.  close: ask MHD to close
 * the connection after the answer. */
static enum MHD_Result http_answer_text(struct http_conn *c, struct MHD_Connection *conn, int status, char *text,
                                        size_t len, int must_free, const char *allow, int close) {
  struct MHD_Response *resp;
  enum MHD_Result ret;

  resp = MHD_create_response_from_buffer(len, text, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (resp == NULL) {
    if (must_free)
      free(text);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                c->content_type != NULL ? c->content_type : "application/json");
  if (c->retry_after > 0) {
    char ra[16];
    snprintf(ra, sizeof(ra), "%u", c->retry_after);
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, ra);
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  for (size_t i = 0; c->headers != NULL && c->headers[i] != NULL && c->headers[i + 1] != NULL; i += 2)
    (void)MHD_add_response_header(resp, c->headers[i], c->headers[i + 1]);
  if (allow != NULL)
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  if (close)
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  ret = MHD_queue_response(conn, (unsigned int)status, resp);
  MHD_destroy_response(resp);
  c->answered = 1;
  c->status = status;
  c->bytes_out = len;
  http_link_phase(c, HTTP_PHASE_ANSWER);
  return ret;
}

/* Queue body (consumed) with this status. */
static enum MHD_Result http_answer_json(struct http_conn *c, struct MHD_Connection *conn, int status, json_t *body,
                                        const char *allow, int close) {
  static const char fallback[] = "{\"error\":\"internal\",\"message\":\"the answer could not be rendered\"}";
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

  json_decref(body);
  if (text == NULL)
    return http_answer_text(c, conn, 500, (char *)(uintptr_t)fallback, sizeof(fallback) - 1, 0, allow, close);
  return http_answer_text(c, conn, status, text, strlen(text), 1, allow, close);
}

/* The API promises a fixed list of error codes (docs/PROTOCOL.md 4.1).
 * Codes outside it (io_error, crypto_error, the client-side and sealed
 * content codes) answer as internal; running out of memory as busy. */
static int http_api_error(int err) {
  switch (err) {
  case CDR_ERR_ARG: case CDR_ERR_TRUNCATED: case CDR_ERR_BAD_JSON: case CDR_ERR_TOO_LARGE:
  case CDR_ERR_NOT_FOUND: case CDR_ERR_METHOD: case CDR_ERR_UNSUPPORTED_VERSION:
  case CDR_ERR_TOKEN_UNKNOWN: case CDR_ERR_TOKEN_INVALID: case CDR_ERR_TOKEN_USED: case CDR_ERR_TOKEN_EXPIRED:
  case CDR_ERR_CSR_INVALID: case CDR_ERR_CSR_BAD_SIGNATURE: case CDR_ERR_CSR_SUBJECT: case CDR_ERR_KEY_UNSUPPORTED:
  case CDR_ERR_HSM: case CDR_ERR_CERT_INVALID: case CDR_ERR_CERT_UNTRUSTED: case CDR_ERR_CERT_EXPIRED:
  case CDR_ERR_CERT_NOT_YET_VALID: case CDR_ERR_CERT_USAGE: case CDR_ERR_CERT_NO_ROLE:
  case CDR_ERR_CERT_KEY_MISMATCH: case CDR_ERR_BAD_SIGNATURE: case CDR_ERR_CLOCK_SKEW:
  case CDR_ERR_CERT_REVOKED: case CDR_ERR_CRL_STALE: case CDR_ERR_NOT_A_MEMBER:
  case CDR_ERR_SESSION_UNKNOWN: case CDR_ERR_SESSION_EXPIRED: case CDR_ERR_SESSION_LIMIT: case CDR_ERR_REPLAY:
  case CDR_ERR_OUT_OF_ORDER: case CDR_ERR_DECRYPT: case CDR_ERR_REQUEST_FAILED: case CDR_ERR_INTERNAL:
  case CDR_ERR_BUSY: case CDR_ERR_REQUEST_TIMEOUT: case CDR_ERR_ROOM_LOADING:
  case CDR_ERR_HISTORY_ROLLBACK: case CDR_ERR_WITNESS_UNAVAILABLE: /* witness_start.h */
    return err;
  case CDR_ERR_NOMEM:
    return CDR_ERR_BUSY;
  default:
    return CDR_ERR_INTERNAL;
  }
}

/* http_api_error, plus the server's own codes (opts->api_errors: the
 * witness's, PROTOCOL 9), which pass as they are. */
static int http_server_error(const struct http_server *srv, int err) {
  for (size_t i = 0; i < srv->n_api_errors; i++)
    if (srv->api_errors[i] == err)
      return srv->api_errors[i];
  return http_api_error(err);
}

/* The error body {"error": code, "message": text}; status 0 = the code's. */
static enum MHD_Result http_answer_error(struct http_conn *c, struct MHD_Connection *conn, int err, int status,
                                         const char *message, const char *allow, int close) {
  int api = http_server_error(c->srv, err);
  if (api != err) {
    if (status == 0)
      status = cdr_err_http_status(api);
    message = cdr_err_describe(api);
    err = api;
  }
  if (message == NULL || message[0] == '\0')
    message = cdr_err_describe(err);
  json_t *body = json_pack("{s:s, s:s}", "error", cdr_err_code(err), "message", message);
  if (body == NULL) /* message was not valid UTF-8 */
    body = json_pack("{s:s, s:s}", "error", cdr_err_code(err), "message", cdr_err_describe(err));
  return http_answer_json(c, conn, status ? status : cdr_err_http_status(err), body, allow, close);
}

static enum MHD_Result http_dispatch(struct http_conn *c, struct MHD_Connection *conn, const char *method,
                                     const char *url) {
  struct http_reply rep;
  struct http_request rq;
  static const uint8_t empty[1] = {0};
  int r;

  memset(&rep, 0, sizeof(rep));
  rep.server_ = c;
  if (c->body != NULL)
    c->body[c->body_len] = '\0'; /* the buffer always has room for it */
  rq.method = method;
  rq.path = url;
  rq.body = c->body != NULL ? c->body : empty;
  rq.body_len = c->body_len;
  http_link_phase(c, HTTP_PHASE_ANSWER);
  r = c->route->handler(c->route == &c->srv->fallback ? c->srv->fallback_ctx : c->srv->ctx, &rq, &rep);
  http_body_release(c);
  c->retry_after = rep.retry_after;
  if (r == 0) {
    c->content_type = rep.content_type;
    c->headers = rep.headers;
  }
  if (r == 0 && rep.text != NULL) {
    json_decref(rep.body);
    return http_answer_text(c, conn, rep.status ? rep.status : 200, rep.text, rep.text_len, 1, NULL, 0);
  }
  if (r == 0 && rep.body != NULL)
    return http_answer_json(c, conn, rep.status ? rep.status : 200, rep.body, NULL, 0);
  json_decref(rep.body);
  free(rep.text);
  if (r == 0)
    r = CDR_ERR_INTERNAL;
  return http_answer_error(c, conn, r, rep.status, rep.message, NULL, 0);
}

/* ---- body accumulation ---- */

/* Room for `need` body bytes plus the NUL that handlers get after the
 * body: 0, CDR_ERR_TOO_LARGE past max_body, CDR_ERR_BUSY out of memory.
 * hint: the declared Content-Length, or 0. */
static int http_body_reserve(struct http_conn *c, size_t need, size_t hint) {
  size_t cap, max = c->srv->max_body;
  uint8_t *nb;

  if (need > max)
    return CDR_ERR_TOO_LARGE;
  if (need < c->body_cap)
    return 0;
  cap = hint >= need ? hint : (c->body_cap > 0 ? c->body_cap * 2 : 16 * CDR_KiB);
  if (cap < need)
    cap = need;
  if (cap > max)
    cap = max;
  if ((nb = realloc(c->body, cap + 1)) == NULL)
    return CDR_ERR_BUSY;
  c->body = nb;
  c->body_cap = cap + 1;
  return 0;
}

/* Charge n more received bytes to the budget: 0, or CDR_ERR_BUSY past it. */
static int http_body_charge(struct http_conn *c, size_t n) {
  struct http_server *srv = c->srv;
  size_t total = atomic_fetch_add(&srv->body_charged, n) + n;

  c->charged += n;
  if (total <= srv->body_budget)
    return 0;
  log_warn("request bodies in flight exceed %zu bytes; refusing one", srv->body_budget);
  return CDR_ERR_BUSY;
}

static const char *http_reject_message(int err) {
  return err == CDR_ERR_TOO_LARGE ? "request body larger than the limit" : "the server is busy; retry later";
}

/* Append n bytes; on a refusal drop the body and answer at once (an
 * untracked connection: when the upload ends).  MHD_NO cuts the
 * connection: a refused body went on past HTTP_DISCARD_MAX. */
static enum MHD_Result http_body_append(struct http_conn *c, const char *data, size_t n) {
  int r;

  c->bytes_in += n;
  if (c->link != NULL) {
    pthread_mutex_lock(&c->srv->lock);
    c->link->body_bytes += n;
    pthread_mutex_unlock(&c->srv->lock);
  }
  if (c->reject != 0) {
    if (c->bytes_in - c->rejected_at <= HTTP_DISCARD_MAX)
      return MHD_YES; /* discarding the rest of a refused body */
    log_info("%s %s: cutting a refused body after %zu more bytes", c->method, c->path, c->bytes_in - c->rejected_at);
    return MHD_NO;
  }
  if (n > c->srv->max_body || c->body_len > c->srv->max_body - n)
    r = CDR_ERR_TOO_LARGE;
  else if ((r = http_body_charge(c, n)) == 0)
    r = http_body_reserve(c, c->body_len + n, 0);
  if (r != 0) {
    c->reject = r;
    c->rejected_at = c->bytes_in;
    http_body_release(c);
    /* Under TLS the answer waits for the end of the upload (MHD queues
     * it then, encrypted); the discard cap still bounds the wait. */
    if (c->link != NULL && !c->srv->tls) {
      pthread_mutex_lock(&c->srv->lock);
      http_link_answer(c->srv, c->link, cdr_err_http_status(r), r, http_reject_message(r), 0);
      pthread_mutex_unlock(&c->srv->lock);
      c->answered = 1;
      c->status = cdr_err_http_status(r);
    }
    return MHD_YES;
  }
  memcpy(c->body + c->body_len, data, n);
  c->body_len += n;
  return MHD_YES;
}

/* Content-Length, if present, into *n (0 if absent): 0 ok,
 * CDR_ERR_TOO_LARGE over the cap, CDR_ERR_ARG if it is not a decimal
 * number. */
static int http_content_length(struct MHD_Connection *conn, size_t max, size_t *n) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  uint64_t x = 0;

  *n = 0;
  if (v == NULL)
    return 0;
  if (*v == '\0')
    return CDR_ERR_ARG;
  for (; *v; v++) {
    if (*v < '0' || *v > '9')
      return CDR_ERR_ARG;
    if (x > (UINT64_MAX - 9) / 10)
      return CDR_ERR_TOO_LARGE;
    x = x * 10 + (uint64_t)(*v - '0');
  }
  if (x > max)
    return CDR_ERR_TOO_LARGE;
  *n = (size_t)x;
  return 0;
}

/* ---- MHD callbacks ---- */

static enum MHD_Result http_first_call(struct http_conn *c, struct MHD_Connection *conn, const char *method,
                                       const char *url) {
  struct http_server *srv = c->srv;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  enum http_refusal refused = HTTP_ADMITTED;
  char allow[64] = "";
  size_t used = 0, declared = 0;
  int path_known = 0, cut = 0, r;

  c->link = ci != NULL ? ci->socket_context : NULL;
  if (c->link != NULL) {
    pthread_mutex_lock(&srv->lock);
    c->link->phase = HTTP_PHASE_BODY;
    c->link->since_ms = http_now_ms();
    c->link->body_bytes = 0;
    refused = c->link->refused;
    cut = c->link->cut;
    pthread_mutex_unlock(&srv->lock);
  }
  if (cut)
    return MHD_NO; /* answered by the reaper, or closed to make room */
  if (refused != HTTP_ADMITTED)
    return http_answer_error(c, conn, CDR_ERR_BUSY, 0, http_refusal_message(refused), NULL, 1);
  for (size_t i = 0; i < srv->nroutes; i++) {
    if (strcmp(srv->routes[i].path, url) != 0)
      continue;
    path_known = 1;
    if (strcmp(srv->routes[i].method, method) == 0) {
      c->route = &srv->routes[i];
      break;
    }
    int k = snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "", srv->routes[i].method);
    if (k > 0 && (size_t)k < sizeof(allow) - used)
      used += (size_t)k;
  }
  if (!path_known && srv->fallback.handler != NULL && strcmp(method, "GET") == 0)
    c->route = &srv->fallback;
  else if (!path_known)
    return http_answer_error(c, conn, CDR_ERR_NOT_FOUND, 0, "no such route", NULL, 0);
  if (c->route == NULL)
    return http_answer_error(c, conn, CDR_ERR_METHOD, 0, "method not allowed on this route", allow, 0);
  if ((r = http_content_length(conn, srv->max_body, &declared)) != 0)
    return http_answer_error(c, conn, r, 0,
                             r == CDR_ERR_TOO_LARGE ? "request body larger than the limit" : "invalid Content-Length",
                             NULL, 1);
  /* A body that cannot fit the budget now is refused before it is sent. */
  if (declared > 0 && (atomic_load(&srv->body_charged) + declared > srv->body_budget ||
                       http_body_reserve(c, declared, declared) != 0)) {
    log_warn("request bodies in flight leave no room for %zu bytes; refusing one", declared);
    http_body_release(c);
    return http_answer_error(c, conn, CDR_ERR_BUSY, 0, "the server is busy; retry later", NULL, 1);
  }
  return MHD_YES;
}

static enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
  struct http_server *srv = cls;
  struct http_conn *c = *con_cls;
  enum MHD_Result ret = MHD_YES;

  if (c == NULL) {
    if ((c = calloc(1, sizeof(*c))) == NULL)
      return MHD_NO;
    c->srv = srv;
    atomic_fetch_add(&srv->in_flight, 1);
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    http_log_copy(c->method, HTTP_LOG_METHOD_MAX, method);
    http_log_copy(c->path, HTTP_LOG_PATH_MAX, url);
    *con_cls = c;
    return http_first_call(c, conn, method, url);
  }
  if (*upload_data_size != 0) {
    if (!c->answered || c->reject != 0)
      ret = http_body_append(c, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return ret;
  }
  if (c->reject != 0 && c->answered)
    return MHD_NO; /* answered on the socket already: close */
  if (c->answered)
    return MHD_YES;
  if (c->reject != 0)
    return http_answer_error(c, conn, c->reject, 0, http_reject_message(c->reject), NULL, 1);
  return http_dispatch(c, conn, method, url);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
  struct http_conn *c = *con_cls;
  struct timespec t1;

  if (c == NULL)
    return;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int64_t usec = (int64_t)(t1.tv_sec - c->t0.tv_sec) * 1000000 + (t1.tv_nsec - c->t0.tv_nsec) / 1000;
  long long ms = (long long)(usec / 1000);
  if (c->srv->observe != NULL) {
    int route = c->route != NULL && c->route != &c->srv->fallback ? (int)(c->route - c->srv->routes) : -1;
    c->srv->observe(c->srv->observe_ctx, route, c->answered ? c->status : 0, usec);
  }
  atomic_fetch_sub(&c->srv->in_flight, 1);
  if (c->answered)
    log_info("%s %s %d in=%zu out=%zu %lldms%s", c->method, c->path, c->status, c->bytes_in, c->bytes_out, ms,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not delivered)");
  else
    log_info("%s %s - in=%zu aborted after %lldms", c->method, c->path, c->bytes_in, ms);
  /* A kept-alive connection now waits for its next request's headers. */
  http_link_phase(c, HTTP_PHASE_HEADERS);
  if (c->link != NULL) {
    pthread_mutex_lock(&c->srv->lock);
    c->link->kept_alive = 1;
    pthread_mutex_unlock(&c->srv->lock);
  }
  http_body_release(c);
  free(c);
  *con_cls = NULL;
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void http_mhd_log(void *cls, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof(line), fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    line[--n] = '\0';
  log_warn("microhttpd: %s", line);
}

/* ---- start and stop ---- */

static int http_resolve(struct http_server *srv, const char *host, uint16_t port, int *ipv6) {
  struct addrinfo hints, *res = NULL;
  int r = 0;

  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
    log_error("cannot resolve listen address %s", host);
    r = CDR_ERR_ARG;
    goto out;
  }
  if (res->ai_addrlen > sizeof(srv->addr)) {
    r = CDR_ERR_ARG;
    goto out;
  }
  memcpy(&srv->addr, res->ai_addr, res->ai_addrlen);
  if (res->ai_family == AF_INET6) {
    ((struct sockaddr_in6 *)&srv->addr)->sin6_port = htons(port);
    *ipv6 = 1;
  } else if (res->ai_family == AF_INET) {
    ((struct sockaddr_in *)&srv->addr)->sin_port = htons(port);
    *ipv6 = 0;
  } else {
    r = CDR_ERR_ARG;
  }
out:
  if (res != NULL)
    freeaddrinfo(res);
  return r;
}

/* The lock, and the reaper's condition on the monotonic clock. */
static int http_sync_init(struct http_server *srv) {
  pthread_condattr_t ca;
  int ok;

  if (pthread_condattr_init(&ca) != 0)
    return CDR_ERR_INTERNAL;
  ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&srv->wake, &ca) == 0;
  pthread_condattr_destroy(&ca);
  if (!ok)
    return CDR_ERR_INTERNAL;
  if (pthread_mutex_init(&srv->lock, NULL) != 0) {
    pthread_cond_destroy(&srv->wake);
    return CDR_ERR_INTERNAL;
  }
  srv->lock_ready = 1;
  return 0;
}

int http_server_start(struct http_server **out, const struct http_server_opts *opts, const struct http_route *routes,
                      size_t nroutes, void *ctx) {
  struct http_server *srv = NULL;
  const union MHD_DaemonInfo *info;
  int r, ipv6 = 0;
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

  *out = NULL;
  if ((srv = calloc(1, sizeof(*srv))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  srv->routes = routes;
  srv->nroutes = nroutes;
  srv->fallback.method = "GET";
  srv->fallback.path = "";
  srv->fallback.handler = opts->get_fallback;
  srv->fallback_ctx = opts->get_fallback_ctx;
  srv->ctx = ctx;
  srv->max_body = opts->max_body ? opts->max_body : CDR_MAX_HTTP_REQUEST_BODY;
  srv->body_budget = (srv->max_body + 1) * CDR_HTTP_BODY_BUDGET;
  srv->counts_since_ms = http_now_ms();
  srv->observe = opts->observe;
  srv->api_errors = opts->api_errors;
  srv->n_api_errors = opts->api_errors != NULL ? opts->n_api_errors : 0;
  srv->observe_ctx = opts->observe_ctx;
  atomic_init(&srv->body_charged, 0);
  atomic_init(&srv->in_flight, 0);
  if ((r = http_sync_init(srv)) != 0)
    goto out;
  if ((r = http_resolve(srv, opts->host ? opts->host : "127.0.0.1", opts->port, &ipv6)) != 0)
    goto out;
  if (ipv6)
    flags |= MHD_USE_IPv6;
  struct MHD_OptionItem tls_opts[] = {
      {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)opts->tls_cert_pem},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)opts->tls_key_pem},
      {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)(uintptr_t)opts->tls_priorities},
      {MHD_OPTION_END, 0, NULL}};
  if (opts->tls_cert_pem != NULL) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
      log_error("this libmicrohttpd is built without TLS; serve plain HTTP on loopback with --insecure-http "
                "behind a TLS proxy, or install a libmicrohttpd with GnuTLS");
      r = CDR_ERR_UNSUPPORTED_VERSION;
      goto out;
    }
    flags |= MHD_USE_TLS;
    srv->tls = 1;
  } else {
    tls_opts[0].option = MHD_OPTION_END;
  }
  /* The logger must come first to catch messages about later options. */
  srv->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, &http_on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, &http_mhd_log, srv,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&srv->addr,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(opts->threads ? opts->threads : HTTP_THREADS_DEFAULT),
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CDR_HTTP_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned int)HTTP_MHD_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_MHD_PER_IP_LIMIT,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
      &http_on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, &http_on_connection, srv, MHD_OPTION_ARRAY, tls_opts,
      MHD_OPTION_END);
  if (srv->daemon == NULL) {
    log_error("cannot start the HTTP%s server on %s:%u", srv->tls ? "S" : "", opts->host ? opts->host : "127.0.0.1",
              (unsigned)opts->port);
    r = CDR_ERR_IO;
    goto out;
  }
  info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  if (info == NULL || info->port == 0) {
    r = CDR_ERR_IO;
    goto out;
  }
  srv->port = info->port;
  if (pthread_create(&srv->reaper, NULL, http_reaper_main, srv) != 0) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  srv->reaper_running = 1;
  *out = srv;
  srv = NULL;
  r = 0;
out:
  http_server_stop(srv);
  return r;
}

uint16_t http_server_port(const struct http_server *s) { return s->port; }

uint64_t http_server_in_flight(struct http_server *s) { return s != NULL ? atomic_load(&s->in_flight) : 0; }

void http_server_stop(struct http_server *s) {
  if (s == NULL)
    return;
  if (s->reaper_running) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->reaper, NULL);
  }
  /* Closes every connection: the notifications free their links. */
  if (s->daemon != NULL)
    MHD_stop_daemon(s->daemon);
  if (s->lock_ready) {
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
  }
  free(s);
}
