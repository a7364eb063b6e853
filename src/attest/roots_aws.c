/*
 * roots_aws.c - the AWS Nitro Enclaves root certificate "G1", pinned.
 * Every Nitro attestation document CDR accepts must chain, through its
 * cabundle, to this certificate; nothing a server or a user supplies can
 * add a root (verify_nitro.c puts only this one in the trust store).
 *
 * CN=aws.nitro-enclaves, O=Amazon, OU=AWS, C=US; self-signed; ECDSA P-384
 * with SHA-384; valid 2019-10-28T13:28:05Z to 2049-10-28T14:28:05Z.  AWS
 * publishes it at https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip.
 * The copy here is cabundle[0] of the real document in
 * tests/data/attest/nitro/ (blocky/nitrite testdata/nitro_attestation.txt,
 * commit 03282f1f73edc0951e3f96bf6ed0b11a0caff5e3), re-encoded as PEM.
 * SHA-256 of its DER, which tests/unit/test_nitro.c checks so that an
 * edit to the PEM cannot go unnoticed:
 *
 *   641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b
 *
 * The certificate is parsed once, on first use, under
 * CRYPTO_THREAD_run_once; the X509 object lives until the process exits
 * and is borrowed by the callers, who must not free or modify it.
 */
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hwattest.h"

static const char AWS_NITRO_ROOT_G1_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
    "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
    "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
    "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
    "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
    "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
    "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
    "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
    "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
    "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
    "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
    "IwLz3/Y=\n"
    "-----END CERTIFICATE-----\n";

static CRYPTO_ONCE nitro_root_once = CRYPTO_ONCE_STATIC_INIT;
static X509 *nitro_root;

static void nitro_root_parse(void) {
  BIO *bio = BIO_new_mem_buf(AWS_NITRO_ROOT_G1_PEM, -1);
  if (bio == NULL)
    return;
  nitro_root = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
}

X509 *cdr_root_aws_nitro_g1(void) {
  if (!CRYPTO_THREAD_run_once(&nitro_root_once, nitro_root_parse))
    return NULL;
  return nitro_root;
}
