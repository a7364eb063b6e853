/*
 * http.c - cdrd's HTTP server on libmicrohttpd; see http.h.
 *
 * Threading: MHD runs a pool of worker threads, each with its own epoll
 * loop; the access handler and the route handlers run on those threads.
 * Handlers may block (an enclave call waits for the enclave's mutex), so
 * the pool size bounds how many requests are in the enclave's queue.
 *
 * Life of a request (MHD calls on_access several times per request):
 *   1st call   allocate the per-request state, find the route, answer
 *              404/405 at once, and refuse a declared Content-Length over
 *              the cap with 413 before a byte of body is read.
 *   next calls append the body.  Past the cap (chunked bodies have no
 *              Content-Length) or past the server's memory budget for all
 *              bodies in flight, the buffer is freed and the rest is
 *              discarded: MHD only lets us answer once the upload ends.
 *   last call  (upload_data_size 0) call the handler and queue its answer.
 *   completed  log one line and free the state.
 *
 * Memory: a body is held in one growing buffer with a hard cap
 * (max_body); the sum of all body buffers is capped too
 * (HTTP_BODY_BUDGET bodies' worth), so that 256 slow clients cannot make
 * the host hold 256 x 90 MiB.  Over that budget a request gets 503 busy.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"

#define HTTP_THREADS_DEFAULT 4u
#define HTTP_CONNECTION_TIMEOUT_S 30u
#define HTTP_CONNECTION_LIMIT 256u
#define HTTP_PER_IP_LIMIT 64u
/* Per-connection read buffer: upload data arrives in pieces this big. */
#define HTTP_CONNECTION_MEMORY (128u * CDR_KiB)
/* Body buffers of all requests together may hold this many full bodies. */
#define HTTP_BODY_BUDGET 6u
/* Longest path and method kept for the log line. */
#define HTTP_LOG_PATH_MAX 96
#define HTTP_LOG_METHOD_MAX 12

struct http_server {
  struct MHD_Daemon *daemon;
  const struct http_route *routes;
  size_t nroutes;
  void *ctx;
  size_t max_body;
  size_t body_budget;
  atomic_size_t body_charged; /* bytes of body buffers allocated now */
  uint16_t port;
  struct sockaddr_storage addr;
};

/* Per-request state, MHD's *con_cls. */
struct http_conn {
  struct http_server *srv;
  struct timespec t0;
  char method[HTTP_LOG_METHOD_MAX + 4]; /* + "..." + NUL */
  char path[HTTP_LOG_PATH_MAX + 4];
  const struct http_route *route;
  struct cdr_buf body;
  size_t charged;  /* this request's share of srv->body_charged */
  size_t bytes_in; /* body bytes received, kept or not */
  int reject;      /* cdr_err to answer when the upload ends, or 0 */
  int answered;
  int status;
  size_t bytes_out;
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
  cdr_buf_free(&c->body);
  atomic_fetch_sub(&c->srv->body_charged, c->charged);
  c->charged = 0;
}

/* ---- answers ---- */

/* Queue body (consumed) with this status.  allow: an Allow header or NULL. */
static enum MHD_Result http_answer_json(struct http_conn *c, struct MHD_Connection *conn, int status, json_t *body,
                                        const char *allow) {
  static const char fallback[] = "{\"error\":\"internal\",\"message\":\"the answer could not be rendered\"}";
  struct MHD_Response *resp;
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  size_t len;
  enum MHD_Result ret;

  json_decref(body);
  if (text != NULL) {
    len = strlen(text);
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL)
      free(text);
  } else {
    status = 500;
    len = sizeof(fallback) - 1;
    resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)fallback, MHD_RESPMEM_PERSISTENT);
  }
  if (resp == NULL)
    return MHD_NO;
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  (void)MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  if (allow != NULL)
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
  ret = MHD_queue_response(conn, (unsigned int)status, resp);
  MHD_destroy_response(resp);
  c->answered = 1;
  c->status = status;
  c->bytes_out = len;
  return ret;
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
  case CDR_ERR_CERT_REVOKED: case CDR_ERR_CRL_STALE:
  case CDR_ERR_SESSION_UNKNOWN: case CDR_ERR_SESSION_EXPIRED: case CDR_ERR_SESSION_LIMIT: case CDR_ERR_REPLAY:
  case CDR_ERR_OUT_OF_ORDER: case CDR_ERR_DECRYPT: case CDR_ERR_REQUEST_FAILED: case CDR_ERR_INTERNAL:
  case CDR_ERR_BUSY:
    return err;
  case CDR_ERR_NOMEM:
    return CDR_ERR_BUSY;
  default:
    return CDR_ERR_INTERNAL;
  }
}

