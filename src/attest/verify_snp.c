/*
 * verify_snp.c - verifier of AMD SEV-SNP attestation reports (see
 * hwattest.h for the contract every verifier keeps).
 *
 * What a report is.  The AMD Secure Processor writes a 0x4A0-byte report
 * (SEV-SNP ABI specification, "ATTESTATION_REPORT structure"; all
 * integers little-endian) and signs bytes 0x000..0x29F with the chip's
 * VCEK, an ECDSA P-384 key derived from the chip's secret and its TCB
 * version.  AMD certifies the VCEK (one certificate per chip and TCB,
 * served by AMD's key distribution service) under the ASK, and the ASK
 * under the ARK of the processor generation; both are RSA-4096 keys that
 * sign with RSASSA-PSS / SHA-384.  The report does not carry any of these
 * certificates: the VCEK comes from policy->certs (`cdr attest --certs`),
 * the ASK from there or from the pinned copies, the ARK only from the
 * pinned copies (roots_amd.c).
 *
 * Order of the checks, each one stopping the verification with its own
 * error (the later checks read fields that only the signature makes
 * trustworthy, so they come after it):
 *   1. format: exactly 0x4A0 bytes, version >= 2, signature_algo 1, guest
 *      policy bit 17 set, the signing-key field naming the VCEK, and the
 *      bytes the specification reserves FOR THAT VERSION all zero (v3 put
 *      CPUID fields at 0x188, v4/v5 mitigation vectors at 0x1F8; versions
 *      newer than 5 get no reserved-byte check at all, since we cannot
 *      know which bytes they use)               -> CDR_ERR_ATTEST_MALFORMED
 *   2. the VCEK: among policy->certs, an EC P-384 certificate whose hwID
 *      extension equals chip_id and whose TCB extensions equal
 *      reported_tcb; none (wrong chip, wrong TCB, masked chip_id, a VLEK-
 *      signed report)                            -> CDR_ERR_ATTEST_ROOT
 *   3. the chain VCEK -> ASK -> pinned ARK at policy->at (X509_STORE, no
 *      partial chains, only the pinned ARKs trusted): expired or not yet
 *      valid -> CDR_ERR_ATTEST_CERT_TIME, a certificate signature that
 *      fails -> CDR_ERR_ATTEST_SIGNATURE, anything else (unknown issuer, a
 *      self-made root)                           -> CDR_ERR_ATTEST_ROOT
 *   4. the VCEK's ECDSA signature over 0x000..0x29F -> CDR_ERR_ATTEST_SIGNATURE
 *   5. the claims (cdr_snp_check_claims): guest policy DEBUG bit
 *      (CDR_ERR_ATTEST_DEBUG unless policy->allow_debug), reported TCB
 *      against policy->snp_min_tcb byte by byte (CDR_ERR_ATTEST_TCB),
 *      measurement (CDR_ERR_ATTEST_MEASUREMENT), report_data
 *      (CDR_ERR_ATTEST_REPORT_DATA).
 * SEV-SNP has no vendor TCB status, so out->tcb_status stays empty and
 * policy->accept_tcb_statuses is not consulted; the minimum TCB is the
 * policy's only TCB rule.
 *
 * TCB_VERSION is read in the Milan/Genoa layout (bootloader, tee, 4
 * reserved, snp, microcode), the layout of every generation pinned in
 * roots_amd.c; reports from family 1Ah (Turin), whose layout differs, are
 * refused as having no pinned root.
 */
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "ecdsa_raw.h"
#include "hwattest.h"

/* Checks that run on an authenticated report (step 5 above), exported so
 * that tests can reach the ones a signed test vector cannot (a debug
 * guest).  Returns 0 or the error of the first failing check; report must
 * be a full 0x4A0-byte report (CDR_ERR_ATTEST_MALFORMED otherwise).  It
 * does NOT verify anything cryptographically: call it only on a report
 * whose signature and chain cdr_verify_snp has checked. */
int cdr_snp_check_claims(const uint8_t *report, size_t len, const struct cdr_hw_policy *policy,
                         struct cdr_hw_report *out);

