/*
 * routes.c - the handlers of cdrd's HTTP API; see routes.h and
 * docs/PROTOCOL.md section 4, which fixes every field name and encoding.
 *
 * Each POST handler first parses and checks its whole request (a JSON
 * object; every field present with its JSON type; base64 decoded with a
 * cap per field, fixed-size fields exactly; unknown fields ignored),
 * then calls the room or the enclave stub, then renders the answer.
 * A request that fails the checks never reaches the enclave, and the
 * answer names the field that was wrong.
 *
 * Memory: a request body is released as soon as it is parsed, and the
 * answer to /v1/request (up to a 64 MiB ciphertext) is rendered straight
 * into its JSON text: the host holds the enclave's reply and one base64
 * copy of it, not the three more that a json_t and json_dumps would make.
 *
 * The host is untrusted by design: nothing here is secret except the
 * enrollment MAC in transit.  Enrollment is serialised by one mutex so
 * that the PKCS#11 token signs one certificate at a time; enclave calls
 * are serialised inside the link.
 */
#include "routes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_get.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/envelope.h"
#include "crypto/x509.h"
#include "host/openapi.h"

struct host_ctx {
  const struct cdr_room *room;
  struct cdr_ca *ca;
  /* Set before progress says READY (host_ctx_set_link); read by the
   * handlers only once it does. */
  struct enclave_link *link;
  struct host_progress *progress; /* NULL: always ready (tests) */
  struct host_metrics *metrics;   /* NULL: none */
  pthread_mutex_t enroll_lock;
  char *ca_pem;
  char ca_fp_hex[2 * CDR_SHA256_LEN + 1];
};

#define ENCLAVE_DOWN_MSG "the enclave is not running"

/* ---- request parsing: every failure names the field ---- */

/* The body as a JSON object (*out is a new reference).  The body itself
 * is released: every field is read from the object. */
static int req_object(const struct http_request *rq, json_t **out, struct http_reply *rep) {
  json_error_t e;
  json_t *j = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

  http_release_body(rep);

  /* The parser's text may quote the body; only its position goes back. */
  if (j == NULL)
    return http_reply_fail(rep, CDR_ERR_BAD_JSON, "request body is not valid JSON (line %d, column %d)", e.line,
                           e.column);
  if (!json_is_object(j)) {
    json_decref(j);
    return http_reply_fail(rep, CDR_ERR_ARG, "request body must be a JSON object");
  }
  *out = j;
  return 0;
}

/* Word a refusal of common/json_get.h for field `name`, whose JSON type
 * is `what` ("a string", "an integer"): absent or of another type, the
 * answer is 400 bad_request naming the field.  The caller words the
 * refusals that depend on the field (its cap, its range). */
static int field_refuse(struct http_reply *rep, int r, const char *name, const char *what) {
  if (r == CDR_ERR_NOT_FOUND)
    return http_reply_fail(rep, CDR_ERR_ARG, "missing field \"%s\"", name);
  if (r == CDR_ERR_BAD_JSON)
    return http_reply_fail(rep, CDR_ERR_ARG, "field \"%s\" must be %s", name, what);
  if (r == CDR_ERR_NOMEM)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory reading field \"%s\"", name);
  return http_reply_fail(rep, r, "field \"%s\" is not valid", name);
}

/* A string field of at most maxlen bytes; *s borrows from obj. */
static int field_string(json_t *obj, const char *name, size_t maxlen, const char **s, size_t *len,
                        struct http_reply *rep) {
  int r = cdr_json_get_str(obj, name, maxlen, s, len);

  if (r == CDR_ERR_TOO_LARGE)
    return http_reply_fail(rep, CDR_ERR_TOO_LARGE, "field \"%s\" is longer than %zu bytes", name, maxlen);
  return r == 0 ? 0 : field_refuse(rep, r, name, "a string");
}

/* A base64 field decoding to at most maxlen bytes; *out is malloc'd. */
static int field_b64(json_t *obj, const char *name, size_t maxlen, uint8_t **out, size_t *len,
                     struct http_reply *rep) {
  const char *s;
  size_t slen;
  int r;

  /* Standard base64 is 4 characters per 3 bytes, padded. */
  if ((r = field_string(obj, name, (maxlen + 2) / 3 * 4, &s, &slen, rep)) != 0)
    return r;
  r = cdr_b64_decode(out, len, s, maxlen);
  if (r == CDR_ERR_TOO_LARGE)
    return http_reply_fail(rep, CDR_ERR_TOO_LARGE, "field \"%s\" is larger than %zu bytes", name, maxlen);
  if (r == CDR_ERR_NOMEM)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory decoding field \"%s\"", name);
  if (r != 0)
    return http_reply_fail(rep, CDR_ERR_ARG, "field \"%s\" is not standard base64 with padding", name);
  return 0;
}

