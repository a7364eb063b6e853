/*
 * enclave_request.c - IPC_REQUEST: one query or upload (seed step 4).
 *
 * Order (docs/PROTOCOL.md 4.7): session known and live, timestamp in
 * window, U's signature over S_req, sequence number exactly next; only
 * then decrypt.  The sequence number is accepted only after the
 * ciphertext authenticates, so a rejected message cannot burn it.  The
 * plaintext request and response are wiped when freed, and the response
 * is padded to a size bucket before it is sealed.
 * Once a session exists a request costs one signature verification plus
 * symmetric crypto.
 */
#include <openssl/crypto.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "gate.h"
#include "ipc/messages.h"
#include "ops.h"

/* The audit reason of an operation's outcome: 0 ("ok") if it succeeded,
 * else the code its answer names (a FAILED answer always names one). */
static int outcome_reason(const struct enclave_op_outcome *res) {
  if (res->status == CDR_STATUS_OK)
    return 0;
  return res->code != 0 ? res->code : CDR_ERR_REQUEST_FAILED;
}

int enclave_handle_request(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct cdr_request_env env;
  struct cdr_response_env resp;
  struct enclave_op_outcome res;
  struct cdr_buf sigin, pt, rpt, ct;
  uint8_t req_hash[32];
  int64_t now = e->now();
  int r, refuse = 0;
  const char *msg = NULL;

  if ((r = ipc_get_request(in, &env)) != 0)
    return r; /* malformed frame from the host: fatal */
  cdr_buf_init(&sigin, 256, 0);
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  cdr_buf_init(&rpt, CDR_MAX_PLAINTEXT, 0);
  cdr_buf_init(&ct, CDR_MAX_CIPHERTEXT, 0);

#define REFUSE(code, text) do { refuse = (code); msg = (text); goto out; } while (0)
  /* A reference (the session may be removed meanwhile: it is freed by
   * the last holder) and the session's own mutex: its requests run one
   * at a time, so the sequence check and the decryption are one step. */
  struct session *s = session_table_get(&e->sessions, env.session_id);
  if (s == NULL) /* not logged: there is no one to attribute it to */
    REFUSE(CDR_ERR_SESSION_UNKNOWN, "no such session; open a new one");
  pthread_mutex_lock(&s->busy);
  /* Every decision about a known session's request is an audit entry;
   * the operation names itself and adds its details (ops.c). */
  if ((r = audit_begin(e, "request")) != 0)
    goto out;
  audit_set_user(e, s->name, cdr_role_name(s->role), s->serial);
  if (s->expires_at <= now) {
    session_table_remove(&e->sessions, env.session_id);
    REFUSE(CDR_ERR_SESSION_EXPIRED, "the session has expired; open a new one");
  }
  if (env.timestamp > (uint64_t)INT64_MAX || now - (int64_t)env.timestamp > (int64_t)CDR_MAX_CLOCK_SKEW_S ||
      (int64_t)env.timestamp - now > (int64_t)CDR_MAX_CLOCK_SKEW_S)
    REFUSE(CDR_ERR_CLOCK_SKEW, "request timestamp is more than 300 seconds from the enclave clock");
  if ((r = cdr_request_sig_input(&sigin, &env)) != 0)
    goto out;
  if (cdr_verify(s->user_key, sigin.d, sigin.len, env.sig, env.sig_len) != 0) {
    audit_set_request(e, &env, s->user_spki, s->user_spki_len, 0);
    REFUSE(CDR_ERR_BAD_SIGNATURE, "the request signature does not verify under the session's certified key");
  }
  audit_set_request(e, &env, s->user_spki, s->user_spki_len, 1);
  if (env.seq <= s->last_seq)
    REFUSE(CDR_ERR_REPLAY, "this sequence number was already used in this session");
  if (env.seq != s->last_seq + 1)
    REFUSE(CDR_ERR_OUT_OF_ORDER, "sequence number skips ahead; requests must arrive in order");
  if (cdr_request_open(&pt, &s->keys, &env) != 0)
    REFUSE(CDR_ERR_DECRYPT, "the request ciphertext failed authentication");
  s->last_seq = env.seq;

  if ((r = ops_run(e, s, pt.d, pt.len, &rpt, &res)) != 0)
    goto out;
  /* The decision is in the log before anyone hears of it. */
  if ((r = audit_finish(e, outcome_reason(&res))) != 0 ||
      (r = cdr_pad_spaces(&rpt)) != 0)
    goto out;
  if ((r = cdr_sha256(req_hash, env.ct, env.ct_len)) != 0 ||
      (r = cdr_response_seal(&ct, &s->keys, s->id, env.seq, res.status, req_hash, rpt.d, rpt.len)) != 0)
    goto out;
  memset(&resp, 0, sizeof(resp));
  memcpy(resp.session_id, s->id, CDR_SESSION_ID_LEN);
  resp.seq = env.seq;
  resp.status = res.status;
  resp.ct = ct.d;
  resp.ct_len = ct.len;
  *rt = IPC_RESPONSE;
  r = ipc_put_response(out, &resp);
  if (res.close_session) { /* the answer is sealed: the session's keys can go */
    /* Its upload, if any, goes too: a change (the gate exclusive), taken
     * only then, so that a close never waits for running queries. */
    gate_read_enter(e);
    int has_upload = upload_session_has(&e->uploads, s->id);
    gate_leave(e);
    if (has_upload) {
      gate_write_enter(e);
      upload_drop_session(&e->uploads, e->engine, s->id);
      gate_leave(e);
    }
    session_table_remove(&e->sessions, env.session_id);
  }
#undef REFUSE
out:
  if (refuse && !e->fatal && audit_finish(e, refuse) != 0)
    refuse = 0, r = CDR_ERR_IO; /* fatal: e->fatal is set */
  else if (!refuse && r != 0 && !e->fatal && audit_finish(e, CDR_ERR_INTERNAL) != 0)
    r = CDR_ERR_IO; /* fatal: e->fatal is set */
  audit_discard(e);
  if (e->fatal) {
    r = r ? r : CDR_ERR_IO;
  } else if (refuse) {
    log_info("request refused: %s", cdr_err_code(refuse));
    r = enclave_reply_error(out, rt, refuse, msg);
  } else if (r != 0) {
    log_error("request failed: %s", cdr_err_code(r));
    r = enclave_reply_error(out, rt, r, "the enclave could not process the request");
  }
  if (s != NULL) {
    pthread_mutex_unlock(&s->busy);
    session_put(&e->sessions, s);
  }
  cdr_buf_free(&sigin);
  cdr_buf_free(&pt); /* cdr_buf_free wipes */
  cdr_buf_free(&rpt);
  cdr_buf_free(&ct);
  return r;
}