/* The error body {"error": code, "message": text}; status 0 = the code's. */
static enum MHD_Result http_answer_error(struct http_conn *c, struct MHD_Connection *conn, int err, int status,
                                         const char *message, const char *allow) {
  int api = http_api_error(err);
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
  return http_answer_json(c, conn, status ? status : cdr_err_http_status(err), body, allow);
}

static enum MHD_Result http_dispatch(struct http_conn *c, struct MHD_Connection *conn, const char *method,
                                     const char *url) {
  struct http_reply rep;
  struct http_request rq;
  static const uint8_t empty[1] = {0};
  int r;

  memset(&rep, 0, sizeof(rep));
  if (cdr_buf_reserve(&c->body, 1) != 0) { /* room for the NUL; the cap left it */
    http_body_release(c);
    return http_answer_error(c, conn, CDR_ERR_BUSY, 0, "out of memory for the request body", NULL);
  }
  c->body.d[c->body.len] = '\0';
  rq.method = method;
  rq.path = url;
  rq.body = c->body.d != NULL ? c->body.d : empty;
  rq.body_len = c->body.len;
  r = c->route->handler(c->srv->ctx, &rq, &rep);
  http_body_release(c);
  if (r == 0 && rep.body != NULL)
    return http_answer_json(c, conn, rep.status ? rep.status : 200, rep.body, NULL);
  json_decref(rep.body);
  if (r == 0)
    r = CDR_ERR_INTERNAL;
  return http_answer_error(c, conn, r, rep.status, rep.message, NULL);
}

/* ---- body accumulation ---- */

static void http_body_append(struct http_conn *c, const char *data, size_t n) {
  struct http_server *srv = c->srv;
  size_t before;

  c->bytes_in += n;
  if (c->reject != 0)
    return; /* discarding the rest of a refused body */
  if (n > srv->max_body || c->body.len > srv->max_body - n) {
    c->reject = CDR_ERR_TOO_LARGE;
    http_body_release(c);
    return;
  }
  before = c->body.cap;
  if (cdr_buf_reserve(&c->body, n) != 0) {
    c->reject = CDR_ERR_BUSY;
    http_body_release(c);
    return;
  }
  if (c->body.cap > before) {
    size_t grew = c->body.cap - before;
    size_t total = atomic_fetch_add(&srv->body_charged, grew) + grew;
    c->charged += grew;
    if (total > srv->body_budget) {
      log_warn("request bodies in flight exceed %zu bytes; refusing one", srv->body_budget);
      c->reject = CDR_ERR_BUSY;
      http_body_release(c);
      return;
    }
  }
  memcpy(c->body.d + c->body.len, data, n);
  c->body.len += n;
}

/* Content-Length, if present: 0 ok, CDR_ERR_TOO_LARGE over the cap,
 * CDR_ERR_ARG if it is not a decimal number. */
static int http_check_content_length(struct MHD_Connection *conn, size_t max) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  uint64_t n = 0;

  if (v == NULL)
    return 0;
  if (*v == '\0')
    return CDR_ERR_ARG;
  for (; *v; v++) {
    if (*v < '0' || *v > '9')
      return CDR_ERR_ARG;
    if (n > (UINT64_MAX - 9) / 10)
      return CDR_ERR_TOO_LARGE;
    n = n * 10 + (uint64_t)(*v - '0');
  }
  return n > max ? CDR_ERR_TOO_LARGE : 0;
}

/* ---- MHD callbacks ---- */

