/*
 * enclave_reply.h - writing the enclave's answers to a request: an
 * IPC_ERROR reply for a refused request, and the JSON response of a
 * user's operation (ops.c, audit_ops.c) with its outcome.
 *
 * Invariant: an operation's outcome is carried as a value (struct
 * enclave_op_outcome), never read back out of the JSON it wrote: a
 * FAILED response names exactly outcome.code, which is what the audit
 * entry records.
 */
#ifndef CDR_ENCLAVE_REPLY_H
#define CDR_ENCLAVE_REPLY_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"

/* Reset out to an IPC_ERROR reply with code and message; returns 0 so a
 * handler can `return enclave_reply_error(...)` for a refusal, or the
 * encoding error if even that fails. */
int enclave_reply_error(struct cdr_buf *out, uint32_t *rt, int code, const char *message);

/* What an operation's answer says besides its JSON. */
struct enclave_op_outcome {
  uint8_t status;    /* CDR_STATUS_OK or CDR_STATUS_FAILED */
  int code;          /* FAILED: the cdr_err its "error" names; 0 when OK */
  int close_session; /* the session ends once this answer is sealed */
};

/* Reset out to {"ok":false,"error":<code's wire name>,"message":<message,
 * or the code's description when NULL>}; the outcome is FAILED with
 * code.  0, or CDR_ERR_NOMEM (then the request fails as a whole). */
int enclave_reply_op_fail(struct cdr_buf *out, struct enclave_op_outcome *res, int code, const char *message);
/* Append the compact JSON of o (consumed; NULL means memory ran out) to
 * out, dumped straight into the buffer (no second copy of the
 * plaintext); the outcome is OK.  CDR_ERR_NOMEM leaves it FAILED. */
int enclave_reply_op_json(struct cdr_buf *out, struct enclave_op_outcome *res, json_t *o);

#endif
