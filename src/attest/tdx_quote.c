/*
 * tdx_quote.c - the exact layout of an Intel TDX v4 quote, parsed through
 * the project's bounded buffer (a read-only cdr_buf view) so that no
 * offset or length from the quote is used before it has been checked
 * against what is left.  The quote is attacker-controlled input.
 *
 * Layout (all integers little-endian):
 *   header            48   version u16 = 4, att key type u16 = 2,
 *                          tee_type u32 = 0x81, reserved, QE vendor id,
 *                          user data
 *   TD report        584
 *   sig data len       4   = the length of everything that follows
 *   quote signature   64   r || s over header || TD report
 *   attestation key   64   P-256 x || y
 *   cert data type     2   = 6 (QE report certification data)
 *   cert data size     4   = the length of everything that follows
 *     QE report      384
 *     QE report sig   64   by the PCK key
 *     QE auth size     2, then that many bytes
 *     cert data type   2   = 5 (PEM PCK certificate chain)
 *     cert data size   4, then that many bytes of PEM, which end the quote
 *
 * Every length field must equal exactly what it encloses: nothing may
 * hide between the fields.  Trailing bytes after the declared length are
 * accepted only if they are all zero: real quotes are handed around in
 * fixed-size buffers (the Intel sample carries 70 zero bytes), the bytes
 * are covered by no signature, and zero padding carries no information;
 * anything else is refused as malformed.
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/limits.h"
#include "tdx_internal.h"

/* QE vendor id of Intel's quoting enclave. */
static const uint8_t intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                               0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

uint16_t tdx_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

uint32_t tdx_le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t tdx_le64(const uint8_t *p) { return (uint64_t)tdx_le32(p) | ((uint64_t)tdx_le32(p + 4) << 32); }

/* Borrow the next n bytes of b in place. */
static int take(struct cdr_buf *b, const uint8_t **p, size_t n) {
  const uint8_t *at = cdr_buf_ptr(b);
  if (cdr_buf_get(b, NULL, n) != 0)
    return CDR_ERR_ATTEST_MALFORMED;
  *p = at;
  return 0;
}

static int take_u16(struct cdr_buf *b, uint16_t *v) {
  const uint8_t *p;
  int r;
  if ((r = take(b, &p, 2)) != 0)
    return r;
  *v = tdx_le16(p);
  return 0;
}

static int take_u32(struct cdr_buf *b, uint32_t *v) {
  const uint8_t *p;
  int r;
  if ((r = take(b, &p, 4)) != 0)
    return r;
  *v = tdx_le32(p);
  return 0;
}

int tdx_quote_parse(struct tdx_quote *q, const uint8_t *p, size_t len, char *why, size_t whylen) {
  struct cdr_buf b;
  const uint8_t *field;
  uint16_t u16, auth_len, cert_type;
  uint32_t sig_len, outer_len, inner_len;
  int r = CDR_ERR_ATTEST_MALFORMED;

  memset(q, 0, sizeof(*q));
  if (p == NULL || len > CDR_MAX_EVIDENCE) {
    snprintf(why, whylen, "quote larger than %u bytes", (unsigned)CDR_MAX_EVIDENCE);
    return CDR_ERR_ATTEST_MALFORMED;
  }
  cdr_buf_view(&b, p, len);

  if (take(&b, &q->header, TDX_HEADER_LEN) != 0 || take(&b, &q->td_report, TDX_TD_REPORT_LEN) != 0) {
    snprintf(why, whylen, "%zu bytes: shorter than header and TD report", len);
    goto out;
  }
  if (tdx_le16(q->header) != TDX_QUOTE_VERSION || tdx_le16(q->header + 2) != TDX_ATT_KEY_ECDSA_P256 ||
      tdx_le32(q->header + 4) != TDX_TEE_TYPE) {
    snprintf(why, whylen, "version %u, attestation key type %u, tee type 0x%x (want 4, 2, 0x81)",
             tdx_le16(q->header), tdx_le16(q->header + 2), tdx_le32(q->header + 4));
    goto out;
  }
  if (memcmp(q->header + 12, intel_qe_vendor_id, sizeof(intel_qe_vendor_id)) != 0) {
    snprintf(why, whylen, "QE vendor id is not Intel's");
    goto out;
  }

  /* The signature data length must cover exactly the rest of the quote
   * (up to the zero padding checked last). */
  if (take_u32(&b, &sig_len) != 0 || take(&b, &field, sig_len) != 0) {
    snprintf(why, whylen, "signature data length past the end");
    goto out;
  }
  q->quote_len = TDX_SIGNED_LEN + 4u + (size_t)sig_len;
  cdr_buf_view(&b, field, sig_len); /* from here on, read only inside it */

  if (take(&b, &q->quote_sig, TDX_SIG_LEN) != 0 || take(&b, &q->att_key, TDX_ATT_KEY_LEN) != 0 ||
      take_u16(&b, &cert_type) != 0 || take_u32(&b, &outer_len) != 0) {
    snprintf(why, whylen, "signature data truncated");
    goto out;
  }
  if (cert_type != TDX_CERT_QE_REPORT) {
    snprintf(why, whylen, "certification data type %u (want 6, QE report)", cert_type);
    goto out;
  }
  if (outer_len != cdr_buf_avail(&b)) {
    snprintf(why, whylen, "QE report certification data size %u, %zu bytes left", outer_len, cdr_buf_avail(&b));
    goto out;
  }
  if (take(&b, &q->qe_report, TDX_QE_REPORT_LEN) != 0 || take(&b, &q->qe_report_sig, TDX_SIG_LEN) != 0 ||
      take_u16(&b, &auth_len) != 0) {
    snprintf(why, whylen, "QE report certification data truncated");
    goto out;
  }
  if (take(&b, &field, auth_len) != 0) {
    snprintf(why, whylen, "QE auth data size %u past the end", auth_len);
    goto out;
  }
  q->qe_auth = field;
  q->qe_auth_len = auth_len;
  if (take_u16(&b, &u16) != 0 || take_u32(&b, &inner_len) != 0) {
    snprintf(why, whylen, "PCK certification data truncated");
    goto out;
  }
  if (u16 != TDX_CERT_PCK_CHAIN) {
    snprintf(why, whylen, "nested certification data type %u (want 5, PCK chain)", u16);
    goto out;
  }
  if (inner_len == 0 || inner_len != cdr_buf_avail(&b)) {
    snprintf(why, whylen, "PCK chain size %u, %zu bytes left", inner_len, cdr_buf_avail(&b));
    goto out;
  }
  if (take(&b, &q->pck_pem, inner_len) != 0 || cdr_buf_expect_end(&b) != 0) {
    snprintf(why, whylen, "PCK chain truncated");
    goto out;
  }
  q->pck_pem_len = inner_len;

  for (size_t i = q->quote_len; i < len; i++) {
    if (p[i] != 0) {
      snprintf(why, whylen, "non-zero byte at %zu after the quote's %zu bytes", i, q->quote_len);
      goto out;
    }
  }
  r = 0;
out:
  if (r != 0)
    memset(q, 0, sizeof(*q));
  return r;
}
