/*
 * test_room.c - room creation, the HSM-held CA, certificate issuance and
 * enrollment tokens (src/room, src/room/hsm_*.c), against real SoftHSM2
 * tokens in temporary folders.
 *
 *   1. CA key: the private key object in the token is sensitive and
 *      never extractable, and no file under ROOM holds a private key
 *      matching the CA certificate.
 *   2. Issuance from a CSR: subject, role, extensions, signature.
 *   3. Tokens: success, reuse, expiry, wrong secret, unknown id, bad CSR
 *      signature (not consumed), subject mismatch, concurrent redemption.
 *   4. cdr_room_open reads back what init wrote.
 *   5. Both PIN paths (generated / CDR_HSM_PIN), an external token, and
 *      cleanup after a failed init.
 */
#include <errno.h>
#include <ftw.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "room/hsm.h"
#include "crypto/x509.h"
#include "room/room.h"
#include "testlib.h"

static char *join(const char *a, const char *b) {
  char *p = cdr_path_join(a, b);
  if (p == NULL)
    abort();
  return p;
}

static int rm_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_rf(const char *dir) { (void)nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static int file_exists(const char *dir, const char *rel) {
  char *p = join(dir, rel);
  int ok = access(p, F_OK) == 0;
  free(p);
  return ok;
}

static int file_mode(const char *dir, const char *rel) {
  char *p = join(dir, rel);
  struct stat st;
  int m = stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
  free(p);
  return m;
}

/* A CSR for cn, self-signed by key, or signed by other_signer instead
 * (a bad proof of possession). */
static X509_REQ *make_csr(EVP_PKEY *key, const char *cn, EVP_PKEY *other_signer) {
  X509_REQ *req = X509_REQ_new();
  X509_NAME *n = X509_NAME_new();
  if (req == NULL || n == NULL)
    abort();
  X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
  X509_REQ_set_subject_name(req, n);
  X509_NAME_free(n);
  X509_REQ_set_pubkey(req, key);
  if (X509_REQ_sign(req, other_signer ? other_signer : key, EVP_sha256()) <= 0)
    abort();
  return req;
}

static char *csr_pem(X509_REQ *req, size_t *len) {
  BIO *b = BIO_new(BIO_s_mem());
  BUF_MEM *bm;
  PEM_write_bio_X509_REQ(b, req);
  BIO_get_mem_ptr(b, &bm);
  char *s = malloc(bm->length + 1);
  memcpy(s, bm->data, bm->length);
  s[bm->length] = '\0';
  *len = bm->length;
  BIO_free(b);
  return s;
}

/* Redeem token with req as a client would: MAC over the CSR's DER with
 * the token's secret (or a wrong one when tamper is set). */
static int redeem(const struct cdr_room *room, struct cdr_ca *ca, const char *token, X509_REQ *req, int tamper,
                  X509 **cert) {
  char id[33], *name = NULL;
  uint8_t secret[32], mac[32];
  unsigned char *der = NULL;
  size_t pemlen;
  int r;
  if ((r = cdr_token_parse(token, id, secret, &name, NULL)) != 0)
    return r;
  int derlen = i2d_X509_REQ(req, &der);
  if (tamper)
    secret[0] ^= 1;
  if ((r = cdr_enroll_mac(mac, secret, id, der, (size_t)derlen)) != 0)
    return r;
  char *pem = csr_pem(req, &pemlen);
  r = cdr_enroll_redeem(room, ca, id, mac, pem, pemlen, cert);
  free(pem);
  free(name);
  OPENSSL_free(der);
  OPENSSL_cleanse(secret, sizeof(secret));
  return r;
}

static int token_for(const struct cdr_room *room, const char *name, enum cdr_role role, char **token) {
  struct cdr_token_info info;
  int r = cdr_token_create(room, name, role, 3600, 86400 * 30, token, &info);
  if (r == 0) {
    CHECK_STR(info.name, name);
    CHECK(info.role == role);
    CHECK(strlen(info.token_id) == 32);
    CHECK(info.expires_at > cdr_now() + 3500);
    free(info.name);
  }
  return r;
}

/* The UTF-8 value of the single nid entry of a name, or NULL. */
static char *name_entry(const X509_NAME *n, int nid, int *type) {
  int idx = X509_NAME_get_index_by_NID(n, nid, -1);
  if (idx < 0)
    return NULL;
  ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx));
  if (type)
    *type = ASN1_STRING_type(s);
  unsigned char *u = NULL;
  int len = ASN1_STRING_to_UTF8(&u, s);
  if (len < 0)
    return NULL;
  char *out = strndup((char *)u, (size_t)len);
  OPENSSL_free(u);
  return out;
}

