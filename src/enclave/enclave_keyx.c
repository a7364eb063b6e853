/*
 * enclave_keyx.c - IPC_OPEN: the key exchange (seed step 3, made sound).
 *
 * Checks, in the order of docs/PROTOCOL.md 4.6, before any key is made:
 * version, timestamp window, Cert_U against the room CA, that the sent
 * U_pub is the certified key, and U's signature over T_req.  Then it
 * makes E, derives the session keys from ECDH(E, C), seals the session
 * parameters to U_pub, signs T_resp with the identity key, and forgets
 * E's private half: only the derived keys stay, in the session record.
 */
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "ipc/messages.h"

/* 1 if spki is byte for byte the certificate's SubjectPublicKeyInfo,
 * 0 if not, or an error. */
static int same_spki(X509 *cert, const uint8_t *spki, size_t len) {
  unsigned char *der = NULL;
  int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (n <= 0)
    return CDR_ERR_CRYPTO;
  int same = (size_t)n == len && memcmp(der, spki, len) == 0;
  OPENSSL_free(der);
  return same;
}

/* The session's copy of the user's SPKI and its SHA-256, made once. */
static int session_set_spki(struct session *s, EVP_PKEY *key) {
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(key, &der), r;
  if (n <= 0)
    return CDR_ERR_CRYPTO;
  if ((s->user_spki = malloc((size_t)n)) == NULL) {
    OPENSSL_free(der);
    return CDR_ERR_NOMEM;
  }
  memcpy(s->user_spki, der, (size_t)n);
  s->user_spki_len = (size_t)n;
  r = cdr_sha256(s->key_fp, der, (size_t)n);
  OPENSSL_free(der);
  return r;
}

