/*
 * crypto.c - OpenSSL 3 EVP wrappers; the algorithm choices of CDR live
 * here and in docs/PROTOCOL.md ("Algorithms").  See crypto.h.
 *
 * Invariants: no function logs key material; every temporary secret is
 * wiped before return on every path; AEAD open verifies the tag before
 * any plaintext is released to the caller.
 */
#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"

int cdr_crypto_init_secure_heap(size_t bytes) {
  if (CRYPTO_secure_malloc_initialized())
    return 0;
  /* minsize 32: secure heap chunks must be a power of two. */
  if (CRYPTO_secure_malloc_init(bytes, 32) != 1)
    log_warn("secure heap could not be locked (RLIMIT_MEMLOCK?): keys stay in ordinary memory");
  return 0;
}

int cdr_random(void *out, size_t n) {
  if (n > INT32_MAX)
    return CDR_ERR_ARG;
  return RAND_priv_bytes(out, (int)n) == 1 ? 0 : CDR_ERR_CRYPTO;
}

static int digest(const char *alg, uint8_t *out, const void *p, size_t n) {
  unsigned int len = 0;
  EVP_MD *md = EVP_MD_fetch(NULL, alg, NULL);
  int ok = md != NULL && EVP_Digest(p, n, out, &len, md, NULL) == 1;
  EVP_MD_free(md);
  return ok ? 0 : CDR_ERR_CRYPTO;
}

int cdr_sha256(uint8_t out[CDR_SHA256_LEN], const void *p, size_t n) { return digest("SHA256", out, p, n); }
int cdr_sha512(uint8_t out[CDR_SHA512_LEN], const void *p, size_t n) { return digest("SHA512", out, p, n); }

int cdr_hmac_sha256(uint8_t out[CDR_SHA256_LEN], const void *key, size_t keylen, const void *p, size_t n) {
  size_t outlen = 0;
  int ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, p, n, out, CDR_SHA256_LEN, &outlen) != NULL;
  return ok && outlen == CDR_SHA256_LEN ? 0 : CDR_ERR_CRYPTO;
}

int cdr_hkdf_sha256(uint8_t *out, size_t outlen, const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                    const void *info, size_t infolen) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM params[5], *p = params;
  int ok = 0;
  static const uint8_t zero_salt[1];
  if (kctx == NULL)
    goto out;
  *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(uintptr_t)ikm, ikmlen);
  /* An empty salt means "HashLen zero bytes" (RFC 5869 2.2); OpenSSL
   * treats a zero-length salt that way, but needs a non-NULL pointer. */
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)(saltlen ? salt : zero_salt), saltlen);
  *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)(uintptr_t)info, infolen);
  *p = OSSL_PARAM_construct_end();
  ok = EVP_KDF_derive(kctx, out, outlen, params) == 1;
out:
  EVP_KDF_CTX_free(kctx);
  EVP_KDF_free(kdf);
  if (!ok)
    OPENSSL_cleanse(out, outlen);
  return ok ? 0 : CDR_ERR_CRYPTO;
}

/* One GCM pass.  For open, the tag is set before the final call and the
 * plaintext is written to a scratch buffer that is only appended to
 * `out` after EVP_DecryptFinal_ex has accepted the tag. */
int cdr_aead_seal(struct cdr_buf *out, const uint8_t key[CDR_AEAD_KEY_LEN], const uint8_t nonce[CDR_AEAD_NONCE_LEN],
                  const void *aad, size_t aadlen, const void *pt, size_t ptlen) {
  EVP_CIPHER_CTX *ctx = NULL;
  int r = CDR_ERR_CRYPTO, len;
  size_t start = out->len;
  if (ptlen > INT32_MAX - 64 || aadlen > INT32_MAX)
    return CDR_ERR_TOO_LARGE;
  if ((r = cdr_buf_reserve(out, ptlen + CDR_AEAD_TAG_LEN)) != 0)
    return r;
  r = CDR_ERR_CRYPTO;
  if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
    goto out;
  if (EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL) != 1)
    goto out;
  if (aadlen > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
    goto out;
  uint8_t *dst = out->d + start;
  if (ptlen > 0 && (EVP_EncryptUpdate(ctx, dst, &len, pt, (int)ptlen) != 1 || (size_t)len != ptlen))
    goto out;
  if (EVP_EncryptFinal_ex(ctx, dst + ptlen, &len) != 1 || len != 0)
    goto out;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CDR_AEAD_TAG_LEN, dst + ptlen) != 1)
    goto out;
  out->len = start + ptlen + CDR_AEAD_TAG_LEN;
  r = 0;
