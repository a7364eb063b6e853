/*
 * test_client.c - unit tests of the client library that need no server:
 * result rendering (CSV, table), profiles, the sim attestation verifier
 * (against a CA and platform key made here), and the client's judgement
 * of session-open and request answers produced here with the enclave's
 * own envelope functions (so every tampering case is exercised without
 * a running enclave).
 */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/audit.h"
#include "client/client.h"
#include "client/connect.h"
#include "client/profile.h"
#include "client/render.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"
#include "crypto/x509.h"
#include "testlib.h"

/* ---------------------------------------------------------------- */
/* rendering */

static char *render(int (*fn)(FILE *, const json_t *), const json_t *res, int *rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  *rc = fn(f, res);
  fclose(f);
  return buf;
}

static void test_csv(void) {
  json_error_t e;
  json_t *res = json_loads("{\"columns\":[\"id\",\"na,me\",\"q\\\"t\"],\"rows\":["
                           "[1,\"plain\",null],"
                           "[-2,\"a,b\",\"say \\\"hi\\\"\"],"
                           "[3,\"two\\nlines\",\"\"],"
                           "[2.5,{\"hex\":\"00ff\"},\"cr\\r\"],"
                           "[{\"real\":\"-inf\"},1e300,0.1]],\"row_count\":5}",
                           0, &e);
  int rc;
  CHECK(res != NULL);
  CHECK_RC(cdr_result_check(res), 0);
  char *out = render(cdr_render_csv, res, &rc);
  CHECK_RC(rc, 0);
  CHECK_STR(out, "id,\"na,me\",\"q\"\"t\"\r\n"
                 "1,plain,\r\n"
                 "-2,\"a,b\",\"say \"\"hi\"\"\"\r\n"
                 "3,\"two\nlines\",\"\"\r\n"
                 "2.5,\\x00ff,\"cr\r\"\r\n"
                 "-inf,1e300,0.1\r\n");
  free(out);
  json_decref(res);

  /* A malformed result is refused, not half printed. */
  res = json_loads("{\"columns\":[\"a\",\"b\"],\"rows\":[[1]]}", 0, &e);
  out = render(cdr_render_csv, res, &rc);
  CHECK_RC(rc, CDR_ERR_BAD_JSON);
  free(out);
  json_decref(res);
  res = json_loads("{\"columns\":[1],\"rows\":[]}", 0, &e);
  CHECK_RC(cdr_result_check(res), CDR_ERR_BAD_JSON);
  json_decref(res);
}

static void test_table(void) {
  json_error_t e;
  json_t *res = json_loads("{\"columns\":[\"id\",\"name\"],\"rows\":["
                           "[1,\"apple\"],[22,null],[3,\"esc\\u001b[31mred\\nx\\u009b\"]],\"row_count\":3}",
                           0, &e);
  int rc;
  char *out = render(cdr_render_table, res, &rc);
  CHECK_RC(rc, 0);
  CHECK_STR(out, "id | name\n"
                 "---+------------------------\n"
                 " 1 | apple\n"
                 "22 | NULL\n"
                 " 3 | esc\\x1b[31mred\\nx\\u009b\n"
                 "(3 rows)\n");
  CHECK(strchr(out, 0x1b) == NULL);
  free(out);
  json_decref(res);

  res = json_loads("{\"columns\":[\"n\"],\"rows\":[[1]],\"row_count\":1}", 0, &e);
  out = render(cdr_render_table, res, &rc);
  CHECK_STR(out, "n\n-\n1\n(1 row)\n");
  free(out);
  json_decref(res);

  res = json_loads("{\"columns\":[\"x\"],\"rows\":[],\"row_count\":0}", 0, &e);
  out = render(cdr_render_table, res, &rc);
  CHECK_STR(out, "x\n-\n(0 rows)\n");
  free(out);
  out = render(cdr_render_json, res, &rc);
  CHECK_STR(out, "{\"columns\":[\"x\"],\"rows\":[],\"row_count\":0}\n");
  free(out);
  json_decref(res);
}

/* ---------------------------------------------------------------- */
/* profiles */

static void test_profiles(void) {
  char tmpl[] = "/tmp/cdr-test-client.XXXXXX";
  char *dir = mkdtemp(tmpl), *cfg = NULL, *path = NULL, *name = NULL;
  struct cdr_profile p = {(char *)"work", (char *)"http://127.0.0.1:8443/", (char *)"/k/alice.key",
                          (char *)"/k/alice.crt", (char *)"/k/alice.ca.crt",
                          (char *)"00112233445566778899aabbccddeeff", NULL, NULL, NULL, NULL};
  struct cdr_profile q = p, *got = NULL;
  struct stat st;

  CHECK(dir != NULL);
  setenv("CDR_CONFIG_DIR", dir, 1);
  CHECK_RC(cdr_config_dir(&cfg), 0);
  CHECK_STR(cfg, dir);
  free(cfg);

  CHECK_RC(cdr_profile_load(NULL, &got), CDR_ERR_NOT_FOUND);
  CHECK_RC(cdr_profile_default_get(&name), CDR_ERR_NOT_FOUND);
  CHECK_RC(cdr_profile_save(&p), 0);
  q.name = (char *)"other";
  q.url = (char *)"https://example.org:9000";
  CHECK_RC(cdr_profile_save(&q), 0);

  CHECK_RC(cdr_profile_load("work", &got), 0);
  if (got) {
    CHECK_STR(got->name, "work");
    CHECK_STR(got->url, p.url);
    CHECK_STR(got->key, p.key);
    CHECK_STR(got->cert, p.cert);
    CHECK_STR(got->ca, p.ca);
    CHECK_STR(got->room_id, p.room_id);
  }
  cdr_profile_free(got);
  got = NULL;

  CHECK_RC(cdr_profile_default_set("other"), 0);
  CHECK_RC(cdr_profile_default_get(&name), 0);
  CHECK_STR(name, "other");
  free(name);
  CHECK_RC(cdr_profile_load(NULL, &got), 0);
  if (got)
    CHECK_STR(got->name, "other");
  cdr_profile_free(got);
  got = NULL;

  /* Find by URL, ignoring a trailing slash. */
  CHECK_RC(cdr_profile_find_url("http://127.0.0.1:8443", &got), 0);
  if (got)
    CHECK_STR(got->name, "work");
  cdr_profile_free(got);
  got = NULL;
  CHECK_RC(cdr_profile_find_url("http://127.0.0.1:1", &got), CDR_ERR_NOT_FOUND);

  /* Modes: files 0600, directories 0700. */
  path = cdr_path_join(dir, "profiles/work.json");
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  free(path);
  path = cdr_path_join(dir, "default");
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  free(path);
  path = cdr_path_join(dir, "profiles");
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700);
  free(path);

  /* Bad names and broken files. */
  CHECK(!cdr_profile_name_valid("../x"));
  CHECK(!cdr_profile_name_valid(".hidden"));
  CHECK(!cdr_profile_name_valid(""));
  CHECK(cdr_profile_name_valid("Acme-Pilot_2.b"));
  CHECK_RC(cdr_profile_load("../etc", &got), CDR_ERR_ARG);
  path = cdr_path_join(dir, "profiles/broken.json");
  CHECK_RC(cdr_file_write(path, "{\"url\":1}", 9, 0600, 0), 0);
  CHECK_RC(cdr_profile_load("broken", &got), CDR_ERR_BAD_JSON);
  unlink(path);
  free(path);
  path = cdr_path_join(dir, "profiles/dup.json");
  const char *dup = "{\"url\":\"a\",\"url\":\"b\",\"key\":\"k\",\"cert\":\"c\",\"ca\":\"x\",\"room_id\":\"00\"}";
  CHECK_RC(cdr_file_write(path, dup, strlen(dup), 0600, 0), 0);
  CHECK_RC(cdr_profile_load("dup", &got), CDR_ERR_BAD_JSON);
  unlink(path);
  free(path);

  /* The CA file beside a certificate. */
  path = cdr_ca_path_beside("dir/alice.crt");
  CHECK_STR(path, "dir/alice.ca.crt");
  free(path);
  path = cdr_ca_path_beside("alice.pem");
  CHECK_STR(path, "alice.ca.crt");
  free(path);
  path = cdr_ca_path_beside("alice");
  CHECK_STR(path, "alice.ca.crt");
  free(path);

  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
  unsetenv("CDR_CONFIG_DIR");
}

