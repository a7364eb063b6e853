/*
 * test_tls.c - the pieces of TLS and the invitation bundle that need no
 * server: which URLs may be plain http, which names a server
 * certificate may carry, the bundle's round trip and every refusal of
 * its parser (PROTOCOL 2.1, 4.4.1), and cdrd's argument checks.
 */
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "client/invite.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "host/tls.h"
#include "room/room.h"
#include "testlib.h"

static void test_loopback_urls(void) {
  struct cdr_client *c = NULL;

  CHECK(cdr_url_host_is_loopback("http://127.0.0.1:8443"));
  CHECK(cdr_url_host_is_loopback("http://127.1.2.3/x"));
  CHECK(cdr_url_host_is_loopback("http://[::1]:80"));
  CHECK(cdr_url_host_is_loopback("http://localhost:1"));
  CHECK(!cdr_url_host_is_loopback("http://128.0.0.1:1"));
  CHECK(!cdr_url_host_is_loopback("http://localhost.evil.example:1"));
  CHECK(!cdr_url_host_is_loopback("http://127.0.0.1@evil.example/"));
  CHECK(!cdr_url_host_is_loopback("http://[::2]:1"));
  CHECK(!cdr_url_host_is_loopback("http://:1"));
  CHECK_RC(cdr_client_new(&c, "http://192.0.2.1:8443"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1@192.0.2.1:8443"), CDR_ERR_INSECURE_URL);
  /* userinfo: the part before '@' is not the host curl connects to */
  CHECK(!cdr_url_host_is_loopback("http://127.0.0.1:80@evil.com/"));
  CHECK(!cdr_url_host_is_loopback("http://[::1]@evil.com/"));
  CHECK(!cdr_url_host_is_loopback("http://localhost:1@evil.com:8443"));
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:80@evil.com/"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_client_new(&c, "http://[::1]@evil.com/"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_client_new(&c, "http://localhost:1@evil.com:8443"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_client_new(&c, "https://user@room.example.org:8443"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_client_new(&c, "https://user:pw@room.example.org:8443"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:80@127.0.0.2/"), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_url_check("http://[::1]@evil.com/", NULL), CDR_ERR_INSECURE_URL);
  CHECK_RC(cdr_url_check("ftp://127.0.0.1/", NULL), CDR_ERR_ARG);
  CHECK_RC(cdr_url_check("https://", NULL), CDR_ERR_ARG);
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:8443"), 0);
  cdr_client_free(c);
  c = NULL;
  /* the context keeps curl's normalised URL (127.1 is 127.0.0.1) */
  CHECK_RC(cdr_client_new(&c, "http://127.1:8443/"), 0);
  CHECK_STR(c->url, "http://127.0.0.1:8443");
  cdr_client_free(c);
  c = NULL;
  CHECK_RC(cdr_client_new(&c, "http://[::1]:8443"), 0);
  CHECK_STR(c->url, "http://[::1]:8443");
  cdr_client_free(c);
  c = NULL;
  CHECK_RC(cdr_client_new(&c, "https://192.0.2.1:8443"), 0);
  cdr_client_free(c);
}

static void test_tls_names(void) {
  const char *ok[] = {"room.example.org", "127.0.0.1", "::1", "*.example.org", "a-b.c"};
  const char *bad[] = {"", "a,DNS:evil.example", "a..b", "-", "x y", "a:b", "*", "ex*mple.org", ".a"};
  char *san = NULL;

  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
    CHECK_RC(cdr_tls_name_check(ok[i]), 0);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK_RC(cdr_tls_name_check(bad[i]), CDR_ERR_ARG);
  CHECK_RC(cdr_tls_san_build(ok, 3, &san), 0);
  if (san != NULL)
    CHECK_STR(san, "DNS:room.example.org,IP:127.0.0.1,IP:::1");
  free(san);
  san = NULL;
  CHECK_RC(cdr_tls_san_build(bad + 1, 1, &san), CDR_ERR_ARG);
  CHECK(san == NULL);
}

static void test_cdrd_args(void) {
  struct host_tls_opts o;

  CHECK(host_tls_is_loopback("127.0.0.1") && host_tls_is_loopback("::1") && host_tls_is_loopback("localhost"));
  CHECK(!host_tls_is_loopback("0.0.0.0") && !host_tls_is_loopback("10.0.0.1") && !host_tls_is_loopback("::"));
  memset(&o, 0, sizeof(o));
  o.insecure_http = 1;
  CHECK_RC(host_tls_check_args(&o, "127.0.0.1"), 0);
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), CDR_ERR_ARG);
  CHECK_RC(host_tls_check_args(&o, "192.0.2.7"), CDR_ERR_ARG);
  memset(&o, 0, sizeof(o));
  CHECK_RC(host_tls_check_args(&o, "127.0.0.1"), 0);
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), CDR_ERR_ARG); /* which names? */
  o.names[o.nnames++] = "room.example.org";
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), 0);
  o.cert_file = "c.pem";
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), CDR_ERR_ARG); /* --tls-name with --tls-cert */
  o.nnames = 0;
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), CDR_ERR_ARG); /* --tls-cert without --tls-key */
  o.key_file = "k.pem";
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), 0);
  o.names[0] = "bad,name";
  o.nnames = 1;
  o.cert_file = o.key_file = NULL;
  CHECK_RC(host_tls_check_args(&o, "0.0.0.0"), CDR_ERR_ARG);
}

