/*
 * template_ops.h - the "template" operation and running an approved
 * template through "query" (template_ops.c; docs/PROTOCOL.md 4.7,
 * docs/RULES.md "Approved queries").
 *
 * Contract: as the other operations (ops.h): a user's mistake is a
 * FAILED response in out with res set; a non-zero return (memory, a
 * storage failure with e->fatal) fails the request as a whole.  Every
 * change is sealed (persist_meta_changed) with its audit entry before
 * it is answered; each entry names the template, its SHA-256 and its
 * text, and lists the tables it reads with their owners, so each owner
 * reads the text it approved in the audit log.
 */
#ifndef CDR_TEMPLATE_OPS_H
#define CDR_TEMPLATE_OPS_H

#include <jansson.h>

#include "common/buf.h"
#include "enclave.h"
#include "enclave_reply.h"

/* {"op":"template","action":"propose"|"list"|"approve"|"reject"|"withdraw",...} */
int template_op(struct enclave *e, const struct engine_principal *who, const json_t *hdr, struct cdr_buf *out,
                struct enclave_op_outcome *res) CDR_WUR;
/* {"op":"query","template":NAME,"params":{...}}: run it for who on
 * lane, the query's engine (gate_engine_enter). */
int template_op_run(struct enclave *e, struct cdr_engine *lane, const struct engine_principal *who, const json_t *hdr,
                    struct cdr_buf *out, struct enclave_op_outcome *res) CDR_WUR;

#endif
