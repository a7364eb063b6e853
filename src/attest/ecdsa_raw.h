/*
 * ecdsa_raw.h - ECDSA signatures in the raw form the hardware vendors
 * write them (r and s as fixed-length integers side by side: TDX quotes
 * and collateral big-endian P-256, Nitro's COSE_Sign1 big-endian P-384,
 * SEV-SNP reports little-endian P-384), checked through OpenSSL after
 * conversion to DER.  Shared by the three verifiers of src/attest.
 */
#ifndef CDR_ATTEST_ECDSA_RAW_H
#define CDR_ATTEST_ECDSA_RAW_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Verify the signature (r, s), each coord_len bytes (little-endian when
 * le, else big-endian), over msg with digest md under key.  The caller
 * checks that key is of the curve it expects.  0 when it verifies;
 * CDR_ERR_ATTEST_SIGNATURE when it does not; CDR_ERR_NOMEM, or
 * CDR_ERR_CRYPTO when OpenSSL cannot set the check up (no key, or one
 * that cannot verify with md).  OpenSSL's error queue is left empty. */
int cdr_hw_ecdsa_verify(EVP_PKEY *key, const EVP_MD *md, const uint8_t *r, const uint8_t *s, size_t coord_len,
                        int le, const uint8_t *msg, size_t len) CDR_WUR;

#endif
