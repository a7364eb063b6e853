/*
 * session.c - the client side of session opening (PROTOCOL 4.6).
 *
 * Request: a fresh P-256 key share C and 32-byte nonce, signed with the
 * user key U over T_req.  Answer: the enclave's key share E_pub travels
 * only inside `sealed` (sealed to U, associated data H(T_req)), and the
 * identity key I signs T_resp, which covers H(T_req), H(cert), our nonce,
 * the session id, the expiry, E_pub, the KEM and both ciphertext fields.
 *
 * The client believes a session only after: the answer parses exactly;
 * the KEM is the one that matches U's type; `sealed` opens with U and is
 * exactly 89 bytes; the session id and expiry inside equal the ones in
 * clear; E_pub is a valid P-256 point; T_resp, rebuilt from our own
 * values and the decrypted E_pub, verifies under the attested I.  Any
 * failure is CDR_ERR_RESPONSE_FORGED.  Then z = ECDH(C, E_pub) and the
 * session keys are derived into the secure heap; z, C and the decrypted
 * parameters are wiped on every path.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"

#define TRANSCRIPT_MAX (4u * CDR_MAX_CERT_DER + 4u * CDR_KiB)
#define OPEN_FIELD_MAX (2u * CDR_KiB)

void cdr_open_pending_clear(struct cdr_open_pending *p) {
  EVP_PKEY_free(p->c_key);
  OPENSSL_cleanse(p, sizeof(*p));
}

void cdr_session_free(struct cdr_session *s) {
  if (s == NULL)
    return;
  if (s->keys != NULL)
    OPENSSL_secure_clear_free(s->keys, sizeof(*s->keys));
  EVP_PKEY_free(s->identity);
  OPENSSL_cleanse(s, sizeof(*s));
  free(s);
}

int cdr_session_open_build(struct cdr_client *c, uint64_t timestamp, struct cdr_open_pending *p, char **body) {
  struct cdr_open_req q;
  struct cdr_buf treq, sig;
  char *b_cert = NULL, *b_spki = NULL, *b_share = NULL, *b_nonce = NULL, *b_sig = NULL;
  json_t *j = NULL;
  int r;

  memset(p, 0, sizeof(*p));
  *body = NULL;
  cdr_buf_init(&treq, TRANSCRIPT_MAX, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  if (c->key == NULL || c->cert_der == NULL) {
    cdr_client_set_detail(c, "no user key and certificate");
    r = CDR_ERR_ARG;
    goto out;
  }
  p->timestamp = timestamp != 0 ? timestamp : (uint64_t)cdr_now();
  if ((r = cdr_ec_p256_generate(&p->c_key)) != 0 || (r = cdr_p256_point_get(p->c_pub, p->c_key)) != 0 ||
      (r = cdr_random(p->client_nonce, sizeof(p->client_nonce))) != 0 ||
      (r = cdr_sha256(p->cert_fp, c->cert_der, c->cert_len)) != 0)
    goto out;
  memset(&q, 0, sizeof(q));
  q.version = CDR_PROTOCOL_VERSION;
  q.cert_der = c->cert_der;
  q.cert_len = c->cert_len;
  q.user_spki = c->spki;
  q.user_spki_len = c->spki_len;
  memcpy(q.client_share, p->c_pub, sizeof(q.client_share));
  memcpy(q.client_nonce, p->client_nonce, sizeof(q.client_nonce));
  q.timestamp = p->timestamp;
  if ((r = cdr_open_req_transcript(&treq, &q)) != 0 || (r = cdr_sha256(p->treq_hash, treq.d, treq.len)) != 0 ||
      (r = cdr_sign(&sig, c->key, treq.d, treq.len)) != 0)
    goto out;
  if ((r = cdr_b64_encode(&b_cert, c->cert_der, c->cert_len)) != 0 ||
      (r = cdr_b64_encode(&b_spki, c->spki, c->spki_len)) != 0 ||
      (r = cdr_b64_encode(&b_share, p->c_pub, sizeof(p->c_pub))) != 0 ||
      (r = cdr_b64_encode(&b_nonce, p->client_nonce, sizeof(p->client_nonce))) != 0 ||
      (r = cdr_b64_encode(&b_sig, sig.d, sig.len)) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s}", "version", (int)CDR_PROTOCOL_VERSION, "certificate", b_cert,
                "user_public_key", b_spki, "client_key_share", b_share, "client_nonce", b_nonce, "timestamp",
                (json_int_t)p->timestamp, "signature", b_sig);
  if (j == NULL || (*body = cj_dump(j)) == NULL)
    goto out;
  r = 0;
out:
  if (r != 0)
    cdr_open_pending_clear(p);
  json_decref(j);
  free(b_cert);
  free(b_spki);
  free(b_share);
  free(b_nonce);
  free(b_sig);
  cdr_buf_free(&treq);
  cdr_buf_free(&sig);
  return r;
}

int cdr_session_open_finish(struct cdr_client *c, EVP_PKEY *identity, const struct cdr_open_pending *p,
                            const json_t *resp, struct cdr_session **out) {
  struct cdr_open_resp o;
  struct cdr_buf params, tresp, pb;
  struct cdr_session *s = NULL;
  uint8_t *encap = NULL, *sealed = NULL, *sig = NULL;
  size_t encap_len = 0, sealed_len = 0, sig_len = 0;
  uint8_t sid_in[CDR_SESSION_ID_LEN], e_pub[CDR_P256_POINT_LEN], z[32];
  uint64_t exp_in = 0;
  const char *kem_name;
  EVP_PKEY *e_key = NULL;
  int kem, r = CDR_ERR_RESPONSE_FORGED;

  *out = NULL;
  memset(&o, 0, sizeof(o));
  cdr_buf_init(&params, CDR_SESSION_PARAMS_LEN + 64, 1);
  cdr_buf_init(&tresp, TRANSCRIPT_MAX, 0);

  if (cdr_json_get_b64_exact(resp, "session_id", o.session_id, sizeof(o.session_id)) != 0 ||
      cdr_json_get_u64(resp, "expires_at", &o.expires_at) != 0 ||
      cdr_json_get_cstr(resp, "kem", SIZE_MAX, &kem_name) != 0 ||
      cdr_json_get_b64(resp, "encapsulated_key", OPEN_FIELD_MAX, &encap, &encap_len) != 0 ||
      cdr_json_get_b64(resp, "sealed", OPEN_FIELD_MAX, &sealed, &sealed_len) != 0 ||
      cdr_json_get_b64(resp, "signature", CDR_MAX_SIGNATURE, &sig, &sig_len) != 0) {
    cdr_client_set_detail(c, "the session-open answer is missing a field or has a malformed one");
    goto out;
  }
  kem = cdr_kem_from_name(kem_name);
  if (kem < 0 || kem != (EVP_PKEY_is_a(c->key, "EC") ? CDR_KEM_ECDH_P256 : CDR_KEM_RSA_OAEP_SHA256)) {
    cdr_client_set_detail(c, "the session-open answer uses a KEM that does not match your key");
    goto out;
  }
  o.kem = (uint8_t)kem;
  o.encap = encap;
  o.encap_len = encap_len;
  o.sealed = sealed;
  o.sealed_len = sealed_len;
  o.sig = sig;
  o.sig_len = sig_len;

  /* Verify before decrypting: T_resp covers the sealed bytes, so nothing
   * the host made up reaches our private key. */
  if (cdr_open_resp_transcript(&tresp, p->treq_hash, p->cert_fp, p->client_nonce, &o) != 0 ||
      cdr_verify(identity, tresp.d, tresp.len, sig, sig_len) != 0) {
    cdr_client_set_detail(c, "the session-open answer is not signed by the attested enclave identity key");
    goto out;
  }
  /* P = session_id || u64be(expires_at) || E_pub, sealed to U over H(T_req). */
  if (cdr_open_sealed(c->key, o.kem, encap, encap_len, p->treq_hash, sizeof(p->treq_hash), sealed, sealed_len,
                      &params) != 0 ||
      params.len != CDR_SESSION_PARAMS_LEN) {
    cdr_client_set_detail(c, "the sealed session parameters do not open with your key");
    goto out;
  }
  cdr_buf_view(&pb, params.d, params.len);
  if (cdr_buf_get(&pb, sid_in, sizeof(sid_in)) != 0 || cdr_buf_get_u64(&pb, &exp_in) != 0 ||
      cdr_buf_get(&pb, e_pub, sizeof(e_pub)) != 0 || cdr_buf_expect_end(&pb) != 0)
    goto out;
  if (!cdr_ct_equal(sid_in, o.session_id, sizeof(sid_in)) || exp_in != o.expires_at) {
    cdr_client_set_detail(c, "the sealed session id or expiry differs from the one in clear");
    goto out;
  }
  if (cdr_p256_point_to_key(&e_key, e_pub) != 0) {
    cdr_client_set_detail(c, "the enclave key share is not a valid P-256 point");
    goto out;
  }

  r = CDR_ERR_NOMEM;
  if ((s = calloc(1, sizeof(*s))) == NULL || (s->keys = OPENSSL_secure_zalloc(sizeof(*s->keys))) == NULL)
    goto out;
  if ((r = cdr_ecdh_p256(z, p->c_key, e_key)) != 0 ||
      (r = cdr_session_keys_derive(s->keys, z, p->treq_hash, o.session_id)) != 0)
    goto out;
  memcpy(s->id, o.session_id, sizeof(s->id));
  s->expires_at = o.expires_at;
  s->seq = 0;
  EVP_PKEY_up_ref(identity);
  s->identity = identity;
  *out = s;
  s = NULL;
  r = 0;
out:
  OPENSSL_cleanse(z, sizeof(z));
  OPENSSL_cleanse(e_pub, sizeof(e_pub));
  cdr_session_free(s);
  EVP_PKEY_free(e_key);
  cdr_buf_free(&params);
  cdr_buf_free(&tresp);
  free(encap);
  free(sealed);
  free(sig);
  return r;
}

int cdr_session_open(struct cdr_client *c, const struct cdr_attestation *att, struct cdr_session **out) {
  struct cdr_open_pending p;
  char *body = NULL;
  json_t *resp = NULL;
  int r;

  *out = NULL;
  memset(&p, 0, sizeof(p));
  cdr_client_clear_error(c);
  if (att == NULL || att->identity == NULL) {
    cdr_client_set_detail(c, "no attested enclave identity key");
    return CDR_ERR_ARG;
  }
  if ((r = cdr_session_open_build(c, 0, &p, &body)) != 0)
    goto out;
  if ((r = cdr_http_json(c, "POST", "/v1/session", body, strlen(body), &resp)) != 0)
    goto out;
  r = cdr_session_open_finish(c, att->identity, &p, resp, out);
out:
  cdr_open_pending_clear(&p);
  json_decref(resp);
  free(body);
  return r;
}
