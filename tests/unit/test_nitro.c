/*
 * test_nitro.c - the AWS Nitro Enclaves verifier (src/attest/verify_nitro.c)
 * and its pinned root (src/attest/roots_aws.c).
 *
 * Two sources of documents:
 *   - the real document in tests/data/attest/nitro/ (see
 *     /work/shared/vectors/README.md, nitro/), verified at its own time
 *     2024-05-07T17:43:06Z, at other times, and with bytes flipped or cut;
 *   - documents this test builds and signs with libcbor and OpenSSL under a
 *     P-384 PKI of its own (root -> intermediate -> leaf).  Through the
 *     public entry point they must fail with ATTEST_ROOT; through
 *     cdr_nitro_verify_with_root, with the test's root as anchor, they reach
 *     the checks after the chain (PCR0, user_data, debug) and every
 *     structural rule can be broken one at a time.
 *
 * PCR expectations (cdr_verify_hw, hwexpect.c) are checked on the real
 * document, and on one of ours whose PCRs have a gap.
 *
 * CDR_SOURCE_DIR locates the data (ctest sets it).
 */
#include <cbor.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hwattest.h"
#include "attest/nitro_internal.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "testlib.h"

/* 2024-05-07T17:43:06Z: the document's own time (timestamp 1715103786613 ms). */
#define PINNED_AT 1715103786
/* The real leaf: valid 2024-05-07T17:43:03Z to 2024-05-07T20:43:06Z. */
#define LEAF_NOT_BEFORE 1715103783
#define LEAF_NOT_AFTER 1715114586

static const char PCR0_HEX[] =
    "4d8ff9d3a23815b17d4a46c648da68e822ec7d32e473e023ba96fb6e388af2d5e0838d174a2d376d3593cc929b3d610e";
static const char PCR1_HEX[] =
    "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f";
static const char PCR2_HEX[] =
    "3c679aaa8a7507b33e7a61524585cca6f338bbdd28364f8df80882e7b56ec21e31a4a96c5c59c6b5e9b3027e3f10f83a";
static const char PCR4_HEX[] =
    "64c10725297672154771707bbcb161de5a9380b2cbdf6faecfa17403fcfd18e00a25eac5a22e21353dca2e7137604cd6";
static const char MODULE_ID[] = "i-0eec57d9c38705a57-enc018f25eda1b897b7";
static const char ROOT_SHA256[] = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";

static uint8_t *load_data(const char *name, size_t *len) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char path[4096];
  uint8_t *p = NULL;
  snprintf(path, sizeof(path), "%s/tests/data/attest/nitro/%s", src ? src : ".", name);
  if (cdr_file_read(path, &p, len, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s (set CDR_SOURCE_DIR)\n", path);
    exit(1);
  }
  return p;
}

static void hex48(uint8_t out[48], const char *hex) {
  if (cdr_hex_decode(out, 48, hex) != 0)
    abort();
}

static struct cdr_hw_policy policy_at(int64_t at) {
  struct cdr_hw_policy p;
  memset(&p, 0, sizeof(p));
  p.at = at;
  return p;
}

static int all_checks_ok(const struct cdr_hw_report *r) {
  for (size_t i = 0; i < r->nchecks; i++)
    if (!r->checks[i].ok)
      return 0;
  return r->nchecks > 0;
}

/* Fresh copy with one byte xor'ed. */
static uint8_t *flipped(const uint8_t *doc, size_t len, size_t at) {
  uint8_t *c = malloc(len);
  if (c == NULL)
    abort();
  memcpy(c, doc, len);
  c[at] ^= 0x01;
  return c;
}

/* ---- the pinned root ------------------------------------------------------ */

static void test_root(void) {
  X509 *root = cdr_root_aws_nitro_g1();
  unsigned char *der = NULL;
  uint8_t md[32];
  char hex[65];
  size_t pemlen;
  uint8_t *pem = load_data("aws-nitro-root-g1.pem", &pemlen);
  BIO *bio = BIO_new_mem_buf(pem, (int)pemlen);
  X509 *fromfile = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  int derlen;

  CHECK(root != NULL);
  CHECK(cdr_root_aws_nitro_g1() == root); /* parsed once */
  derlen = i2d_X509(root, &der);
  CHECK(derlen > 0);
  CHECK_RC(cdr_sha256(md, der, (size_t)derlen), 0);
  cdr_hex_encode(hex, md, sizeof(md));
  CHECK_STR(hex, ROOT_SHA256);
  CHECK(fromfile != NULL && X509_cmp(fromfile, root) == 0);
  CHECK(X509_check_issued(root, root) == X509_V_OK);
  OPENSSL_free(der);
  X509_free(fromfile);
  BIO_free(bio);
  free(pem);
}

/* ---- the real document ---------------------------------------------------- */

