/*
 * http_client.c - one HTTP exchange with cdrd through libcurl.
 *
 * Every answer body is capped at CDR_MAX_HTTP_BODY (the write callback
 * refuses more, so a hostile host cannot make us allocate without
 * bound).  The client keeps one easy handle (c->curl) and resets its
 * options for each exchange, so consecutive requests (an upload's
 * chunks, a command's attest, open, request and close) share one
 * keep-alive connection instead of a TCP (and TLS) handshake each; the
 * handle only ever talks to c->url (cdr_client_disconnect closes it).
 * Redirects are not followed and only http/https are allowed; TLS
 * trust is tls_trust.c's.
 * Nothing here is trusted: bodies are parsed strictly by the callers, and
 * error bodies are turned into a cdr_err plus a sanitised code and
 * message kept in the client for display.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/x509.h"

struct sink {
  struct cdr_buf *b;
  int too_large;
};

static size_t sink_write(char *p, size_t size, size_t nmemb, void *ud) {
  struct sink *s = ud;
  size_t n = size * nmemb;
  if (cdr_buf_put(s->b, p, n) != 0) {
    s->too_large = 1;
    return 0; /* libcurl aborts the transfer */
  }
  return n;
}

int cdr_http_raw(struct cdr_client *c, const char *method, const char *path, const void *body, size_t len,
                 long *status, struct cdr_buf *resp) {
  CURL *h = NULL;
  struct curl_slist *hdrs = NULL;
  struct sink sink = {resp, 0};
  char *url = NULL;
  char errbuf[CURL_ERROR_SIZE];
  CURLcode cc;
  size_t ulen;
  int r = CDR_ERR_NOMEM;

  *status = 0;
  c->http_status = 0;
  c->remote_error = 0;
  c->remote_sealed = 0;
  c->remote_code[0] = '\0';
  c->remote_message[0] = '\0';
  errbuf[0] = '\0';
  ulen = strlen(c->url) + strlen(path) + 1;
  if ((url = malloc(ulen)) == NULL)
    goto out;
  if (c->curl == NULL && (c->curl = curl_easy_init()) == NULL)
    goto out;
  h = c->curl;
  curl_easy_reset(h); /* every option of the last exchange off; its connection kept */
  snprintf(url, ulen, "%s%s", c->url, path);
  if ((hdrs = curl_slist_append(hdrs, "Accept: application/json")) == NULL ||
      (body != NULL && (hdrs = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL) ||
      (hdrs = curl_slist_append(hdrs, "Expect:")) == NULL)
    goto out;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "cdr/1");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CDR_MAX_HTTP_BODY);
  if (body != NULL) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  if ((r = cdr_client_tls_apply(c, h)) != 0)
    goto out;

  cc = curl_easy_perform(h);
  if (sink.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
    cdr_client_set_detail(c, "the answer from %s is larger than %u bytes", url, (unsigned)CDR_MAX_HTTP_BODY);
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  if (cc != CURLE_OK) {
    char safe[CURL_ERROR_SIZE];
    cdr_sanitize(safe, sizeof(safe), errbuf[0] ? errbuf : curl_easy_strerror(cc));
    if ((r = cdr_client_tls_failure(c, (int)cc, safe, url)) != 0)
      goto out;
    cdr_client_set_detail(c, "%s (%s)", safe, url);
    r = CDR_ERR_NETWORK;
    goto out;
  }
  /* NUL after the body so that callers may treat it as text. */
  if ((r = cdr_buf_put_u8(resp, 0)) != 0)
    goto out;
  resp->len--;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  c->http_status = *status;
  r = 0;
out:
  if (h != NULL) { /* nothing of this exchange may outlive it in the handle */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
  }
  curl_slist_free_all(hdrs);
  free(url);
  return r;
}

int cdr_json_parse_object(json_t **out, const uint8_t *body, size_t len) {
  json_error_t jerr;
  json_t *j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(j)) {
    json_decref(j);
    return CDR_ERR_BAD_JSON;
  }
  *out = j;
  return 0;
}

