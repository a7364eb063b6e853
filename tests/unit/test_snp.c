/*
 * test_snp.c - the SEV-SNP verifier (src/attest/verify_snp.c) and the
 * pinned AMD roots (src/attest/roots_amd.c), against a real report from a
 * GCP Milan VM and its VCEK (tests/data/attest/snp/, see
 * /work/shared/vectors/README.md for provenance and expected values).
 *
 * Every refusal is checked for its own error: a flipped byte in the
 * signed part or in the signature, a time outside the VCEK's validity, a
 * self-made CA, a wrong expected measurement or report_data, a truncated
 * or ill-formed report, a TCB below the minimum, an RTMR or PCR
 * expectation (SEV-SNP has neither register).  The debug refusal
 * cannot be reached with a signed vector (flipping the DEBUG bit breaks
 * the signature first, which is also checked), so it is tested on
 * cdr_snp_check_claims directly.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hwattest.h"
#include "common/util.h"
#include "testlib.h"

/* Exported by verify_snp.c for this test (see there). */
int cdr_snp_check_claims(const uint8_t *report, size_t len, const struct cdr_hw_policy *policy,
                         struct cdr_hw_report *out);

#define T_2025_01_01 1735689600 /* before the VCEK's notBefore (2025-12-05) */
#define T_2026_01_01 1767225600 /* inside every validity window */
#define T_2033_01_01 1988150400 /* after the VCEK's notAfter (2032-12-05) */

static const char *MEASUREMENT =
    "b747d55452e0b9e9079770a49e397c5e6d9573581e246da7baac4f28b5cdc5b1b6d19251b8ee600fd16a3708f58406f3";
static const char *CHIP_ID = "980cf7b61876cb37fd517cd44ce11c72d43c5408e66ab39138370ec59bc195e0"
                             "63254cb501d87d82f0b8b8dc774bcfe28019447711598f007390e4accc405361";

static uint8_t *report;
static size_t report_len;
static X509 *vcek, *ark_milan_file, *ask_milan_file;

static char *data_path(const char *name) {
  static char path[4096];
  const char *src = getenv("CDR_SOURCE_DIR");
  snprintf(path, sizeof(path), "%s/tests/data/attest/snp/%s", src ? src : ".", name);
  return path;
}

