/*
 * http.h - cdrd's HTTP layer: a libmicrohttpd server that knows routes,
 * body caps and the JSON error convention, and nothing of the protocol.
 *
 * The server accumulates each request body (capped, see max_body), looks
 * the route up in a table of {method, path, handler}, calls the handler
 * on one of MHD's worker threads, and renders its reply as JSON.  Unknown
 * paths answer 404 not_found, a known path with another method 405
 * method_not_allowed, a body over the cap 413 too_large (checked against
 * Content-Length before any byte is read, and again while reading).
 * Every error body is exactly {"error": "<code>", "message": "<text>"}.
 *
 * Limits that keep one client from starving the others (values in
 * common/limits.h, CDR_HTTP_*; PROTOCOL 4.1): connections in all and per
 * client address (past them: 503 busy, then close), a deadline for a
 * request's headers and a minimum rate for its body (past them: 408,
 * then close: slowloris), an idle timeout, and a budget for all bodies
 * in flight (503 busy).
 *
 * One log line per request: method, path, status, bytes in and out,
 * duration.  Never a body, header value or query string.
 */
#ifndef CDR_HOST_HTTP_H
#define CDR_HOST_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/limits.h"

struct http_request {
  const char *method;  /* "GET", "POST", ... */
  const char *path;    /* decoded path, without the query string */
  const uint8_t *body; /* NUL-terminated (not counted in body_len) */
  size_t body_len;
};

/*
 * What a handler answers.  A handler returns 0 with `body` set (status
 * defaults to 200), or a negative cdr_err: then the answer is the error
 * body for that code with `message` (cdr_err_describe() if empty), and
 * the status is `status` if set, else cdr_err_http_status(err).
 */
struct http_reply {
  int status;
  json_t *body; /* owned by the reply; the server releases it */
  /* Or, instead of body: the answer's JSON text, already rendered
   * (malloc'd, text_len bytes, owned by the reply).  For large answers:
   * rendering a json_t copies its strings twice more. */
  char *text;
  size_t text_len;
  char message[CDR_MAX_ERROR_MSG];
  /* The answer's Content-Type (a constant); NULL: application/json. */
  const char *content_type;
  /* A Retry-After header of this many seconds; 0: none. */
  unsigned retry_after;
  /* More headers of a successful answer: name, value pairs ending with
   * NULL, constants (the console's CSP, console_files.c); NULL: none. */
  const char *const *headers;
  void *server_; /* the server's, for http_release_body; NULL elsewhere */
};

/* Set rep->message from a format and return err, for
 *   return http_reply_fail(rep, CDR_ERR_ARG, "field \"%s\" ...", name); */
int http_reply_fail(struct http_reply *rep, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Free the request body now, before the handler returns: for a handler
 * that has parsed the body into its own copies and then waits (for the
 * enclave), so that a large body is not held twice meanwhile.  rq->body
 * must not be read afterwards.  No-op for a reply that does not come
 * from the server (a test calling a handler directly). */
void http_release_body(struct http_reply *rep);

typedef int (*http_handler_fn)(void *ctx, const struct http_request *rq, struct http_reply *rep);

struct http_route {
  const char *method;
  const char *path; /* exact match */
  http_handler_fn handler;
};

/* Called once per finished request, on an MHD thread: route is the
 * index in the route table, or -1 when no route matched (404, 405, a
 * refused connection); status 0 when no answer was sent; usec from the
 * first byte of the request to the end. */
typedef void (*http_observe_fn)(void *ctx, int route, int status, int64_t usec);

struct http_server_opts {
  const char *host;       /* numeric or resolvable address to bind */
  uint16_t port;          /* 0: ephemeral, see http_server_port() */
  size_t max_body;        /* 0: CDR_MAX_HTTP_REQUEST_BODY */
  unsigned threads;       /* 0: 4 */
  /* HTTPS (libmicrohttpd's TLS, GnuTLS): the certificate and its key as
   * NUL-terminated PEM, and the GnuTLS priority string; all NULL: plain
   * HTTP.  They must outlive the server.  Under TLS the limits above cut
   * a connection without the plaintext answer (see http_int.h). */
  const char *tls_cert_pem, *tls_key_pem, *tls_priorities;
  http_observe_fn observe; /* NULL: none (metrics.h) */
  void *observe_ctx;
  /* Error codes this server's handlers answer besides PROTOCOL 4.1's
   * list (which every other code is answered as `internal` outside of);
   * NULL: none.  The witness's (PROTOCOL 9) are its own.  Must outlive
   * the server. */
  const int *api_errors;
  size_t n_api_errors;
  /* A GET of a path that no route names goes to this handler, with
   * get_fallback_ctx (cdrd's copy of the web console, console_files.h);
   * NULL: 404 not_found.  Observed as route -1. */
  http_handler_fn get_fallback;
  void *get_fallback_ctx;
};

struct http_server;

/* Bind, listen and start serving.  The routes array and ctx must outlive
 * the server.  When this returns 0 the socket is accepting. */
int http_server_start(struct http_server **out, const struct http_server_opts *opts, const struct http_route *routes,
                      size_t nroutes, void *ctx) CDR_WUR;
/* The bound port (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);
/* Requests received and not yet finished (answered and sent, or
 * aborted): those in a handler, waiting for the enclave, or uploading. */
uint64_t http_server_in_flight(struct http_server *s);
/* Stop accepting, finish or drop connections, join the threads, free. */
void http_server_stop(struct http_server *s);

#endif