/* ---------------------------------------------------------------- */
/* a small PKI made here */

static const uint8_t ROOM_ID[16] = {0x0e, 0x8f, 0xbd, 0xb9, 0xdc, 0x7f, 0x16, 0x8a,
                                    0x9a, 0x1e, 0x79, 0x87, 0xe2, 0x2d, 0xab, 0x1d};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  CHECK(ext != NULL);
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
}

/* A certificate for key, signed by issuer_key (self-signed if issuer is
 * NULL); kind: 'c' CA, 'p' platform, 'u' user. */
static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn, int kind, long nb,
                       long na) {
  X509 *x = X509_new();
  X509_NAME *n = X509_NAME_new();
  char ou[33];
  cdr_hex_encode(ou, ROOM_ID, sizeof(ROOM_ID));
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(random() & 0xffffff) + 1);
  X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  if (kind == 'u')
    X509_NAME_add_entry_by_NID(n, NID_role, MBSTRING_UTF8, (const unsigned char *)"analyst", -1, -1, 0);
  X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8, (const unsigned char *)"Test room", -1, -1, 0);
  X509_NAME_add_entry_by_NID(n, NID_organizationalUnitName, MBSTRING_UTF8, (const unsigned char *)ou, -1, -1, 0);
  X509_set_subject_name(x, n);
  X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
  X509_set_pubkey(x, key);
  X509_time_adj_ex(X509_getm_notBefore(x), 0, nb, NULL);
  X509_time_adj_ex(X509_getm_notAfter(x), 0, na, NULL);
  if (kind == 'c') {
    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(x, x, NID_subject_key_identifier, "hash");
  } else {
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
    if (kind == 'u')
      add_ext(x, issuer, NID_ext_key_usage, "clientAuth");
  }
  CHECK(X509_sign(x, issuer_key, EVP_sha256()) > 0);
  X509_NAME_free(n);
  return x;
}

static EVP_PKEY *ec_key(void) {
  EVP_PKEY *k = NULL;
  CHECK_RC(cdr_ec_p256_generate(&k), 0);
  return k;
}

static uint8_t *der_of(X509 *x, size_t *len) {
  uint8_t *d = NULL;
  CHECK_RC(cdr_cert_to_der(x, &d, len), 0);
  return d;
}

/* Sim evidence as the enclave makes it. */
static void make_evidence(struct cdr_buf *ev, EVP_PKEY *plat_key, const uint8_t meas[32], const uint8_t rd[64]) {
  struct cdr_buf sig;
  cdr_buf_init(&sig, 256, 0);
  cdr_buf_init(ev, 1024, 0);
  CHECK_RC(cdr_buf_put(ev, "CDRSIM\x00\x01", 8), 0);
  CHECK_RC(cdr_buf_put(ev, meas, 32), 0);
  CHECK_RC(cdr_buf_put(ev, rd, 64), 0);
  CHECK_RC(cdr_buf_put_u64(ev, (uint64_t)cdr_now()), 0);
  CHECK_RC(cdr_sign(&sig, plat_key, ev->d, 112), 0);
  CHECK_RC(cdr_buf_put_lp(ev, sig.d, sig.len), 0);
  cdr_buf_free(&sig);
}

static char *b64(const uint8_t *p, size_t n) {
  char *s = NULL;
  CHECK_RC(cdr_b64_encode(&s, p, n), 0);
  return s;
}

/* The active contract version the test enclave runs under: what the
 * answers below name and the evidence's report_data binds. */
static const uint8_t TEST_CONTRACT[32] = {0xc0, 0x47, 0x7a, 0xc7};
#define TEST_CONTRACT_VERSION 3

/* The /v1/attest answer for this evidence. */
static json_t *attest_json(const char *platform, const struct cdr_buf *ev, const uint8_t *plat_der, size_t plat_len,
                           const uint8_t *spki, size_t spki_len, const uint8_t room[16], const uint8_t cafp[32]) {
  char *e = b64(ev->d, ev->len), *c = b64(plat_der, plat_len), *s = b64(spki, spki_len);
  char rid[33], fp[65];
  cdr_hex_encode(rid, room, 16);
  cdr_hex_encode(fp, cafp, 32);
  char ch[65];
  cdr_hex_encode(ch, TEST_CONTRACT, 32);
  json_t *j = json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:i}", "platform", platform, "evidence", e,
                        "certificates", c, "identity_public_key", s, "room_id", rid, "ca_fingerprint", fp,
                        "contract_sha256", ch, "contract_version", TEST_CONTRACT_VERSION);
  free(e);
  free(c);
  free(s);
  return j;
}

