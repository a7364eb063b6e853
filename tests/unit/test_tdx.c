/*
 * test_tdx.c - the TDX quote verifier (src/attest/verify_tdx.c) against
 * Intel's real sample quote and collateral (tests/data/attest/tdx/, from
 * Phala-Network/dcap-qvl; see /work/shared/vectors/README.md), at a time
 * pinned inside the collateral's window, and against every way of
 * breaking it: each signature, each certificate chain, the times, the
 * policy, and every length field of the quote.
 *
 * The sample's platform TCB matches no level of its TCB info (component
 * 8, the SEAMLDR ACM, is 3 where both levels want 5), so its status is
 * "Unknown", as dcap-qvl reports; it verifies only when the policy
 * accepts "Unknown" by name.
 *
 * Also here: the RTMR / PCR expectation list (hwexpect.c), its "N=HEX"
 * parser, and the RTMR expectations cdr_verify_hw checks on the sample.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hwattest.h"
#include "attest/tdx_internal.h"
#include "common/util.h"
#include "testlib.h"

#define AT_OK 1742428800           /* 2025-03-20T00:00:00Z */
#define AT_TCB_ISSUE 1741851024    /* 2025-03-13T07:30:24Z, tcb_info issueDate */
#define AT_TCB_NEXT 1744443024     /* 2025-04-12T07:30:24Z, tcb_info nextUpdate */
#define AT_QE_NEXT 1744441701      /* 2025-04-12T07:08:21Z, qe_identity nextUpdate: the window's real end */
#define AT_AFTER 1746057600        /* 2025-05-01T00:00:00Z */
#define AT_BEFORE_ISSUE 1740787200 /* 2025-03-01T00:00:00Z */
#define AT_BEFORE_PCK 1704067200   /* 2024-01-01T00:00:00Z */

/* Offsets in the sample quote (auth data of 32 bytes). */
#define OFF_SIG_LEN 632
#define OFF_QUOTE_SIG 636
#define OFF_ATT_KEY 700
#define OFF_OUTER_TYPE 764
#define OFF_OUTER_LEN 766
#define OFF_QE_REPORT 770
#define OFF_QE_SIG 1154
#define OFF_AUTH_LEN 1218
#define OFF_AUTH 1220
#define OFF_INNER_TYPE 1252
#define OFF_INNER_LEN 1254
#define OFF_PEM 1258
#define QUOTE_LEN 4936

static const char *mrtd_hex =
    "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29";
static const char *rtmr0_hex =
    "4574c098915caf3e82057817dbd135c1ed0ee1b39ac300c921479e2f5ebf5726a13ee0c8745ac891b6aee7c4f9664610";
static const char *rtmr3_hex =
    "547fcba4630bfb981169a8a1903b79c244933413409dd0387acbd8e3b985bcc9164cf52735cd31f60bf2c5d1220c113f";
static const char *report_data_hex =
    "7148f47ef58b475fce69b386e2d6b4c964a9533cc328ea8e544db66612a5174698d006951cefa8fd4450e884300638e567e22f9a012ef5754"
    "aa6a9d9564fcd8a";
static const char *root_sha256_hex = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

static uint8_t *quote, *coll;
static size_t quote_len, coll_len;

static uint8_t *load(const char *name, size_t *len) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char *dir = cdr_path_join(src != NULL ? src : ".", "tests/data/attest/tdx");
  char *path = dir != NULL ? cdr_path_join(dir, name) : NULL;
  uint8_t *data = NULL;
  if (path == NULL || cdr_file_read(path, &data, len, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s\n", path != NULL ? path : name);
    exit(2);
  }
  free(path);
  free(dir);
  return data;
}

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static struct cdr_hw_policy base_policy(void) {
  struct cdr_hw_policy p;
  memset(&p, 0, sizeof(p));
  p.at = AT_OK;
  p.accept_tcb_statuses = "Unknown";
  p.collateral = coll;
  p.collateral_len = coll_len;
  return p;
}

static int verify(const uint8_t *q, size_t len, const struct cdr_hw_policy *p) {
  struct cdr_hw_report rep;
  return cdr_verify_tdx(q, len, p, &rep);
}

/* The sample quote with one byte XORed. */
static int verify_flipped(size_t off, uint8_t mask) {
  struct cdr_hw_policy p = base_policy();
  uint8_t *q = malloc(quote_len);
  int r;
  memcpy(q, quote, quote_len);
  q[off] ^= mask;
  r = verify(q, quote_len, &p);
  free(q);
  return r;
}

/* The sample quote with a little-endian u32 field replaced. */
static int verify_u32(size_t off, uint32_t v) {
  struct cdr_hw_policy p = base_policy();
  uint8_t *q = malloc(quote_len);
  int r;
  memcpy(q, quote, quote_len);
  put_le32(q + off, v);
  r = verify(q, quote_len, &p);
  free(q);
  return r;
}

