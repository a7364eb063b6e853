/*
 * store_client.c - the enclave's side of the storage rounds
 * (store_client.h; ipc.h, "Storage"): batches of IPC_STORE operations,
 * sent and waited for (IPC_STORED) or sent without waiting
 * (IPC_STORE_NOWAIT), and reads of stored objects (IPC_FETCH ->
 * IPC_FETCHED).
 *
 * These run inside a request handler, between the host's request frame
 * and the enclave's reply: the host answers them before it reads the
 * reply.  Every answer from the host is decoded exactly with the codecs
 * of ipc/messages.h; any other frame while waiting is a protocol
 * violation, returned as an error that the caller treats as fatal.
 */
#include "store_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

/* The lane this thread serves (lanes.c sets it), or -1: chan(e). */
static __thread int lane_fd = -1;

void store_client_set_lane(int fd) { lane_fd = fd; }

/* The channel a storage round of this thread goes on: its own lane's. */
static int chan(const struct enclave *e) { return lane_fd >= 0 ? lane_fd : e->ipc_fd; }

void store_batch_init(struct store_batch *b) {
  cdr_buf_init(&b->ops, CDR_IPC_MAX_FRAME - 1024, 0);
  b->n = 0;
}

void store_batch_free(struct store_batch *b) {
  cdr_buf_free(&b->ops);
  b->n = 0;
}

int store_batch_add(struct store_batch *b, uint8_t op, const char *name, const void *data, size_t len) {
  if (b->n >= IPC_STORE_MAX_OPS)
    return CDR_ERR_TOO_LARGE;
  int r = ipc_put_store_item(&b->ops, op, name, data, len);
  if (r == 0)
    b->n++;
  return r;
}

int enclave_notice(struct enclave *e, uint32_t type, const struct cdr_buf *frame) {
  return ipc_frame_write(chan(e), type, frame);
}

int enclave_store(struct enclave *e, struct store_batch *b, char *why, size_t whylen) {
  struct cdr_buf frame, reply;
  uint32_t type;
  int r, ok = 0;
  char *msg = NULL;
  snprintf(why, whylen, "the channel to the host failed");
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, IPC_STATUS_MAX, 0);
  if ((r = ipc_put_store(&frame, b->n, &b->ops)) != 0)
    goto out;
  if ((r = ipc_frame_write(chan(e), IPC_STORE, &frame)) != 0 ||
      (r = ipc_frame_read(chan(e), &type, &reply, IPC_STATUS_MAX)) != 0)
    goto out;
  if (type != IPC_STORED) {
    log_error("protocol violation: %s while waiting for STORED", ipc_msg_name(type));
    r = CDR_ERR_ARG;
    goto out;
  }
  if ((r = ipc_get_status(&reply, &ok, &msg)) != 0)
    goto out;
  if (!ok) {
    snprintf(why, whylen, "the server could not store the change: %s", msg ? msg : "");
    r = CDR_ERR_IO;
  }
out:
  free(msg);
  cdr_buf_free(&frame);
  cdr_buf_free(&reply);
  return r;
}

int enclave_store_nowait(struct enclave *e, struct store_batch *b) {
  struct cdr_buf frame;
  int r;
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  if ((r = ipc_put_store(&frame, b->n, &b->ops)) == 0)
    r = ipc_frame_write(chan(e), IPC_STORE_NOWAIT, &frame);
  cdr_buf_free(&frame);
  return r;
}

int enclave_fetch(struct enclave *e, const char *name, uint64_t offset, uint32_t max, struct cdr_buf *out,
                  int *found) {
  struct cdr_buf frame, reply;
  const uint8_t *data;
  size_t len;
  uint32_t type;
  int r;
  cdr_buf_init(&frame, 256, 0);
  cdr_buf_init(&reply, IPC_FETCHED_MAX(max), 0);
  cdr_buf_free(out);
  *found = 0;
  if ((r = ipc_put_fetch(&frame, name, offset, max)) != 0 || (r = ipc_frame_write(chan(e), IPC_FETCH, &frame)) != 0 ||
      (r = ipc_frame_read(chan(e), &type, &reply, (uint32_t)IPC_FETCHED_MAX(max))) != 0)
    goto out;
  if (type != IPC_FETCHED) {
    log_error("protocol violation: %s while waiting for FETCHED", ipc_msg_name(type));
    r = CDR_ERR_ARG;
    goto out;
  }
  /* The host's answer is checked like any frame from it: exact, and
   * never more than asked for. */
  if (ipc_get_fetched(&reply, max, found, &data, &len) != 0) {
    /* Fatal, whatever the decoder's code: a caller must never read this
     * as damage in the object it asked for (audit_load would refuse the
     * start politely instead of exiting). */
    log_error("protocol violation: a malformed FETCHED");
    *found = 0;
    r = CDR_ERR_ARG;
    goto out;
  }
  r = cdr_buf_put(out, data, len);
out:
  cdr_buf_free(&frame);
  cdr_buf_free(&reply);
  return r;
}

int enclave_witness_round(struct enclave *e, uint8_t kind, const char *const *urls, uint32_t n, const uint8_t *body,
                          size_t body_len, struct cdr_buf *reply, struct ipc_witness_answer *answers) {
  struct ipc_witness_round m;
  struct cdr_buf frame;
  uint32_t type;
  int r;
  memset(&m, 0, sizeof(m));
  m.kind = kind;
  m.n = n;
  for (uint32_t i = 0; i < n && i < IPC_WITNESS_MAX_N; i++)
    m.url[i] = urls[i];
  m.body = body;
  m.body_len = body_len;
  cdr_buf_init(&frame, 16u + IPC_WITNESS_MAX_N * (4u + CDR_CONTRACT_MAX_URL) + IPC_WITNESS_BODY_MAX, 0);
  cdr_buf_init(reply, 4u + IPC_WITNESS_MAX_N * (8u + (size_t)IPC_WITNESS_ANSWER_MAX), 0);
  if ((r = ipc_put_witness(&frame, &m)) != 0 || (r = ipc_frame_write(chan(e), IPC_WITNESS, &frame)) != 0 ||
      (r = ipc_frame_read(chan(e), &type, reply, (uint32_t)reply->max)) != 0)
    goto out;
  if (type != IPC_WITNESS_ANSWERS || ipc_get_witness_answers(reply, n, answers) != 0) {
    log_error("protocol violation: %s while waiting for WITNESS_ANSWERS, or a malformed one", ipc_msg_name(type));
    r = CDR_ERR_ARG;
  }
out:
  cdr_buf_free(&frame);
  return r;
}
