/*
 * crypto.h - CDR's thin layer over OpenSSL 3 EVP.  Every cryptographic
 * operation in the project goes through these functions, so that the
 * algorithm choices live in one place (docs/PROTOCOL.md, "Algorithms").
 *
 *   signatures  ECDSA with SHA-256 (P-256) / SHA-384 (P-384), DER;
 *               RSASSA-PSS with SHA-256, MGF1-SHA-256, salt length 32.
 *   AEAD        AES-256-GCM, 12-byte nonce, 16-byte tag appended.
 *   KDF         HKDF-SHA256 (RFC 5869).
 *   ECDH        P-256, shared secret = 32-byte x-coordinate.
 *   hash        SHA-256, SHA-512.
 *
 * All functions return 0 or a negative cdr_err.  Secrets produced here
 * (derived keys, shared secrets) are written into caller-provided
 * buffers; the caller wipes them with OPENSSL_cleanse.
 */
#ifndef CDR_CRYPTO_H
#define CDR_CRYPTO_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define CDR_AEAD_KEY_LEN 32
#define CDR_AEAD_NONCE_LEN 12
#define CDR_AEAD_TAG_LEN 16
#define CDR_P256_POINT_LEN 65 /* uncompressed: 0x04 || X || Y */
#define CDR_SHA256_LEN 32
#define CDR_SHA512_LEN 64

/* Lock OpenSSL's secure heap (mlock'd, MADV_DONTDUMP) so that private
 * key material (BIGNUMs) and cdr_buf secure buffers live in it.  Call
 * once at process start; returns 0 even when locking is refused (then it
 * logs a warning: secrets stay in ordinary memory). */
int cdr_crypto_init_secure_heap(size_t bytes);

/* Cryptographically strong random bytes (RAND_priv_bytes). */
int cdr_random(void *out, size_t n) CDR_WUR;

int cdr_sha256(uint8_t out[CDR_SHA256_LEN], const void *p, size_t n) CDR_WUR;
int cdr_sha512(uint8_t out[CDR_SHA512_LEN], const void *p, size_t n) CDR_WUR;
int cdr_hmac_sha256(uint8_t out[CDR_SHA256_LEN], const void *key, size_t keylen, const void *p, size_t n) CDR_WUR;

/* HKDF-SHA256 extract-and-expand into outlen bytes. */
int cdr_hkdf_sha256(uint8_t *out, size_t outlen, const void *ikm, size_t ikmlen, const void *salt, size_t saltlen,
                    const void *info, size_t infolen) CDR_WUR;

/* AES-256-GCM.  Seal appends ciphertext||tag (ptlen + 16 bytes) to out.
 * Open checks the tag before releasing any plaintext: on failure out is
 * unchanged and CDR_ERR_DECRYPT is returned. */
int cdr_aead_seal(struct cdr_buf *out, const uint8_t key[CDR_AEAD_KEY_LEN], const uint8_t nonce[CDR_AEAD_NONCE_LEN],
                  const void *aad, size_t aadlen, const void *pt, size_t ptlen) CDR_WUR;
int cdr_aead_open(struct cdr_buf *out, const uint8_t key[CDR_AEAD_KEY_LEN], const uint8_t nonce[CDR_AEAD_NONCE_LEN],
                  const void *aad, size_t aadlen, const void *ct, size_t ctlen) CDR_WUR;

/* Key generation.  kind: "ec" (P-256) or "rsa" with bits in [2048, 4096]. */
int cdr_key_generate(EVP_PKEY **out, const char *kind, int bits) CDR_WUR;
/* P-256 key pair for ECDH (session keys). */
int cdr_ec_p256_generate(EVP_PKEY **out) CDR_WUR;
/* Is this a key type users may hold? (EC P-256, RSA 2048..4096) */
int cdr_key_check_user_type(const EVP_PKEY *k) CDR_WUR;

/* PEM private key file I/O.  Save creates the file with mode 0600 and
 * refuses to overwrite (CDR_ERR_IO).  Load accepts PKCS#8 or traditional
 * PEM, unencrypted. */
int cdr_key_save_pem(const char *path, EVP_PKEY *k) CDR_WUR;
int cdr_key_load_pem(const char *path, EVP_PKEY **out) CDR_WUR;

/* SubjectPublicKeyInfo DER encode (malloc'd) and decode. */
int cdr_pubkey_to_der(const EVP_PKEY *k, uint8_t **der, size_t *derlen) CDR_WUR;
int cdr_pubkey_from_der(EVP_PKEY **out, const uint8_t *der, size_t derlen) CDR_WUR;
/* P-256 public point, uncompressed 65 bytes, encode and decode.  Decode
 * rejects points that are not on the curve. */
int cdr_p256_point_get(uint8_t out[CDR_P256_POINT_LEN], const EVP_PKEY *k) CDR_WUR;
int cdr_p256_point_to_key(EVP_PKEY **out, const uint8_t in[CDR_P256_POINT_LEN]) CDR_WUR;
/* Build a P-256 private key from a 32-byte big-endian scalar (test vectors). */
int cdr_p256_from_private(EVP_PKEY **out, const uint8_t scalar[32]) CDR_WUR;

/* ECDH on P-256: the 32-byte x-coordinate of priv * peer. */
int cdr_ecdh_p256(uint8_t out[32], EVP_PKEY *priv, EVP_PKEY *peer) CDR_WUR;

/* Sign msg with the scheme fixed for this key type (see top of file);
 * signature appended to sig. */
int cdr_sign(struct cdr_buf *sig, EVP_PKEY *key, const void *msg, size_t msglen) CDR_WUR;
/* 0 if sig is a valid signature over msg under key, else
 * CDR_ERR_BAD_SIGNATURE. */
int cdr_verify(EVP_PKEY *key, const void *msg, size_t msglen, const void *sig, size_t siglen) CDR_WUR;

/* Constant-time equality of two byte strings of the same length. */
int cdr_ct_equal(const void *a, const void *b, size_t n);

#endif