/* The sample quote re-framed around another PEM chain, every length
 * field fixed up. */
static uint8_t *with_chain(const uint8_t *pem, size_t pemlen, size_t *len) {
  uint8_t *q = malloc(OFF_PEM + pemlen);
  memcpy(q, quote, OFF_PEM);
  memcpy(q + OFF_PEM, pem, pemlen);
  put_le32(q + OFF_INNER_LEN, (uint32_t)pemlen);
  put_le32(q + OFF_OUTER_LEN, (uint32_t)(OFF_PEM + pemlen - OFF_QE_REPORT));
  put_le32(q + OFF_SIG_LEN, (uint32_t)(OFF_PEM + pemlen - OFF_QUOTE_SIG));
  *len = OFF_PEM + pemlen;
  return q;
}

/* The collateral with one member replaced by a string. */
static char *coll_with(const char *key, const char *value) {
  json_error_t e;
  json_t *j = json_loadb((const char *)coll, coll_len, 0, &e);
  char *s;
  json_object_set_new(j, key, json_string(value));
  s = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  return s;
}

static int verify_coll(const char *c) {
  struct cdr_hw_policy p = base_policy();
  p.collateral = (const uint8_t *)c;
  p.collateral_len = strlen(c);
  return verify(quote, quote_len, &p);
}

static STACK_OF(X509) *sample_chain(void) {
  STACK_OF(X509) *sk = NULL;
  char why[160];
  if (tdx_pem_chain(&sk, quote + OFF_PEM, QUOTE_LEN - OFF_PEM, why, sizeof(why)) != 0)
    return NULL;
  return sk;
}

static char *pem_of(STACK_OF(X509) *sk) {
  BIO *b = BIO_new(BIO_s_mem());
  BUF_MEM *m;
  char *s;
  for (int i = 0; i < sk_X509_num(sk); i++)
    PEM_write_bio_X509(b, sk_X509_value(sk, i));
  BIO_get_mem_ptr(b, &m);
  s = malloc(m->length + 1);
  memcpy(s, m->data, m->length);
  s[m->length] = '\0';
  BIO_free(b);
  return s;
}

/* A self-made P-256 root "Evil SGX Root CA" and a copy of `ca`
 * re-issued by it (same subject and key, new issuer and signature). */
static void evil_root(X509 *ca, X509 **root_out, X509 **ca_out) {
  EVP_PKEY *k = EVP_EC_gen("P-256");
  X509 *root = X509_new(), *ca2 = X509_dup(ca);
  X509_NAME *n = X509_NAME_new();
  X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Evil SGX Root CA", -1, -1, 0);
  X509_set_version(root, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(root), 1);
  X509_set_subject_name(root, n);
  X509_set_issuer_name(root, n);
  ASN1_TIME_set(X509_getm_notBefore(root), 1500000000);
  ASN1_TIME_set(X509_getm_notAfter(root), 2000000000);
  X509_set_pubkey(root, k);
  X509_add_ext(root, bc, -1);
  X509_sign(root, k, EVP_sha256());
  X509_set_issuer_name(ca2, n);
  X509_sign(ca2, k, EVP_sha256());
  X509_EXTENSION_free(bc);
  X509_NAME_free(n);
  EVP_PKEY_free(k);
  *root_out = root;
  *ca_out = ca2;
}