static void test_real_document(void) {
  size_t len;
  uint8_t *doc = load_data("attestation-2024-05-07.cbor", &len);
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  uint8_t pcr[48], zero[48] = {0}, rd[64];

  CHECK(len == 4822);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), 0);
  CHECK(all_checks_ok(&rep));
  CHECK(rep.platform == CDR_HW_NITRO);
  CHECK(rep.npcrs == 16);
  CHECK(rep.measurement_len == 48);
  hex48(pcr, PCR0_HEX);
  CHECK(memcmp(rep.measurement, pcr, 48) == 0);
  CHECK(memcmp(rep.pcr[0], pcr, 48) == 0);
  hex48(pcr, PCR1_HEX);
  CHECK(memcmp(rep.pcr[1], pcr, 48) == 0);
  hex48(pcr, PCR2_HEX);
  CHECK(memcmp(rep.pcr[2], pcr, 48) == 0);
  hex48(pcr, PCR4_HEX);
  CHECK(memcmp(rep.pcr[4], pcr, 48) == 0);
  CHECK(memcmp(rep.pcr[3], zero, 48) == 0);
  for (size_t i = 5; i < 16; i++)
    CHECK(memcmp(rep.pcr[i], zero, 48) == 0);
  CHECK_CONTAINS(rep.tcb, MODULE_ID);
  CHECK_STR(rep.tcb, "module i-0eec57d9c38705a57-enc018f25eda1b897b7, timestamp 2024-05-07T17:43:06.613Z");
  CHECK_STR(rep.policy, "digest SHA384, 16 PCRs, public_key 426 bytes, user_data 0 bytes, nonce 0 bytes");
  CHECK(rep.has_report_data == 0);
  CHECK(rep.nitro_nonce_len == 0);
  CHECK(rep.debug == 0);

  /* The right PCR0 passes, a wrong one is a measurement mismatch. */
  hex48(pcr, PCR0_HEX);
  pol.expect_measurement = pcr;
  pol.expect_measurement_len = 48;
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), 0);
  pcr[47] ^= 1;
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK(!all_checks_ok(&rep));
  CHECK(rep.npcrs == 16); /* the report is filled even when a check fails */
  hex48(pcr, PCR1_HEX); /* PCR1 is not the measurement */
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  pol.expect_measurement_len = 32;
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ARG);

  /* Its user_data is empty: any expected report_data is a mismatch. */
  pol = policy_at(PINNED_AT);
  memset(rd, 0, sizeof(rd));
  pol.expect_report_data = rd;
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);

  /* Times: at the real current time the leaf has long expired. */
  pol = policy_at(cdr_now());
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  pol = policy_at(LEAF_NOT_AFTER + 1);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  pol = policy_at(LEAF_NOT_BEFORE - 1);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  pol = policy_at(LEAF_NOT_BEFORE);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), 0);
  pol = policy_at(LEAF_NOT_AFTER - 1); /* OpenSSL: expired at notAfter itself */
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), 0);
  pol = policy_at(LEAF_NOT_AFTER);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  pol = policy_at(0);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);

  /* Bad arguments. */
  pol = policy_at(PINNED_AT);
  CHECK_RC(cdr_verify_nitro(doc, len, NULL, &rep), CDR_ERR_ARG);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, NULL), CDR_ERR_ARG);
  CHECK_RC(cdr_verify_nitro(NULL, 0, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(doc, 0, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  free(doc);
}

/* The same document under tag 18, re-encoded with libcbor. */
static void test_real_document_tagged(void) {
  size_t len, outlen, cap = 0;
  uint8_t *doc = load_data("attestation-2024-05-07.cbor", &len);
  struct cbor_load_result res;
  cbor_item_t *item = cbor_load(doc, len, &res), *tag = NULL;
  unsigned char *out = NULL;
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;

  CHECK(item != NULL);
  tag = cbor_build_tag(18, item);
  outlen = cbor_serialize_alloc(tag, &out, &cap);
  CHECK(outlen == len + 1 && out[0] == 0xd2);
  CHECK_RC(cdr_verify_nitro(out, outlen, &pol, &rep), 0);
  free(out);
  cbor_decref(&tag);

  /* Another tag, and tag 18 twice, are malformed. */
  tag = cbor_build_tag(98, item);
  outlen = cbor_serialize_alloc(tag, &out, &cap);
  CHECK_RC(cdr_verify_nitro(out, outlen, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  free(out);
  cbor_decref(&tag);
  {
    cbor_item_t *inner = cbor_build_tag(18, item);
    tag = cbor_build_tag(18, inner);
    cbor_decref(&inner);
    outlen = cbor_serialize_alloc(tag, &out, &cap);
    CHECK_RC(cdr_verify_nitro(out, outlen, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
    free(out);
    cbor_decref(&tag);
  }
  cbor_decref(&item);

  /* Tag 18 in its two-byte form (0xd8 0x12) is the same tag; a lone tag
   * head, or tag 18 around tag 18, is malformed. */
  out = malloc(len + 3);
  out[0] = 0xd8;
  out[1] = 0x12;
  memcpy(out + 2, doc, len);
  CHECK_RC(cdr_verify_nitro(out, len + 2, &pol, &rep), 0);
  CHECK_RC(cdr_verify_nitro(out, 2, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  memmove(out + 1, out, len + 2);
  out[0] = 0xd2;
  CHECK_RC(cdr_verify_nitro(out, len + 3, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(out, 1, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  free(out);
  free(doc);
}

static void test_real_document_tampered(void) {
  size_t len;
  uint8_t *doc = load_data("attestation-2024-05-07.cbor", &len), *bad, pcr0[48];
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  const uint8_t *hit;

  /* A byte inside PCR0's value: still well-formed, no longer signed. */
  hex48(pcr0, PCR0_HEX);
  hit = memmem(doc, len, pcr0, sizeof(pcr0));
  CHECK(hit != NULL);
  if (hit != NULL) {
    bad = flipped(doc, len, (size_t)(hit - doc) + 10);
    CHECK_RC(cdr_verify_nitro(bad, len, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
    free(bad);
  }
  /* A byte inside module_id. */
  hit = memmem(doc, len, MODULE_ID, strlen(MODULE_ID));
  CHECK(hit != NULL);
  if (hit != NULL) {
    bad = flipped(doc, len, (size_t)(hit - doc) + 5);
    CHECK_RC(cdr_verify_nitro(bad, len, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
    free(bad);
  }
  /* The signature is the last 96 bytes: its first, a middle and its last byte. */
  bad = flipped(doc, len, len - 96);
  CHECK_RC(cdr_verify_nitro(bad, len, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
  free(bad);
  bad = flipped(doc, len, len - 40);
  CHECK_RC(cdr_verify_nitro(bad, len, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
  free(bad);
  bad = flipped(doc, len, len - 1);
  CHECK_RC(cdr_verify_nitro(bad, len, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
  free(bad);

  /* Every truncation is malformed; so is a trailing byte. */
  for (size_t n = 0; n < len; n++)
    CHECK_RC(cdr_verify_nitro(doc, n, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  bad = malloc(len + 1);
  memcpy(bad, doc, len);
  bad[len] = 0x00;
  CHECK_RC(cdr_verify_nitro(bad, len + 1, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  free(bad);

  /* Bit flips are refused one way or another, never accepted and never a
   * crash: bit 0 of every byte of the framing at both ends (COSE header,
   * payload map head, module_id, digest, timestamp; the trailing fields and
   * the signature), and bits 0 and 7 of every 61st byte between (PCRs and
   * certificates; each of those costs a full chain verification). */
  for (size_t i = 0; i < len; i++) {
    int rc, middle = i >= 128 && i + 128 < len;
    if (middle && i % 61 != 0)
      continue;
    bad = flipped(doc, len, i);
    rc = cdr_verify_nitro(bad, len, &pol, &rep);
    CHECK(rc == CDR_ERR_ATTEST_MALFORMED || rc == CDR_ERR_ATTEST_SIGNATURE || rc == CDR_ERR_ATTEST_ROOT ||
          rc == CDR_ERR_ATTEST_CERT_TIME);
    if (middle) {
      bad[i] ^= 0x81;
      rc = cdr_verify_nitro(bad, len, &pol, &rep);
      CHECK(rc == CDR_ERR_ATTEST_MALFORMED || rc == CDR_ERR_ATTEST_SIGNATURE || rc == CDR_ERR_ATTEST_ROOT ||
            rc == CDR_ERR_ATTEST_CERT_TIME);
    }
    free(bad);
  }
  free(doc);
}

/* PCR expectations on the real document, which cdr_verify_hw checks once
 * the document verified. */
static void test_real_document_pcrs(void) {
  size_t len;
  uint8_t *doc = load_data("attestation-2024-05-07.cbor", &len);
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  struct cdr_hw_expect ex;
  char spec[128], z[97];
  int r;

  memset(&ex, 0, sizeof(ex));
  memset(z, '0', 96);
  z[96] = '\0';
  snprintf(spec, sizeof(spec), "0=%s", PCR0_HEX);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  snprintf(spec, sizeof(spec), "1=%s", PCR1_HEX);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  snprintf(spec, sizeof(spec), "2=%s", PCR2_HEX);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  snprintf(spec, sizeof(spec), "4=%s", PCR4_HEX);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  snprintf(spec, sizeof(spec), "15=%s", z); /* carried, all zero */
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  pol.expect_regs = &ex;

  /* The true values pass, each recorded. */
  CHECK_RC(cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep), 0);
  CHECK(all_checks_ok(&rep));
  CHECK(rep.pcr_present == 0xffffu);
  CHECK(rep.nchecks >= 5 && strcmp(rep.checks[rep.nchecks - 5].detail, "PCR0 equals the expected value") == 0);
  CHECK_STR(rep.checks[rep.nchecks - 1].name, "expected register");
  CHECK_STR(rep.checks[rep.nchecks - 1].detail, "PCR15 equals the expected value");

  /* One byte of PCR1 differs: a measurement mismatch naming PCR1. */
  ex.reg[1].value[20] ^= 0x01;
  r = cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep);
  CHECK_RC(r, CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_STR(cdr_err_code(r), "attestation_measurement_mismatch");
  CHECK(!all_checks_ok(&rep) && rep.checks[rep.nchecks - 1].ok == 0);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "PCR1 differs: expected ");
  snprintf(spec, sizeof(spec), ", got %s", PCR1_HEX);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, spec);
  ex.reg[1].value[20] ^= 0x01;

  /* PCR16 and beyond are not in this document (16 PCRs): refused. */
  snprintf(spec, sizeof(spec), "16=%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  CHECK_RC(cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "PCR16 expected, but the document does not carry it");
  ex.n--;
  /* An RTMR is no Nitro register. */
  snprintf(spec, sizeof(spec), "0=%s", z);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_RTMR, spec), 0);
  CHECK_RC(cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "RTMR0 expected, but AWS Nitro evidence has no RTMRs");
  ex.n--;

  /* Every PCR expected, in order: all 16 compared, room for every check. */
  memset(&ex, 0, sizeof(ex));
  for (unsigned i = 0; i < 16; i++) {
    char hex[97];
    cdr_hex_encode(hex, rep.pcr[i], 48);
    snprintf(spec, sizeof(spec), "%u=%s", i, hex);
    CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  }
  CHECK(ex.n == 16);
  CHECK_RC(cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep), 0);
  CHECK(all_checks_ok(&rep));
  CHECK(rep.nchecks <= CDR_HW_MAX_CHECKS);
  CHECK_STR(rep.checks[rep.nchecks - 1].detail, "PCR15 equals the expected value");

  /* Expectations are compared only on a verified document: at the real
   * current time the leaf has expired, and that is the answer. */
  ex.reg[3].value[0] ^= 0x01;
  pol.at = cdr_now();
  CHECK_RC(cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  pol.at = PINNED_AT;
  CHECK_RC(cdr_verify_hw(CDR_HW_NITRO, doc, len, &pol, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "PCR3 differs");

  /* The verifier alone refuses a policy with expectations. */
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ARG);
  free(doc);
}

/* Hostile CBOR that libcbor alone would turn into huge allocations or
 * deep recursion. */
static void test_hostile_cbor(void) {
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  /* An array claiming 2^28 items, a map claiming 2^30 pairs, a byte string
   * claiming 2^63 bytes, an indefinite array, a lone break. */
  static const uint8_t big_array[] = {0x9a, 0x10, 0x00, 0x00, 0x00, 0x00};
  static const uint8_t big_map[] = {0xba, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00};
  static const uint8_t big_bstr[] = {0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00};
  static const uint8_t indef[] = {0x9f, 0x40, 0x40, 0x40, 0x40, 0xff};
  static const uint8_t brk[] = {0xff};
  static const uint8_t reserved[] = {0x1c};
  uint8_t *deep;
  size_t n = 60000;

  CHECK_RC(cdr_verify_nitro(big_array, sizeof(big_array), &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(big_map, sizeof(big_map), &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(big_bstr, sizeof(big_bstr), &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(indef, sizeof(indef), &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(brk, sizeof(brk), &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(reserved, sizeof(reserved), &pol, &rep), CDR_ERR_ATTEST_MALFORMED);

  /* Nested one-element arrays, 60000 deep, and 2000 deep (under libcbor's
   * own limit). */
  deep = malloc(n);
  memset(deep, 0x81, n);
  deep[n - 1] = 0x00;
  CHECK_RC(cdr_verify_nitro(deep, n, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_verify_nitro(deep + n - 2000, 2000, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  /* Nested arrays each claiming all that remains. */
  for (size_t i = 0; i + 3 <= n; i += 3) {
    deep[i] = 0x99;
    deep[i + 1] = 0xff;
    deep[i + 2] = 0xff;
  }
  CHECK_RC(cdr_verify_nitro(deep, n - n % 3, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  free(deep);
  /* Too large. */
  deep = calloc(1, CDR_NITRO_MAX_DOC + 1);
  CHECK_RC(cdr_verify_nitro(deep, CDR_NITRO_MAX_DOC + 1, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
  free(deep);
}

/* ---- a PKI and documents of our own ---------------------------------------- */

struct pki {
  EVP_PKEY *root_key, *int_key, *leaf_key, *p256_key;
  X509 *root, *inter, *leaf;
};

static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, int ca, int64_t nb,
                       int64_t na) {
  X509 *x = X509_new();
  X509V3_CTX v3;
  X509_EXTENSION *ext;
  if (x == NULL)
    abort();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234 + (long)(nb % 1000));
  ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb);
  ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
  X509_set_pubkey(x, key);
  X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage,
                            ca ? "critical,keyCertSign,cRLSign,digitalSignature" : "critical,digitalSignature");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha384()) <= 0)
    abort();
  return x;
}

static void pki_init(struct pki *k) {
  k->root_key = EVP_EC_gen("P-384");
  k->int_key = EVP_EC_gen("P-384");
  k->leaf_key = EVP_EC_gen("P-384");
  k->p256_key = EVP_EC_gen("P-256");
  if (!k->root_key || !k->int_key || !k->leaf_key || !k->p256_key)
    abort();
  k->root = make_cert(k->root_key, "test nitro root", NULL, NULL, 1, PINNED_AT - 86400 * 365,
                      PINNED_AT + 86400 * 365);
  k->inter = make_cert(k->int_key, "test nitro intermediate", k->root, k->root_key, 1, PINNED_AT - 86400,
                       PINNED_AT + 86400);
  k->leaf = make_cert(k->leaf_key, "test nitro leaf", k->inter, k->int_key, 0, PINNED_AT - 3600,
                      PINNED_AT + 3600);
}

static void pki_free(struct pki *k) {
  EVP_PKEY_free(k->root_key);
  EVP_PKEY_free(k->int_key);
  EVP_PKEY_free(k->leaf_key);
  EVP_PKEY_free(k->p256_key);
  X509_free(k->root);
  X509_free(k->inter);
  X509_free(k->leaf);
}

static cbor_item_t *cert_bstr(X509 *x) {
  unsigned char *der = NULL;
  int n = i2d_X509(x, &der);
  cbor_item_t *b = cbor_build_bytestring(der, (size_t)n);
  OPENSSL_free(der);
  return b;
}

static cbor_item_t *bstr_of(const void *p, size_t n) {
  return n == 0 ? cbor_new_definite_bytestring() : cbor_build_bytestring(p, n);
}

static cbor_item_t *bstr_fill(uint8_t v, size_t n) {
  uint8_t *p = malloc(n + 1);
  cbor_item_t *b;
  memset(p, v, n + 1);
  b = bstr_of(p, n);
  free(p);
  return b;
}

/* The payload as a list of (key, value), so that a test can drop, replace
 * or repeat any field before the map is built.  Values are owned. */
#define MAXF 48
struct payload {
  cbor_item_t *key[MAXF], *val[MAXF];
  size_t n;
};

static void pl_add(struct payload *p, cbor_item_t *key, cbor_item_t *val) {
  if (p->n >= MAXF)
    abort();
  p->key[p->n] = key;
  p->val[p->n] = val;
  p->n++;
}
/* Replace the value of key (or drop the field if val is NULL). */
static void pl_set(struct payload *p, const char *key, cbor_item_t *val) {
  for (size_t i = 0; i < p->n; i++) {
    if (cbor_isa_string(p->key[i]) && cbor_string_length(p->key[i]) == strlen(key) &&
        memcmp(cbor_string_handle(p->key[i]), key, strlen(key)) == 0) {
      cbor_decref(&p->val[i]);
      if (val != NULL) {
        p->val[i] = val;
      } else {
        cbor_decref(&p->key[i]);
        memmove(&p->key[i], &p->key[i + 1], (p->n - i - 1) * sizeof(p->key[0]));
        memmove(&p->val[i], &p->val[i + 1], (p->n - i - 1) * sizeof(p->val[0]));
        p->n--;
      }
      return;
    }
  }
  if (val != NULL)
    pl_add(p, cbor_build_string(key), val);
}
static void pl_free(struct payload *p) {
  for (size_t i = 0; i < p->n; i++) {
    cbor_decref(&p->key[i]);
    cbor_decref(&p->val[i]);
  }
  p->n = 0;
}

static cbor_item_t *pcr_map(size_t npcrs, uint8_t pcr0_byte, size_t len) {
  cbor_item_t *m = cbor_new_definite_map(npcrs);
  for (size_t i = 0; i < npcrs; i++) {
    cbor_item_t *k = cbor_build_uint8((uint8_t)i), *v = bstr_fill(i == 0 ? pcr0_byte : (uint8_t)i, len);
    cbor_map_add(m, (struct cbor_pair){.key = k, .value = v});
    cbor_decref(&k);
    cbor_decref(&v);
  }
  return m;
}

static cbor_item_t *cabundle_of(X509 *const *certs, size_t n) {
  cbor_item_t *a = cbor_new_definite_array(n);
  for (size_t i = 0; i < n; i++) {
    cbor_item_t *b = cert_bstr(certs[i]);
    cbor_array_push(a, b);
    cbor_decref(&b);
  }
  return a;
}

/* A well-formed payload: module_id, digest, timestamp, 16 PCRs (PCR0 all
 * 0xa0), the test leaf, cabundle [root, intermediate], user_data 64 x 0x55,
 * nonce 32 x 0x66, no public_key. */
static void pl_default(struct payload *p, const struct pki *k) {
  X509 *bundle[2] = {k->root, k->inter};
  memset(p, 0, sizeof(*p));
  pl_set(p, "module_id", cbor_build_string("i-0123456789abcdef0-enc0123456789abcdef"));
  pl_set(p, "digest", cbor_build_string("SHA384"));
  pl_set(p, "timestamp", cbor_build_uint64((uint64_t)PINNED_AT * 1000u + 42u));
  pl_set(p, "pcrs", pcr_map(16, 0xa0, 48));
  pl_set(p, "certificate", cert_bstr(k->leaf));
  pl_set(p, "cabundle", cabundle_of(bundle, 2));
  pl_set(p, "user_data", bstr_fill(0x55, 64));
  pl_set(p, "nonce", bstr_fill(0x66, 32));
}

static uint8_t *serialize(cbor_item_t *item, size_t *len) {
  unsigned char *out = NULL;
  size_t cap = 0;
  *len = cbor_serialize_alloc(item, &out, &cap);
  if (*len == 0)
    abort();
  return out;
}

static uint8_t *pl_serialize(const struct payload *p, size_t *len) {
  cbor_item_t *m = cbor_new_definite_map(p->n);
  uint8_t *out;
  for (size_t i = 0; i < p->n; i++)
    cbor_map_add(m, (struct cbor_pair){.key = p->key[i], .value = p->val[i]});
  out = serialize(m, len);
  cbor_decref(&m);
  return out;
}

/* How the COSE layer around a payload is built. */
struct cose {
  EVP_PKEY *key;             /* signs; NULL: the signature is 96 zero bytes */
  int tag;                   /* 0: untagged */
  int64_t alg;               /* protected {1: alg} */
  int extra_protected;       /* add {4: h'01'} to the protected header */
  size_t sig_len;            /* bytes of signature kept (96) */
  int unprotected_array;     /* [] instead of {} */
  int nelems;                /* 4, or 3 / 5 */
  const uint8_t *trailer;    /* bytes appended to the payload bstr's content */
  size_t trailer_len;
};

static struct cose cose_default(const struct pki *k) {
  struct cose c;
  memset(&c, 0, sizeof(c));
  c.key = k->leaf_key;
  c.alg = -35;
  c.sig_len = 96;
  c.nelems = 4;
  return c;
}

static cbor_item_t *int_item(int64_t v) {
  return v >= 0 ? cbor_build_uint64((uint64_t)v) : cbor_build_negint64((uint64_t)(-1 - v));
}

/* ES384 over Sig_structure, as raw r || s. */
static void sign_raw(uint8_t out[96], EVP_PKEY *key, const uint8_t *prot, size_t protlen, const uint8_t *body,
                     size_t bodylen) {
  cbor_item_t *a = cbor_new_definite_array(4), *it;
  uint8_t *tbs;
  size_t tbslen, siglen = 0;
  unsigned char der[160];
  const unsigned char *dp = der;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  ECDSA_SIG *es;
  it = cbor_build_string("Signature1");
  cbor_array_push(a, it);
  cbor_decref(&it);
  it = bstr_of(prot, protlen);
  cbor_array_push(a, it);
  cbor_decref(&it);
  it = cbor_new_definite_bytestring();
  cbor_array_push(a, it);
  cbor_decref(&it);
  it = bstr_of(body, bodylen);
  cbor_array_push(a, it);
  cbor_decref(&it);
  tbs = serialize(a, &tbslen);
  cbor_decref(&a);
  siglen = sizeof(der);
  if (EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
      EVP_DigestSign(md, der, &siglen, tbs, tbslen) != 1)
    abort();
  es = d2i_ECDSA_SIG(NULL, &dp, (long)siglen);
  /* For a P-256 key the coordinates are padded to 48 (and still signed by
   * the wrong curve, which the verifier refuses first). */
  if (es == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), out, 48) != 48 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(es), out + 48, 48) != 48)
    abort();
  ECDSA_SIG_free(es);
  EVP_MD_CTX_free(md);
  free(tbs);
}

static uint8_t *build_doc(const struct payload *p, const struct cose *c, size_t *len) {
  cbor_item_t *prot_map = cbor_new_definite_map(2), *arr, *it, *k, *v, *top;
  uint8_t *prot, *body, *full, *doc, sig[96];
  size_t protlen, bodylen, fulllen;

  k = cbor_build_uint8(1);
  v = int_item(c->alg);
  cbor_map_add(prot_map, (struct cbor_pair){.key = k, .value = v});
  cbor_decref(&k);
  cbor_decref(&v);
  if (c->extra_protected) {
    uint8_t kid = 1;
    k = cbor_build_uint8(4);
    v = bstr_of(&kid, 1);
    cbor_map_add(prot_map, (struct cbor_pair){.key = k, .value = v});
    cbor_decref(&k);
    cbor_decref(&v);
  }
  prot = serialize(prot_map, &protlen);
  cbor_decref(&prot_map);

  body = pl_serialize(p, &bodylen);
  full = malloc(bodylen + c->trailer_len + 1);
  memcpy(full, body, bodylen);
  if (c->trailer_len)
    memcpy(full + bodylen, c->trailer, c->trailer_len);
  fulllen = bodylen + c->trailer_len;
  free(body);

  memset(sig, 0, sizeof(sig));
  if (c->key != NULL)
    sign_raw(sig, c->key, prot, protlen, full, fulllen);

  arr = cbor_new_definite_array((size_t)c->nelems);
  it = bstr_of(prot, protlen);
  cbor_array_push(arr, it);
  cbor_decref(&it);
  it = c->unprotected_array ? cbor_new_definite_array(0) : cbor_new_definite_map(0);
  cbor_array_push(arr, it);
  cbor_decref(&it);
  it = bstr_of(full, fulllen);
  cbor_array_push(arr, it);
  cbor_decref(&it);
  if (c->nelems >= 4) {
    it = bstr_of(sig, c->sig_len);
    cbor_array_push(arr, it);
    cbor_decref(&it);
  }
  if (c->nelems >= 5) {
    it = cbor_new_null();
    cbor_array_push(arr, it);
    cbor_decref(&it);
  }
  top = c->tag ? cbor_build_tag((uint64_t)c->tag, arr) : cbor_incref(arr);
  cbor_decref(&arr);
  doc = serialize(top, len);
  cbor_decref(&top);
  free(prot);
  free(full);
  return doc;
}

/* Build, verify with the test root as anchor, free; the result code. */
static int verify_own(const struct pki *k, const struct payload *p, const struct cose *c,
                      const struct cdr_hw_policy *pol, struct cdr_hw_report *rep) {
  size_t len;
  uint8_t *doc = build_doc(p, c, &len);
  int rc = cdr_nitro_verify_with_root(doc, len, k->root, pol, rep);
  free(doc);
  return rc;
}

static void test_own_pki(void) {
  struct pki k;
  struct payload p;
  struct cose c;
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  uint8_t *doc, rd[64], pcr0[48];
  size_t len;

  pki_init(&k);
  pl_default(&p, &k);
  c = cose_default(&k);

  /* Through the anchor of our own it verifies, and the report says what the
   * document does. */
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  CHECK(all_checks_ok(&rep));
  CHECK(rep.npcrs == 16);
  CHECK(rep.measurement[0] == 0xa0 && rep.measurement[47] == 0xa0);
  CHECK(rep.pcr[7][0] == 7);
  CHECK(rep.has_report_data == 1 && rep.report_data[0] == 0x55 && rep.report_data[63] == 0x55);
  CHECK(rep.nitro_nonce_len == 32 && rep.nitro_nonce[31] == 0x66);
  CHECK_STR(rep.tcb, "module i-0123456789abcdef0-enc0123456789abcdef, timestamp 2024-05-07T17:43:06.042Z");
  CHECK_STR(rep.policy, "digest SHA384, 16 PCRs, public_key absent, user_data 64 bytes, nonce 32 bytes");
  c.tag = 18;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  c.tag = 0;

  /* Through the public entry point: not the AWS root. */
  doc = build_doc(&p, &c, &len);
  CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_ROOT);
  CHECK(rep.npcrs == 16); /* still reported */
  free(doc);
  /* Nor when cabundle[0] is the real AWS root and the rest is ours. */
  {
    X509 *bundle[2] = {cdr_root_aws_nitro_g1(), k.inter};
    pl_set(&p, "cabundle", cabundle_of(bundle, 2));
    doc = build_doc(&p, &c, &len);
    CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_ROOT);
    free(doc);
    /* ... nor with the AWS root alone. */
    pl_set(&p, "cabundle", cabundle_of(bundle, 1));
    doc = build_doc(&p, &c, &len);
    CHECK_RC(cdr_verify_nitro(doc, len, &pol, &rep), CDR_ERR_ATTEST_ROOT);
    free(doc);
    pl_free(&p);
    pl_default(&p, &k);
  }
  /* With our root but the intermediate missing from the bundle. */
  {
    X509 *bundle[1] = {k.root};
    pl_set(&p, "cabundle", cabundle_of(bundle, 1));
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_ROOT);
    pl_free(&p);
    pl_default(&p, &k);
  }

  /* Time: the leaf is valid one hour either side of PINNED_AT. */
  pol.at = PINNED_AT + 3601;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  pol.at = PINNED_AT - 3601;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_CERT_TIME);
  /* A document timestamp far from the verification time is not an error. */
  pol.at = PINNED_AT + 3000;
  pl_set(&p, "timestamp", cbor_build_uint64(1000));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  pol.at = PINNED_AT;
  pl_set(&p, "timestamp", cbor_build_uint64((uint64_t)PINNED_AT * 1000u + 42u));

  /* Signatures: the document signed by another P-384 key; the leaf
   * certificate signed by a key that is not the intermediate's; a P-256 leaf. */
  c.key = k.int_key;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
  c.key = NULL; /* all-zero signature */
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
  c.key = k.leaf_key;
  {
    X509 *forged = make_cert(k.leaf_key, "test nitro leaf", k.inter, k.root_key, 0, PINNED_AT - 3600,
                             PINNED_AT + 3600);
    pl_set(&p, "certificate", cert_bstr(forged));
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
    X509_free(forged);
    forged = make_cert(k.p256_key, "test nitro leaf", k.inter, k.int_key, 0, PINNED_AT - 3600, PINNED_AT + 3600);
    pl_set(&p, "certificate", cert_bstr(forged));
    c.key = k.p256_key;
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_SIGNATURE);
    c.key = k.leaf_key;
    X509_free(forged);
    pl_set(&p, "certificate", cert_bstr(k.leaf));
  }

  /* PCR0 and report_data. */
  memset(pcr0, 0xa0, sizeof(pcr0));
  pol.expect_measurement = pcr0;
  pol.expect_measurement_len = 48;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  pcr0[0] = 0xa1;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  pol = policy_at(PINNED_AT);
  memset(rd, 0x55, sizeof(rd));
  pol.expect_report_data = rd;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  rd[63] = 0x56;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  rd[63] = 0x55;
  pl_set(&p, "user_data", bstr_fill(0x55, 63));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  CHECK(rep.has_report_data == 0);
  pl_set(&p, "user_data", bstr_fill(0x55, 65));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  pl_set(&p, "user_data", cbor_new_null());
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  pl_set(&p, "user_data", NULL);
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  /* The nonce does not stand in for user_data. */
  pl_set(&p, "nonce", bstr_fill(0x55, 64));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_REPORT_DATA);
  pol = policy_at(PINNED_AT);
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  CHECK(rep.has_report_data == 0);
  /* Optional fields at their limits; a nonce too long for the report. */
  pl_set(&p, "user_data", bstr_fill(0x55, 1024));
  pl_set(&p, "public_key", bstr_fill(0x30, 1024));
  pl_set(&p, "nonce", bstr_fill(0x66, 1024));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  CHECK(rep.nitro_nonce_len == 0 && rep.has_report_data == 0);
  CHECK_CONTAINS(rep.policy, "too long to report");
  pl_set(&p, "public_key", cbor_new_null());
  pl_set(&p, "nonce", cbor_new_null());
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  CHECK(rep.nitro_nonce_len == 0);
  /* An unknown key is ignored. */
  pl_set(&p, "future_field", cbor_build_uint8(7));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  pl_free(&p);
  pl_default(&p, &k);

  /* Debug enclaves report zero PCRs. */
  pl_set(&p, "pcrs", pcr_map(16, 0x00, 48));
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_DEBUG);
  CHECK(rep.debug == 1);
  pol.allow_debug = 1;
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  CHECK(rep.debug == 1);
  pol = policy_at(PINNED_AT);
  /* Sparse PCRs: npcrs is the highest index + 1. */
  {
    cbor_item_t *m = cbor_new_definite_map(2), *kk, *vv;
    kk = cbor_build_uint8(0);
    vv = bstr_fill(0xa0, 48);
    cbor_map_add(m, (struct cbor_pair){.key = kk, .value = vv});
    cbor_decref(&kk);
    cbor_decref(&vv);
    kk = cbor_build_uint8(31);
    vv = bstr_fill(0x31, 48);
    cbor_map_add(m, (struct cbor_pair){.key = kk, .value = vv});
    cbor_decref(&kk);
    cbor_decref(&vv);
    pl_set(&p, "pcrs", m);
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
    CHECK(rep.npcrs == 32 && rep.pcr[31][0] == 0x31 && rep.pcr[5][0] == 0);
    pl_set(&p, "pcrs", pcr_map(32, 0xa0, 48));
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  }

  pl_free(&p);
  pki_free(&k);
}

/* One structural rule broken at a time; each is ATTEST_MALFORMED. */
static void test_own_malformed(void) {
  struct pki k;
  struct payload p;
  struct cose c;
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  static const char *const required[] = {"module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle"};
  static const uint8_t trailer[] = {0x00};

  pki_init(&k);
  c = cose_default(&k);
  pl_default(&p, &k);
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);

#define EXPECT_MALFORMED()                                                       \
  do {                                                                           \
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);      \
    CHECK(rep.nchecks >= 1 && rep.checks[rep.nchecks - 1].ok == 0);              \
    pl_free(&p);                                                                 \
    pl_default(&p, &k);                                                          \
    c = cose_default(&k);                                                        \
  } while (0)

  /* The COSE layer. */
  c.alg = -7; /* ES256 */
  EXPECT_MALFORMED();
  c.alg = 35;
  EXPECT_MALFORMED();
  c.extra_protected = 1;
  EXPECT_MALFORMED();
  c.sig_len = 95;
  EXPECT_MALFORMED();
  c.sig_len = 0;
  EXPECT_MALFORMED();
  c.unprotected_array = 1;
  EXPECT_MALFORMED();
  c.nelems = 3;
  EXPECT_MALFORMED();
  c.nelems = 5;
  EXPECT_MALFORMED();
  c.tag = 17;
  EXPECT_MALFORMED();
  c.trailer = trailer; /* payload bstr holds a map and one more byte */
  c.trailer_len = sizeof(trailer);
  EXPECT_MALFORMED();
  {
    /* 97 bytes: build by hand from a 96-byte document, one byte longer. */
    size_t len;
    uint8_t *doc = build_doc(&p, &c, &len), *big;
    /* ... 0x58 0x60 <96 bytes> at the end: make it 0x58 0x61 and append. */
    CHECK(doc[len - 98] == 0x58 && doc[len - 97] == 0x60);
    big = malloc(len + 1);
    memcpy(big, doc, len);
    big[len - 97] = 0x61;
    big[len] = 0x00;
    CHECK_RC(cdr_nitro_verify_with_root(big, len + 1, k.root, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
    free(big);
    free(doc);
  }
  {
    /* Each element of the COSE array with the wrong type. */
    size_t len;
    uint8_t *doc = build_doc(&p, &c, &len);
    struct cbor_load_result res;
    cbor_item_t *arr = cbor_load(doc, len, &res), *swap, *orig;
    uint8_t *bad;
    size_t badlen;
    for (size_t i = 0; i < 4; i++) {
      orig = cbor_array_get(arr, i);
      swap = i == 1 ? cbor_new_null() : cbor_build_string("x");
      cbor_array_replace(arr, i, swap);
      bad = serialize(arr, &badlen);
      CHECK_RC(cdr_nitro_verify_with_root(bad, badlen, k.root, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
      free(bad);
      cbor_array_replace(arr, i, orig);
      cbor_decref(&orig);
      cbor_decref(&swap);
    }
    /* The payload as a map rather than a bstr holding one. */
    {
      struct cbor_load_result r2;
      cbor_item_t *body = cbor_array_get(arr, 2);
      cbor_item_t *map = cbor_load(cbor_bytestring_handle(body), cbor_bytestring_length(body), &r2);
      cbor_array_replace(arr, 2, map);
      bad = serialize(arr, &badlen);
      CHECK_RC(cdr_nitro_verify_with_root(bad, badlen, k.root, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
      free(bad);
      cbor_array_replace(arr, 2, body);
      cbor_decref(&map);
      cbor_decref(&body);
    }
    /* An indefinite-length payload bstr (same bytes, two chunks). */
    {
      cbor_item_t *body = cbor_array_get(arr, 2), *ind = cbor_new_indefinite_bytestring(), *c1, *c2;
      size_t n = cbor_bytestring_length(body);
      c1 = cbor_build_bytestring(cbor_bytestring_handle(body), n / 2);
      c2 = cbor_build_bytestring(cbor_bytestring_handle(body) + n / 2, n - n / 2);
      cbor_bytestring_add_chunk(ind, c1);
      cbor_bytestring_add_chunk(ind, c2);
      cbor_decref(&c1);
      cbor_decref(&c2);
      cbor_array_replace(arr, 2, ind);
      bad = serialize(arr, &badlen);
      CHECK_RC(cdr_nitro_verify_with_root(bad, badlen, k.root, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
      free(bad);
      cbor_array_replace(arr, 2, body);
      cbor_decref(&ind);
      cbor_decref(&body);
    }
    /* A top-level map. */
    {
      cbor_item_t *m = cbor_new_definite_map(0);
      bad = serialize(m, &badlen);
      CHECK_RC(cdr_nitro_verify_with_root(bad, badlen, k.root, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
      free(bad);
      cbor_decref(&m);
    }
    cbor_decref(&arr);
    free(doc);
  }

  /* The payload: every required field missing in turn. */
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
    pl_set(&p, required[i], NULL);
    EXPECT_MALFORMED();
  }
  /* Duplicate keys (required, optional, unknown). */
  pl_add(&p, cbor_build_string("module_id"), cbor_build_string("i-0123456789abcdef0-enc0123456789abcdee"));
  EXPECT_MALFORMED();
  pl_add(&p, cbor_build_string("nonce"), bstr_fill(0x66, 32));
  EXPECT_MALFORMED();
  pl_add(&p, cbor_build_string("x"), cbor_build_uint8(1));
  pl_add(&p, cbor_build_string("x"), cbor_build_uint8(1));
  EXPECT_MALFORMED();
  /* Keys that are not text; too many keys. */
  pl_add(&p, cbor_build_uint8(1), cbor_build_uint8(1));
  EXPECT_MALFORMED();
  for (int i = 0; i < 30; i++) {
    char name[24];
    snprintf(name, sizeof(name), "extra%d", i);
    pl_add(&p, cbor_build_string(name), cbor_build_uint8(1));
  }
  EXPECT_MALFORMED();
  /* Wrong types and values. */
  pl_set(&p, "module_id", cbor_build_string(""));
  EXPECT_MALFORMED();
  pl_set(&p, "module_id", cbor_build_string("i-0123\x1b[31m-enc"));
  EXPECT_MALFORMED();
  pl_set(&p, "module_id", bstr_fill('a', 10));
  EXPECT_MALFORMED();
  {
    char longid[CDR_NITRO_MAX_MODULE_ID + 1];
    memset(longid, 'a', sizeof(longid));
    pl_set(&p, "module_id", cbor_build_stringn(longid, sizeof(longid)));
    EXPECT_MALFORMED();
    pl_set(&p, "module_id", cbor_build_stringn(longid, sizeof(longid) - 1));
    CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
    CHECK(strlen(rep.tcb) < sizeof(rep.tcb) - 1); /* never truncated */
  }
  pl_set(&p, "digest", cbor_build_string("SHA256"));
  EXPECT_MALFORMED();
  pl_set(&p, "digest", bstr_of("SHA384", 6));
  EXPECT_MALFORMED();
  pl_set(&p, "timestamp", cbor_build_negint8(5));
  EXPECT_MALFORMED();
  pl_set(&p, "timestamp", cbor_build_uint8(0));
  EXPECT_MALFORMED();
  pl_set(&p, "timestamp", cbor_build_uint64(UINT64_MAX));
  EXPECT_MALFORMED();
  pl_set(&p, "timestamp", cbor_build_string("1715103786613"));
  EXPECT_MALFORMED();
  pl_set(&p, "pcrs", cbor_new_definite_map(0));
  EXPECT_MALFORMED();
  pl_set(&p, "pcrs", pcr_map(33, 0xa0, 48));
  EXPECT_MALFORMED();
  pl_set(&p, "pcrs", pcr_map(16, 0xa0, 47));
  EXPECT_MALFORMED();
  pl_set(&p, "pcrs", pcr_map(16, 0xa0, 32));
  EXPECT_MALFORMED();
  pl_set(&p, "pcrs", pcr_map(16, 0xa0, 64));
  EXPECT_MALFORMED();
  pl_set(&p, "pcrs", cbor_new_definite_array(0));
  EXPECT_MALFORMED();
  {
    /* PCR index 32; PCR0 twice; a text key; no PCR0; a text value. */
    struct {
      cbor_item_t *k1, *v1, *k2, *v2;
    } cases[5];
    cases[0].k1 = cbor_build_uint8(0), cases[0].v1 = bstr_fill(1, 48);
    cases[0].k2 = cbor_build_uint8(32), cases[0].v2 = bstr_fill(1, 48);
    cases[1].k1 = cbor_build_uint8(0), cases[1].v1 = bstr_fill(1, 48);
    cases[1].k2 = cbor_build_uint16(0), cases[1].v2 = bstr_fill(1, 48);
    cases[2].k1 = cbor_build_uint8(0), cases[2].v1 = bstr_fill(1, 48);
    cases[2].k2 = cbor_build_string("1"), cases[2].v2 = bstr_fill(1, 48);
    cases[3].k1 = cbor_build_uint8(1), cases[3].v1 = bstr_fill(1, 48);
    cases[3].k2 = cbor_build_uint8(2), cases[3].v2 = bstr_fill(1, 48);
    cases[4].k1 = cbor_build_uint8(0), cases[4].v1 = bstr_fill(1, 48);
    cases[4].k2 = cbor_build_uint8(1), cases[4].v2 = cbor_build_string("x");
    for (size_t i = 0; i < 5; i++) {
      cbor_item_t *m = cbor_new_definite_map(2);
      cbor_map_add(m, (struct cbor_pair){.key = cases[i].k1, .value = cases[i].v1});
      cbor_map_add(m, (struct cbor_pair){.key = cases[i].k2, .value = cases[i].v2});
      cbor_decref(&cases[i].k1);
      cbor_decref(&cases[i].v1);
      cbor_decref(&cases[i].k2);
      cbor_decref(&cases[i].v2);
      pl_set(&p, "pcrs", m);
      EXPECT_MALFORMED();
    }
  }
  pl_set(&p, "certificate", bstr_fill(0x30, 100));
  EXPECT_MALFORMED();
  pl_set(&p, "certificate", bstr_fill(0x30, 0));
  EXPECT_MALFORMED();
  pl_set(&p, "certificate", bstr_fill(0x30, 1025));
  EXPECT_MALFORMED();
  pl_set(&p, "certificate", cbor_new_null());
  EXPECT_MALFORMED();
  {
    /* The leaf's DER followed by one more byte. */
    unsigned char *der = NULL;
    int n = i2d_X509(k.leaf, &der);
    uint8_t *more = malloc((size_t)n + 1);
    memcpy(more, der, (size_t)n);
    more[n] = 0;
    pl_set(&p, "certificate", bstr_of(more, (size_t)n + 1));
    EXPECT_MALFORMED();
    free(more);
    OPENSSL_free(der);
  }
  pl_set(&p, "cabundle", cbor_new_definite_array(0));
  EXPECT_MALFORMED();
  {
    X509 *many[17];
    cbor_item_t *a;
    for (size_t i = 0; i < 17; i++)
      many[i] = i == 0 ? k.root : k.inter;
    pl_set(&p, "cabundle", cabundle_of(many, 17));
    EXPECT_MALFORMED();
    a = cabundle_of(many, 2);
    {
      cbor_item_t *s = cbor_build_string("not a certificate");
      cbor_array_replace(a, 1, s);
      cbor_decref(&s);
    }
    pl_set(&p, "cabundle", a);
    EXPECT_MALFORMED();
    a = cabundle_of(many, 1);
    {
      cbor_item_t *junk = bstr_fill(0x30, 200);
      cbor_array_replace(a, 0, junk);
      cbor_decref(&junk);
    }
    pl_set(&p, "cabundle", a);
    EXPECT_MALFORMED();
  }
  pl_set(&p, "cabundle", cert_bstr(k.root));
  EXPECT_MALFORMED();
  pl_set(&p, "user_data", bstr_fill(0x55, 1025));
  EXPECT_MALFORMED();
  pl_set(&p, "public_key", bstr_fill(0x55, 1025));
  EXPECT_MALFORMED();
  pl_set(&p, "nonce", bstr_fill(0x55, 1025));
  EXPECT_MALFORMED();
  pl_set(&p, "user_data", cbor_build_string("text"));
  EXPECT_MALFORMED();
  pl_set(&p, "nonce", cbor_build_uint8(0));
  EXPECT_MALFORMED();
  pl_set(&p, "public_key", cbor_new_definite_array(0));
  EXPECT_MALFORMED();
#undef EXPECT_MALFORMED

  /* Truncations of a document of our own, which is signed for our root. */
  {
    size_t len;
    uint8_t *doc = build_doc(&p, &c, &len);
    CHECK_RC(cdr_nitro_verify_with_root(doc, len, k.root, &pol, &rep), 0);
    for (size_t n = 0; n < len; n += 7)
      CHECK_RC(cdr_nitro_verify_with_root(doc, n, k.root, &pol, &rep), CDR_ERR_ATTEST_MALFORMED);
    free(doc);
  }
  pl_free(&p);
  pki_free(&k);
}

/* A document whose PCRs have a gap (0 and 5 only): PCR5 is carried, PCR3
 * below it and PCR6 above it are not, and expecting either fails rather
 * than comparing the zeros the report holds for them. */
static void test_own_pcr_gaps(void) {
  struct pki k;
  struct payload p;
  struct cose c;
  struct cdr_hw_policy pol = policy_at(PINNED_AT);
  struct cdr_hw_report rep;
  struct cdr_hw_expect ex;
  cbor_item_t *m = cbor_new_definite_map(2), *key, *val;
  char spec[128], hex[97];
  uint8_t five[48];

  pki_init(&k);
  pl_default(&p, &k);
  c = cose_default(&k);
  key = cbor_build_uint8(0);
  val = bstr_fill(0xa0, 48);
  cbor_map_add(m, (struct cbor_pair){.key = key, .value = val});
  cbor_decref(&key);
  cbor_decref(&val);
  key = cbor_build_uint8(5);
  val = bstr_fill(0x05, 48);
  cbor_map_add(m, (struct cbor_pair){.key = key, .value = val});
  cbor_decref(&key);
  cbor_decref(&val);
  pl_set(&p, "pcrs", m);
  CHECK_RC(verify_own(&k, &p, &c, &pol, &rep), 0);
  CHECK(rep.npcrs == 6 && rep.pcr_present == 0x21u);

  memset(&ex, 0, sizeof(ex));
  memset(five, 0x05, sizeof(five));
  cdr_hex_encode(hex, five, 48);
  snprintf(spec, sizeof(spec), "5=%s", hex);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  CHECK_RC(cdr_hw_expect_check(&ex, &rep), 0);
  CHECK_STR(rep.checks[rep.nchecks - 1].detail, "PCR5 equals the expected value");
  memset(hex, '0', 96);
  snprintf(spec, sizeof(spec), "3=%s", hex);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  CHECK_RC(cdr_hw_expect_check(&ex, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "PCR3 expected, but the document does not carry it");
  ex.n--;
  snprintf(spec, sizeof(spec), "6=%s", hex);
  CHECK_RC(cdr_hw_expect_add(&ex, CDR_HW_REG_PCR, spec), 0);
  CHECK_RC(cdr_hw_expect_check(&ex, &rep), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(rep.checks[rep.nchecks - 1].detail, "PCR6 expected, but the document does not carry it");
  pl_free(&p);
  pki_free(&k);
}

int main(void) {
  test_root();
  test_real_document();
  test_real_document_tagged();
  test_real_document_tampered();
  test_real_document_pcrs();
  test_hostile_cbor();
  test_own_pki();
  test_own_malformed();
  test_own_pcr_gaps();
  return test_summary("test_nitro");
}
