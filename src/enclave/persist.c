/*
 * persist.c - loading sealed state at start and storing it through the
 * host; see persist.h and docs/design/persistence.md.
 *
 * Built so far: the storage exchange and the loading handshake with an
 * empty manifest.  Manifests and table files come next; until then a
 * non-empty manifest is refused rather than ignored, so no state can be
 * silently dropped.
 */
#include "persist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

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

int enclave_store(struct enclave *e, struct store_batch *b, char *why, size_t whylen) {
  struct cdr_buf frame, reply;
  uint32_t type;
  int r, ok = 0;
  char *msg = NULL;
  cdr_buf_init(&frame, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&reply, 4096, 0);
  if ((r = cdr_buf_put_u32(&frame, b->n)) != 0 || (r = cdr_buf_put(&frame, b->ops.d, b->ops.len)) != 0)
    goto out;
  if ((r = ipc_frame_write(e->ipc_fd, IPC_STORE, &frame)) != 0 ||
      (r = ipc_frame_read(e->ipc_fd, &type, &reply, 4096)) != 0)
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

int enclave_handle_load(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  const uint8_t *manifest;
  size_t len;
  int r;
  if ((r = cdr_buf_get_lp(in, &manifest, &len, CDR_IPC_MAX_FRAME)) != 0 || (r = cdr_buf_expect_end(in)) != 0)
    return r;
  if (len != 0) {
    log_error("a sealed manifest is present, but this build cannot load tables yet; refusing to start");
    return CDR_ERR_INTERNAL;
  }
  *rt = IPC_LOAD_WANT;
  e->state = ENCLAVE_STATE_LOADING;
  return cdr_buf_put_u32(out, 0);
}

int enclave_handle_load_chunk(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  /* No manifest names a table yet, so no chunk is ever wanted. */
  log_error("protocol violation: a table chunk that was not asked for");
  return CDR_ERR_ARG;
}

int enclave_handle_load_done(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  int r;
  if ((r = cdr_buf_expect_end(in)) != 0)
    return r;
  e->state = ENCLAVE_STATE_READY;
  *rt = IPC_LOAD_ACK;
  return ipc_put_status(out, 1, "");
}
