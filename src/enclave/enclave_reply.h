/*
 * enclave_reply.h - writing an IPC_ERROR reply for a refused request.
 */
#ifndef CDR_ENCLAVE_REPLY_H
#define CDR_ENCLAVE_REPLY_H

#include <stdint.h>

#include "common/buf.h"

/* Reset out to an IPC_ERROR reply with code and message; returns 0 so a
 * handler can `return enclave_reply_error(...)` for a refusal, or the
 * encoding error if even that fails. */
int enclave_reply_error(struct cdr_buf *out, uint32_t *rt, int code, const char *message);

#endif