static enum MHD_Result http_first_call(struct http_conn *c, struct MHD_Connection *conn, const char *method,
                                       const char *url) {
  struct http_server *srv = c->srv;
  char allow[64] = "";
  size_t used = 0;
  int path_known = 0, r;

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
  if (!path_known)
    return http_answer_error(c, conn, CDR_ERR_NOT_FOUND, 0, "no such route", NULL);
  if (c->route == NULL)
    return http_answer_error(c, conn, CDR_ERR_METHOD, 0, "method not allowed on this route", allow);
  if ((r = http_check_content_length(conn, srv->max_body)) != 0)
    return http_answer_error(c, conn, r, 0,
                             r == CDR_ERR_TOO_LARGE ? "request body larger than the limit" : "invalid Content-Length",
                             NULL);
  return MHD_YES;
}

static enum MHD_Result http_on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
  struct http_server *srv = cls;
  struct http_conn *c = *con_cls;

  if (c == NULL) {
    if ((c = calloc(1, sizeof(*c))) == NULL)
      return MHD_NO;
    c->srv = srv;
    clock_gettime(CLOCK_MONOTONIC, &c->t0);
    http_log_copy(c->method, HTTP_LOG_METHOD_MAX, method);
    http_log_copy(c->path, HTTP_LOG_PATH_MAX, url);
    cdr_buf_init(&c->body, srv->max_body + 1, 0);
    *con_cls = c;
    return http_first_call(c, conn, method, url);
  }
  if (*upload_data_size != 0) {
    if (!c->answered)
      http_body_append(c, upload_data, *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (c->answered)
    return MHD_YES;
  if (c->reject != 0)
    return http_answer_error(c, conn, c->reject, 0,
                             c->reject == CDR_ERR_TOO_LARGE ? "request body larger than the limit"
                                                            : "the server is busy; retry later",
                             NULL);
  return http_dispatch(c, conn, method, url);
}

static void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
  struct http_conn *c = *con_cls;
  struct timespec t1;

  if (c == NULL)
    return;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long long ms = (long long)(t1.tv_sec - c->t0.tv_sec) * 1000 + (t1.tv_nsec - c->t0.tv_nsec) / 1000000;
  if (c->answered)
    log_info("%s %s %d in=%zu out=%zu %lldms%s", c->method, c->path, c->status, c->bytes_in, c->bytes_out, ms,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (not delivered)");
  else
    log_info("%s %s - in=%zu aborted after %lldms", c->method, c->path, c->bytes_in, ms);
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
  srv->ctx = ctx;
  srv->max_body = opts->max_body ? opts->max_body : CDR_MAX_HTTP_BODY;
  srv->body_budget = srv->max_body * HTTP_BODY_BUDGET;
  atomic_init(&srv->body_charged, 0);
  if ((r = http_resolve(srv, opts->host ? opts->host : "127.0.0.1", opts->port, &ipv6)) != 0)
    goto out;
  if (ipv6)
    flags |= MHD_USE_IPv6;
  /* The logger must come first to catch messages about later options. */
  srv->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, &http_on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, &http_mhd_log, srv,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&srv->addr,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(opts->threads ? opts->threads : HTTP_THREADS_DEFAULT),
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned int)HTTP_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP_LIMIT,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
      &http_on_completed, srv, MHD_OPTION_END);
  if (srv->daemon == NULL) {
    log_error("cannot start the HTTP server on %s:%u", opts->host ? opts->host : "127.0.0.1", (unsigned)opts->port);
    r = CDR_ERR_IO;
    goto out;
  }
  info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  if (info == NULL || info->port == 0) {
    r = CDR_ERR_IO;
    goto out;
  }
  srv->port = info->port;
  *out = srv;
  srv = NULL;
  r = 0;
out:
  http_server_stop(srv);
  return r;
}

uint16_t http_server_port(const struct http_server *s) { return s->port; }

void http_server_stop(struct http_server *s) {
  if (s == NULL)
    return;
  if (s->daemon != NULL)
    MHD_stop_daemon(s->daemon);
  free(s);
}
