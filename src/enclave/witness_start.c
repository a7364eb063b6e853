/*
 * witness_start.c - the start check against the room's witnesses
 * (witness_start.h has the contract).  The host relays; everything it
 * relays is verified by witness_gate.c, so a host that drops answers can
 * keep the room from serving, never make it serve a rolled-back history.
 */
#include "witness_start.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "enclave.h"
#include "store_client.h"

/* head(index) of our own log, for the start check (caller holds the log). */
static int log_head_at(void *ctx, uint64_t index, uint8_t out[CDR_WITNESS_HASH_LEN]) {
  struct enclave *e = ctx;
  if (index > e->audit.n)
    return CDR_ERR_ARG;
  memcpy(out, e->audit.head[index], CDR_WITNESS_HASH_LEN);
  return 0;
}

/* Ask every witness for its key and set the keys that match the
 * contract (a witness that answers another key counts nothing). */
static int ask_keys(struct enclave *e, struct witness_gate *g, const char *const *urls) {
  struct ipc_witness_answer a[IPC_WITNESS_MAX_N];
  struct cdr_buf reply;
  int r = enclave_witness_round(e, IPC_WITNESS_KEY, urls, (uint32_t)g->n, NULL, 0, &reply, a);
  for (size_t i = 0; r == 0 && i < g->n; i++) {
    json_t *j = a[i].status == 200 ? json_loadb((const char *)a[i].body, a[i].len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *b64 = j ? json_string_value(json_object_get(j, "public_key")) : NULL;
    uint8_t *spki = NULL;
    size_t spki_len = 0, idx;
    if (b64 != NULL && cdr_b64_decode(&spki, &spki_len, b64, CDR_MAX_PUBKEY_DER) == 0 &&
        (witness_gate_set_key(g, spki, spki_len, &idx) != 0 || idx != i))
      log_warn("witness %s answered a key the contract does not name for it", urls[i]);
    free(spki);
    json_decref(j);
  }
  cdr_buf_free(&reply);
  return r;
}

/* One "latest" round and the check; the verdict into ws. */
static int check_once(struct enclave *e, struct witness_state *ws) {
  struct witness_gate *g = &ws->gate;
  const char *urls[IPC_WITNESS_MAX_N];
  struct ipc_witness_answer a[IPC_WITNESS_MAX_N];
  struct cdr_witness_latest parsed[IPC_WITNESS_MAX_N];
  const struct cdr_witness_latest *answers[IPC_WITNESS_MAX_N];
  struct witness_gate_verdict v;
  struct cdr_buf reply;
  uint8_t nonce[CDR_NONCE_LEN];
  char room_hex[2 * CDR_ROOM_ID_BYTES + 1], *nonce_b64 = NULL, body[256];
  size_t body_len;
  int r;
  for (size_t i = 0; i < g->n; i++)
    urls[i] = g->w[i].url;
  if ((r = ask_keys(e, g, urls)) != 0)
    return r;
  if ((r = cdr_random(nonce, sizeof(nonce))) != 0 || (r = cdr_b64_encode(&nonce_b64, nonce, sizeof(nonce))) != 0)
    return r;
  cdr_hex_encode(room_hex, e->room_id, CDR_ROOM_ID_BYTES);
  json_t *req = json_pack("{s:s, s:s}", "room_id", room_hex, "nonce", nonce_b64);
  free(nonce_b64);
  /* json_dumpb into our buffer: json_dumps would allocate with jansson's
   * allocator (the wiping one), not malloc. */
  body_len = req != NULL ? json_dumpb(req, body, sizeof(body), JSON_COMPACT) : 0;
  json_decref(req);
  if (body_len == 0 || body_len > sizeof(body))
    return CDR_ERR_NOMEM;
  r = enclave_witness_round(e, IPC_WITNESS_LATEST, urls, (uint32_t)g->n, (const uint8_t *)body, body_len, &reply, a);
  if (r != 0) {
    cdr_buf_free(&reply);
    return r;
  }
  for (size_t i = 0; i < g->n; i++) {
    char why[256];
    json_t *j = a[i].status == 200 ? json_loadb((const char *)a[i].body, a[i].len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    answers[i] = j != NULL && cdr_witness_latest_parse(j, &parsed[i], why, sizeof(why)) == 0 ? &parsed[i] : NULL;
    json_decref(j);
  }
  cdr_buf_free(&reply);
  struct witness_gate_log lg = {0, log_head_at, e, e->identity_spki, e->identity_spki_len};
  audit_lock(e);
  lg.size = audit_visible(e);
  ws->verdict = witness_gate_start_check(g, nonce, answers, &lg, &v);
  audit_unlock(e);
  snprintf(ws->message, sizeof(ws->message), "%s", v.message);
  if (ws->verdict == 0)
    log_info("witnesses: %s", v.message);
  else
    log_error("serving nothing: %s", v.message);
  return 0;
}

int enclave_witness_start(struct enclave *e) {
  struct witness_state *ws = &e->witness;
  const struct contract_version *cv = contract_state_current(&e->contract);
  int r = 0;
  pthread_mutex_lock(&ws->lock);
  witness_gate_free(&ws->gate);
  ws->verdict = 0;
  ws->message[0] = '\0';
  if (cv == NULL || cv->c.n_witnesses == 0) {
    ws->serving = 1;
    pthread_mutex_unlock(&ws->lock);
    return 0;
  }
  if ((r = witness_gate_init(&ws->gate, &cv->c)) != 0) {
    ws->verdict = CDR_ERR_WITNESS_UNAVAILABLE;
    snprintf(ws->message, sizeof(ws->message), "witness_unavailable: the contract's witness set is invalid");
    pthread_mutex_unlock(&ws->lock);
    return 0;
  }
  if (witness_join_build(e) != 0) {
    ws->verdict = CDR_ERR_WITNESS_UNAVAILABLE;
    snprintf(ws->message, sizeof(ws->message), "witness_unavailable: the enclave could not build its join "
                                               "(attestation evidence)");
    pthread_mutex_unlock(&ws->lock);
    return 0;
  }
  r = check_once(e, ws);
  ws->retry_after = e->now() + 1;
  if (r == 0 && ws->verdict == 0)
    ws->active = ws->serving = 1;
  pthread_mutex_unlock(&ws->lock);
  return r;
}

int enclave_witness_serving(struct enclave *e, char *msg, size_t msglen) {
  struct witness_state *ws = &e->witness;
  int v;
  if (ws->serving)
    return 0;
  pthread_mutex_lock(&ws->lock);
  if (ws->verdict == CDR_ERR_WITNESS_UNAVAILABLE && ws->gate.n > 0 && e->now() >= ws->retry_after) {
    if (check_once(e, ws) != 0)
      e->fatal = 1; /* the channel broke */
    ws->retry_after = e->now() + 1;
    if (ws->verdict == 0) {
      ws->active = ws->serving = 1;
      pthread_mutex_lock(&e->audit.lock);
      pthread_cond_broadcast(&e->audit.cond); /* the writer: a round is due */
      pthread_mutex_unlock(&e->audit.lock);
    }
  }
  v = ws->verdict;
  snprintf(msg, msglen, "%s", ws->message);
  pthread_mutex_unlock(&ws->lock);
  return v;
}

void enclave_witness_free(struct enclave *e) {
  witness_gate_free(&e->witness.gate);
  json_decref(e->witness.join);
  e->witness.join = NULL;
}