/* A base64 field of exactly n bytes, decoded into out. */
static int field_b64_exact(json_t *obj, const char *name, uint8_t *out, size_t n, struct http_reply *rep) {
  uint8_t *d = NULL;
  size_t len = 0;
  int r;

  if ((r = field_b64(obj, name, n, &d, &len, rep)) != 0 && r != CDR_ERR_TOO_LARGE)
    return r;
  if (r == CDR_ERR_TOO_LARGE || len != n) {
    free(d);
    return http_reply_fail(rep, CDR_ERR_ARG, "field \"%s\" must be base64 of exactly %zu bytes", name, n);
  }
  memcpy(out, d, n);
  OPENSSL_cleanse(d, n);
  free(d);
  return 0;
}

/* A non-negative JSON integer. */
static int field_u64(json_t *obj, const char *name, uint64_t *out, struct http_reply *rep) {
  int r = cdr_json_get_u64(obj, name, out);

  if (r == CDR_ERR_ARG)
    return http_reply_fail(rep, CDR_ERR_ARG, "field \"%s\" must not be negative", name);
  return r == 0 ? 0 : field_refuse(rep, r, name, "an integer");
}

/* ---- answers ---- */

static int reply_set_b64(json_t *obj, const char *key, const uint8_t *p, size_t n) {
  char *s = NULL;
  int r;

  if ((r = cdr_b64_encode(&s, p, n)) != 0)
    return r;
  r = json_object_set_new(obj, key, json_string_nocheck(s)) == 0 ? 0 : CDR_ERR_NOMEM;
  free(s);
  return r;
}

static int reply_set_hex32(json_t *obj, const char *key, const uint8_t p[32]) {
  char hex[65];
  cdr_hex_encode(hex, p, 32);
  return json_object_set_new(obj, key, json_string_nocheck(hex)) == 0 ? 0 : CDR_ERR_NOMEM;
}

static int reply_set_int(json_t *obj, const char *key, uint64_t v) {
  if (v > (uint64_t)INT64_MAX)
    return CDR_ERR_INTERNAL;
  return json_object_set_new(obj, key, json_integer((json_int_t)v)) == 0 ? 0 : CDR_ERR_NOMEM;
}

static int reply_set_str(json_t *obj, const char *key, const char *s) {
  return json_object_set_new(obj, key, json_string(s)) == 0 ? 0 : CDR_ERR_NOMEM;
}

/* An enclave call failed with r: 503 if the enclave is gone, else its
 * own code and message (they travel in clear; clients treat them as
 * failures, never results). */
static int reply_enclave_error(struct host_ctx *h, struct http_reply *rep, int r, const char *errmsg) {
  if (r == CDR_ERR_INTERNAL && !enclave_link_alive(h->link)) {
    rep->status = 503;
    return http_reply_fail(rep, CDR_ERR_INTERNAL, ENCLAVE_DOWN_MSG);
  }
  if (r == CDR_ERR_NOMEM)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory");
  return http_reply_fail(rep, r, "%s", errmsg != NULL ? errmsg : cdr_err_describe(r));
}

static int reply_enclave_down(struct host_ctx *h, struct http_reply *rep) {
  if (enclave_link_alive(h->link))
    return 0;
  rep->status = 503;
  return http_reply_fail(rep, CDR_ERR_INTERNAL, ENCLAVE_DOWN_MSG);
}

/* Building an answer failed (only NOMEM or an out-of-range integer). */
static int reply_build_failed(struct http_reply *rep, int r) {
  json_decref(rep->body);
  rep->body = NULL;
  if (r == CDR_ERR_NOMEM)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory building the answer");
  return http_reply_fail(rep, CDR_ERR_INTERNAL, "the enclave's answer cannot be represented");
}

/* ---- start-up: GET /v1/health, /v1/ready, /v1/openapi.json ---- */

/* Seconds a client is told to wait while the room loads. */
#define ROOM_LOADING_RETRY_S 2u

static int ctx_ready(struct host_ctx *h) {
  return h->progress == NULL || host_progress_phase(h->progress) == HOST_PHASE_READY;
}