#define SNP_REPORT_SIZE 0x4A0u
#define SNP_SIGNED_SIZE 0x2A0u /* bytes 0x000..0x29F */
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1u

/* Field offsets (SEV-SNP ABI specification, ATTESTATION_REPORT). */
#define OFF_VERSION 0x000
#define OFF_GUEST_SVN 0x004
#define OFF_POLICY 0x008
#define OFF_VMPL 0x030
#define OFF_SIG_ALGO 0x034
#define OFF_CURRENT_TCB 0x038
#define OFF_PLATFORM_INFO 0x040
#define OFF_SIGNER_INFO 0x048 /* bits 0 author_key_en, 1 mask_chip_key, 4:2 signing_key */
#define OFF_REPORT_DATA 0x050
#define OFF_MEASUREMENT 0x090
#define OFF_REPORTED_TCB 0x180
#define OFF_CPUID_FAM 0x188 /* version >= 3 */
#define OFF_CPUID_MOD 0x189
#define OFF_CPUID_STEP 0x18A
#define OFF_CHIP_ID 0x1A0
#define OFF_COMMITTED_TCB 0x1E0
#define OFF_CURRENT_BUILD 0x1E8
#define OFF_CURRENT_MINOR 0x1E9
#define OFF_CURRENT_MAJOR 0x1EA
#define OFF_LAUNCH_TCB 0x1F0
#define OFF_SIG_R 0x2A0
#define OFF_SIG_S 0x2E8
#define SIG_RS_FIELD 72 /* little-endian, value in the low 48 bytes */
#define SIG_RS_LEN 48
#define OFF_SIG_END 0x330 /* 0x330..0x49F reserved for this algorithm */

/* Guest policy bits. */
#define POLICY_SMT (1ull << 16)
#define POLICY_RESERVED_ONE (1ull << 17)
#define POLICY_MIGRATE_MA (1ull << 18)
#define POLICY_DEBUG (1ull << 19)
#define POLICY_SINGLE_SOCKET (1ull << 20)
#define POLICY_CXL_ALLOW (1ull << 21)
#define POLICY_MEM_AES_256_XTS (1ull << 22)
#define POLICY_RAPL_DIS (1ull << 23)
#define POLICY_CIPHERTEXT_HIDING (1ull << 24)
#define POLICY_PAGE_SWAP_DISABLE (1ull << 25)

/* TCB_VERSION bytes (Milan/Genoa layout). */
#define TCB_BOOTLOADER 0
#define TCB_TEE 1
#define TCB_SNP 6
#define TCB_MICROCODE 7

/* VCEK extensions (AMD "Versioned Chip Endorsement Key" specification). */
#define OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define OID_TCB_BOOTLOADER "1.3.6.1.4.1.3704.1.3.1"
#define OID_TCB_TEE "1.3.6.1.4.1.3704.1.3.2"
#define OID_TCB_SNP "1.3.6.1.4.1.3704.1.3.3"
#define OID_TCB_MICROCODE "1.3.6.1.4.1.3704.1.3.8"
#define OID_HWID "1.3.6.1.4.1.3704.1.4"

