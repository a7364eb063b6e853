/*
 * enclave_call.c - one call from the host to the enclave: the request
 * checked with the enclave's own decoder, one frame out, the enclave's
 * storage rounds answered, one reply frame in (enclave_link_int.h).
 *
 * Invariants:
 *   - Every payload the host sends (requests, and its answers IPC_STORED
 *     and IPC_FETCHED) is decoded with the decoder the enclave will use
 *     (messages.h) before it is written.  The enclave exits on any frame
 *     that does not decode exactly (it treats it as a compromised host),
 *     so an oversized field from a client must be refused here, not there.
 *   - Replies are read with the frame cap (CDR_IPC_MAX_FRAME) and decoded
 *     by the caller with the caps of messages.h: the enclave is trusted,
 *     but a size it announces is still checked before anything is
 *     allocated for it.
 *   - Any failure that can leave the stream out of step marks the link
 *     dead (link_mark_dead); nothing is retried.
 *
 * SIGPIPE: frames are written with write(2); a process using the link
 * must ignore SIGPIPE (cdrd does) so that a dead enclave shows up as
 * CDR_ERR_IO rather than killing the host.
 */
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "enclave_link_int.h"
#include "witness_relay.h"
#include "ipc/messages.h"

void link_mark_dead(struct enclave_link *l, const char *why) {
  if (atomic_exchange(&l->alive, 0) != 0)
    log_error("enclave link is dead: %s", why);
}

int link_malformed(struct enclave_link *l, int r, const char *why) {
  if (r == CDR_ERR_NOMEM)
    return r;
  link_mark_dead(l, why);
  return CDR_ERR_INTERNAL;
}

uint8_t *link_memdup(const uint8_t *p, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  if (d != NULL && n > 0)
    memcpy(d, p, n);
  return d;
}

/* Decode a request payload as the enclave will (dispatch.c's handlers):
 * 0, or the decoder's error.  A type the host has no business sending is
 * CDR_ERR_INTERNAL. */
static int link_check_request(uint32_t type, const struct cdr_buf *payload) {
  struct cdr_buf v;
  size_t n = payload != NULL ? cdr_buf_avail(payload) : 0;
  union {
    struct ipc_init init;
    uint8_t nonce[CDR_NONCE_LEN];
    struct cdr_open_req open;
    struct cdr_request_env req;
    struct ipc_load_chunk chunk;
    struct cdr_room_limits limits;
    struct ipc_upgrade_hello_ok hello;
  } probe;
  uint8_t kem;
  const uint8_t *p2;
  size_t len2;
  const uint8_t *p;
  size_t len;

  cdr_buf_view(&v, n > 0 ? cdr_buf_ptr(payload) : (const void *)"", n);
  switch (type) {
  case IPC_INIT: return ipc_get_init(&v, &probe.init);
  case IPC_ATTEST: return ipc_get_attest(&v, probe.nonce);
  case IPC_OPEN: return ipc_get_open(&v, &probe.open);
  case IPC_REQUEST: return ipc_get_request(&v, &probe.req);
  case IPC_LOAD: return ipc_get_load(&v, &p, &len);
  case IPC_LOAD_CHUNK: return ipc_get_load_chunk(&v, &probe.chunk);
  case IPC_LOAD_DONE: return ipc_get_load_done(&v);
  case IPC_CRL: return ipc_get_crl(&v, &p, &len);
  case IPC_PROPOSE: return ipc_get_propose(&v, &p, &len);
  case IPC_LIMITS: return ipc_get_limits(&v, &probe.limits);
  case IPC_UPGRADE_HELLO: return ipc_get_init(&v, &probe.init);
  case IPC_UPGRADE_OFFER: return ipc_get_upgrade_hello_ok(&v, &probe.hello);
  case IPC_UPGRADE_ACCEPT: return ipc_get_upgrade_keys(&v, &kem, &p, &len, &p2, &len2);
  default: return CDR_ERR_INTERNAL;
  }
}

/* Apply an IPC_STORE's operations in order, stopping at the first
 * failure, and answer IPC_STORED.  Returns non-zero only if the frame is
 * malformed or the answer cannot be sent (the link is then dead); a
 * failed write is reported to the enclave, which refuses the request.
 * IPC_STORE_NOWAIT (answer 0) is not answered: a failure to apply it is
 * CDR_ERR_IO, and the caller ends the link. */
/* The storage callbacks, read under store_lock (the audit lane's thread
 * reads them too). */