/* A self-signed certificate (any will do for the bundle's own checks). */
static X509 *make_cert(const char *cn) {
  EVP_PKEY *k = NULL;
  X509 *x = X509_new();
  X509_NAME *n = X509_NAME_new();
  CHECK_RC(cdr_key_generate(&k, "ec", 0), 0);
  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_set_subject_name(x, n);
  X509_set_issuer_name(x, n);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, k);
  CHECK(X509_sign(x, k, EVP_sha256()) > 0);
  X509_NAME_free(n);
  EVP_PKEY_free(k);
  return x;
}

/* CDR_INVITE_PREFIX + base64url(json): a hand-made bundle. */
static char *bundle_of(const char *json) {
  char *b64 = NULL, *out;
  CHECK_RC(cdr_b64url_encode(&b64, (const uint8_t *)json, strlen(json)), 0);
  size_t n = strlen(CDR_INVITE_PREFIX) + strlen(b64) + 1;
  out = malloc(n);
  snprintf(out, n, "%s%s", CDR_INVITE_PREFIX, b64);
  free(b64);
  return out;
}

static void expect_refused(const char *bundle, const char *field) {
  struct cdr_invite inv;
  char why[256] = "";
  CHECK_RC(cdr_invite_parse(bundle, &inv, why, sizeof(why)), CDR_ERR_INVITE_INVALID);
  if (strstr(why, field) == NULL) {
    fprintf(stderr, "refusal \"%s\" does not name %s\n", why, field);
    CHECK(0);
  }
  CHECK(inv.url == NULL && inv.token == NULL && inv.ca == NULL);
}