#define CHIP_ID_LEN 64

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* 1 if p[lo..hi) are all zero. */
static int all_zero(const uint8_t *p, size_t lo, size_t hi) {
  for (size_t i = lo; i < hi; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

/* The two renderings are for display: a truncated one is acceptable, so
 * only an encoding error (never expected) is handled. */
static void render_tcb(char *s, size_t n, const uint8_t *tcb) {
  if (snprintf(s, n, "bootloader %u, tee %u, snp %u, microcode %u", tcb[TCB_BOOTLOADER], tcb[TCB_TEE],
           tcb[TCB_SNP], tcb[TCB_MICROCODE]) < 0)
    s[0] = '\0';
}

static void render_policy(char *s, size_t n, uint64_t pol) {
  if (snprintf(s, n, "0x%llx: ABI >= %u.%u, SMT %s, debug %s, migration agent %s%s%s%s%s%s%s",
           (unsigned long long)pol, (unsigned)(pol >> 8 & 0xff), (unsigned)(pol & 0xff),
           pol & POLICY_SMT ? "allowed" : "disallowed", pol & POLICY_DEBUG ? "ALLOWED" : "disallowed",
           pol & POLICY_MIGRATE_MA ? "allowed" : "disallowed",
           pol & POLICY_SINGLE_SOCKET ? ", single socket" : "", pol & POLICY_CXL_ALLOW ? ", CXL allowed" : "",
           pol & POLICY_MEM_AES_256_XTS ? ", AES-256-XTS required" : "",
           pol & POLICY_RAPL_DIS ? ", RAPL disabled" : "",
           pol & POLICY_CIPHERTEXT_HIDING ? ", ciphertext hiding required" : "",
           pol & POLICY_PAGE_SWAP_DISABLE ? ", page swap disabled" : "") < 0)
    s[0] = '\0';
}

/* Step 1: the exact format.  Fills the report fields of out (so that a
 * summary can be printed even when a later check fails). */
static int check_format(const uint8_t *p, size_t len, struct cdr_hw_report *out) {
  const char *why = NULL;
  uint32_t version, algo, signer, signing_key;
  uint64_t pol;

  if (len != SNP_REPORT_SIZE) {
    cdr_hw_check(out, 0, "report format", "%zu bytes, an SEV-SNP report is exactly %u", len,
                 SNP_REPORT_SIZE);
    return CDR_ERR_ATTEST_MALFORMED;
  }
  version = le32(p + OFF_VERSION);
  algo = le32(p + OFF_SIG_ALGO);
  pol = le64(p + OFF_POLICY);
  signer = le32(p + OFF_SIGNER_INFO);
  signing_key = signer >> 2 & 7;

  /* What we can show is filled before anything is judged. */
  memcpy(out->measurement, p + OFF_MEASUREMENT, 48);
  out->measurement_len = 48;
  memcpy(out->report_data, p + OFF_REPORT_DATA, 64);
  out->has_report_data = 1;
  render_tcb(out->tcb, sizeof(out->tcb), p + OFF_REPORTED_TCB);
  render_policy(out->policy, sizeof(out->policy), pol);
  out->debug = (pol & POLICY_DEBUG) != 0;

  if (version < 2)
    why = "report version below 2";
  else if (algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
    why = "signature_algo is not 1 (ECDSA P-384 with SHA-384)";
  else if (!(pol & POLICY_RESERVED_ONE))
    why = "guest policy bit 17 (reserved, must be one) is zero";
  else if (!all_zero(p, OFF_SIG_R + SIG_RS_LEN, OFF_SIG_R + SIG_RS_FIELD) ||
           !all_zero(p, OFF_SIG_S + SIG_RS_LEN, OFF_SIG_S + SIG_RS_FIELD) ||
           !all_zero(p, OFF_SIG_END, SNP_REPORT_SIZE))
    why = "non-zero bytes outside R and S in the signature field";
  else if (version <= 5) {
    /* Reserved in every version from 2 to 5. */
    if ((signer >> 5) != 0 || !all_zero(p, 0x04C, 0x050) || p[0x1EB] != 0 || p[0x1EF] != 0)
      why = "a reserved field is not zero";
    /* 0x188..0x18A: CPUID family, model, stepping since version 3. */
    else if (!all_zero(p, version >= 3 ? 0x18B : 0x188, 0x1A0))
      why = "reserved bytes 0x188..0x19F are not zero";
    /* 0x1F8..0x207: launch and current mitigation vectors since version 4. */
    else if (!all_zero(p, version >= 4 ? 0x208 : 0x1F8, SNP_SIGNED_SIZE))
      why = "reserved bytes before the signature are not zero";
    else if (signing_key >= 2 && signing_key <= 6)
      why = "signing_key holds a reserved value";
  }
  if (why != NULL) {
    cdr_hw_check(out, 0, "report format", "version %u: %s", version, why);
    return CDR_ERR_ATTEST_MALFORMED;
  }
  cdr_hw_check(out, 1, "report format",
               "version %u, %u bytes, ECDSA P-384/SHA-384, VMPL %u, guest SVN %u, firmware %u.%u build %u",
               version, SNP_REPORT_SIZE, le32(p + OFF_VMPL), le32(p + OFF_GUEST_SVN), p[OFF_CURRENT_MAJOR],
               p[OFF_CURRENT_MINOR], p[OFF_CURRENT_BUILD]);
  return 0;
}

/* The value of the extension oid of x, which must occur exactly once.
 * 0, or -1 if it is absent, repeated or unreadable. */
static int ext_value(X509 *x, const char *oid, const uint8_t **val, size_t *len) {
  ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
  int i, again, n;
  const ASN1_OCTET_STRING *os;

  if (obj == NULL)
    return -1;
  i = X509_get_ext_by_OBJ(x, obj, -1);
  again = i >= 0 ? X509_get_ext_by_OBJ(x, obj, i) : -1;
  ASN1_OBJECT_free(obj);
  if (i < 0 || again >= 0)
    return -1;
  os = X509_EXTENSION_get_data(X509_get_ext(x, i));
  if (os == NULL || (n = ASN1_STRING_length(os)) < 0)
    return -1;
  *val = ASN1_STRING_get0_data(os);
  *len = (size_t)n;
  return 0;
}

/* A TCB extension: a DER INTEGER from 0 to 255 inside the extension value. */
static int ext_tcb_byte(X509 *x, const char *oid, unsigned *v) {
  const uint8_t *val, *q;
  size_t len;
  ASN1_INTEGER *ai;
  int64_t n = -1;
  int ok;

  if (ext_value(x, oid, &val, &len) != 0 || len > 16)
    return -1;
  q = val;
  ai = d2i_ASN1_INTEGER(NULL, &q, (long)len);
  ok = ai != NULL && q == val + len && ASN1_INTEGER_get_int64(&n, ai) == 1 && n >= 0 && n <= 255;
  ASN1_INTEGER_free(ai);
  if (!ok)
    return -1;
  *v = (unsigned)n;
  return 0;
}

/* The product name extension ("Milan-B0"), as printable ASCII, or "". */
static void ext_product(X509 *x, char *s, size_t n) {
  const uint8_t *val, *q;
  size_t len, j = 0;
  ASN1_IA5STRING *ia5;

  s[0] = '\0';
  if (ext_value(x, OID_PRODUCT_NAME, &val, &len) != 0 || len > 64)
    return;
  q = val;
  if ((ia5 = d2i_ASN1_IA5STRING(NULL, &q, (long)len)) == NULL)
    return;
  const uint8_t *d = ASN1_STRING_get0_data(ia5);
  for (int i = 0; i < ASN1_STRING_length(ia5) && j + 1 < n; i++)
    if (d[i] >= 0x20 && d[i] < 0x7f)
      s[j++] = (char)d[i];
  s[j] = '\0';
  ASN1_IA5STRING_free(ia5);
}

/* The subject CN of x as printable ASCII ("?" if none). */
static void subject_cn(X509 *x, char *s, size_t n) {
  const X509_NAME *name = X509_get_subject_name(x);
  int i = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  size_t j = 0;

  if (i >= 0) {
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    const uint8_t *d = ASN1_STRING_get0_data(v);
    for (int k = 0; k < ASN1_STRING_length(v) && j + 1 < n; k++)
      if (d[k] >= 0x20 && d[k] < 0x7f)
        s[j++] = (char)d[k];
  }
  if (j == 0 && n > 1)
    s[j++] = '?';
  s[j] = '\0';
}

/* Step 2: the VCEK for this chip and this TCB among certs (borrowed). */
static int find_vcek(const uint8_t *rep, STACK_OF(X509) *certs, X509 **vcek, struct cdr_hw_report *out) {
  const uint8_t *tcb = rep + OFF_REPORTED_TCB;
  uint32_t signer = le32(rep + OFF_SIGNER_INFO);
  int nchip = 0;
  char want[80], have[80] = "", product[72];

  if ((signer >> 2 & 7) != 0) {
    cdr_hw_check(out, 0, "VCEK for this chip", "the report is signed by a %s, not a VCEK; only VCEKs are supported",
                 (signer >> 2 & 7) == 1 ? "VLEK" : "no key");
    return CDR_ERR_ATTEST_ROOT;
  }
  if (signer & 2 || all_zero(rep, OFF_CHIP_ID, OFF_CHIP_ID + CHIP_ID_LEN)) {
    cdr_hw_check(out, 0, "VCEK for this chip", "chip_id is masked, so no VCEK can be matched to the report");
    return CDR_ERR_ATTEST_ROOT;
  }
  render_tcb(want, sizeof(want), tcb);
  for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++) {
    X509 *x = sk_X509_value(certs, i);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    char group[32];
    const uint8_t *hwid;
    size_t hwid_len, glen = 0;
    unsigned bl, tee, snp, ucode;

    if (pk == NULL || !EVP_PKEY_is_a(pk, "EC") ||
        !EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) || strcmp(group, "secp384r1") != 0)
      continue;
    if (ext_value(x, OID_HWID, &hwid, &hwid_len) != 0 || hwid_len != CHIP_ID_LEN ||
        memcmp(hwid, rep + OFF_CHIP_ID, CHIP_ID_LEN) != 0)
      continue;
    nchip++;
    if (ext_tcb_byte(x, OID_TCB_BOOTLOADER, &bl) != 0 || ext_tcb_byte(x, OID_TCB_TEE, &tee) != 0 ||
        ext_tcb_byte(x, OID_TCB_SNP, &snp) != 0 || ext_tcb_byte(x, OID_TCB_MICROCODE, &ucode) != 0) {
      snprintf(have, sizeof(have), "unreadable TCB extensions");
      continue;
    }
    if (bl != tcb[TCB_BOOTLOADER] || tee != tcb[TCB_TEE] || snp != tcb[TCB_SNP] || ucode != tcb[TCB_MICROCODE]) {
      snprintf(have, sizeof(have), "bootloader %u, tee %u, snp %u, microcode %u", bl, tee, snp, ucode);
      continue;
    }
    ext_product(x, product, sizeof(product));
    cdr_hw_check(out, 1, "VCEK for this chip", "%s%s: hwID equals chip_id, TCB extensions equal reported TCB",
                 product[0] ? "product " : "certificate", product[0] ? product : "");
    *vcek = x;
    return 0;
  }
  if (nchip == 0)
    cdr_hw_check(out, 0, "VCEK for this chip",
                 "no EC P-384 certificate given has hwID = chip_id (pass the chip's VCEK with --certs)");
  else
    cdr_hw_check(out, 0, "VCEK for this chip", "the chip's VCEK certifies %s, the report says %s", have, want);
  return CDR_ERR_ATTEST_ROOT;
}

static int map_x509_error(int e) {
  switch (e) {
  case X509_V_ERR_CERT_NOT_YET_VALID:
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
  case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    return CDR_ERR_ATTEST_CERT_TIME;
  case X509_V_ERR_CERT_SIGNATURE_FAILURE:
  case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
  case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    return CDR_ERR_ATTEST_SIGNATURE;
  default:
    /* Unknown issuer, self-signed or untrusted root, chain too long, not
     * a CA...: the report does not chain to a pinned ARK. */
    return CDR_ERR_ATTEST_ROOT;
  }
}

/* Step 3: VCEK -> ASK -> pinned ARK, valid at policy->at. */
static int verify_chain(X509 *vcek, const struct cdr_hw_policy *policy, struct cdr_hw_report *out) {
  X509 *ark_milan = cdr_root_amd_ark_milan(), *ark_genoa = cdr_root_amd_ark_genoa();
  X509 *ask_milan = cdr_root_amd_ask_milan(), *ask_genoa = cdr_root_amd_ask_genoa();
  X509_STORE *store = NULL;
  X509_STORE_CTX *ctx = NULL;
  STACK_OF(X509) *untrusted = NULL, *chain;
  X509_VERIFY_PARAM *param;
  char when[32], a[64], b[64], c[64];
  int r = CDR_ERR_INTERNAL;

  cdr_time_format(when, sizeof(when), policy->at);
  if (ark_milan == NULL || ark_genoa == NULL || ask_milan == NULL || ask_genoa == NULL) {
    cdr_hw_check(out, 0, "certificate chain", "a pinned AMD certificate does not parse");
    goto out;
  }
  r = CDR_ERR_NOMEM;
  if ((store = X509_STORE_new()) == NULL || (untrusted = sk_X509_new_null()) == NULL ||
      (ctx = X509_STORE_CTX_new()) == NULL)
    goto out;
  /* Only the pinned ARKs are trusted.  The pinned ASKs go first among the
   * untrusted certificates so that chain building prefers them to any
   * same-named certificate a user supplies. */
  if (!X509_STORE_add_cert(store, ark_milan) || !X509_STORE_add_cert(store, ark_genoa) ||
      !sk_X509_push(untrusted, ask_milan) || !sk_X509_push(untrusted, ask_genoa))
    goto out;
  for (int i = 0; policy->certs != NULL && i < sk_X509_num(policy->certs); i++)
    if (!sk_X509_push(untrusted, sk_X509_value(policy->certs, i)))
      goto out;
  r = CDR_ERR_CRYPTO;
  if (!X509_STORE_CTX_init(ctx, store, vcek, untrusted))
    goto out;
  param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_time(param, (time_t)policy->at);
  X509_VERIFY_PARAM_set_depth(param, 1); /* VCEK, one ASK, the ARK */
  if (X509_verify_cert(ctx) != 1) {
    int e = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);
    X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
    subject_cn(bad != NULL ? bad : vcek, a, sizeof(a));
    cdr_hw_check(out, 0, "certificate chain", "%s (certificate %s, depth %d) at %s",
                 X509_verify_cert_error_string(e), a, depth, when);
    r = map_x509_error(e);
    goto out;
  }
  chain = X509_STORE_CTX_get0_chain(ctx);
  if (chain == NULL || sk_X509_num(chain) != 3) {
    cdr_hw_check(out, 0, "certificate chain", "expected VCEK, ASK and ARK");
    r = CDR_ERR_ATTEST_ROOT;
    goto out;
  }
  subject_cn(sk_X509_value(chain, 0), a, sizeof(a));
  subject_cn(sk_X509_value(chain, 1), b, sizeof(b));
  subject_cn(sk_X509_value(chain, 2), c, sizeof(c));
  cdr_hw_check(out, 1, "certificate chain", "%s -> %s -> %s (pinned), all valid at %s", a, b, c,
               when);
  r = 0;
out:
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted); /* the certificates are borrowed */
  X509_STORE_free(store);
  ERR_clear_error();
  return r;
}

