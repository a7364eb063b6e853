/*
 * enroll.c - the client's half of enrollment (PROTOCOL 4.4): redeem an
 * invitation token for a certificate from the room CA.  See client.h.
 *
 * Contract: the token's secret never leaves this process.  The request
 * is {"token_id", "csr", "mac"}: a CSR for the user's key with subject
 * CN=<name from the token>, signed with that key (SHA-256), and the
 * enrollment MAC of the CSR's DER under the secret.  The answer is
 * believed only after every check below passes, in this order:
 *   - it holds a certificate and a CA certificate (PEM);
 *   - the CA is a self-signed CA naming a room id (cdr_client_set_ca,
 *     which also makes it the client's trusted CA);
 *   - the CA has the fingerprint carried in the token (the token reached
 *     the user out of band, so it pins the CA);
 *   - the issued certificate certifies the user's key, verifies under
 *     that CA now, carries a role, and is for the token's name.
 * cdr_enroll_build makes the request, cdr_enroll_finish judges the
 * answer (so that a test can hand it any answer), cdr_client_enroll does
 * both around the exchange.  A CSR made elsewhere (`openssl req` for a
 * key this process never sees) takes the same path from its parsed form
 * (cdr_enroll_csr_*, cdr_client_enroll_csr): the MAC covers the DER that
 * i2d gives for it, and the PEM sent is that same DER.  On failure *step names the check (or the
 * local step) that failed, so that the caller can word it, and c->detail
 * holds a sentence.  Nothing here writes files: saving is the caller's
 * business.
 */
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

/* A CSR for key with subject CN=name, signed with key (SHA-256).  With
 * a key in a PKCS#11 token the signature is made in the token. */
static int enroll_make_csr(EVP_PKEY *key, const char *name, X509_REQ **out) {
  X509_REQ *req = X509_REQ_new();
  X509_NAME *subj = X509_NAME_new();
  int r = CDR_ERR_CRYPTO;

  *out = NULL;
  if (req == NULL || subj == NULL)
    goto out;
  if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
      X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8, (const unsigned char *)name, -1, -1, 0) != 1 ||
      X509_REQ_set_subject_name(req, subj) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
      X509_REQ_sign(req, key, EVP_sha256()) <= 0)
    goto out;
  *out = req;
  req = NULL;
  r = 0;
out:
  X509_NAME_free(subj);
  X509_REQ_free(req);
  ERR_clear_error();
  return r;
}

/* The CSR's DER (for the MAC; OPENSSL_malloc'd) and PEM (for the
 * request; malloc'd), both from the one encoding i2d gives, so that the
 * server's DER (from the PEM) is the DER the MAC covers. */
static int enroll_csr_encode(X509_REQ *req, uint8_t **der, size_t *der_len, char **pem) {
  BIO *bio = BIO_new(BIO_s_mem());
  unsigned char *d = NULL;
  BUF_MEM *bm = NULL;
  int n, r = CDR_ERR_CRYPTO;

  *der = NULL;
  *pem = NULL;
  if (bio == NULL || (n = i2d_X509_REQ(req, &d)) <= 0 || PEM_write_bio(bio, PEM_STRING_X509_REQ, "", d, n) <= 0)
    goto out;
  BIO_get_mem_ptr(bio, &bm);
  r = CDR_ERR_NOMEM;
  if ((*pem = malloc(bm->length + 1)) == NULL)
    goto out;
  memcpy(*pem, bm->data, bm->length);
  (*pem)[bm->length] = '\0';
  *der = d;
  *der_len = (size_t)n;
  d = NULL;
  r = 0;
out:
  OPENSSL_free(d);
  BIO_free(bio);
  ERR_clear_error();
  return r;
}

int cdr_enroll_build_csr(X509_REQ *csr, const struct cdr_enroll_token *tok, char **body, enum cdr_enroll_step *step) {
  uint8_t mac[32], *csr_der = NULL;
  size_t csr_len = 0;
  char *csr_pem = NULL, *mac_b64 = NULL;
  json_t *req = NULL;
  int r;

  *body = NULL;
  *step = CDR_ENROLL_CSR;
  if ((r = enroll_csr_encode(csr, &csr_der, &csr_len, &csr_pem)) != 0)
    goto out;
  *step = CDR_ENROLL_MAC;
  if ((r = cdr_enroll_mac(mac, tok->secret, tok->token_id, csr_der, csr_len)) != 0 ||
      (r = cdr_b64_encode(&mac_b64, mac, sizeof(mac))) != 0)
    goto out;
  *step = CDR_ENROLL_BODY;
  r = CDR_ERR_ARG; /* json_pack refuses a name that is not UTF-8 */
  if ((req = json_pack("{s:s, s:s, s:s}", "token_id", tok->token_id, "csr", csr_pem, "mac", mac_b64)) == NULL ||
      (*body = json_dumps(req, JSON_COMPACT)) == NULL)
    goto out;
  r = 0;
out:
  OPENSSL_cleanse(mac, sizeof(mac));
  free(csr_pem);
  OPENSSL_free(csr_der);
  free(mac_b64);
  json_decref(req);
  return r;
}

int cdr_enroll_build(EVP_PKEY *key, const struct cdr_enroll_token *tok, char **body, enum cdr_enroll_step *step) {
  X509_REQ *csr = NULL;
  int r;

  *body = NULL;
  *step = CDR_ENROLL_CSR;
  if ((r = enroll_make_csr(key, tok->name, &csr)) != 0)
    return r;
  r = cdr_enroll_build_csr(csr, tok, body, step);
  X509_REQ_free(csr);
  return r;
}

