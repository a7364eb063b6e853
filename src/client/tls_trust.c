/*
 * tls_trust.c - what the client trusts for TLS (docs/PROTOCOL.md 2.1).
 *
 * In order, the first that applies:
 *   1. --cacert FILE (cdr_client_set_tls_cacert; a profile remembers
 *      it): the operator serves a certificate of their own CA;
 *   2. the room CA the client holds (a profile's, a bundle's, --ca, or
 *      one checked against the enrollment token's fingerprint): the
 *      server's certificate must chain to that CA alone, the system
 *      store is not consulted;
 *   3. CURL_CA_BUNDLE, else SSL_CERT_FILE: a file of CAs;
 *   4. libcurl's default (the system store).
 * Host names are always checked.  A verification failure is
 * CDR_ERR_TLS_VERIFY with curl's reason, never a generic network error.
 * Plain http:// is allowed to loopback addresses only (cdr_client_new,
 * url.c).  The enrollment bootstrap by fingerprint is in enroll.c.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "client_int.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

int cdr_client_set_tls_cacert(struct cdr_client *c, const char *path) {
  char *copy;
  if (access(path, R_OK) != 0) {
    cdr_client_set_detail(c, "cannot read --cacert %s", path);
    return CDR_ERR_NOT_FOUND;
  }
  if ((copy = strdup(path)) == NULL)
    return CDR_ERR_NOMEM;
  free(c->tls_cacert);
  c->tls_cacert = copy;
  return 0;
}

int cdr_client_tls_apply(struct cdr_client *c, void *curl) {
  CURL *h = curl;
  const char *env;

  curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  if (c->tls_unverified_once) {
    c->tls_unverified_once = 0;
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    return 0;
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (c->tls_cacert != NULL) {
    curl_easy_setopt(h, CURLOPT_CAINFO, c->tls_cacert);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
  } else if (c->have_ca && c->ca_pem != NULL) {
    struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    if (curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob) != CURLE_OK) {
      cdr_client_set_detail(c, "this libcurl cannot pin a CA from memory (CURLOPT_CAINFO_BLOB)");
      return CDR_ERR_INTERNAL;
    }
  } else if (((env = getenv("CURL_CA_BUNDLE")) != NULL && env[0] != '\0') ||
             ((env = getenv("SSL_CERT_FILE")) != NULL && env[0] != '\0')) {
    curl_easy_setopt(h, CURLOPT_CAINFO, env);
  }
  return 0;
}

int cdr_client_tls_failure(struct cdr_client *c, int curl_code, const char *reason, const char *url) {
  switch ((CURLcode)curl_code) {
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
    break;
  default:
    return 0;
  }
  cdr_client_set_detail(c, "%s (%s; trusted: %s)", reason, url,
                        c->tls_cacert ? c->tls_cacert
                        : c->have_ca  ? "the room CA only"
                                      : "CURL_CA_BUNDLE, SSL_CERT_FILE or the system store");
  return CDR_ERR_TLS_VERIFY;
}
