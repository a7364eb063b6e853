/*
 * csr.c - checking a certificate signing request sent by an enrolling
 * user (contract in room.h, cdr_csr_check), and reading its DER bytes as
 * sent, which the enrollment MAC covers (cdr_csr_pem_der, room_int.h).
 *
 * The checks run in a fixed order so that the error a client sees is
 * deterministic: size, PEM/DER syntax, self-signature (proof that the
 * sender holds the private key), key type, subject.  Only the first PEM
 * block is read.  Nothing of the CSR except its public key ever reaches a
 * certificate: the CA builds the subject itself (ca.c).
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <string.h>

#include "common/limits.h"
#include "crypto/crypto.h"
#include "room.h"
#include "room_int.h"

/* A memory BIO over the len bytes of a PEM CSR: CDR_ERR_CSR_INVALID when
 * empty, CDR_ERR_TOO_LARGE over CDR_MAX_CSR_PEM, CDR_ERR_NOMEM. */
static int csr_pem_bio(const char *pem, size_t len, BIO **b) {
  if (len == 0)
    return CDR_ERR_CSR_INVALID;
  if (len > CDR_MAX_CSR_PEM)
    return CDR_ERR_TOO_LARGE;
  return (*b = BIO_new_mem_buf(pem, (int)len)) == NULL ? CDR_ERR_NOMEM : 0;
}

/* 0 if the request's subject has exactly one CN and it is byte-for-byte
 * expected_name; else CDR_ERR_CSR_SUBJECT. */
static int csr_check_subject(X509_REQ *req, const char *expected_name) {
  const X509_NAME *n = X509_REQ_get_subject_name(req);
  unsigned char *utf8 = NULL;
  int idx, len, r = CDR_ERR_CSR_SUBJECT;

  if (n == NULL || (idx = X509_NAME_get_index_by_NID(n, NID_commonName, -1)) < 0)
    return CDR_ERR_CSR_SUBJECT;
  if (X509_NAME_get_index_by_NID(n, NID_commonName, idx) >= 0)
    return CDR_ERR_CSR_SUBJECT; /* two CNs: ambiguous */
  len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)));
  if (len < 0) {
    ERR_clear_error();
    return CDR_ERR_CSR_SUBJECT;
  }
  if ((size_t)len == strlen(expected_name) && memcmp(utf8, expected_name, (size_t)len) == 0)
    r = 0;
  OPENSSL_free(utf8);
  return r;
}

int cdr_csr_check(const char *pem, size_t len, const char *expected_name, X509_REQ **out) {
  X509_REQ *req = NULL;
  EVP_PKEY *pub;
  BIO *b = NULL;
  int r;

  *out = NULL;
  if (pem == NULL || expected_name == NULL)
    return CDR_ERR_ARG;
  if ((r = csr_pem_bio(pem, len, &b)) != 0)
    return r;
  /* Reads "CERTIFICATE REQUEST" and "NEW CERTIFICATE REQUEST" blocks. */
  if ((req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL)) == NULL || (pub = X509_REQ_get0_pubkey(req)) == NULL) {
    r = CDR_ERR_CSR_INVALID;
    goto out;
  }
  if (X509_REQ_verify(req, pub) != 1) {
    r = CDR_ERR_CSR_BAD_SIGNATURE;
    goto out;
  }
  if (cdr_key_check_user_type(pub) != 0) {
    r = CDR_ERR_KEY_UNSUPPORTED;
    goto out;
  }
  if ((r = csr_check_subject(req, expected_name)) != 0)
    goto out;
  *out = req;
  req = NULL;
out:
  ERR_clear_error();
  X509_REQ_free(req);
  BIO_free(b);
  return r;
}

/* Contract in room_int.h. */
int cdr_csr_pem_der(const char *pem, size_t len, unsigned char **der, long *derlen) {
  BIO *b;
  char *pname = NULL, *header = NULL;
  int r;

  *der = NULL;
  if ((r = csr_pem_bio(pem, len, &b)) != 0)
    return r;
  r = CDR_ERR_CSR_INVALID;
  if (PEM_read_bio(b, &pname, &header, der, derlen) == 1 && *derlen > 0 &&
      (strcmp(pname, "CERTIFICATE REQUEST") == 0 || strcmp(pname, "NEW CERTIFICATE REQUEST") == 0))
    r = 0;
  if (r != 0) {
    OPENSSL_free(*der);
    *der = NULL;
  }
  ERR_clear_error();
  OPENSSL_free(pname);
  OPENSSL_free(header);
  BIO_free(b);
  return r;
}