static void test_root_pin(void) {
  X509 *root = cdr_root_intel_sgx();
  STACK_OF(X509) *sk = sample_chain();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char hex[65];

  CHECK(root != NULL);
  CHECK(root == cdr_root_intel_sgx()); /* parsed once */
  CHECK(X509_digest(root, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32);
  cdr_hex_encode(hex, md, 32);
  CHECK_STR(hex, root_sha256_hex);
  /* The pinned root is the third certificate of the sample's chain. */
  CHECK(sk != NULL && sk_X509_num(sk) == 3);
  CHECK(sk != NULL && X509_cmp(sk_X509_value(sk, 2), root) == 0);
  sk_X509_pop_free(sk, X509_free);
}

static void test_vectors_agree(void) {
  size_t hlen;
  uint8_t *hex = load("tdx-quote.hex", &hlen), *bin = malloc(quote_len);
  CHECK(hlen == 2 + 2 * quote_len && hex[0] == '0' && hex[1] == 'x');
  CHECK(cdr_hex_decode(bin, quote_len, (const char *)hex + 2) == 0);
  CHECK(memcmp(bin, quote, quote_len) == 0);
  CHECK(quote_len == QUOTE_LEN + 70);
  free(hex);
  free(bin);
}

static void test_sample_verifies(void) {
  struct cdr_hw_policy p = base_policy();
  struct cdr_hw_report rep;
  uint8_t want[64];
  char hex[129];

  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), 0);
  CHECK(rep.platform == CDR_HW_TDX);
  CHECK(rep.measurement_len == 48);
  cdr_hex_encode(hex, rep.measurement, 48);
  CHECK_STR(hex, mrtd_hex);
  cdr_hex_encode(hex, rep.rtmr[0], 48);
  CHECK_STR(hex, rtmr0_hex);
  memset(want, 0, sizeof(want));
  CHECK(memcmp(rep.rtmr[1], want, 48) == 0);
  CHECK(memcmp(rep.rtmr[2], want, 48) == 0);
  cdr_hex_encode(hex, rep.rtmr[3], 48);
  CHECK_STR(hex, rtmr3_hex);
  CHECK(rep.has_report_data);
  cdr_hex_encode(hex, rep.report_data, 64);
  CHECK_STR(hex, report_data_hex);
  CHECK_STR(rep.tcb_status, "Unknown");
  CHECK_CONTAINS(rep.tcb, "tee_tcb_svn 05010200000000000000000000000000");
  CHECK_CONTAINS(rep.tcb, "sgx 2.2.2.2.3.1.0.3.0.0.0.0.0.0.0.0 pcesvn 11");
  CHECK_CONTAINS(rep.policy, "debug off");
  CHECK(rep.debug == 0);
  CHECK(rep.nchecks > 10);
  for (size_t i = 0; i < rep.nchecks; i++) {
    CHECK(rep.checks[i].ok == 1);
    if (!rep.checks[i].ok)
      fprintf(stderr, "  %s: %s\n", rep.checks[i].name, rep.checks[i].detail);
  }

  /* The expected values themselves, and accepting from a list. */
  CHECK(cdr_hex_decode(want, 48, mrtd_hex) == 0);
  p.expect_measurement = want;
  p.expect_measurement_len = 48;
  p.accept_tcb_statuses = "OutOfDate, Unknown";
  CHECK_RC(verify(quote, quote_len, &p), 0);
  p.expect_measurement = NULL;
  CHECK(cdr_hex_decode(want, 64, report_data_hex) == 0);
  p.expect_report_data = want;
  CHECK_RC(verify(quote, quote_len, &p), 0);

  /* The quote without its padding; the validity window's edges. */
  p = base_policy();
  CHECK_RC(verify(quote, QUOTE_LEN, &p), 0);
  CHECK_RC(verify(quote, QUOTE_LEN + 1, &p), 0);
  p.at = AT_TCB_ISSUE;
  CHECK_RC(verify(quote, quote_len, &p), 0);
  p.at = AT_QE_NEXT;
  CHECK_RC(verify(quote, quote_len, &p), 0);

  /* The re-framing helpers used below change nothing by themselves. */
  {
    size_t n;
    uint8_t *q = with_chain(quote + OFF_PEM, QUOTE_LEN - OFF_PEM, &n);
    json_t *j = json_loadb((const char *)coll, coll_len, 0, NULL);
    char *c = coll_with("tcb_info", json_string_value(json_object_get(j, "tcb_info")));
    CHECK(n == QUOTE_LEN && memcmp(q, quote, n) == 0);
    CHECK_RC(verify_coll(c), 0);
    json_decref(j);
    free(q);
    free(c);
  }
}

static void test_tcb_policy(void) {
  struct cdr_hw_policy p = base_policy();
  struct cdr_hw_report rep;

  p.accept_tcb_statuses = NULL;
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_TCB);
  CHECK_STR(rep.tcb_status, "Unknown");
  CHECK(rep.nchecks > 0 && rep.checks[rep.nchecks - 1].ok == 0);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "platform TCB is Unknown");
  /* The measurements are reported even though the check failed. */
  CHECK(rep.measurement_len == 48 && rep.has_report_data);
  p.accept_tcb_statuses = "";
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_TCB);
  p.accept_tcb_statuses = "OutOfDate,SWHardeningNeeded";
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_TCB);
  p.accept_tcb_statuses = "unknown"; /* names are exact */
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_TCB);
  p.accept_tcb_statuses = "Unknow";
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_TCB);
}