static void test_attest(void) {
  EVP_PKEY *ca_key = ec_key(), *plat_key = ec_key(), *ident = ec_key(), *other_ca_key = ec_key(), *user_key = ec_key();
  X509 *ca = make_cert(ca_key, ca_key, NULL, "CDR room CA Test", 'c', -60, 86400);
  X509 *other_ca = make_cert(other_ca_key, other_ca_key, NULL, "CDR room CA Test", 'c', -60, 86400);
  X509 *plat = make_cert(plat_key, ca_key, ca, CDR_SIM_PLATFORM_CN, 'p', -60, 86400);
  X509 *user = make_cert(user_key, ca_key, ca, CDR_SIM_PLATFORM_CN, 'u', -60, 86400);
  uint8_t cafp[32], nonce[32], meas[32], rd[64], bad[64], *spki = NULL, *plat_der, *user_der;
  size_t spki_len = 0, plat_len, user_len;
  struct cdr_buf ev, ev2;
  struct cdr_attestation att;
  struct cdr_attest_policy pol;
  char detail[256];
  json_t *j;

  CHECK_RC(cdr_cert_fingerprint(ca, cafp), 0);
  CHECK_RC(cdr_random(nonce, sizeof(nonce)), 0);
  memset(meas, 0x5a, sizeof(meas));
  CHECK_RC(cdr_pubkey_to_der(ident, &spki, &spki_len), 0);
  CHECK_RC(cdr_report_data(rd, spki, spki_len, ROOM_ID, cafp, TEST_CONTRACT, nonce), 0);
  plat_der = der_of(plat, &plat_len);
  user_der = der_of(user, &user_len);
  make_evidence(&ev, plat_key, meas, rd);

  memset(&pol, 0, sizeof(pol));
  pol.ca = ca;
  pol.room_id = ROOM_ID;
  pol.ca_fp = cafp;
  pol.nonce = nonce;
  pol.measurement = meas;
  pol.allow_sim = 1;
  pol.now = cdr_now();

  /* Good evidence verifies and yields the identity key. */
  j = attest_json("sim", &ev, plat_der, plat_len, spki, spki_len, ROOM_ID, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), 0);
  CHECK(att.identity != NULL && EVP_PKEY_eq(att.identity, ident) == 1);
  CHECK(memcmp(att.measurement, meas, 32) == 0);
  CHECK_STR(att.platform, "sim");
  CHECK(att.contract_version == TEST_CONTRACT_VERSION && memcmp(att.contract_sha256, TEST_CONTRACT, 32) == 0);
  cdr_attestation_clear(&att);

  /* The contract hash is bound: an answer that names another one (a host
   * showing another contract than the enclave runs under) fails the
   * report_data check; none, or a version without a hash, is malformed. */
  {
    json_t *t = json_deep_copy(j);
    json_object_set_new(t, "contract_sha256",
                        json_string("c0477ac800000000000000000000000000000000000000000000000000000000"));
    CHECK_RC(cdr_attest_verify_response(&att, t, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
    CHECK_CONTAINS(detail, "contract hash");
    json_object_set_new(t, "contract_sha256",
                        json_string("0000000000000000000000000000000000000000000000000000000000000000"));
    CHECK_RC(cdr_attest_verify_response(&att, t, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
    json_object_set_new(t, "contract_version", json_integer(0));
    CHECK_RC(cdr_attest_verify_response(&att, t, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
    json_object_del(t, "contract_sha256");
    CHECK_RC(cdr_attest_verify_response(&att, t, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
    CHECK_CONTAINS(detail, "contract_sha256");
    json_decref(t);
  }

  /* A minimum SEV-SNP TCB: ignored for a sim room when it is only a
   * default (CDR_SNP_MIN_TCB), refused when the user required it. */
  {
    uint8_t min[CDR_SNP_TCB_LEN] = {0, 0, 0, 0, 0, 0, 22, 0};
    pol.snp_min_tcb = min;
    CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), 0);
    cdr_attestation_clear(&att);
    pol.snp_min_tcb_required = 1;
    CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_TCB);
    CHECK_CONTAINS(detail, "but the room attests as sim");
    CHECK(att.identity == NULL);
    pol.snp_min_tcb = NULL;
    pol.snp_min_tcb_required = 0;
  }

  /* Sim refused unless allowed. */
  pol.allow_sim = 0;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_SIM_REFUSED);
  pol.allow_sim = 1;

  /* Measurement other than the required one; none required is fine. */
  uint8_t other_meas[32];
  memset(other_meas, 0x11, sizeof(other_meas));
  pol.measurement = other_meas;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MEASUREMENT);
  CHECK_CONTAINS(detail, "expected 1111");
  {
    struct cdr_client cc;
    char t[512];
    memset(&cc, 0, sizeof(cc));
    snprintf(cc.detail, sizeof(cc.detail), "%s", detail);
    cdr_client_error_text(&cc, CDR_ERR_ATTEST_MEASUREMENT, t, sizeof(t));
    CHECK_CONTAINS(t, "attestation_measurement_mismatch: ");
  }
  pol.measurement = NULL;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), 0);
  cdr_attestation_clear(&att);
  pol.measurement = meas;

  /* Another nonce: the evidence does not bind ours. */
  uint8_t nonce2[32];
  memcpy(nonce2, nonce, 32);
  nonce2[0] ^= 1;
  pol.nonce = nonce2;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
  pol.nonce = nonce;

  /* Another CA: the platform certificate does not chain to it. */
  pol.ca = other_ca;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_ROOT);
  pol.ca = ca;
  /* Platform certificate expired (or not yet valid) at our clock. */
  pol.now = cdr_now() + 2 * 86400;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_ROOT);
  pol.now = cdr_now() - 3600;
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_ROOT);
  pol.now = cdr_now();
  json_decref(j);

  /* The host reports another room or CA fingerprint. */
  uint8_t room2[16], fp2[32];
  memcpy(room2, ROOM_ID, 16);
  room2[15] ^= 1;
  memcpy(fp2, cafp, 32);
  fp2[0] ^= 1;
  j = attest_json("sim", &ev, plat_der, plat_len, spki, spki_len, room2, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_ROOT);
  json_decref(j);
  j = attest_json("sim", &ev, plat_der, plat_len, spki, spki_len, ROOM_ID, fp2);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_CA_UNPINNED);
  CHECK_CONTAINS(detail, "not the one this client pinned");
  json_decref(j);

  /* A user certificate of the same CA cannot stand in for the platform,
   * even with the platform's CN and a signature by its key. */
  struct cdr_buf ev_user;
  make_evidence(&ev_user, user_key, meas, rd);
  j = attest_json("sim", &ev_user, user_der, user_len, spki, spki_len, ROOM_ID, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_ROOT);
  json_decref(j);
  cdr_buf_free(&ev_user);

  /* Another identity key than the one the evidence binds. */
  EVP_PKEY *ident2 = ec_key();
  uint8_t *spki2 = NULL;
  size_t spki2_len = 0;
  CHECK_RC(cdr_pubkey_to_der(ident2, &spki2, &spki2_len), 0);
  j = attest_json("sim", &ev, plat_der, plat_len, spki2, spki2_len, ROOM_ID, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_REPORT_DATA);
  json_decref(j);

  /* Flipped bytes: in the signed part, in the signature. */
  size_t flips[] = {8, 40, 103, 104, 111, 120, ev.len - 1};
  for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
    cdr_buf_init(&ev2, 1024, 0);
    CHECK_RC(cdr_buf_put(&ev2, ev.d, ev.len), 0);
    ev2.d[flips[i]] ^= 0x01;
    CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev2.d, ev2.len, plat_der, plat_len, rd, &pol),
             CDR_ERR_ATTEST_SIGNATURE);
    cdr_buf_free(&ev2);
  }
  /* Report data that differs (properly signed): REPORT_DATA. */
  memcpy(bad, rd, 64);
  bad[63] ^= 1;
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev.d, ev.len, plat_der, plat_len, bad, &pol),
           CDR_ERR_ATTEST_REPORT_DATA);

  /* Malformed: short, long, bad magic, bad length field. */
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev.d, 115, plat_der, plat_len, rd, &pol),
           CDR_ERR_ATTEST_MALFORMED);
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev.d, ev.len - 1, plat_der, plat_len, rd, &pol),
           CDR_ERR_ATTEST_MALFORMED);
  cdr_buf_init(&ev2, 1024, 0);
  CHECK_RC(cdr_buf_put(&ev2, ev.d, ev.len), 0);
  CHECK_RC(cdr_buf_put_u8(&ev2, 0), 0);
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev2.d, ev2.len, plat_der, plat_len, rd, &pol),
           CDR_ERR_ATTEST_MALFORMED);
  ev2.len--;
  ev2.d[0] ^= 1;
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev2.d, ev2.len, plat_der, plat_len, rd, &pol),
           CDR_ERR_ATTEST_MALFORMED);
  ev2.d[0] ^= 1;
  ev2.d[112] = 0xff; /* signature length > 256 */
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev2.d, ev2.len, plat_der, plat_len, rd, &pol),
           CDR_ERR_ATTEST_MALFORMED);
  memset(ev2.d + 112, 0, 4); /* signature length 0 */
  CHECK_RC(cdr_attest_verify_sim(meas, &(uint64_t){0}, ev2.d, 116, plat_der, plat_len, rd, &pol),
           CDR_ERR_ATTEST_MALFORMED);
  cdr_buf_free(&ev2);
  /* A short evidence in a full answer. */
  struct cdr_buf shortev;
  cdr_buf_view(&shortev, ev.d, 60);
  j = attest_json("sim", &shortev, plat_der, plat_len, spki, spki_len, ROOM_ID, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
  json_decref(j);
  /* Unknown platform, missing fields, garbage certificate. */
  j = attest_json("snp", &ev, plat_der, plat_len, spki, spki_len, ROOM_ID, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
  json_object_set_new(j, "platform", json_string("sim"));
  json_object_del(j, "identity_public_key");
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
  json_decref(j);
  j = attest_json("sim", &ev, (const uint8_t *)"garbage!", 8, spki, spki_len, ROOM_ID, cafp);
  CHECK_RC(cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)), CDR_ERR_ATTEST_MALFORMED);
  json_decref(j);

  cdr_buf_free(&ev);
  OPENSSL_free(spki);
  OPENSSL_free(spki2);
  OPENSSL_free(plat_der);
  OPENSSL_free(user_der);
  X509_free(ca);
  X509_free(other_ca);
  X509_free(plat);
  X509_free(user);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(other_ca_key);
  EVP_PKEY_free(plat_key);
  EVP_PKEY_free(ident);
  EVP_PKEY_free(ident2);
  EVP_PKEY_free(user_key);
}

