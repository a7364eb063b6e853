/*
 * tdx_internal.h - the pieces of the TDX quote verifier (verify_tdx.c)
 * that live in their own files: the exact v4 quote layout and parser
 * (tdx_quote.c), the Intel PKI helpers (tdx_pki.c: chains to the pinned
 * Intel SGX Root CA, raw ECDSA P-256 signatures, the SGX extension of a
 * PCK certificate) and the collateral (tdx_collateral.c: TCB info and QE
 * identity JSON, TCB level matching).  Private to src/attest; the unit
 * test includes it to exercise the TCB matching on synthetic collateral.
 *
 * Every function returns 0 or a negative cdr_err, and on failure writes
 * a one-line reason into the caller's `why` buffer (never NULL).  The
 * errors are already the attestation errors of hwattest.h, so that
 * verify_tdx.c only passes them on.
 */
#ifndef CDR_TDX_INTERNAL_H
#define CDR_TDX_INTERNAL_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Quote v4 layout (Intel TDX DCAP Quoting Library API, appendix). */
#define TDX_HEADER_LEN 48u
#define TDX_TD_REPORT_LEN 584u
#define TDX_SIGNED_LEN (TDX_HEADER_LEN + TDX_TD_REPORT_LEN) /* 632 */
#define TDX_SIG_LEN 64u                                     /* r || s, big-endian */
#define TDX_ATT_KEY_LEN 64u                                 /* P-256 x || y */
#define TDX_QE_REPORT_LEN 384u
#define TDX_QUOTE_VERSION 4u
#define TDX_ATT_KEY_ECDSA_P256 2u
#define TDX_TEE_TYPE 0x81u
#define TDX_CERT_QE_REPORT 6u /* certification data: QE report + nested data */
#define TDX_CERT_PCK_CHAIN 5u /* certification data: PEM PCK chain */

/* Offsets inside the TD report (TDREPORT body, TD 1.0). */
#define TDX_TR_TEE_TCB_SVN 0u
#define TDX_TR_MRSEAM 16u
#define TDX_TR_MRSIGNERSEAM 64u
#define TDX_TR_SEAM_ATTRIBUTES 112u
#define TDX_TR_TD_ATTRIBUTES 120u
#define TDX_TR_XFAM 128u
#define TDX_TR_MRTD 136u
#define TDX_TR_MRCONFIGID 184u
#define TDX_TR_MROWNER 232u
#define TDX_TR_MROWNERCONFIG 280u
#define TDX_TR_RTMR0 328u /* four of 48 bytes */
#define TDX_TR_REPORT_DATA 520u

/* Offsets inside the QE report (an SGX enclave REPORT body). */
#define TDX_QE_CPUSVN 0u
#define TDX_QE_MISCSELECT 16u
#define TDX_QE_ATTRIBUTES 48u
#define TDX_QE_MRENCLAVE 64u
#define TDX_QE_MRSIGNER 128u
#define TDX_QE_ISVPRODID 256u
#define TDX_QE_ISVSVN 258u
#define TDX_QE_REPORT_DATA 320u

/* Caps on attacker-supplied sizes, checked before anything is trusted. */
#define TDX_MAX_COLLATERAL (256u * 1024u)
#define TDX_MAX_CHAIN_CERTS 3

/* A parsed quote: every pointer borrows from the caller's bytes and has
 * exactly the length its name or _len field says. */
struct tdx_quote {
  const uint8_t *header;        /* TDX_HEADER_LEN */
  const uint8_t *td_report;     /* TDX_TD_REPORT_LEN */
  const uint8_t *quote_sig;     /* TDX_SIG_LEN */
  const uint8_t *att_key;       /* TDX_ATT_KEY_LEN */
  const uint8_t *qe_report;     /* TDX_QE_REPORT_LEN */
  const uint8_t *qe_report_sig; /* TDX_SIG_LEN */
  const uint8_t *qe_auth;       /* qe_auth_len bytes (may be 0) */
  size_t qe_auth_len;
  const uint8_t *pck_pem;       /* pck_pem_len bytes of PEM text */
  size_t pck_pem_len;
  size_t quote_len;             /* declared length: 636 + signature data */
};