out:
  EVP_CIPHER_CTX_free(ctx);
  return r;
}

int cdr_aead_open(struct cdr_buf *out, const uint8_t key[CDR_AEAD_KEY_LEN], const uint8_t nonce[CDR_AEAD_NONCE_LEN],
                  const void *aad, size_t aadlen, const void *ct, size_t ctlen) {
  EVP_CIPHER_CTX *ctx = NULL;
  int r, len;
  if (ctlen < CDR_AEAD_TAG_LEN)
    return CDR_ERR_DECRYPT;
  size_t ptlen = ctlen - CDR_AEAD_TAG_LEN;
  if (ptlen > INT32_MAX - 64 || aadlen > INT32_MAX)
    return CDR_ERR_TOO_LARGE;
  if ((r = cdr_buf_reserve(out, ptlen)) != 0)
    return r;
  const uint8_t *c = ct;
  uint8_t tag[CDR_AEAD_TAG_LEN];
  memcpy(tag, c + ptlen, CDR_AEAD_TAG_LEN);
  /* Reserved, not yet part of out.  An empty plaintext reserves nothing
   * (out->d may be NULL): write to a scratch byte instead. */
  uint8_t empty = 0;
  uint8_t *dst = ptlen > 0 ? out->d + out->len : &empty;
  r = CDR_ERR_CRYPTO;
  if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
    goto out;
  if (EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce, NULL) != 1)
    goto out;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CDR_AEAD_TAG_LEN, tag) != 1)
    goto out;
  if (aadlen > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) != 1)
    goto out;
  if (ptlen > 0 && (EVP_DecryptUpdate(ctx, dst, &len, c, (int)ptlen) != 1 || (size_t)len != ptlen))
    goto out;
  if (EVP_DecryptFinal_ex(ctx, dst + ptlen, &len) != 1) {
    r = CDR_ERR_DECRYPT;
    goto out;
  }
  out->len += ptlen;
  r = 0;
out:
  if (r != 0)
    OPENSSL_cleanse(dst, ptlen); /* unauthenticated bytes never escape */
  EVP_CIPHER_CTX_free(ctx);
  return r;
}

int cdr_ec_p256_generate(EVP_PKEY **out) {
  *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  return *out ? 0 : CDR_ERR_CRYPTO;
}

int cdr_key_generate(EVP_PKEY **out, const char *kind, int bits) {
  if (strcmp(kind, "ec") == 0)
    return cdr_ec_p256_generate(out);
  if (strcmp(kind, "rsa") == 0) {
    if (bits < 2048 || bits > 4096)
      return CDR_ERR_KEY_UNSUPPORTED;
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    return *out ? 0 : CDR_ERR_CRYPTO;
  }
  return CDR_ERR_KEY_UNSUPPORTED;
}

/* Group name of an EC key ("prime256v1"), or "" for other key types. */
static void ec_group(const EVP_PKEY *k, char *name, size_t len) {
  size_t got = 0;
  name[0] = '\0';
  if (EVP_PKEY_get_group_name(k, name, len, &got) != 1)
    name[0] = '\0';
}

int cdr_key_check_user_type(const EVP_PKEY *k) {
  char g[64];
  if (EVP_PKEY_is_a(k, "EC")) {
    ec_group(k, g, sizeof(g));
    /* P-256 only: the session-open response is sealed to the user key
     * with P-256 ECDH (docs/PROTOCOL.md, "Seal to user"). */
    return strcmp(g, "prime256v1") == 0 ? 0 : CDR_ERR_KEY_UNSUPPORTED;
  }
  if (EVP_PKEY_is_a(k, "RSA")) {
    int bits = EVP_PKEY_get_bits(k);
    return bits >= 2048 && bits <= 4096 ? 0 : CDR_ERR_KEY_UNSUPPORTED;
  }
  return CDR_ERR_KEY_UNSUPPORTED;
}

