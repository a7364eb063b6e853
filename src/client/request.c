/*
 * request.c - sealed, signed requests and their authenticated responses
 * (PROTOCOL 4.7).
 *
 * A request is AES-256-GCM under k_req with nonce u32be(1) || u64be(seq)
 * and associated data binding the session id, seq and timestamp, then
 * signed with U over S_req (which covers H(ciphertext)).  The client
 * remembers the session id, seq and H(ciphertext) of what it sent
 * (struct cdr_pending) and opens the answer with THOSE, never with the
 * values the answer carries: a response to another request, a replayed
 * response, a flipped status or a forged ciphertext fails the GCM tag.
 *
 * The HTTP status (200 / 422), the envelope's status ("ok" / "failed")
 * and the decrypted "ok" flag must all agree.  Errors that arrive in
 * clear (any other status) are failures whose text is not trusted.
 *
 * Workload: a request carries at most one upload chunk (4 MiB of CSV,
 * upload.c) or a header; the body is built by encoding base64 straight
 * into one buffer to keep copies down.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"

#define HEADER_MAX CDR_MAX_REQUEST_HEADER

int cdr_request_plaintext(struct cdr_buf *pt, const char *header_json, const void *payload, size_t payload_len) {
  int r;
  struct cdr_buf hdr;
  cdr_buf_init(&hdr, CDR_MAX_PLAINTEXT, 0);
  /* A query's header is padded to a size bucket (PROTOCOL 4.7) so that
   * the ciphertext does not give away the length of the SQL.  An upload's
   * size is its CSV's and is not hidden. */
  if ((r = cdr_buf_put(&hdr, header_json, strlen(header_json))) == 0 && payload_len == 0)
    r = cdr_pad_spaces(&hdr);
  if (r == 0)
    r = cdr_buf_put_lp(pt, hdr.d, hdr.len);
  cdr_buf_free(&hdr);
  if (r != 0)
    return r;
  if (payload_len > 0 && (r = cdr_buf_put(pt, payload, payload_len)) != 0)
    return r;
  return 0;
}

/* Append standard base64 of [p, p+n) to b. */
static int put_b64(struct cdr_buf *b, const uint8_t *p, size_t n) {
  size_t olen;
  int r;
  if (n > (size_t)INT32_MAX / 4 * 3 - 3)
    return CDR_ERR_TOO_LARGE;
  olen = (n + 2) / 3 * 4;
  if ((r = cdr_buf_reserve(b, olen + 1)) != 0)
    return r;
  if (EVP_EncodeBlock(b->d + b->len, p, (int)n) != (int)olen)
    return CDR_ERR_CRYPTO;
  b->len += olen;
  return 0;
}

static int put_str(struct cdr_buf *b, const char *s) { return cdr_buf_put(b, s, strlen(s)); }

static int put_u64_text(struct cdr_buf *b, uint64_t v) {
  char num[24];
  snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
  return put_str(b, num);
}

