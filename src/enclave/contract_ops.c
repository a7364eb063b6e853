/*
 * contract_ops.c - the contract operations; see contract_ops.h and
 * docs/PROTOCOL.md 4.7.
 *
 * A version's JSON in an answer:
 *   {"version":n,"sha256":hex,"document":<the canonical document, as a
 *    JSON string>,"signatures":[{"spki":b64,"object":<the detached
 *    signature object, as a JSON string>},...]}
 * and the pending one also "expires" (seconds since the epoch),
 * "required" ([{"key_sha256":hex,"reasons":[...],"signed":bool}]) and
 * "missing" (how many required signers have not signed).
 */
#include "contract_ops.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "common/log.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "persist.h"
#include "store_client.h"

static int64_t contract_now(const struct enclave *e) { return e->now != NULL ? e->now() : cdr_now(); }

/* The document with hash h is already the pending version, or the active
 * one: proposing it again changes nothing (cdrd hands ROOM/proposal.json
 * over at every start, and a member may repeat itself). */
static int already_there(const struct enclave *e, const uint8_t h[32]) {
  const struct contract_version *p = contract_state_pending(&e->contract, contract_now(e));
  const struct contract_version *a = contract_state_current(&e->contract);
  return (p != NULL && memcmp(p->hash, h, 32) == 0) || (a != NULL && memcmp(a->hash, h, 32) == 0);
}

static json_t *hex_json(const uint8_t *p, size_t n) {
  char hex[2 * 64 + 1];
  if (n > 64)
    return NULL;
  cdr_hex_encode(hex, p, n);
  return json_string(hex);
}

json_t *contract_version_json(const struct contract_version *v) {
  json_t *sigs = json_array(), *o;
  for (size_t i = 0; sigs != NULL && i < v->n_sigs; i++) {
    char *b64 = NULL;
    json_t *s = cdr_b64_encode(&b64, v->sigs[i].spki, v->sigs[i].spki_len) != 0 ? NULL
                            : json_pack("{s:s,s:s%}", "spki", b64, "object", (const char *)v->sigs[i].obj,
                                        v->sigs[i].obj_len);
    free(b64);
    if (s == NULL || json_array_append_new(sigs, s) != 0) {
      json_decref(sigs);
      return NULL;
    }
  }
  if (sigs == NULL)
    return NULL;
  o = json_pack("{s:I,s:o,s:s%,s:o}", "version", (json_int_t)v->c.version, "sha256", hex_json(v->hash, 32),
                "document", (const char *)v->doc, v->doc_len, "signatures", sigs);
  return o;
}

static json_t *reasons_json(unsigned bits) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{CDR_SIGNER_LISTED, "listed"},
               {CDR_SIGNER_PROVIDER, "provider"},
               {CDR_SIGNER_ADDED, "added"},
               {CDR_SIGNER_WIDENED, "widened"},
               {CDR_SIGNER_MEMBER, "member"}};
  json_t *a = json_array();
  for (size_t i = 0; a != NULL && i < sizeof(names) / sizeof(names[0]); i++)
    if ((bits & names[i].bit) != 0 && json_array_append_new(a, json_string(names[i].name)) != 0) {
      json_decref(a);
      return NULL;
    }
  return a;
}

static int has_signed(const struct contract_version *v, const uint8_t key[32]) {
  for (size_t i = 0; i < v->n_sigs; i++)
    if (memcmp(v->sigs[i].key_sha256, key, 32) == 0)
      return 1;
  return 0;
}