static void test_signatures(void) {
  /* TD report (MRTD, report_data) and header: the quote signature. */
  CHECK_RC(verify_flipped(48 + TDX_TR_MRTD, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_RC(verify_flipped(48 + TDX_TR_REPORT_DATA + 63, 0x80), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_RC(verify_flipped(48 + TDX_TR_TD_ATTRIBUTES, 0x01), CDR_ERR_ATTEST_SIGNATURE); /* debug on */
  CHECK_RC(verify_flipped(28, 0x01), CDR_ERR_ATTEST_SIGNATURE);                          /* header user data */
  CHECK_RC(verify_flipped(OFF_QUOTE_SIG + 5, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_RC(verify_flipped(OFF_QUOTE_SIG + 40, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  /* QE report (its isvsvn, its report_data) and its signature. */
  CHECK_RC(verify_flipped(OFF_QE_REPORT + TDX_QE_ISVSVN, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_RC(verify_flipped(OFF_QE_REPORT + TDX_QE_REPORT_DATA, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_RC(verify_flipped(OFF_QE_SIG + 10, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  /* Attestation key and QE auth data: the QE's binding. */
  CHECK_RC(verify_flipped(OFF_ATT_KEY + 1, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  CHECK_RC(verify_flipped(OFF_AUTH + 3, 0x01), CDR_ERR_ATTEST_SIGNATURE);
  /* A byte of the PCK certificate's base64 (its signature): the chain. */
  {
    size_t n;
    uint8_t *q = with_chain(quote + OFF_PEM, QUOTE_LEN - OFF_PEM, &n);
    const char *end = strstr((const char *)q + OFF_PEM, "-----END CERTIFICATE-----");
    size_t off = (size_t)((const uint8_t *)end - q) - 8; /* inside the signature */
    struct cdr_hw_policy p = base_policy();
    q[off] = q[off] == 'A' ? 'B' : 'A';
    CHECK_RC(verify(q, n, &p), CDR_ERR_ATTEST_SIGNATURE);
    free(q);
  }
}

static void test_times(void) {
  struct cdr_hw_policy p = base_policy();
  struct cdr_hw_report rep;

  p.at = AT_AFTER; /* TCB info expired; the certificates are still valid */
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_CERT_TIME);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "TCB info valid from 2025-03-13T07:30:24Z");
  p.at = AT_QE_NEXT + 1; /* the QE identity expires 22 minutes before the TCB info */
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_CERT_TIME);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "QE identity valid from");
  p.at = AT_TCB_NEXT + 1;
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_CERT_TIME);
  p.at = AT_TCB_ISSUE - 1;
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_CERT_TIME);
  p.at = AT_BEFORE_ISSUE;
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ATTEST_CERT_TIME);
  p.at = AT_BEFORE_PCK; /* before the PCK certificate's notBefore */
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_CERT_TIME);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "PCK certificate chain");
  p.at = 1893456000; /* 2030: the TCB Signing certificate has expired */
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_CERT_TIME);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "TCB info signing chain");
}

static void test_roots(void) {
  STACK_OF(X509) *sk = sample_chain(), *fake = sk_X509_new_null();
  X509 *root = NULL, *ca = NULL;
  struct cdr_hw_report rep;
  struct cdr_hw_policy p = base_policy();
  char *pem, *c;
  uint8_t *q;
  size_t n;

  CHECK(sk != NULL);
  if (sk == NULL)
    return;
  /* PCK chain re-issued under a self-made root. */
  evil_root(sk_X509_value(sk, 1), &root, &ca);
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 0)));
  sk_X509_push(fake, ca);
  sk_X509_push(fake, root);
  pem = pem_of(fake);
  q = with_chain((const uint8_t *)pem, strlen(pem), &n);
  CHECK_RC(cdr_verify_tdx(q, n, &p, &rep), CDR_ERR_ATTEST_ROOT);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "PCK certificate chain");
  free(q);
  free(pem);

  /* The real leaf and intermediate, and the self-made root in place of
   * Intel's: the path still reaches the pinned root by name, but the
   * root the quote carries is not it. */
  sk_X509_pop_free(fake, X509_free);
  fake = sk_X509_new_null();
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 0)));
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 1)));
  evil_root(sk_X509_value(sk, 1), &root, &ca);
  X509_free(ca);
  sk_X509_push(fake, root);
  pem = pem_of(fake);
  q = with_chain((const uint8_t *)pem, strlen(pem), &n);
  CHECK_RC(cdr_verify_tdx(q, n, &p, &rep), CDR_ERR_ATTEST_ROOT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "a different root");
  free(q);
  free(pem);

  /* Leaf and intermediate only: completed by the pinned root. */
  sk_X509_pop_free(fake, X509_free);
  fake = sk_X509_new_null();
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 0)));
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 1)));
  pem = pem_of(fake);
  q = with_chain((const uint8_t *)pem, strlen(pem), &n);
  CHECK_RC(verify(q, n, &p), 0);
  free(q);
  free(pem);

  /* The leaf alone, and the leaf without the intermediate. */
  sk_X509_pop_free(fake, X509_free);
  fake = sk_X509_new_null();
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 0)));
  pem = pem_of(fake);
  q = with_chain((const uint8_t *)pem, strlen(pem), &n);
  CHECK_RC(verify(q, n, &p), CDR_ERR_ATTEST_MALFORMED);
  free(q);
  free(pem);
  sk_X509_push(fake, X509_dup(sk_X509_value(sk, 2)));
  pem = pem_of(fake);
  q = with_chain((const uint8_t *)pem, strlen(pem), &n);
  CHECK_RC(verify(q, n, &p), CDR_ERR_ATTEST_ROOT);
  free(q);
  free(pem);

  /* Collateral signed under the self-made root. */
  sk_X509_pop_free(fake, X509_free);
  fake = sk_X509_new_null();
  {
    STACK_OF(X509) *tcb = NULL;
    json_t *j = json_loadb((const char *)coll, coll_len, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "tcb_info_issuer_chain"));
    char why[160];
    CHECK(tdx_pem_chain(&tcb, (const uint8_t *)s, strlen(s), why, sizeof(why)) == 0);
    json_decref(j);
    if (tcb != NULL) {
      X509 *r2, *signer;
      evil_root(sk_X509_value(tcb, 0), &r2, &signer); /* the signer re-issued */
      sk_X509_push(fake, signer);
      sk_X509_push(fake, r2);
      pem = pem_of(fake);
      c = coll_with("tcb_info_issuer_chain", pem);
      CHECK_RC(verify_coll(c), CDR_ERR_ATTEST_ROOT);
      free(c);
      c = coll_with("qe_identity_issuer_chain", pem);
      CHECK_RC(verify_coll(c), CDR_ERR_ATTEST_ROOT);
      free(c);
      free(pem);
      sk_X509_pop_free(tcb, X509_free);
    }
  }
  /* Collateral "signed" by a PCK chain: right root, wrong role. */
  pem = pem_of(sk);
  c = coll_with("tcb_info_issuer_chain", pem);
  CHECK_RC(verify_coll(c), CDR_ERR_ATTEST_ROOT);
  free(c);
  free(pem);

  sk_X509_pop_free(fake, X509_free);
  sk_X509_pop_free(sk, X509_free);
}

