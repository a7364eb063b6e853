/*
 * verify_nitro.c - placeholder until the nitro verifier lands: refuses all
 * evidence as malformed, so that nothing is ever accepted unverified.
 */
#include "hwattest.h"

int cdr_verify_nitro(const uint8_t *evidence, size_t len, const struct cdr_hw_policy *policy,
                  struct cdr_hw_report *out) {
  cdr_hw_check(out, 0, "verifier", "the nitro verifier is not built yet");
  return CDR_ERR_ATTEST_MALFORMED;
}
