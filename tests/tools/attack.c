/*
 * attack.c - protocol attacks against a live CDR server, through the
 * client library that `cdr` uses.  Each attack expects its own error.
 *
 *   attack URL CA KEY CERT OTHER_KEY FOREIGN_KEY FOREIGN_CERT EXPIRED_KEY EXPIRED_CERT
 *
 * KEY/CERT: an enrolled analyst of the room; OTHER_KEY: some other key;
 * FOREIGN_*: enrolled in another room; EXPIRED_*: a certificate of this
 * room that has expired.  The room must hold a table `t`.
 * Prints "ok - ..." / "FAIL - ..." per check and "N passed, N failed".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

static int passed, failed;

static void result(int ok, const char *what, const struct cdr_client *c, int r) {
  if (ok) {
    passed++;
    printf("ok - %s\n", what);
  } else {
    failed++;
    printf("FAIL - %s (r=%s, http=%ld, remote=%s: %s)\n", what, cdr_err_code(r), c->http_status, c->remote_code,
           c->remote_message);
  }
}

/* Send body to path; return the cdr_err the server's answer maps to (0 for 2xx). */
static int send_raw(struct cdr_client *c, const char *path, const void *body, size_t len, long *status,
                    struct cdr_buf *resp) {
  int r;
  cdr_buf_free(resp);
  cdr_client_clear_error(c);
  if ((r = cdr_http_raw(c, "POST", path, body, len, status, resp)) != 0)
    return r;
  c->http_status = *status;
  if (*status == 200)
    return 0;
  return cdr_http_error(c, *status, resp->d, resp->len);
}

/* Replace the value of a string field in a JSON body. */
static char *json_set(const uint8_t *body, size_t len, const char *field, json_t *value) {
  json_t *o = json_loadb((const char *)body, len, 0, NULL);
  json_object_set_new(o, field, value);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  return s;
}

/* Flip one bit of a base64 field in a JSON body. */
static char *json_flip_b64(const uint8_t *body, size_t len, const char *field, size_t at) {
  json_t *o = json_loadb((const char *)body, len, 0, NULL);
  uint8_t *raw;
  size_t n;
  char *b64;
  if (cdr_b64_decode(&raw, &n, json_string_value(json_object_get(o, field)), 1u << 28) != 0 || n == 0)
    abort();
  raw[at % n] ^= 0x01;
  if (cdr_b64_encode(&b64, raw, n) != 0)
    abort();
  json_object_set_new(o, field, json_string(b64));
  char *s = json_dumps(o, JSON_COMPACT);
  free(raw);
  free(b64);
  json_decref(o);
  return s;
}

static int open_session(struct cdr_client *c, struct cdr_attestation *att, struct cdr_session **s) {
  int r = cdr_session_open(c, att, s);
  if (r != 0)
    fprintf(stderr, "attack: session open failed: %s %s %s\n", cdr_err_code(r), c->remote_code, c->detail);
  return r;
}

static int query_pt(struct cdr_buf *pt, const char *sql) {
  json_t *h = json_pack("{s:s,s:s}", "op", "query", "sql", sql);
  char *hj = json_dumps(h, JSON_COMPACT);
  int r = cdr_request_plaintext(pt, hj, NULL, 0);
  free(hj);
  json_decref(h);
  return r;
}

