/*
 * witness_round.c - the countersign round after an audit batch is
 * durable, and the wait before an answer leaves (witness_start.h has the
 * contracts; docs/ARCHITECTURE.md "Witnesses").  Calls nothing in
 * audit.c (which calls here): the head is signed with the crypto library.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "common/json_get.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/audit_chain.h"
#include "crypto/crypto.h"
#include "enclave.h"
#include "store_client.h"
#include "witness_start.h"

static int dump_to_buf(const char *p, size_t n, void *ud) { return cdr_buf_put(ud, p, n) == 0 ? 0 : -1; }

/* The countersign request body (PROTOCOL 9.3) into out. */
static int countersign_body(struct enclave *e, const struct cdr_witness_head *h, int with_join, struct cdr_buf *out) {
  json_t *o = json_object(), *head = json_object();
  int r = o != NULL && head != NULL ? 0 : CDR_ERR_NOMEM;
  if (r == 0 && (r = cdr_witness_head_to_json(head, h)) == 0 && (r = cdr_json_set_hex(o, "room_id", e->room_id, 16)) == 0 &&
      (r = cdr_json_set_b64(o, "identity_public_key", e->identity_spki, e->identity_spki_len)) == 0) {
    if (json_object_set(o, "head", head) != 0 || (with_join && json_object_set(o, "join", e->witness.join) != 0))
      r = CDR_ERR_NOMEM;
  }
  if (r == 0 && json_dump_callback(o, dump_to_buf, out, JSON_COMPACT) != 0)
    r = CDR_ERR_TOO_LARGE;
  json_decref(head);
  json_decref(o);
  return r;
}

int witness_countersign_round(struct enclave *e, const struct cdr_witness_head *h, size_t *confirmed) {
  struct witness_state *ws = &e->witness;
  struct witness_gate *g = &ws->gate;
  const char *urls[IPC_WITNESS_MAX_N];
  struct ipc_witness_answer a[IPC_WITNESS_MAX_N];
  struct witness_countersig cs[IPC_WITNESS_MAX_N];
  uint8_t *sigs[IPC_WITNESS_MAX_N] = {0};
  struct cdr_buf body, reply;
  size_t n_cs = 0;
  int r, rejoin = 0;
  *confirmed = 0;
  for (size_t i = 0; i < g->n; i++)
    urls[i] = g->w[i].url;
  cdr_buf_init(&body, IPC_WITNESS_BODY_MAX, 0);
  if ((r = countersign_body(e, h, !ws->joined && ws->join != NULL, &body)) != 0) {
    cdr_buf_free(&body);
    return r;
  }
  r = enclave_witness_round(e, IPC_WITNESS_COUNTERSIGN, urls, (uint32_t)g->n, body.d, body.len, &reply, a);
  cdr_buf_free(&body);
  for (size_t i = 0; r == 0 && i < g->n; i++) {
    json_t *j = json_loadb((const char *)a[i].body, a[i].len, JSON_REJECT_DUPLICATES, NULL);
    const char *code = j ? json_string_value(json_object_get(j, "error")) : NULL;
    if (code != NULL && (strcmp(code, "witness_unknown_room") == 0 || strcmp(code, "witness_unknown_identity") == 0))
      rejoin = 1;
    else if (code != NULL)
      log_warn("witness %s refused head %llu: %s", urls[i], (unsigned long long)h->size, code);
    size_t len = 0;
    if (a[i].status == 200 && j != NULL &&
        cdr_json_get_hex_exact(j, "witness_key_sha256", cs[n_cs].witness_key_sha256, 32) == 0 &&
        cdr_json_get_b64(j, "signature", CDR_MAX_SIGNATURE, &sigs[n_cs], &len) == 0) {
      cs[n_cs].sig = sigs[n_cs];
      cs[n_cs].sig_len = len;
      n_cs++;
    }
    json_decref(j);
  }
  cdr_buf_free(&reply);
  if (r == 0) {
    ws->joined = !rejoin;
    if (witness_gate_confirmed(g, h->size, h->head, cs, n_cs, confirmed) != 0)
      log_warn("witnesses: head %llu countersigned by %zu, a quorum is %zu", (unsigned long long)h->size, *confirmed,
               g->quorum);
  }
  for (size_t i = 0; i < n_cs; i++)
    free(sigs[i]);
  return r;
}

/* ---- the audit writer's side, and the wait before an answer ---- */

int witness_due(struct enclave *e) { return e->witness.active && e->audit.witnessed < e->audit.durable; }

int witness_step(struct enclave *e) {
  struct audit_log *a = &e->audit;
  struct cdr_witness_head h;
  struct cdr_buf sig;
  size_t confirmed = 0;
  int r;
  if (!witness_due(e))
    return 0;
  memset(&h, 0, sizeof(h));
  h.size = a->durable;
  memcpy(h.head, a->head[a->durable], CDR_WITNESS_HASH_LEN);
  h.time = (uint64_t)e->now();
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  {
    struct cdr_buf t;
    cdr_buf_init(&t, 512, 0);
    if ((r = cdr_audit_head_transcript(&t, e->room_id, sizeof(e->room_id), h.size, h.head, h.time)) == 0)
      r = cdr_sign(&sig, e->identity_key, t.d, t.len);
    cdr_buf_free(&t);
  }
  if (r != 0 || sig.len > sizeof(h.sig)) {
    cdr_buf_free(&sig);
    return r ? r : CDR_ERR_INTERNAL;
  }
  memcpy(h.sig, sig.d, sig.len);
  h.sig_len = sig.len;
  cdr_buf_free(&sig);
  pthread_mutex_unlock(&a->lock);
  r = witness_countersign_round(e, &h, &confirmed);
  pthread_mutex_lock(&a->lock);
  if (r != 0)
    return r;
  if (confirmed >= e->witness.gate.quorum) {
    if (h.size > a->witnessed)
      a->witnessed = h.size;
    pthread_cond_broadcast(&a->cond);
    return 0;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 500000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  if (!a->writer_stop)
    (void)pthread_cond_timedwait(&a->cond, &a->lock, &ts);
  return 0;
}

int witness_answer_wait(struct enclave *e) {
  struct audit_log *a = &e->audit;
  struct timespec ts;
  int r = 0;
  if (!e->witness.active)
    return 0;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += WITNESS_WAIT_MS / 1000;
  ts.tv_nsec += (long)(WITNESS_WAIT_MS % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&a->lock);
  uint64_t target = a->n;
  /* No audit writer (a connected enclave has one lane): the round runs
   * here, on the request's own lane, until a quorum or the deadline. */
  for (struct timespec now; a->lane_fd <= 0 && a->witnessed < target && witness_due(e);) {
    if (witness_step(e) != 0) {
      e->fatal = 1;
      break;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec > ts.tv_sec || (now.tv_sec == ts.tv_sec && now.tv_nsec >= ts.tv_nsec))
      break;
  }
  while (a->witnessed < target && !a->writer_failed && r == 0)
    r = pthread_cond_timedwait(&a->cond, &a->lock, &ts);
  r = a->witnessed >= target ? 0 : CDR_ERR_WITNESS_UNAVAILABLE;
  pthread_mutex_unlock(&a->lock);
  return r;
}
