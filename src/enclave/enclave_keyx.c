/*
 * enclave_keyx.c - IPC_OPEN: the key exchange (seed step 3, made sound).
 *
 * Checks, in the order of docs/PROTOCOL.md 4.6, before any key is made:
 * version, timestamp window, Cert_U against the room CA, that the sent
 * U_pub is the certified key, and U's signature over T_req (open_verify).
 * Then it makes E, derives the session keys from ECDH(E, C) and forgets
 * E's private half: only the derived keys stay, in the session record
 * (open_derive); seals the session parameters to U_pub, signs T_resp
 * with the identity key and admits the session (open_answer).  Every
 * decision on an open whose certificate the room CA issued is an audit
 * entry (enclave_handle_open).
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

/* One open in progress: the request, what its checks establish, and the
 * refusal (code and message) if one was decided. */
struct open_ctx {
  struct cdr_open_req q;
  int64_t now;
  X509 *cert;
  EVP_PKEY *upub;   /* the certified key, as the user sent it */
  EVP_PKEY *cshare; /* the client's key share C */
  char *name;       /* the certificate's subject name, once verified */
  enum cdr_role role;
  struct cdr_buf treq; /* T_req */
  uint8_t treq_hash[32];
  int refuse;
  const char *msg;
  char msgbuf[CDR_MAX_NAME_LEN + 192];
  uint8_t sid[CDR_SESSION_ID_LEN]; /* admitted: the session's id and expiry */
  uint64_t expires_at;
};

/* Record a refusal of the open; returns 0 (the step ends, no error). */
static int open_refuse(struct open_ctx *o, int code, const char *msg) {
  o->refuse = code;
  o->msg = msg;
  return 0;
}

/* Once a contract version is active, a key must be one of its members,
 * or of the pending version (which may then only read and sign it,
 * ops.c): anyone else is refused with not_a_member naming the
 * certificate and its key. */
static int open_member(struct enclave *e, struct open_ctx *o) {
  unsigned char *der = NULL;
  uint8_t fp[32];
  char hex[65];
  int n = i2d_PUBKEY(o->upub, &der), r;
  if (n <= 0)
    return CDR_ERR_CRYPTO;
  r = cdr_sha256(fp, der, (size_t)n);
  OPENSSL_free(der);
  if (r != 0)
    return r;
  if (contract_state_key(&e->contract, fp, o->now) != CONTRACT_KEY_NONE)
    return 0;
  cdr_hex_encode(hex, fp, sizeof(fp));
  snprintf(o->msgbuf, sizeof(o->msgbuf), "certificate %s, key %s, is not a member of the room's active contract",
           o->name, hex);
  return open_refuse(o, CDR_ERR_NOT_A_MEMBER, o->msgbuf);
}

/* Verify: the checks of PROTOCOL 4.6, in order, before any key is made.
 * 0 with o->refuse set for a refusal, 0 with the certificate, the user's
 * key, C, the name and role and T_req in o when all pass, or an error. */