int cdr_request_build_ex(struct cdr_client *c, const struct cdr_session *s, uint64_t seq, uint64_t timestamp,
                         const void *pt, size_t pt_len, struct cdr_pending *p, struct cdr_buf *body) {
  struct cdr_buf ct, sin, sig;
  struct cdr_request_env env;
  int r;

  memset(p, 0, sizeof(*p));
  cdr_buf_init(&ct, CDR_MAX_CIPHERTEXT, 0);
  cdr_buf_init(&sin, 1024, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  if (c->key == NULL || s == NULL || s->keys == NULL) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if (pt_len > CDR_MAX_PLAINTEXT) {
    cdr_client_set_detail(c, "the request is larger than %u bytes", (unsigned)CDR_MAX_PLAINTEXT);
    r = CDR_ERR_TOO_LARGE;
    goto out;
  }
  if ((r = cdr_request_seal(&ct, s->keys, s->id, seq, timestamp, pt, pt_len)) != 0)
    goto out;
  memset(&env, 0, sizeof(env));
  memcpy(env.session_id, s->id, sizeof(env.session_id));
  env.seq = seq;
  env.timestamp = timestamp;
  env.ct = ct.d;
  env.ct_len = ct.len;
  if ((r = cdr_request_sig_input(&sin, &env)) != 0 || (r = cdr_sign(&sig, c->key, sin.d, sin.len)) != 0 ||
      (r = cdr_sha256(p->ct_hash, ct.d, ct.len)) != 0)
    goto out;
  memcpy(p->session_id, s->id, sizeof(p->session_id));
  p->seq = seq;
  p->timestamp = timestamp;
  /* Every value is base64 or a decimal number: no JSON escaping needed. */
  if ((r = put_str(body, "{\"session_id\":\"")) != 0 || (r = put_b64(body, s->id, sizeof(s->id))) != 0 ||
      (r = put_str(body, "\",\"seq\":")) != 0 || (r = put_u64_text(body, seq)) != 0 ||
      (r = put_str(body, ",\"timestamp\":")) != 0 || (r = put_u64_text(body, timestamp)) != 0 ||
      (r = put_str(body, ",\"ciphertext\":\"")) != 0 || (r = put_b64(body, ct.d, ct.len)) != 0 ||
      (r = put_str(body, "\",\"signature\":\"")) != 0 || (r = put_b64(body, sig.d, sig.len)) != 0 ||
      (r = put_str(body, "\"}")) != 0)
    goto out;
  r = 0;
out:
  cdr_buf_free(&ct);
  cdr_buf_free(&sin);
  cdr_buf_free(&sig);
  return r;
}

int cdr_request_build(struct cdr_client *c, struct cdr_session *s, const void *pt, size_t pt_len,
                      struct cdr_pending *p, struct cdr_buf *body) {
  if (s->seq == UINT64_MAX)
    return CDR_ERR_ARG;
  s->seq++;
  return cdr_request_build_ex(c, s, s->seq, (uint64_t)cdr_now(), pt, pt_len, p, body);
}

int cdr_response_verify(struct cdr_client *c, const struct cdr_session *s, const struct cdr_pending *p, long status,
                        const uint8_t *body, size_t len, json_t **plain, int *failed) {
  struct cdr_response_env env;
  struct cdr_buf pt;
  json_t *j = NULL, *pj = NULL, *ok;
  const char *st, *err;
  uint8_t *ct = NULL;
  size_t ct_len = 0;
  int r = CDR_ERR_RESPONSE_FORGED;

  *plain = NULL;
  *failed = 0;
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  if (status != 200 && status != 422)
    return cdr_http_error(c, status, body, len);

  memset(&env, 0, sizeof(env));
  if (cdr_json_parse_object(&j, body, len) != 0 ||
      cdr_json_get_b64_exact(j, "session_id", env.session_id, CDR_SESSION_ID_LEN) != 0 ||
      cdr_json_get_u64(j, "seq", &env.seq) != 0 || cdr_json_get_cstr(j, "status", SIZE_MAX, &st) != 0 ||
      cdr_json_get_b64(j, "ciphertext", CDR_MAX_CIPHERTEXT, &ct, &ct_len) != 0) {
    cdr_client_set_detail(c, "the answer (HTTP %ld) is not a response envelope", status);
    goto out;
  }
  if (strcmp(st, "ok") == 0 && status == 200) {
    env.status = CDR_STATUS_OK;
  } else if (strcmp(st, "failed") == 0 && status == 422 && cdr_json_get_cstr(j, "error", SIZE_MAX, &err) == 0 &&
             strcmp(err, "request_failed") == 0) {
    env.status = CDR_STATUS_FAILED;
  } else {
    cdr_client_set_detail(c, "the HTTP status and the envelope status disagree");
    goto out;
  }
  env.ct = ct;
  env.ct_len = ct_len;
  if (cdr_response_open(&pt, s->keys, &env, p->session_id, p->seq, p->ct_hash) != 0) {
    cdr_client_set_detail(c, "the response does not authenticate as the answer to our request");
    goto out;
  }
  /* Authenticated from here on: a bad plaintext is an enclave fault. */
  r = CDR_ERR_SERVER;
  if (cdr_json_parse_object(&pj, pt.d, pt.len) != 0) {
    cdr_client_set_detail(c, "the decrypted response is not a JSON object");
    goto out;
  }
  ok = json_object_get(pj, "ok");
  if (!json_is_boolean(ok) || json_is_true(ok) != (env.status == CDR_STATUS_OK)) {
    cdr_client_set_detail(c, "the decrypted response contradicts its status");
    goto out;
  }
  *failed = env.status == CDR_STATUS_FAILED;
  *plain = pj;
  pj = NULL;
  r = 0;
out:
  json_decref(j);
  json_decref(pj);
  free(ct);
  cdr_buf_free(&pt);
  return r;
}

int cdr_client_request(struct cdr_client *c, struct cdr_session *s, const char *header_json, const void *payload,
                       size_t payload_len, json_t **plain) {
  struct cdr_buf pt, body, resp;
  struct cdr_pending p;
  json_t *pj = NULL;
  const char *code = NULL, *msg = NULL;
  long status = 0;
  int failed = 0, r;

  *plain = NULL;
  cdr_client_clear_error(c);
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  cdr_buf_init(&body, CDR_MAX_HTTP_BODY, 0);
  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  if ((r = cdr_request_plaintext(&pt, header_json, payload, payload_len)) != 0) {
    cdr_client_set_detail(c, "the request is larger than %u bytes", (unsigned)CDR_MAX_PLAINTEXT);
    goto out;
  }
  r = cdr_request_build(c, s, pt.d, pt.len, &p, &body);
  cdr_buf_free(&pt); /* the plaintext is no longer needed: wipe it now */
  if (r != 0)
    goto out;
  if ((r = cdr_http_raw(c, "POST", "/v1/request", body.d, body.len, &status, &resp)) != 0)
    goto out;
  cdr_buf_free(&body);
  /* Refused by the host's own limits (busy, too large, too slow), the
   * request never reached the enclave, which has not taken this seq: the
   * next request reuses it.  Were such an answer forged after the enclave
   * took it, the next request would be refused as replayed: a failure,
   * never a second execution.  Any other error keeps the seq used. */
  if ((status == 503 || status == 413 || status == 408) && s->seq > 0)
    s->seq--;
  if ((r = cdr_response_verify(c, s, &p, status, cdr_buf_ptr(&resp), cdr_buf_avail(&resp), &pj, &failed)) != 0)
    goto out;
  if (failed) {
    code = cdr_json_get_cstr_opt(pj, "error");
    msg = cdr_json_get_cstr_opt(pj, "message");
    c->remote_error = 1;
    c->remote_sealed = 1;
    cdr_sanitize(c->remote_code, sizeof(c->remote_code), code ? code : "request_failed");
    cdr_sanitize(c->remote_message, sizeof(c->remote_message), msg ? msg : "");
    r = code ? cdr_err_from_code(code) : CDR_ERR_REQUEST_FAILED;
    if (r == 0 || (r == CDR_ERR_INTERNAL && strcmp(code, "internal") != 0))
      r = CDR_ERR_REQUEST_FAILED;
    goto out;
  }
  *plain = pj;
  pj = NULL;
  r = 0;
out:
  json_decref(pj);
  cdr_buf_free(&pt);
  cdr_buf_free(&body);
  cdr_buf_free(&resp);
  return r;
}

/* Compact JSON text of a header object, or CDR_ERR_ARG (e.g. a string
 * that is not valid UTF-8, which json_pack refuses). */
static int header_dump(struct cdr_client *c, json_t *h, char **out, const char *what) {
  if (h == NULL) {
    cdr_client_set_detail(c, "the %s is not valid UTF-8", what);
    return CDR_ERR_ARG;
  }
  *out = cj_dump(h);
  json_decref(h);
  if (*out == NULL)
    return CDR_ERR_NOMEM;
  if (strlen(*out) > HEADER_MAX) {
    cdr_json_text_free(*out);
    *out = NULL;
    cdr_client_set_detail(c, "the %s is longer than the limit", what);
    return CDR_ERR_TOO_LARGE;
  }
  return 0;
}

/* How long cdr_client_query keeps asking while the enclave answers
 * `busy` (the member's cap) or `room_loading` (a table it reads is still
 * loading after the server's start), and its first and longest pause. */
#define QUERY_BUSY_BUDGET_MS 120000
#define QUERY_BUSY_FIRST_MS 10
#define QUERY_BUSY_MAX_MS 500

/* A query's request (by SQL or by template).  The enclave runs at most
 * a few of one member's queries at once and refuses one more, sealed,
 * with `busy` (PROTOCOL 4.7), and refuses a query of a table still
 * loading after the server's start with `room_loading`: ask again after
 * a pause, as a new request of the session, until the budget is spent. */
static int query_request(struct cdr_client *c, struct cdr_session *s, const char *hdr, json_t **result) {
  int r, waited = 0, pause = QUERY_BUSY_FIRST_MS;
  while (((r = cdr_client_request(c, s, hdr, NULL, 0, result)) == CDR_ERR_BUSY || r == CDR_ERR_ROOM_LOADING) &&
         c->remote_sealed && waited < QUERY_BUSY_BUDGET_MS) {
    struct timespec ts = {pause / 1000, (long)(pause % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    waited += pause;
    pause = pause * 2 > QUERY_BUSY_MAX_MS ? QUERY_BUSY_MAX_MS : pause * 2;
  }
  return r;
}

int cdr_client_query(struct cdr_client *c, struct cdr_session *s, const char *sql, json_t **result) {
  char *hdr = NULL;
  int r;
  *result = NULL;
  if ((r = header_dump(c, json_pack("{s:s, s:s}", "op", "query", "sql", sql), &hdr, "SQL text")) != 0)
    return r;
  r = query_request(c, s, hdr, result);
  cdr_json_text_free(hdr); /* the SQL text is confidential */
  return r;
}

int cdr_client_op(struct cdr_client *c, struct cdr_session *s, json_t *header, json_t **result) {
  return cdr_client_op_payload(c, s, header, NULL, 0, result);
}

int cdr_client_op_payload(struct cdr_client *c, struct cdr_session *s, json_t *header, const void *payload,
                          size_t payload_len, json_t **result) {
  char *hdr = NULL;
  int r;
  *result = NULL;
  if (!json_is_object(header)) {
    cdr_client_set_detail(c, "the request header is not a JSON object");
    return CDR_ERR_ARG;
  }
  /* header_dump consumes its argument: give it a reference of its own. */
  if ((r = header_dump(c, json_incref(header), &hdr, "request")) != 0)
    return r;
  /* A query by template is a query: the same cap, the same retries. */
  const char *op = json_string_value(json_object_get(header, "op"));
  if (op != NULL && strcmp(op, "query") == 0 && payload_len == 0)
    r = query_request(c, s, hdr, result);
  else
    r = cdr_client_request(c, s, hdr, payload, payload_len, result);
  cdr_json_text_free(hdr); /* table and user names are confidential */
  return r;
}