static void test_expectations(void) {
  struct cdr_hw_policy p = base_policy();
  struct cdr_hw_report rep;
  uint8_t m[48], rd[64];

  CHECK(cdr_hex_decode(m, 48, mrtd_hex) == 0);
  m[47] ^= 1;
  p.expect_measurement = m;
  p.expect_measurement_len = 48;
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "MRTD");
  p.expect_measurement_len = 32;
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ARG);

  p = base_policy();
  CHECK(cdr_hex_decode(rd, 64, report_data_hex) == 0);
  rd[0] ^= 1;
  p.expect_report_data = rd;
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "report_data");
}

/* "N=HEX" for register index idx with the value hex. */
static const char *spec_of(char buf[128], unsigned idx, const char *hex) {
  snprintf(buf, 128, "%u=%s", idx, hex);
  return buf;
}

/* The expectation list: "N=HEX" forms, ranges, repeats. */
static void test_expect_parse(void) {
  struct cdr_hw_expect ex;
  char z[97], buf[128];

  memset(&ex, 0, sizeof(ex));
  memset(z, '0', 96);
  z[96] = '\0';
  CHECK_STR(cdr_hw_reg_name(CDR_HW_REG_RTMR), "RTMR");
  CHECK_STR(cdr_hw_reg_name(CDR_HW_REG_PCR), "PCR");
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 0, rtmr0_hex)), 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 3, z)), 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec_of(buf, 31, z)), 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec_of(buf, 10, z)), 0);
  CHECK(ex.n == 4 && ex.reg[0].kind == CDR_HW_REG_RTMR && ex.reg[0].index == 0 && ex.reg[0].value[0] == 0x45);
  CHECK(ex.reg[2].kind == CDR_HW_REG_PCR && ex.reg[2].index == 31 && ex.reg[3].index == 10);
  /* The same register with the same value: once; with another: refused. */
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 3, z)), 0);
  CHECK(ex.n == 4);
  z[95] = '1';
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 3, z)), CDR_ERR_ARG);
  CHECK(ex.n == 4 && ex.reg[1].value[47] == 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec_of(buf, 3, z)), 0); /* PCR3 is not RTMR3 */
  z[95] = '0';
  /* Out of range, and not N=HEX. */
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 4, z)), CDR_ERR_ARG);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec_of(buf, 32, z)), CDR_ERR_ARG);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec_of(buf, 100, z)), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "01=%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "+1=%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), " 1=%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "=%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "1:%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "1=%s0", z); /* 97 digits */
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "1=%.95s", z); /* 95 */
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  snprintf(buf, sizeof(buf), "1=%.94sxy", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, buf), CDR_ERR_ARG);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, "1"), CDR_ERR_ARG);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, ""), CDR_ERR_ARG);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, NULL), CDR_ERR_ARG);
  CHECK_RC(cdr_hw_expect_add(&ex, (enum cdr_hw_reg)7, spec_of(buf, 1, z)), CDR_ERR_ARG);
  CHECK(ex.n == 5);
  CHECK_RC(cdr_hw_expect_valid(&ex), 0);
  CHECK_RC(cdr_hw_expect_valid(NULL), 0);
}

