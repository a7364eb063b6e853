/*
 * x509.c - certificate parsing, fingerprints and the enclave's check of
 * a user certificate against the room CA.  See x509.h.
 *
 * Verification uses OpenSSL's X509_verify_cert with a store holding only
 * the room CA, an explicit verification time, and no other trust source
 * (no default paths), so a certificate from any other CA is untrusted.
 */
#include "x509.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "crypto.h"

static const char *const role_names[] = {"none", "analyst", "provider", "auditor"};

const char *cdr_role_name(enum cdr_role r) {
  return (r >= CDR_ROLE_ANALYST && r <= CDR_ROLE_AUDITOR) ? role_names[r] : "none";
}

enum cdr_role cdr_role_from_name(const char *s) {
  if (s == NULL)
    return CDR_ROLE_NONE;
  for (int i = CDR_ROLE_ANALYST; i <= CDR_ROLE_AUDITOR; i++)
    if (strcmp(s, role_names[i]) == 0)
      return (enum cdr_role)i;
  return CDR_ROLE_NONE;
}

int cdr_cert_from_der(X509 **out, const uint8_t *der, size_t len) {
  const unsigned char *p = der;
  if (len == 0 || len > CDR_MAX_CERT_DER)
    return CDR_ERR_CERT_INVALID;
  X509 *c = d2i_X509(NULL, &p, (long)len);
  ERR_clear_error();
  if (c == NULL || p != der + len) {
    X509_free(c);
    return CDR_ERR_CERT_INVALID;
  }
  *out = c;
  return 0;
}

int cdr_cert_to_der(X509 *c, uint8_t **der, size_t *len) {
  unsigned char *p = NULL;
  int n = i2d_X509(c, &p);
  if (n <= 0)
    return CDR_ERR_CRYPTO;
  *der = p;
  *len = (size_t)n;
  return 0;
}

int cdr_cert_from_pem(X509 **out, const char *pem, size_t len) {
  if (len > INT32_MAX)
    return CDR_ERR_TOO_LARGE;
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  X509 *c = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  ERR_clear_error();
  if (c == NULL)
    return CDR_ERR_CERT_INVALID;
  *out = c;
  return 0;
}

int cdr_cert_load_pem(const char *path, X509 **out) {
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return CDR_ERR_NOT_FOUND;
  X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  ERR_clear_error();
  if (c == NULL)
    return CDR_ERR_CERT_INVALID;
  *out = c;
  return 0;
}

int cdr_cert_to_pem(X509 *c, char **pem) {
  BIO *b = BIO_new(BIO_s_mem());
  BUF_MEM *bm = NULL;
  int r = CDR_ERR_CRYPTO;
  if (b == NULL || PEM_write_bio_X509(b, c) != 1)
    goto out;
  BIO_get_mem_ptr(b, &bm);
  char *s = malloc(bm->length + 1);
  if (s == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  memcpy(s, bm->data, bm->length);
  s[bm->length] = '\0';
  *pem = s;
  r = 0;
out:
  BIO_free(b);
  return r;
}

int cdr_cert_fingerprint(X509 *c, uint8_t out[32]) {
  uint8_t *der = NULL;
  size_t len;
  int r;
  if ((r = cdr_cert_to_der(c, &der, &len)) != 0)
    return r;
  r = cdr_sha256(out, der, len);
  OPENSSL_free(der);
  return r;
}

void cdr_fingerprint_format(char out[96], const uint8_t fp[32]) {
  static const char hex[] = "0123456789ABCDEF";
  for (int i = 0; i < 32; i++) {
    out[3 * i] = hex[fp[i] >> 4];
    out[3 * i + 1] = hex[fp[i] & 15];
    out[3 * i + 2] = i == 31 ? '\0' : ':';
  }
}

/* The single entry of `nid` in the subject, as a malloc'd UTF-8 string. */
static int subject_entry(X509 *cert, int nid, char **out) {
  X509_NAME *n = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(n, nid, -1);
  if (idx < 0)
    return CDR_ERR_NOT_FOUND;
  if (X509_NAME_get_index_by_NID(n, nid, idx) >= 0)
    return CDR_ERR_CERT_INVALID; /* ambiguous: two entries */
  ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
  unsigned char *utf8 = NULL;
  int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0)
    return CDR_ERR_CERT_INVALID;
  if (memchr(utf8, 0, (size_t)len) != NULL) {
    OPENSSL_free(utf8);
    return CDR_ERR_CERT_INVALID;
  }
  char *str = malloc((size_t)len + 1);
  if (str == NULL) {
    OPENSSL_free(utf8);
    return CDR_ERR_NOMEM;
  }
  memcpy(str, utf8, (size_t)len);
  str[len] = '\0';
  OPENSSL_free(utf8);
  *out = str;
  return 0;
}

