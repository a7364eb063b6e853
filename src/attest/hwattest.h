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

/* Room for every check of the longest run: a Nitro document with all 32
 * PCRs expected (7 checks of its own, 32 register checks, the TCB rule). */
#define CDR_HW_MAX_CHECKS 48
#define CDR_HW_MAX_PCRS 32
#define CDR_HW_RTMRS 4
#define CDR_HW_REG_LEN 48                /* an RTMR or PCR value: SHA-384 */
#define CDR_SNP_TCB_LEN 8                /* an SEV-SNP TCB_VERSION */

enum cdr_hw_platform { CDR_HW_SNP = 1, CDR_HW_TDX = 2, CDR_HW_NITRO = 3 };

/*
 * Expected values of registers besides the main measurement: TDX RTMR0-3
 * (the runtime registers: RTMR0 firmware configuration, RTMR1 and RTMR2
 * the kernel, initrd and command line as firmware and boot loader
 * measure them, RTMR3 what the guest extends at run time),
 * Nitro PCR0-31 (PCR1 kernel and boot ramfs, PCR2 user applications, PCR3
 * the parent's IAM role, PCR4 the parent instance, PCR8 the EIF signing
 * certificate).  SEV-SNP has no such registers.  One value per register,
 * so a list never holds more than CDR_HW_MAX_EXPECT entries.
 */
enum cdr_hw_reg { CDR_HW_REG_RTMR = 1, CDR_HW_REG_PCR = 2 };
#define CDR_HW_MAX_EXPECT (CDR_HW_RTMRS + CDR_HW_MAX_PCRS)
struct cdr_hw_expect_reg {
  enum cdr_hw_reg kind;
  unsigned index;                      /* RTMR 0..3, PCR 0..31 */
  uint8_t value[CDR_HW_REG_LEN];
};
struct cdr_hw_expect {
  size_t n;
  struct cdr_hw_expect_reg reg[CDR_HW_MAX_EXPECT];
};

struct cdr_hw_policy {
  int64_t at;                          /* verification time, seconds since the epoch */
  const uint8_t *expect_measurement;   /* SNP: measurement; TDX: MRTD; Nitro: PCR0; NULL: any */
  size_t expect_measurement_len;       /* 48 for all three */
  const uint8_t *expect_report_data;   /* 64 bytes (Nitro: user_data must be exactly
                                        * these 64 bytes); NULL: any */
  int allow_debug;                     /* accept debug-enabled guests (Nitro: PCR0 all zero) */
  const char *accept_tcb_statuses;     /* comma list of statuses other than
                                        * UpToDate to accept, e.g. "SWHardeningNeeded"; NULL: none */
  uint8_t snp_min_tcb[CDR_SNP_TCB_LEN]; /* SNP: minimum reported TCB bytes (bootloader,
                                        * tee, reserved[4], snp, microcode); all 0: no minimum */
  STACK_OF(X509) *certs;               /* --certs: certificates the evidence does not carry
                                        * (SNP: the VCEK, and the ASK if not pinned) */
  const uint8_t *collateral;           /* TDX: collateral JSON (TCB info, QE identity) */
  size_t collateral_len;
  const struct cdr_hw_expect *expect_regs; /* RTMR / PCR values to require; NULL or
                                        * empty: none.  Only cdr_verify_hw checks
                                        * them; the platform verifiers refuse a
                                        * policy that has any (CDR_ERR_ARG), so that
                                        * none is ever silently ignored. */
};

struct cdr_hw_check {
  char name[64];                       /* "VCEK signature over the report" */
  int ok;                              /* 1 passed, 0 failed */
  char detail[256];                    /* room for two 96-hex register values */
};