static void link_store_fns(struct enclave_link *l, enclave_store_fn *store, enclave_fetch_fn *fetch, void **ctx) {
  pthread_mutex_lock(&l->store_lock);
  *store = l->store_fn;
  *fetch = l->fetch_fn;
  *ctx = l->store_ctx;
  pthread_mutex_unlock(&l->store_lock);
}

static int link_apply_store(struct enclave_link *l, int fd, struct cdr_buf *in, int answer) {
  struct cdr_buf out, check;
  struct ipc_store_item it;
  uint32_t n;
  int r, failed = 0, ok;
  const char *why = NULL;
  char *echo = NULL;
  enclave_store_fn store_fn;
  enclave_fetch_fn fetch_fn;
  void *ctx;
  link_store_fns(l, &store_fn, &fetch_fn, &ctx);
  if ((r = ipc_get_store_count(in, &n)) != 0)
    return r;
  for (uint32_t i = 0; i < n; i++) {
    if ((r = ipc_get_store_item(in, &it)) != 0)
      return r;
    if (!failed) {
      int sr = store_fn ? store_fn(ctx, it.op, it.name, it.data, it.len) : CDR_ERR_INTERNAL;
      if (sr != 0) {
        failed = 1;
        why = cdr_err_describe(sr);
        log_error("storing %s for the enclave failed: %s", it.name, why);
      }
    }
  }
  if ((r = cdr_buf_expect_end(in)) != 0)
    return r;
  if (!answer)
    return failed ? CDR_ERR_IO : 0;
  cdr_buf_init(&out, IPC_STATUS_MAX, 0);
  if ((r = ipc_put_status(&out, !failed, failed ? why : "")) != 0)
    goto out;
  cdr_buf_view(&check, cdr_buf_ptr(&out), cdr_buf_avail(&out));
  if ((r = ipc_get_status(&check, &ok, &echo)) != 0)
    goto out;
  r = ipc_frame_write(fd, IPC_STORED, &out);
out:
  free(echo);
  cdr_buf_free(&out);
  return r;
}

/* Answer an IPC_FETCH with IPC_FETCHED.  Non-zero only if the frame is
 * malformed or the answer cannot be sent (the link is then dead). */
static int link_apply_fetch(struct enclave_link *l, int fd, struct cdr_buf *in) {
  struct cdr_buf out, check;
  char name[IPC_OBJECT_NAME_MAX + 1];
  uint64_t offset;
  uint32_t max;
  uint8_t *data = NULL;
  const uint8_t *echo;
  size_t got = 0, echo_len;
  int r, found = 1, echo_found;
  enclave_store_fn store_fn;
  enclave_fetch_fn fetch_fn;
  void *ctx;
  link_store_fns(l, &store_fn, &fetch_fn, &ctx);
  if ((r = ipc_get_fetch(in, name, &offset, &max)) != 0)
    return r;
  if ((data = malloc(max)) == NULL)
    return CDR_ERR_NOMEM;
  int fr = fetch_fn ? fetch_fn(ctx, name, offset, data, max, &got) : CDR_ERR_NOT_FOUND;
  if (fr != 0) {
    if (fr != CDR_ERR_NOT_FOUND)
      log_error("reading %s for the enclave failed: %s", name, cdr_err_describe(fr));
    found = 0;
    got = 0;
  }
  cdr_buf_init(&out, IPC_FETCHED_MAX(max), 0);
  if ((r = ipc_put_fetched(&out, found, data, got)) != 0)
    goto out;
  cdr_buf_view(&check, cdr_buf_ptr(&out), cdr_buf_avail(&out));
  if ((r = ipc_get_fetched(&check, max, &echo_found, &echo, &echo_len)) != 0)
    goto out;
  r = ipc_frame_write(fd, IPC_FETCHED, &out);
out:
  cdr_buf_free(&out);
  free(data);
  return r;
}

/* Answer an IPC_WITNESS with IPC_WITNESS_ANSWERS: the relay asks every
 * witness in parallel and hands back the raw answers (witness_relay.h).
 * Non-zero only if the frame is malformed or the answer cannot be sent. */
