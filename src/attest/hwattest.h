/*
 * hwattest.h - verifiers of hardware attestation evidence: AMD SEV-SNP
 * reports, Intel TDX quotes (v4, DCAP) and AWS Nitro Enclaves attestation
 * documents.  Client side: used by `cdr attest` (online and with
 * --evidence) and by every command that connects to a hardware-backed
 * room.  All cryptography through OpenSSL; CBOR through libcbor; no
 * hand-written ASN.1 or CBOR.
 *
 * Each verifier:
 *   - takes the verification time explicitly (policy->at), so tests can
 *     pin it; nothing reads the clock;
 *   - checks everything it can and stops at the first failure, returning
 *     its own error: CDR_ERR_ATTEST_SIGNATURE (a signature over the
 *     evidence or in the chain fails), CDR_ERR_ATTEST_ROOT (the chain does
 *     not end at the pinned vendor root), CDR_ERR_ATTEST_CERT_TIME (a
 *     certificate or collateral item is not valid at policy->at),
 *     CDR_ERR_ATTEST_TCB (TCB below the minimum, or a TCB status other
 *     than UpToDate that the policy did not accept by name),
 *     CDR_ERR_ATTEST_DEBUG (debug allowed and the policy refuses it),
 *     CDR_ERR_ATTEST_MEASUREMENT, CDR_ERR_ATTEST_REPORT_DATA,
 *     CDR_ERR_ATTEST_MALFORMED (anything that does not parse exactly);
 *   - fills *out with what it found and one line per check made, so that
 *     the CLI can print a readable summary even when a check fails.
 *
 * Vendor roots are pinned in the project (src/attest/roots_<vendor>.c): AMD ARK
 * Milan and Genoa, the Intel SGX Root CA, the AWS Nitro root G1.
 */
#ifndef CDR_HWATTEST_H
#define CDR_HWATTEST_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CDR_HW_MAX_CHECKS 32
#define CDR_HW_MAX_PCRS 32

enum cdr_hw_platform { CDR_HW_SNP = 1, CDR_HW_TDX = 2, CDR_HW_NITRO = 3 };

struct cdr_hw_policy {
  int64_t at;                          /* verification time, seconds since the epoch */
  const uint8_t *expect_measurement;   /* SNP: measurement; TDX: MRTD; Nitro: PCR0; NULL: any */
  size_t expect_measurement_len;       /* 48 for all three */
  const uint8_t *expect_report_data;   /* 64 bytes (Nitro: user_data must be exactly
                                        * these 64 bytes); NULL: any */
  int allow_debug;                     /* accept debug-enabled guests (Nitro: PCR0 all zero) */
  const char *accept_tcb_statuses;     /* comma list of statuses other than
                                        * UpToDate to accept, e.g. "SWHardeningNeeded"; NULL: none */
  uint8_t snp_min_tcb[8];              /* SNP: minimum reported TCB bytes (bootloader,
                                        * tee, reserved[4], snp, microcode); all 0: no minimum */
  STACK_OF(X509) *certs;               /* --certs: certificates the evidence does not carry
                                        * (SNP: the VCEK, and the ASK if not pinned) */
  const uint8_t *collateral;           /* TDX: collateral JSON (TCB info, QE identity) */
  size_t collateral_len;
};

struct cdr_hw_check {
  char name[64];                       /* "VCEK signature over the report" */
  int ok;                              /* 1 passed, 0 failed */
  char detail[192];
};

struct cdr_hw_report {
  enum cdr_hw_platform platform;
  uint8_t measurement[48];             /* SNP measurement, TDX MRTD, Nitro PCR0 */
  size_t measurement_len;
  uint8_t report_data[64];             /* SNP/TDX report_data; Nitro: user_data (zero-padded) */
  int has_report_data;
  uint8_t rtmr[4][48];                 /* TDX */
  uint8_t pcr[CDR_HW_MAX_PCRS][48];    /* Nitro */
  size_t npcrs;
  char tcb[160];                       /* human rendering of the TCB */
  char tcb_status[48];                 /* "UpToDate", "OutOfDate", ... ("" if none) */
  char policy[160];                    /* human rendering of the guest policy / attributes */
  int debug;                           /* guest debug enabled */
  uint8_t nitro_nonce[64];             /* Nitro nonce, when present */
  size_t nitro_nonce_len;
  struct cdr_hw_check checks[CDR_HW_MAX_CHECKS];
  size_t nchecks;
};

/* Verify a raw SEV-SNP attestation report (1184 bytes, version >= 2). */
int cdr_verify_snp(const uint8_t *report, size_t len, const struct cdr_hw_policy *policy,
                   struct cdr_hw_report *out) CDR_WUR;
/* Verify a TDX v4 quote with its embedded PCK chain (certification data
 * type 5) and the collateral in policy->collateral. */
int cdr_verify_tdx(const uint8_t *quote, size_t len, const struct cdr_hw_policy *policy,
                   struct cdr_hw_report *out) CDR_WUR;
/* Verify a Nitro attestation document (untagged or tagged COSE_Sign1). */
int cdr_verify_nitro(const uint8_t *doc, size_t len, const struct cdr_hw_policy *policy,
                     struct cdr_hw_report *out) CDR_WUR;

/* Verify evidence of `platform` with the verifier for it, then require
 * that a TCB status other than UpToDate was accepted by name
 * (policy->accept_tcb_statuses).  What every caller uses. */
int cdr_verify_hw(enum cdr_hw_platform platform, const uint8_t *evidence, size_t len,
                  const struct cdr_hw_policy *policy, struct cdr_hw_report *out) CDR_WUR;
/* Is status one of the names in the comma-separated list (NULL: none)? */
int cdr_hw_status_listed(const char *list, const char *status);

/* Record a check in out (used by the verifiers). */
void cdr_hw_check(struct cdr_hw_report *out, int ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The pinned vendor roots (roots_amd.c, roots_intel.c, roots_aws.c), each
 * parsed once on first use; NULL only if the embedded PEM is broken. */
X509 *cdr_root_amd_ark_milan(void);
X509 *cdr_root_amd_ark_genoa(void);
X509 *cdr_root_amd_ask_milan(void);
X509 *cdr_root_amd_ask_genoa(void);
X509 *cdr_root_intel_sgx(void);
X509 *cdr_root_aws_nitro_g1(void);

#endif
