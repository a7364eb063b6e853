/*
 * enclave_link_int.h - what the three files of the host's enclave link
 * share, and no one else:
 *   enclave_link.c   starts (or connects to) the enclave, initialises it,
 *                    watches it and stops it;
 *   enclave_call.c   one call: the request checked with the enclave's own
 *                    decoder, sent, the enclave's storage rounds answered,
 *                    the reply read and its type checked;
 *   enclave_stubs.c  the operations (attest, open, request, load, CRL) as
 *                    plain functions built on link_call.
 * Calls go one way only: enclave_link.c and enclave_stubs.c use
 * enclave_call.c, which uses neither.
 *
 * Invariants of struct enclave_link (see also enclave_link.h):
 *   - `alive` only ever goes from 1 to 0 (link_mark_dead).  It drops
 *     when a frame cannot be written or read, when a reply has a type we
 *     did not expect or does not decode exactly, or when the enclave has
 *     gone.  After that the byte stream can no longer be trusted to be in
 *     step, so every later call fails with CDR_ERR_INTERNAL without
 *     touching the socket.
 *   - The channel is a set of lanes (docs/ARCHITECTURE.md,
 *     "Concurrency"): the control lane (`fd`, INIT, the LOAD handshake,
 *     ATTEST, OPEN), the audit lane (`audit_fd`, served by `audit_thread`:
 *     the enclave's group commits of its audit log) and `nwork` work lanes
 *     (REQUEST, CRL, PROPOSE).  A connected enclave has the control lane
 *     only, which then carries every call.
 *   - `lock` serialises exchanges on the control lane: one request frame
 *     out, its storage rounds, one reply frame in.  A lane has no request
 *     ids, so two callers must never interleave on one.  A work lane is
 *     held by the caller that took it (`work_busy`, under `pick_lock`,
 *     waited for on `pick_cond`), for one exchange.
 *   - `store_lock` guards store_fn, fetch_fn and store_ctx, which the
 *     lanes' callers and the audit thread read, and contract_fn and
 *     contract_ctx, held while the contract callback runs (notices from
 *     two lanes one at a time).
 */
#ifndef CDR_ENCLAVE_LINK_INT_H
#define CDR_ENCLAVE_LINK_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "enclave_link.h"

/* The most work lanes a link makes (and workers an enclave runs). */
#define LINK_MAX_WORK_LANES 16

struct enclave_link {
  pthread_mutex_t lock; /* serialises calls on the control lane */
  int fd;               /* the control lane */
  int audit_fd;         /* the audit lane, or -1 */
  pthread_t audit_thread;
  int audit_thread_started;
  unsigned nwork; /* work lanes; 0: everything goes on the control lane */
  int work_fd[LINK_MAX_WORK_LANES];
  int work_busy[LINK_MAX_WORK_LANES]; /* under pick_lock */
  pthread_mutex_t pick_lock;
  pthread_cond_t pick_cond;
  pthread_mutex_t store_lock; /* guards store_fn, fetch_fn, store_ctx, contract_fn/ctx and the contract callback's run */
  pid_t pid;
  atomic_int alive;
  atomic_uint queued; /* link_call callers in the enclave or waiting for the lock */
  struct enclave_identity id;
  enclave_store_fn store_fn; /* storage operations the enclave asks for */
  enclave_fetch_fn fetch_fn; /* reads of stored objects it asks for */
  void *store_ctx;
  struct cdr_buf hello;            /* IPC_UPGRADE_HELLO_OK, for upgrade_hello links */
  enclave_contract_fn contract_fn; /* the contract notices */
  void *contract_ctx;
};

/* Serve the audit lane until it closes: every frame must be an
 * IPC_STORE, applied and answered (enclave_call.c).  The thread of
 * enclave_link.c; arg is the link. */
void *link_audit_lane(void *arg);
/* Take a free work lane (waiting for one) and give it back: for
 * enclave_link_stop, which takes every lane before it closes them. */
unsigned link_work_lane_take(struct enclave_link *l);
void link_work_lane_give(struct enclave_link *l, unsigned i);

/* Drop `alive` (once; the first reason is logged). */
void link_mark_dead(struct enclave_link *l, const char *why);

/* A reply that came back but does not decode: CDR_ERR_NOMEM stays what
 * it is (the reply may be fine), anything else marks the link dead with
 * `why` and becomes CDR_ERR_INTERNAL. */
int link_malformed(struct enclave_link *l, int r, const char *why) CDR_WUR;

/* A malloc'd copy of n bytes (one byte allocated when n is 0); NULL when
 * out of memory. */
uint8_t *link_memdup(const uint8_t *p, size_t n);

/*
 * One call.  The payload is first decoded with the enclave's own decoder
 * for `type` (messages.h): a payload it would refuse is refused here with
 * the decoder's error and nothing is sent, because the enclave exits on
 * any frame that does not decode exactly.  Then (type, payload) is
 * written and the reply read into `reply` (initialised by the caller with
 * max >= CDR_IPC_MAX_FRAME; the caller frees it on every path), answering
 * the enclave's IPC_STORE / IPC_STORE_NOWAIT / IPC_FETCH rounds in
 * between.  Returns 0 when the reply's type is `expect`; the enclave's
 * error (and *errmsg, malloc'd, if errmsg is non-NULL) for IPC_ERROR; or
 * CDR_ERR_INTERNAL, with the link marked dead, for any I/O failure or
 * other reply.  link_call takes l->lock; link_call_locked is for a caller
 * that holds it across several calls.  l may be NULL (CDR_ERR_INTERNAL).
 */
int link_call(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload, uint32_t expect,
              struct cdr_buf *reply, char **errmsg) CDR_WUR;
int link_call_locked(struct enclave_link *l, uint32_t type, const struct cdr_buf *payload, uint32_t expect,
                     struct cdr_buf *reply, char **errmsg) CDR_WUR;

#endif
