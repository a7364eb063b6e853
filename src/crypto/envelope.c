/*
 * envelope.c - CDR protocol v1 constructions; see envelope.h and
 * docs/PROTOCOL.md.  Every transcript is built with cdr_buf so that
 * lengths are checked, and every derived key is wiped before return.
 */
#include "envelope.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <string.h>

#include "common/limits.h"

#define LABEL_OPEN_REQ "CDR-v1 session-open request"
#define LABEL_OPEN_RESP "CDR-v1 session-open response"
#define LABEL_SEAL_ECDH "CDR-v1 seal-to-user ecdh-p256"
#define LABEL_SEAL_RSA "CDR-v1 seal-to-user rsa-oaep-sha256"
#define LABEL_SESSION_KEYS "CDR-v1 session keys"
#define LABEL_REQUEST "CDR-v1 request"
#define LABEL_REQUEST_SIG "CDR-v1 request signature"
#define LABEL_RESPONSE "CDR-v1 response"
#define LABEL_REPORT_DATA "CDR-v2 report-data"

#define NONCE_DIR_REQUEST 1u
#define NONCE_DIR_RESPONSE 2u
#define TRANSCRIPT_MAX (4u * CDR_MAX_CERT_DER)

/* The wire names the client share's size (wire.h); it is a P-256 point. */
_Static_assert(CDR_CLIENT_SHARE_LEN == CDR_P256_POINT_LEN, "the client share is an uncompressed P-256 point");

const char *cdr_kem_name(uint8_t kem) {
  switch (kem) {
  case CDR_KEM_ECDH_P256: return "ecdh-p256";
  case CDR_KEM_RSA_OAEP_SHA256: return "rsa-oaep-sha256";
  default: return NULL;
  }
}

int cdr_kem_from_name(const char *s) {
  if (s && strcmp(s, "ecdh-p256") == 0) return CDR_KEM_ECDH_P256;
  if (s && strcmp(s, "rsa-oaep-sha256") == 0) return CDR_KEM_RSA_OAEP_SHA256;
  return -1;
}

int cdr_open_req_transcript(struct cdr_buf *out, const struct cdr_open_req *q) {
  int r;
  if ((r = cdr_buf_put_lpstr(out, LABEL_OPEN_REQ)) != 0 || (r = cdr_buf_put_u32(out, q->version)) != 0 ||
      (r = cdr_buf_put_lp(out, q->cert_der, q->cert_len)) != 0 ||
      (r = cdr_buf_put_lp(out, q->user_spki, q->user_spki_len)) != 0 ||
      (r = cdr_buf_put_lp(out, q->client_share, sizeof(q->client_share))) != 0 ||
      (r = cdr_buf_put_lp(out, q->client_nonce, sizeof(q->client_nonce))) != 0 ||
      (r = cdr_buf_put_u64(out, q->timestamp)) != 0)
    return r;
  return 0;
}

int cdr_open_resp_transcript(struct cdr_buf *out, const uint8_t treq_hash[32], const uint8_t cert_fp[32],
                             const uint8_t client_nonce[CDR_NONCE_LEN], const struct cdr_open_resp *p) {
  int r;
  if ((r = cdr_buf_put_lpstr(out, LABEL_OPEN_RESP)) != 0 || (r = cdr_buf_put_lp(out, treq_hash, 32)) != 0 ||
      (r = cdr_buf_put_lp(out, cert_fp, 32)) != 0 || (r = cdr_buf_put_lp(out, client_nonce, CDR_NONCE_LEN)) != 0 ||
      (r = cdr_buf_put_lp(out, p->session_id, CDR_SESSION_ID_LEN)) != 0 ||
      (r = cdr_buf_put_u64(out, p->expires_at)) != 0 || (r = cdr_buf_put_u8(out, p->kem)) != 0 || (r = cdr_buf_put_lp(out, p->encap, p->encap_len)) != 0 ||
      (r = cdr_buf_put_lp(out, p->sealed, p->sealed_len)) != 0)
    return r;
  return 0;
}

/* key||nonce for seal-to-user from a shared secret. */
static int seal_keys(uint8_t okm[44], const uint8_t *ikm, size_t ikmlen, const uint8_t *salt, size_t saltlen,
                     const char *label) {
  return cdr_hkdf_sha256(okm, 44, ikm, ikmlen, salt, saltlen, label, strlen(label));
}

static int rsa_oaep_ctx(EVP_PKEY_CTX *ctx) {
  /* Digests as EVP_MDs: a key in a PKCS#11 token (an engine key,
   * userkey.h) refuses the name-based setters. */
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1;
}