int cdr_http_error(struct cdr_client *c, long status, const uint8_t *body, size_t len) {
  json_t *j = NULL;
  const char *code = NULL, *msg = NULL;
  int r = CDR_ERR_SERVER;

  c->http_status = status;
  c->remote_sealed = 0;
  if (cdr_json_parse_object(&j, body, len) != 0 || cdr_json_get_cstr(j, "error", SIZE_MAX, &code) != 0) {
    cdr_client_set_detail(c, "unexpected HTTP status %ld without an error body", status);
    goto out;
  }
  msg = cdr_json_get_cstr_opt(j, "message");
  c->remote_error = 1;
  cdr_sanitize(c->remote_code, sizeof(c->remote_code), code);
  cdr_sanitize(c->remote_message, sizeof(c->remote_message), msg ? msg : "");
  r = cdr_err_from_code(code);
  /* An unknown code, or one that is not a failure ("ok"), must never
   * read as success. */
  if (r == 0 || (r == CDR_ERR_INTERNAL && strcmp(code, "internal") != 0))
    r = CDR_ERR_SERVER;
out:
  json_decref(j);
  return r;
}

int cdr_http_json(struct cdr_client *c, const char *method, const char *path, const char *body, size_t len,
                  json_t **out) {
  struct cdr_buf resp;
  long status = 0;
  int r;

  *out = NULL;
  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  if ((r = cdr_http_raw(c, method, path, body, len, &status, &resp)) != 0)
    goto out;
  if (status != 200) {
    r = cdr_http_error(c, status, cdr_buf_ptr(&resp), cdr_buf_avail(&resp));
    goto out;
  }
  if ((r = cdr_json_parse_object(out, cdr_buf_ptr(&resp), cdr_buf_avail(&resp))) != 0) {
    cdr_client_set_detail(c, "the answer to %s is not a JSON object", path);
    r = CDR_ERR_SERVER;
  }
out:
  cdr_buf_free(&resp);
  return r;
}

int cdr_client_fetch_room(struct cdr_client *c, struct cdr_room_info *out) {
  json_t *j = NULL;
  const char *rid, *name, *pem, *att;
  uint8_t raw[CDR_ROOM_ID_BYTES];
  int r;

  memset(out, 0, sizeof(*out));
  if ((r = cdr_http_json(c, "GET", "/v1/room", NULL, 0, &j)) != 0)
    goto out;
  r = CDR_ERR_SERVER;
  if (cdr_json_get_cstr(j, "room_id", SIZE_MAX, &rid) != 0 || cdr_json_get_cstr(j, "name", SIZE_MAX, &name) != 0 ||
      cdr_json_get_cstr(j, "ca_certificate", SIZE_MAX, &pem) != 0 ||
      cdr_json_get_cstr(j, "attestation", SIZE_MAX, &att) != 0 ||
      cdr_json_get_hex_exact(j, "room_id", raw, sizeof(raw)) != 0) {
    cdr_client_set_detail(c, "malformed answer to GET /v1/room");
    goto out;
  }
  if (cdr_cert_from_pem(&out->ca, pem, strlen(pem)) != 0) {
    cdr_client_set_detail(c, "the room CA certificate in GET /v1/room does not parse");
    goto out;
  }
  r = CDR_ERR_NOMEM;
  cdr_hex_encode(out->room_id, raw, sizeof(raw));
  if ((out->name = strdup(name)) == NULL || (out->attestation = strdup(att)) == NULL)
    goto out;
  r = 0;
out:
  if (r != 0)
    cdr_room_info_clear(out);
  json_decref(j);
  return r;
}

void cdr_room_info_clear(struct cdr_room_info *ri) {
  X509_free(ri->ca);
  free(ri->name);
  free(ri->attestation);
  memset(ri, 0, sizeof(*ri));
}