/* Step 4: the VCEK's signature over bytes 0x000..0x29F. */
static int verify_report_signature(const uint8_t *rep, X509 *vcek, struct cdr_hw_report *out) {
  int r = cdr_hw_ecdsa_verify(X509_get0_pubkey(vcek), EVP_sha384(), rep + OFF_SIG_R, rep + OFF_SIG_S, SIG_RS_LEN, 1,
                              rep, SNP_SIGNED_SIZE);
  if (r == CDR_ERR_ATTEST_SIGNATURE)
    cdr_hw_check(out, 0, "VCEK signature over the report", "ECDSA P-384/SHA-384 over bytes 0x000..0x29F fails");
  else if (r == 0)
    cdr_hw_check(out, 1, "VCEK signature over the report", "ECDSA P-384/SHA-384 over bytes 0x000..0x29F");
  return r;
}

int cdr_snp_check_claims(const uint8_t *rep, size_t len, const struct cdr_hw_policy *policy,
                         struct cdr_hw_report *out) {
  static const uint8_t no_min[8];
  const uint8_t *tcb, *min = policy->snp_min_tcb;
  char hex[129], want[80], have[80];
  uint64_t pol;

  if (len != SNP_REPORT_SIZE)
    return CDR_ERR_ATTEST_MALFORMED;
  pol = le64(rep + OFF_POLICY);
  tcb = rep + OFF_REPORTED_TCB;

  if ((pol & POLICY_DEBUG) && !policy->allow_debug) {
    cdr_hw_check(out, 0, "debug policy", "the guest policy allows debugging (bit 19); refused");
    return CDR_ERR_ATTEST_DEBUG;
  }
  cdr_hw_check(out, 1, "debug policy", "%s",
               pol & POLICY_DEBUG ? "the guest policy allows debugging; accepted as asked"
                                  : "the guest policy disallows debugging");

  if (memcmp(min, no_min, sizeof(no_min)) != 0) {
    render_tcb(want, sizeof(want), min);
    render_tcb(have, sizeof(have), tcb);
    if (tcb[TCB_BOOTLOADER] < min[TCB_BOOTLOADER] || tcb[TCB_TEE] < min[TCB_TEE] || tcb[TCB_SNP] < min[TCB_SNP] ||
        tcb[TCB_MICROCODE] < min[TCB_MICROCODE]) {
      cdr_hw_check(out, 0, "minimum TCB", "reported %s is below %s", have, want);
      return CDR_ERR_ATTEST_TCB;
    }
    cdr_hw_check(out, 1, "minimum TCB", "reported TCB is at least %s", want);
  }

  if (policy->expect_measurement != NULL) {
    if (policy->expect_measurement_len != 48 ||
        memcmp(policy->expect_measurement, rep + OFF_MEASUREMENT, 48) != 0) {
      cdr_hex_encode(hex, policy->expect_measurement,
                     policy->expect_measurement_len <= 64 ? policy->expect_measurement_len : 64);
      cdr_hw_check(out, 0, "measurement", "differs from the expected %s", hex);
      return CDR_ERR_ATTEST_MEASUREMENT;
    }
    cdr_hw_check(out, 1, "measurement", "equals the expected value");
  }

  if (policy->expect_report_data != NULL) {
    if (memcmp(policy->expect_report_data, rep + OFF_REPORT_DATA, 64) != 0) {
      cdr_hex_encode(hex, policy->expect_report_data, 64);
      cdr_hw_check(out, 0, "report_data", "differs from the expected %s", hex);
      return CDR_ERR_ATTEST_REPORT_DATA;
    }
    cdr_hw_check(out, 1, "report_data", "equals the expected value");
  }
  return 0;
}

