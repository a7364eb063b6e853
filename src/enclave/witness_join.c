/*
 * witness_join.c - the join a witness needs to learn the room (PROTOCOL
 * 9.3): the active contract chain, attestation evidence over a fresh
 * nonce, the CA.  Built once at start, on the control lane, when nothing
 * else runs, and kept read-only: the audit writer that sends the rounds
 * (witness_round.c) never reads the room state a change could be writing.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/util.h"
#include "contract_ops.h"
#include "crypto/crypto.h"
#include "enclave.h"
#include "witness_start.h"

/* The attestation answer of PROTOCOL 4.5 for nonce, as cdrd renders it. */
static json_t *join_attestation(struct enclave *e, const struct contract_version *cv, const uint8_t nonce[32]) {
  uint8_t rd[CDR_REPORT_DATA_LEN];
  struct cdr_buf ev, certs[ATTEST_MAX_CERTS];
  size_t ncerts = 0;
  json_t *a = json_object(), *ca = json_array();
  int r = a != NULL && ca != NULL ? 0 : CDR_ERR_NOMEM;
  cdr_buf_init(&ev, IPC_EVIDENCE_MAX, 0);
  if (r == 0)
    r = cdr_report_data(rd, e->identity_spki, e->identity_spki_len, e->room_id, e->ca_fp, cv->hash, nonce);
  if (r == 0)
    r = e->attest->evidence(e->attest, rd, &ev, certs, &ncerts);
  for (size_t i = 0; r == 0 && i < ncerts; i++) {
    char *s = NULL;
    if ((r = cdr_b64_encode(&s, certs[i].d, certs[i].len)) == 0 && json_array_append_new(ca, json_string(s)) != 0)
      r = CDR_ERR_NOMEM;
    free(s);
  }
  if (r == 0 && (json_object_set_new(a, "platform", json_string(e->attest->name)) != 0 ||
                 json_object_set(a, "certificates", ca) != 0 ||
                 json_object_set_new(a, "contract_version", json_integer((json_int_t)cv->c.version)) != 0))
    r = CDR_ERR_NOMEM;
  if (r == 0 && (r = cdr_json_set_b64(a, "evidence", ev.d, ev.len)) == 0 &&
      (r = cdr_json_set_b64(a, "identity_public_key", e->identity_spki, e->identity_spki_len)) == 0 &&
      (r = cdr_json_set_hex(a, "room_id", e->room_id, CDR_ROOM_ID_BYTES)) == 0 && (r = cdr_json_set_hex(a, "ca_fingerprint", e->ca_fp, 32)) == 0)
    r = cdr_json_set_hex(a, "contract_sha256", cv->hash, 32);
  for (size_t i = 0; i < ncerts; i++)
    cdr_buf_free(&certs[i]);
  cdr_buf_free(&ev);
  json_decref(ca);
  if (r != 0) {
    log_error("witness join: the attestation evidence failed: %s", cdr_err_code(r));
    json_decref(a);
    return NULL;
  }
  return a;
}

int witness_join_build(struct enclave *e) {
  struct witness_state *ws = &e->witness;
  const struct contract_version *cv = contract_state_current(&e->contract);
  uint8_t nonce[32], *der = NULL;
  int n, r;
  json_t *j = json_object(), *chain = json_array(), *att = NULL;
  if (cv == NULL || j == NULL || chain == NULL || (r = cdr_random(nonce, sizeof(nonce))) != 0) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < e->contract.n_active; i++)
    if (json_array_append_new(chain, contract_version_json(&e->contract.active[i])) != 0) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
  r = CDR_ERR_INTERNAL;
  if ((att = join_attestation(e, cv, nonce)) == NULL || (n = i2d_X509(e->ca_cert, &der)) <= 0)
    goto out;
  if (json_object_set(j, "chain", chain) != 0 || json_object_set(j, "attestation", att) != 0)
    goto out;
  if ((r = cdr_json_set_b64(j, "nonce", nonce, sizeof(nonce))) != 0 || (r = cdr_json_set_b64(j, "ca_certificate", der, (size_t)n)) != 0)
    goto out;
  json_decref(ws->join);
  ws->join = j;
  j = NULL;
out:
  OPENSSL_free(der);
  json_decref(att);
  json_decref(chain);
  json_decref(j);
  return r;
}