/* RTMR expectations, which cdr_verify_hw checks once the quote verified. */
static void test_rtmr_expectations(void) {
  struct cdr_hw_policy p = base_policy();
  struct cdr_hw_report rep;
  struct cdr_hw_expect ex;
  char z[97], buf[128];
  int r;

  memset(&ex, 0, sizeof(ex));
  memset(z, '0', 96);
  z[96] = '\0';
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 0, rtmr0_hex)), 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 1, z)), 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 2, z)), 0);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec_of(buf, 3, rtmr3_hex)), 0);
  p.expect_regs = &ex;

  /* The true values pass, each recorded as a check. */
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), 0);
  CHECK(rep.nchecks >= 4);
  for (size_t i = 0; i < 4 && rep.nchecks >= 4; i++) {
    const struct cdr_hw_check *c = &rep.checks[rep.nchecks - 4 + i];
    char want[64];
    snprintf(want, sizeof(want), "RTMR%zu equals the expected value", i);
    CHECK(c->ok == 1);
    CHECK_STR(c->name, "expected register");
    CHECK_STR(c->detail, want);
  }
  for (size_t i = 0; i < rep.nchecks; i++)
    CHECK(rep.checks[i].ok == 1);

  /* One byte of RTMR2 differs: a measurement mismatch naming RTMR2 and
   * both values. */
  ex.reg[2].value[47] ^= 0x01;
  r = cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep);
  CHECK_RC(r, CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_STR(cdr_err_code(r), "attestation_measurement_mismatch");
  CHECK(rep.nchecks > 0 && rep.checks[rep.nchecks - 1].ok == 0);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "expected register");
  z[95] = '1';
  snprintf(buf, sizeof(buf), "RTMR2 differs: expected %s, got ", z);
  z[95] = '0';
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, buf);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, z);
  ex.reg[2].value[47] ^= 0x01;
  ex.reg[0].value[0] ^= 0x80; /* RTMR0, the first one compared */
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "RTMR0 differs: expected c574c098");
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, rtmr0_hex);
  ex.reg[0].value[0] ^= 0x80;

  /* Only a proven quote is compared: when the quote fails (here its TCB
   * status), that failure is the answer, and no register is compared. */
  ex.reg[2].value[47] ^= 0x01;
  p.accept_tcb_statuses = NULL;
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), CDR_ERR_ATTEST_TCB);
  for (size_t i = 0; i < rep.nchecks; i++)
    CHECK(strcmp(rep.checks[i].name, "expected register") != 0);
  p.accept_tcb_statuses = "Unknown";
  ex.reg[2].value[47] ^= 0x01;

  /* A PCR is no TDX register: refused, not ignored. */
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec_of(buf, 0, mrtd_hex)), 0);
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "PCR0 expected, but Intel TDX evidence has no PCRs");
  ex.n--;

  /* The platform verifier alone refuses a policy with expectations rather
   * than ignore them; an empty list is no expectation. */
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), CDR_ERR_ARG);
  ex.n = 0;
  CHECK_RC(cdr_verify_tdx(quote, quote_len, &p, &rep), 0);
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), 0);
  ex.n = 4;

  /* A list that is not well formed is refused before anything else. */
  ex.reg[1].index = 4;
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), CDR_ERR_ARG);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "policy");
  ex.reg[1].index = 1;
  ex.n = CDR_HW_MAX_EXPECT + 1;
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), CDR_ERR_ARG);
  ex.n = 4;
  CHECK_RC(cdr_verify_hw(CDR_HW_TDX, quote, quote_len, &p, &rep), 0);
}