/* The SGX extension (1.2.840.113741.1.13.1) of a PCK certificate. */
struct tdx_pck_ext {
  uint8_t fmspc[6];
  uint8_t pceid[2];
  uint8_t comp[16];  /* SGX TCB components .2.1 .. .2.16 */
  uint16_t pcesvn;   /* .2.17 */
};

/* tdx_quote.c.  Parse a v4 quote of len bytes exactly: header fields,
 * every nested length checked against what is left, every length field
 * equal to what it encloses.  Bytes after the declared length must all
 * be zero.  CDR_ERR_ATTEST_MALFORMED otherwise. */
int tdx_quote_parse(struct tdx_quote *q, const uint8_t *p, size_t len, char *why, size_t whylen) CDR_WUR;
uint16_t tdx_le16(const uint8_t *p);
uint32_t tdx_le32(const uint8_t *p);
uint64_t tdx_le64(const uint8_t *p);

/* tdx_pki.c.  Parse every certificate of a PEM text (at most
 * TDX_MAX_CHAIN_CERTS, at least 2); the stack is the caller's. */
int tdx_pem_chain(STACK_OF(X509) **out, const uint8_t *pem, size_t len, char *why, size_t whylen) CDR_WUR;
/* Verify sk[0] through the other certificates of sk to the pinned Intel
 * SGX Root CA at time at, then require the verified chain to be exactly
 * leaf_cn -> (ca_cn1 | ca_cn2, if ca_cn1 != NULL) -> root, with sk a
 * prefix of it (so a root sk carries must be the pinned one).  Errors:
 * CDR_ERR_ATTEST_ROOT, _CERT_TIME, _SIGNATURE. */
int tdx_chain_verify(STACK_OF(X509) *sk, int64_t at, const char *leaf_cn, const char *ca_cn1,
                     const char *ca_cn2, char *why, size_t whylen) CDR_WUR;
/* ECDSA P-256 / SHA-256 of msg under key, signature raw r || s.
 * CDR_ERR_ATTEST_SIGNATURE if it does not verify or key is not P-256. */
int tdx_ecdsa_verify(EVP_PKEY *key, const uint8_t *msg, size_t msglen, const uint8_t sig[64]) CDR_WUR;
/* A P-256 public key from raw x || y (CDR_ERR_ATTEST_MALFORMED if the
 * point is not on the curve).  The caller frees *out. */
int tdx_p256_key(EVP_PKEY **out, const uint8_t xy[64]) CDR_WUR;
/* The SGX extension of a PCK certificate, read with OpenSSL's ASN.1
 * decoders; every field required exactly once.  _MALFORMED otherwise. */
int tdx_pck_ext_parse(X509 *pck, struct tdx_pck_ext *e, char *why, size_t whylen) CDR_WUR;

/* tdx_collateral.c. */
/* "YYYY-MM-DDTHH:MM:SSZ" to seconds since the epoch; _MALFORMED. */
int tdx_parse_time(const char *s, int64_t *t) CDR_WUR;
/* Exactly n bytes of hex from a JSON string member; _MALFORMED. */
int tdx_json_hex(const json_t *obj, const char *key, uint8_t *out, size_t n) CDR_WUR;
/* Check issueDate <= at <= nextUpdate of a TCB info or QE identity
 * object; _CERT_TIME or _MALFORMED. */
int tdx_json_window(const json_t *obj, int64_t at, const char *what, char *why, size_t whylen) CDR_WUR;
/* The status of the first tcbLevel of a TDX TCB info (version 3) whose
 * sgxtcbcomponents are all <= the PCK's, whose pcesvn <= the PCK's and
 * whose tdxtcbcomponents are all <= tee_tcb_svn; "Unknown" if none does.
 * *status borrows from tcb_info.  _MALFORMED if a level does not parse. */
int tdx_tcb_level(const json_t *tcb_info, const struct tdx_pck_ext *pck, const uint8_t tee_tcb_svn[16],
                  const char **status, char *why, size_t whylen) CDR_WUR;
/* Status of the first level of a tcbLevels array of {"tcb":{"isvsvn":N}}
 * entries with N <= isvsvn; NULL if none.  _MALFORMED. */
int tdx_isvsvn_level(const json_t *levels, unsigned isvsvn, const char **status, char *why,
                     size_t whylen) CDR_WUR;
/* 1 if status is one of the comma-separated names of list (NULL: none). */
int tdx_status_accepted(const char *list, const char *status);

#endif
