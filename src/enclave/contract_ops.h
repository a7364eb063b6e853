/*
 * contract_ops.h - the operations on the room contract
 * (docs/PROTOCOL.md 4.7 and 8): reading the active and pending versions,
 * proposing the next version, and signing the pending one.  The rules
 * are contract_state.c's; this file reads the request, makes every
 * change durable (the sealed manifest, persist.c) before it answers, and
 * fills the request's audit entry, so every proposal, signature,
 * activation and refused attempt is in the log.
 */
#ifndef CDR_CONTRACT_OPS_H
#define CDR_CONTRACT_OPS_H

#include <jansson.h>
#include <stdint.h>

#include "common/buf.h"
#include "enclave.h"
#include "enclave_reply.h"

/* Who runs the operation: its key fingerprint and SPKI (the session's). */
struct contract_caller {
  const uint8_t *key_fp; /* 32 bytes */
  const uint8_t *spki;
  size_t spki_len;
};

/* {"op":"contract","from"?:n}: the active and pending versions, and with
 * "from" the chain from that version on. */
int contract_op_read(struct enclave *e, json_t *hdr, struct cdr_buf *out, struct enclave_op_outcome *res) CDR_WUR;
/* {"op":"contract_propose"} + payload: the canonical document. */
int contract_op_propose(struct enclave *e, const struct contract_caller *who, const uint8_t *doc, size_t len,
                        struct cdr_buf *out, struct enclave_op_outcome *res) CDR_WUR;
/* {"op":"contract_sign"} + payload: the detached signature object. */
int contract_op_sign(struct enclave *e, const struct contract_caller *who, const uint8_t *obj, size_t len,
                     struct cdr_buf *out, struct enclave_op_outcome *res) CDR_WUR;

/* Tell the host the active and pending versions (IPC_CONTRACT_NOTICE,
 * not answered; public data for the operator's display): after the room
 * is loaded and after every change, on the lane of the call that made
 * the change (store_client.h, enclave_notice; the control lane at
 * IPC_LOAD_DONE), whose storage loop on the host reads it before the
 * reply.  Not on the audit lane: the host's audit-lane thread takes only
 * IPC_STORE, and the notice belongs with its change.  0, or the write's error (the link
 * is then broken and the enclave stops, as for any frame). */
int contract_notify_host(struct enclave *e) CDR_WUR;
/* One version as the contract operation shows it (PROTOCOL 8.9):
 * {"version", "sha256", "document", "signatures": [{"spki", "object"}]};
 * NULL when out of memory.  Also a witness join's chain element (9.3). */
json_t *contract_version_json(const struct contract_version *v);

/* Version 1 must name the room's data holders as they are
 * (contract_holders.c): every table's owning key a provider member, and
 * no other member with an owner's name.  0, or CDR_ERR_CONTRACT_INVALID
 * with the reason in why.  The _doc form parses doc first and passes
 * whenever a version is already active (the active version then names
 * the required signers) or doc does not parse (the caller's proposal
 * path refuses it with the parser's reason). */
struct cdr_engine;
struct cdr_contract;
int contract_holders_check(const struct cdr_engine *eng, const struct cdr_contract *v1, char *why, size_t whylen);
int contract_holders_check_doc(const struct cdr_engine *eng, const struct contract_state *s, const uint8_t *doc,
                               size_t len, char *why, size_t whylen);

#endif