/* The enclave serves: ready, or its tables still loading behind. */
static int ctx_serving(struct host_ctx *h) {
  return ctx_ready(h) || host_progress_phase(h->progress) == HOST_PHASE_LOADING;
}

/* Every route but the three above answers 503 room_loading, with
 * Retry-After, until the enclave has accepted the room's state and
 * serves (PROTOCOL 4.2); its tables may still be loading then. */
static int reply_loading(struct host_ctx *h, struct http_reply *rep) {
  if (ctx_serving(h))
    return 0;
  rep->retry_after = ROOM_LOADING_RETRY_S;
  return http_reply_fail(rep, CDR_ERR_ROOM_LOADING, "the room is %s; GET /v1/health says when it serves requests",
                         host_progress_phase(h->progress) == HOST_PHASE_FAILED ? "failing to start"
                                                                               : "still starting");
}

/* The status body of PROTOCOL 4.2.  ready_only: 503 until ready. */
static int reply_status(struct host_ctx *h, struct http_reply *rep, int ready_only) {
  int r;
  if (ctx_serving(h) && (r = reply_enclave_down(h, rep)) != 0)
    return r;
  if (h->progress != NULL)
    rep->body = host_progress_json(h->progress);
  else
    rep->body = json_pack("{s:s, s:s, s:b, s:i}", "status", "ok", "phase", "ready", "ready", 1, "version",
                          (int)CDR_PROTOCOL_VERSION);
  if (rep->body == NULL)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory");
  if (!ctx_ready(h) && (ready_only || host_progress_phase(h->progress) == HOST_PHASE_FAILED)) {
    rep->status = 503;
    rep->retry_after = ROOM_LOADING_RETRY_S;
  }
  return 0;
}

static int route_health(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  return reply_status(ctx, rep, 0);
}

static int route_ready(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  return reply_status(ctx, rep, 1);
}

/* docs/openapi.json as committed, embedded at build time. */
static int route_openapi(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  if ((rep->text = malloc(cdr_openapi_json_len + 1)) == NULL)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory");
  memcpy(rep->text, cdr_openapi_json, cdr_openapi_json_len);
  rep->text_len = cdr_openapi_json_len;
  return 0;
}

/* ---- GET /v1/room ---- */

static int route_room(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct host_ctx *h = ctx;
  const char *attestation = h->room->attestation;
  int r;

  if ((r = reply_loading(h, rep)) != 0)
    return r;

  /* "auto" is a choice, not a platform: name the one the enclave found. */
  if ((attestation == NULL || strcmp(attestation, "auto") == 0) && h->link != NULL)
    attestation = enclave_link_identity(h->link)->platform;
  rep->body = json_pack("{s:s, s:s, s:s, s:s}", "room_id", h->room->room_id, "name", h->room->name ? h->room->name : "",
                        "ca_certificate", h->ca_pem, "attestation", attestation ? attestation : "sim");
  return rep->body != NULL ? 0 : http_reply_fail(rep, CDR_ERR_INTERNAL, "the room cannot be described");
}

/* ---- POST /v1/enroll ---- */

static int route_enroll(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct host_ctx *h = ctx;
  json_t *req = NULL;
  const char *token_id, *csr;
  size_t token_len, csr_len;
  uint8_t mac[32];
  X509 *cert = NULL;
  char *pem = NULL;
  int r;

  if ((r = reply_loading(h, rep)) != 0 || (r = req_object(rq, &req, rep)) != 0 ||
      (r = field_string(req, "token_id", 64, &token_id, &token_len, rep)) != 0 ||
      (r = field_string(req, "csr", CDR_MAX_CSR_PEM, &csr, &csr_len, rep)) != 0 ||
      (r = field_b64_exact(req, "mac", mac, sizeof(mac), rep)) != 0)
    goto out;
  if (token_len != 32 || !cdr_hex_lower_ok(token_id, token_len)) {
    r = http_reply_fail(rep, CDR_ERR_ARG, "field \"token_id\" must be 32 lower-case hex digits");
    goto out;
  }
  if (h->ca == NULL) {
    r = http_reply_fail(rep, CDR_ERR_HSM, "the room CA is not available");
    goto out;
  }
  pthread_mutex_lock(&h->enroll_lock);
  r = cdr_enroll_redeem(h->room, h->ca, token_id, mac, csr, csr_len, &cert);
  pthread_mutex_unlock(&h->enroll_lock);
  if (r != 0) {
    r = http_reply_fail(rep, r == CDR_ERR_NOMEM ? CDR_ERR_BUSY : r, "%s", cdr_err_describe(r));
    goto out;
  }
  if ((r = cdr_cert_to_pem(cert, &pem)) != 0) {
    r = http_reply_fail(rep, CDR_ERR_INTERNAL, "the issued certificate cannot be encoded");
    goto out;
  }
  log_info("enroll: issued a certificate");
  rep->body = json_pack("{s:s, s:s}", "certificate", pem, "ca_certificate", h->ca_pem);
  if (rep->body == NULL)
    r = reply_build_failed(rep, CDR_ERR_NOMEM);
out:
  OPENSSL_cleanse(mac, sizeof(mac));
  X509_free(cert);
  free(pem);
  json_decref(req);
  return r;
}

