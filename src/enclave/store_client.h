/*
 * store_client.h - the enclave's client of the host's store
 * (docs/design/persistence.md; ipc.h, "Storage").
 *
 * Storage goes through the host, which cannot read it: enclave_store()
 * sends one IPC_STORE with a batch of operations and waits for
 * IPC_STORED.  It is called from inside a request handler, before the
 * request is answered, so a client hears "ok" only after its change is
 * durable.  The sealed state (persist.c) and the audit log (audit.c)
 * both store through here; this file calls neither.
 */
#ifndef CDR_STORE_CLIENT_H
#define CDR_STORE_CLIENT_H

#include <stdint.h>

#include "common/buf.h"
#include "enclave.h"

/* Storage rounds go on the lane of the thread that makes them (the
 * request's own lane, docs/ARCHITECTURE.md "Concurrency"): each lane
 * thread names its fd once; a thread that names none uses e->ipc_fd. */
void store_client_set_lane(int fd);

/* A batch of storage operations being built (at most IPC_STORE_MAX_OPS). */
struct store_batch {
  struct cdr_buf ops; /* encoded items */
  uint32_t n;
};
void store_batch_init(struct store_batch *b);
void store_batch_free(struct store_batch *b);
/* Append one operation (enum ipc_store_op); CDR_ERR_TOO_LARGE when the
 * batch is full. */
int store_batch_add(struct store_batch *b, uint8_t op, const char *name, const void *data, size_t len) CDR_WUR;
/* Send the batch and wait for the host.  0 when every operation is
 * durable; CDR_ERR_IO when the host reports a failure (the caller then
 * refuses the request and keeps its old state; *why says what failed);
 * any other error means the channel is broken (fatal). */
int enclave_store(struct enclave *e, struct store_batch *b, char *why, size_t whylen) CDR_WUR;
/* Send the batch as IPC_STORE_NOWAIT and go on (ipc.h): the host applies
 * it before it reads our next frame, and ends the link if it cannot.
 * Non-zero only if the frame cannot be written (fatal). */
int enclave_store_nowait(struct enclave *e, struct store_batch *b) CDR_WUR;

/* Send a frame the host does not answer (IPC_CONTRACT_NOTICE) on this
 * thread's lane, the lane of the request that made the change: the host
 * reads it in that call's storage loop, before the reply.  0, or a
 * channel error (fatal). */
int enclave_notice(struct enclave *e, uint32_t type, const struct cdr_buf *frame) CDR_WUR;

/* Read up to max (<= IPC_FETCH_MAX) bytes of the stored object `name`
 * from offset into out (reset first); *found 0 if the host has no such
 * object.  0, or a channel error (fatal). */
int enclave_fetch(struct enclave *e, const char *name, uint64_t offset, uint32_t max, struct cdr_buf *out,
                  int *found) CDR_WUR;

/* One witness round (IPC_WITNESS, ipc.h) on this thread's lane: the
 * host asks each of the n witnesses (kind and body as ipc.h says) and
 * answers[i] is witness i's raw answer, pointing into *reply (the caller
 * frees it with cdr_buf_free).  Nothing in it is checked beyond the
 * frame's shape: witness_gate.c verifies.  0, or a channel error
 * (fatal). */
int enclave_witness_round(struct enclave *e, uint8_t kind, const char *const *urls, uint32_t n, const uint8_t *body,
                          size_t body_len, struct cdr_buf *reply, struct ipc_witness_answer *answers) CDR_WUR;

#endif