static int ext_critical(X509 *x, int nid) {
  int idx = X509_get_ext_by_NID(x, nid, -1);
  return idx < 0 ? -1 : X509_EXTENSION_get_critical(X509_get_ext(x, idx));
}

/* ---- 1. the CA key stays in the token ---- */

static EVP_PKEY *walk_ca_pub;
static int walk_hits, walk_privkey_files;

static int walk_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F || !S_ISREG(sb->st_mode))
    return 0;
  uint8_t *data = NULL;
  size_t len = 0;
  if (cdr_file_read(path, &data, &len, 64 * CDR_MiB) != 0)
    return 0;
  if (memmem(data, len, "PRIVATE KEY", 11) != NULL) {
    BIO *b = BIO_new_mem_buf(data, (int)len);
    EVP_PKEY *k;
    walk_privkey_files++;
    while ((k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) != NULL) {
      if (EVP_PKEY_eq(k, walk_ca_pub) == 1) {
        fprintf(stderr, "CA private key found in %s\n", path);
        walk_hits++;
      }
      EVP_PKEY_free(k);
    }
    ERR_clear_error();
    BIO_free(b);
  }
  OPENSSL_clear_free(data, len + 1);
  return 0;
}

static void test_ca_key_in_token(const struct cdr_room *room) {
  struct cdr_hsm *h = NULL;
  struct cdr_hsm_object *objs = NULL;
  size_t n = 0;
  char *pin = NULL, *hsm_dir = join(room->dir, "hsm");
  int found_priv = 0, found_pub = 0;

  CHECK_RC(cdr_hsm_softhsm_use(hsm_dir), 0);
  CHECK_RC(cdr_room_user_pin(room, &pin), 0);
  CHECK_RC(cdr_hsm_load(&h, room->pkcs11_module), 0);
  if (h != NULL && pin != NULL) {
    CHECK_RC(cdr_hsm_login(h, room->token_label, pin), 0);
    CHECK_RC(cdr_hsm_list_objects(h, &objs, &n), 0);
    for (size_t i = 0; i < n; i++) {
      if (strcmp(objs[i].label, room->ca_key_label) != 0)
        continue;
      CHECK_STR(objs[i].id_hex, room->room_id);
      if (objs[i].cls == 3 /* CKO_PRIVATE_KEY */) {
        found_priv++;
        CHECK_STR(cdr_hsm_class_name(objs[i].cls), "private-key");
        CHECK(objs[i].is_private == 1);
        CHECK(objs[i].sensitive == 1);
        CHECK(objs[i].extractable == 0);
        CHECK(objs[i].always_sensitive == 1);
        CHECK(objs[i].never_extractable == 1);
      } else if (objs[i].cls == 2 /* CKO_PUBLIC_KEY */) {
        found_pub++;
      }
    }
    CHECK(found_priv == 1);
    CHECK(found_pub == 1);
    /* The public key in the token is the one in ca.crt. */
    EVP_PKEY *pub = NULL;
    CHECK_RC(cdr_hsm_public_key(h, room->ca_key_label, &pub), 0);
    CHECK(pub != NULL && EVP_PKEY_eq(pub, X509_get0_pubkey(room->ca_cert)) == 1);
    EVP_PKEY_free(pub);
    /* Generation refuses a label that is taken. */
    uint8_t id[4] = {1, 2, 3, 4};
    CHECK_RC(cdr_hsm_generate_ec_p256(h, room->ca_key_label, id, sizeof(id), NULL), CDR_ERR_ARG);
  }
  cdr_hsm_objects_free(objs, n);
  cdr_hsm_unload(h);
  if (pin)
    OPENSSL_clear_free(pin, strlen(pin));
  free(hsm_dir);

  walk_ca_pub = X509_get0_pubkey(room->ca_cert);
  walk_hits = walk_privkey_files = 0;
  CHECK(nftw(room->dir, walk_cb, 16, FTW_PHYS) == 0);
  CHECK(walk_hits == 0);
  CHECK(walk_privkey_files >= 1); /* the walker does see attestation/sim-platform.key */
}