/* ---- POST /v1/attest ---- */

static int route_attest(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct host_ctx *h = ctx;
  struct enclave_attestation att;
  const struct enclave_identity *id;
  json_t *req = NULL, *certs = NULL;
  uint8_t nonce[CDR_NONCE_LEN];
  char *errmsg = NULL;
  int r;

  memset(&att, 0, sizeof(att));
  if ((r = reply_loading(h, rep)) != 0 || (r = req_object(rq, &req, rep)) != 0 ||
      (r = field_b64_exact(req, "nonce", nonce, sizeof(nonce), rep)) != 0 ||
      (r = reply_enclave_down(h, rep)) != 0)
    goto out;
  if ((r = enclave_attest(h->link, nonce, &att, &errmsg)) != 0) {
    r = reply_enclave_error(h, rep, r, errmsg);
    goto out;
  }
  id = enclave_link_identity(h->link);
  if ((rep->body = json_object()) == NULL || (certs = json_array()) == NULL) {
    r = reply_build_failed(rep, CDR_ERR_NOMEM);
    goto out;
  }
  for (size_t i = 0; i < att.ncerts; i++) {
    char *s = NULL;
    if ((r = cdr_b64_encode(&s, att.certs[i], att.cert_lens[i])) != 0 ||
        (r = json_array_append_new(certs, json_string_nocheck(s)) == 0 ? 0 : CDR_ERR_NOMEM) != 0) {
      free(s);
      r = reply_build_failed(rep, r);
      goto out;
    }
    free(s);
  }
  if ((r = reply_set_str(rep->body, "platform", att.platform)) != 0 ||
      (r = reply_set_b64(rep->body, "evidence", att.evidence, att.evidence_len)) != 0 ||
      (r = json_object_set(rep->body, "certificates", certs) == 0 ? 0 : CDR_ERR_NOMEM) != 0 ||
      (r = reply_set_b64(rep->body, "identity_public_key", id->identity_spki, id->identity_spki_len)) != 0 ||
      (r = reply_set_str(rep->body, "room_id", h->room->room_id)) != 0 ||
      (r = reply_set_str(rep->body, "ca_fingerprint", h->ca_fp_hex)) != 0 ||
      (r = reply_set_hex32(rep->body, "contract_sha256", att.contract_sha256)) != 0 ||
      (r = reply_set_int(rep->body, "contract_version", att.contract_version)) != 0) {
    r = reply_build_failed(rep, r);
    goto out;
  }
out:
  json_decref(certs);
  json_decref(req);
  enclave_attestation_free(&att);
  free(errmsg);
  return r;
}

/* ---- POST /v1/session ---- */

