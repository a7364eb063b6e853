/*
 * messages.c - IPC payload codecs; see messages.h (the contracts and the
 * caps) and ipc.h (the layouts).  Every decoder ends with
 * cdr_buf_expect_end, or leaves it to a caller that decodes items one by
 * one (IPC_STORE).
 */
#include "messages.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int ipc_put_open(struct cdr_buf *b, const struct cdr_open_req *q) {
  int r;
  if ((r = cdr_buf_put_lp(b, q->cert_der, q->cert_len)) != 0 || (r = cdr_buf_put_lp(b, q->user_spki, q->user_spki_len)) != 0 ||
      (r = cdr_buf_put_lp(b, q->client_share, CDR_CLIENT_SHARE_LEN)) != 0 ||
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
      (r = cdr_buf_get_lp_exact(b, q->client_share, CDR_CLIENT_SHARE_LEN)) != 0 ||
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
      (r = cdr_buf_get_lp(b, &p->encap, &p->encap_len, IPC_OPEN_ENCAP_MAX)) != 0 ||
      (r = cdr_buf_get_lp(b, &p->sealed, &p->sealed_len, IPC_OPEN_SEALED_MAX)) != 0 ||
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

int ipc_put_store(struct cdr_buf *b, uint32_t nops, const struct cdr_buf *items) {
  int r;
  if ((r = cdr_buf_put_u32(b, nops)) != 0 || (r = cdr_buf_put(b, items->d, items->len)) != 0)
    return r;
  return 0;
}

int ipc_get_store_count(struct cdr_buf *b, uint32_t *nops) {
  int r;
  if ((r = cdr_buf_get_u32(b, nops)) != 0)
    return r;
  if (*nops == 0 || *nops > IPC_STORE_MAX_OPS)
    return CDR_ERR_TRUNCATED;
  return 0;
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

int ipc_get_fetch(struct cdr_buf *b, char name[IPC_OBJECT_NAME_MAX + 1], uint64_t *offset, uint32_t *max) {
  const uint8_t *n;
  size_t len;
  int r;
  if ((r = cdr_buf_get_lp(b, &n, &len, IPC_OBJECT_NAME_MAX)) != 0 || (r = cdr_buf_get_u64(b, offset)) != 0 ||
      (r = cdr_buf_get_u32(b, max)) != 0 || (r = cdr_buf_expect_end(b)) != 0)
    return r;
  if (len == 0 || memchr(n, 0, len) != NULL || *max == 0 || *max > IPC_FETCH_MAX)
    return CDR_ERR_TRUNCATED;
  memcpy(name, n, len);
  name[len] = '\0';
  return 0;
}

int ipc_put_fetched(struct cdr_buf *b, int found, const void *data, size_t len) {
  int r;
  if ((r = cdr_buf_put_u8(b, found ? 1 : 0)) != 0 || (r = cdr_buf_put_lp(b, found ? data : "", found ? len : 0)) != 0)
    return r;
  return 0;
}

int ipc_get_fetched(struct cdr_buf *b, uint32_t max, int *found, const uint8_t **data, size_t *len) {
  uint8_t f;
  int r;
  if ((r = cdr_buf_get_u8(b, &f)) != 0 || (r = cdr_buf_get_lp(b, data, len, max)) != 0 ||
      (r = cdr_buf_expect_end(b)) != 0)
    return r;
  if (f > 1 || (f == 0 && *len != 0))
    return CDR_ERR_TRUNCATED;
  *found = f;
  return 0;
}

/* ---- start: identity and attestation ---- */

/* A platform name: 1..IPC_PLATFORM_MAX printable ASCII bytes, copied
 * NUL-terminated into out. */
static int get_platform(struct cdr_buf *b, char out[IPC_PLATFORM_MAX + 1]) {
  const uint8_t *p;
  size_t n;
  int r;
  if ((r = cdr_buf_get_lp(b, &p, &n, IPC_PLATFORM_MAX)) != 0)
    return r;
  if (n == 0)
    return CDR_ERR_TRUNCATED;
  for (size_t i = 0; i < n; i++)
    if (p[i] < 0x21 || p[i] > 0x7e)
      return CDR_ERR_TRUNCATED;
  memcpy(out, p, n);
  out[n] = '\0';
  return 0;
}

int ipc_put_init(struct cdr_buf *b, const struct ipc_init *m) {
  int r;
  if ((r = cdr_buf_put_lp(b, m->room_id, CDR_ROOM_ID_BYTES)) != 0 || (r = cdr_buf_put_lp(b, m->ca_der, m->ca_len)) != 0 ||
      (r = cdr_buf_put_lp(b, m->sealed_identity, m->sealed_identity_len)) != 0)
    return r;
  return 0;
}

int ipc_get_init(struct cdr_buf *b, struct ipc_init *m) {
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = cdr_buf_get_lp_exact(b, m->room_id, CDR_ROOM_ID_BYTES)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->ca_der, &m->ca_len, CDR_MAX_CERT_DER)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->sealed_identity, &m->sealed_identity_len, IPC_SEALED_IDENTITY_MAX)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_init_ok(struct cdr_buf *b, const struct ipc_init_ok *m) {
  int r;
  if ((r = cdr_buf_put_lp(b, m->identity_spki, m->identity_spki_len)) != 0 ||
      (r = cdr_buf_put_lp(b, m->measurement, m->measurement_len)) != 0 ||
      (r = cdr_buf_put_lpstr(b, m->platform)) != 0 ||
      (r = cdr_buf_put_lp(b, m->new_sealed_identity, m->new_sealed_identity_len)) != 0)
    return r;
  return 0;
}

int ipc_get_init_ok(struct cdr_buf *b, struct ipc_init_ok *m) {
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = cdr_buf_get_lp(b, &m->identity_spki, &m->identity_spki_len, CDR_MAX_PUBKEY_DER)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->measurement, &m->measurement_len, CDR_MEASUREMENT_MAX)) != 0 ||
      (r = get_platform(b, m->platform)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->new_sealed_identity, &m->new_sealed_identity_len, IPC_SEALED_IDENTITY_MAX)) != 0 ||
      (r = cdr_buf_expect_end(b)) != 0)
    return r;
  if (m->identity_spki_len == 0 || m->measurement_len == 0)
    return CDR_ERR_TRUNCATED;
  return 0;
}

