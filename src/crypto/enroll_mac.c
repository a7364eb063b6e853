/*
 * enroll_mac.c - the enrollment MAC (enroll_mac.h, PROTOCOL.md 4.4).
 */
#include "enroll_mac.h"

#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/util.h"
#include "crypto.h"

#define ENROLL_LABEL "CDR-v1 enroll"

int cdr_enroll_mac(uint8_t out[32], const uint8_t secret[CDR_ENROLL_SECRET_LEN], const char *token_id,
                   const uint8_t *csr_der, size_t csr_len) {
  struct cdr_buf b;
  int r;

  if (token_id == NULL || strlen(token_id) != 32 || !cdr_hex_lower_ok(token_id, 32) || csr_der == NULL ||
      csr_len == 0 || csr_len > CDR_MAX_CSR_PEM)
    return CDR_ERR_ARG;
  cdr_buf_init(&b, CDR_MAX_CSR_PEM + 128, 0);
  if ((r = cdr_buf_put_lpstr(&b, ENROLL_LABEL)) != 0 || (r = cdr_buf_put_lpstr(&b, token_id)) != 0 ||
      (r = cdr_buf_put_lp(&b, csr_der, csr_len)) != 0)
    goto out;
  r = cdr_hmac_sha256(out, secret, CDR_ENROLL_SECRET_LEN, cdr_buf_ptr(&b), cdr_buf_avail(&b));
out:
  cdr_buf_free(&b);
  return r;
}
