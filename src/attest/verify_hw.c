/*
 * verify_hw.c - one entry point over the three hardware verifiers, with
 * the TCB-status rule every caller must apply; see hwattest.h.
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
  int r;
  switch (platform) {
  case CDR_HW_SNP: r = cdr_verify_snp(evidence, len, policy, out); break;
  case CDR_HW_TDX: r = cdr_verify_tdx(evidence, len, policy, out); break;
  case CDR_HW_NITRO: r = cdr_verify_nitro(evidence, len, policy, out); break;
  default: return CDR_ERR_INTERNAL;
  }
  /* The verifiers refuse unaccepted TCB statuses themselves; this keeps
   * the promise even if one did not. */
  if (r == 0 && out->tcb_status[0] != '\0' && strcmp(out->tcb_status, "UpToDate") != 0 &&
      !cdr_hw_status_listed(policy->accept_tcb_statuses, out->tcb_status)) {
    cdr_hw_check(out, 0, "TCB status", "%s is not UpToDate and was not accepted by name", out->tcb_status);
    r = CDR_ERR_ATTEST_TCB;
  }
  return r;
}