int ipc_put_attest(struct cdr_buf *b, const uint8_t nonce[CDR_NONCE_LEN]) {
  return cdr_buf_put_lp(b, nonce, CDR_NONCE_LEN);
}

int ipc_get_attest(struct cdr_buf *b, uint8_t nonce[CDR_NONCE_LEN]) {
  int r;
  if ((r = cdr_buf_get_lp_exact(b, nonce, CDR_NONCE_LEN)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_attest_ok(struct cdr_buf *b, const struct ipc_attest_ok *m) {
  int r;
  if (m->ncerts > IPC_ATTEST_MAX_CERTS)
    return CDR_ERR_TOO_LARGE;
  if ((r = cdr_buf_put_lpstr(b, m->platform)) != 0 || (r = cdr_buf_put_lp(b, m->evidence, m->evidence_len)) != 0 ||
      (r = cdr_buf_put_u32(b, m->ncerts)) != 0)
    return r;
  for (uint32_t i = 0; i < m->ncerts; i++)
    if ((r = cdr_buf_put_lp(b, m->certs[i], m->cert_lens[i])) != 0)
      return r;
  if ((r = cdr_buf_put_u64(b, m->contract_version)) != 0)
    return r;
  return cdr_buf_put(b, m->contract_sha256, sizeof(m->contract_sha256));
}

int ipc_get_attest_ok(struct cdr_buf *b, struct ipc_attest_ok *m) {
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = get_platform(b, m->platform)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->evidence, &m->evidence_len, IPC_EVIDENCE_MAX)) != 0 ||
      (r = cdr_buf_get_u32(b, &m->ncerts)) != 0)
    return r;
  if (m->ncerts > IPC_ATTEST_MAX_CERTS)
    return CDR_ERR_TOO_LARGE;
  for (uint32_t i = 0; i < m->ncerts; i++) {
    if ((r = cdr_buf_get_lp(b, &m->certs[i], &m->cert_lens[i], CDR_MAX_CERT_DER)) != 0)
      return r;
    if (m->cert_lens[i] == 0)
      return CDR_ERR_TRUNCATED;
  }
  if ((r = cdr_buf_get_u64(b, &m->contract_version)) != 0 ||
      (r = cdr_buf_get(b, m->contract_sha256, sizeof(m->contract_sha256))) != 0)
    return r;
  {
    uint8_t z = 0;
    for (size_t i = 0; i < sizeof(m->contract_sha256); i++)
      z |= m->contract_sha256[i];
    if ((m->contract_version == 0) != (z == 0))
      return CDR_ERR_TRUNCATED; /* a version without a hash, or the reverse */
  }
  return cdr_buf_expect_end(b);
}

