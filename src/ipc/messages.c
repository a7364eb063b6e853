/*
 * messages.c - IPC payload codecs; see messages.h and ipc.h.
 */
#include "messages.h"

#include <stdlib.h>
#include <string.h>

#include "common/limits.h"

int ipc_put_open(struct cdr_buf *b, const struct cdr_open_req *q) {
  int r;
  if ((r = cdr_buf_put_lp(b, q->cert_der, q->cert_len)) != 0 || (r = cdr_buf_put_lp(b, q->user_spki, q->user_spki_len)) != 0 ||
      (r = cdr_buf_put_lp(b, q->client_share, CDR_P256_POINT_LEN)) != 0 ||
      (r = cdr_buf_put_lp(b, q->client_nonce, CDR_NONCE_LEN)) != 0 || (r = cdr_buf_put_u64(b, q->timestamp)) != 0 ||
      (r = cdr_buf_put_u32(b, q->version)) != 0 || (r = cdr_buf_put_lp(b, q->sig, q->sig_len)) != 0)
    return r;
  return 0;
}

int ipc_get_open(struct cdr_buf *b, struct cdr_open_req *q) {
  int r;
  memset(q, 0, sizeof(*q));
  if ((r = cdr_buf_get_lp(b, &q->cert_der, &q->cert_len, CDR_MAX_CERT_DER)) != 0 ||
      (r = cdr_buf_get_lp(b, &q->user_spki, &q->user_spki_len, CDR_MAX_PUBKEY_DER)) != 0 ||
      (r = cdr_buf_get_lp_exact(b, q->client_share, CDR_P256_POINT_LEN)) != 0 ||
      (r = cdr_buf_get_lp_exact(b, q->client_nonce, CDR_NONCE_LEN)) != 0 ||
      (r = cdr_buf_get_u64(b, &q->timestamp)) != 0 || (r = cdr_buf_get_u32(b, &q->version)) != 0 ||
      (r = cdr_buf_get_lp(b, &q->sig, &q->sig_len, CDR_MAX_SIGNATURE)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_open_ok(struct cdr_buf *b, const struct cdr_open_resp *p) {
  int r;
  if ((r = cdr_buf_put_lp(b, p->session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_put_u64(b, p->expires_at)) != 0 ||
      (r = cdr_buf_put_u8(b, p->kem)) != 0 || (r = cdr_buf_put_lp(b, p->encap, p->encap_len)) != 0 ||
      (r = cdr_buf_put_lp(b, p->sealed, p->sealed_len)) != 0 || (r = cdr_buf_put_lp(b, p->sig, p->sig_len)) != 0)
    return r;
  return 0;
}

int ipc_get_open_ok(struct cdr_buf *b, struct cdr_open_resp *p) {
  int r;
  memset(p, 0, sizeof(*p));
  if ((r = cdr_buf_get_lp_exact(b, p->session_id, CDR_SESSION_ID_LEN)) != 0 ||
      (r = cdr_buf_get_u64(b, &p->expires_at)) != 0 || (r = cdr_buf_get_u8(b, &p->kem)) != 0 ||
      (r = cdr_buf_get_lp(b, &p->encap, &p->encap_len, 1024)) != 0 ||
      (r = cdr_buf_get_lp(b, &p->sealed, &p->sealed_len, 1024)) != 0 ||
      (r = cdr_buf_get_lp(b, &p->sig, &p->sig_len, CDR_MAX_SIGNATURE)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_request(struct cdr_buf *b, const struct cdr_request_env *e) {
  int r;
  if ((r = cdr_buf_put_lp(b, e->session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_put_u64(b, e->seq)) != 0 ||
      (r = cdr_buf_put_u64(b, e->timestamp)) != 0 || (r = cdr_buf_put_lp(b, e->ct, e->ct_len)) != 0 ||
      (r = cdr_buf_put_lp(b, e->sig, e->sig_len)) != 0)
    return r;
  return 0;
}

int ipc_get_request(struct cdr_buf *b, struct cdr_request_env *e) {
  int r;
  memset(e, 0, sizeof(*e));
  if ((r = cdr_buf_get_lp_exact(b, e->session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_get_u64(b, &e->seq)) != 0 ||
      (r = cdr_buf_get_u64(b, &e->timestamp)) != 0 || (r = cdr_buf_get_lp(b, &e->ct, &e->ct_len, CDR_MAX_CIPHERTEXT)) != 0 ||
      (r = cdr_buf_get_lp(b, &e->sig, &e->sig_len, CDR_MAX_SIGNATURE)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_response(struct cdr_buf *b, const struct cdr_response_env *e) {
  int r;
  if ((r = cdr_buf_put_lp(b, e->session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_put_u64(b, e->seq)) != 0 ||
      (r = cdr_buf_put_u8(b, e->status)) != 0 || (r = cdr_buf_put_lp(b, e->ct, e->ct_len)) != 0)
    return r;
  return 0;
}

int ipc_get_response(struct cdr_buf *b, struct cdr_response_env *e) {
  int r;
  memset(e, 0, sizeof(*e));
  if ((r = cdr_buf_get_lp_exact(b, e->session_id, CDR_SESSION_ID_LEN)) != 0 || (r = cdr_buf_get_u64(b, &e->seq)) != 0 ||
      (r = cdr_buf_get_u8(b, &e->status)) != 0 || (r = cdr_buf_get_lp(b, &e->ct, &e->ct_len, CDR_MAX_CIPHERTEXT)) != 0)
    return r;
  if (e->status > CDR_STATUS_FAILED)
    return CDR_ERR_TRUNCATED;
  return cdr_buf_expect_end(b);
}

int ipc_put_error(struct cdr_buf *b, int err, const char *message) {
  int r;
  size_t n = message ? strnlen(message, CDR_MAX_ERROR_MSG) : 0;
  if ((r = cdr_buf_put_u32(b, (uint32_t)(-err))) != 0 || (r = cdr_buf_put_lp(b, message ? message : "", n)) != 0)
    return r;
  return 0;
}

int ipc_get_error(struct cdr_buf *b, int *err, char **message) {
  uint32_t idx;
  int r;
  if ((r = cdr_buf_get_u32(b, &idx)) != 0 || (r = cdr_buf_get_lpstr(b, message, CDR_MAX_ERROR_MSG)) != 0)
    return r;
  *err = (idx == 0 || idx >= (uint32_t)CDR_ERR__COUNT) ? CDR_ERR_INTERNAL : -(int)idx;
  return cdr_buf_expect_end(b);
}

int ipc_put_store_item(struct cdr_buf *b, uint8_t op, const char *name, const void *data, size_t len) {
  int r;
  if ((r = cdr_buf_put_u8(b, op)) != 0 || (r = cdr_buf_put_lpstr(b, name)) != 0 ||
      (r = cdr_buf_put_lp(b, data, len)) != 0)
    return r;
  return 0;
}

int ipc_get_store_item(struct cdr_buf *b, struct ipc_store_item *it) {
  const uint8_t *name;
  size_t name_len;
  int r;
  memset(it, 0, sizeof(*it));
  if ((r = cdr_buf_get_u8(b, &it->op)) != 0 ||
      (r = cdr_buf_get_lp(b, &name, &name_len, sizeof(it->namebuf) - 1)) != 0 ||
      (r = cdr_buf_get_lp(b, &it->data, &it->len, CDR_IPC_MAX_FRAME)) != 0)
    return r;
  if (it->op < IPC_STORE_PUT || it->op > IPC_STORE_TRUNCATE || memchr(name, 0, name_len) != NULL)
    return CDR_ERR_TRUNCATED;
  if ((it->op == IPC_STORE_DELETE || it->op == IPC_STORE_SYNC) && it->len != 0)
    return CDR_ERR_TRUNCATED;
  if (it->op == IPC_STORE_TRUNCATE && it->len != 8)
    return CDR_ERR_TRUNCATED;
  memcpy(it->namebuf, name, name_len);
  it->namebuf[name_len] = '\0';
  it->name = it->namebuf;
  return 0;
}

int ipc_put_status(struct cdr_buf *b, int ok, const char *message) {
  int r;
  size_t n = message ? strnlen(message, CDR_MAX_ERROR_MSG) : 0;
  if ((r = cdr_buf_put_u8(b, ok ? 1 : 0)) != 0 || (r = cdr_buf_put_lp(b, message ? message : "", n)) != 0)
    return r;
  return 0;
}

int ipc_get_status(struct cdr_buf *b, int *ok, char **message) {
  uint8_t v;
  int r;
  if ((r = cdr_buf_get_u8(b, &v)) != 0)
    return r;
  if (v > 1)
    return CDR_ERR_TRUNCATED;
  if ((r = cdr_buf_get_lpstr(b, message, CDR_MAX_ERROR_MSG)) != 0)
    return r;
  if ((r = cdr_buf_expect_end(b)) != 0) {
    free(*message);
    *message = NULL;
    return r;
  }
  *ok = v;
  return 0;
}

int ipc_put_fetch(struct cdr_buf *b, const char *name, uint64_t offset, uint32_t max) {
  int r;
  if ((r = cdr_buf_put_lpstr(b, name)) != 0 || (r = cdr_buf_put_u64(b, offset)) != 0 ||
      (r = cdr_buf_put_u32(b, max)) != 0)
    return r;
  return 0;
}

int ipc_get_fetch(struct cdr_buf *b, char name[64], uint64_t *offset, uint32_t *max) {
  const uint8_t *n;
  size_t len;
  int r;
  if ((r = cdr_buf_get_lp(b, &n, &len, 63)) != 0 || (r = cdr_buf_get_u64(b, offset)) != 0 ||
      (r = cdr_buf_get_u32(b, max)) != 0 || (r = cdr_buf_expect_end(b)) != 0)
    return r;
  if (len == 0 || memchr(n, 0, len) != NULL || *max == 0 || *max > IPC_FETCH_MAX)
    return CDR_ERR_TRUNCATED;
  memcpy(name, n, len);
  name[len] = '\0';
  return 0;
}
