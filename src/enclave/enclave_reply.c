/*
 * enclave_reply.c - see enclave_reply.h.
 */
#include "enclave_reply.h"

#include "crypto/envelope.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

int enclave_reply_error(struct cdr_buf *out, uint32_t *rt, int code, const char *message) {
  cdr_buf_free(out);
  *rt = IPC_ERROR;
  return ipc_put_error(out, code, message ? message : cdr_err_describe(code));
}

static int dump_to_buf(const char *p, size_t n, void *ud) { return cdr_buf_put(ud, p, n) == 0 ? 0 : -1; }

/* The compact JSON of o (consumed) appended to out. */
static int put_json(struct cdr_buf *out, json_t *o) {
  int r = o != NULL && json_dump_callback(o, dump_to_buf, out, JSON_COMPACT) == 0 ? 0 : CDR_ERR_NOMEM;
  json_decref(o);
  return r;
}

int enclave_reply_op_fail(struct cdr_buf *out, struct enclave_op_outcome *res, int code, const char *message) {
  res->status = CDR_STATUS_FAILED;
  res->code = code;
  cdr_buf_free(out);
  return put_json(out, json_pack("{s:b,s:s,s:s}", "ok", 0, "error", cdr_err_code(code), "message",
                                 message ? message : cdr_err_describe(code)));
}

int enclave_reply_op_json(struct cdr_buf *out, struct enclave_op_outcome *res, json_t *o) {
  int r = put_json(out, o);
  res->status = r == 0 ? CDR_STATUS_OK : CDR_STATUS_FAILED;
  res->code = r;
  return r;
}