/* ---- start: the sealed state ---- */

int ipc_put_load(struct cdr_buf *b, const uint8_t *manifest, size_t len) {
  return cdr_buf_put_lp(b, manifest, len);
}

int ipc_get_load(struct cdr_buf *b, const uint8_t **manifest, size_t *len) {
  int r;
  if ((r = cdr_buf_get_lp(b, manifest, len, IPC_MANIFEST_MAX)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_load_want_count(struct cdr_buf *b, uint32_t n) {
  if (n > IPC_LOAD_MAX_TABLES)
    return CDR_ERR_TOO_LARGE;
  return cdr_buf_put_u32(b, n);
}

int ipc_put_table_id(struct cdr_buf *b, const char *id) {
  if (strnlen(id, IPC_TABLE_ID_LEN + 1) != IPC_TABLE_ID_LEN || !cdr_hex_lower_ok(id, IPC_TABLE_ID_LEN))
    return CDR_ERR_ARG;
  return cdr_buf_put_lp(b, id, IPC_TABLE_ID_LEN);
}

/* A table id: an lp field of exactly IPC_TABLE_ID_LEN lowercase hex
 * digits, copied NUL-terminated into out. */
static int get_table_id(struct cdr_buf *b, char out[IPC_TABLE_ID_LEN + 1]) {
  const uint8_t *p;
  size_t n;
  int r;
  if ((r = cdr_buf_get_lp(b, &p, &n, IPC_TABLE_ID_LEN)) != 0)
    return r;
  if (n != IPC_TABLE_ID_LEN || !cdr_hex_lower_ok((const char *)p, n))
    return CDR_ERR_TRUNCATED;
  memcpy(out, p, n);
  out[n] = '\0';
  return 0;
}

int ipc_get_load_want(struct cdr_buf *b, char (**ids)[IPC_TABLE_ID_LEN + 1], uint32_t *n) {
  char(*got)[IPC_TABLE_ID_LEN + 1] = NULL;
  uint32_t count;
  int r;
  *ids = NULL;
  *n = 0;
  if ((r = cdr_buf_get_u32(b, &count)) != 0)
    return r;
  if (count > IPC_LOAD_MAX_TABLES)
    return CDR_ERR_TOO_LARGE;
  /* Each id takes 4 + IPC_TABLE_ID_LEN bytes: a count the payload cannot
   * hold is refused before anything is allocated for it. */
  if (cdr_buf_avail(b) / (4u + IPC_TABLE_ID_LEN) < count)
    return CDR_ERR_TRUNCATED;
  if (count > 0 && (got = calloc(count, sizeof(*got))) == NULL)
    return CDR_ERR_NOMEM;
  for (uint32_t i = 0; i < count; i++)
    if ((r = get_table_id(b, got[i])) != 0)
      goto out;
  if ((r = cdr_buf_expect_end(b)) != 0)
    goto out;
  *ids = got;
  *n = count;
  got = NULL;
out:
  free(got);
  return r;
}

int ipc_put_load_chunk(struct cdr_buf *b, const struct ipc_load_chunk *m) {
  int r;
  if ((r = cdr_buf_put_lpstr(b, m->id)) != 0 || (r = cdr_buf_put_u64(b, m->offset)) != 0 ||
      (r = cdr_buf_put_lp(b, m->data, m->len)) != 0 || (r = cdr_buf_put_u8(b, m->last)) != 0)
    return r;
  return 0;
}

int ipc_get_load_chunk(struct cdr_buf *b, struct ipc_load_chunk *m) {
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = get_table_id(b, m->id)) != 0 || (r = cdr_buf_get_u64(b, &m->offset)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->data, &m->len, IPC_LOAD_CHUNK_MAX)) != 0 || (r = cdr_buf_get_u8(b, &m->last)) != 0 ||
      (r = cdr_buf_expect_end(b)) != 0)
    return r;
  if (m->last > 1)
    return CDR_ERR_TRUNCATED;
  return 0;
}

int ipc_put_load_done(struct cdr_buf *b) {
  (void)b; /* the payload is empty */
  return 0;
}

int ipc_get_load_done(struct cdr_buf *b) { return cdr_buf_expect_end(b); }

/* ---- revocation ---- */

int ipc_put_crl(struct cdr_buf *b, const uint8_t *der, size_t len) { return cdr_buf_put_lp(b, der, len); }