static int link_apply_witness(int fd, struct cdr_buf *in) {
  struct ipc_witness_round m;
  struct ipc_witness_answer a[IPC_WITNESS_MAX_N];
  struct cdr_buf bodies[IPC_WITNESS_MAX_N], out, check;
  int r;
  if ((r = ipc_get_witness(in, &m)) != 0)
    return r;
  for (uint32_t i = 0; i < IPC_WITNESS_MAX_N; i++)
    cdr_buf_init(&bodies[i], IPC_WITNESS_ANSWER_MAX, 0);
  cdr_buf_init(&out, 4 + IPC_WITNESS_MAX_N * (8 + (size_t)IPC_WITNESS_ANSWER_MAX), 0);
  if ((r = witness_relay_round(&m, a, bodies)) != 0 || (r = ipc_put_witness_answers(&out, a, m.n)) != 0)
    goto out;
  {
    struct ipc_witness_answer echo[IPC_WITNESS_MAX_N];
    cdr_buf_view(&check, cdr_buf_ptr(&out), cdr_buf_avail(&out));
    if ((r = ipc_get_witness_answers(&check, m.n, echo)) != 0)
      goto out;
  }
  r = ipc_frame_write(fd, IPC_WITNESS_ANSWERS, &out);
out:
  for (uint32_t i = 0; i < IPC_WITNESS_MAX_N; i++)
    cdr_buf_free(&bodies[i]);
  cdr_buf_free(&out);
  ipc_witness_round_free(&m);
  return r;
}

/* An IPC_CONTRACT_NOTICE: decoded exactly, then handed to the contract
 * callback (not answered).  It comes on the lane of the request that
 * changed the contract (any work lane, or the control lane at
 * IPC_LOAD_DONE), so two lanes' callers may meet here: the callback runs
 * under store_lock, one notice at a time (it rewrites ROOM/contract.json
 * through one temporary name).  Across lanes the host does not order
 * them: a caller delayed between its frame and this call could write an
 * older notice after a newer one; the file is a display copy, and the
 * next change or start rewrites it. */
static int link_apply_contract(struct enclave_link *l, struct cdr_buf *in) {
  struct ipc_contract_notice m;
  int r;
  if ((r = ipc_get_contract_notice(in, &m)) != 0)
    return r;
  pthread_mutex_lock(&l->store_lock);
  if (l->contract_fn != NULL)
    l->contract_fn(l->contract_ctx, &m);
  pthread_mutex_unlock(&l->store_lock);
  return 0;
}

/* One exchange on the lane fd, which the caller holds. */
static int lane_call(struct enclave_link *l, int fd, uint32_t type, const struct cdr_buf *payload, uint32_t expect,
                     struct cdr_buf *reply, char **errmsg) {
  uint32_t got = 0;
  int r, err;
  char *msg = NULL;

  if ((r = link_check_request(type, payload)) != 0)
    return r;
  if (!atomic_load(&l->alive))
    return CDR_ERR_INTERNAL;
  if ((r = ipc_frame_write(fd, type, payload)) != 0) {
    link_mark_dead(l, "cannot write a frame");
    return CDR_ERR_INTERNAL;
  }
  if ((r = ipc_frame_read(fd, &got, reply, CDR_IPC_MAX_FRAME)) != 0) {
    link_mark_dead(l, r == CDR_ERR_TOO_LARGE ? "reply frame larger than the cap" : "cannot read a reply frame");
    return CDR_ERR_INTERNAL;
  }
  /* Storage rounds: the enclave asks for durable writes, or reads of
   * what it stored, before it answers. */
  while (got == IPC_STORE || got == IPC_STORE_NOWAIT || got == IPC_FETCH || got == IPC_CONTRACT_NOTICE ||
         got == IPC_WITNESS) {
    r = got == IPC_FETCH             ? link_apply_fetch(l, fd, reply)
        : got == IPC_WITNESS         ? link_apply_witness(fd, reply)
        : got == IPC_CONTRACT_NOTICE ? link_apply_contract(l, reply)
                                     : link_apply_store(l, fd, reply, got == IPC_STORE);
    if (r != 0) {
      link_mark_dead(l, got == IPC_FETCH             ? "malformed IPC_FETCH"
                        : got == IPC_WITNESS         ? "malformed IPC_WITNESS"
                        : got == IPC_CONTRACT_NOTICE ? "malformed IPC_CONTRACT_NOTICE"
                        : got == IPC_STORE           ? "malformed IPC_STORE"
                        : r == CDR_ERR_IO            ? "cannot append to or sync the enclave's audit log: stopping "
                                                       "rather than serve decisions that are not logged"
                                                     : "malformed IPC_STORE_NOWAIT");
      return CDR_ERR_INTERNAL;
    }
    if ((r = ipc_frame_read(fd, &got, reply, CDR_IPC_MAX_FRAME)) != 0) {
      link_mark_dead(l, "cannot read a reply frame after a storage round");
      return CDR_ERR_INTERNAL;
    }
  }
  if (got == expect)
    return 0;
  if (got != IPC_ERROR) {
    log_error("enclave answered %s with %s", ipc_msg_name(type), ipc_msg_name(got));
    link_mark_dead(l, "unexpected reply type");
    return CDR_ERR_INTERNAL;
  }
  if ((r = ipc_get_error(reply, &err, &msg)) != 0) {
    free(msg);
    link_mark_dead(l, "malformed IPC_ERROR");
    return CDR_ERR_INTERNAL;
  }
  if (errmsg != NULL)
    *errmsg = msg;
  else
    free(msg);
  return err;
}

