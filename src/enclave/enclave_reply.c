/*
 * enclave_reply.c - see enclave_reply.h.
 */
#include "enclave_reply.h"

#include "ipc/ipc.h"
#include "ipc/messages.h"

int enclave_reply_error(struct cdr_buf *out, uint32_t *rt, int code, const char *message) {
  cdr_buf_free(out);
  *rt = IPC_ERROR;
  return ipc_put_error(out, code, message ? message : cdr_err_describe(code));
}