static X509 *load_cert(const char *name) {
  uint8_t *pem;
  size_t len;
  X509 *x = NULL;
  if (cdr_file_read(data_path(name), &pem, &len, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s\n", data_path(name));
    exit(1);
  }
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (bio != NULL)
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  free(pem);
  if (x == NULL) {
    fprintf(stderr, "cannot parse %s\n", name);
    exit(1);
  }
  return x;
}

static void load_data(void) {
  if (cdr_file_read(data_path("report-gcp-milan.bin"), &report, &report_len, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s\n", data_path("report-gcp-milan.bin"));
    exit(1);
  }
  vcek = load_cert("vcek-gcp-milan.pem");
  ark_milan_file = load_cert("ark-milan.pem");
  ask_milan_file = load_cert("ask-milan.pem");
}

/* A policy at time t whose --certs hold first (if not NULL). */
static void policy_init(struct cdr_hw_policy *p, int64_t t, X509 *first) {
  memset(p, 0, sizeof(*p));
  p->at = t;
  p->certs = sk_X509_new_null();
  if (first != NULL)
    sk_X509_push(p->certs, first);
}

static void policy_free(struct cdr_hw_policy *p) { sk_X509_free(p->certs); }

/* Verify a copy of the report with byte off XOR-ed with x (off < 0: as is). */
static int verify_flipped(long off, uint8_t x, const struct cdr_hw_policy *p, struct cdr_hw_report *out) {
  uint8_t copy[0x4A0];
  memcpy(copy, report, sizeof(copy));
  if (off >= 0)
    copy[off] ^= x;
  return cdr_verify_snp(copy, sizeof(copy), p, out);
}

/* The last check recorded failed (the verifier stops at the first failure). */
static int last_check_failed(const struct cdr_hw_report *out) {
  return out->nchecks > 0 && out->checks[out->nchecks - 1].ok == 0;
}

static void sha256_der_hex(X509 *x, char hex[65]) {
  unsigned char *der = NULL, md[32];
  unsigned int mdlen = 0;
  int n = i2d_X509(x, &der);
  CHECK(n > 0);
  CHECK(EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32);
  OPENSSL_free(der);
  cdr_hex_encode(hex, md, 32);
}

static void check_cn(X509 *x, const char *want) {
  char cn[64] = "";
  X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
  CHECK_STR(cn, want);
}

static void test_pinned_roots(void) {
  X509 *ark_m = cdr_root_amd_ark_milan(), *ask_m = cdr_root_amd_ask_milan();
  X509 *ark_g = cdr_root_amd_ark_genoa(), *ask_g = cdr_root_amd_ask_genoa();
  char hex[65];

  CHECK(ark_m != NULL && ask_m != NULL && ark_g != NULL && ask_g != NULL);
  if (ark_m == NULL || ask_m == NULL || ark_g == NULL || ask_g == NULL)
    return;
  CHECK(cdr_root_amd_ark_genoa() == ark_g); /* parsed once */

  /* The pinned bytes are the documented ones. */
  sha256_der_hex(ark_m, hex);
  CHECK_STR(hex, "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd");
  sha256_der_hex(ask_m, hex);
  CHECK_STR(hex, "67d303bd3905fd38db8b20e0793699870e7fa612eaad5dec358293fd8c0bac1b");
  sha256_der_hex(ark_g, hex);
  CHECK_STR(hex, "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1");
  sha256_der_hex(ask_g, hex);
  CHECK_STR(hex, "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521");
  CHECK(X509_cmp(ark_m, ark_milan_file) == 0);
  CHECK(X509_cmp(ask_m, ask_milan_file) == 0);

  check_cn(ark_m, "ARK-Milan");
  check_cn(ask_m, "SEV-Milan");
  check_cn(ark_g, "ARK-Genoa");
  check_cn(ask_g, "SEV-Genoa");

  /* ARKs self-signed, ASKs under their ARK, all RSASSA-PSS. */
  CHECK(X509_check_issued(ark_m, ark_m) == X509_V_OK);
  CHECK(X509_check_issued(ark_g, ark_g) == X509_V_OK);
  CHECK(X509_check_issued(ark_g, ask_g) == X509_V_OK);
  CHECK(X509_check_issued(ark_m, ask_m) == X509_V_OK);
  CHECK(X509_verify(ark_m, X509_get0_pubkey(ark_m)) == 1);
  CHECK(X509_verify(ask_m, X509_get0_pubkey(ark_m)) == 1);
  CHECK(X509_verify(ark_g, X509_get0_pubkey(ark_g)) == 1);
  CHECK(X509_verify(ask_g, X509_get0_pubkey(ark_g)) == 1);
  CHECK(X509_verify(ask_g, X509_get0_pubkey(ark_m)) != 1); /* not across generations */
  CHECK(X509_get_signature_nid(ark_g) == NID_rsassaPss);
  CHECK(X509_get_signature_nid(ask_g) == NID_rsassaPss);
  CHECK(X509_get_signature_nid(ark_m) == NID_rsassaPss);
  CHECK(X509_get_signature_nid(ask_m) == NID_rsassaPss);
  ERR_clear_error();
}

static void test_accepts_real_report(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;
  uint8_t m[48], chip[64], zero[64] = {0};
  char hex[129];

  CHECK(report_len == 0x4A0);
  CHECK_RC(cdr_hex_decode(m, 48, MEASUREMENT), 0);
  CHECK_RC(cdr_hex_decode(chip, 64, CHIP_ID), 0);
  CHECK(memcmp(report + 0x1A0, chip, 64) == 0);

  policy_init(&p, T_2026_01_01, vcek);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), 0);
  CHECK(out.platform == CDR_HW_SNP);
  CHECK(out.measurement_len == 48 && memcmp(out.measurement, m, 48) == 0);
  cdr_hex_encode(hex, out.measurement, 48);
  CHECK_STR(hex, MEASUREMENT);
  CHECK(out.has_report_data && memcmp(out.report_data, zero, 64) == 0);
  CHECK_STR(out.tcb, "bootloader 4, tee 0, snp 27, microcode 222");
  CHECK_STR(out.tcb_status, "");
  CHECK_CONTAINS(out.policy, "0x30000:");
  CHECK_CONTAINS(out.policy, "SMT allowed");
  CHECK_CONTAINS(out.policy, "debug disallowed");
  CHECK(out.debug == 0);
  CHECK(out.nchecks >= 5);
  for (size_t i = 0; i < out.nchecks; i++)
    CHECK(out.checks[i].ok == 1);
  CHECK_STR(out.checks[0].name, "report format");
  CHECK_CONTAINS(out.checks[0].detail, "version 5");
  CHECK_CONTAINS(out.checks[1].detail, "Milan-B0");
  CHECK_CONTAINS(out.checks[2].detail, "SEV-VCEK -> SEV-Milan -> ARK-Milan");

  /* The same with every expectation set, and with the ASK supplied too. */
  p.expect_measurement = m;
  p.expect_measurement_len = 48;
  p.expect_report_data = zero;
  memcpy(p.snp_min_tcb, report + 0x180, 8); /* exactly the reported TCB */
  sk_X509_push(p.certs, ask_milan_file);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), 0);
  CHECK(!last_check_failed(&out));

  /* Times: just inside the VCEK's window, and the last day of it. */
  p.at = 1764914667 + 1; /* 2025-12-05T06:04:28Z */
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), 0);
  p.at = 1985753067 - 1; /* 2032-12-05T06:04:26Z */
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), 0);
  policy_free(&p);
}