/* ---------------------------------------------------------------- */
/* session open and requests, against the enclave's envelope functions */

struct fake_enclave {
  EVP_PKEY *identity;
  struct cdr_session_keys keys;
  uint8_t sid[16];
  uint64_t expires;
};

/* The enclave's answer to a session-open body; tamper selects a fault. */
static json_t *enclave_open(struct fake_enclave *fe, EVP_PKEY *user_pub, const char *body, int tamper) {
  json_error_t e;
  json_t *req = json_loads(body, 0, &e), *resp;
  struct cdr_open_req q;
  struct cdr_open_resp o;
  struct cdr_buf treq, tresp, encap, sealed, sig, params;
  uint8_t *cert = NULL, *spki = NULL, *usig = NULL, treq_hash[32], cert_fp[32], e_pub[65], z[32];
  size_t cert_len = 0, spki_len = 0, usig_len = 0;
  EVP_PKEY *ekey = NULL, *cpub = NULL;
  char *s1, *s2, *s3, *s4;

  memset(&q, 0, sizeof(q));
  CHECK(req != NULL);
  q.version = (uint32_t)json_integer_value(json_object_get(req, "version"));
  CHECK_RC(cdr_b64_decode(&cert, &cert_len, json_string_value(json_object_get(req, "certificate")), 1 << 16), 0);
  CHECK_RC(cdr_b64_decode(&spki, &spki_len, json_string_value(json_object_get(req, "user_public_key")), 1 << 16), 0);
  CHECK_RC(cdr_b64_decode(&usig, &usig_len, json_string_value(json_object_get(req, "signature")), 1 << 16), 0);
  uint8_t *tmp = NULL;
  size_t tl = 0;
  CHECK_RC(cdr_b64_decode(&tmp, &tl, json_string_value(json_object_get(req, "client_key_share")), 65), 0);
  CHECK(tl == 65);
  memcpy(q.client_share, tmp, 65);
  free(tmp);
  CHECK_RC(cdr_b64_decode(&tmp, &tl, json_string_value(json_object_get(req, "client_nonce")), 32), 0);
  CHECK(tl == 32);
  memcpy(q.client_nonce, tmp, 32);
  free(tmp);
  q.timestamp = (uint64_t)json_integer_value(json_object_get(req, "timestamp"));
  q.cert_der = cert;
  q.cert_len = cert_len;
  q.user_spki = spki;
  q.user_spki_len = spki_len;
  CHECK(q.version == 1);
  CHECK(q.timestamp + 5 >= (uint64_t)cdr_now());

  cdr_buf_init(&treq, 1 << 16, 0);
  CHECK_RC(cdr_open_req_transcript(&treq, &q), 0);
  CHECK_RC(cdr_verify(user_pub, treq.d, treq.len, usig, usig_len), 0); /* the enclave's check passes */
  CHECK_RC(cdr_sha256(treq_hash, treq.d, treq.len), 0);
  CHECK_RC(cdr_sha256(cert_fp, cert, cert_len), 0);

  CHECK_RC(cdr_ec_p256_generate(&ekey), 0);
  CHECK_RC(cdr_p256_point_get(e_pub, ekey), 0);
  CHECK_RC(cdr_random(fe->sid, 16), 0);
  fe->expires = (uint64_t)cdr_now() + 3600;
  cdr_buf_init(&params, 128, 0);
  CHECK_RC(cdr_buf_put(&params, fe->sid, 16), 0);
  CHECK_RC(cdr_buf_put_u64(&params, tamper == 3 ? fe->expires + 1 : fe->expires), 0);
  CHECK_RC(cdr_buf_put(&params, e_pub, 65), 0);
  cdr_buf_init(&encap, 1024, 0);
  cdr_buf_init(&sealed, 1024, 0);
  memset(&o, 0, sizeof(o));
  CHECK_RC(cdr_seal_to_user(user_pub, NULL, treq_hash, 32, params.d, params.len, &o.kem, &encap, &sealed), 0);
  memcpy(o.session_id, fe->sid, 16);
  o.expires_at = fe->expires;
  o.encap = encap.d;
  o.encap_len = encap.len;
  o.sealed = sealed.d;
  o.sealed_len = sealed.len;
  cdr_buf_init(&tresp, 1 << 16, 0);
  CHECK_RC(cdr_open_resp_transcript(&tresp, treq_hash, cert_fp, q.client_nonce, &o), 0);
  cdr_buf_init(&sig, 1024, 0);
  EVP_PKEY *signer = fe->identity, *wrong = NULL;
  if (tamper == 2) {
    CHECK_RC(cdr_ec_p256_generate(&wrong), 0);
    signer = wrong;
  }
  CHECK_RC(cdr_sign(&sig, signer, tresp.d, tresp.len), 0);
  EVP_PKEY_free(wrong);

  CHECK_RC(cdr_p256_point_to_key(&cpub, q.client_share), 0);
  CHECK_RC(cdr_ecdh_p256(z, ekey, cpub), 0);
  CHECK_RC(cdr_session_keys_derive(&fe->keys, z, treq_hash, fe->sid), 0);

  s1 = b64(fe->sid, 16);
  s2 = b64(encap.d, encap.len);
  s3 = b64(sealed.d, sealed.len);
  s4 = b64(sig.d, sig.len);
  resp = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "session_id", s1, "expires_at",
                   (json_int_t)(tamper == 1 ? fe->expires + 60 : fe->expires), "kem",
                   tamper == 4 ? "rsa-oaep-sha256" : cdr_kem_name(o.kem), "encapsulated_key", s2, "sealed", s3,
                   "signature", s4);
  free(s1);
  free(s2);
  free(s3);
  free(s4);
  json_decref(req);
  free(cert);
  free(spki);
  free(usig);
  cdr_buf_free(&treq);
  cdr_buf_free(&tresp);
  cdr_buf_free(&encap);
  cdr_buf_free(&sealed);
  cdr_buf_free(&sig);
  cdr_buf_free(&params);
  EVP_PKEY_free(ekey);
  EVP_PKEY_free(cpub);
  return resp;
}

