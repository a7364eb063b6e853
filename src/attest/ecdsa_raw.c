/*
 * ecdsa_raw.c - raw (r, s) ECDSA signatures checked through OpenSSL; see
 * ecdsa_raw.h.  The two integers become an ECDSA_SIG, then DER, which
 * EVP_DigestVerify takes; every object is freed on every path.
 */
#include "ecdsa_raw.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>

int cdr_hw_ecdsa_verify(EVP_PKEY *key, const EVP_MD *md, const uint8_t *r, const uint8_t *s, size_t coord_len,
                        int le, const uint8_t *msg, size_t len) {
  BIGNUM *br = le ? BN_lebin2bn(r, (int)coord_len, NULL) : BN_bin2bn(r, (int)coord_len, NULL);
  BIGNUM *bs = le ? BN_lebin2bn(s, (int)coord_len, NULL) : BN_bin2bn(s, (int)coord_len, NULL);
  ECDSA_SIG *sig = ECDSA_SIG_new();
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char *der = NULL;
  int derlen, rc = CDR_ERR_NOMEM;

  if (br == NULL || bs == NULL || sig == NULL || ctx == NULL)
    goto out;
  rc = CDR_ERR_CRYPTO;
  if (!ECDSA_SIG_set0(sig, br, bs))
    goto out;
  br = bs = NULL; /* owned by sig now */
  if ((derlen = i2d_ECDSA_SIG(sig, &der)) <= 0 || key == NULL ||
      EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) != 1)
    goto out;
  rc = EVP_DigestVerify(ctx, der, (size_t)derlen, msg, len) == 1 ? 0 : CDR_ERR_ATTEST_SIGNATURE;
out:
  BN_free(br);
  BN_free(bs);
  ECDSA_SIG_free(sig);
  OPENSSL_free(der);
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return rc;
}
