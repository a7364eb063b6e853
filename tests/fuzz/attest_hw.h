/*
 * attest_hw.h - the body shared by fuzz_attest_snp.c,
 * fuzz_attest_tdx.c and fuzz_attest_nitro.c: hardware attestation
 * evidence, as `cdr attest` and every client of a hardware-backed room
 * verify it (src/attest/hwattest.h).  The host chooses every byte of it.
 *
 * Input layout (so that a seed can carry the policy its evidence meets):
 *   u8 flags        bit0: an expected measurement follows (48 bytes)
 *                   bit1: expected report_data follows (64 bytes)
 *                   bit2: allow_debug
 *                   bit3: accept TCB statuses other than UpToDate (FUZZ_HW_TCB_OK)
 *                   bit4: u32be n, then n bytes of PEM certificates (policy->certs)
 *                   bit5: u32be n, then n bytes of collateral (TDX)
 *   u32be at        verification time
 *   [measurement] [report_data] [certs] [collateral]
 *   evidence        the rest
 *
 * Invariants: the answer is 0 or one of the verifier's documented
 * errors (CDR_ERR_ARG only for a TDX policy without collateral); the report's check list stays within its array with
 * NUL-terminated strings; an accepted report is of the right platform,
 * carries a 48-byte measurement equal to the expected one and
 * report_data equal to the expected one when those were given, and is
 * not a debug guest unless debug was allowed.
 */
#ifndef CDR_FUZZ_ATTEST_HW_H
#define CDR_FUZZ_ATTEST_HW_H

#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>

#include "attest/hwattest.h"
#include "fuzzlib.h"

#define FUZZ_HW_TCB_OK "SWHardeningNeeded,ConfigurationNeeded,ConfigurationAndSWHardeningNeeded,OutOfDate,Unknown"

typedef int (*fuzz_hw_verify_fn)(const uint8_t *, size_t, const struct cdr_hw_policy *, struct cdr_hw_report *);

static inline STACK_OF(X509) *fuzz_hw_certs(const uint8_t *p, size_t n) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  BIO *b = BIO_new_mem_buf(p, (int)n);
  X509 *x;
  FUZZ_CHECK(sk != NULL && b != NULL);
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
    if (sk_X509_push(sk, x) <= 0)
      X509_free(x);
  ERR_clear_error();
  BIO_free(b);
  return sk;
}

static inline int fuzz_attest_hw(fuzz_hw_verify_fn verify, enum cdr_hw_platform platform, const uint8_t *data,
                                 size_t size) {
  static struct cdr_hw_report rep; /* large: not on the stack */
  struct fuzz_in in = {data, size};
  struct cdr_hw_policy pol;
  const uint8_t *meas = NULL, *rd = NULL, *certs = NULL, *coll = NULL;
  size_t certs_len = 0, coll_len = 0;

  memset(&pol, 0, sizeof(pol));
  memset(&rep, 0, sizeof(rep));
  uint8_t flags = fuzz_u8(&in);
  pol.at = (int64_t)fuzz_u32(&in);
  if ((flags & 1) && fuzz_bytes(&in, 48, &meas) == 48) {
    pol.expect_measurement = meas;
    pol.expect_measurement_len = 48;
  }
  if ((flags & 2) && fuzz_bytes(&in, 64, &rd) == 64)
    pol.expect_report_data = rd;
  pol.allow_debug = (flags & 4) != 0;
  pol.accept_tcb_statuses = (flags & 8) ? FUZZ_HW_TCB_OK : NULL;
  if (flags & 16) {
    certs_len = fuzz_bytes(&in, fuzz_u32(&in) % 65536, &certs);
    pol.certs = fuzz_hw_certs(certs, certs_len);
  }
  if (flags & 32) {
    coll_len = fuzz_bytes(&in, fuzz_u32(&in) % (1u << 20), &coll);
    pol.collateral = coll;
    pol.collateral_len = coll_len;
  }

  /* The evidence in a buffer of its exact size. */
  uint8_t *ev = malloc(in.n ? in.n : 1);
  FUZZ_CHECK(ev != NULL);
  memcpy(ev, in.p, in.n);
  int r = verify(ev, in.n, &pol, &rep);
  free(ev);

  FUZZ_CHECK(rep.nchecks <= CDR_HW_MAX_CHECKS);
  for (size_t i = 0; i < rep.nchecks; i++)
    FUZZ_CHECK(memchr(rep.checks[i].name, '\0', sizeof(rep.checks[i].name)) != NULL &&
               memchr(rep.checks[i].detail, '\0', sizeof(rep.checks[i].detail)) != NULL);
  FUZZ_CHECK(memchr(rep.tcb, '\0', sizeof(rep.tcb)) != NULL && memchr(rep.policy, '\0', sizeof(rep.policy)) != NULL &&
             memchr(rep.tcb_status, '\0', sizeof(rep.tcb_status)) != NULL);
  FUZZ_CHECK(rep.npcrs <= CDR_HW_MAX_PCRS && rep.measurement_len <= sizeof(rep.measurement) &&
             rep.nitro_nonce_len <= sizeof(rep.nitro_nonce));
  if (r == 0) {
    FUZZ_CHECK(rep.platform == platform && rep.measurement_len == 48);
    if (pol.expect_measurement != NULL)
      FUZZ_CHECK(memcmp(rep.measurement, pol.expect_measurement, 48) == 0);
    if (pol.expect_report_data != NULL)
      FUZZ_CHECK(rep.has_report_data && memcmp(rep.report_data, pol.expect_report_data, 64) == 0);
    if (!pol.allow_debug)
      FUZZ_CHECK(!rep.debug);
  } else {
    int known = r == CDR_ERR_ATTEST_SIGNATURE || r == CDR_ERR_ATTEST_ROOT || r == CDR_ERR_ATTEST_CERT_TIME ||
                r == CDR_ERR_ATTEST_TCB || r == CDR_ERR_ATTEST_DEBUG || r == CDR_ERR_ATTEST_MEASUREMENT ||
                r == CDR_ERR_ATTEST_REPORT_DATA || r == CDR_ERR_ATTEST_MALFORMED || r == CDR_ERR_NOMEM ||
                /* the caller's mistake, not the evidence's: a TDX policy without collateral */
                (r == CDR_ERR_ARG && platform == CDR_HW_TDX && pol.collateral_len == 0);
    if (!known)
      fprintf(stderr, "the verifier returned %s (last check: %s: %s)\n", cdr_err_code(r),
              rep.nchecks ? rep.checks[rep.nchecks - 1].name : "none",
              rep.nchecks ? rep.checks[rep.nchecks - 1].detail : "");
    FUZZ_CHECK(known);
  }
  sk_X509_pop_free(pol.certs, X509_free);
  return 0;
}

#endif
