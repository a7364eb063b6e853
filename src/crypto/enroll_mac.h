/*
 * enroll_mac.h - the enrollment MAC (PROTOCOL.md 4.4), the one
 * construction that the client (which computes it) and the host (which
 * checks it) share from enrollment:
 *   mac = HMAC-SHA256(key = secret, lp("CDR-v1 enroll") || lp(token_id) || lp(csr_der))
 */
#ifndef CDR_ENROLL_MAC_H
#define CDR_ENROLL_MAC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* The token's secret: 32 random bytes. */
#define CDR_ENROLL_SECRET_LEN 32

/* Compute the MAC over a CSR's DER for the token token_id (32 lower-case
 * hex digits).  CDR_ERR_ARG for a malformed id or an empty or over-long
 * CSR (CDR_MAX_CSR_PEM). */
int cdr_enroll_mac(uint8_t out[32], const uint8_t secret[CDR_ENROLL_SECRET_LEN], const char *token_id,
                   const uint8_t *csr_der, size_t csr_len) CDR_WUR;

#endif
