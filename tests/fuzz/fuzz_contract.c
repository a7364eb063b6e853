/*
 * fuzz_contract.c - the room contract's parsers (src/crypto/contract.h,
 * PROTOCOL.md 8): a contract document and a detached signature object
 * arrive from members, from the host and from the enclave, none of which
 * the reader trusts.
 *
 * Input: the bytes of a document (also tried as a signature object).
 *
 * Invariants: an input is accepted exactly when it is its own canonical
 * re-encoding; an accepted contract passes cdr_contract_validate, and
 * its hash is SHA-256 of the input; every refusal is
 * CDR_ERR_CONTRACT_INVALID (or NOMEM) and leaves the output zeroed.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "fuzzlib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct cdr_contract c;
  struct cdr_contract_sig s;
  char why[CDR_CONTRACT_WHY_LEN];
  uint8_t *again = NULL, h1[32], h2[32];
  size_t len = 0;
  int r = cdr_contract_parse(data, size, &c, why, sizeof(why));
  if (r != 0) {
    FUZZ_CHECK(r == CDR_ERR_CONTRACT_INVALID || r == CDR_ERR_NOMEM);
    FUZZ_CHECK(c.members == NULL && c.room_name == NULL && c.witnesses == NULL);
  } else {
    FUZZ_CHECK(cdr_contract_validate(&c, why, sizeof(why)) == 0);
    FUZZ_CHECK(cdr_contract_encode(&c, &again, &len, why, sizeof(why)) == 0);
    FUZZ_CHECK(again != NULL && len == size && memcmp(again, data, size) == 0);
    FUZZ_CHECK(cdr_contract_hash(&c, h1) == 0 && cdr_sha256(h2, data, size) == 0 && memcmp(h1, h2, 32) == 0);
    free(again);
    again = NULL;
    cdr_contract_free(&c);
  }
  r = cdr_contract_sig_parse(data, size, &s, why, sizeof(why));
  if (r != 0) {
    FUZZ_CHECK(r == CDR_ERR_CONTRACT_INVALID || r == CDR_ERR_NOMEM);
    FUZZ_CHECK(s.sig == NULL);
    return 0;
  }
  FUZZ_CHECK(cdr_contract_sig_encode(&s, &again, &len) == 0);
  FUZZ_CHECK(again != NULL && len == size && memcmp(again, data, size) == 0);
  free(again);
  cdr_contract_sig_free(&s);
  return 0;
}
