/*
 * fuzz_dp_ledger.c - the privacy budget ledger's decoder
 * (src/enclave/dp_budget.c, dp_ledger_decode): the sealed bytes a host
 * hands back at start, so anything at all.
 *
 * Input: the encoded ledger.
 *
 * Invariants:
 *   - decoding never crashes, and fails with one of the codes its
 *     contract names (TOO_LARGE, TRUNCATED, ARG, NOMEM);
 *   - what decodes is canonical: encoding it again gives the input's
 *     bytes exactly;
 *   - a decoded ledger keeps working: a charge on its first table and
 *     the refund of that charge leave the table's spent amounts as they
 *     were decoded.
 */
#include <string.h>

#include "common/buf.h"
#include "enclave/dp_budget.h"
#include "fuzzlib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct dp_ledger *l = NULL;
  int r = dp_ledger_decode(data, size, &l);
  if (r != 0) {
    FUZZ_CHECK(l == NULL);
    FUZZ_CHECK(r == CDR_ERR_TOO_LARGE || r == CDR_ERR_TRUNCATED || r == CDR_ERR_ARG || r == CDR_ERR_NOMEM);
    return 0;
  }
  struct cdr_buf b;
  cdr_buf_init(&b, DP_LEDGER_MAX_BYTES, 0);
  FUZZ_CHECK(dp_ledger_encode(l, &b) == 0);
  FUZZ_CHECK(b.len == size && (size == 0 || memcmp(b.d, data, size) == 0));
  /* The first table, if any: its name follows magic and count. */
  if (size > 16) {
    uint32_t n = (uint32_t)data[12] << 24 | (uint32_t)data[13] << 16 | (uint32_t)data[14] << 8 | data[15];
    char name[65];
    uint8_t fp[32] = {0xfe};
    struct dp_spent before, after;
    if (n >= 1 && n <= 64 && size >= 16 + (size_t)n) {
      memcpy(name, data + 16, n);
      name[n] = '\0';
      dp_ledger_spent(l, name, fp, &before);
      char *err = NULL;
      int c = dp_ledger_charge(l, name, fp, 1000000000, 0, 1, 0, &err);
      FUZZ_CHECK(c == 0 || c == CDR_ERR_BUDGET_EXHAUSTED || c == CDR_ERR_NOMEM);
      if (c == 0)
        FUZZ_CHECK(dp_ledger_refund(l, name, fp, 1, 0) == 0);
      free(err);
      dp_ledger_spent(l, name, NULL, &after);
      FUZZ_CHECK(after.eps_micro == before.eps_micro && after.delta_pico == before.delta_pico);
    }
  }
  cdr_buf_free(&b);
  dp_ledger_free(l);
  return 0;
}
