/*
 * witness_key.c - ask a history witness for its public key
 * (docs/PROTOCOL.md 9.5, GET /v1/witness/key), for `cdr room propose
 * --witness URL`.  The answer is believed only as far as it is
 * consistent: key_sha256 must be SHA-256 of public_key, and the key
 * P-256.  Whether it is the witness's real key is for the members to
 * confirm with the witness's operator out of band (the fingerprint is
 * printed by `cdr witness serve` at start and shown in the draft).
 *
 * TLS trust, the first that applies: cafile (--witness-ca),
 * CURL_CA_BUNDLE, SSL_CERT_FILE, the system store.  Host names are
 * checked; redirects are not followed; the body is capped.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"

#define WITNESS_KEY_MAX_BODY (64u * CDR_KiB)

struct key_sink {
  struct cdr_buf *b;
};

static size_t key_sink_write(char *p, size_t size, size_t nmemb, void *ud) {
  struct key_sink *s = ud;
  size_t n = size * nmemb;
  if (s->b->len + n > WITNESS_KEY_MAX_BODY || cdr_buf_put(s->b, p, n) != 0)
    return 0;
  return n;
}

void cdr_witness_tls_trust(void *curl_easy, const char *cafile) {
  const char *env = NULL;
  if (cafile != NULL && cafile[0] != '\0')
    env = cafile;
  else if ((env = getenv("CURL_CA_BUNDLE")) == NULL || env[0] == '\0')
    env = getenv("SSL_CERT_FILE");
  if (env != NULL && env[0] != '\0')
    curl_easy_setopt((CURL *)curl_easy, CURLOPT_CAINFO, env);
}

/* GET url/v1/witness/key into body.  0, or an error with why. */
static int key_get(const char *url, const char *cafile, struct cdr_buf *body, char *why, size_t whylen) {
  char full[CDR_CONTRACT_MAX_URL + 32], errbuf[CURL_ERROR_SIZE] = "";
  struct key_sink sink = {body};
  long status = 0;
  CURL *h;
  CURLcode cc;
  snprintf(full, sizeof(full), "%s/v1/witness/key", url);
  if ((h = curl_easy_init()) == NULL)
    return CDR_ERR_NOMEM;
  curl_easy_setopt(h, CURLOPT_URL, full);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, key_sink_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  cdr_witness_tls_trust(h, cafile);
  cc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
    snprintf(why, whylen, "%s: TLS verification failed: %s (trusted: %s)", full, errbuf[0] ? errbuf : "?",
             cafile ? cafile : "CURL_CA_BUNDLE, SSL_CERT_FILE or the system store; give --witness-ca FILE");
    return CDR_ERR_TLS_VERIFY;
  }
  if (cc != CURLE_OK) {
    snprintf(why, whylen, "%s: %s", full, errbuf[0] ? errbuf : curl_easy_strerror(cc));
    return CDR_ERR_NETWORK;
  }
  if (status != 200) {
    snprintf(why, whylen, "%s answered HTTP %ld, not a witness key", full, status);
    return CDR_ERR_NETWORK;
  }
  return 0;
}

int cdr_witness_key_fetch(const char *url, const char *cafile, uint8_t **spki, size_t *spki_len,
                          uint8_t key_sha256[32], char *why, size_t whylen) {
  struct cdr_buf body;
  json_t *j = NULL;
  uint8_t *der = NULL, fp[32], point[CDR_P256_POINT_LEN];
  size_t der_len = 0;
  EVP_PKEY *k = NULL;
  int r;
  *spki = NULL;
  *spki_len = 0;
  cdr_buf_init(&body, WITNESS_KEY_MAX_BODY, 0);
  if ((r = key_get(url, cafile, &body, why, whylen)) != 0)
    goto out;
  r = CDR_ERR_RESPONSE_FORGED;
  if ((j = json_loadb((const char *)body.d, body.len, JSON_REJECT_DUPLICATES, NULL)) == NULL || !json_is_object(j)) {
    snprintf(why, whylen, "%s/v1/witness/key: the answer is not a JSON object", url);
    goto out;
  }
  if (cdr_json_get_b64(j, "public_key", CDR_MAX_PUBKEY_DER, &der, &der_len) != 0 ||
      cdr_json_get_hex_exact(j, "key_sha256", key_sha256, 32) != 0) {
    snprintf(why, whylen, "%s/v1/witness/key: public_key (base64) and key_sha256 (64 hex) are required", url);
    goto out;
  }
  if (cdr_sha256(fp, der, der_len) != 0 || !cdr_ct_equal(fp, key_sha256, 32)) {
    snprintf(why, whylen, "%s/v1/witness/key: key_sha256 is not SHA-256 of public_key", url);
    goto out;
  }
  if (cdr_pubkey_from_der(&k, der, der_len) != 0 || cdr_p256_point_get(point, k) != 0) {
    snprintf(why, whylen, "%s/v1/witness/key: the key is not an EC P-256 key", url);
    r = CDR_ERR_KEY_UNSUPPORTED;
    goto out;
  }
  *spki = der;
  *spki_len = der_len;
  der = NULL;
  r = 0;
out:
  EVP_PKEY_free(k);
  free(der);
  json_decref(j);
  cdr_buf_free(&body);
  return r;
}
