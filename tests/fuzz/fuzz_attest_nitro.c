/*
 * fuzz_attest_nitro.c - cdr_verify_nitro (src/attest/verify_nitro.c) on evidence
 * and policy from the input; layout and invariants in attest_hw.h.
 * Seeds: tests/fuzz/corpus/fuzz_attest_nitro/, plus whatever evidence the
 * verifier's own tests keep under tests/data/attest/ (`make fuzz` adds
 * that directory to the corpus).
 */
#include "attest_hw.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_attest_hw(cdr_verify_nitro, CDR_HW_NITRO, data, size);
}