static int open_verify(struct enclave *e, struct open_ctx *o) {
  const struct cdr_open_req *q = &o->q;
  int r;
  if (q->version != CDR_PROTOCOL_VERSION)
    return open_refuse(o, CDR_ERR_UNSUPPORTED_VERSION, "this enclave speaks protocol version 1");
  if (!within_window(o->now, q->timestamp))
    return open_refuse(o, CDR_ERR_CLOCK_SKEW, "session-open timestamp is more than 300 seconds from the enclave clock");
  if (cdr_cert_from_der(&o->cert, q->cert_der, q->cert_len) != 0)
    return open_refuse(o, CDR_ERR_CERT_INVALID, "the certificate does not parse as DER X.509");
  if ((r = cdr_cert_verify_user(e->ca_cert, o->cert, o->now, &o->role, &o->name)) != 0)
    return open_refuse(o, r, NULL);
  if ((r = enclave_cert_not_revoked(e, o->cert)) != 0)
    return open_refuse(o, r,
                       r == CDR_ERR_CERT_REVOKED ? "this certificate has been revoked by the room"
                                                 : "the server has not provided the room's current revocation list");
  /* user_public_key must be the certified key.  Byte-equal to the
   * certificate's own SPKI (what every client sends) needs no second
   * decode; any other encoding is decoded and compared as a key. */
  if ((r = same_spki(o->cert, q->user_spki, q->user_spki_len)) < 0)
    return r;
  if (r == 1) {
    if ((o->upub = X509_get_pubkey(o->cert)) == NULL)
      return CDR_ERR_CRYPTO;
  } else {
    if (cdr_pubkey_from_der(&o->upub, q->user_spki, q->user_spki_len) != 0)
      return open_refuse(o, CDR_ERR_ARG, "user_public_key is not a DER SubjectPublicKeyInfo");
    if (EVP_PKEY_eq(o->upub, X509_get0_pubkey(o->cert)) != 1)
      return open_refuse(o, CDR_ERR_CERT_KEY_MISMATCH,
                         "user_public_key is not the key that the certificate certifies");
  }
  if (cdr_key_check_user_type(o->upub) != 0)
    return open_refuse(o, CDR_ERR_KEY_UNSUPPORTED, NULL);
  if ((r = cdr_open_req_transcript(&o->treq, q)) != 0)
    return r;
  if (cdr_verify(o->upub, o->treq.d, o->treq.len, q->sig, q->sig_len) != 0)
    return open_refuse(o, CDR_ERR_BAD_SIGNATURE, "the session-open signature does not verify under the certified key");
  if (cdr_p256_point_to_key(&o->cshare, q->client_share) != 0)
    return open_refuse(o, CDR_ERR_ARG, "client_key_share is not a P-256 point");
  if (strlen(o->name) > CDR_MAX_NAME_LEN)
    return open_refuse(o, CDR_ERR_CERT_INVALID, "certificate subject name is too long");
  return open_member(e, o);
}

/* Derive: the request is authentic; fill the new session s: its id, the
 * keys from ECDH(E, C) over H(T_req), the user's name, role, serial and
 * key (taken from o).  E's public half goes to e_pub; its private half
 * and the shared secret are gone when this returns, on every path. */
static int open_derive(struct open_ctx *o, struct session *s, uint8_t e_pub[CDR_P256_POINT_LEN]) {
  EVP_PKEY *ekey = NULL;
  BIGNUM *bn = NULL;
  char *hex = NULL;
  uint8_t z[32];
  int r;
  if ((r = cdr_sha256(o->treq_hash, o->treq.d, o->treq.len)) != 0 || (r = cdr_random(s->id, sizeof(s->id))) != 0 ||
      (r = cdr_ec_p256_generate(&ekey)) != 0 || (r = cdr_p256_point_get(e_pub, ekey)) != 0 ||
      (r = cdr_ecdh_p256(z, ekey, o->cshare)) != 0 ||
      (r = cdr_session_keys_derive(&s->keys, z, o->treq_hash, s->id)) != 0 ||
      (r = cdr_cert_fingerprint(o->cert, s->cert_fp)) != 0 || (r = session_set_spki(s, o->upub)) != 0)
    goto out;
  s->expires_at = o->now + CDR_SESSION_LIFETIME_S;
  s->role = o->role;
  snprintf(s->name, sizeof(s->name), "%s", o->name);
  s->user_key = o->upub;
  o->upub = NULL;
  bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(o->cert), NULL);
  hex = bn ? BN_bn2hex(bn) : NULL;
  snprintf(s->serial, sizeof(s->serial), "%s", hex ? hex : "");
out:
  OPENSSL_free(hex);
  BN_free(bn);
  EVP_PKEY_free(ekey); /* E's private half is no longer needed */
  OPENSSL_cleanse(z, sizeof(z));
  return r;
}

/* Seal and answer: the session parameters (id, expiry, E) sealed to the
 * user's key, T_resp signed with the identity key, the session put in
 * the table (which takes *sp; a full table is a refusal), and IPC_OPEN_OK
 * written to out. */
