/*
 * contract_state.h - the room contract as the enclave holds it
 * (docs/PROTOCOL.md 8 and 4.7's contract operations): the chain of
 * active versions, each with the signatures that activated it, and at
 * most one pending version with the signatures collected so far and its
 * expiry.  It is part of the sealed manifest (persist.c), so it is
 * loaded at start and committed with every change.
 *
 * This file holds the rules, not the I/O: proposing replaces the pending
 * version and voids its signatures; a signature is taken only over the
 * pending version's exact hash, from a key cdr-gov-1 asks for or a member
 * of the pending version, verified against the signer's own SPKI; the
 * version is activated (appended to the chain) once the signers that
 * cdr-gov-1 computes from the ACTIVE version have all signed.  A repeated
 * signature changes nothing.
 *
 * Invariants: active[0..n_active) is a chain (version i+1, previous =
 * hash of version i, version 1 first); every stored document is
 * canonical (it was parsed by cdr_contract_parse) and its hash is
 * stored beside it; pending, when present, follows the last active
 * version (or is version 1 when none is active).
 */
#ifndef CDR_CONTRACT_STATE_H
#define CDR_CONTRACT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "crypto/contract.h"

/* A pending version expires after this long (PROTOCOL 4.7). */
#define CONTRACT_PENDING_TTL_SECONDS (7 * 24 * 3600)
/* Caps on what the sealed state holds: versions in the chain, and
 * signatures on one version (required signers and pending members). */
#define CONTRACT_MAX_CHAIN 256u
#define CONTRACT_MAX_SIGS (2u * CDR_CONTRACT_MAX_MEMBERS)
/* The sealed encoding stays under this (it travels in the manifest, whose
 * frame also carries every table's entry): a proposal or signature that
 * would pass it is refused with CDR_ERR_TOO_LARGE instead of making the
 * commit fail (which stops the enclave). */
#define CONTRACT_MAX_STATE_BYTES (8u * CDR_MiB)

struct contract_sigrec {
  uint8_t key_sha256[32];
  uint8_t *spki; /* the signer's SubjectPublicKeyInfo DER, so anyone can verify */
  size_t spki_len;
  uint8_t *obj; /* the detached signature object (PROTOCOL 8.5), canonical */
  size_t obj_len;
};

struct contract_version {
  uint8_t *doc; /* canonical document */
  size_t doc_len;
  uint8_t hash[32];
  struct cdr_contract c; /* doc, parsed */
  size_t n_sigs;
  struct contract_sigrec *sigs;
};

struct contract_state {
  size_t n_active;
  struct contract_version *active; /* active[n_active - 1] is in force */
  int has_pending;
  struct contract_version pending;
  int64_t pending_expires; /* seconds since the epoch */
};

void contract_state_free(struct contract_state *s);
/* The version in force, or NULL before version 1 is active. */
const struct contract_version *contract_state_current(const struct contract_state *s);
/* The pending version at `now` (NULL if none or expired). */
const struct contract_version *contract_state_pending(const struct contract_state *s, int64_t now);

/* Append the state's sealed encoding to out:
 *   u32be n_active || n_active x version || u8 has_pending ||
 *   [ version || u64be pending_expires ]
 *   version = lp(document) || u32be n_sigs || n_sigs x ( lp(spki) || lp(signature object) ) */
int contract_state_encode(const struct contract_state *s, struct cdr_buf *out) CDR_WUR;
/* Read that encoding from b into an empty *s (the sealed manifest is
 * authenticated, but every document and object is parsed again).
 * CDR_ERR_TRUNCATED or CDR_ERR_CONTRACT_INVALID; *s is then freed. */
int contract_state_decode(struct cdr_buf *b, struct contract_state *s) CDR_WUR;

/* Replace the pending version by the document doc (len bytes from a
 * proposer).  It must be canonical, be of room_id and name the room CA
 * ca_sha256, and follow the active version (cdr-gov-1; version 1 when
 * none is active).  Refusals: CDR_ERR_CONTRACT_INVALID with the reason
 * in why; nothing changes.  The old pending version's signatures are
 * voided (*voided: how many there were). */
int contract_state_propose(struct contract_state *s, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                           const uint8_t ca_sha256[32], const uint8_t *doc, size_t len, int64_t now, size_t *voided,
                           char *why, size_t whylen) CDR_WUR;

/* What contract_state_sign did. */
enum contract_sign_result { CONTRACT_SIGN_ADDED, CONTRACT_SIGN_REPEATED, CONTRACT_SIGN_ACTIVATED };

/* Record the signature object obj (len bytes) made by the session whose
 * key is spki.  Refusals, each with a reason in why, nothing changed:
 * CDR_ERR_CONTRACT_INVALID (malformed object), CDR_ERR_CONTRACT_NO_PENDING
 * (no pending version, or it expired), CDR_ERR_CONTRACT_MISMATCH (the
 * object is over another hash or version than the pending one),
 * CDR_ERR_CERT_KEY_MISMATCH (the object names another key than the
 * session's), CDR_ERR_NOT_A_MEMBER (the key is neither a member of the
 * pending version nor one cdr-gov-1 asks for), CDR_ERR_BAD_SIGNATURE.
 * *missing: the required signers still missing afterwards. */
int contract_state_sign(struct contract_state *s, const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *spki,
                        size_t spki_len, const uint8_t *obj, size_t len, int64_t now, enum contract_sign_result *res,
                        size_t *missing, char *why, size_t whylen) CDR_WUR;

/* How a key stands with the contract at `now`: a member of the active
 * version; before any version is active (every key, as before the
 * contract); only in the pending version; or none of these. */
enum contract_key_standing { CONTRACT_KEY_NONE, CONTRACT_KEY_PENDING, CONTRACT_KEY_NO_CONTRACT, CONTRACT_KEY_MEMBER };
enum contract_key_standing contract_state_key(const struct contract_state *s, const uint8_t key[32], int64_t now);

/* The signers the pending version needs (cdr-gov-1 from the active
 * version); the caller frees *out. */
int contract_state_required(const struct contract_state *s, struct cdr_contract_signers *out) CDR_WUR;

#endif
