/*
 * roots_intel.c - the Intel SGX Root CA, pinned.  It anchors every TDX
 * (and SGX) DCAP chain: the PCK chain embedded in a quote and the TCB
 * Signing chain of the collateral.
 *
 * The PEM below is the third certificate of the PCK chain in the sample
 * quote (tests/data/attest/tdx/tdx-quote.bin), which is Intel's published
 * root (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der):
 *   CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US
 *   valid 2018-05-21T10:45:10Z to 2049-12-31T23:59:59Z, ECDSA P-256
 *   SHA-256 of the DER 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3
 * It is parsed once, on first use, under CRYPTO_THREAD_run_once, and its
 * fingerprint is checked against the constant above at that time, so a
 * corrupted constant yields NULL rather than a different trust anchor.
 * tests/unit/test_tdx.c checks the fingerprint too.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>

#include "hwattest.h"

static const char intel_sgx_root_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw\n"
    "aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv\n"
    "cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ\n"
    "BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG\n"
    "A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0\n"
    "aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT\n"
    "AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7\n"
    "1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB\n"
    "uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ\n"
    "MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50\n"
    "ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV\n"
    "Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI\n"
    "KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg\n"
    "AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=\n"
    "-----END CERTIFICATE-----\n";

static const uint8_t intel_sgx_root_sha256[32] = {
    0x44, 0xa0, 0x19, 0x6b, 0x2b, 0x99, 0xf8, 0x89, 0xb8, 0xe1, 0x49, 0xe9, 0x5b, 0x80, 0x7a, 0x35,
    0x0e, 0x74, 0x24, 0x96, 0x43, 0x99, 0xe8, 0x85, 0xa7, 0xcb, 0xb8, 0xcc, 0xfa, 0xb6, 0x74, 0xd3};

static CRYPTO_ONCE intel_root_once = CRYPTO_ONCE_STATIC_INIT;
static X509 *intel_root;

static void intel_root_load(void) {
  BIO *bio = BIO_new_mem_buf(intel_sgx_root_pem, (int)(sizeof(intel_sgx_root_pem) - 1));
  X509 *c = NULL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;

  if (bio == NULL)
    return;
  c = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (c == NULL)
    return;
  if (X509_digest(c, EVP_sha256(), md, &mdlen) != 1 || mdlen != sizeof(intel_sgx_root_sha256) ||
      memcmp(md, intel_sgx_root_sha256, sizeof(intel_sgx_root_sha256)) != 0) {
    X509_free(c);
    return;
  }
  intel_root = c; /* lives for the whole process */
}

/* Borrowed: the caller must not free it (X509_STORE_add_cert takes its
 * own reference). */
X509 *cdr_root_intel_sgx(void) {
  if (!CRYPTO_THREAD_run_once(&intel_root_once, intel_root_load))
    return NULL;
  return intel_root;
}