int cdr_enroll_finish(struct cdr_client *c, EVP_PKEY *key, const struct cdr_enroll_token *tok, const json_t *resp,
                      X509 **cert_out, enum cdr_role *role, enum cdr_enroll_step *step) {
  const char *cert_pem, *ca_pem;
  X509 *cert = NULL, *ca = NULL;
  char *cn = NULL;
  int r = CDR_ERR_CERT_INVALID;

  *cert_out = NULL;
  *role = CDR_ROLE_NONE;
  *step = CDR_ENROLL_ANSWER;
  if ((cert_pem = cdr_json_string(resp, "certificate")) == NULL ||
      (ca_pem = cdr_json_string(resp, "ca_certificate")) == NULL ||
      cdr_cert_from_pem(&cert, cert_pem, strlen(cert_pem)) != 0 || cdr_cert_from_pem(&ca, ca_pem, strlen(ca_pem)) != 0) {
    cdr_client_set_detail(c, "the answer does not hold a certificate and a CA certificate");
    goto out;
  }
  *step = CDR_ENROLL_CA;
  if ((r = cdr_client_set_ca(c, ca)) != 0)
    goto out;
  *step = CDR_ENROLL_PIN;
  if (!cdr_ct_equal(tok->ca_fp, c->ca_fp, 32)) {
    cdr_client_set_detail(c, "the room CA is not the one the enrollment token names");
    r = CDR_ERR_CERT_UNTRUSTED;
    goto out;
  }
  *step = CDR_ENROLL_KEY;
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
    cdr_client_set_detail(c, "the issued certificate is not for this key");
    r = CDR_ERR_CERT_KEY_MISMATCH;
    goto out;
  }
  *step = CDR_ENROLL_VERIFY;
  if ((r = cdr_cert_verify_user(ca, cert, cdr_now(), role, &cn)) != 0) {
    cdr_client_set_detail(c, "the issued certificate does not verify under the room CA");
    goto out;
  }
  *step = CDR_ENROLL_NAME;
  if (strcmp(cn, tok->name) != 0) {
    cdr_client_set_detail(c, "the issued certificate is for another name than the token's");
    r = CDR_ERR_CERT_INVALID;
    goto out;
  }
  *cert_out = cert;
  cert = NULL;
  r = 0;
out:
  ERR_clear_error();
  free(cn);
  X509_free(cert);
  X509_free(ca);
  return r;
}

/* Send body (which holds the MAC: wiped here) and judge the answer. */
static int enroll_exchange(struct cdr_client *c, EVP_PKEY *key, const struct cdr_enroll_token *tok, char *body,
                           X509 **cert, enum cdr_role *role, enum cdr_enroll_step *step) {
  json_t *resp = NULL;
  int r;

  *step = CDR_ENROLL_SEND;
  if ((r = cdr_http_json(c, "POST", "/v1/enroll", body, strlen(body), &resp)) != 0)
    goto out;
  r = cdr_enroll_finish(c, key, tok, resp, cert, role, step);
out:
  cdr_json_text_free(body); /* it holds the MAC */
  json_decref(resp);
  return r;
}

/* Contract in client.h. */
int cdr_client_tls_bootstrap(struct cdr_client *c, const uint8_t ca_fp[32]) {
  struct cdr_room_info ri;
  uint8_t fp[32];
  char shown[96];
  int r;

  if (strncmp(c->url, "https://", 8) != 0 || c->tls_cacert != NULL || c->have_ca)
    return 0; /* nothing to bootstrap */
  c->tls_unverified_once = 1;
  r = cdr_client_fetch_room(c, &ri);
  c->tls_unverified_once = 0;
  cdr_client_disconnect(c); /* the unverified connection is never reused */
  if (r != 0)
    return r;
  if ((r = cdr_cert_fingerprint(ri.ca, fp)) == 0 && !cdr_ct_equal(fp, ca_fp, sizeof(fp))) {
    cdr_fingerprint_format(shown, fp);
    cdr_client_set_detail(c, "the server shows a room CA with fingerprint %s, not the enrollment token's", shown);
    r = CDR_ERR_CA_MISMATCH;
  }
  if (r == 0)
    r = cdr_client_set_ca(c, ri.ca);
  cdr_room_info_clear(&ri);
  return r;
}

int cdr_client_enroll(struct cdr_client *c, EVP_PKEY *key, const struct cdr_enroll_token *tok, X509 **cert,
                      enum cdr_role *role, enum cdr_enroll_step *step) {
  char *body = NULL;
  int r;

  *cert = NULL;
  *role = CDR_ROLE_NONE;
  if ((r = cdr_enroll_build(key, tok, &body, step)) != 0)
    return r;
  return enroll_exchange(c, key, tok, body, cert, role, step);
}

int cdr_client_enroll_csr(struct cdr_client *c, X509_REQ *csr, const struct cdr_enroll_token *tok, X509 **cert,
                          enum cdr_role *role, enum cdr_enroll_step *step) {
  EVP_PKEY *pub = X509_REQ_get0_pubkey(csr);
  char *body = NULL;
  int r;

  *cert = NULL;
  *role = CDR_ROLE_NONE;
  *step = CDR_ENROLL_CSR;
  if (pub == NULL)
    return CDR_ERR_CSR_INVALID;
  if ((r = cdr_enroll_build_csr(csr, tok, &body, step)) != 0)
    return r;
  return enroll_exchange(c, pub, tok, body, cert, role, step);
}