struct cdr_hw_report {
  enum cdr_hw_platform platform;
  uint8_t measurement[48];             /* SNP measurement, TDX MRTD, Nitro PCR0 */
  size_t measurement_len;
  uint8_t report_data[64];             /* SNP/TDX report_data; Nitro: user_data (zero-padded) */
  int has_report_data;
  uint8_t rtmr[CDR_HW_RTMRS][CDR_HW_REG_LEN]; /* TDX */
  uint8_t pcr[CDR_HW_MAX_PCRS][48];    /* Nitro */
  size_t npcrs;                        /* Nitro: highest PCR index + 1 */
  uint32_t pcr_present;                /* Nitro: bit i set when the document carries PCR i */
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
 * type 5) and the collateral in policy->collateral.  A policy without
 * collateral is the caller's error (CDR_ERR_ARG, once the quote itself
 * has been checked), as is an expected measurement of another length. */
int cdr_verify_tdx(const uint8_t *quote, size_t len, const struct cdr_hw_policy *policy,
                   struct cdr_hw_report *out) CDR_WUR;
/* Verify a Nitro attestation document (untagged or tagged COSE_Sign1). */
int cdr_verify_nitro(const uint8_t *doc, size_t len, const struct cdr_hw_policy *policy,
                     struct cdr_hw_report *out) CDR_WUR;

/* Verify evidence of `platform` with the verifier for it, then require
 * that a TCB status other than UpToDate was accepted by name
 * (policy->accept_tcb_statuses), then that every register in
 * policy->expect_regs has its expected value (cdr_hw_expect_check).  What
 * every caller uses.  An expectation list that is not well formed (more
 * than CDR_HW_MAX_EXPECT entries, an index out of range): CDR_ERR_ARG
 * before anything is verified. */
int cdr_verify_hw(enum cdr_hw_platform platform, const uint8_t *evidence, size_t len,
                  const struct cdr_hw_policy *policy, struct cdr_hw_report *out) CDR_WUR;
/* Is status one of the names in the comma-separated list (NULL: none)? */
int cdr_hw_status_listed(const char *list, const char *status);

/* Register expectations (hwexpect.c). */
/* "RTMR" or "PCR". */
const char *cdr_hw_reg_name(enum cdr_hw_reg kind);
/* Add the expectation spec "N=HEX" for a register of `kind` to list: N
 * decimal (RTMR 0..3, PCR 0..31), HEX exactly 96 hex digits.  The same
 * register given again with the same value is accepted once; with
 * another value it is refused.  0, or CDR_ERR_ARG (list unchanged). */
int cdr_hw_expect_add(struct cdr_hw_expect *list, enum cdr_hw_reg kind, const char *spec) CDR_WUR;
/* Is every entry of list (NULL: none) a register some platform has, and
 * are there at most CDR_HW_MAX_EXPECT?  0 or CDR_ERR_ARG. */
int cdr_hw_expect_valid(const struct cdr_hw_expect *list);
/* Compare the registers of a report that its verifier accepted with
 * list, in list order, recording one check per register ("expected
 * register": "RTMR2 equals the expected value").  Stops at the first
 * failure with CDR_ERR_ATTEST_MEASUREMENT: a value that differs ("RTMR2
 * differs: expected HEX, got HEX"), or a register the evidence does not
 * have (any RTMR or PCR on SEV-SNP, a PCR on TDX, an RTMR on Nitro, a PCR
 * the Nitro document does not carry): an expectation is never ignored. */
int cdr_hw_expect_check(const struct cdr_hw_expect *list, struct cdr_hw_report *out) CDR_WUR;

/* An SEV-SNP minimum TCB, "bootloader=N,tee=N,snp=N,microcode=N" (any
 * subset, any order, each field at most once, each N 0-255; the rest stay
 * 0, and "" is no minimum at all), into the TCB_VERSION byte layout of
 * cdr_hw_policy.snp_min_tcb.
 * 0, or CDR_ERR_ARG for anything else. */
int cdr_snp_min_tcb_parse(const char *spec, uint8_t tcb[CDR_SNP_TCB_LEN]) CDR_WUR;
/* The form, for the messages that refuse a spec. */
#define CDR_SNP_MIN_TCB_FORM "bootloader=N,tee=N,snp=N,microcode=N (each field at most once, N 0-255)"

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