/* The enclave's answer to a request body: check it, then seal pt_resp
 * with status; the answer's fields can be overridden for tampering. */
static char *enclave_answer(struct fake_enclave *fe, EVP_PKEY *user_pub, const char *body, uint8_t status,
                            const char *pt_resp, uint64_t seq_override, const char *status_override,
                            const uint8_t *ct_hash_override) {
  json_error_t e;
  json_t *req = json_loads(body, 0, &e), *resp;
  struct cdr_request_env env;
  struct cdr_buf sin, pt, ct;
  uint8_t *rct = NULL, *rsig = NULL, *sid = NULL, h[32];
  size_t rct_len = 0, rsig_len = 0, sid_len = 0;
  char *out, *s1, *s2;

  memset(&env, 0, sizeof(env));
  CHECK(req != NULL);
  CHECK_RC(cdr_b64_decode(&sid, &sid_len, json_string_value(json_object_get(req, "session_id")), 16), 0);
  CHECK(sid_len == 16 && memcmp(sid, fe->sid, 16) == 0);
  memcpy(env.session_id, sid, 16);
  env.seq = (uint64_t)json_integer_value(json_object_get(req, "seq"));
  env.timestamp = (uint64_t)json_integer_value(json_object_get(req, "timestamp"));
  CHECK_RC(cdr_b64_decode(&rct, &rct_len, json_string_value(json_object_get(req, "ciphertext")), 1 << 20), 0);
  CHECK_RC(cdr_b64_decode(&rsig, &rsig_len, json_string_value(json_object_get(req, "signature")), 1024), 0);
  env.ct = rct;
  env.ct_len = rct_len;
  cdr_buf_init(&sin, 1024, 0);
  CHECK_RC(cdr_request_sig_input(&sin, &env), 0);
  CHECK_RC(cdr_verify(user_pub, sin.d, sin.len, rsig, rsig_len), 0);
  cdr_buf_init(&pt, 1 << 20, 0);
  CHECK_RC(cdr_request_open(&pt, &fe->keys, &env), 0);
  CHECK_RC(cdr_sha256(h, rct, rct_len), 0);
  cdr_buf_init(&ct, 1 << 20, 0);
  CHECK_RC(cdr_response_seal(&ct, &fe->keys, fe->sid, env.seq, status, ct_hash_override ? ct_hash_override : h,
                             pt_resp, strlen(pt_resp)),
           0);
  s1 = b64(fe->sid, 16);
  s2 = b64(ct.d, ct.len);
  resp = json_pack("{s:s, s:I, s:s, s:s}", "session_id", s1, "seq",
                   (json_int_t)(seq_override ? seq_override : env.seq), "status",
                   status_override ? status_override : (status == 0 ? "ok" : "failed"), "ciphertext", s2);
  if (status != 0)
    json_object_set_new(resp, "error", json_string("request_failed"));
  out = json_dumps(resp, JSON_COMPACT);
  json_decref(resp);
  json_decref(req);
  free(s1);
  free(s2);
  free(sid);
  free(rct);
  free(rsig);
  cdr_buf_free(&sin);
  cdr_buf_free(&pt);
  cdr_buf_free(&ct);
  return out;
}

