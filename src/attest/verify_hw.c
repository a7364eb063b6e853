/*
 * verify_hw.c - one entry point over the three hardware verifiers, with
 * the rules every caller must apply after the platform's own checks: the
 * TCB status, then the RTMR / PCR expectations; see hwattest.h.
 */
#include <string.h>

#include "hwattest.h"

int cdr_hw_status_listed(const char *list, const char *status) {
  size_t n = strlen(status);
  for (const char *p = list; p != NULL && *p != '\0';) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (len == n && strncmp(p, status, n) == 0)
      return 1;
    p = comma ? comma + 1 : NULL;
  }
  return 0;
}

int cdr_verify_hw(enum cdr_hw_platform platform, const uint8_t *evidence, size_t len,
                  const struct cdr_hw_policy *policy, struct cdr_hw_report *out) {
  struct cdr_hw_policy own;
  int r;
  if (out == NULL)
    return CDR_ERR_ARG;
  if (policy == NULL || cdr_hw_expect_valid(policy->expect_regs) != 0) {
    memset(out, 0, sizeof(*out));
    out->platform = platform;
    cdr_hw_check(out, 0, "policy", "no policy, or an RTMR / PCR expectation out of range");
    return CDR_ERR_ARG;
  }
  /* The platform verifiers refuse register expectations (they would not
   * check them); they are checked below, once the evidence is proven. */
  own = *policy;
  own.expect_regs = NULL;
  switch (platform) {
  case CDR_HW_SNP: r = cdr_verify_snp(evidence, len, &own, out); break;
  case CDR_HW_TDX: r = cdr_verify_tdx(evidence, len, &own, out); break;
  case CDR_HW_NITRO: r = cdr_verify_nitro(evidence, len, &own, out); break;
  default: return CDR_ERR_INTERNAL;
  }
  /* The verifiers refuse unaccepted TCB statuses themselves; this keeps
   * the promise even if one did not. */
  if (r == 0 && out->tcb_status[0] != '\0' && strcmp(out->tcb_status, "UpToDate") != 0 &&
      !cdr_hw_status_listed(policy->accept_tcb_statuses, out->tcb_status)) {
    cdr_hw_check(out, 0, "TCB status", "%s is not UpToDate and was not accepted by name", out->tcb_status);
    r = CDR_ERR_ATTEST_TCB;
  }
  if (r == 0)
    r = cdr_hw_expect_check(policy->expect_regs, out);
  return r;
}
