/*
 * enroll_csr.c - a CSR made elsewhere, for `cdr enroll --csr` (client.h):
 * `openssl req` for a key in a smart card or an organization's own
 * tooling, a key this process never sees.
 *
 * Contract: the file is PEM ("CERTIFICATE REQUEST", or the older "NEW
 * CERTIFICATE REQUEST") or DER, at most CDR_MAX_CSR_PEM bytes, and one
 * CSR with nothing after it.  Before a token is spent on it the CSR is
 * checked as the server will check it (PROTOCOL 4.4): its self-signature
 * verifies, its key is one users may hold, and its subject CN is the
 * token's name; each refusal has its own code and a sentence in c's
 * detail.
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common/util.h"
#include "crypto/crypto.h"

int cdr_enroll_csr_read(const char *path, X509_REQ **out) {
  uint8_t *data = NULL;
  size_t len = 0;
  const unsigned char *p;
  X509_REQ *req = NULL;
  BIO *bio = NULL;
  int r;

  *out = NULL;
  if ((r = cdr_file_read(path, &data, &len, CDR_MAX_CSR_PEM)) != 0)
    return r;
  r = CDR_ERR_CSR_INVALID;
  p = data;
  if (len > 0 && data[0] == 0x30) { /* DER: a SEQUENCE */
    req = d2i_X509_REQ(NULL, &p, (long)len);
    if (req != NULL && p != data + len) {
      X509_REQ_free(req);
      req = NULL;
    }
  } else if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL) {
    req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
  }
  if (req != NULL) {
    *out = req;
    r = 0;
  }
  BIO_free(bio);
  free(data);
  ERR_clear_error();
  return r;
}

/* The subject CN of req as UTF-8 (malloc'd), or NULL. */
static char *csr_common_name(X509_REQ *req) {
  X509_NAME *n = X509_REQ_get_subject_name(req);
  int idx = n != NULL ? X509_NAME_get_index_by_NID(n, NID_commonName, -1) : -1;
  unsigned char *u = NULL;
  char *s = NULL;
  int len;
  if (idx < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, idx) >= 0 ||
      (len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)))) < 0)
    return NULL;
  if (memchr(u, '\0', (size_t)len) == NULL && (s = malloc((size_t)len + 1)) != NULL) {
    memcpy(s, u, (size_t)len);
    s[len] = '\0';
  }
  OPENSSL_free(u);
  return s;
}

int cdr_enroll_csr_check(struct cdr_client *c, X509_REQ *req, const char *name) {
  EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
  char *cn = NULL;
  int r;

  if (pub == NULL || X509_REQ_verify(req, pub) != 1) {
    cdr_client_set_detail(c, "the CSR's signature does not verify under its own key");
    r = CDR_ERR_CSR_BAD_SIGNATURE;
  } else if (cdr_key_check_user_type(pub) != 0) {
    cdr_client_set_detail(c, "the CSR's key is not EC P-256 or RSA 2048..4096");
    r = CDR_ERR_KEY_UNSUPPORTED;
  } else if ((cn = csr_common_name(req)) == NULL || strcmp(cn, name) != 0) {
    cdr_client_set_detail(c, "the CSR's subject must be exactly one CN, the token's name");
    r = CDR_ERR_CSR_SUBJECT;
  } else {
    r = 0;
  }
  free(cn);
  ERR_clear_error();
  return r;
}

int cdr_enroll_csr_key_check(struct cdr_client *c, X509_REQ *req, EVP_PKEY *key) {
  EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
  uint8_t *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0;
  int r;

  /* Compare SubjectPublicKeyInfo encodings: they are canonical, and an
   * engine key gives its public half this way as every key does. */
  if (pub == NULL || (r = cdr_pubkey_to_der(pub, &a, &alen)) != 0 || (r = cdr_pubkey_to_der(key, &b, &blen)) != 0) {
    r = CDR_ERR_CSR_INVALID;
    goto out;
  }
  r = 0;
  if (alen != blen || memcmp(a, b, alen) != 0) {
    cdr_client_set_detail(c, "the CSR is for another public key than the one --key names");
    r = CDR_ERR_CSR_KEY_MISMATCH;
  }
out:
  OPENSSL_free(a);
  OPENSSL_free(b);
  ERR_clear_error();
  return r;
}