static void test_signature_failures(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;

  policy_init(&p, T_2026_01_01, vcek);
  CHECK_RC(verify_flipped(0x90, 0x01, &p, &out), CDR_ERR_ATTEST_SIGNATURE);  /* measurement */
  CHECK(last_check_failed(&out));
  CHECK_STR(out.checks[out.nchecks - 1].name, "VCEK signature over the report");
  CHECK_RC(verify_flipped(0x50, 0x80, &p, &out), CDR_ERR_ATTEST_SIGNATURE);  /* report_data */
  CHECK_RC(verify_flipped(0x1F8, 0x01, &p, &out), CDR_ERR_ATTEST_SIGNATURE); /* mitigation vector (v5) */
  CHECK_RC(verify_flipped(0x2A5, 0x10, &p, &out), CDR_ERR_ATTEST_SIGNATURE); /* R */
  CHECK_RC(verify_flipped(0x2E8, 0x01, &p, &out), CDR_ERR_ATTEST_SIGNATURE); /* S */
  /* Setting the DEBUG bit breaks the signature before any policy check. */
  CHECK_RC(verify_flipped(0x08 + 2, 0x08, &p, &out), CDR_ERR_ATTEST_SIGNATURE);
  CHECK(out.debug == 1);
  /* A version this verifier knows nothing about gets no reserved-byte
   * check, only the signature (which the changed version breaks). */
  CHECK_RC(verify_flipped(0x00, 0x05 ^ 0x06, &p, &out), CDR_ERR_ATTEST_SIGNATURE);
  policy_free(&p);
}

static void test_cert_time(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;

  policy_init(&p, T_2033_01_01, vcek);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_CERT_TIME);
  CHECK(last_check_failed(&out));
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "expired");
  p.at = T_2025_01_01;
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_CERT_TIME);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "not yet valid");
  p.at = 2240611200; /* 2041: the VCEK long expired; still a time error */
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_CERT_TIME);
  policy_free(&p);
}

/* A self-signed RSA CA named cn, and its key. */
static X509 *make_ca(const char *cn, EVP_PKEY **key) {
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  *key = EVP_RSA_gen(2048);
  CHECK(x != NULL && name != NULL && *key != NULL);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_set_subject_name(x, name);
  X509_set_issuer_name(x, name);
  ASN1_TIME_set(X509_getm_notBefore(x), 1577836800); /* 2020 */
  ASN1_TIME_set(X509_getm_notAfter(x), 2524608000);  /* 2050 */
  X509_set_pubkey(x, *key);
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
  X509_add_ext(x, bc, -1);
  X509_EXTENSION_free(bc);
  CHECK(X509_sign(x, *key, EVP_sha384()) > 0);
  X509_NAME_free(name);
  return x;
}

/* The real VCEK (same key, hwID and TCB), re-issued by ca. */
static X509 *reissue_vcek(X509 *ca, EVP_PKEY *cakey) {
  X509 *x = X509_dup(vcek);
  CHECK(x != NULL);
  X509_set_issuer_name(x, X509_get_subject_name(ca));
  CHECK(X509_sign(x, cakey, EVP_sha384()) > 0);
  return x;
}