int ipc_get_crl(struct cdr_buf *b, const uint8_t **der, size_t *len) {
  int r;
  if ((r = cdr_buf_get_lp(b, der, len, IPC_CRL_MAX)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_put_crl_ok(struct cdr_buf *b, uint64_t number, uint32_t ended) {
  int r;
  if ((r = cdr_buf_put_u64(b, number)) != 0 || (r = cdr_buf_put_u32(b, ended)) != 0)
    return r;
  return 0;
}

int ipc_get_crl_ok(struct cdr_buf *b, uint64_t *number, uint32_t *ended) {
  int r;
  if ((r = cdr_buf_get_u64(b, number)) != 0 || (r = cdr_buf_get_u32(b, ended)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

/* ---- the room contract ---- */

int ipc_put_propose(struct cdr_buf *b, const uint8_t *doc, size_t len) {
  if (len == 0 || len > CDR_CONTRACT_MAX_BYTES)
    return CDR_ERR_TOO_LARGE;
  return cdr_buf_put_lp(b, doc, len);
}

int ipc_get_propose(struct cdr_buf *b, const uint8_t **doc, size_t *len) {
  int r;
  if ((r = cdr_buf_get_lp(b, doc, len, CDR_CONTRACT_MAX_BYTES)) != 0)
    return r;
  if (*len == 0)
    return CDR_ERR_TRUNCATED;
  return cdr_buf_expect_end(b);
}

int ipc_put_propose_ok(struct cdr_buf *b, uint64_t version, const uint8_t hash[32], uint32_t voided) {
  int r;
  if ((r = cdr_buf_put_u64(b, version)) != 0 || (r = cdr_buf_put(b, hash, 32)) != 0 ||
      (r = cdr_buf_put_u32(b, voided)) != 0)
    return r;
  return 0;
}

static int put_contract_version(struct cdr_buf *b, const struct ipc_contract_version *v) {
  int r;
  if ((r = cdr_buf_put_u64(b, v->number)) != 0 || (r = cdr_buf_put(b, v->sha256, 32)) != 0)
    return r;
  return cdr_buf_put_lp(b, v->doc, v->doc_len);
}

static int get_contract_version(struct cdr_buf *b, struct ipc_contract_version *v) {
  uint8_t z = 0;
  int r;
  if ((r = cdr_buf_get_u64(b, &v->number)) != 0 || (r = cdr_buf_get(b, v->sha256, 32)) != 0 ||
      (r = cdr_buf_get_lp(b, &v->doc, &v->doc_len, CDR_CONTRACT_MAX_BYTES)) != 0)
    return r;
  for (size_t i = 0; i < 32; i++)
    z |= v->sha256[i];
  if ((v->number == 0) != (z == 0) || (v->number == 0) != (v->doc_len == 0))
    return CDR_ERR_TRUNCATED; /* a version is all there or all absent */
  return 0;
}

int ipc_put_contract_notice(struct cdr_buf *b, const struct ipc_contract_notice *m) {
  int r;
  if (m->active.doc_len > CDR_CONTRACT_MAX_BYTES || m->pending.doc_len > CDR_CONTRACT_MAX_BYTES)
    return CDR_ERR_TOO_LARGE;
  if ((r = put_contract_version(b, &m->active)) != 0 || (r = put_contract_version(b, &m->pending)) != 0)
    return r;
  return cdr_buf_put_u64(b, m->pending_expires);
}

int ipc_get_contract_notice(struct cdr_buf *b, struct ipc_contract_notice *m) {
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = get_contract_version(b, &m->active)) != 0 || (r = get_contract_version(b, &m->pending)) != 0 ||
      (r = cdr_buf_get_u64(b, &m->pending_expires)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

int ipc_get_propose_ok(struct cdr_buf *b, uint64_t *version, uint8_t hash[32], uint32_t *voided) {
  int r;
  if ((r = cdr_buf_get_u64(b, version)) != 0 || (r = cdr_buf_get(b, hash, 32)) != 0 ||
      (r = cdr_buf_get_u32(b, voided)) != 0)
    return r;
  return cdr_buf_expect_end(b);
}

/* ---- room limits ---- */

int ipc_put_limits(struct cdr_buf *b, const struct cdr_room_limits *l) {
  int r;
  if ((r = cdr_room_limits_check(l, NULL)) != 0)
    return r;
  if ((r = cdr_buf_put_u64(b, l->query_time_ms)) != 0 || (r = cdr_buf_put_u64(b, l->query_memory)) != 0 ||
      (r = cdr_buf_put_u64(b, l->result_bytes)) != 0 || (r = cdr_buf_put_u64(b, l->result_rows)) != 0 ||
      (r = cdr_buf_put_u64(b, l->member_queries)) != 0)
    return r;
  return 0;
}

int ipc_get_limits(struct cdr_buf *b, struct cdr_room_limits *l) {
  int r;
  if ((r = cdr_buf_get_u64(b, &l->query_time_ms)) != 0 || (r = cdr_buf_get_u64(b, &l->query_memory)) != 0 ||
      (r = cdr_buf_get_u64(b, &l->result_bytes)) != 0 || (r = cdr_buf_get_u64(b, &l->result_rows)) != 0 ||
      (r = cdr_buf_get_u64(b, &l->member_queries)) != 0)
    return r;
  if (cdr_room_limits_check(l, NULL) != 0)
    return CDR_ERR_TRUNCATED;
  return cdr_buf_expect_end(b);
}

int ipc_put_limits_ok(struct cdr_buf *b, int changed) { return cdr_buf_put_u8(b, changed ? 1 : 0); }

int ipc_get_limits_ok(struct cdr_buf *b, int *changed) {
  uint8_t c;
  int r;
  if ((r = cdr_buf_get_u8(b, &c)) != 0)
    return r;
  if (c > 1)
    return CDR_ERR_TRUNCATED;
  *changed = c;
  return cdr_buf_expect_end(b);
}

/* ---- the upgrade handoff ---- */

int ipc_put_upgrade_hello_ok(struct cdr_buf *b, const struct ipc_upgrade_hello_ok *m) {
  int r;
  if (m->measurement_len == 0 || m->measurement_len > CDR_MEASUREMENT_MAX || m->eph_spki_len == 0 ||
      m->eph_spki_len > CDR_MAX_PUBKEY_DER)
    return CDR_ERR_ARG;
  if ((r = cdr_buf_put_lp(b, m->measurement, m->measurement_len)) != 0 ||
      (r = cdr_buf_put_lp(b, m->eph_spki, m->eph_spki_len)) != 0)
    return r;
  return ipc_put_attest_ok(b, &m->att);
}

int ipc_get_upgrade_hello_ok(struct cdr_buf *b, struct ipc_upgrade_hello_ok *m) {
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = cdr_buf_get_lp(b, &m->measurement, &m->measurement_len, CDR_MEASUREMENT_MAX)) != 0 ||
      (r = cdr_buf_get_lp(b, &m->eph_spki, &m->eph_spki_len, CDR_MAX_PUBKEY_DER)) != 0)
    return r;
  if (m->measurement_len == 0 || m->eph_spki_len == 0)
    return CDR_ERR_TRUNCATED;
  if ((r = ipc_get_attest_ok(b, &m->att)) != 0)
    return r;
  return m->att.contract_version == 0 ? 0 : CDR_ERR_TRUNCATED;
}

int ipc_put_upgrade_keys(struct cdr_buf *b, uint8_t kem, const uint8_t *encap, size_t encap_len, const uint8_t *ct,
                         size_t ct_len) {
  int r;
  if (encap_len == 0 || encap_len > IPC_UPGRADE_ENCAP_MAX || ct_len == 0 || ct_len > IPC_UPGRADE_CT_MAX)
    return CDR_ERR_ARG;
  if ((r = cdr_buf_put_u8(b, kem)) != 0 || (r = cdr_buf_put_lp(b, encap, encap_len)) != 0)
    return r;
  return cdr_buf_put_lp(b, ct, ct_len);
}

int ipc_get_upgrade_keys(struct cdr_buf *b, uint8_t *kem, const uint8_t **encap, size_t *encap_len,
                         const uint8_t **ct, size_t *ct_len) {
  int r;
  if ((r = cdr_buf_get_u8(b, kem)) != 0 || (r = cdr_buf_get_lp(b, encap, encap_len, IPC_UPGRADE_ENCAP_MAX)) != 0 ||
      (r = cdr_buf_get_lp(b, ct, ct_len, IPC_UPGRADE_CT_MAX)) != 0)
    return r;
  if (*encap_len == 0 || *ct_len == 0)
    return CDR_ERR_TRUNCATED;
  return cdr_buf_expect_end(b);
}

int ipc_put_upgrade_done(struct cdr_buf *b, const uint8_t *blob, size_t len) {
  if (len == 0 || len > IPC_SEALED_IDENTITY_MAX)
    return CDR_ERR_ARG;
  return cdr_buf_put_lp(b, blob, len);
}

int ipc_get_upgrade_done(struct cdr_buf *b, const uint8_t **blob, size_t *len) {
  int r;
  if ((r = cdr_buf_get_lp(b, blob, len, IPC_SEALED_IDENTITY_MAX)) != 0)
    return r;
  if (*len == 0)
    return CDR_ERR_TRUNCATED;
  return cdr_buf_expect_end(b);
}

/* ---- witness rounds ---- */

int ipc_put_witness(struct cdr_buf *b, const struct ipc_witness_round *m) {
  int r;
  if (m->n == 0 || m->n > IPC_WITNESS_MAX_N || m->body_len > IPC_WITNESS_BODY_MAX)
    return CDR_ERR_ARG;
  if ((r = cdr_buf_put_u8(b, m->kind)) != 0 || (r = cdr_buf_put_u32(b, m->n)) != 0)
    return r;
  for (uint32_t i = 0; i < m->n; i++)
    if ((r = cdr_buf_put_lpstr(b, m->url[i])) != 0)
      return r;
  return cdr_buf_put_lp(b, m->body_len ? m->body : (const uint8_t *)"", m->body_len);
}

void ipc_witness_round_free(struct ipc_witness_round *m) {
  for (uint32_t i = 0; i < m->n && i < IPC_WITNESS_MAX_N; i++)
    free((char *)m->url[i]);
  memset(m, 0, sizeof(*m));
}

int ipc_get_witness(struct cdr_buf *b, struct ipc_witness_round *m) {
  uint32_t n;
  int r;
  memset(m, 0, sizeof(*m));
  if ((r = cdr_buf_get_u8(b, &m->kind)) != 0 || (r = cdr_buf_get_u32(b, &n)) != 0)
    return r;
  if (m->kind < IPC_WITNESS_KEY || m->kind > IPC_WITNESS_COUNTERSIGN || n == 0 || n > IPC_WITNESS_MAX_N)
    return CDR_ERR_TRUNCATED;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *p;
    size_t len;
    char *u;
    if ((r = cdr_buf_get_lp(b, &p, &len, CDR_CONTRACT_MAX_URL)) != 0)
      goto fail;
    for (size_t j = 0; j < len; j++)
      if (p[j] <= 0x20 || p[j] >= 0x7f)
        len = 0;
    if (len == 0 || (u = malloc(len + 1)) == NULL) {
      r = len == 0 ? CDR_ERR_TRUNCATED : CDR_ERR_NOMEM;
      goto fail;
    }
    memcpy(u, p, len);
    u[len] = '\0';
    m->url[i] = u;
    m->n = i + 1;
  }
  if ((r = cdr_buf_get_lp(b, &m->body, &m->body_len, IPC_WITNESS_BODY_MAX)) != 0 ||
      (r = cdr_buf_expect_end(b)) != 0)
    goto fail;
  if (m->kind == IPC_WITNESS_KEY && m->body_len != 0) {
    r = CDR_ERR_TRUNCATED;
    goto fail;
  }
  return 0;
fail:
  ipc_witness_round_free(m);
  return r;
}

int ipc_put_witness_answers(struct cdr_buf *b, const struct ipc_witness_answer *a, uint32_t n) {
  int r;
  if ((r = cdr_buf_put_u32(b, n)) != 0)
    return r;
  for (uint32_t i = 0; i < n; i++) {
    size_t len = a[i].status == 0 ? 0 : a[i].len;
    if (len > IPC_WITNESS_ANSWER_MAX)
      return CDR_ERR_ARG;
    if ((r = cdr_buf_put_u32(b, a[i].status)) != 0 || (r = cdr_buf_put_lp(b, len ? a[i].body : (const uint8_t *)"", len)) != 0)
      return r;
  }
  return 0;
}

int ipc_get_witness_answers(struct cdr_buf *b, uint32_t want_n, struct ipc_witness_answer *a) {
  uint32_t n;
  int r;
  if ((r = cdr_buf_get_u32(b, &n)) != 0)
    return r;
  if (n != want_n || n > IPC_WITNESS_MAX_N)
    return CDR_ERR_TRUNCATED;
  for (uint32_t i = 0; i < n; i++) {
    if ((r = cdr_buf_get_u32(b, &a[i].status)) != 0 ||
        (r = cdr_buf_get_lp(b, &a[i].body, &a[i].len, IPC_WITNESS_ANSWER_MAX)) != 0)
      return r;
    if (a[i].status == 0 && a[i].len != 0)
      return CDR_ERR_TRUNCATED;
  }
  return cdr_buf_expect_end(b);
}
