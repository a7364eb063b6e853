/*
 * test_crypto.c - bounded buffers, codecs, AEAD, signatures, key types
 * and the enclave's check of user certificates (each refusal with its
 * own error).  Certificates here are made with an in-memory software CA;
 * the HSM-backed CA is covered by test_room.
 */
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "testlib.h"

static void test_buf(void) {
  struct cdr_buf b;
  uint32_t v32;
  uint64_t v64;
  const uint8_t *p;
  size_t n;
  cdr_buf_init(&b, 16, 0);
  CHECK_RC(cdr_buf_put_u32(&b, 0xdeadbeef), 0);
  CHECK_RC(cdr_buf_put_u64(&b, 0x0102030405060708ull), 0);
  CHECK_RC(cdr_buf_put_u32(&b, 1), 0);
  CHECK_RC(cdr_buf_put_u8(&b, 1), CDR_ERR_TOO_LARGE); /* max reached: unchanged */
  CHECK(b.len == 16);
  CHECK_RC(cdr_buf_get_u32(&b, &v32), 0);
  CHECK(v32 == 0xdeadbeef);
  CHECK_RC(cdr_buf_get_u64(&b, &v64), 0);
  CHECK(v64 == 0x0102030405060708ull);
  CHECK_RC(cdr_buf_get_u64(&b, &v64), CDR_ERR_TRUNCATED); /* only 4 left */
  CHECK(cdr_buf_avail(&b) == 4);
  cdr_buf_free(&b);

  /* lp with a length larger than the rest, and larger than the cap. */
  uint8_t evil[8] = {0, 0, 0, 9, 'a', 'b', 'c', 'd'};
  cdr_buf_view(&b, evil, sizeof(evil));
  CHECK_RC(cdr_buf_get_lp(&b, &p, &n, 100), CDR_ERR_TRUNCATED);
  CHECK(b.off == 0);
  CHECK_RC(cdr_buf_get_lp(&b, &p, &n, 4), CDR_ERR_TOO_LARGE);
  uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
  cdr_buf_view(&b, huge, sizeof(huge));
  CHECK_RC(cdr_buf_get_lp(&b, &p, &n, 1u << 20), CDR_ERR_TOO_LARGE);
  uint8_t nul[7] = {0, 0, 0, 3, 'a', 0, 'b'};
  char *s = NULL;
  cdr_buf_view(&b, nul, sizeof(nul));
  CHECK_RC(cdr_buf_get_lpstr(&b, &s, 100), CDR_ERR_TRUNCATED);
  uint8_t exact[6] = {0, 0, 0, 2, 1, 2};
  uint8_t three[3];
  cdr_buf_view(&b, exact, sizeof(exact));
  CHECK_RC(cdr_buf_get_lp_exact(&b, three, 3), CDR_ERR_TRUNCATED);
  CHECK_RC(cdr_buf_put_u8(&b, 1), CDR_ERR_INTERNAL); /* views are read-only */
}

static void test_codecs(void) {
  uint8_t *out;
  size_t n;
  char *enc;
  CHECK_RC(cdr_b64_encode(&enc, (const uint8_t *)"hello", 5), 0);
  CHECK_STR(enc, "aGVsbG8=");
  free(enc);
  CHECK_RC(cdr_b64_decode(&out, &n, "aGVsbG8=", 100), 0);
  CHECK(n == 5 && memcmp(out, "hello", 5) == 0);
  free(out);
  CHECK_RC(cdr_b64_decode(&out, &n, "aGVsbG8", 100), CDR_ERR_ARG);      /* no padding */
  CHECK_RC(cdr_b64_decode(&out, &n, "aGV sbG8=", 100), CDR_ERR_ARG);    /* space */
  CHECK_RC(cdr_b64_decode(&out, &n, "aGVs=G8=", 100), CDR_ERR_ARG);     /* '=' inside */
  CHECK_RC(cdr_b64_decode(&out, &n, "aGVsbG8=", 4), CDR_ERR_TOO_LARGE); /* over the cap */
  CHECK_RC(cdr_b64url_encode(&enc, (const uint8_t *)"\xfb\xff", 2), 0);
  CHECK_STR(enc, "-_8");
  free(enc);
  CHECK_RC(cdr_b64url_decode(&out, &n, "-_8", 10), 0);
  CHECK(n == 2 && out[0] == 0xfb && out[1] == 0xff);
  free(out);
  uint8_t h[2];
  CHECK_RC(cdr_hex_decode(h, 2, "0aFf"), 0);
  CHECK(h[0] == 0x0a && h[1] == 0xff);
  CHECK_RC(cdr_hex_decode(h, 2, "0aF"), CDR_ERR_ARG);
  CHECK_RC(cdr_hex_decode(h, 2, "0aFg"), CDR_ERR_ARG);
  int64_t secs;
  CHECK_RC(cdr_parse_duration("72h", &secs), 0);
  CHECK(secs == 72 * 3600);
  CHECK_RC(cdr_parse_duration("30d", &secs), 0);
  CHECK(secs == 30 * 86400);
  CHECK_RC(cdr_parse_duration("5x", &secs), CDR_ERR_ARG);
  CHECK_RC(cdr_parse_duration("99999999999999999999", &secs), CDR_ERR_ARG);
}