/* Append the entry of this open's decision (refuse 0: admitted). */
static int audit_open_entry(struct enclave *e, const struct cdr_open_req *q, X509 *cert, const char *name,
                            enum cdr_role role, int refuse, const uint8_t *sid, uint64_t expires_at) {
  int r;
  if ((r = audit_begin(e, "session_open")) != 0) {
    e->fatal = 1;
    return r;
  }
  if (cert != NULL) {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    audit_set_user(e, name, name ? cdr_role_name(role) : NULL, hex);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  /* T_req's fields exactly as the user signed them. */
  audit_set(e, "open",
            json_pack("{s:i,s:o*,s:o*,s:o*,s:o*,s:I,s:o*}", "version", (int)q->version, "certificate",
                      audit_b64(q->cert_der, q->cert_len), "user_public_key",
                      audit_b64(q->user_spki, q->user_spki_len), "client_key_share",
                      audit_b64(q->client_share, CDR_P256_POINT_LEN), "client_nonce",
                      audit_b64(q->client_nonce, sizeof(q->client_nonce)), "timestamp", (json_int_t)q->timestamp,
                      "signature", audit_b64(q->sig, q->sig_len)));
  if (sid != NULL) {
    audit_set(e, "session", audit_b64(sid, CDR_SESSION_ID_LEN));
    audit_set(e, "expires_at", json_integer((json_int_t)expires_at));
  }
  return audit_finish(e, refuse);
}

/* Is t within the accepted clock skew of now? */
static int within_window(int64_t now, uint64_t t) {
  if (t > (uint64_t)INT64_MAX)
    return 0;
  int64_t d = now - (int64_t)t;
  return d <= (int64_t)CDR_MAX_CLOCK_SKEW_S && d >= -(int64_t)CDR_MAX_CLOCK_SKEW_S;
}

int enclave_handle_open(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct cdr_open_req q;
  struct cdr_open_resp p;
  struct cdr_buf treq, tresp, encap, sealed, sig;
  uint8_t treq_hash[32], params[CDR_SESSION_PARAMS_LEN], e_pub[CDR_P256_POINT_LEN], z[32];
  X509 *cert = NULL;
  EVP_PKEY *upub = NULL, *cshare = NULL, *ekey = NULL;
  struct session *s = NULL;
  char *name = NULL;
  enum cdr_role role = CDR_ROLE_NONE;
  int64_t now = e->now();
  int r, refuse = 0;
  const char *msg = NULL;

  if ((r = ipc_get_open(in, &q)) != 0)
    return r; /* malformed frame from the host: fatal */
  cdr_buf_init(&treq, 8 * CDR_MAX_CERT_DER, 0);
  cdr_buf_init(&tresp, 8 * CDR_MAX_CERT_DER, 0);
  cdr_buf_init(&encap, 1024, 0);
  cdr_buf_init(&sealed, 1024, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);

#define REFUSE(code, text) do { refuse = (code); msg = (text); goto out; } while (0)
  if (q.version != CDR_PROTOCOL_VERSION)
    REFUSE(CDR_ERR_UNSUPPORTED_VERSION, "this enclave speaks protocol version 1");
  if (!within_window(now, q.timestamp))
    REFUSE(CDR_ERR_CLOCK_SKEW, "session-open timestamp is more than 300 seconds from the enclave clock");
  if ((r = cdr_cert_from_der(&cert, q.cert_der, q.cert_len)) != 0)
    REFUSE(CDR_ERR_CERT_INVALID, "the certificate does not parse as DER X.509");
  if ((r = cdr_cert_verify_user(e->ca_cert, cert, now, &role, &name)) != 0)
    REFUSE(r, NULL);
  if ((r = enclave_cert_not_revoked(e, cert)) != 0)
    REFUSE(r, r == CDR_ERR_CERT_REVOKED ? "this certificate has been revoked by the room"
                                        : "the server has not provided the room's current revocation list");
  /* user_public_key must be the certified key.  Byte-equal to the
   * certificate's own SPKI (what every client sends) needs no second
   * decode; any other encoding is decoded and compared as a key. */
  if ((r = same_spki(cert, q.user_spki, q.user_spki_len)) < 0)
    goto out;
  if (r == 1) {
    r = 0;
    if ((upub = X509_get_pubkey(cert)) == NULL) {
      r = CDR_ERR_CRYPTO;
      goto out;
    }
  } else {
    if (cdr_pubkey_from_der(&upub, q.user_spki, q.user_spki_len) != 0)
      REFUSE(CDR_ERR_ARG, "user_public_key is not a DER SubjectPublicKeyInfo");
    if (EVP_PKEY_eq(upub, X509_get0_pubkey(cert)) != 1)
      REFUSE(CDR_ERR_CERT_KEY_MISMATCH, "user_public_key is not the key that the certificate certifies");
  }
  if (cdr_key_check_user_type(upub) != 0)
    REFUSE(CDR_ERR_KEY_UNSUPPORTED, NULL);
  if ((r = cdr_open_req_transcript(&treq, &q)) != 0)
    goto out;
  if (cdr_verify(upub, treq.d, treq.len, q.sig, q.sig_len) != 0)
    REFUSE(CDR_ERR_BAD_SIGNATURE, "the session-open signature does not verify under the certified key");
  if (cdr_p256_point_to_key(&cshare, q.client_share) != 0)
    REFUSE(CDR_ERR_ARG, "client_key_share is not a P-256 point");
  if (strlen(name) > CDR_MAX_NAME_LEN)
    REFUSE(CDR_ERR_CERT_INVALID, "certificate subject name is too long");

  /* The request is authentic: make the session. */
  if ((s = session_new()) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if ((r = cdr_sha256(treq_hash, treq.d, treq.len)) != 0 || (r = cdr_random(s->id, sizeof(s->id))) != 0 ||
      (r = cdr_ec_p256_generate(&ekey)) != 0 || (r = cdr_p256_point_get(e_pub, ekey)) != 0 ||
      (r = cdr_ecdh_p256(z, ekey, cshare)) != 0 || (r = cdr_session_keys_derive(&s->keys, z, treq_hash, s->id)) != 0 ||
      (r = cdr_cert_fingerprint(cert, s->cert_fp)) != 0 || (r = session_set_spki(s, upub)) != 0)
    goto out;
  EVP_PKEY_free(ekey); /* E's private half is no longer needed */
  ekey = NULL;
  s->expires_at = now + CDR_SESSION_LIFETIME_S;
  s->role = role;
  snprintf(s->name, sizeof(s->name), "%s", name);
  s->user_key = upub;
  upub = NULL;
  {
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    snprintf(s->serial, sizeof(s->serial), "%s", hex ? hex : "");
    OPENSSL_free(hex);
    BN_free(bn);
  }

  memcpy(params, s->id, CDR_SESSION_ID_LEN);
  for (int i = 0; i < 8; i++)
    params[CDR_SESSION_ID_LEN + i] = (uint8_t)((uint64_t)s->expires_at >> (56 - 8 * i));
  memcpy(params + CDR_SESSION_ID_LEN + 8, e_pub, CDR_P256_POINT_LEN);
  memset(&p, 0, sizeof(p));
  if ((r = cdr_seal_to_user(s->user_key, NULL, treq_hash, sizeof(treq_hash), params, sizeof(params), &p.kem, &encap,
                            &sealed)) != 0)
    goto out;
  memcpy(p.session_id, s->id, CDR_SESSION_ID_LEN);
  p.expires_at = (uint64_t)s->expires_at;
  p.encap = encap.d;
  p.encap_len = encap.len;
  p.sealed = sealed.d;
  p.sealed_len = sealed.len;
  if ((r = cdr_open_resp_transcript(&tresp, treq_hash, s->cert_fp, q.client_nonce, &p)) != 0 ||
      (r = cdr_sign(&sig, e->identity_key, tresp.d, tresp.len)) != 0)
    goto out;
  p.sig = sig.d;
  p.sig_len = sig.len;
  if ((r = session_table_insert(&e->sessions, s, now)) != 0) {
    if (r == CDR_ERR_SESSION_LIMIT)
      REFUSE(r, "the enclave has too many open sessions; try again later");
    goto out;
  }
  s = NULL; /* owned by the table now */
  log_info("session opened: user %s, role %s", name, cdr_role_name(role));
  *rt = IPC_OPEN_OK;
  r = ipc_put_open_ok(out, &p);
#undef REFUSE
out:
  /* Every decision on a session open is an audit entry, with what is
   * needed to check the user's signature over T_req: who was admitted
   * (the host's PKCS#11 access could enroll anyone; the log shows it). */
  /* Only opens whose certificate the room CA issued: anything else can
   * be sent by anyone, and would let anyone fill the log. */
  if (name != NULL) {
    int ar = audit_open_entry(e, &q, cert, name, role, refuse ? refuse : r ? CDR_ERR_INTERNAL : 0,
                              refuse == 0 && r == 0 ? p.session_id : NULL, refuse == 0 && r == 0 ? p.expires_at : 0);
    if (ar != 0) {
      refuse = 0;
      r = ar; /* fatal: e->fatal is set */
    }
  }
  if (e->fatal) {
    r = r ? r : CDR_ERR_IO;
  } else if (refuse) {
    log_info("session refused: %s", cdr_err_code(refuse));
    r = enclave_reply_error(out, rt, refuse, msg);
  } else if (r != 0) {
    log_error("session open failed: %s", cdr_err_code(r));
    r = enclave_reply_error(out, rt, r, "the enclave could not open the session");
  }
  OPENSSL_cleanse(z, sizeof(z));
  OPENSSL_cleanse(params, sizeof(params));
  session_free(s);
  EVP_PKEY_free(ekey);
  EVP_PKEY_free(cshare);
  EVP_PKEY_free(upub);
  X509_free(cert);
  free(name);
  cdr_buf_free(&treq);
  cdr_buf_free(&tresp);
  cdr_buf_free(&encap);
  cdr_buf_free(&sealed);
  cdr_buf_free(&sig);
  return r;
}