static void test_wrong_root(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;
  EVP_PKEY *k1, *k2;

  /* A VCEK issued by a self-made CA, that CA given alongside. */
  X509 *fake_ca = make_ca("Fake AMD Root", &k1);
  X509 *fake_vcek = reissue_vcek(fake_ca, k1);
  policy_init(&p, T_2026_01_01, fake_vcek);
  sk_X509_push(p.certs, fake_ca);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_ROOT);
  CHECK_STR(out.checks[out.nchecks - 1].name, "certificate chain");
  /* Without the CA: the issuer is simply unknown. */
  sk_X509_pop(p.certs);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_ROOT);
  policy_free(&p);

  /* A fake ASK with the real ASK's name: the pinned ASK is preferred, and
   * the re-issued VCEK's signature fails under it. */
  X509 *fake_ask = make_ca("x", &k2);
  X509_set_subject_name(fake_ask, X509_get_subject_name(ask_milan_file));
  X509_set_issuer_name(fake_ask, X509_get_subject_name(ask_milan_file));
  CHECK(X509_sign(fake_ask, k2, EVP_sha384()) > 0);
  X509 *fake_vcek2 = reissue_vcek(fake_ask, k2);
  policy_init(&p, T_2026_01_01, fake_vcek2);
  sk_X509_push(p.certs, fake_ask);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_STR(out.checks[out.nchecks - 1].name, "certificate chain");
  policy_free(&p);

  /* A root given in --certs is never trusted: the real ARK as a
   * "certificate" does not help a VCEK from a self-made CA. */
  policy_init(&p, T_2026_01_01, fake_vcek);
  sk_X509_push(p.certs, ark_milan_file);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_ROOT);
  policy_free(&p);

  /* No VCEK at all, or only certificates for other chips. */
  policy_init(&p, T_2026_01_01, NULL);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_ROOT);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "hwID");
  sk_X509_push(p.certs, ask_milan_file);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_ROOT);
  policy_free(&p);
  policy_init(&p, T_2026_01_01, vcek);
  CHECK_RC(verify_flipped(0x1A0, 0x01, &p, &out), CDR_ERR_ATTEST_ROOT); /* chip_id */
  /* The VCEK is for another TCB than the report says. */
  CHECK_RC(verify_flipped(0x186, 0x01, &p, &out), CDR_ERR_ATTEST_ROOT);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "snp 27");
  /* VLEK-signed (signing_key 1), and masked chip_id. */
  CHECK_RC(verify_flipped(0x48, 0x04, &p, &out), CDR_ERR_ATTEST_ROOT);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "VLEK");
  CHECK_RC(verify_flipped(0x48, 0x02, &p, &out), CDR_ERR_ATTEST_ROOT);
  /* A Turin (family 1Ah) report: no pinned root for it. */
  CHECK_RC(verify_flipped(0x188, 0x19 ^ 0x1A, &p, &out), CDR_ERR_ATTEST_ROOT);
  policy_free(&p);

  X509_free(fake_ca);
  X509_free(fake_vcek);
  X509_free(fake_ask);
  X509_free(fake_vcek2);
  EVP_PKEY_free(k1);
  EVP_PKEY_free(k2);
}

static void test_expectations(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;
  uint8_t m[48], rd[64] = {0};

  CHECK_RC(cdr_hex_decode(m, 48, MEASUREMENT), 0);
  policy_init(&p, T_2026_01_01, vcek);
  m[47] ^= 1;
  p.expect_measurement = m;
  p.expect_measurement_len = 48;
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_STR(out.checks[out.nchecks - 1].name, "measurement");
  p.expect_measurement_len = 32; /* a SHA-256 where 48 bytes are needed */
  m[47] ^= 1;
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_MEASUREMENT);
  p.expect_measurement_len = 48;
  rd[0] = 1;
  p.expect_report_data = rd;
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_REPORT_DATA);
  CHECK_STR(out.checks[out.nchecks - 1].name, "report_data");
  rd[0] = 0;
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), 0);

  /* Minimum TCB, byte by byte. */
  uint8_t min_snp[8] = {0, 0, 0, 0, 0, 0, 28, 0}, min_ucode[8] = {0, 0, 0, 0, 0, 0, 0, 223};
  uint8_t min_bl[8] = {5, 0, 0, 0, 0, 0, 0, 0}, min_ok[8] = {4, 0, 0xff, 0xff, 0xff, 0xff, 27, 222};
  memcpy(p.snp_min_tcb, min_snp, 8);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_TCB);
  CHECK_STR(out.checks[out.nchecks - 1].name, "minimum TCB");
  memcpy(p.snp_min_tcb, min_ucode, 8);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_TCB);
  memcpy(p.snp_min_tcb, min_bl, 8);
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ATTEST_TCB);
  memcpy(p.snp_min_tcb, min_ok, 8); /* reserved bytes are not compared */
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), 0);
  policy_free(&p);
}