static void test_malformed(void) {
  struct cdr_hw_policy p = base_policy();
  uint8_t *q = malloc(quote_len);

  /* Every truncation of the quote proper. */
  for (size_t n = 0; n < QUOTE_LEN; n++) {
    int r = verify(quote, n, &p);
    if (r != CDR_ERR_ATTEST_MALFORMED) {
      CHECK_RC(r, CDR_ERR_ATTEST_MALFORMED);
      fprintf(stderr, "  truncated to %zu\n", n);
      break;
    }
  }
  CHECK_RC(verify(NULL, 0, &p), CDR_ERR_ATTEST_MALFORMED);
  {
    uint8_t *big = calloc(1, 64u * 1024u + 1u); /* the quote and zero padding, one byte over the cap */
    memcpy(big, quote, quote_len);
    CHECK_RC(verify(big, 64u * 1024u, &p), 0);
    CHECK_RC(verify(big, 64u * 1024u + 1u, &p), CDR_ERR_ATTEST_MALFORMED);
    free(big);
  }

  /* Length fields. */
  CHECK_RC(verify_u32(OFF_SIG_LEN, 0xffffffffu), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_SIG_LEN, 0), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_SIG_LEN, QUOTE_LEN - 636 - 1), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_SIG_LEN, QUOTE_LEN - 636 + 1), CDR_ERR_ATTEST_MALFORMED); /* eats a zero */
  CHECK_RC(verify_u32(OFF_OUTER_LEN, 0xffffffffu), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_OUTER_LEN, QUOTE_LEN - OFF_QE_REPORT + 1), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_OUTER_LEN, QUOTE_LEN - OFF_QE_REPORT - 1), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_INNER_LEN, 0xffffffffu), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_INNER_LEN, QUOTE_LEN - OFF_PEM + 1), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_u32(OFF_INNER_LEN, 0), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(OFF_AUTH_LEN, 0xff), CDR_ERR_ATTEST_MALFORMED);      /* 0x20 -> 0xdf */
  CHECK_RC(verify_flipped(OFF_AUTH_LEN + 1, 0xff), CDR_ERR_ATTEST_MALFORMED);  /* 0xff20 */
  CHECK_RC(verify_flipped(OFF_AUTH_LEN, 0x20), CDR_ERR_ATTEST_MALFORMED);      /* 0 */

  /* Types and header fields. */
  CHECK_RC(verify_flipped(0, 0x07), CDR_ERR_ATTEST_MALFORMED);               /* version 3 */
  CHECK_RC(verify_flipped(2, 0x01), CDR_ERR_ATTEST_MALFORMED);               /* att key type 3 */
  CHECK_RC(verify_flipped(4, 0x81), CDR_ERR_ATTEST_MALFORMED);               /* tee type 0 (SGX) */
  CHECK_RC(verify_flipped(12, 0x01), CDR_ERR_ATTEST_MALFORMED);              /* QE vendor id */
  CHECK_RC(verify_flipped(OFF_OUTER_TYPE, 0x03), CDR_ERR_ATTEST_MALFORMED);  /* 6 -> 5 */
  CHECK_RC(verify_flipped(OFF_INNER_TYPE, 0x03), CDR_ERR_ATTEST_MALFORMED);  /* 5 -> 6 */
  memcpy(q, quote, quote_len);
  q[OFF_PEM + 40] = '*'; /* not base64 */
  CHECK_RC(verify(q, quote_len, &p), CDR_ERR_ATTEST_MALFORMED);

  /* Trailing bytes must be zero padding. */
  CHECK_RC(verify_flipped(quote_len - 1, 0x01), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_flipped(QUOTE_LEN, 0x01), CDR_ERR_ATTEST_MALFORMED);

  /* An attestation key that is not a point on the curve. */
  memcpy(q, quote, quote_len);
  memset(q + OFF_ATT_KEY, 0, 64);
  CHECK_RC(verify(q, quote_len, &p), CDR_ERR_ATTEST_SIGNATURE); /* binding fails first */
  free(q);
}