int link_call_locked(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload, uint32_t expect,
                     struct cdr_buf *reply, char **errmsg) {
  if (l == NULL)
    return CDR_ERR_INTERNAL;
  return lane_call(l, l->fd, type, payload, expect, reply, errmsg);
}

/* The message types of the work lanes (the rest go on the control lane):
 * dispatch.c's rows say the same on the enclave's side.  IPC_LIMITS, at
 * start and whenever ROOM/limits.json changes, is a commit like
 * IPC_PROPOSE: on the control lane its storage rounds would hold up
 * attestation and session setup.  IPC_LOAD_CHUNK, a table loading while
 * the room serves, is a change too (enclave_load.c). */
static int on_work_lane(uint32_t type) {
  return type == IPC_REQUEST || type == IPC_CRL || type == IPC_PROPOSE || type == IPC_LIMITS || type == IPC_LOAD_CHUNK ||
         type == IPC_UPGRADE_OFFER;
}

/* Take a free work lane, waiting for one: its index. */
static unsigned work_lane_take(struct enclave_link *l) {
  unsigned i;
  pthread_mutex_lock(&l->pick_lock);
  for (;;) {
    for (i = 0; i < l->nwork && l->work_busy[i]; i++)
      ;
    if (i < l->nwork)
      break;
    pthread_cond_wait(&l->pick_cond, &l->pick_lock);
  }
  l->work_busy[i] = 1;
  pthread_mutex_unlock(&l->pick_lock);
  return i;
}

void link_work_lane_give(struct enclave_link *l, unsigned i) {
  pthread_mutex_lock(&l->pick_lock);
  l->work_busy[i] = 0;
  pthread_cond_signal(&l->pick_cond);
  pthread_mutex_unlock(&l->pick_lock);
}

unsigned link_work_lane_take(struct enclave_link *l) { return work_lane_take(l); }

int link_call(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload, uint32_t expect,
              struct cdr_buf *reply, char **errmsg) {
  int r;
  if (l == NULL)
    return CDR_ERR_INTERNAL;
  atomic_fetch_add(&l->queued, 1);
  if (l->nwork > 0 && on_work_lane(type)) {
    unsigned i = work_lane_take(l);
    r = lane_call(l, l->work_fd[i], type, payload, expect, reply, errmsg);
    link_work_lane_give(l, i);
  } else {
    pthread_mutex_lock(&l->lock);
    r = link_call_locked(l, type, payload, expect, reply, errmsg);
    pthread_mutex_unlock(&l->lock);
  }
  atomic_fetch_sub(&l->queued, 1);
  return r;
}

void *link_audit_lane(void *arg) {
  struct enclave_link *l = arg;
  struct cdr_buf in;
  uint32_t type;
  int r;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  for (;;) {
    if ((r = ipc_frame_read(l->audit_fd, &type, &in, CDR_IPC_MAX_FRAME)) != 0) {
      if (atomic_load(&l->alive))
        link_mark_dead(l, "the enclave closed its audit lane");
      break;
    }
    if (type != IPC_STORE && type != IPC_WITNESS) {
      log_error("enclave sent %s on its audit lane", ipc_msg_name(type));
      link_mark_dead(l, "unexpected frame on the audit lane");
      break;
    }
    if ((r = type == IPC_WITNESS ? link_apply_witness(l->audit_fd, &in) : link_apply_store(l, l->audit_fd, &in, 1)) != 0) {
      link_mark_dead(l, "malformed IPC_STORE or IPC_WITNESS on the audit lane");
      break;
    }
  }
  cdr_buf_free(&in);
  return NULL;
}

unsigned enclave_link_queue_depth(struct enclave_link *l) { return l != NULL ? atomic_load(&l->queued) : 0; }

void enclave_link_set_contract(struct enclave_link *l, enclave_contract_fn fn, void *ctx) {
  pthread_mutex_lock(&l->store_lock);
  l->contract_fn = fn;
  l->contract_ctx = ctx;
  pthread_mutex_unlock(&l->store_lock);
}

void enclave_link_set_store(struct enclave_link *l, enclave_store_fn fn, enclave_fetch_fn fetch, void *ctx) {
  pthread_mutex_lock(&l->store_lock);
  l->store_fn = fn;
  l->fetch_fn = fetch;
  l->store_ctx = ctx;
  pthread_mutex_unlock(&l->store_lock);
}