int cdr_seal_to_user(EVP_PKEY *user_pub, EVP_PKEY *eph, const void *aad, size_t aadlen, const void *pt, size_t ptlen,
                     uint8_t *kem, struct cdr_buf *encap, struct cdr_buf *ct) {
  uint8_t okm[44], z[32], salt[2 * CDR_P256_POINT_LEN];
  EVP_PKEY *x = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  int r = CDR_ERR_CRYPTO;
  if (EVP_PKEY_is_a(user_pub, "EC")) {
    *kem = CDR_KEM_ECDH_P256;
    if (eph != NULL) {
      x = eph;
      EVP_PKEY_up_ref(x);
    } else if ((r = cdr_ec_p256_generate(&x)) != 0) {
      goto out;
    }
    if ((r = cdr_p256_point_get(salt, x)) != 0 || (r = cdr_p256_point_get(salt + CDR_P256_POINT_LEN, user_pub)) != 0)
      goto out;
    if ((r = cdr_ecdh_p256(z, x, user_pub)) != 0)
      goto out;
    if ((r = seal_keys(okm, z, sizeof(z), salt, sizeof(salt), LABEL_SEAL_ECDH)) != 0)
      goto out;
    if ((r = cdr_buf_put(encap, salt, CDR_P256_POINT_LEN)) != 0)
      goto out;
  } else if (EVP_PKEY_is_a(user_pub, "RSA")) {
    size_t wlen = 0;
    *kem = CDR_KEM_RSA_OAEP_SHA256;
    if ((r = cdr_random(z, sizeof(z))) != 0)
      goto out;
    r = CDR_ERR_CRYPTO;
    if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, user_pub, NULL)) == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
        !rsa_oaep_ctx(ctx) || EVP_PKEY_encrypt(ctx, NULL, &wlen, z, sizeof(z)) != 1)
      goto out;
    if ((r = cdr_buf_reserve(encap, wlen)) != 0)
      goto out;
    r = CDR_ERR_CRYPTO;
    if (EVP_PKEY_encrypt(ctx, encap->d + encap->len, &wlen, z, sizeof(z)) != 1)
      goto out;
    encap->len += wlen;
    if ((r = seal_keys(okm, z, sizeof(z), NULL, 0, LABEL_SEAL_RSA)) != 0)
      goto out;
  } else {
    r = CDR_ERR_KEY_UNSUPPORTED;
    goto out;
  }
  r = cdr_aead_seal(ct, okm, okm + 32, aad, aadlen, pt, ptlen);
out:
  OPENSSL_cleanse(okm, sizeof(okm));
  OPENSSL_cleanse(z, sizeof(z));
  EVP_PKEY_free(x);
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  return r;
}

int cdr_open_sealed(EVP_PKEY *user_priv, uint8_t kem, const uint8_t *encap, size_t encap_len, const void *aad,
                    size_t aadlen, const uint8_t *ct, size_t ct_len, struct cdr_buf *pt) {
  uint8_t okm[44], z[512], salt[2 * CDR_P256_POINT_LEN];
  EVP_PKEY *x = NULL;
  EVP_PKEY_CTX *ctx = NULL;
  size_t zlen = sizeof(z);
  int r = CDR_ERR_DECRYPT;
  if (kem == CDR_KEM_ECDH_P256 && EVP_PKEY_is_a(user_priv, "EC")) {
    if (encap_len != CDR_P256_POINT_LEN || cdr_p256_point_to_key(&x, encap) != 0)
      goto out;
    memcpy(salt, encap, CDR_P256_POINT_LEN);
    if (cdr_p256_point_get(salt + CDR_P256_POINT_LEN, user_priv) != 0 || cdr_ecdh_p256(z, user_priv, x) != 0)
      goto out;
    if (seal_keys(okm, z, 32, salt, sizeof(salt), LABEL_SEAL_ECDH) != 0)
      goto out;
  } else if (kem == CDR_KEM_RSA_OAEP_SHA256 && EVP_PKEY_is_a(user_priv, "RSA")) {
    if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, user_priv, NULL)) == NULL || EVP_PKEY_decrypt_init(ctx) != 1 ||
        !rsa_oaep_ctx(ctx) || EVP_PKEY_decrypt(ctx, z, &zlen, encap, encap_len) != 1 || zlen != 32)
      goto out;
    if (seal_keys(okm, z, 32, NULL, 0, LABEL_SEAL_RSA) != 0)
      goto out;
  } else {
    goto out;
  }
  r = cdr_aead_open(pt, okm, okm + 32, aad, aadlen, ct, ct_len);
out:
  OPENSSL_cleanse(okm, sizeof(okm));
  OPENSSL_cleanse(z, sizeof(z));
  EVP_PKEY_free(x);
  EVP_PKEY_CTX_free(ctx);
  ERR_clear_error();
  return r;
}