static int route_session(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct host_ctx *h = ctx;
  struct cdr_open_req q;
  struct cdr_open_resp p;
  struct cdr_buf reply;
  json_t *req = NULL;
  uint8_t *cert = NULL, *spki = NULL, *sig = NULL;
  uint64_t version = 0;
  char *errmsg = NULL;
  int r;

  memset(&q, 0, sizeof(q));
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if ((r = reply_loading(h, rep)) != 0 || (r = req_object(rq, &req, rep)) != 0)
    goto out;
  /* A version out of range is unsupported, not malformed. */
  r = cdr_json_get_u64(req, "version", &version);
  if (r == CDR_ERR_ARG || (r == 0 && version > UINT32_MAX)) {
    r = http_reply_fail(rep, CDR_ERR_UNSUPPORTED_VERSION, "protocol version %lld is not supported",
                        (long long)json_integer_value(json_object_get(req, "version")));
    goto out;
  }
  if (r != 0) {
    r = field_refuse(rep, r, "version", "an integer");
    goto out;
  }
  q.version = (uint32_t)version;
  if ((r = field_b64(req, "certificate", CDR_MAX_CERT_DER, &cert, &q.cert_len, rep)) != 0 ||
      (r = field_b64(req, "user_public_key", CDR_MAX_PUBKEY_DER, &spki, &q.user_spki_len, rep)) != 0 ||
      (r = field_b64_exact(req, "client_key_share", q.client_share, sizeof(q.client_share), rep)) != 0 ||
      (r = field_b64_exact(req, "client_nonce", q.client_nonce, sizeof(q.client_nonce), rep)) != 0 ||
      (r = field_u64(req, "timestamp", &q.timestamp, rep)) != 0 ||
      (r = field_b64(req, "signature", CDR_MAX_SIGNATURE, &sig, &q.sig_len, rep)) != 0)
    goto out;
  q.cert_der = cert;
  q.user_spki = spki;
  q.sig = sig;
  if ((r = reply_enclave_down(h, rep)) != 0)
    goto out;
  if ((r = enclave_open_session(h->link, &q, &p, &reply, &errmsg)) != 0) {
    r = reply_enclave_error(h, rep, r, errmsg);
    goto out;
  }
  if ((rep->body = json_object()) == NULL) {
    r = reply_build_failed(rep, CDR_ERR_NOMEM);
    goto out;
  }
  if ((r = reply_set_b64(rep->body, "session_id", p.session_id, sizeof(p.session_id))) != 0 ||
      (r = reply_set_int(rep->body, "expires_at", p.expires_at)) != 0 ||
      (r = reply_set_str(rep->body, "kem", cdr_kem_name(p.kem))) != 0 ||
      (r = reply_set_b64(rep->body, "encapsulated_key", p.encap, p.encap_len)) != 0 ||
      (r = reply_set_b64(rep->body, "sealed", p.sealed, p.sealed_len)) != 0 ||
      (r = reply_set_b64(rep->body, "signature", p.sig, p.sig_len)) != 0) {
    r = reply_build_failed(rep, r);
    goto out;
  }
  if (h->metrics != NULL)
    host_metrics_session_opened(h->metrics, p.expires_at);
out:
  free(cert);
  free(spki);
  free(sig);
  free(errmsg);
  cdr_buf_free(&reply);
  json_decref(req);
  return r;
}

/* ---- POST /v1/request ---- */

/* Render the answer to /v1/request into rep->text (PROTOCOL 4.7):
 *   {"session_id":"<b64>","seq":n,"status":"ok"|"failed","ciphertext":"<b64>"}
 * and for a failure also "error":"request_failed" and a fixed message
 * (the reason is sealed in the ciphertext; the host cannot read it).
 * Every string but the base64 ones is a constant, so nothing needs
 * escaping. */
static int reply_response_text(struct http_reply *rep, const struct cdr_response_env *resp) {
  static const char failed_tail[] = ",\"error\":\"request_failed\",\"message\":\"the enclave refused the request; "
                                    "the reason is sealed in the ciphertext\"";
  char sid[((CDR_SESSION_ID_LEN + 2) / 3) * 4 + 1], head[256];
  size_t ct64, cap, n;
  int k;

  if (resp->seq > (uint64_t)INT64_MAX || resp->ct_len > (size_t)INT32_MAX / 4 * 3 - 3)
    return reply_build_failed(rep, CDR_ERR_INTERNAL);
  (void)EVP_EncodeBlock((unsigned char *)sid, resp->session_id, CDR_SESSION_ID_LEN);
  k = snprintf(head, sizeof(head), "{\"session_id\":\"%s\",\"seq\":%llu,\"status\":\"%s\",\"ciphertext\":\"", sid,
               (unsigned long long)resp->seq, resp->status == CDR_STATUS_OK ? "ok" : "failed");
  if (k < 0 || (size_t)k >= sizeof(head))
    return reply_build_failed(rep, CDR_ERR_INTERNAL);
  ct64 = (resp->ct_len + 2) / 3 * 4;
  cap = (size_t)k + ct64 + sizeof(failed_tail) + 3;
  if ((rep->text = malloc(cap)) == NULL)
    return reply_build_failed(rep, CDR_ERR_NOMEM);
  memcpy(rep->text, head, (size_t)k);
  n = (size_t)k;
  if (EVP_EncodeBlock((unsigned char *)rep->text + n, resp->ct, (int)resp->ct_len) != (int)ct64) {
    free(rep->text);
    rep->text = NULL;
    return reply_build_failed(rep, CDR_ERR_INTERNAL);
  }
  n += ct64;
  rep->text[n++] = '"';
  if (resp->status != CDR_STATUS_OK) {
    memcpy(rep->text + n, failed_tail, sizeof(failed_tail) - 1);
    n += sizeof(failed_tail) - 1;
  }
  rep->text[n++] = '}';
  rep->text_len = n;
  return 0;
}

