/*
 * audit_ops.h - the operations that read the audit log
 * (docs/PROTOCOL.md 4.8): `audit` shows a page of entries, `audit_head`
 * the signed head a client remembers to detect a rolled-back room.
 *
 * Who sees what: an auditor sees every entry; anyone else sees the
 * entries of their own requests, the entries that name a table they own,
 * and the room's own entries (start, revocation lists, bare commits).
 * Of every other entry a reader gets only its leaf hash, which is enough
 * to check the chain and reveals nothing (each entry has a random salt).
 */
#ifndef CDR_AUDIT_OPS_H
#define CDR_AUDIT_OPS_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"
#include "enclave.h"
#include "enclave_reply.h"

/* Each writes the response JSON to out and its outcome to *res (OK, or
 * FAILED with the refusal's code, as ops.c's operations do).  Returns
 * non-zero only for a broken channel or memory. */
int audit_op_read(struct enclave *e, const struct engine_principal *who, json_t *hdr, struct cdr_buf *out,
                  struct enclave_op_outcome *res) CDR_WUR;
int audit_op_head(struct enclave *e, json_t *hdr, struct cdr_buf *out, struct enclave_op_outcome *res) CDR_WUR;

#endif
