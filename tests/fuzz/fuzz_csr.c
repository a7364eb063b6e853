/*
 * fuzz_csr.c - certificate signing requests as cdrd checks them at
 * enrollment (cdr_csr_check, src/room/csr.c): the PEM text arrives in
 * the JSON body of POST /v1/enroll from anyone holding, or guessing at,
 * an enrollment token.
 *
 * Input: the PEM text.  Expected subject name: the fixture analyst's.
 *
 * Invariants: a CSR is returned exactly when the answer is 0; an
 * accepted CSR carries a public key of a supported type, a valid
 * self-signature, and one CN equal to the expected name.
 */
#include <openssl/x509.h>
#include <string.h>

#include "crypto/crypto.h"
#include "fuzzlib.h"
#include "room/room.h"

#define EXPECTED_NAME "ana@fuzz.example"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  X509_REQ *req = NULL;
  int r = cdr_csr_check((const char *)data, size, EXPECTED_NAME, &req);
  if (r != 0) {
    FUZZ_CHECK(req == NULL);
    FUZZ_CHECK(r == CDR_ERR_CSR_INVALID || r == CDR_ERR_CSR_BAD_SIGNATURE || r == CDR_ERR_KEY_UNSUPPORTED ||
               r == CDR_ERR_CSR_SUBJECT || r == CDR_ERR_TOO_LARGE || r == CDR_ERR_NOMEM);
    return 0;
  }
  FUZZ_CHECK(req != NULL);
  EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
  FUZZ_CHECK(pub != NULL && cdr_key_check_user_type(pub) == 0);
  FUZZ_CHECK(X509_REQ_verify(req, pub) == 1);
  X509_REQ_free(req);
  return 0;
}
