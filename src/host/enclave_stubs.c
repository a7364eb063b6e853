/*
 * enclave_stubs.c - the host's stubs for the enclave's operations
 * (enclave_link.h): attestation, session open, requests, loading the
 * sealed state at start, and the room's CRL.
 *
 * Each stub encodes its request with the codec of messages.h, makes one
 * call (link_call, enclave_call.c: which checks the payload with the
 * enclave's own decoder first) and decodes the reply with its codec.  A
 * reply that does not decode marks the link dead (link_malformed): the
 * enclave is trusted, so a malformed answer means the stream is out of
 * step.  Out-parameters that borrow point into the caller's `reply`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "crypto/envelope.h"
#include "enclave_link_int.h"
#include "ipc/messages.h"

void enclave_attestation_free(struct enclave_attestation *a) {
  if (a == NULL)
    return;
  free(a->evidence);
  for (size_t i = 0; a->certs != NULL && i < a->ncerts; i++)
    free(a->certs[i]);
  free(a->certs);
  free(a->cert_lens);
  memset(a, 0, sizeof(*a));
}

/* Copy a decoded IPC_ATTEST_OK into out (which owns its copies). */
static int link_copy_attestation(const struct ipc_attest_ok *m, struct enclave_attestation *out) {
  int r = CDR_ERR_NOMEM;
  memcpy(out->platform, m->platform, sizeof(out->platform));
  out->contract_version = m->contract_version;
  memcpy(out->contract_sha256, m->contract_sha256, sizeof(out->contract_sha256));
  if ((out->evidence = link_memdup(m->evidence, m->evidence_len)) == NULL)
    goto out;
  out->evidence_len = m->evidence_len;
  if ((out->certs = calloc(IPC_ATTEST_MAX_CERTS, sizeof(*out->certs))) == NULL ||
      (out->cert_lens = calloc(IPC_ATTEST_MAX_CERTS, sizeof(*out->cert_lens))) == NULL)
    goto out;
  for (uint32_t i = 0; i < m->ncerts; i++) {
    if ((out->certs[i] = link_memdup(m->certs[i], m->cert_lens[i])) == NULL)
      goto out;
    out->cert_lens[i] = m->cert_lens[i];
    out->ncerts = i + 1;
  }
  r = 0;
out:
  if (r != 0)
    enclave_attestation_free(out);
  return r;
}