int main(int argc, char **argv) {
  if (argc != 10) {
    fprintf(stderr, "usage: attack URL CA KEY CERT OTHER_KEY FOREIGN_KEY FOREIGN_CERT EXPIRED_KEY EXPIRED_CERT\n");
    return 2;
  }
  const char *url = argv[1], *ca = argv[2], *key = argv[3], *cert = argv[4], *other_key = argv[5];
  struct cdr_client *c = NULL;
  struct cdr_attestation att;
  struct cdr_session *s = NULL;
  struct cdr_buf pt, body, resp, body2, resp2;
  struct cdr_pending p, p2;
  long st = 0, st2 = 0;
  int r, failed_flag;
  json_t *plain = NULL;
  memset(&att, 0, sizeof(att));
  cdr_buf_init(&pt, 1u << 20, 0);
  cdr_buf_init(&body, CDR_MAX_HTTP_BODY, 0);
  cdr_buf_init(&body2, CDR_MAX_HTTP_BODY, 0);
  cdr_buf_init(&resp, CDR_MAX_HTTP_BODY, 0);
  cdr_buf_init(&resp2, CDR_MAX_HTTP_BODY, 0);

  if (cdr_client_new(&c, url) != 0 || cdr_client_set_ca_file(c, ca) != 0 || cdr_client_load_user(c, key, cert) != 0) {
    fprintf(stderr, "attack: cannot set up the client\n");
    return 2;
  }
  cdr_client_allow_sim(c, 1);
  if ((r = cdr_client_attest(c, &att)) != 0) {
    fprintf(stderr, "attack: attestation failed: %s\n", cdr_err_code(r));
    return 2;
  }
  if (open_session(c, &att, &s) != 0 || query_pt(&pt, "SELECT count(*) FROM t") != 0)
    return 2;

  /* 1. A good request, then the same bytes again: replay. */
  r = cdr_request_build(c, s, pt.d, pt.len, &p, &body);
  r = r ? r : send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
  result(r == 0 && st == 200, "a well-formed request is answered", c, r);
  r = cdr_response_verify(c, s, &p, st, resp.d, resp.len, &plain, &failed_flag);
  result(r == 0 && !failed_flag, "its response authenticates", c, r);
  json_decref(plain);
  plain = NULL;
  r = send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
  result(r == CDR_ERR_REPLAY && strcmp(c->remote_code, "replayed") == 0, "a replayed request is refused (replayed)", c, r);

  /* 2. Skipping ahead: out_of_order; the skipped number still works after. */
  cdr_buf_free(&body);
  r = cdr_request_build_ex(c, s, s->seq + 2, (uint64_t)cdr_now(), pt.d, pt.len, &p2, &body);
  r = r ? r : send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
  result(r == CDR_ERR_OUT_OF_ORDER, "a request that skips a sequence number is refused (out_of_order)", c, r);

  /* 3. A flipped ciphertext bit, signature unchanged: bad_signature. */
  cdr_buf_free(&body);
  r = cdr_request_build_ex(c, s, s->seq + 1, (uint64_t)cdr_now(), pt.d, pt.len, &p, &body);
  char *tampered = json_flip_b64(body.d, body.len, "ciphertext", 5);
  r = send_raw(c, "/v1/request", tampered, strlen(tampered), &st, &resp);
  free(tampered);
  result(r == CDR_ERR_BAD_SIGNATURE, "a flipped ciphertext bit is refused (bad_signature)", c, r);

  /* 4. A corrupted signature. */
  tampered = json_flip_b64(body.d, body.len, "signature", 20);
  r = send_raw(c, "/v1/request", tampered, strlen(tampered), &st, &resp);
  free(tampered);
  result(r == CDR_ERR_BAD_SIGNATURE, "a corrupted signature is refused (bad_signature)", c, r);

  /* 5. A flipped ciphertext bit re-signed by the user: the AEAD catches it. */
  {
    json_t *o = json_loadb((const char *)body.d, body.len, 0, NULL);
    uint8_t *ct, *sid;
    size_t ctn, sidn;
    struct cdr_buf sin, sig;
    char *b64ct, *b64sig;
    cdr_buf_init(&sin, 4096, 0);
    cdr_buf_init(&sig, 4096, 0);
    if (cdr_b64_decode(&ct, &ctn, json_string_value(json_object_get(o, "ciphertext")), 1u << 28) != 0 ||
        cdr_b64_decode(&sid, &sidn, json_string_value(json_object_get(o, "session_id")), 64) != 0 || sidn != 16)
      abort();
    ct[3] ^= 0x40;
    struct cdr_request_env env = {.seq = (uint64_t)json_integer_value(json_object_get(o, "seq")),
                                  .timestamp = (uint64_t)json_integer_value(json_object_get(o, "timestamp")),
                                  .ct = ct, .ct_len = ctn};
    memcpy(env.session_id, sid, 16);
    if (cdr_request_sig_input(&sin, &env) != 0 || cdr_sign(&sig, c->key, sin.d, sin.len) != 0 ||
        cdr_b64_encode(&b64ct, ct, ctn) != 0 || cdr_b64_encode(&b64sig, sig.d, sig.len) != 0)
      abort();
    json_object_set_new(o, "ciphertext", json_string(b64ct));
    json_object_set_new(o, "signature", json_string(b64sig));
    char *resigned = json_dumps(o, JSON_COMPACT);
    r = send_raw(c, "/v1/request", resigned, strlen(resigned), &st, &resp);
    result(r == CDR_ERR_DECRYPT, "a tampered ciphertext with a valid signature is refused (decrypt_failed)", c, r);
    free(resigned);
    free(b64ct);
    free(b64sig);
    free(ct);
    free(sid);
    cdr_buf_free(&sin);
    cdr_buf_free(&sig);
    json_decref(o);
  }
  /* The refused attempts did not burn the sequence number. */
  r = send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
  result(r == 0, "the untampered request at that sequence number still succeeds", c, r);
  s->seq = p.seq;

  /* 6. Old timestamp. */
  cdr_buf_free(&body);
  r = cdr_request_build_ex(c, s, s->seq + 1, (uint64_t)cdr_now() - 1000, pt.d, pt.len, &p, &body);
  r = r ? r : send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
  result(r == CDR_ERR_CLOCK_SKEW, "a stale request is refused (timestamp_out_of_window)", c, r);

  /* 7. Unknown session. */
  {
    struct cdr_session fake = *s;
    fake.id[0] ^= 0xff;
    cdr_buf_free(&body);
    r = cdr_request_build_ex(c, &fake, 1, (uint64_t)cdr_now(), pt.d, pt.len, &p, &body);
    r = r ? r : send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
    result(r == CDR_ERR_SESSION_UNKNOWN, "a request for an unknown session is refused (session_unknown)", c, r);
  }

  /* 8. Forged and swapped results: the client must refuse them. */
  cdr_buf_free(&body);
  r = cdr_request_build(c, s, pt.d, pt.len, &p, &body);
  r = r ? r : send_raw(c, "/v1/request", body.d, body.len, &st, &resp);
  cdr_buf_free(&body2);
  r = r ? r : cdr_request_build(c, s, pt.d, pt.len, &p2, &body2);
  r = r ? r : send_raw(c, "/v1/request", body2.d, body2.len, &st2, &resp2);
  result(r == 0, "two more requests are answered", c, r);
  r = cdr_response_verify(c, s, &p2, st, resp.d, resp.len, &plain, &failed_flag);
  result(r == CDR_ERR_RESPONSE_FORGED, "the response to request 1 is refused as the answer to request 2", c, r);
  char *forged = json_flip_b64(resp.d, resp.len, "ciphertext", 7);
  r = cdr_response_verify(c, s, &p, st, (const uint8_t *)forged, strlen(forged), &plain, &failed_flag);
  free(forged);
  result(r == CDR_ERR_RESPONSE_FORGED, "a response with a flipped ciphertext bit is refused", c, r);
  forged = json_set(resp.d, resp.len, "status", json_string("failed"));
  r = cdr_response_verify(c, s, &p, 422, (const uint8_t *)forged, strlen(forged), &plain, &failed_flag);
  free(forged);
  result(r == CDR_ERR_RESPONSE_FORGED, "a response whose status was flipped is refused", c, r);
  r = cdr_response_verify(c, s, &p, st, resp.d, resp.len, &plain, &failed_flag);
  result(r == 0 && !failed_flag, "the genuine response still authenticates", c, r);
  json_decref(plain);
  plain = NULL;

  /* 9. Session-open attacks. */
  {
    struct cdr_open_pending op;
    char *ob = NULL;
    memset(&op, 0, sizeof(op));
    /* A tampered answer: flip a bit of the sealed parameters / signature. */
    r = cdr_session_open_build(c, 0, &op, &ob);
    r = r ? r : send_raw(c, "/v1/session", ob, strlen(ob), &st, &resp);
    result(r == 0, "a session-open request is answered", c, r);
    const char *fields[] = {"sealed", "encapsulated_key", "signature"};
    for (int i = 0; i < 3; i++) {
      char *t = json_flip_b64(resp.d, resp.len, fields[i], 9);
      json_t *o = json_loads(t, 0, NULL);
      struct cdr_session *s2 = NULL;
      r = cdr_session_open_finish(c, att.identity, &op, o, &s2);
      char what[128];
      snprintf(what, sizeof(what), "a session-open answer with a tampered %s is refused", fields[i]);
      result(r == CDR_ERR_RESPONSE_FORGED, what, c, r);
      cdr_session_free(s2);
      json_decref(o);
      free(t);
    }
    /* The genuine answer checked against another identity key (a host
     * substituting its own E_pub would need to sign with one). */
    {
      EVP_PKEY *impostor = NULL;
      json_t *o = json_loadb((const char *)resp.d, resp.len, 0, NULL);
      struct cdr_session *s2 = NULL;
      if (cdr_ec_p256_generate(&impostor) != 0)
        abort();
      r = cdr_session_open_finish(c, impostor, &op, o, &s2);
      result(r == CDR_ERR_RESPONSE_FORGED, "a session-open answer not signed by the attested identity is refused", c, r);
      cdr_session_free(s2);
      r = cdr_session_open_finish(c, att.identity, &op, o, &s2);
      result(r == 0, "the genuine session-open answer is accepted", c, r);
      cdr_session_free(s2);
      json_decref(o);
      EVP_PKEY_free(impostor);
    }
    free(ob);
    cdr_open_pending_clear(&op);

    /* A stale session-open request. */
    memset(&op, 0, sizeof(op));
    r = cdr_session_open_build(c, (uint64_t)cdr_now() - 3600, &op, &ob);
    r = r ? r : send_raw(c, "/v1/session", ob, strlen(ob), &st, &resp);
    result(r == CDR_ERR_CLOCK_SKEW, "a stale session-open request is refused (timestamp_out_of_window)", c, r);
    free(ob);
    cdr_open_pending_clear(&op);

    /* The certificate's key is not the sender's key. */
    EVP_PKEY *other = NULL;
    uint8_t *ospki = NULL;
    size_t ospki_len = 0;
    if (cdr_key_load_pem(other_key, &other) != 0 || cdr_pubkey_to_der(other, &ospki, &ospki_len) != 0)
      abort();
    EVP_PKEY *mine = c->key;
    uint8_t *myspki = c->spki;
    size_t myspki_len = c->spki_len;
    c->key = other;
    c->spki = ospki;
    c->spki_len = ospki_len;
    memset(&op, 0, sizeof(op));
    r = cdr_session_open_build(c, 0, &op, &ob);
    r = r ? r : send_raw(c, "/v1/session", ob, strlen(ob), &st, &resp);
    result(r == CDR_ERR_CERT_KEY_MISMATCH, "a certificate sent with another key is refused (cert_key_mismatch)", c, r);
    free(ob);
    cdr_open_pending_clear(&op);
    /* The certified public key, but a signature by another key. */
    c->spki = myspki;
    c->spki_len = myspki_len;
    memset(&op, 0, sizeof(op));
    r = cdr_session_open_build(c, 0, &op, &ob);
    r = r ? r : send_raw(c, "/v1/session", ob, strlen(ob), &st, &resp);
    result(r == CDR_ERR_BAD_SIGNATURE, "a session-open request signed by another key is refused (bad_signature)", c, r);
    free(ob);
    cdr_open_pending_clear(&op);
    c->key = mine;
    EVP_PKEY_free(other);
    OPENSSL_free(ospki);
  }

  /* 10. Foreign and expired certificates, as the enclave judges them. */
  const char *certs[2][3] = {{argv[6], argv[7], "cert_untrusted"}, {argv[8], argv[9], "cert_expired"}};
  for (int i = 0; i < 2; i++) {
    struct cdr_client *c2 = NULL;
    struct cdr_open_pending op;
    char *ob = NULL;
    memset(&op, 0, sizeof(op));
    if (cdr_client_new(&c2, url) != 0 || cdr_client_set_ca_file(c2, ca) != 0 ||
        cdr_client_load_user(c2, certs[i][0], certs[i][1]) != 0)
      abort();
    r = cdr_session_open_build(c2, 0, &op, &ob);
    r = r ? r : send_raw(c2, "/v1/session", ob, strlen(ob), &st, &resp);
    char what[128];
    snprintf(what, sizeof(what), "the enclave refuses the certificate (%s)", certs[i][2]);
    result(strcmp(c2->remote_code, certs[i][2]) == 0, what, c2, r);
    free(ob);
    cdr_open_pending_clear(&op);
    cdr_client_free(c2);
  }

  cdr_session_free(s);
  cdr_attestation_clear(&att);
  cdr_client_free(c);
  cdr_buf_free(&pt);
  cdr_buf_free(&body);
  cdr_buf_free(&body2);
  cdr_buf_free(&resp);
  cdr_buf_free(&resp2);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