static int route_request(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct host_ctx *h = ctx;
  struct cdr_request_env e;
  struct cdr_response_env resp;
  struct cdr_buf reply;
  json_t *req = NULL;
  uint8_t *ct = NULL, *sig = NULL;
  char *errmsg = NULL;
  int r;

  memset(&e, 0, sizeof(e));
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if ((r = reply_loading(h, rep)) != 0 || (r = req_object(rq, &req, rep)) != 0 ||
      (r = field_b64_exact(req, "session_id", e.session_id, sizeof(e.session_id), rep)) != 0 ||
      (r = field_u64(req, "seq", &e.seq, rep)) != 0 || (r = field_u64(req, "timestamp", &e.timestamp, rep)) != 0 ||
      (r = field_b64(req, "ciphertext", CDR_MAX_REQUEST_CIPHERTEXT, &ct, &e.ct_len, rep)) != 0 ||
      (r = field_b64(req, "signature", CDR_MAX_SIGNATURE, &sig, &e.sig_len, rep)) != 0)
    goto out;
  e.ct = ct;
  e.sig = sig;
  /* The ciphertext is the largest thing the host holds: drop the JSON
   * copy of it before the enclave round trip doubles it again. */
  json_decref(req);
  req = NULL;
  if ((r = reply_enclave_down(h, rep)) != 0)
    goto out;
  if ((r = enclave_request(h->link, &e, &resp, &reply, &errmsg)) != 0) {
    r = reply_enclave_error(h, rep, r, errmsg);
    goto out;
  }
  free(ct);
  ct = NULL;
  if ((r = reply_response_text(rep, &resp)) != 0)
    goto out;
  if (resp.status != CDR_STATUS_OK)
    rep->status = cdr_err_http_status(CDR_ERR_REQUEST_FAILED);
out:
  free(ct);
  free(sig);
  free(errmsg);
  cdr_buf_free(&reply);
  json_decref(req);
  return r;
}

/* ---- the table and the context ---- */

static const struct http_route routes_table[] = {
    {"GET", "/v1/health", route_health},   {"GET", "/v1/room", route_room},
    {"POST", "/v1/enroll", route_enroll},  {"POST", "/v1/attest", route_attest},
    {"POST", "/v1/session", route_session}, {"POST", "/v1/request", route_request},
    /* Appended, so that the fuzz corpus's route bytes keep their routes. */
    {"GET", "/v1/ready", route_ready},     {"GET", "/v1/openapi.json", route_openapi},
};

const struct http_route *host_routes(size_t *n) {
  *n = sizeof(routes_table) / sizeof(routes_table[0]);
  return routes_table;
}

int host_ctx_new(struct host_ctx **out, const struct cdr_room *room, struct cdr_ca *ca,
                 struct enclave_link *link) {
  struct host_ctx *h = NULL;
  uint8_t fp[CDR_SHA256_LEN];
  int r, lock_ready = 0;

  *out = NULL;
  if (room == NULL || room->ca_cert == NULL) {
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((h = calloc(1, sizeof(*h))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  h->room = room;
  h->ca = ca;
  h->link = link;
  if (pthread_mutex_init(&h->enroll_lock, NULL) != 0) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  lock_ready = 1;
  if ((r = cdr_cert_to_pem(room->ca_cert, &h->ca_pem)) != 0 || (r = cdr_cert_fingerprint(room->ca_cert, fp)) != 0)
    goto out;
  cdr_hex_encode(h->ca_fp_hex, fp, sizeof(fp));
  *out = h;
  h = NULL;
  r = 0;
out:
  if (h != NULL) {
    if (lock_ready)
      pthread_mutex_destroy(&h->enroll_lock);
    free(h->ca_pem);
    free(h);
  }
  return r;
}

void host_ctx_set_progress(struct host_ctx *h, struct host_progress *progress, struct host_metrics *metrics) {
  h->progress = progress;
  h->metrics = metrics;
}

void host_ctx_set_link(struct host_ctx *h, struct enclave_link *link) { h->link = link; }

void host_ctx_free(struct host_ctx *h) {
  if (h == NULL)
    return;
  pthread_mutex_destroy(&h->enroll_lock);
  free(h->ca_pem);
  free(h);
}