static json_t *pending_json(const struct enclave *e) {
  struct cdr_contract_signers req;
  json_t *o, *a;
  size_t missing = 0;
  if (contract_state_pending(&e->contract, contract_now(e)) == NULL)
    return json_null();
  if ((o = contract_version_json(&e->contract.pending)) == NULL)
    return NULL;
  if (contract_state_required(&e->contract, &req) != 0 || (a = json_array()) == NULL) {
    json_decref(o);
    return NULL;
  }
  for (size_t i = 0; i < req.n; i++) {
    int s = has_signed(&e->contract.pending, req.v[i].key_sha256);
    missing += s ? 0 : 1;
    json_array_append_new(a, json_pack("{s:o,s:o,s:b}", "key_sha256", hex_json(req.v[i].key_sha256, 32), "reasons",
                                       reasons_json(req.v[i].reasons), "signed", s));
  }
  size_t n_req = req.n;
  cdr_contract_signers_free(&req);
  if (json_array_size(a) != n_req || json_object_set_new(o, "required", a) != 0 ||
      json_object_set_new(o, "missing", json_integer((json_int_t)missing)) != 0 ||
      json_object_set_new(o, "expires", json_integer((json_int_t)e->contract.pending_expires)) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int contract_op_read(struct enclave *e, json_t *hdr, struct cdr_buf *out, struct enclave_op_outcome *res) {
  const struct contract_version *cur = contract_state_current(&e->contract);
  uint64_t from = 0;
  json_t *o, *chain = NULL;
  if (json_object_get(hdr, "from") != NULL && cdr_json_get_u64(hdr, "from", &from) != 0)
    return enclave_reply_op_fail(out, res, CDR_ERR_ARG, "field \"from\" must be a version number (1, 2, ...)");
  if (from > 0) {
    chain = json_array();
    for (size_t i = 0; chain != NULL && i < e->contract.n_active; i++)
      if (e->contract.active[i].c.version >= from &&
          json_array_append_new(chain, contract_version_json(&e->contract.active[i])) != 0) {
        json_decref(chain);
        chain = NULL;
      }
    if (chain == NULL)
      return enclave_reply_op_fail(out, res, CDR_ERR_NOMEM, NULL);
  }
  o = json_pack("{s:b,s:o,s:o}", "ok", 1, "active", cur != NULL ? contract_version_json(cur) : json_null(), "pending",
                pending_json(e));
  if (o != NULL && chain != NULL && json_object_set(o, "chain", chain) != 0) {
    json_decref(o);
    o = NULL;
  }
  json_decref(chain);
  return enclave_reply_op_json(out, res, o);
}

int contract_op_propose(struct enclave *e, const struct contract_caller *who, const uint8_t *doc, size_t len,
                        struct cdr_buf *out, struct enclave_op_outcome *res) {
  const struct contract_version *cur = contract_state_current(&e->contract);
  char why[CDR_CONTRACT_WHY_LEN] = "";
  uint8_t h[32];
  size_t voided = 0;
  int r;
  if (len > CDR_CONTRACT_MAX_BYTES)
    return enclave_reply_op_fail(out, res, CDR_ERR_CONTRACT_INVALID, "the document is larger than 1 MiB");
  if ((r = cdr_sha256(h, doc, len)) != 0)
    return enclave_reply_op_fail(out, res, r, NULL);
  audit_set(e, "contract_sha256", audit_hex(h, sizeof(h)));
  /* Once a version is active, only its members propose the next. */
  if (cur != NULL && cdr_contract_find_member(&cur->c, who->key_fp) < 0)
    return enclave_reply_op_fail(out, res, CDR_ERR_NOT_A_MEMBER,
                                 "only a member of the active contract may propose its next version");
  if (already_there(e, h))
    return enclave_reply_op_fail(out, res, CDR_ERR_CONTRACT_INVALID,
                                 "this document is already the pending or the active version: nothing changed");
  if ((r = contract_holders_check_doc(e->engine, &e->contract, doc, len, why, sizeof(why))) != 0)
    return enclave_reply_op_fail(out, res, r, why);
  if ((r = contract_state_propose(&e->contract, e->room_id, e->ca_fp, doc, len, contract_now(e), &voided, why,
                                  sizeof(why))) != 0)
    return enclave_reply_op_fail(out, res, r, why[0] ? why : NULL);
  audit_set(e, "contract_version", json_integer((json_int_t)e->contract.pending.c.version));
  audit_set(e, "signatures_voided", json_integer((json_int_t)voided));
  if ((r = persist_meta_changed(e)) != 0 || (r = contract_notify_host(e)) != 0)
    return r;
  return enclave_reply_op_json(out, res,
                               json_pack("{s:b,s:I,s:o,s:I,s:I}", "ok", 1, "version",
                                         (json_int_t)e->contract.pending.c.version, "sha256",
                                         hex_json(e->contract.pending.hash, 32), "voided", (json_int_t)voided,
                                         "expires", (json_int_t)e->contract.pending_expires));
}

/* A version activated while serving takes up its witnesses only at the
 * next start (witness_start.h): say so in the host's log when its set is
 * not the running one. */
static void note_witness_set(struct enclave *e) {
  const struct contract_version *cv = contract_state_current(&e->contract);
  size_t running;
  int same;
  if (cv == NULL)
    return;
  pthread_mutex_lock(&e->witness.lock);
  same = witness_gate_same_set(&e->witness.gate, &cv->c);
  running = e->witness.gate.n;
  pthread_mutex_unlock(&e->witness.lock);
  if (!same)
    log_warn("contract version %llu names %zu witnesses (f = %u); this enclave runs with %zu and takes up the new "
             "set at its next start: restart the room",
             (unsigned long long)cv->c.version, cv->c.n_witnesses, cv->c.witness_faults, running);
}

int contract_op_sign(struct enclave *e, const struct contract_caller *who, const uint8_t *obj, size_t len,
                     struct cdr_buf *out, struct enclave_op_outcome *res) {
  static const char *const result_names[] = {"added", "repeated", "activated"};
  char why[CDR_CONTRACT_WHY_LEN] = "";
  enum contract_sign_result sr = CONTRACT_SIGN_ADDED;
  uint8_t hash[32];
  uint64_t version = 0;
  size_t missing = 0;
  int r;
  if (contract_state_pending(&e->contract, contract_now(e)) != NULL) {
    memcpy(hash, e->contract.pending.hash, 32);
    version = e->contract.pending.c.version;
    audit_set(e, "contract_sha256", audit_hex(hash, 32));
    audit_set(e, "contract_version", json_integer((json_int_t)version));
  }
  audit_set(e, "signer_key_sha256", audit_hex(who->key_fp, 32));
  if (len > 4096)
    return enclave_reply_op_fail(out, res, CDR_ERR_CONTRACT_INVALID, "the signature object is larger than 4 KiB");
  /* A version 1 proposed before a table was uploaded may no longer name
   * every data holder: it cannot be signed (nor activate) until it is
   * proposed again with them. */
  if (contract_state_current(&e->contract) == NULL &&
      contract_state_pending(&e->contract, contract_now(e)) != NULL &&
      (r = contract_holders_check(e->engine, &e->contract.pending.c, why, sizeof(why))) != 0)
    return enclave_reply_op_fail(out, res, r, why);
  if ((r = contract_state_sign(&e->contract, e->room_id, who->spki, who->spki_len, obj, len, contract_now(e), &sr,
                               &missing, why, sizeof(why))) != 0)
    return enclave_reply_op_fail(out, res, r, why[0] ? why : NULL);
  audit_set(e, "signature", json_string(result_names[sr]));
  audit_set(e, "missing", json_integer((json_int_t)missing));
  if (sr != CONTRACT_SIGN_REPEATED && ((r = persist_meta_changed(e)) != 0 || (r = contract_notify_host(e)) != 0))
    return r;
  if (sr == CONTRACT_SIGN_ACTIVATED)
    note_witness_set(e);
  return enclave_reply_op_json(out, res,
                               json_pack("{s:b,s:I,s:o,s:s,s:I,s:b}", "ok", 1, "version", (json_int_t)version,
                                         "sha256", hex_json(hash, 32), "result", result_names[sr], "missing",
                                         (json_int_t)missing, "active", sr == CONTRACT_SIGN_ACTIVATED));
}

static void notice_version(struct ipc_contract_version *v, const struct contract_version *cv) {
  if (cv == NULL)
    return; /* all zero: none */
  v->number = cv->c.version;
  memcpy(v->sha256, cv->hash, 32);
  v->doc = cv->doc;
  v->doc_len = cv->doc_len;
}

int contract_notify_host(struct enclave *e) {
  struct ipc_contract_notice m;
  struct cdr_buf frame;
  const struct contract_version *p = contract_state_pending(&e->contract, contract_now(e));
  int r;
  if (e->ipc_fd < 0)
    return 0; /* in-process tests: no host */
  memset(&m, 0, sizeof(m));
  notice_version(&m.active, contract_state_current(&e->contract));
  notice_version(&m.pending, p);
  m.pending_expires = p != NULL && e->contract.pending_expires > 0 ? (uint64_t)e->contract.pending_expires : 0;
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  if ((r = ipc_put_contract_notice(&frame, &m)) == 0)
    r = enclave_notice(e, IPC_CONTRACT_NOTICE, &frame); /* on this request's lane */
  cdr_buf_free(&frame);
  return r;
}

/* IPC_PROPOSE: the room admin's proposal through the host.  The same
 * rules as contract_propose, and its own audit entry ("by": "host"); a
 * refusal is an IPC_ERROR for cdrd's log, and an audit entry too. */
int enclave_handle_propose(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  char why[CDR_CONTRACT_WHY_LEN] = "";
  const uint8_t *doc;
  uint8_t h[32];
  size_t len, voided = 0;
  int r, code;
  if ((r = ipc_get_propose(in, &doc, &len)) != 0)
    return r;
  if ((r = cdr_sha256(h, doc, len)) != 0)
    return r;
  if (already_there(e, h)) {
    const struct contract_version *v = contract_state_pending(&e->contract, contract_now(e));
    if (v == NULL)
      v = contract_state_current(&e->contract);
    *rt = IPC_PROPOSE_OK;
    return ipc_put_propose_ok(out, v->c.version, v->hash, 0);
  }
  if ((r = audit_begin(e, "contract_propose")) != 0)
    return r;
  audit_set(e, "by", json_string("host"));
  audit_set(e, "contract_sha256", audit_hex(h, sizeof(h)));
  code = contract_holders_check_doc(e->engine, &e->contract, doc, len, why, sizeof(why));
  if (code == 0)
    code = contract_state_propose(&e->contract, e->room_id, e->ca_fp, doc, len, contract_now(e), &voided, why,
                                  sizeof(why));
  if (code != 0) {
    if ((r = audit_finish(e, code)) != 0)
      return r; /* fatal: e->fatal is set */
    log_error("refused the proposed contract: %s", why[0] ? why : cdr_err_describe(code));
    return enclave_reply_error(out, rt, code, why[0] ? why : NULL);
  }
  audit_set(e, "contract_version", json_integer((json_int_t)e->contract.pending.c.version));
  audit_set(e, "signatures_voided", json_integer((json_int_t)voided));
  if ((r = persist_meta_changed(e)) != 0 || (r = contract_notify_host(e)) != 0)
    return r;
  log_info("contract version %llu proposed by the host; it counts once its members sign it",
           (unsigned long long)e->contract.pending.c.version);
  *rt = IPC_PROPOSE_OK;
  return ipc_put_propose_ok(out, e->contract.pending.c.version, e->contract.pending.hash, (uint32_t)voided);
}