int cdr_verify_snp(const uint8_t *report, size_t len, const struct cdr_hw_policy *policy,
                   struct cdr_hw_report *out) {
  X509 *vcek = NULL;
  int r;

  if (out == NULL)
    return CDR_ERR_ARG;
  memset(out, 0, sizeof(*out));
  out->platform = CDR_HW_SNP;
  if (policy == NULL || (report == NULL && len != 0)) {
    cdr_hw_check(out, 0, "verifier", "no report or no policy");
    return CDR_ERR_ARG;
  }
  /* Register expectations are cdr_verify_hw's (which refuses them all for
   * SEV-SNP); refused here rather than ignored. */
  if (policy->expect_regs != NULL && policy->expect_regs->n > 0) {
    cdr_hw_check(out, 0, "verifier", "register expectations are checked by cdr_verify_hw, not here");
    return CDR_ERR_ARG;
  }
  if ((r = check_format(report, len, out)) != 0)
    goto out;
  if (le32(report + OFF_VERSION) >= 3 && report[OFF_CPUID_FAM] == 0x1A) {
    cdr_hw_check(out, 0, "VCEK for this chip", "family 1Ah (Turin) report: no ARK-Turin is pinned");
    r = CDR_ERR_ATTEST_ROOT;
    goto out;
  }
  if ((r = find_vcek(report, policy->certs, &vcek, out)) != 0)
    goto out;
  if ((r = verify_chain(vcek, policy, out)) != 0)
    goto out;
  if ((r = verify_report_signature(report, vcek, out)) != 0)
    goto out;
  if ((r = cdr_snp_check_claims(report, len, policy, out)) != 0)
    goto out;
out:
  return r;
}
