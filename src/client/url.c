/*
 * url.c - what the client reads from a server URL itself, parsed by
 * libcurl's URL API so that the host checked here is the host curl will
 * connect to: no userinfo (user@ / user:password@) in either scheme,
 * and plain http:// only to a loopback host.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* 1 if host (as CURLUPART_HOST gives it: IPv6 in brackets) is
 * 127.0.0.0/8, ::1 or localhost. */
static int host_is_loopback(const char *host) {
  unsigned char a[16];
  char v6[64];
  size_t n = strlen(host);

  if (strcmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, a) == 1)
    return a[0] == 127;
  if (n >= 2 && n - 2 < sizeof(v6) && host[0] == '[' && host[n - 1] == ']') {
    memcpy(v6, host + 1, n - 2);
    v6[n - 2] = '\0';
    if (inet_pton(AF_INET6, v6, a) == 1)
      return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
  }
  return 0;
}

/* 1 if part of u is present (curl answers CURLUE_OK, even for "") */
static int has_part(CURLU *u, CURLUPart what) {
  char *s = NULL;
  CURLUcode rc = curl_url_get(u, what, &s, 0);
  curl_free(s);
  return rc == CURLUE_OK;
}

int cdr_url_check(const char *url, char **normalised) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *full = NULL;
  int r = CDR_ERR_ARG;

  if (normalised != NULL)
    *normalised = NULL;
  if (u == NULL)
    return CDR_ERR_NOMEM;
  if (url == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0' ||
      curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
    goto out;
  if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
    goto out;
  r = CDR_ERR_INSECURE_URL;
  if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) || has_part(u, CURLUPART_OPTIONS))
    goto out;
  if (strcmp(scheme, "http") == 0 && !host_is_loopback(host))
    goto out;
  r = 0;
  if (normalised != NULL && (*normalised = strdup(full)) == NULL)
    r = CDR_ERR_NOMEM;
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(full);
  curl_url_cleanup(u);
  return r;
}

int cdr_url_host_is_loopback(const char *url) {
  CURLU *u = curl_url();
  char *host = NULL;
  int yes = 0;

  if (u != NULL && url != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && !has_part(u, CURLUPART_USER) &&
      !has_part(u, CURLUPART_PASSWORD))
    yes = host_is_loopback(host);
  curl_free(host);
  curl_url_cleanup(u);
  return yes;
}