int cdr_cert_subject(X509 *cert, char **name, enum cdr_role *role) {
  char *cn = NULL, *rs = NULL;
  int r;
  if ((r = subject_entry(cert, NID_commonName, &cn)) != 0)
    return r == CDR_ERR_NOT_FOUND ? CDR_ERR_CERT_INVALID : r;
  r = subject_entry(cert, NID_role, &rs);
  if (r == CDR_ERR_NOT_FOUND) {
    if (role)
      *role = CDR_ROLE_NONE;
    r = 0;
  } else if (r == 0 && role) {
    *role = cdr_role_from_name(rs);
  }
  free(rs);
  if (r == 0 && name)
    *name = cn;
  else
    free(cn);
  return r;
}

static int map_verify_error(int e) {
  switch (e) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
    return CDR_ERR_CERT_EXPIRED;
  case X509_V_ERR_CERT_NOT_YET_VALID:
    return CDR_ERR_CERT_NOT_YET_VALID;
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
  case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
  case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
  case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    return CDR_ERR_CERT_UNTRUSTED;
  case X509_V_ERR_INVALID_PURPOSE:
  case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
  case X509_V_ERR_INVALID_CA:
    return CDR_ERR_CERT_USAGE;
  default:
    return CDR_ERR_CERT_INVALID;
  }
}

int cdr_cert_verify_user(X509 *ca, X509 *cert, int64_t at, enum cdr_role *role, char **name) {
  X509_STORE *store = X509_STORE_new();
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int r = CDR_ERR_CRYPTO;
  if (store == NULL || ctx == NULL || X509_STORE_add_cert(store, ca) != 1)
    goto out;
  if (X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
    goto out;
  X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_time(vp, (time_t)at);
  X509_VERIFY_PARAM_set_depth(vp, 1); /* user cert directly under the room CA */
  X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
  X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx) != 1) {
    r = map_verify_error(X509_STORE_CTX_get_error(ctx));
    goto out;
  }
  /* The chain is trusted; now the room's own rules.  A CA is never a
   * user, whatever its key usage: X509_check_ca() alone answers 0 for
   * CA:TRUE with a keyUsage lacking keyCertSign, so the basicConstraints
   * flag is checked too (PROTOCOL.md section 3). */
  if (X509_check_ca(cert) != 0 || (X509_get_extension_flags(cert) & EXFLAG_CA) != 0) {
    r = CDR_ERR_CERT_USAGE;
    goto out;
  }
  uint32_t ku = X509_get_key_usage(cert);
  if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE)) {
    r = CDR_ERR_CERT_USAGE;
    goto out;
  }
  enum cdr_role rl = CDR_ROLE_NONE;
  char *cn = NULL;
  if ((r = cdr_cert_subject(cert, &cn, &rl)) != 0)
    goto out;
  if (rl == CDR_ROLE_NONE) {
    free(cn);
    r = CDR_ERR_CERT_NO_ROLE;
    goto out;
  }
  if (role)
    *role = rl;
  if (name)
    *name = cn;
  else
    free(cn);
  r = 0;
out:
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  ERR_clear_error();
  return r;
}
