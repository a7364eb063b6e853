/*
 * test_userkey.c - keys kept elsewhere (crypto/userkey.h, client
 * enroll_csr.c): secrets from env:/file: sources, passphrase-protected
 * PEM keys (each failure its own code, never a prompt), the pkcs11: URI
 * kept in a profile without its pin-value, and a CSR made elsewhere:
 * read as PEM or DER, checked as the server will check it, matched to
 * --key's public key, and sent with the MAC over exactly its DER.
 * (Keys in a PKCS#11 token are tested end to end with SoftHSM2 in
 * tests/integration/test_keys.sh.)
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/userkey.h"
#include "testlib.h"

static char dir[] = "/tmp/cdr-userkey.XXXXXX";

static char *path_in(const char *name) {
  static char p[256];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  return p;
}

static void write_text(const char *name, const char *text) {
  FILE *f = fopen(path_in(name), "w");
  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

static void test_secrets(void) {
  char *s = NULL, big[CDR_SECRET_MAX + 10], spec[300];

  setenv("CDR_TEST_SECRET", "open sesame", 1);
  CHECK_RC(cdr_secret_read("env:CDR_TEST_SECRET", &s), 0);
  CHECK_STR(s, "open sesame");
  cdr_secret_free(s);
  unsetenv("CDR_TEST_NO_SUCH");
  CHECK_RC(cdr_secret_read("env:CDR_TEST_NO_SUCH", &s), CDR_ERR_NOT_FOUND);
  setenv("CDR_TEST_EMPTY", "", 1);
  CHECK_RC(cdr_secret_read("env:CDR_TEST_EMPTY", &s), CDR_ERR_ARG);
  /* A literal is never taken: it would show in `ps`. */
  CHECK_RC(cdr_secret_read("pass:open sesame", &s), CDR_ERR_ARG);
  CHECK_RC(cdr_secret_read("open sesame", &s), CDR_ERR_ARG);
  CHECK_RC(cdr_secret_read("file:", &s), CDR_ERR_ARG);
  /* A file: its first line, without \n or \r\n. */
  write_text("pw1", "line one\nline two\n");
  snprintf(spec, sizeof(spec), "file:%s", path_in("pw1"));
  CHECK_RC(cdr_secret_read(spec, &s), 0);
  CHECK_STR(s, "line one");
  cdr_secret_free(s);
  write_text("pw2", "crlf\r\n");
  snprintf(spec, sizeof(spec), "file:%s", path_in("pw2"));
  CHECK_RC(cdr_secret_read(spec, &s), 0);
  CHECK_STR(s, "crlf");
  cdr_secret_free(s);
  write_text("pw3", "no newline");
  snprintf(spec, sizeof(spec), "file:%s", path_in("pw3"));
  CHECK_RC(cdr_secret_read(spec, &s), 0);
  CHECK_STR(s, "no newline");
  cdr_secret_free(s);
  snprintf(spec, sizeof(spec), "file:%s", path_in("missing"));
  CHECK_RC(cdr_secret_read(spec, &s), CDR_ERR_NOT_FOUND);
  /* Longer than the cap: refused, not cut. */
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  write_text("pw4", big);
  snprintf(spec, sizeof(spec), "file:%s", path_in("pw4"));
  CHECK_RC(cdr_secret_read(spec, &s), CDR_ERR_ARG);
  CHECK(s == NULL);
}

/* Write k encrypted under pass (PKCS#8, or the traditional format). */
static void write_encrypted(const char *name, EVP_PKEY *k, const char *pass, int traditional) {
  BIO *b = BIO_new_file(path_in(name), "w");
  int ok = b != NULL && (traditional ? PEM_write_bio_PrivateKey_traditional(b, k, EVP_aes_256_cbc(),
                                                                              (unsigned char *)pass, (int)strlen(pass),
                                                                              NULL, NULL)
                                     : PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), NULL, 0, NULL,
                                                                     (void *)pass));
  CHECK(ok);
  BIO_free(b);
}

static void test_passphrase_keys(void) {
  EVP_PKEY *k = NULL, *got = NULL;
  char ref[256];
  struct cdr_key_source src = {ref, NULL, NULL};

  CHECK_RC(cdr_key_generate(&k, "ec", 0), 0);
  setenv("CDR_TEST_PASS", "correct horse", 1);
  setenv("CDR_TEST_WRONG", "battery staple", 1);
  for (int traditional = 0; traditional <= 1; traditional++) {
    write_encrypted(traditional ? "trad.key" : "p8.key", k, "correct horse", traditional);
    snprintf(ref, sizeof(ref), "%s", path_in(traditional ? "trad.key" : "p8.key"));
    src.pass = NULL;
    CHECK_RC(cdr_user_key_load(&src, &got), CDR_ERR_KEY_PASSPHRASE_NEEDED);
    CHECK(got == NULL);
    /* The plain loader never prompts either: it refuses. */
    CHECK_RC(cdr_key_load_pem(ref, &got), CDR_ERR_ARG);
    src.pass = "env:CDR_TEST_WRONG";
    CHECK_RC(cdr_user_key_load(&src, &got), CDR_ERR_KEY_PASSPHRASE);
    src.pass = "env:CDR_TEST_PASS";
    CHECK_RC(cdr_user_key_load(&src, &got), 0);
    CHECK(got != NULL && EVP_PKEY_eq(got, k) == 1);
    EVP_PKEY_free(got);
    got = NULL;
  }
  /* An unencrypted key loads with or without --pass; not a key: ARG. */
  snprintf(ref, sizeof(ref), "%s", path_in("plain.key"));
  CHECK_RC(cdr_key_save_pem(ref, k), 0);
  src.pass = NULL;
  CHECK_RC(cdr_user_key_load(&src, &got), 0);
  EVP_PKEY_free(got);
  write_text("junk.key", "-----BEGIN NOTHING-----\n");
  snprintf(ref, sizeof(ref), "%s", path_in("junk.key"));
  CHECK_RC(cdr_user_key_load(&src, &got), CDR_ERR_ARG);
  snprintf(ref, sizeof(ref), "%s", path_in("absent.key"));
  CHECK_RC(cdr_user_key_load(&src, &got), CDR_ERR_NOT_FOUND);
  /* A passphrase source that cannot be read is its own error, told
   * apart from a missing key file. */
  snprintf(ref, sizeof(ref), "%s", path_in("p8.key"));
  src.pass = "env:CDR_TEST_NO_SUCH";
  CHECK_RC(cdr_user_key_load(&src, &got), CDR_ERR_SECRET_SOURCE);
  src.pass = "pass:correct horse";
  CHECK_RC(cdr_user_key_load(&src, &got), CDR_ERR_SECRET_SOURCE);
  src.pass = NULL;
  EVP_PKEY_free(k);
}

static void test_profile_ref(void) {
  char *out = NULL;
  int dropped = -1;

  CHECK(cdr_key_ref_is_pkcs11("pkcs11:token=a") && !cdr_key_ref_is_pkcs11("/home/a/pkcs11:x"));
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=a;object=b?module-path=/m.so&pin-value=1234&pin-source=file:/p",
                                   &out, &dropped),
           0);
  CHECK_STR(out, "pkcs11:token=a;object=b?module-path=/m.so&pin-source=file:/p");
  CHECK(dropped == 1);
  free(out);
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=a?pin-value=1234", &out, &dropped), 0);
  CHECK_STR(out, "pkcs11:token=a");
  free(out);
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=a;type=private", &out, &dropped), 0);
  CHECK_STR(out, "pkcs11:token=a;type=private");
  CHECK(dropped == 0);
  free(out);
  CHECK_RC(cdr_key_ref_for_profile("/keys/alice.key", &out, &dropped), 0);
  CHECK_STR(out, "/keys/alice.key");
  free(out);
  /* A pin-value in the path part (libp11 reads it there too) is dropped
   * like one in the query; pin-source and module-path there stay. */
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=t;object=k;pin-value=123456", &out, &dropped), 0);
  CHECK_STR(out, "pkcs11:token=t;object=k");
  CHECK(dropped == 1);
  free(out);
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:pin-value=1%32;token=t;pin-source=file:/p?pin-value=9&module-path=/m.so",
                                   &out, &dropped),
           0);
  CHECK_STR(out, "pkcs11:token=t;pin-source=file:/p?module-path=/m.so");
  CHECK(dropped == 1 && strstr(out, "pin-value") == NULL);
  free(out);
  out = (char *)"unset";
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=t;;pin-value=123456", &out, &dropped), CDR_ERR_ARG);
  CHECK(out == NULL);
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=t;pin-value=%zz", &out, &dropped), CDR_ERR_ARG);
  CHECK(out == NULL);
  /* A query attribute without a value, a bad escape: malformed. */
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=a?pin-value", &out, &dropped), CDR_ERR_ARG);
  CHECK_RC(cdr_key_ref_for_profile("pkcs11:token=a?module-path=%zz", &out, &dropped), CDR_ERR_ARG);
  CHECK(out == NULL);
}

/* A CSR as `openssl req` makes one: key, subject CN=cn, SHA-256. */
static X509_REQ *make_csr(EVP_PKEY *k, const char *cn) {
  X509_REQ *req = X509_REQ_new();
  X509_NAME *n = X509_REQ_get_subject_name(req);
  CHECK(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1);
  CHECK(X509_REQ_set_pubkey(req, k) == 1 && X509_REQ_sign(req, k, EVP_sha256()) > 0);
  return req;
}