static void test_bundle(void) {
  struct cdr_invite in, out;
  char *b = NULL, why[256], json[8192], fphex[65], meas[65];
  uint8_t *der = NULL;
  size_t der_len = 0;
  char *ca_b64 = NULL;
  X509 *ca = make_cert("CDR room CA t"), *other = make_cert("other");

  memset(&in, 0, sizeof(in));
  in.url = (char *)"https://room.example.org:8443";
  in.token = (char *)"cdr1.00.secret.name.fp";
  in.ca = ca;
  snprintf(in.platform, sizeof(in.platform), "sim");
  memset(meas, 'a', 64);
  meas[64] = '\0';
  snprintf(in.measurement, sizeof(in.measurement), "%s", meas);
  CHECK_RC(cdr_invite_build(&in, &b), 0);
  CHECK(b != NULL && cdr_invite_is_bundle(b) && strchr(b, '=') == NULL);
  CHECK_RC(cdr_invite_parse(b, &out, why, sizeof(why)), 0);
  CHECK_STR(out.url, in.url);
  CHECK_STR(out.token, in.token);
  CHECK_STR(out.platform, "sim");
  CHECK_STR(out.measurement, meas);
  CHECK(out.ca != NULL && X509_cmp(out.ca, ca) == 0);
  CHECK(!out.has_contract); /* none given, none made up */
  cdr_invite_clear(&out);
  free(b);
  /* With the contract the inviter attested: it round-trips. */
  in.has_contract = 1;
  in.contract_version = 4;
  memset(in.contract_sha256, 0xc4, sizeof(in.contract_sha256));
  CHECK_RC(cdr_invite_build(&in, &b), 0);
  CHECK_RC(cdr_invite_parse(b, &out, why, sizeof(why)), 0);
  CHECK(out.has_contract && out.contract_version == 4 && memcmp(out.contract_sha256, in.contract_sha256, 32) == 0);
  cdr_invite_clear(&out);
  free(b);
  in.has_contract = 0;

  /* Hand-made bundles, each wrong in one way. */
  uint8_t fp[32];
  CHECK_RC(cdr_cert_to_der(ca, &der, &der_len), 0);
  CHECK_RC(cdr_sha256(fp, der, der_len), 0);
  cdr_hex_encode(fphex, fp, sizeof(fp));
  CHECK_RC(cdr_b64_encode(&ca_b64, der, der_len), 0);
#define BUNDLE(url, cab64, fph, plat, m)                                                                         \
  (snprintf(json, sizeof(json),                                                                                      \
            "{\"v\":1,\"url\":\"%s\",\"token\":\"cdr1.x\",\"ca\":\"%s\",\"ca_sha256\":\"%s\","                 \
            "\"platform\":\"%s\",\"measurement\":\"%s\"}",                                                          \
            url, cab64, fph, plat, m),                                                                               \
   bundle_of(json))
  char *s;
  s = BUNDLE("https://h:1", ca_b64, fphex, "sim", meas);
  CHECK_RC(cdr_invite_parse(s, &out, why, sizeof(why)), 0);
  cdr_invite_clear(&out);
  free(s);
  s = BUNDLE("ftp://h:1", ca_b64, fphex, "sim", meas);
  expect_refused(s, "\"url\"");
  free(s);
  /* The contract fields: together, hex, version 0 exactly with the zero hash. */
  {
#define Z63 "000000000000000000000000000000000000000000000000000000000000000"
#define Z64 "0" Z63
    static const char *const bad[][2] = {
        {"\"contract_version\":1", "go together"},
        {"\"contract_sha256\":\"c4c4\",\"contract_version\":1", "64 lower-case hex"},
        {"\"contract_sha256\":\"" Z64 "\",\"contract_version\":1", "exactly when"},
        {"\"contract_sha256\":\"c" Z63 "\",\"contract_version\":0", "exactly when"},
        {"\"contract_sha256\":\"c" Z63 "\",\"contract_version\":-1", "non-negative"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      char js[8192];
      snprintf(js, sizeof(js),
               "{\"v\":1,\"url\":\"https://h:1\",\"token\":\"cdr1.x\",\"ca\":\"%s\",\"ca_sha256\":\"%s\","
               "\"platform\":\"sim\",\"measurement\":\"%s\",%s}",
               ca_b64, fphex, meas, bad[i][0]);
      s = bundle_of(js);
      expect_refused(s, bad[i][1]);
      free(s);
    }
  }
  s = BUNDLE("https://h:1", ca_b64, fphex, "sev", meas);
  expect_refused(s, "\"platform\"");
  free(s);
  s = BUNDLE("https://h:1", ca_b64, fphex, "snp", meas); /* 64 digits: sim's length */
  expect_refused(s, "\"measurement\"");
  free(s);
  fphex[0] = fphex[0] == '0' ? '1' : '0';
  s = BUNDLE("https://h:1", ca_b64, fphex, "sim", meas);
  expect_refused(s, "\"ca_sha256\"");
  free(s);
  s = BUNDLE("https://h:1", "AAAA", fphex, "sim", meas);
  expect_refused(s, "\"ca\"");
  free(s);
  s = bundle_of("{\"v\":1,\"v\":1}");
  expect_refused(s, "JSON object");
  free(s);
  s = bundle_of("{\"v\":2}");
  expect_refused(s, "\"v\"");
  free(s);
  expect_refused("cdr-invite-2:e30", "cdr-invite-1:");
  expect_refused("cdr-invite-1:e30=", "base64url");
  expect_refused("cdr-invite-1:!!!", "base64url");
#undef BUNDLE
  free(ca_b64);
  OPENSSL_free(der);
  X509_free(ca);
  X509_free(other);
}

int main(void) {
  test_loopback_urls();
  test_tls_names();
  test_cdrd_args();
  test_bundle();
  return test_summary("test_tls");
}