/* The "bootloader=N,tee=N,snp=N,microcode=N" form of a minimum TCB, which
 * `cdr attest --evidence`, every connecting command and CDR_SNP_MIN_TCB
 * share (cdr_snp_min_tcb_parse). */
static void test_min_tcb_parse(void) {
  uint8_t t[CDR_SNP_TCB_LEN], want_all[CDR_SNP_TCB_LEN] = {4, 0, 0, 0, 0, 0, 27, 222};
  uint8_t want_snp[CDR_SNP_TCB_LEN] = {0, 0, 0, 0, 0, 0, 28, 0}, zero[CDR_SNP_TCB_LEN] = {0};
  static const char *const bad[] = {"snp",        "snp=",        "snp=256",   "snp=-1",     "snp=+1",
                                    "snp= 1",     "snp=1,",      ",snp=1",    "snp=1,,tee=1", "fmc=1",
                                    "SNP=1",      "snp=1x",      "snp=99999999999999999999", "snp=1;tee=2",
                                    "snp=27,snp=0", "tee=1,snp=2,tee=1"};

  memset(t, 0xAA, sizeof(t));
  CHECK_RC(cdr_snp_min_tcb_parse("bootloader=4,tee=0,snp=27,microcode=222", t), 0);
  CHECK(memcmp(t, want_all, sizeof(t)) == 0);
  CHECK_RC(cdr_snp_min_tcb_parse("microcode=222,snp=27,bootloader=4", t), 0); /* any order */
  CHECK(memcmp(t, want_all, sizeof(t)) == 0);
  CHECK_RC(cdr_snp_min_tcb_parse("snp=28", t), 0); /* a subset: the rest are 0 */
  CHECK(memcmp(t, want_snp, sizeof(t)) == 0);
  CHECK_RC(cdr_snp_min_tcb_parse("", t), 0); /* no minimum */
  CHECK(memcmp(t, zero, sizeof(t)) == 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int r = cdr_snp_min_tcb_parse(bad[i], t);
    if (r != CDR_ERR_ARG)
      fprintf(stderr, "  accepted bad minimum TCB \"%s\"\n", bad[i]);
    CHECK_RC(r, CDR_ERR_ARG);
  }
}

/* RTMR and PCR expectations: SEV-SNP has neither, so each fails clearly
 * once the report verified, rather than being ignored. */
static void test_register_expectations(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;
  struct cdr_hw_expect ex;
  char spec[128];
  int r;

  memset(&ex, 0, sizeof(ex));
  snprintf(spec, sizeof(spec), "1=%s", MEASUREMENT);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec), 0);
  policy_init(&p, T_2026_01_01, vcek);
  p.expect_regs = &ex;
  r = cdr_verify_hw(CDR_HW_SNP, report, report_len, &p, &out);
  CHECK_RC(r, CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_STR(cdr_err_code(r), "attestation_measurement_mismatch");
  CHECK(last_check_failed(&out));
  CHECK_STR(out.checks[out.nchecks - 1].name, "expected register");
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "RTMR1 expected, but AMD SEV-SNP evidence has no RTMRs");
  /* Everything before it passed: the report itself is fine. */
  for (size_t i = 0; i + 1 < out.nchecks; i++)
    CHECK(out.checks[i].ok == 1);

  memset(&ex, 0, sizeof(ex));
  snprintf(spec, sizeof(spec), "0=%s", MEASUREMENT);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  CHECK_RC(cdr_verify_hw(CDR_HW_SNP, report, report_len, &p, &out), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "PCR0 expected, but AMD SEV-SNP evidence has no PCRs");

  /* A report that does not verify fails for that reason first. */
  p.at = T_2033_01_01;
  CHECK_RC(cdr_verify_hw(CDR_HW_SNP, report, report_len, &p, &out), CDR_ERR_ATTEST_CERT_TIME);
  p.at = T_2026_01_01;
  /* The SNP verifier alone refuses expectations instead of ignoring them;
   * with none, the report verifies through cdr_verify_hw too. */
  CHECK_RC(cdr_verify_snp(report, report_len, &p, &out), CDR_ERR_ARG);
  ex.n = 0;
  CHECK_RC(cdr_verify_hw(CDR_HW_SNP, report, report_len, &p, &out), 0);
  policy_free(&p);
}