static void test_ca_cert(const struct cdr_room *room, const char *name) {
  X509 *ca = room->ca_cert;
  char *cn, *o, *ou, expect[256];
  CHECK(X509_verify(ca, X509_get0_pubkey(ca)) == 1);
  CHECK(X509_check_ca(ca) == 1);
  CHECK(ext_critical(ca, NID_basic_constraints) == 1);
  CHECK(ext_critical(ca, NID_key_usage) == 1);
  CHECK((X509_get_key_usage(ca) & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  CHECK(X509_get_pathlen(ca) == 0);
  CHECK(X509_get0_subject_key_id(ca) != NULL);
  snprintf(expect, sizeof(expect), "CDR room CA %s", name);
  CHECK_STR(cn = name_entry(X509_get_subject_name(ca), NID_commonName, NULL), expect);
  CHECK_STR(o = name_entry(X509_get_subject_name(ca), NID_organizationName, NULL), name);
  CHECK_STR(ou = name_entry(X509_get_subject_name(ca), NID_organizationalUnitName, NULL), room->room_id);
  free(cn);
  free(o);
  free(ou);
  CHECK(X509_cmp_current_time(X509_get0_notBefore(ca)) < 0);
  CHECK(X509_cmp_time(X509_get0_notAfter(ca), &(time_t){time(NULL) + 3640 * 86400}) > 0);
}

/* The sim platform key and certificate written by init. */
static void test_sim_platform(const struct cdr_room *room) {
  char *kp = join(room->dir, "attestation/sim-platform.key");
  char *cp = join(room->dir, "attestation/sim-platform.crt");
  EVP_PKEY *k = NULL;
  X509 *c = NULL;
  char *cn = NULL;
  CHECK(file_mode(room->dir, "attestation/sim-platform.key") == 0600);
  CHECK_RC(cdr_key_load_pem(kp, &k), 0);
  CHECK_RC(cdr_cert_load_pem(cp, &c), 0);
  if (k != NULL && c != NULL) {
    CHECK(EVP_PKEY_eq(k, X509_get0_pubkey(c)) == 1);
    CHECK(X509_verify(c, X509_get0_pubkey(room->ca_cert)) == 1);
    CHECK_STR(cn = name_entry(X509_get_subject_name(c), NID_commonName, NULL), "CDR simulated attestation platform");
    CHECK(X509_check_ca(c) == 0);
    CHECK((X509_get_key_usage(c) & KU_DIGITAL_SIGNATURE) != 0);
    CHECK(ext_critical(c, NID_key_usage) == 1);
    CHECK(ASN1_TIME_compare(X509_get0_notAfter(c), X509_get0_notAfter(room->ca_cert)) == 0);
    CHECK(ASN1_TIME_compare(X509_get0_notBefore(c), X509_get0_notBefore(room->ca_cert)) == 0);
  }
  free(cn);
  EVP_PKEY_free(k);
  X509_free(c);
  free(kp);
  free(cp);
}

/* ---- 2. issuance ---- */

static void check_user_cert(const struct cdr_room *room, X509 *cert, const char *name, const char *role) {
  char *s;
  int type = 0;
  CHECK(X509_verify(cert, X509_get0_pubkey(room->ca_cert)) == 1);
  CHECK_STR(s = name_entry(X509_get_subject_name(cert), NID_commonName, NULL), name);
  free(s);
  CHECK_STR(s = name_entry(X509_get_subject_name(cert), NID_role, &type), role);
  CHECK(type == V_ASN1_UTF8STRING);
  free(s);
  CHECK_STR(s = name_entry(X509_get_subject_name(cert), NID_organizationName, NULL), room->name);
  free(s);
  CHECK_STR(s = name_entry(X509_get_subject_name(cert), NID_organizationalUnitName, NULL), room->room_id);
  free(s);
  CHECK(X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(room->ca_cert)) == 0);
  CHECK(X509_check_ca(cert) == 0);
  CHECK(ext_critical(cert, NID_basic_constraints) == 1);
  CHECK(ext_critical(cert, NID_key_usage) == 1);
  CHECK(X509_get_key_usage(cert) == KU_DIGITAL_SIGNATURE);
  CHECK(X509_get_extended_key_usage(cert) == XKU_SSL_CLIENT);
  CHECK(X509_get0_subject_key_id(cert) != NULL);
  CHECK(X509_get0_authority_key_id(cert) != NULL &&
        ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(room->ca_cert)) == 0);
  CHECK(ASN1_STRING_length(X509_get0_serialNumber(cert)) == 16);
  /* The lead's verifier accepts it too. */
  enum cdr_role got = CDR_ROLE_NONE;
  char *vname = NULL;
  CHECK_RC(cdr_cert_verify_user(room->ca_cert, cert, cdr_now(), &got, &vname), 0);
  CHECK(got == cdr_role_from_name(role));
  CHECK_STR(vname, name);
  free(vname);
}