static void test_aead(void) {
  uint8_t key[32], nonce[12];
  struct cdr_buf ct, pt;
  memset(key, 7, sizeof(key));
  memset(nonce, 9, sizeof(nonce));
  cdr_buf_init(&ct, 1024, 0);
  cdr_buf_init(&pt, 1024, 0);
  CHECK_RC(cdr_aead_seal(&ct, key, nonce, "aad", 3, "secret", 6), 0);
  CHECK(ct.len == 6 + 16);
  CHECK_RC(cdr_aead_open(&pt, key, nonce, "aad", 3, ct.d, ct.len), 0);
  CHECK(pt.len == 6 && memcmp(pt.d, "secret", 6) == 0);
  cdr_buf_free(&pt);
  ct.d[0] ^= 1;
  CHECK_RC(cdr_aead_open(&pt, key, nonce, "aad", 3, ct.d, ct.len), CDR_ERR_DECRYPT);
  CHECK(pt.len == 0); /* nothing released */
  ct.d[0] ^= 1;
  CHECK_RC(cdr_aead_open(&pt, key, nonce, "aaX", 3, ct.d, ct.len), CDR_ERR_DECRYPT);
  CHECK_RC(cdr_aead_open(&pt, key, nonce, "aad", 3, ct.d, 15), CDR_ERR_DECRYPT); /* shorter than a tag */
  cdr_buf_free(&ct);
  cdr_buf_free(&pt);
}

static void test_signatures(void) {
  EVP_PKEY *ec = NULL, *rsa = NULL, *small = NULL;
  struct cdr_buf sig;
  CHECK_RC(cdr_key_generate(&ec, "ec", 0), 0);
  CHECK_RC(cdr_key_generate(&rsa, "rsa", 2048), 0);
  CHECK_RC(cdr_key_generate(&small, "rsa", 1024), CDR_ERR_KEY_UNSUPPORTED);
  CHECK_RC(cdr_key_generate(&small, "dsa", 0), CDR_ERR_KEY_UNSUPPORTED);
  CHECK_RC(cdr_key_check_user_type(ec), 0);
  CHECK_RC(cdr_key_check_user_type(rsa), 0);
  EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
  CHECK_RC(cdr_key_check_user_type(p384), CDR_ERR_KEY_UNSUPPORTED);
  EVP_PKEY_free(p384);
  EVP_PKEY *keys[2] = {ec, rsa};
  for (int i = 0; i < 2; i++) {
    cdr_buf_init(&sig, 1024, 0);
    CHECK_RC(cdr_sign(&sig, keys[i], "message", 7), 0);
    CHECK_RC(cdr_verify(keys[i], "message", 7, sig.d, sig.len), 0);
    CHECK_RC(cdr_verify(keys[i], "messagf", 7, sig.d, sig.len), CDR_ERR_BAD_SIGNATURE);
    CHECK_RC(cdr_verify(keys[1 - i], "message", 7, sig.d, sig.len), CDR_ERR_BAD_SIGNATURE);
    CHECK_RC(cdr_verify(keys[i], "message", 7, sig.d, 0), CDR_ERR_BAD_SIGNATURE);
    cdr_buf_free(&sig);
  }
  /* An invalid point is refused. */
  uint8_t pt[65];
  EVP_PKEY *k = NULL;
  CHECK_RC(cdr_p256_point_get(pt, ec), 0);
  pt[64] ^= 1;
  CHECK_RC(cdr_p256_point_to_key(&k, pt), CDR_ERR_ARG);
  pt[0] = 0x02;
  CHECK_RC(cdr_p256_point_to_key(&k, pt), CDR_ERR_ARG);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(rsa);
}

/* ---- a software CA for certificate checks ---- */
static EVP_PKEY *ca_key;
static X509 *ca_cert;

static void add_ext(X509 *c, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, c, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  X509_add_ext(c, ext, -1);
  X509_EXTENSION_free(ext);
}

