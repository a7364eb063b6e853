/*
 * bench_http.c - the drivers' keep-alive HTTP client; see bench_http.h.
 * Same request as the client library's (src/client/http_client.c):
 * JSON content type, no "Expect: 100-continue", no redirects.
 */
#include "bench_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

int bench_http_global_init(void) { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1; }

int bench_http_init(struct bench_http *b, const char *url, int fresh) {
  size_t n = strlen(url);
  memset(b, 0, sizeof(*b));
  b->fresh = fresh;
  while (n > 0 && url[n - 1] == '/')
    n--;
  if ((b->base = strndup(url, n)) == NULL ||
      (b->hdrs = curl_slist_append(NULL, "Accept: application/json")) == NULL ||
      (b->hdrs = curl_slist_append(b->hdrs, "Content-Type: application/json")) == NULL ||
      (b->hdrs = curl_slist_append(b->hdrs, "Expect:")) == NULL)
    return -1;
  return 0;
}

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ud) {
  size_t n = size * nmemb;
  return cdr_buf_put(ud, p, n) == 0 ? n : 0; /* 0: over the cap, abort */
}

int bench_http_post(struct bench_http *b, const char *path, const void *body, size_t len, long *status,
                    struct cdr_buf *resp) {
  char url[1024];
  CURLcode cc;

  *status = 0;
  b->error[0] = '\0';
  if (b->h == NULL && (b->h = curl_easy_init()) == NULL) {
    snprintf(b->error, sizeof(b->error), "out of memory");
    return -1;
  }
  snprintf(url, sizeof(url), "%s%s", b->base, path);
  curl_easy_setopt(b->h, CURLOPT_URL, url);
  curl_easy_setopt(b->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(b->h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(b->h, CURLOPT_TIMEOUT, 600L);
  curl_easy_setopt(b->h, CURLOPT_HTTPHEADER, b->hdrs);
  curl_easy_setopt(b->h, CURLOPT_ERRORBUFFER, b->error);
  curl_easy_setopt(b->h, CURLOPT_WRITEFUNCTION, sink_write);
  curl_easy_setopt(b->h, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(b->h, CURLOPT_POST, 1L);
  curl_easy_setopt(b->h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(b->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  cc = curl_easy_perform(b->h);
  if (cc == CURLE_OK)
    curl_easy_getinfo(b->h, CURLINFO_RESPONSE_CODE, status);
  else if (b->error[0] == '\0')
    snprintf(b->error, sizeof(b->error), "%s", curl_easy_strerror(cc));
  if (b->fresh || cc != CURLE_OK) {
    curl_easy_cleanup(b->h);
    b->h = NULL;
  }
  if (cc != CURLE_OK || cdr_buf_put_u8(resp, 0) != 0)
    return -1;
  resp->len--;
  return 0;
}

void bench_http_free(struct bench_http *b) {
  if (b->h != NULL)
    curl_easy_cleanup(b->h);
  curl_slist_free_all(b->hdrs);
  free(b->base);
  memset(b, 0, sizeof(*b));
}