static void test_session_and_requests(void) {
  EVP_PKEY *ca_key = ec_key(), *user_key = ec_key();
  X509 *ca = make_cert(ca_key, ca_key, NULL, "CDR room CA Test", 'c', -60, 86400);
  X509 *user = make_cert(user_key, ca_key, ca, "alice", 'u', -60, 86400);
  struct fake_enclave fe;
  struct cdr_client *c = NULL;
  struct cdr_open_pending p;
  struct cdr_session *s = NULL;
  char *body = NULL;
  json_t *resp, *plain = NULL;
  int failed = 0;

  memset(&fe, 0, sizeof(fe));
  fe.identity = ec_key();
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:1/"), 0);
  CHECK_STR(c->url, "http://127.0.0.1:1");
  CHECK_RC(cdr_client_set_ca(c, ca), 0);
  CHECK(memcmp(c->room_id, ROOM_ID, 16) == 0);
  CHECK_RC(cdr_client_set_user(c, user_key, user), 0);
  CHECK_RC(cdr_client_check_user_cert(c), 0);
  /* A certificate for another key is refused. */
  EVP_PKEY *k2 = ec_key();
  CHECK_RC(cdr_client_set_user(c, k2, user), CDR_ERR_CERT_KEY_MISMATCH);
  EVP_PKEY_free(k2);

  /* Tampered session-open answers are all refused. */
  for (int tamper = 1; tamper <= 4; tamper++) {
    CHECK_RC(cdr_session_open_build(c, 0, &p, &body), 0);
    resp = enclave_open(&fe, user_key, body, tamper);
    CHECK_RC(cdr_session_open_finish(c, fe.identity, &p, resp, &s), CDR_ERR_RESPONSE_FORGED);
    CHECK(s == NULL);
    json_decref(resp);
    free(body);
    cdr_open_pending_clear(&p);
  }
  /* The good one, and keys agree with the enclave's. */
  CHECK_RC(cdr_session_open_build(c, 0, &p, &body), 0);
  resp = enclave_open(&fe, user_key, body, 0);
  /* ...but not under another identity key. */
  EVP_PKEY *notI = ec_key();
  CHECK_RC(cdr_session_open_finish(c, notI, &p, resp, &s), CDR_ERR_RESPONSE_FORGED);
  EVP_PKEY_free(notI);
  CHECK_RC(cdr_session_open_finish(c, fe.identity, &p, resp, &s), 0);
  CHECK(s != NULL && memcmp(s->keys, &fe.keys, sizeof(fe.keys)) == 0);
  CHECK(s && memcmp(s->id, fe.sid, 16) == 0 && s->expires_at == fe.expires && s->seq == 0);
  json_decref(resp);
  free(body);
  cdr_open_pending_clear(&p);
  if (s == NULL)
    goto out;

  /* A request, then its genuine answer. */
  struct cdr_buf pt, rb;
  struct cdr_pending pend, pend2;
  const char *ok_pt = "{\"ok\":true,\"result\":{\"columns\":[\"n\"],\"rows\":[[1]],\"row_count\":1}}";
  cdr_buf_init(&pt, 1 << 20, 0);
  CHECK_RC(cdr_request_plaintext(&pt, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL, 0), 0);
  cdr_buf_init(&rb, CDR_MAX_HTTP_BODY, 0);
  CHECK_RC(cdr_request_build(c, s, pt.d, pt.len, &pend, &rb), 0);
  CHECK(pend.seq == 1 && s->seq == 1);
  CHECK_RC(cdr_buf_put_u8(&rb, 0), 0);
  char *ans = enclave_answer(&fe, user_key, (char *)rb.d, 0, ok_pt, 0, NULL, NULL);
  CHECK_RC(cdr_response_verify(c, s, &pend, 200, (uint8_t *)ans, strlen(ans), &plain, &failed), 0);
  CHECK(plain != NULL && failed == 0 && json_is_true(json_object_get(plain, "ok")));
  json_decref(plain);
  plain = NULL;
  /* The same answer judged under another HTTP status: forged. */
  CHECK_RC(cdr_response_verify(c, s, &pend, 422, (uint8_t *)ans, strlen(ans), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);
  /* Replayed as the answer to the next request: forged. */
  cdr_buf_free(&rb);
  cdr_buf_init(&rb, CDR_MAX_HTTP_BODY, 0);
  CHECK_RC(cdr_request_build(c, s, pt.d, pt.len, &pend2, &rb), 0);
  CHECK(pend2.seq == 2);
  CHECK_RC(cdr_response_verify(c, s, &pend2, 200, (uint8_t *)ans, strlen(ans), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);
  free(ans);
  CHECK_RC(cdr_buf_put_u8(&rb, 0), 0);
  /* Seq in the answer changed: forged. */
  ans = enclave_answer(&fe, user_key, (char *)rb.d, 0, ok_pt, 7, NULL, NULL);
  CHECK_RC(cdr_response_verify(c, s, &pend2, 200, (uint8_t *)ans, strlen(ans), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);
  free(ans);
  /* Bound to another request ciphertext: forged. */
  uint8_t zero[32] = {0};
  ans = enclave_answer(&fe, user_key, (char *)rb.d, 0, ok_pt, 0, NULL, zero);
  CHECK_RC(cdr_response_verify(c, s, &pend2, 200, (uint8_t *)ans, strlen(ans), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);
  free(ans);
  /* A sealed failure flipped to "ok" by the host: forged. */
  const char *fail_pt = "{\"ok\":false,\"error\":\"sql_denied\",\"message\":\"ATTACH is not allowed\"}";
  ans = enclave_answer(&fe, user_key, (char *)rb.d, 1, fail_pt, 0, "ok", NULL);
  CHECK_RC(cdr_response_verify(c, s, &pend2, 200, (uint8_t *)ans, strlen(ans), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);
  free(ans);
  /* The genuine sealed failure opens, with failed set. */
  ans = enclave_answer(&fe, user_key, (char *)rb.d, 1, fail_pt, 0, NULL, NULL);
  CHECK_RC(cdr_response_verify(c, s, &pend2, 422, (uint8_t *)ans, strlen(ans), &plain, &failed), 0);
  CHECK(failed == 1 && plain != NULL && json_is_false(json_object_get(plain, "ok")));
  json_decref(plain);
  plain = NULL;
  free(ans);
  /* A flipped ciphertext byte: forged. */
  ans = enclave_answer(&fe, user_key, (char *)rb.d, 0, ok_pt, 0, NULL, NULL);
  char *ctp = strstr(ans, "\"ciphertext\":\"");
  if (ctp != NULL) {
    ctp += 14;
    *ctp = *ctp == 'A' ? 'B' : 'A';
  }
  CHECK_RC(cdr_response_verify(c, s, &pend2, 200, (uint8_t *)ans, strlen(ans), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);
  free(ans);
  /* Errors in clear: mapped, sanitised, never success. */
  const char *e1 = "{\"error\":\"replayed\",\"message\":\"seq \\u001b[2J1 was used\"}";
  CHECK_RC(cdr_response_verify(c, s, &pend2, 409, (const uint8_t *)e1, strlen(e1), &plain, &failed),
           CDR_ERR_REPLAY);
  CHECK_STR(c->remote_code, "replayed");
  CHECK_STR(c->remote_message, "seq ?[2J1 was used");
  CHECK(c->remote_sealed == 0);
  const char *e2 = "{\"error\":\"ok\",\"message\":\"fine\"}";
  CHECK_RC(cdr_http_error(c, 400, (const uint8_t *)e2, strlen(e2)), CDR_ERR_SERVER);
  const char *e3 = "{\"error\":\"no_such_code\"}";
  CHECK_RC(cdr_http_error(c, 400, (const uint8_t *)e3, strlen(e3)), CDR_ERR_SERVER);
  CHECK_RC(cdr_http_error(c, 502, (const uint8_t *)"<html>", 6), CDR_ERR_SERVER);
  char text[512];
  CHECK_RC(cdr_http_error(c, 403, (const uint8_t *)e1, strlen(e1)), CDR_ERR_REPLAY);
  cdr_client_error_text(c, CDR_ERR_REPLAY, text, sizeof(text));
  CHECK_STR(text, "server refused the request: replayed: seq ?[2J1 was used");
  /* A 422 without an envelope is not believed. */
  const char *e4 = "{\"error\":\"request_failed\",\"message\":\"nope\"}";
  CHECK_RC(cdr_response_verify(c, s, &pend2, 422, (const uint8_t *)e4, strlen(e4), &plain, &failed),
           CDR_ERR_RESPONSE_FORGED);

  cdr_buf_free(&pt);
  cdr_buf_free(&rb);
out:
  cdr_session_free(s);
  cdr_client_free(c);
  cdr_session_keys_wipe(&fe.keys);
  EVP_PKEY_free(fe.identity);
  X509_free(ca);
  X509_free(user);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(user_key);
}

/* ---------------------------------------------------------------- */
/* enrollment */

/* An /v1/enroll answer {"certificate", "ca_certificate"} (either NULL:
 * left out). */
static json_t *enroll_answer(X509 *cert, X509 *ca) {
  json_t *j = json_object();
  char *pem = NULL;
  if (cert != NULL && cdr_cert_to_pem(cert, &pem) == 0)
    json_object_set_new(j, "certificate", json_string(pem));
  free(pem);
  pem = NULL;
  if (ca != NULL && cdr_cert_to_pem(ca, &pem) == 0)
    json_object_set_new(j, "ca_certificate", json_string(pem));
  free(pem);
  return j;
}

/* Judge one answer: want is the error, at the step where it must stop. */
static void enroll_case(EVP_PKEY *key, const struct cdr_enroll_token *tok, X509 *cert, X509 *ca, int want,
                        enum cdr_enroll_step want_step) {
  struct cdr_client *c = NULL;
  enum cdr_enroll_step step = 0;
  enum cdr_role role = CDR_ROLE_NONE;
  X509 *got = NULL;
  json_t *ans = enroll_answer(cert, ca);
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:1"), 0);
  CHECK_RC(cdr_enroll_finish(c, key, tok, ans, &got, &role, &step), want);
  if (want == 0) {
    CHECK(got != NULL && role == CDR_ROLE_ANALYST && c->have_ca);
  } else {
    CHECK(step == want_step);
    CHECK(got == NULL && c->detail[0] != '\0');
  }
  X509_free(got);
  json_decref(ans);
  cdr_client_free(c);
}

static void test_enroll(void) {
  EVP_PKEY *ca_key = ec_key(), *other_ca_key = ec_key(), *key = ec_key(), *other_key = ec_key();
  X509 *ca = make_cert(ca_key, ca_key, NULL, "CDR room CA Test", 'c', -60, 86400);
  X509 *other_ca = make_cert(other_ca_key, other_ca_key, NULL, "CDR room CA Test", 'c', -60, 86400);
  X509 *cert = make_cert(key, ca_key, ca, "alice", 'u', -60, 86400);
  X509 *cert_bob = make_cert(key, ca_key, ca, "bob", 'u', -60, 86400);
  X509 *cert_other_key = make_cert(other_key, ca_key, ca, "alice", 'u', -60, 86400);
  X509 *cert_other_ca = make_cert(key, other_ca_key, other_ca, "alice", 'u', -60, 86400);
  struct cdr_enroll_token tok;
  enum cdr_enroll_step step = 0;
  char *body = NULL;
  json_t *j;

  memset(&tok, 0, sizeof(tok));
  memcpy(tok.token_id, "0123456789abcdef0123456789abcdef", 33);
  memset(tok.secret, 0x5e, sizeof(tok.secret));
  tok.name = "alice";
  CHECK_RC(cdr_cert_fingerprint(ca, tok.ca_fp), 0);

  /* The request: the token id, a CSR for our key and name, the MAC. */
  CHECK_RC(cdr_enroll_build(key, &tok, &body, &step), 0);
  j = body ? json_loads(body, 0, NULL) : NULL;
  CHECK(j != NULL);
  if (j != NULL) {
    const char *csr = json_string_value(json_object_get(j, "csr"));
    BIO *bio = csr ? BIO_new_mem_buf(csr, -1) : NULL;
    X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
    unsigned char *der = NULL;
    int derlen = req ? i2d_X509_REQ(req, &der) : -1;
    uint8_t want[32];
    char *want_b64 = NULL;
    char cn[64] = "";
    CHECK_STR(json_string_value(json_object_get(j, "token_id")), tok.token_id);
    /* The MAC is PROTOCOL 4.4's over the DER of the CSR the body carries. */
    CHECK(derlen > 0 && cdr_enroll_mac(want, tok.secret, tok.token_id, der, (size_t)derlen) == 0 &&
          cdr_b64_encode(&want_b64, want, sizeof(want)) == 0);
    CHECK_STR(json_string_value(json_object_get(j, "mac")), want_b64);
    CHECK(req != NULL && X509_REQ_verify(req, key) == 1);
    if (req != NULL)
      X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, sizeof(cn));
    CHECK_STR(cn, "alice");
    free(want_b64);
    OPENSSL_free(der);
    X509_REQ_free(req);
    BIO_free(bio);
  }
  json_decref(j);
  free(body);
  body = NULL;
  /* A token id the MAC refuses (upper-case hex) stops at the MAC step. */
  memcpy(tok.token_id, "0123456789ABCDEF0123456789abcdef", 33);
  CHECK_RC(cdr_enroll_build(key, &tok, &body, &step), CDR_ERR_ARG);
  CHECK(step == CDR_ENROLL_MAC && body == NULL);
  memcpy(tok.token_id, "0123456789abcdef0123456789abcdef", 33);

  /* The answer: believed only when every check passes. */
  enroll_case(key, &tok, cert, ca, 0, 0);
  enroll_case(key, &tok, cert, NULL, CDR_ERR_CERT_INVALID, CDR_ENROLL_ANSWER);
  enroll_case(key, &tok, NULL, ca, CDR_ERR_CERT_INVALID, CDR_ENROLL_ANSWER);
  enroll_case(key, &tok, cert, cert, CDR_ERR_CERT_INVALID, CDR_ENROLL_CA);        /* not a CA */
  enroll_case(key, &tok, cert_other_ca, other_ca, CDR_ERR_CERT_UNTRUSTED, CDR_ENROLL_PIN); /* not the token's */
  enroll_case(key, &tok, cert_other_key, ca, CDR_ERR_CERT_KEY_MISMATCH, CDR_ENROLL_KEY);
  enroll_case(key, &tok, cert_other_ca, ca, CDR_ERR_CERT_UNTRUSTED, CDR_ENROLL_VERIFY);
  enroll_case(key, &tok, cert_bob, ca, CDR_ERR_CERT_INVALID, CDR_ENROLL_NAME);

  X509_free(ca);
  X509_free(other_ca);
  X509_free(cert);
  X509_free(cert_bob);
  X509_free(cert_other_key);
  X509_free(cert_other_ca);
  EVP_PKEY_free(ca_key);
  EVP_PKEY_free(other_ca_key);
  EVP_PKEY_free(key);
  EVP_PKEY_free(other_key);
}

/* The client refuses URLs it should not fetch. */
static void test_client_new(void) {
  struct cdr_client *c = NULL;
  CHECK_RC(cdr_client_new(&c, "file:///etc/passwd"), CDR_ERR_ARG);
  CHECK_RC(cdr_client_new(&c, "http://a b"), CDR_ERR_ARG);
  CHECK_RC(cdr_client_new(&c, "https://example.org///"), 0);
  if (c)
    CHECK_STR(c->url, "https://example.org");
  cdr_client_free(c);
}


/* After the first client, jansson frees through the client's wiping
 * free: a freed JSON string's block is all zero, across its whole usable
 * size, when it reaches free(3). */
static const void *wipe_watch;
static int wipe_seen, wipe_zero;
static void wipe_hook(const void *p, size_t n) {
  const unsigned char *b = p;
  size_t i = 0;
  if (p != wipe_watch)
    return;
  wipe_seen = 1;
  while (i < n && b[i] == 0)
    i++;
  wipe_zero = n > 0 && i == n;
}

static void test_json_wipe(void) {
  static const char sql[] = "SELECT salary FROM staff WHERE name = 'a secret name'";
  struct cdr_client *c = NULL;
  json_malloc_t m = NULL;
  json_free_t f = NULL;
  json_t *s;
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:1"), 0);
  cdr_client_free(c);
  json_get_alloc_funcs(&m, &f);
  CHECK(m == malloc && f != free);
  if ((s = json_string(sql)) == NULL) {
    CHECK(0);
    return;
  }
  wipe_watch = json_string_value(s); /* the block jansson made for the copy */
  cdr_client_json_free_hook = wipe_hook;
  json_decref(s);
  cdr_client_json_free_hook = NULL;
  CHECK(wipe_seen);
  CHECK(wipe_zero);
  /* A text jansson hands over (json_dumps) never meets jansson's free:
   * cdr_json_text_free wipes it likewise. */
  char *text = (s = json_pack("{s:s}", "sql", sql)) != NULL ? json_dumps(s, JSON_COMPACT) : NULL;
  json_decref(s);
  CHECK(text != NULL && strstr(text, "a secret name") != NULL);
  wipe_watch = text;
  wipe_seen = wipe_zero = 0;
  cdr_client_json_free_hook = wipe_hook;
  cdr_json_text_free(text);
  cdr_client_json_free_hook = NULL;
  CHECK(wipe_seen);
  CHECK(wipe_zero);
}

/* A remembered audit head of another identity is forgotten (a restart,
 * not a rollback) only on platforms that keep no state; the rule the
 * three processes share decides which those are. */
static void test_head_restarted(void) {
  static const char a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                    b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  CHECK(cdr_platform_keeps_state("sim") && cdr_platform_keeps_state("snp"));
  CHECK(!cdr_platform_keeps_state("tdx") && !cdr_platform_keeps_state("nitro"));
  CHECK(!cdr_platform_keeps_state("auto") && !cdr_platform_keeps_state(NULL));
  CHECK(cdr_audit_head_restarted(a, "tdx", b, "tdx") == 1);
  CHECK(cdr_audit_head_restarted(a, "nitro", b, "nitro") == 1);
  CHECK(cdr_audit_head_restarted(a, "tdx", a, "tdx") == 0);  /* same enclave run: the usual checks */
  CHECK(cdr_audit_head_restarted("", "", b, "tdx") == 0);    /* an older file: nothing to compare */
  CHECK(cdr_audit_head_restarted(a, "snp", b, "tdx") == 0);  /* a head from a platform that keeps state */
  CHECK(cdr_audit_head_restarted(a, "", b, "tdx") == 0);     /* platform not recorded */
  CHECK(cdr_audit_head_restarted(a, "snp", b, "snp") == 0);  /* a new identity there is no excuse */
  CHECK(cdr_audit_head_restarted(a, "sim", b, "sim") == 0);
}

int main(void) {
  test_csv();
  test_table();
  test_profiles();
  test_attest();
  test_session_and_requests();
  test_client_new();
  test_enroll();
  test_json_wipe();
  test_head_restarted();
  return test_summary("test_client");
}