static int open_answer(struct enclave *e, struct open_ctx *o, struct session **sp,
                       const uint8_t e_pub[CDR_P256_POINT_LEN], uint32_t *rt, struct cdr_buf *out) {
  struct session *s = *sp;
  struct cdr_open_resp p;
  struct cdr_buf tresp, encap, sealed, sig;
  uint8_t params[CDR_SESSION_PARAMS_LEN];
  int r;
  cdr_buf_init(&tresp, 8 * CDR_MAX_CERT_DER, 0);
  cdr_buf_init(&encap, 1024, 0);
  cdr_buf_init(&sealed, 1024, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  memcpy(params, s->id, CDR_SESSION_ID_LEN);
  for (int i = 0; i < 8; i++)
    params[CDR_SESSION_ID_LEN + i] = (uint8_t)((uint64_t)s->expires_at >> (56 - 8 * i));
  memcpy(params + CDR_SESSION_ID_LEN + 8, e_pub, CDR_P256_POINT_LEN);
  memset(&p, 0, sizeof(p));
  if ((r = cdr_seal_to_user(s->user_key, NULL, o->treq_hash, sizeof(o->treq_hash), params, sizeof(params), &p.kem,
                            &encap, &sealed)) != 0)
    goto out;
  memcpy(p.session_id, s->id, CDR_SESSION_ID_LEN);
  p.expires_at = (uint64_t)s->expires_at;
  p.encap = encap.d;
  p.encap_len = encap.len;
  p.sealed = sealed.d;
  p.sealed_len = sealed.len;
  if ((r = cdr_open_resp_transcript(&tresp, o->treq_hash, s->cert_fp, o->q.client_nonce, &p)) != 0 ||
      (r = cdr_sign(&sig, e->identity_key, tresp.d, tresp.len)) != 0)
    goto out;
  p.sig = sig.d;
  p.sig_len = sig.len;
  if ((r = session_table_insert(&e->sessions, s, o->now)) != 0) {
    if (r == CDR_ERR_SESSION_LIMIT)
      r = open_refuse(o, r, "the enclave has too many open sessions; try again later");
    goto out;
  }
  *sp = NULL; /* owned by the table now */
  memcpy(o->sid, p.session_id, CDR_SESSION_ID_LEN);
  o->expires_at = p.expires_at;
  log_info("session opened: user %s, role %s", o->name, cdr_role_name(o->role));
  *rt = IPC_OPEN_OK;
  r = ipc_put_open_ok(out, &p);
out:
  OPENSSL_cleanse(params, sizeof(params));
  cdr_buf_free(&tresp);
  cdr_buf_free(&encap);
  cdr_buf_free(&sealed);
  cdr_buf_free(&sig);
  return r;
}

int enclave_handle_open(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct open_ctx o;
  uint8_t e_pub[CDR_P256_POINT_LEN];
  struct session *s = NULL;
  int r;

  memset(&o, 0, sizeof(o));
  o.role = CDR_ROLE_NONE;
  o.now = e->now();
  if ((r = ipc_get_open(in, &o.q)) != 0)
    return r; /* malformed frame from the host: fatal */
  cdr_buf_init(&o.treq, 8 * CDR_MAX_CERT_DER, 0);

  if ((r = open_verify(e, &o)) != 0 || o.refuse)
    goto out;
  if ((s = session_new()) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if ((r = open_derive(&o, s, e_pub)) != 0)
    goto out;
  r = open_answer(e, &o, &s, e_pub, rt, out);
out:
  /* Every decision on a session open is an audit entry, with what is
   * needed to check the user's signature over T_req: who was admitted
   * (the host's PKCS#11 access could enroll anyone; the log shows it). */
  /* Only opens whose certificate the room CA issued: anything else can
   * be sent by anyone, and would let anyone fill the log. */
  if (o.name != NULL) {
    int admitted = o.refuse == 0 && r == 0;
    int ar = audit_open_entry(e, &o.q, o.cert, o.name, o.role, o.refuse ? o.refuse : r ? CDR_ERR_INTERNAL : 0,
                              admitted ? o.sid : NULL, admitted ? o.expires_at : 0);
    if (ar != 0) {
      o.refuse = 0;
      r = ar; /* fatal: e->fatal is set */
    }
  }
  if (e->fatal) {
    r = r ? r : CDR_ERR_IO;
  } else if (o.refuse) {
    log_info("session refused: %s", cdr_err_code(o.refuse));
    r = enclave_reply_error(out, rt, o.refuse, o.msg);
  } else if (r != 0) {
    log_error("session open failed: %s", cdr_err_code(r));
    r = enclave_reply_error(out, rt, r, "the enclave could not open the session");
  }
  session_free(s);
  EVP_PKEY_free(o.cshare);
  EVP_PKEY_free(o.upub);
  X509_free(o.cert);
  free(o.name);
  cdr_buf_free(&o.treq);
  return r;
}