int cdr_key_save_pem(const char *path, EVP_PKEY *k) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return CDR_ERR_IO;
  (void)fchmod(fd, 0600);
  FILE *f = fdopen(fd, "w");
  if (f == NULL) {
    close(fd);
    unlink(path);
    return CDR_ERR_IO;
  }
  int ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
  ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  ok = fclose(f) == 0 && ok;
  if (!ok)
    unlink(path);
  return ok ? 0 : CDR_ERR_IO;
}

static int no_passphrase_cb(char *buf, int size, int rwflag, void *u) {
  (void)buf;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

int cdr_key_load_pem(const char *path, EVP_PKEY **out) {
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return errno == ENOENT ? CDR_ERR_NOT_FOUND : CDR_ERR_IO;
  /* Never OpenSSL's default callback, which prompts on the terminal:
   * an encrypted file fails here (userkey.h reads those). */
  *out = PEM_read_PrivateKey(f, NULL, no_passphrase_cb, NULL);
  fclose(f);
  ERR_clear_error();
  return *out ? 0 : CDR_ERR_ARG;
}

int cdr_pubkey_to_der(const EVP_PKEY *k, uint8_t **der, size_t *derlen) {
  unsigned char *p = NULL;
  int n = i2d_PUBKEY((EVP_PKEY *)(uintptr_t)k, &p);
  if (n <= 0)
    return CDR_ERR_CRYPTO;
  *der = p;
  *derlen = (size_t)n;
  return 0;
}

int cdr_pubkey_from_der(EVP_PKEY **out, const uint8_t *der, size_t derlen) {
  const unsigned char *p = der;
  if (derlen > CDR_MAX_PUBKEY_DER)
    return CDR_ERR_TOO_LARGE;
  EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)derlen);
  ERR_clear_error();
  if (k == NULL || p != der + derlen) {
    EVP_PKEY_free(k);
    return CDR_ERR_ARG;
  }
  *out = k;
  return 0;
}

int cdr_p256_point_get(uint8_t out[CDR_P256_POINT_LEN], const EVP_PKEY *k) {
  size_t len = 0;
  char g[64];
  ec_group(k, g, sizeof(g));
  if (!EVP_PKEY_is_a(k, "EC") || strcmp(g, "prime256v1") != 0)
    return CDR_ERR_KEY_UNSUPPORTED;
  if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, out, CDR_P256_POINT_LEN, &len) != 1 ||
      len != CDR_P256_POINT_LEN) {
    /* A key in a PKCS#11 token (an engine key, userkey.h) answers the
     * parameter query with nothing; its encoded point is there. */
    unsigned char *enc = NULL;
    len = EVP_PKEY_get1_encoded_public_key((EVP_PKEY *)(uintptr_t)k, &enc);
    if (len == CDR_P256_POINT_LEN)
      memcpy(out, enc, len);
    OPENSSL_free(enc);
    ERR_clear_error();
  }
  if (len != CDR_P256_POINT_LEN || out[0] != 0x04)
    return CDR_ERR_CRYPTO;
  return 0;
}

static int p256_from_params(EVP_PKEY **out, const uint8_t *point, const uint8_t *scalar) {
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  BIGNUM *priv = NULL;
  int r = CDR_ERR_CRYPTO;
  *out = NULL;
  if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0))
    goto out;
  if (point && !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, CDR_P256_POINT_LEN))
    goto out;
  if (scalar) {
    if ((priv = BN_secure_new()) == NULL || BN_bin2bn(scalar, 32, priv) == NULL ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv))
      goto out;
  }
  if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
    goto out;
  if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, out, scalar ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
    r = CDR_ERR_ARG;
    goto out;
  }
  r = 0;
out:
  BN_clear_free(priv);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  return r;
}