int enclave_attest(struct enclave_link *l, const uint8_t nonce[CDR_NONCE_LEN], struct enclave_attestation *out,
                   char **errmsg) {
  struct cdr_buf payload, reply;
  struct ipc_attest_ok m;
  int r;

  memset(out, 0, sizeof(*out));
  cdr_buf_init(&payload, 64, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if (l == NULL) {
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  if ((r = ipc_put_attest(&payload, nonce)) != 0 ||
      (r = link_call(l, IPC_ATTEST, &payload, IPC_ATTEST_OK, &reply, errmsg)) != 0)
    goto out;
  if ((r = ipc_get_attest_ok(&reply, &m)) != 0) {
    r = link_malformed(l, r, "malformed IPC_ATTEST_OK");
    goto out;
  }
  r = link_copy_attestation(&m, out);
out:
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

/* The two session stubs: encode with put, call, decode the reply (which
 * resp then borrows from) with get, whose failure marks the link dead. */
#define SESSION_STUB(l, type, put, req, reply_type, get, resp, reply, errmsg, malformed)              \
  do {                                                                                                \
    struct cdr_buf payload_;                                                                          \
    memset((resp), 0, sizeof(*(resp)));                                                               \
    cdr_buf_init((reply), CDR_IPC_MAX_FRAME, 0);                                                      \
    cdr_buf_init(&payload_, CDR_IPC_MAX_FRAME, 0);                                                    \
    r = (l) == NULL ? CDR_ERR_INTERNAL : 0;                                                           \
    if (r == 0 && (r = put(&payload_, (req))) == 0 &&                                                 \
        (r = link_call((l), (type), &payload_, (reply_type), (reply), (errmsg))) == 0 &&              \
        (r = get((reply), (resp))) != 0) {                                                            \
      memset((resp), 0, sizeof(*(resp)));                                                             \
      link_mark_dead((l), (malformed));                                                               \
      r = CDR_ERR_INTERNAL;                                                                           \
    }                                                                                                 \
    cdr_buf_free(&payload_);                                                                          \
  } while (0)

/* IPC_OPEN_OK decoded, with a key-exchange method the host knows. */
static int get_open_ok_known_kem(struct cdr_buf *reply, struct cdr_open_resp *resp) {
  int r = ipc_get_open_ok(reply, resp);
  return r != 0 ? r : cdr_kem_name(resp->kem) != NULL ? 0 : CDR_ERR_TRUNCATED;
}

int enclave_open_session(struct enclave_link *l, const struct cdr_open_req *req, struct cdr_open_resp *resp,
                         struct cdr_buf *reply, char **errmsg) {
  int r;
  SESSION_STUB(l, IPC_OPEN, ipc_put_open, req, IPC_OPEN_OK, get_open_ok_known_kem, resp, reply, errmsg,
               "malformed IPC_OPEN_OK");
  return r;
}

int enclave_request(struct enclave_link *l, const struct cdr_request_env *req, struct cdr_response_env *resp,
                    struct cdr_buf *reply, char **errmsg) {
  int r;
  SESSION_STUB(l, IPC_REQUEST, ipc_put_request, req, IPC_RESPONSE, ipc_get_response, resp, reply, errmsg,
               "malformed IPC_RESPONSE");
  return r;
}

/* ---- loading the sealed state at start ---- */

/* One call expecting IPC_LOAD_ACK (caller holds l->lock); *ok from its
 * status, *msg its message (malloc'd). */
static int link_load_ack_locked(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload, int *ok,
                                char **msg) {
  struct cdr_buf reply;
  int r;
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if ((r = link_call_locked(l, type, payload, IPC_LOAD_ACK, &reply, msg)) == 0 &&
      (r = ipc_get_status(&reply, ok, msg)) != 0) {
    link_mark_dead(l, "malformed IPC_LOAD_ACK");
    r = CDR_ERR_INTERNAL;
  }
  cdr_buf_free(&reply);
  return r;
}

int enclave_load_table(struct enclave_link *l, const char *id, enclave_read_fn read, void *ctx,
                       void (*chunk_done)(void *ctx, size_t len), int *refused) {
  struct cdr_buf payload, reply;
  struct ipc_load_chunk m;
  uint8_t *chunk;
  int r = 0, ok = 1;
  *refused = 0;
  if ((chunk = malloc(IPC_LOAD_CHUNK_MAX)) == NULL)
    return CDR_ERR_NOMEM;
  memset(&m, 0, sizeof(m));
  snprintf(m.id, sizeof(m.id), "%s", id);
  m.data = chunk;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  while (!m.last && ok) {
    size_t got = 0;
    char *msg = NULL;
    if ((r = read(ctx, id, m.offset, chunk, IPC_LOAD_CHUNK_MAX, &got)) != 0) {
      log_error("cannot read sealed table %s: %s (it stays unloaded)", id, cdr_err_describe(r));
      got = 0; /* an empty last chunk: the enclave refuses the table */
    }
    m.len = got;
    m.last = got < IPC_LOAD_CHUNK_MAX;
    cdr_buf_free(&payload);
    cdr_buf_free(&reply);
    if ((r = ipc_put_load_chunk(&payload, &m)) != 0 ||
        (r = link_call(l, IPC_LOAD_CHUNK, &payload, IPC_LOAD_ACK, &reply, &msg)) != 0) {
      free(msg);
      break;
    }
    if ((r = ipc_get_status(&reply, &ok, &msg)) != 0) {
      free(msg);
      link_mark_dead(l, "malformed IPC_LOAD_ACK");
      r = CDR_ERR_INTERNAL;
      break;
    }
    if (!ok) {
      log_error("the enclave refused sealed table %s: %s", id, msg ? msg : "");
      *refused = 1;
    } else if (chunk_done != NULL) {
      chunk_done(ctx, got);
    }
    free(msg);
    m.offset += got;
  }
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  free(chunk);
  return r;
}

int enclave_load_open(struct enclave_link *l, const uint8_t *manifest, size_t manifest_len, char (**wanted)[33],
                      size_t *nwanted) {
  struct cdr_buf payload, reply;
  char(*ids)[IPC_TABLE_ID_LEN + 1] = NULL;
  uint32_t n = 0;
  int r;
  char *msg = NULL;
  *wanted = NULL;
  *nwanted = 0;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  pthread_mutex_lock(&l->lock);
  if ((r = ipc_put_load(&payload, manifest, manifest_len)) == 0 &&
      (r = link_call_locked(l, IPC_LOAD, &payload, IPC_LOAD_WANT, &reply, &msg)) == 0 &&
      (r = ipc_get_load_want(&reply, &ids, &n)) != 0)
    r = link_malformed(l, r, "malformed IPC_LOAD_WANT");
  pthread_mutex_unlock(&l->lock);
  if (r != 0 && msg != NULL)
    log_error("loading the enclave's state failed: %s", msg);
  if (r == 0) {
    *wanted = ids;
    *nwanted = n;
    ids = NULL;
  }
  free(msg);
  free(ids);
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

int enclave_load_done(struct enclave_link *l) {
  struct cdr_buf payload;
  int r, ok = 0;
  char *msg = NULL;
  cdr_buf_init(&payload, 16, 0);
  pthread_mutex_lock(&l->lock);
  if ((r = ipc_put_load_done(&payload)) == 0 && (r = link_load_ack_locked(l, IPC_LOAD_DONE, &payload, &ok, &msg)) == 0 &&
      !ok) {
    log_error("the enclave did not accept its state: %s", msg ? msg : "");
    r = CDR_ERR_INTERNAL;
  }
  pthread_mutex_unlock(&l->lock);
  free(msg);
  cdr_buf_free(&payload);
  return r;
}

/* ---- revocation ---- */

int enclave_set_crl(struct enclave_link *l, const uint8_t *der, size_t len, uint64_t *number, uint32_t *ended,
                    char **errmsg) {
  struct cdr_buf payload, reply;
  int r;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0); /* storage rounds may come first */
  if ((r = ipc_put_crl(&payload, der, len)) == 0 && (r = link_call(l, IPC_CRL, &payload, IPC_CRL_OK, &reply, errmsg)) == 0 &&
      ipc_get_crl_ok(&reply, number, ended) != 0) {
    link_mark_dead(l, "malformed IPC_CRL_OK");
    r = CDR_ERR_INTERNAL;
  }
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

/* ---- the room contract ---- */

int enclave_propose(struct enclave_link *l, const uint8_t *doc, size_t len, uint64_t *version, uint8_t hash[32],
                    uint32_t *voided, char **errmsg) {
  struct cdr_buf payload, reply;
  int r;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0); /* storage rounds may come first */
  if ((r = ipc_put_propose(&payload, doc, len)) == 0 &&
      (r = link_call(l, IPC_PROPOSE, &payload, IPC_PROPOSE_OK, &reply, errmsg)) == 0 &&
      ipc_get_propose_ok(&reply, version, hash, voided) != 0) {
    link_mark_dead(l, "malformed IPC_PROPOSE_OK");
    r = CDR_ERR_INTERNAL;
  }
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

/* ---- the room's limits ---- */

int enclave_set_limits(struct enclave_link *l, const struct cdr_room_limits *limits, int *changed, char **errmsg) {
  struct cdr_buf payload, reply;
  int r;
  cdr_buf_init(&payload, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0); /* storage rounds may come first */
  if ((r = ipc_put_limits(&payload, limits)) == 0 &&
      (r = link_call(l, IPC_LIMITS, &payload, IPC_LIMITS_OK, &reply, errmsg)) == 0 &&
      ipc_get_limits_ok(&reply, changed) != 0) {
    link_mark_dead(l, "malformed IPC_LIMITS_OK");
    r = CDR_ERR_INTERNAL;
  }
  cdr_buf_free(&payload);
  cdr_buf_free(&reply);
  return r;
}

/* ---- the upgrade handoff (host/upgrade.c) ---- */

int enclave_upgrade_offer(struct enclave_link *o, const struct cdr_buf *hello, struct cdr_buf *keys, char **errmsg) {
  return link_call(o, IPC_UPGRADE_OFFER, hello, IPC_UPGRADE_KEYS, keys, errmsg);
}

int enclave_upgrade_accept(struct enclave_link *n, const struct cdr_buf *keys, uint8_t **blob, size_t *len,
                           char **errmsg) {
  struct cdr_buf reply;
  const uint8_t *p;
  int r;
  *blob = NULL;
  *len = 0;
  cdr_buf_init(&reply, CDR_IPC_MAX_FRAME, 0);
  if ((r = link_call(n, IPC_UPGRADE_ACCEPT, keys, IPC_UPGRADE_DONE, &reply, errmsg)) == 0) {
    if (ipc_get_upgrade_done(&reply, &p, len) != 0) {
      link_mark_dead(n, "malformed IPC_UPGRADE_DONE");
      r = CDR_ERR_INTERNAL;
    } else if ((*blob = link_memdup(p, *len)) == NULL) {
      r = CDR_ERR_NOMEM;
    }
  }
  cdr_buf_free(&reply);
  return r;
}
