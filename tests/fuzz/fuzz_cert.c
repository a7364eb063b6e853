/*
 * fuzz_cert.c - X.509 certificates from the other side: the user
 * certificate that the enclave checks at session open (DER, from the
 * host), and the CA certificate a client reads from GET /v1/room (PEM).
 * Both go through src/crypto/x509.c.
 *
 * Input: one byte (even: DER, odd: PEM), then the certificate.  A parsed
 * certificate is fingerprinted, re-encoded, its subject read, and it is
 * verified as a user certificate under the fixture room CA at FUZZ_NOW.
 *
 * Invariants: a parsed certificate can be fingerprinted and re-encoded;
 * one that verifies has a role and a name, is not a CA, and verifies
 * again; a refusal is one of the verifier's documented errors and
 * leaves no name behind.
 */
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "fuzzlib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  (void)fuzz_pki();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct fuzz_pki *k = fuzz_pki();
  X509 *x = NULL;
  uint8_t fp[32], *der = NULL;
  size_t der_len = 0;
  char *name = NULL;
  enum cdr_role role = CDR_ROLE_NONE;
  int r;

  if (size < 1)
    return 0;
  if (data[0] % 2 == 0)
    r = cdr_cert_from_der(&x, data + 1, size - 1);
  else
    r = cdr_cert_from_pem(&x, (const char *)data + 1, size - 1);
  if (r != 0)
    return 0;
  FUZZ_CHECK(cdr_cert_fingerprint(x, fp) == 0);
  FUZZ_CHECK(cdr_cert_to_der(x, &der, &der_len) == 0);
  OPENSSL_free(der);
  if (cdr_cert_subject(x, &name, &role) == 0)
    free(name);
  name = NULL;

  r = cdr_cert_verify_user(k->ca, x, k->now, &role, &name);
  if (r == 0) {
    FUZZ_CHECK(name != NULL && role != CDR_ROLE_NONE);
    FUZZ_CHECK(X509_check_ca(x) == 0);
    free(name);
    name = NULL;
    FUZZ_CHECK(cdr_cert_verify_user(k->ca, x, k->now, NULL, NULL) == 0);
  } else {
    FUZZ_CHECK(name == NULL);
    FUZZ_CHECK(r == CDR_ERR_CERT_UNTRUSTED || r == CDR_ERR_CERT_EXPIRED || r == CDR_ERR_CERT_NOT_YET_VALID ||
               r == CDR_ERR_CERT_USAGE || r == CDR_ERR_CERT_NO_ROLE || r == CDR_ERR_CERT_INVALID ||
               r == CDR_ERR_CRYPTO || r == CDR_ERR_NOMEM);
  }
  X509_free(x);
  return 0;
}