int cdr_p256_point_to_key(EVP_PKEY **out, const uint8_t in[CDR_P256_POINT_LEN]) {
  int r;
  if (in[0] != 0x04)
    return CDR_ERR_ARG;
  if ((r = p256_from_params(out, in, NULL)) != 0)
    return r;
  /* fromdata does not always check that the point is on the curve. */
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL);
  /* On the curve and not the point at infinity: for P-256 (cofactor 1)
   * that is the whole check; the full one adds a scalar multiplication. */
  int ok = c != NULL && EVP_PKEY_public_check_quick(c) == 1;
  EVP_PKEY_CTX_free(c);
  ERR_clear_error();
  if (!ok) {
    EVP_PKEY_free(*out);
    *out = NULL;
    return CDR_ERR_ARG;
  }
  return 0;
}

int cdr_p256_from_private(EVP_PKEY **out, const uint8_t scalar[32]) {
  /* Derive the public point so the key is a complete key pair. */
  EC_GROUP *grp = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  EC_POINT *pt = grp ? EC_POINT_new(grp) : NULL;
  BIGNUM *k = BN_secure_new();
  uint8_t point[CDR_P256_POINT_LEN];
  int r = CDR_ERR_CRYPTO;
  if (pt == NULL || k == NULL || BN_bin2bn(scalar, 32, k) == NULL)
    goto out;
  if (EC_POINT_mul(grp, pt, k, NULL, NULL, NULL) != 1)
    goto out;
  if (EC_POINT_point2oct(grp, pt, POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point), NULL) != sizeof(point))
    goto out;
  r = p256_from_params(out, point, scalar);
out:
  BN_clear_free(k);
  EC_POINT_free(pt);
  EC_GROUP_free(grp);
  return r;
}

/* peer is validated where it is made (cdr_p256_point_to_key), so the
 * derivation does not check it again. */
int cdr_ecdh_p256(uint8_t out[32], EVP_PKEY *priv, EVP_PKEY *peer) {
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
  size_t len = 32;
  int ok = ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, peer, 0) == 1 &&
           EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  if (!ok)
    OPENSSL_cleanse(out, 32);
  return ok ? 0 : CDR_ERR_CRYPTO;
}

/* The digest for a key: SHA-384 for P-384, SHA-256 otherwise. */
static const char *sig_digest(const EVP_PKEY *key) {
  char g[64];
  if (EVP_PKEY_is_a(key, "EC")) {
    ec_group(key, g, sizeof(g));
    if (strcmp(g, "secp384r1") == 0)
      return "SHA384";
  }
  return "SHA256";
}

static int sig_ctx_setup(EVP_PKEY_CTX *pctx, const EVP_PKEY *key) {
  if (!EVP_PKEY_is_a(key, "RSA"))
    return 1;
  /* The MGF1 digest as an EVP_MD: a key in a PKCS#11 token (an engine
   * key, userkey.h) refuses the name-based setter. */
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
}

int cdr_sign(struct cdr_buf *sig, EVP_PKEY *key, const void *msg, size_t msglen) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  size_t len = 0;
  int r = CDR_ERR_CRYPTO;
  if (md == NULL || EVP_DigestSignInit_ex(md, &pctx, sig_digest(key), NULL, NULL, key, NULL) != 1 ||
      !sig_ctx_setup(pctx, key))
    goto out;
  if (EVP_DigestSign(md, NULL, &len, msg, msglen) != 1)
    goto out;
  if ((r = cdr_buf_reserve(sig, len)) != 0)
    goto out;
  r = CDR_ERR_CRYPTO;
  if (EVP_DigestSign(md, sig->d + sig->len, &len, msg, msglen) != 1)
    goto out;
  sig->len += len;
  r = 0;
out:
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return r;
}

int cdr_verify(EVP_PKEY *key, const void *msg, size_t msglen, const void *sig, size_t siglen) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  int r = CDR_ERR_CRYPTO;
  if (siglen == 0 || siglen > CDR_MAX_SIGNATURE) {
    r = CDR_ERR_BAD_SIGNATURE;
    goto out;
  }
  if (md == NULL || EVP_DigestVerifyInit_ex(md, &pctx, sig_digest(key), NULL, NULL, key, NULL) != 1 ||
      !sig_ctx_setup(pctx, key))
    goto out;
  r = EVP_DigestVerify(md, sig, siglen, msg, msglen) == 1 ? 0 : CDR_ERR_BAD_SIGNATURE;
out:
  EVP_MD_CTX_free(md);
  ERR_clear_error();
  return r;
}

int cdr_ct_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }
