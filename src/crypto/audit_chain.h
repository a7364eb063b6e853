/*
 * audit_chain.h - the audit log's hash chain and signed head
 * (docs/PROTOCOL.md 4.8), shared by the enclave that writes the log and
 * the clients that verify it.
 *
 *   head(0)   = SHA-256( lp("CDR-v1 audit chain") || room_id )
 *   leaf(i)   = SHA-256( entry_i )           (the entry's exact bytes)
 *   head(i+1) = SHA-256( lp("CDR-v1 audit chain") || head(i) || u64be(i) || leaf(i) )
 *
 *   T_head    = lp("CDR-v1 audit head") || lp(room_id) || u64be(size)
 *               || lp(head(size)) || u64be(time)
 * signed by the enclave's identity key.  A log of `size` entries is
 * exactly the entries whose chain ends at head(size); a log that extends
 * another has the other's head at the other's size.
 */
#ifndef CDR_AUDIT_CHAIN_H
#define CDR_AUDIT_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define CDR_AUDIT_HASH_LEN 32

int cdr_audit_genesis(uint8_t out[CDR_AUDIT_HASH_LEN], const uint8_t *room_id, size_t room_id_len) CDR_WUR;
int cdr_audit_leaf(uint8_t out[CDR_AUDIT_HASH_LEN], const void *entry, size_t len) CDR_WUR;
/* out may equal prev. */
int cdr_audit_step(uint8_t out[CDR_AUDIT_HASH_LEN], const uint8_t prev[CDR_AUDIT_HASH_LEN], uint64_t index,
                   const uint8_t leaf[CDR_AUDIT_HASH_LEN]) CDR_WUR;
/* Append T_head to out. */
int cdr_audit_head_transcript(struct cdr_buf *out, const uint8_t *room_id, size_t room_id_len, uint64_t size,
                              const uint8_t head[CDR_AUDIT_HASH_LEN], uint64_t time) CDR_WUR;

#endif