int cdr_session_keys_derive(struct cdr_session_keys *k, const uint8_t z[32], const uint8_t treq_hash[32],
                            const uint8_t session_id[CDR_SESSION_ID_LEN]) {
  uint8_t info[sizeof(LABEL_SESSION_KEYS) - 1 + CDR_SESSION_ID_LEN], okm[64];
  memcpy(info, LABEL_SESSION_KEYS, sizeof(LABEL_SESSION_KEYS) - 1);
  memcpy(info + sizeof(LABEL_SESSION_KEYS) - 1, session_id, CDR_SESSION_ID_LEN);
  int r = cdr_hkdf_sha256(okm, sizeof(okm), z, 32, treq_hash, 32, info, sizeof(info));
  if (r == 0) {
    memcpy(k->req, okm, 32);
    memcpy(k->resp, okm + 32, 32);
  }
  OPENSSL_cleanse(okm, sizeof(okm));
  return r;
}

void cdr_session_keys_wipe(struct cdr_session_keys *k) { OPENSSL_cleanse(k, sizeof(*k)); }

static void make_nonce(uint8_t nonce[CDR_AEAD_NONCE_LEN], uint32_t dir, uint64_t seq) {
  nonce[0] = (uint8_t)(dir >> 24);
  nonce[1] = (uint8_t)(dir >> 16);
  nonce[2] = (uint8_t)(dir >> 8);
  nonce[3] = (uint8_t)dir;
  for (int i = 0; i < 8; i++)
    nonce[4 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static int request_aad(struct cdr_buf *aad, const uint8_t session_id[CDR_SESSION_ID_LEN], uint64_t seq, uint64_t ts) {
  int r;
  if ((r = cdr_buf_put_lpstr(aad, LABEL_REQUEST)) != 0 || (r = cdr_buf_put_lp(aad, session_id, CDR_SESSION_ID_LEN)) != 0 ||
      (r = cdr_buf_put_u64(aad, seq)) != 0 || (r = cdr_buf_put_u64(aad, ts)) != 0)
    return r;
  return 0;
}

int cdr_request_seal(struct cdr_buf *ct, const struct cdr_session_keys *k, const uint8_t session_id[CDR_SESSION_ID_LEN],
                     uint64_t seq, uint64_t timestamp, const void *pt, size_t ptlen) {
  struct cdr_buf aad;
  uint8_t nonce[CDR_AEAD_NONCE_LEN];
  int r;
  cdr_buf_init(&aad, 256, 0);
  make_nonce(nonce, NONCE_DIR_REQUEST, seq);
  if ((r = request_aad(&aad, session_id, seq, timestamp)) == 0)
    r = cdr_aead_seal(ct, k->req, nonce, aad.d, aad.len, pt, ptlen);
  cdr_buf_free(&aad);
  return r;
}

int cdr_request_sig_input_hashed(struct cdr_buf *out, const uint8_t session_id[CDR_SESSION_ID_LEN], uint64_t seq,
                                 uint64_t timestamp, const uint8_t ct_hash[32]) {
  int r;
  if ((r = cdr_buf_put_lpstr(out, LABEL_REQUEST_SIG)) != 0 ||
      (r = cdr_buf_put_lp(out, session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_put_u64(out, seq)) != 0 ||
      (r = cdr_buf_put_u64(out, timestamp)) != 0 || (r = cdr_buf_put_lp(out, ct_hash, 32)) != 0)
    return r;
  return 0;
}

int cdr_request_sig_input(struct cdr_buf *out, const struct cdr_request_env *env) {
  uint8_t h[32];
  int r;
  if ((r = cdr_sha256(h, env->ct, env->ct_len)) != 0)
    return r;
  return cdr_request_sig_input_hashed(out, env->session_id, env->seq, env->timestamp, h);
}

int cdr_request_open(struct cdr_buf *pt, const struct cdr_session_keys *k, const struct cdr_request_env *env) {
  struct cdr_buf aad;
  uint8_t nonce[CDR_AEAD_NONCE_LEN];
  int r;
  cdr_buf_init(&aad, 256, 0);
  make_nonce(nonce, NONCE_DIR_REQUEST, env->seq);
  if ((r = request_aad(&aad, env->session_id, env->seq, env->timestamp)) == 0)
    r = cdr_aead_open(pt, k->req, nonce, aad.d, aad.len, env->ct, env->ct_len);
  cdr_buf_free(&aad);
  return r;
}

static int response_aad(struct cdr_buf *aad, const uint8_t session_id[CDR_SESSION_ID_LEN], uint64_t seq, uint8_t status,
                        const uint8_t req_ct_hash[32]) {
  int r;
  if ((r = cdr_buf_put_lpstr(aad, LABEL_RESPONSE)) != 0 ||
      (r = cdr_buf_put_lp(aad, session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_put_u64(aad, seq)) != 0 ||
      (r = cdr_buf_put_u8(aad, status)) != 0 || (r = cdr_buf_put_lp(aad, req_ct_hash, 32)) != 0)
    return r;
  return 0;
}

int cdr_response_seal(struct cdr_buf *ct, const struct cdr_session_keys *k, const uint8_t session_id[CDR_SESSION_ID_LEN],
                      uint64_t seq, uint8_t status, const uint8_t req_ct_hash[32], const void *pt, size_t ptlen) {
  struct cdr_buf aad;
  uint8_t nonce[CDR_AEAD_NONCE_LEN];
  int r;
  cdr_buf_init(&aad, 256, 0);
  make_nonce(nonce, NONCE_DIR_RESPONSE, seq);
  if ((r = response_aad(&aad, session_id, seq, status, req_ct_hash)) == 0)
    r = cdr_aead_seal(ct, k->resp, nonce, aad.d, aad.len, pt, ptlen);
  cdr_buf_free(&aad);
  return r;
}

int cdr_response_open(struct cdr_buf *pt, const struct cdr_session_keys *k, const struct cdr_response_env *env,
                      const uint8_t expect_session_id[CDR_SESSION_ID_LEN], uint64_t expect_seq,
                      const uint8_t req_ct_hash[32]) {
  struct cdr_buf aad;
  uint8_t nonce[CDR_AEAD_NONCE_LEN];
  int r;
  /* The expected values come from the client's own request, never from
   * the envelope: a response for another request cannot authenticate. */
  if (env->seq != expect_seq || CRYPTO_memcmp(env->session_id, expect_session_id, CDR_SESSION_ID_LEN) != 0 ||
      env->status > CDR_STATUS_FAILED)
    return CDR_ERR_RESPONSE_FORGED;
  cdr_buf_init(&aad, 256, 0);
  make_nonce(nonce, NONCE_DIR_RESPONSE, expect_seq);
  if ((r = response_aad(&aad, expect_session_id, expect_seq, env->status, req_ct_hash)) == 0) {
    r = cdr_aead_open(pt, k->resp, nonce, aad.d, aad.len, env->ct, env->ct_len);
    if (r == CDR_ERR_DECRYPT)
      r = CDR_ERR_RESPONSE_FORGED;
  }
  cdr_buf_free(&aad);
  return r;
}

int cdr_report_data(uint8_t out[CDR_REPORT_DATA_LEN], const uint8_t *identity_spki, size_t spki_len,
                    const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t ca_fp[32],
                    const uint8_t contract_sha256[32], const uint8_t nonce[CDR_NONCE_LEN]) {
  struct cdr_buf b;
  int r;
  cdr_buf_init(&b, TRANSCRIPT_MAX, 0);
  if ((r = cdr_buf_put_lpstr(&b, LABEL_REPORT_DATA)) == 0 && (r = cdr_buf_put_lp(&b, identity_spki, spki_len)) == 0 &&
      (r = cdr_buf_put_lp(&b, room_id, CDR_ROOM_ID_BYTES)) == 0 && (r = cdr_buf_put_lp(&b, ca_fp, 32)) == 0 &&
      (r = cdr_buf_put_lp(&b, contract_sha256, 32)) == 0 && (r = cdr_buf_put_lp(&b, nonce, CDR_NONCE_LEN)) == 0)
    r = cdr_sha512(out, b.d, b.len);
  cdr_buf_free(&b);
  return r;
}

size_t cdr_pad_length(size_t n) {
  const size_t mib = 1024u * 1024u;
  if (n <= 256)
    return 256;
  if (n <= mib) {
    size_t b = 512;
    while (b < n)
      b *= 2;
    return b;
  }
  if (n > SIZE_MAX - mib)
    return n;
  return (n + mib - 1) / mib * mib;
}

int cdr_pad_spaces(struct cdr_buf *b) {
  static const char spaces[64] = "                                                                ";
  size_t want = cdr_pad_length(b->len);
  int r;
  if (want > b->max)
    want = b->max; /* never pad past the cap: a full buffer is its own bucket */
  if ((r = cdr_buf_reserve(b, want > b->len ? want - b->len : 0)) != 0)
    return r;
  while (b->len < want) {
    size_t k = want - b->len < sizeof(spaces) ? want - b->len : sizeof(spaces);
    if ((r = cdr_buf_put(b, spaces, k)) != 0)
      return r;
  }
  return 0;
}