static X509 *make_cert(EVP_PKEY *subject_key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn, const char *role,
                       long not_before, long not_after, const char *ku, int is_ca) {
  X509 *c = X509_new();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 1000 + not_after);
  X509_NAME *n = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  if (role)
    X509_NAME_add_entry_by_NID(n, NID_role, MBSTRING_UTF8, (const unsigned char *)role, -1, -1, 0);
  X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : n);
  X509_gmtime_adj(X509_getm_notBefore(c), not_before);
  X509_gmtime_adj(X509_getm_notAfter(c), not_after);
  X509_set_pubkey(c, subject_key);
  X509 *iss = issuer ? issuer : c;
  add_ext(c, iss, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(c, iss, NID_key_usage, ku);
  add_ext(c, iss, NID_subject_key_identifier, "hash");
  add_ext(c, iss, NID_authority_key_identifier, "keyid:always");
  X509_sign(c, issuer_key, EVP_sha256());
  return c;
}

static void test_cert_verify(void) {
  EVP_PKEY *user = NULL, *other_ca_key = NULL;
  enum cdr_role role;
  char *name = NULL;
  int64_t now = cdr_now();
  CHECK_RC(cdr_key_generate(&ca_key, "ec", 0), 0);
  CHECK_RC(cdr_key_generate(&other_ca_key, "ec", 0), 0);
  CHECK_RC(cdr_key_generate(&user, "ec", 0), 0);
  ca_cert = make_cert(ca_key, ca_key, NULL, "CA", NULL, -60, 86400, "critical,keyCertSign,cRLSign", 1);
  X509 *other_ca = make_cert(other_ca_key, other_ca_key, NULL, "CA", NULL, -60, 86400, "critical,keyCertSign,cRLSign", 1);

  X509 *good = make_cert(user, ca_key, ca_cert, "alice@bank.example", "analyst", -60, 3600, "critical,digitalSignature", 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, good, now, &role, &name), 0);
  CHECK(role == CDR_ROLE_ANALYST);
  CHECK_STR(name, "alice@bank.example");
  free(name);
  /* The same certificate an hour and a minute later is expired, and before its start not yet valid. */
  CHECK_RC(cdr_cert_verify_user(ca_cert, good, now + 3700, &role, NULL), CDR_ERR_CERT_EXPIRED);
  CHECK_RC(cdr_cert_verify_user(ca_cert, good, now - 3600, &role, NULL), CDR_ERR_CERT_NOT_YET_VALID);
  /* Another room's CA. */
  X509 *foreign = make_cert(user, other_ca_key, other_ca, "alice@bank.example", "analyst", -60, 3600,
                            "critical,digitalSignature", 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, foreign, now, &role, NULL), CDR_ERR_CERT_UNTRUSTED);
  /* Same issuer name but the signature is by another key. */
  X509 *forged = make_cert(user, other_ca_key, ca_cert, "alice@bank.example", "analyst", -60, 3600,
                           "critical,digitalSignature", 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, forged, now, &role, NULL), CDR_ERR_CERT_UNTRUSTED);
  X509 *norole = make_cert(user, ca_key, ca_cert, "bob", NULL, -60, 3600, "critical,digitalSignature", 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, norole, now, &role, NULL), CDR_ERR_CERT_NO_ROLE);
  X509 *badrole = make_cert(user, ca_key, ca_cert, "bob", "admin", -60, 3600, "critical,digitalSignature", 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, badrole, now, &role, NULL), CDR_ERR_CERT_NO_ROLE);
  X509 *noku = make_cert(user, ca_key, ca_cert, "bob", "analyst", -60, 3600, "critical,keyEncipherment", 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, noku, now, &role, NULL), CDR_ERR_CERT_USAGE);
  /* The CA certificate itself is not a user certificate. */
  CHECK(cdr_cert_verify_user(ca_cert, ca_cert, now, &role, NULL) != 0);
  /* Nor is a CA-signed certificate that says CA:TRUE, even with only
   * digitalSignature (X509_check_ca alone calls that no CA). */
  X509 *subca = make_cert(user, ca_key, ca_cert, "mallory", "analyst", -60, 3600, "critical,digitalSignature", 1);
  CHECK(X509_check_ca(subca) == 0);
  CHECK_RC(cdr_cert_verify_user(ca_cert, subca, now, &role, NULL), CDR_ERR_CERT_USAGE);

  X509 *all[] = {other_ca, good, foreign, forged, norole, badrole, noku, subca, ca_cert};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
    X509_free(all[i]);
  EVP_PKEY_free(user);
  EVP_PKEY_free(other_ca_key);
  EVP_PKEY_free(ca_key);
}

int main(void) {
  test_buf();
  test_codecs();
  test_aead();
  test_signatures();
  test_cert_verify();
  return test_summary("test_crypto");
}
