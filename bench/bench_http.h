/*
 * bench_http.h - the load drivers' HTTP client: one libcurl handle per
 * driver thread, reused for every request, so that a thread keeps one
 * keep-alive connection to the server (what a long-running client does)
 * and the figures measure the servers rather than TCP handshakes.
 *
 * The client library's own transport (cdr_http_raw) makes a new handle,
 * and so a new connection, for every request; --fresh-connections gives
 * the drivers that behaviour instead (bench/README.md has both figures).
 *
 * The drivers use it for the plain baseline and for CDR alike, so both
 * pay for the same HTTP client.  Answers are capped at CDR_MAX_HTTP_BODY,
 * as in the client library.
 */
#ifndef CDR_BENCH_HTTP_H
#define CDR_BENCH_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "common/buf.h"

struct bench_http {
  CURL *h;                  /* NULL between requests in fresh mode */
  struct curl_slist *hdrs;
  char *base;               /* server URL without a trailing '/' */
  int fresh;                /* a new connection for every request */
  char error[CURL_ERROR_SIZE];
};

/* Call once, before any thread starts. */
int bench_http_global_init(void);
/* 0, or -1 when out of memory. */
int bench_http_init(struct bench_http *b, const char *url, int fresh);
/* POST body to path (e.g. "/v1/request"); the answer's status and body
 * (NUL-terminated after its length) in *status and resp.  0 when an HTTP
 * answer arrived, whatever its status; -1 otherwise (b->error says why). */
int bench_http_post(struct bench_http *b, const char *path, const void *body, size_t len, long *status,
                    struct cdr_buf *resp);
void bench_http_free(struct bench_http *b);

#endif