static void test_csr(void) {
  EVP_PKEY *k = NULL, *other = NULL;
  X509_REQ *req, *got = NULL, *tampered = NULL;
  struct cdr_client *c = NULL;
  struct cdr_enroll_token tok;
  enum cdr_enroll_step step = 0;
  unsigned char *der = NULL, *der2 = NULL;
  int derlen, derlen2;
  char *body = NULL;
  FILE *f;

  CHECK_RC(cdr_key_generate(&k, "ec", 0), 0);
  CHECK_RC(cdr_key_generate(&other, "rsa", 2048), 0);
  CHECK_RC(cdr_client_new(&c, "http://127.0.0.1:1"), 0);
  req = make_csr(k, "alice");
  derlen = i2d_X509_REQ(req, &der);
  /* PEM and DER files read; anything else is CDR_ERR_CSR_INVALID. */
  f = fopen(path_in("a.csr"), "w");
  CHECK(f != NULL && PEM_write_X509_REQ(f, req) == 1);
  if (f != NULL)
    fclose(f);
  CHECK_RC(cdr_enroll_csr_read(path_in("a.csr"), &got), 0);
  CHECK(got != NULL && (derlen2 = i2d_X509_REQ(got, &der2)) == derlen && memcmp(der, der2, (size_t)derlen) == 0);
  X509_REQ_free(got);
  OPENSSL_free(der2);
  der2 = NULL;
  f = fopen(path_in("a.der"), "w");
  CHECK(f != NULL && fwrite(der, 1, (size_t)derlen, f) == (size_t)derlen);
  if (f != NULL)
    fclose(f);
  CHECK_RC(cdr_enroll_csr_read(path_in("a.der"), &got), 0);
  X509_REQ_free(got);
  write_text("junk.csr", "hello\n");
  CHECK_RC(cdr_enroll_csr_read(path_in("junk.csr"), &got), CDR_ERR_CSR_INVALID);
  CHECK_RC(cdr_enroll_csr_read(path_in("none.csr"), &got), CDR_ERR_NOT_FOUND);

  /* Checked as the server will: name, signature; and against --key. */
  CHECK_RC(cdr_enroll_csr_check(c, req, "alice"), 0);
  CHECK_RC(cdr_enroll_csr_check(c, req, "bob"), CDR_ERR_CSR_SUBJECT);
  CHECK_RC(cdr_enroll_csr_key_check(c, req, k), 0);
  CHECK_RC(cdr_enroll_csr_key_check(c, req, other), CDR_ERR_CSR_KEY_MISMATCH);
  {
    unsigned char *copy = OPENSSL_memdup(der, (size_t)derlen);
    const unsigned char *p = copy;
    copy[derlen - 5] ^= 0x01; /* inside the signature */
    tampered = d2i_X509_REQ(NULL, &p, derlen);
    CHECK(tampered != NULL);
    if (tampered != NULL)
      CHECK_RC(cdr_enroll_csr_check(c, tampered, "alice"), CDR_ERR_CSR_BAD_SIGNATURE);
    OPENSSL_free(copy);
  }

  /* The body carries the CSR as given and the MAC over its DER. */
  memset(&tok, 0, sizeof(tok));
  memcpy(tok.token_id, "0123456789abcdef0123456789abcdef", 33);
  memset(tok.secret, 0x42, sizeof(tok.secret));
  tok.name = "alice";
  CHECK_RC(cdr_enroll_build_csr(req, &tok, &body, &step), 0);
  {
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *pem = j ? json_string_value(json_object_get(j, "csr")) : NULL;
    BIO *bio = pem ? BIO_new_mem_buf(pem, -1) : NULL;
    char *name = NULL, *hdr = NULL;
    unsigned char *sent = NULL;
    long sent_len = 0;
    uint8_t want[32];
    char *want_b64 = NULL;
    CHECK(bio != NULL && PEM_read_bio(bio, &name, &hdr, &sent, &sent_len) == 1);
    CHECK(sent_len == derlen && sent != NULL && memcmp(sent, der, (size_t)derlen) == 0);
    CHECK(cdr_enroll_mac(want, tok.secret, tok.token_id, der, (size_t)derlen) == 0 &&
          cdr_b64_encode(&want_b64, want, sizeof(want)) == 0);
    CHECK_STR(j ? json_string_value(json_object_get(j, "mac")) : "", want_b64);
    free(want_b64);
    OPENSSL_free(name);
    OPENSSL_free(hdr);
    OPENSSL_free(sent);
    BIO_free(bio);
    json_decref(j);
  }
  free(body);
  X509_REQ_free(tampered);
  X509_REQ_free(req);
  OPENSSL_free(der);
  EVP_PKEY_free(k);
  EVP_PKEY_free(other);
  cdr_client_free(c);
}

int main(void) {
  CHECK(mkdtemp(dir) != NULL);
  test_secrets();
  test_passphrase_keys();
  test_profile_ref();
  test_csr();
  {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
  }
  return test_summary("test_userkey");
}