static void test_collateral(void) {
  struct cdr_hw_policy p = base_policy();
  char *c = malloc(coll_len + 1), *d;
  const char *s;
  size_t off;

  /* One character of tcb_info: its nextUpdate, a day later. */
  memcpy(c, coll, coll_len);
  c[coll_len] = '\0';
  s = strstr(c, "2025-04-12T07:30:24Z");
  CHECK(s != NULL);
  if (s != NULL) {
    off = (size_t)(s - c) + 9;
    c[off] = '3';
    CHECK_RC(verify_coll(c), CDR_ERR_ATTEST_SIGNATURE);
    c[off] = '2';
    CHECK_RC(verify_coll(c), 0);
  }
  /* One character of qe_identity (its isvprodid). */
  s = strstr(c, "isvprodid\\\":2");
  CHECK(s != NULL);
  if (s != NULL) {
    off = (size_t)(s - c) + 12;
    c[off] = '3';
    CHECK_RC(verify_coll(c), CDR_ERR_ATTEST_SIGNATURE);
    c[off] = '2';
  }
  /* A digit of the signature. */
  s = strstr(c, "\"tcb_info_signature\"");
  if (s != NULL) {
    off = (size_t)(s - c);
    s = strchr(c + off + 20, '"');
    off = (size_t)(s - c) + 5;
    c[off] = c[off] == '0' ? '1' : '0';
    CHECK_RC(verify_coll(c), CDR_ERR_ATTEST_SIGNATURE);
  }
  free(c);

  d = coll_with("tcb_info_signature", "00");
  CHECK_RC(verify_coll(d), CDR_ERR_ATTEST_MALFORMED);
  free(d);
  d = coll_with("tcb_info", "{}"); /* unsigned */
  CHECK_RC(verify_coll(d), CDR_ERR_ATTEST_SIGNATURE);
  free(d);
  CHECK_RC(verify_coll("[]"), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_coll("{\"tcb_info\":"), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(verify_coll("{}"), CDR_ERR_ATTEST_MALFORMED);
  p.collateral = NULL;
  p.collateral_len = 0;
  CHECK_RC(verify(quote, quote_len, &p), CDR_ERR_ARG);
}

/* The level rule on synthetic TCB info. */
#define LEVELS_FMT                                                                                         \
  "{\"tcbLevels\":["                                                                                        \
  "{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":11,\"tdxtcbcomponents\":[%s]},\"tcbStatus\":\"UpToDate\"},"  \
  "{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":5,\"tdxtcbcomponents\":[%s]},\"tcbStatus\":\"OutOfDate\"}]}"
static void test_tcb_levels(void) {
  const char *hi = "{\"svn\":2},{\"svn\":2},{\"svn\":2},{\"svn\":2},{\"svn\":3},{\"svn\":1},{\"svn\":0},{\"svn\":5},"
                   "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0}";
  const char *lo = "{\"svn\":1},{\"svn\":1},{\"svn\":1},{\"svn\":1},{\"svn\":1},{\"svn\":1},{\"svn\":0},{\"svn\":1},"
                   "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0}";
  const char *tdx = "{\"svn\":5},{\"svn\":0},{\"svn\":2},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},"
                    "{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0},{\"svn\":0}";
  struct tdx_pck_ext e;
  uint8_t svn[16] = {5, 1, 2};
  const char *st;
  char buf[4096], why[160];
  json_t *j;

  snprintf(buf, sizeof(buf), LEVELS_FMT, hi, tdx, lo, tdx);
  j = json_loads(buf, 0, NULL);
  CHECK(j != NULL);
  memset(&e, 0, sizeof(e));
  memcpy(e.comp, (uint8_t[16]){2, 2, 2, 2, 3, 1, 0, 5}, 16);
  e.pcesvn = 11;
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == 0 && strcmp(st, "UpToDate") == 0);
  e.pcesvn = 10; /* below the first level's pcesvn only */
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == 0 && strcmp(st, "OutOfDate") == 0);
  e.pcesvn = 11;
  e.comp[7] = 3; /* the sample: component 8 too low for the first level */
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == 0 && strcmp(st, "OutOfDate") == 0);
  /* Per component, not lexicographic: a higher component 1 does not
   * make up for a lower component 8. */
  e.comp[0] = 9;
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == 0 && strcmp(st, "OutOfDate") == 0);
  e.comp[0] = 0; /* below both levels */
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == 0 && strcmp(st, "Unknown") == 0);
  memcpy(e.comp, (uint8_t[16]){2, 2, 2, 2, 3, 1, 0, 5}, 16);
  svn[2] = 1; /* TDX late microcode below every level */
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == 0 && strcmp(st, "Unknown") == 0);
  json_decref(j);

  /* Out-of-shape levels. */
  j = json_loads("{\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[],\"pcesvn\":1,\"tdxtcbcomponents\":[]},"
                 "\"tcbStatus\":\"UpToDate\"}]}",
                 0, NULL);
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == CDR_ERR_ATTEST_MALFORMED);
  json_decref(j);
  j = json_loads("{\"tcbLevels\":[]}", 0, NULL);
  CHECK(tdx_tcb_level(j, &e, svn, &st, why, sizeof(why)) == CDR_ERR_ATTEST_MALFORMED);
  json_decref(j);
}

static void test_helpers(void) {
  int64_t t;
  CHECK(tdx_status_accepted("Unknown", "Unknown"));
  CHECK(tdx_status_accepted(" OutOfDate , Unknown ", "Unknown"));
  CHECK(tdx_status_accepted("OutOfDate,SWHardeningNeeded", "SWHardeningNeeded"));
  CHECK(!tdx_status_accepted("OutOfDateConfigurationNeeded", "OutOfDate"));
  CHECK(!tdx_status_accepted("OutOfDate", "OutOfDateConfigurationNeeded"));
  CHECK(!tdx_status_accepted(NULL, "Unknown"));
  CHECK(!tdx_status_accepted(",,", "Unknown"));
  CHECK(tdx_parse_time("2025-04-12T07:30:24Z", &t) == 0 && t == AT_TCB_NEXT);
  CHECK(tdx_parse_time("2025-02-30T00:00:00Z", &t) == CDR_ERR_ATTEST_MALFORMED);
  CHECK(tdx_parse_time("2025-04-12T07:30:24", &t) == CDR_ERR_ATTEST_MALFORMED);
  CHECK(tdx_parse_time("2025-04-12 07:30:24Z", &t) == CDR_ERR_ATTEST_MALFORMED);
  CHECK(tdx_parse_time("2025-04-12T07:30:24.000Z", &t) == CDR_ERR_ATTEST_MALFORMED);
  CHECK(tdx_parse_time("+025-04-12T07:30:24Z", &t) == CDR_ERR_ATTEST_MALFORMED);
  CHECK(tdx_parse_time(NULL, &t) == CDR_ERR_ATTEST_MALFORMED);
}

int main(void) {
  quote = load("tdx-quote.bin", &quote_len);
  coll = load("collateral.json", &coll_len);

  test_root_pin();
  test_vectors_agree();
  test_sample_verifies();
  test_tcb_policy();
  test_signatures();
  test_times();
  test_roots();
  test_expectations();
  test_expect_parse();
  test_rtmr_expectations();
  test_malformed();
  test_collateral();
  test_tcb_levels();
  test_helpers();

  free(quote);
  free(coll);
  return test_summary("test_tdx");
}