static void test_debug_policy(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;
  uint8_t copy[0x4A0];

  memcpy(copy, report, sizeof(copy));
  copy[0x0A] |= 0x08; /* policy bit 19 */
  memset(&p, 0, sizeof(p));
  memset(&out, 0, sizeof(out));
  CHECK_RC(cdr_snp_check_claims(copy, sizeof(copy), &p, &out), CDR_ERR_ATTEST_DEBUG);
  CHECK_STR(out.checks[out.nchecks - 1].name, "debug policy");
  p.allow_debug = 1;
  memset(&out, 0, sizeof(out));
  CHECK_RC(cdr_snp_check_claims(copy, sizeof(copy), &p, &out), 0);
  CHECK_CONTAINS(out.checks[0].detail, "accepted");
  p.allow_debug = 0;
  memset(&out, 0, sizeof(out));
  CHECK_RC(cdr_snp_check_claims(report, report_len, &p, &out), 0);
  CHECK_RC(cdr_snp_check_claims(report, report_len - 1, &p, &out), CDR_ERR_ATTEST_MALFORMED);
}

static void test_malformed(void) {
  struct cdr_hw_policy p;
  struct cdr_hw_report out;
  uint8_t big[0x4A1];

  policy_init(&p, T_2026_01_01, vcek);
  CHECK_RC(cdr_verify_snp(report, report_len - 1, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_snp(report, 0, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_snp(NULL, 0, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  memcpy(big, report, report_len);
  big[0x4A0] = 0;
  CHECK_RC(cdr_verify_snp(big, sizeof(big), &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK(last_check_failed(&out));

  CHECK_RC(verify_flipped(0x00, 0x05 ^ 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED); /* version 1 */
  CHECK_RC(verify_flipped(0x34, 0x03, &p, &out), CDR_ERR_ATTEST_MALFORMED);        /* algo 2 */
  CHECK_RC(verify_flipped(0x0A, 0x02, &p, &out), CDR_ERR_ATTEST_MALFORMED);        /* bit 17 */
  CHECK_RC(verify_flipped(0x2D0, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);       /* R high */
  CHECK_RC(verify_flipped(0x318, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);       /* S high */
  CHECK_RC(verify_flipped(0x330, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x49F, 0x80, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x04C, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x19F, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x1EB, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x208, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x29F, 0x01, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(0x048, 0x08, &p, &out), CDR_ERR_ATTEST_MALFORMED);       /* signing_key 2 */
  /* Version 2 on this version-5 report: its CPUID bytes (0x188..) and
   * mitigation vectors (0x1F8..) are reserved in version 2. */
  CHECK_RC(verify_flipped(0x00, 0x05 ^ 0x02, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "0x188");
  /* Version 3: the CPUID bytes are fields, the mitigation vectors not yet. */
  CHECK_RC(verify_flipped(0x00, 0x05 ^ 0x03, &p, &out), CDR_ERR_ATTEST_MALFORMED);
  CHECK_CONTAINS(out.checks[out.nchecks - 1].detail, "before the signature");
  /* Version 4 knows both: only the signature catches the change. */
  CHECK_RC(verify_flipped(0x00, 0x05 ^ 0x04, &p, &out), CDR_ERR_ATTEST_SIGNATURE);
  policy_free(&p);
}

int main(void) {
  load_data();
  test_pinned_roots();
  test_accepts_real_report();
  test_signature_failures();
  test_cert_time();
  test_wrong_root();
  test_expectations();
  test_min_tcb_parse();
  test_register_expectations();
  test_debug_policy();
  test_malformed();
  free(report);
  X509_free(vcek);
  X509_free(ark_milan_file);
  X509_free(ask_milan_file);
  return test_summary("test_snp");
}
