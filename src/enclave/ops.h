/*
 * ops.h - running a user's operation (ops.c; docs/PROTOCOL.md 4.7), after
 * enclave_request.c has verified and decrypted the request.
 *
 * Contract: the response plaintext (JSON) goes to out and its outcome to
 * *res, as values: the status byte, the code a FAILED response names
 * (for the audit entry) and whether the session ends once the answer is
 * sealed.  Nothing is carried back through struct enclave, and nothing
 * re-reads the JSON to learn the outcome.
 */
#ifndef CDR_OPS_H
#define CDR_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "enclave.h"
#include "enclave_reply.h"

/* Run a decrypted, authenticated operation for the session's user and
 * write the response plaintext (JSON) to out.  Never fails for the
 * user's mistakes: those become {"ok":false,...} with res->status
 * CDR_STATUS_FAILED and res->code the refusal's code.  A non-zero return
 * (memory, a storage failure: e->fatal) fails the request as a whole. */
int ops_run(struct enclave *e, const struct session *s, const uint8_t *pt, size_t ptlen, struct cdr_buf *out,
            struct enclave_op_outcome *res) CDR_WUR;

#endif
