/*
 * audit_chain.c - the audit log's hash chain and head transcript; see
 * audit_chain.h.
 */
#include "audit_chain.h"

#include <string.h>

#include "crypto.h"

#define LABEL_CHAIN "CDR-v1 audit chain"
#define LABEL_HEAD "CDR-v1 audit head"

int cdr_audit_genesis(uint8_t out[CDR_AUDIT_HASH_LEN], const uint8_t *room_id, size_t room_id_len) {
  struct cdr_buf b;
  int r;
  cdr_buf_init(&b, 256, 0);
  if ((r = cdr_buf_put_lpstr(&b, LABEL_CHAIN)) == 0 && (r = cdr_buf_put(&b, room_id, room_id_len)) == 0)
    r = cdr_sha256(out, b.d, b.len);
  cdr_buf_free(&b);
  return r;
}

int cdr_audit_leaf(uint8_t out[CDR_AUDIT_HASH_LEN], const void *entry, size_t len) {
  return cdr_sha256(out, entry, len);
}

int cdr_audit_step(uint8_t out[CDR_AUDIT_HASH_LEN], const uint8_t prev[CDR_AUDIT_HASH_LEN], uint64_t index,
                   const uint8_t leaf[CDR_AUDIT_HASH_LEN]) {
  struct cdr_buf b;
  int r;
  cdr_buf_init(&b, 256, 0);
  if ((r = cdr_buf_put_lpstr(&b, LABEL_CHAIN)) == 0 && (r = cdr_buf_put(&b, prev, CDR_AUDIT_HASH_LEN)) == 0 &&
      (r = cdr_buf_put_u64(&b, index)) == 0 && (r = cdr_buf_put(&b, leaf, CDR_AUDIT_HASH_LEN)) == 0)
    r = cdr_sha256(out, b.d, b.len);
  cdr_buf_free(&b);
  return r;
}

int cdr_audit_head_transcript(struct cdr_buf *out, const uint8_t *room_id, size_t room_id_len, uint64_t size,
                              const uint8_t head[CDR_AUDIT_HASH_LEN], uint64_t time) {
  int r;
  if ((r = cdr_buf_put_lpstr(out, LABEL_HEAD)) != 0 || (r = cdr_buf_put_lp(out, room_id, room_id_len)) != 0 ||
      (r = cdr_buf_put_u64(out, size)) != 0 || (r = cdr_buf_put_lp(out, head, CDR_AUDIT_HASH_LEN)) != 0 ||
      (r = cdr_buf_put_u64(out, time)) != 0)
    return r;
  return 0;
}