static void test_issue(const struct cdr_room *room, struct cdr_ca *ca) {
  EVP_PKEY *k = NULL, *rsa = NULL, *other = NULL;
  X509_REQ *req = NULL, *got = NULL;
  X509 *cert = NULL;
  size_t len;
  char *pem;

  CHECK_RC(cdr_key_generate(&k, "ec", 0), 0);
  req = make_csr(k, "alice", NULL);
  pem = csr_pem(req, &len);
  CHECK_RC(cdr_csr_check(pem, len, "alice", &got), 0);
  CHECK_RC(cdr_ca_issue_user(ca, room, got, "alice", CDR_ROLE_ANALYST, 86400, &cert), 0);
  if (cert != NULL) {
    check_user_cert(room, cert, "alice", "analyst");
    CHECK(EVP_PKEY_eq(X509_get0_pubkey(cert), k) == 1);
    /* validity: [now-60, now+1d] */
    CHECK(X509_cmp_current_time(X509_get0_notBefore(cert)) < 0);
    CHECK(X509_cmp_time(X509_get0_notAfter(cert), &(time_t){time(NULL) + 86400 + 5}) < 0);
    CHECK(X509_cmp_time(X509_get0_notAfter(cert), &(time_t){time(NULL) + 86400 - 60}) > 0);
  }
  X509_free(cert);
  cert = NULL;
  /* Validity beyond the CA's is clamped to the CA's notAfter. */
  CHECK_RC(cdr_ca_issue_user(ca, room, got, "alice", CDR_ROLE_AUDITOR, (int64_t)99 * 365 * 86400, &cert), 0);
  CHECK(cert != NULL && ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(room->ca_cert)) == 0);
  X509_free(cert);
  cert = NULL;
  CHECK_RC(cdr_ca_issue_user(ca, room, got, "alice", CDR_ROLE_NONE, 86400, &cert), CDR_ERR_ARG);
  CHECK_RC(cdr_ca_issue_user(ca, room, got, "bad,name", CDR_ROLE_ANALYST, 86400, &cert), CDR_ERR_ARG);
  X509_REQ_free(got);
  got = NULL;
  /* CSR checks */
  CHECK_RC(cdr_csr_check(pem, len, "bob", &got), CDR_ERR_CSR_SUBJECT);
  CHECK_RC(cdr_csr_check(pem, len, "alic", &got), CDR_ERR_CSR_SUBJECT);
  CHECK_RC(cdr_csr_check("garbage", 7, "alice", &got), CDR_ERR_CSR_INVALID);
  CHECK_RC(cdr_csr_check(pem, 40, "alice", &got), CDR_ERR_CSR_INVALID);
  free(pem);
  X509_REQ_free(req);
  CHECK_RC(cdr_key_generate(&other, "ec", 0), 0);
  req = make_csr(k, "alice", other);
  pem = csr_pem(req, &len);
  CHECK_RC(cdr_csr_check(pem, len, "alice", &got), CDR_ERR_CSR_BAD_SIGNATURE);
  free(pem);
  X509_REQ_free(req);
  /* RSA 2048 is a user key type; the certificate carries it. */
  CHECK_RC(cdr_key_generate(&rsa, "rsa", 2048), 0);
  req = make_csr(rsa, "Zoë Ångström", NULL);
  pem = csr_pem(req, &len);
  CHECK_RC(cdr_csr_check(pem, len, "Zoë Ångström", &got), 0);
  CHECK_RC(cdr_ca_issue_user(ca, room, got, "Zoë Ångström", CDR_ROLE_PROVIDER, 3600, &cert), 0);
  if (cert != NULL)
    check_user_cert(room, cert, "Zoë Ångström", "provider");
  X509_free(cert);
  X509_REQ_free(got);
  free(pem);
  X509_REQ_free(req);
  EVP_PKEY_free(k);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(other);
}

/* ---- 3. tokens ---- */

static void set_expiry(const struct cdr_room *room, const char *token_id, int64_t at) {
  char *path = join(room->dir, "host.db");
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "UPDATE tokens SET expires_at = ?1 WHERE id = ?2", -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_int64(st, 1, at);
  sqlite3_bind_text(st, 2, token_id, -1, SQLITE_STATIC);
  CHECK(sqlite3_step(st) == SQLITE_DONE);
  CHECK(sqlite3_changes(db) == 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  free(path);
}

static void test_token_strings(const struct cdr_room *room) {
  char *tok = NULL, id[33], *name = NULL;
  uint8_t secret[32];
  static const char *bad_names[] = {"", " alice", "alice ", "#alice", "a,b", "a=b", "a+b", "a\"b", "a\\b",
                                    "a<b", "a>b", "a;b", "a/b", "a\nb", "a\tb", "a\x7f", "\xc3\x28",
                                    ("\xe2\x80\xae" "evil"), "\xc0\xaf", "\xed\xa0\x80"};
  for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
    CHECK_RC(cdr_token_create(room, bad_names[i], CDR_ROLE_ANALYST, 3600, 3600, &tok, NULL), CDR_ERR_ARG);
  char longname[CDR_MAX_NAME_LEN + 2];
  memset(longname, 'x', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  CHECK_RC(cdr_token_create(room, longname, CDR_ROLE_ANALYST, 3600, 3600, &tok, NULL), CDR_ERR_ARG);
  longname[CDR_MAX_NAME_LEN] = '\0';
  CHECK_RC(cdr_token_create(room, longname, CDR_ROLE_ANALYST, 3600, 3600, &tok, NULL), 0);
  free(tok);
  CHECK_RC(cdr_token_create(room, "carol", CDR_ROLE_NONE, 3600, 3600, &tok, NULL), CDR_ERR_ARG);
  CHECK_RC(cdr_token_create(room, "carol", CDR_ROLE_ANALYST, 0, 3600, &tok, NULL), CDR_ERR_ARG);
  CHECK_RC(cdr_token_create(room, "carol", CDR_ROLE_ANALYST, 3600, 0, &tok, NULL), CDR_ERR_ARG);

  CHECK_RC(cdr_token_create(room, "Zoë", CDR_ROLE_AUDITOR, 3600, 3600, &tok, NULL), 0);
  CHECK(tok != NULL && strncmp(tok, "cdr1.", 5) == 0);
  CHECK_RC(cdr_token_parse(tok, id, secret, &name, NULL), 0);
  CHECK_STR(name, "Zoë");
  CHECK(strncmp(tok + 5, id, 32) == 0);
  free(name);
  name = NULL;
  /* malformed strings */
  size_t n = strlen(tok);
  char *t2 = malloc(n + 8);
  static const char *bad_tokens[] = {"", "cdr1", "cdr1....", "cdr2.00000000000000000000000000000000.AAAA.YQ.AAAA",
                                     "cdr1.0000000000000000000000000000000g.AAAA.YQ.AAAA",
                                     "cdr1.00000000000000000000000000000000.AAAA.YQ"};
  for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++)
    CHECK_RC(cdr_token_parse(bad_tokens[i], id, secret, &name, NULL), CDR_ERR_ARG);
  snprintf(t2, n + 8, "%s.x", tok);
  CHECK_RC(cdr_token_parse(t2, id, secret, &name, NULL), CDR_ERR_ARG); /* six parts */
  memcpy(t2, tok, n + 1);
  t2[5 + 32 + 1 + 10] = '\0'; /* short secret, three parts */
  CHECK_RC(cdr_token_parse(t2, id, secret, &name, NULL), CDR_ERR_ARG);
  free(t2);
  free(tok);
}

static void test_tokens(const struct cdr_room *room, struct cdr_ca *ca) {
  EVP_PKEY *k = NULL, *other = NULL;
  X509_REQ *req = NULL, *bad = NULL, *wrong_cn = NULL;
  X509 *cert = NULL;
  char *tok = NULL, id[33], *name = NULL;
  uint8_t secret[32], mac[32];

  CHECK_RC(cdr_key_generate(&k, "ec", 0), 0);
  CHECK_RC(cdr_key_generate(&other, "ec", 0), 0);
  req = make_csr(k, "dave", NULL);
  bad = make_csr(k, "dave", other);
  wrong_cn = make_csr(k, "mallory", NULL);

  CHECK_RC(token_for(room, "dave", CDR_ROLE_PROVIDER, &tok), 0);
  /* Failures first: none of them consumes the token. */
  CHECK_RC(redeem(room, ca, tok, bad, 0, &cert), CDR_ERR_CSR_BAD_SIGNATURE);
  CHECK(cert == NULL);
  CHECK_RC(redeem(room, ca, tok, wrong_cn, 0, &cert), CDR_ERR_CSR_SUBJECT);
  CHECK_RC(redeem(room, ca, tok, req, 1, &cert), CDR_ERR_TOKEN_INVALID);
  /* A MAC over one CSR does not redeem another. */
  {
    unsigned char *der = NULL;
    size_t pemlen;
    int derlen = i2d_X509_REQ(wrong_cn, &der);
    CHECK_RC(cdr_token_parse(tok, id, secret, &name, NULL), 0);
    CHECK_RC(cdr_enroll_mac(mac, secret, id, der, (size_t)derlen), 0);
    char *pem = csr_pem(req, &pemlen);
    CHECK_RC(cdr_enroll_redeem(room, ca, id, mac, pem, pemlen, &cert), CDR_ERR_TOKEN_INVALID);
    /* unknown id: a well-formed id that was never issued, and a bad one */
    char unknown[33];
    memcpy(unknown, id, sizeof(unknown));
    unknown[0] = unknown[0] == 'a' ? 'b' : 'a';
    CHECK_RC(cdr_enroll_redeem(room, ca, unknown, mac, pem, pemlen, &cert), CDR_ERR_TOKEN_UNKNOWN);
    CHECK_RC(cdr_enroll_redeem(room, ca, "nope", mac, pem, pemlen, &cert), CDR_ERR_TOKEN_UNKNOWN);
    CHECK_RC(cdr_enroll_redeem(room, ca, id, mac, "junk", 4, &cert), CDR_ERR_CSR_INVALID);
    free(pem);
    free(name);
    name = NULL;
    OPENSSL_free(der);
  }
  /* Success, then reuse. */
  CHECK_RC(redeem(room, ca, tok, req, 0, &cert), 0);
  if (cert != NULL)
    check_user_cert(room, cert, "dave", "provider");
  X509_free(cert);
  cert = NULL;
  CHECK_RC(redeem(room, ca, tok, req, 0, &cert), CDR_ERR_TOKEN_USED);
  CHECK(cert == NULL);
  free(tok);
  tok = NULL;

  /* Expiry. */
  CHECK_RC(token_for(room, "dave", CDR_ROLE_ANALYST, &tok), 0);
  CHECK_RC(cdr_token_parse(tok, id, secret, NULL, NULL), 0);
  set_expiry(room, id, cdr_now() - 1);
  CHECK_RC(redeem(room, ca, tok, req, 0, &cert), CDR_ERR_TOKEN_EXPIRED);
  /* wrong secret is reported before expiry */
  CHECK_RC(redeem(room, ca, tok, req, 1, &cert), CDR_ERR_TOKEN_INVALID);
  set_expiry(room, id, cdr_now() + 600);
  CHECK_RC(redeem(room, ca, tok, req, 0, &cert), 0);
  X509_free(cert);
  cert = NULL;
  free(tok);
  tok = NULL;

  X509_REQ_free(req);
  X509_REQ_free(bad);
  X509_REQ_free(wrong_cn);
  EVP_PKEY_free(k);
  EVP_PKEY_free(other);
  OPENSSL_cleanse(secret, sizeof(secret));
}

/* Two processes redeem one token at once: exactly one wins.  Called
 * with no CA open in this process (each child opens its own). */
static void test_concurrent(const struct cdr_room *room) {
  EVP_PKEY *k = NULL;
  X509_REQ *req;
  char *tok = NULL;
  pid_t kids[2];
  int wins = 0, used = 0;

  CHECK_RC(cdr_key_generate(&k, "ec", 0), 0);
  req = make_csr(k, "erin", NULL);
  CHECK_RC(token_for(room, "erin", CDR_ROLE_AUDITOR, &tok), 0);
  /* The children open the CA one after the other (SoftHSM2 logins
   * rewrite the token file), then redeem at the same moment. */
  int ready[2], go[2];
  char c = 0;
  CHECK(pipe(ready) == 0 && pipe(go) == 0);
  fflush(NULL);
  for (int i = 0; i < 2; i++) {
    kids[i] = fork();
    if (kids[i] == 0) {
      struct cdr_ca *kca = NULL;
      X509 *kc = NULL;
      int r = cdr_ca_open(room, &kca);
      if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
        _exit(3);
      if (r == 0)
        r = redeem(room, kca, tok, req, 0, &kc);
      X509_free(kc);
      cdr_ca_close(kca);
      _exit(r == 0 ? 0 : r == CDR_ERR_TOKEN_USED ? 1 : 2);
    }
    CHECK(read(ready[0], &c, 1) == 1);
  }
  CHECK(write(go[1], "gg", 2) == 2);
  close(ready[0]);
  close(ready[1]);
  close(go[0]);
  close(go[1]);
  for (int i = 0; i < 2; i++) {
    int st = 0;
    waitpid(kids[i], &st, 0);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
      wins++;
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
      used++;
  }
  CHECK(wins == 1);
  CHECK(used == 1);
  free(tok);
  X509_REQ_free(req);
  EVP_PKEY_free(k);
}

/* ---- 4. reopening ---- */

static void test_reopen(const struct cdr_room *room) {
  struct cdr_room *again = NULL;
  CHECK_RC(cdr_room_open(room->dir, &again), 0);
  if (again == NULL)
    return;
  CHECK_STR(again->room_id, room->room_id);
  CHECK_STR(again->name, room->name);
  CHECK_STR(again->dir, room->dir);
  CHECK_STR(again->pkcs11_module, room->pkcs11_module);
  CHECK_STR(again->token_label, room->token_label);
  CHECK_STR(again->ca_key_label, room->ca_key_label);
  CHECK_STR(again->attestation, "sim");
  CHECK(again->embedded_softhsm == room->embedded_softhsm);
  CHECK(again->created_at == room->created_at);
  CHECK(X509_cmp(again->ca_cert, room->ca_cert) == 0);
  cdr_room_free(again);
}

/* A complete exercise of one freshly initialised room. */
static void exercise_room(struct cdr_room *room, const char *name) {
  struct cdr_ca *ca = NULL;
  test_ca_cert(room, name);
  test_ca_key_in_token(room);
  test_sim_platform(room);
  test_reopen(room);
  CHECK_RC(cdr_ca_open(room, &ca), 0);
  if (ca != NULL) {
    test_issue(room, ca);
    test_tokens(room, ca);
  }
  cdr_ca_close(ca);
  test_concurrent(room);
  test_token_strings(room);
}

/* docs/PROTOCOL.md section 7: enroll_mac. */
static void test_enroll_mac_vector(void) {
  uint8_t secret[32], der[4], want[32], mac[32];
  CHECK_RC(cdr_hex_decode(secret, 32, "7365637265747365637265747365637265747365637265747365637265747321"), 0);
  CHECK_RC(cdr_hex_decode(der, 4, "3082c5e2"), 0);
  CHECK_RC(cdr_hex_decode(want, 32, "53188fb140b2e7e1f0812f9a821e456eeb9b2d7c537ec5de197820b5aa8d68a7"), 0);
  CHECK_RC(cdr_enroll_mac(mac, secret, "0123456789abcdef0123456789abcdef", der, sizeof(der)), 0);
  CHECK(memcmp(mac, want, 32) == 0);
  CHECK_RC(cdr_enroll_mac(mac, secret, "0123456789ABCDEF0123456789abcdef", der, sizeof(der)), CDR_ERR_ARG);
  CHECK_RC(cdr_enroll_mac(mac, secret, "0123456789abcdef", der, sizeof(der)), CDR_ERR_ARG);
}

int main(void) {
  char tmpl[] = "/tmp/cdr-test-room-XXXXXX";
  char *base = mkdtemp(tmpl);
  struct cdr_room *room = NULL;
  int gen = -1;

  if (base == NULL || access(CDR_SOFTHSM_MODULE, R_OK) != 0) {
    fprintf(stderr, "test_room: needs a temporary folder and %s\n", CDR_SOFTHSM_MODULE);
    return 1;
  }
  umask(022);
  test_enroll_mac_vector();

  /* Room A: embedded token, generated PIN. */
  unsetenv("CDR_HSM_PIN");
  char *a = join(base, "room-a");
  struct cdr_room_init_opts opts = {.name = "Clinical Trial 7"};
  CHECK_RC(cdr_room_init(a, &opts, &room, &gen), 0);
  CHECK(gen == 1);
  if (room != NULL) {
    CHECK(room->dir[0] == '/');
    CHECK(room->embedded_softhsm == 1);
    CHECK(strlen(room->room_id) == 32);
    CHECK(file_mode(a, "hsm/user-pin") == 0600);
    CHECK(file_mode(a, "host.db") == 0600);
    CHECK(file_mode(a, "hsm/softhsm2.conf") == 0600);
    CHECK(file_exists(a, "room.json") && file_exists(a, "ca.crt"));
    CHECK(file_exists(a, "attestation/sim-platform.crt"));
    exercise_room(room, "Clinical Trial 7");
    cdr_room_free(room);
    room = NULL;
  }
  /* Not a room, and a non-empty folder is refused without damage. */
  CHECK_RC(cdr_room_open(base, &room), CDR_ERR_NOT_FOUND);
  CHECK_RC(cdr_room_open("/nonexistent/cdr-room", &room), CDR_ERR_NOT_FOUND);
  CHECK(cdr_room_init(a, NULL, &room, &gen) != 0);
  CHECK(file_exists(a, "room.json"));

  /* Room B: embedded token, PIN from CDR_HSM_PIN, default name. */
  setenv("CDR_HSM_PIN", "test-pin-1234", 1);
  char *b = join(base, "room-b");
  CHECK(mkdir(b, 0700) == 0); /* an existing empty folder is accepted */
  CHECK_RC(cdr_room_init(b, NULL, &room, &gen), 0);
  CHECK(gen == 0);
  CHECK(!file_exists(b, "hsm/user-pin"));
  if (room != NULL) {
    char def[64];
    snprintf(def, sizeof(def), "CDR room %.8s", room->room_id);
    CHECK_STR(room->name, def);
    exercise_room(room, def);
    /* Without the PIN the CA cannot be opened. */
    struct cdr_ca *ca = NULL;
    char *pin = NULL;
    unsetenv("CDR_HSM_PIN");
    CHECK_RC(cdr_room_user_pin(room, &pin), CDR_ERR_HSM);
    CHECK_RC(cdr_ca_open(room, &ca), CDR_ERR_HSM);
    setenv("CDR_HSM_PIN", "wrong-pin-0000", 1);
    CHECK_RC(cdr_ca_open(room, &ca), CDR_ERR_HSM);
    cdr_room_free(room);
    room = NULL;
  }

  /* A failed init removes what it created: a PIN the token refuses. */
  setenv("CDR_HSM_PIN", "12", 1);
  char *c = join(base, "room-c");
  CHECK_RC(cdr_room_init(c, NULL, &room, &gen), CDR_ERR_ARG);
  CHECK(room == NULL);
  CHECK(access(c, F_OK) != 0 && errno == ENOENT);
  struct cdr_room_init_opts badopts = {.name = "a,b"};
  CHECK_RC(cdr_room_init(c, &badopts, &room, &gen), CDR_ERR_ARG);
  CHECK(access(c, F_OK) != 0);

  /* Room D: an "external" token (SoftHSM2 outside the room, initialised
   * beforehand), addressed by module path and token label. */
  char *ext = join(base, "external-hsm");
  CHECK(mkdir(ext, 0700) == 0);
  CHECK_RC(cdr_hsm_softhsm_write_conf(ext), 0);
  CHECK_RC(cdr_hsm_softhsm_use(ext), 0);
  struct cdr_hsm *h = NULL;
  CHECK_RC(cdr_hsm_load(&h, CDR_SOFTHSM_MODULE), 0);
  if (h != NULL) {
    CHECK_RC(cdr_hsm_init_token(h, "external token", "so-pin-5678", "user-pin-5678"), 0);
    CHECK(cdr_hsm_init_token(h, "external token", "so-pin-5678", "user-pin-5678") != 0); /* label taken */
    CHECK_RC(cdr_hsm_login(h, "external token", "user-pin-5678"), 0);
    uint8_t id[2] = {7, 7};
    CHECK_RC(cdr_hsm_generate_ec_p256(h, "someone else's key", id, sizeof(id), NULL), 0);
  }
  cdr_hsm_unload(h);
  h = NULL;
  setenv("CDR_HSM_PIN", "user-pin-5678", 1);
  char *d = join(base, "room-d");
  struct cdr_room_init_opts extopts = {.name = "External", .pkcs11_module = CDR_SOFTHSM_MODULE,
                                       .token_label = "external token", .ca_validity_days = 30};
  CHECK_RC(cdr_room_init(d, &extopts, &room, &gen), 0);
  CHECK(gen == 0);
  CHECK(!file_exists(d, "hsm"));
  if (room != NULL) {
    struct cdr_ca *ca = NULL;
    CHECK(room->embedded_softhsm == 0);
    CHECK_STR(room->token_label, "external token");
    CHECK(X509_cmp_time(X509_get0_notAfter(room->ca_cert), &(time_t){time(NULL) + 31 * 86400}) < 0);
    test_reopen(room);
    CHECK_RC(cdr_ca_open(room, &ca), 0);
    if (ca != NULL)
      test_tokens(room, ca);
    cdr_ca_close(ca);
    test_concurrent(room);
    /* The other key in the token is untouched, ours is protected. */
    CHECK_RC(cdr_hsm_load(&h, CDR_SOFTHSM_MODULE), 0);
    if (h != NULL) {
      struct cdr_hsm_object *objs = NULL;
      size_t n = 0, ours = 0, theirs = 0;
      CHECK_RC(cdr_hsm_login(h, "external token", "user-pin-5678"), 0);
      CHECK_RC(cdr_hsm_list_objects(h, &objs, &n), 0);
      for (size_t i = 0; i < n; i++) {
        if (strcmp(objs[i].label, room->ca_key_label) == 0) {
          ours++;
          if (objs[i].cls == 3)
            CHECK(objs[i].sensitive == 1 && objs[i].extractable == 0 && objs[i].never_extractable == 1);
        } else if (strcmp(objs[i].label, "someone else's key") == 0) {
          theirs++;
        }
      }
      CHECK(ours == 2);
      CHECK(theirs == 2);
      cdr_hsm_objects_free(objs, n);
    }
    cdr_hsm_unload(h);
    h = NULL;
    cdr_room_free(room);
    room = NULL;
  }
  /* External token without a PIN: refused, nothing left behind. */
  unsetenv("CDR_HSM_PIN");
  char *e = join(base, "room-e");
  CHECK_RC(cdr_room_init(e, &extopts, &room, &gen), CDR_ERR_HSM);
  CHECK(access(e, F_OK) != 0);

  rm_rf(base);
  CHECK(access(base, F_OK) != 0);
  free(a);
  free(b);
  free(c);
  free(d);
  free(e);
  free(ext);
  return test_summary("test_room");
}
