/*
 * contract.h - the room contract (docs/PROTOCOL.md section 8): the
 * canonical, versioned document that says who is in a room and on what
 * terms, the message a member signs for one version of it, and the
 * governance rule cdr-gov-1 that says whose signatures a version needs.
 *
 * This is a pure library: no I/O, no clock, no global state.  The
 * enclave, the host and the client all build on it, so that every party
 * computes the same bytes, the same hash and the same signer set.
 *
 * Contracts and invariants:
 *   - A struct cdr_contract that cdr_contract_parse returned, or that
 *     cdr_contract_encode accepted, satisfies every rule of PROTOCOL.md
 *     8.2 (lists sorted and distinct, names unique, lengths in bounds,
 *     chain fields consistent with the version).  cdr_contract_encode
 *     refuses a struct that does not, so no invalid document is ever
 *     produced.
 *   - The encoding is canonical: a document is accepted by
 *     cdr_contract_parse only if re-encoding its content gives exactly
 *     its bytes, so one content has one encoding and one hash.
 *   - Every refusal of a document is CDR_ERR_CONTRACT_INVALID with a
 *     one-line reason naming the field (the `why` buffer, when given);
 *     out-parameters are left empty on failure.
 *   - Every count is checked against its cap (common/limits.h,
 *     CDR_CONTRACT_MAX_*) before anything is allocated for it.
 */
#ifndef CDR_CONTRACT_H
#define CDR_CONTRACT_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/wire.h"

#define CDR_CONTRACT_TYPE "cdr-contract-1"
#define CDR_CONTRACT_GOVERNANCE "cdr-gov-1"
#define CDR_CONTRACT_SIGN_LABEL "CDR-v1 contract sign"
/* The signed message: lp(label) || room_id || u64be(version) || hash. */
#define CDR_CONTRACT_SIGN_INPUT_LEN (4 + sizeof(CDR_CONTRACT_SIGN_LABEL) - 1 + CDR_ROOM_ID_BYTES + 8 + 32)
/* Longest measurement (snp, tdx, nitro: 48 bytes; sim: 32). */
#define CDR_CONTRACT_MEASUREMENT_MAX 48
/* A reason buffer of this size holds every reason the library writes. */
#define CDR_CONTRACT_WHY_LEN 256

/* Roles, a bit set.  Each grants its own capability (analyst: query,
 * provider: upload and own tables, auditor: read the audit log), so a
 * role a member did not have is always a widening. */
#define CDR_CONTRACT_ROLE_ANALYST 1u
#define CDR_CONTRACT_ROLE_AUDITOR 2u
#define CDR_CONTRACT_ROLE_PROVIDER 4u
#define CDR_CONTRACT_ROLE_ALL (CDR_CONTRACT_ROLE_ANALYST | CDR_CONTRACT_ROLE_AUDITOR | CDR_CONTRACT_ROLE_PROVIDER)

struct cdr_contract_member {
  uint8_t key_sha256[32]; /* SHA-256 of the member's SubjectPublicKeyInfo DER */
  char *name;             /* display name, unique within a version */
  unsigned roles;         /* non-empty subset of CDR_CONTRACT_ROLE_ALL */
};

struct cdr_contract_witness {
  char *url;              /* https://... */
  uint8_t key_sha256[32]; /* SHA-256 of the witness's SPKI DER */
};

/* SEV-SNP minimum TCB: each component's security version number. */
struct cdr_contract_snp_tcb {
  uint8_t bootloader, tee, snp, microcode;
};

struct cdr_contract {
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  char *room_name;
  uint64_t version;             /* 1, 2, ... */
  uint8_t previous_sha256[32];  /* all zero exactly when version == 1 */
  uint8_t ca_sha256[32];        /* SHA-256 of the room CA certificate DER */
  char platform[8];             /* "sim", "snp", "tdx", "nitro" */
  size_t n_measurements;        /* 1..CDR_CONTRACT_MAX_MEASUREMENTS */
  uint8_t measurements[CDR_CONTRACT_MAX_MEASUREMENTS][CDR_CONTRACT_MEASUREMENT_MAX];
  int has_snp_min_tcb;          /* only on "snp" */
  struct cdr_contract_snp_tcb snp_min_tcb;
  size_t n_members;             /* 1..CDR_CONTRACT_MAX_MEMBERS, sorted by key_sha256 */
  struct cdr_contract_member *members;
  size_t n_witnesses;           /* 0..CDR_CONTRACT_MAX_WITNESSES, sorted by key_sha256 */
  struct cdr_contract_witness *witnesses;
  unsigned witness_faults;      /* f: faulty witnesses tolerated; n_witnesses >= 3f + 1 */
  char governance[16];          /* CDR_CONTRACT_GOVERNANCE */
};

/* Bytes of one measurement on a platform (32 for "sim", 48 for "snp",
 * "tdx", "nitro"), or 0 for an unknown platform. */
size_t cdr_contract_measurement_len(const char *platform);

/* Role name <-> bit ("analyst", "auditor", "provider"); 0 if unknown. */
unsigned cdr_contract_role_from_name(const char *s);
const char *cdr_contract_role_name(unsigned role);

/* Allocate an empty contract (members and witnesses with room for
 * n_members, n_witnesses entries, zeroed), checking the caps first.  The
 * caller fills it in, then encodes (which validates).  CDR_ERR_TOO_LARGE
 * past a cap. */
int cdr_contract_alloc(struct cdr_contract *c, size_t n_members, size_t n_witnesses) CDR_WUR;
/* Release everything c owns and zero it; safe on a zeroed contract. */
void cdr_contract_free(struct cdr_contract *c);

/* Check every rule of PROTOCOL.md 8.2 on c: 0, or CDR_ERR_CONTRACT_INVALID
 * with the reason in why (may be NULL). */
int cdr_contract_validate(const struct cdr_contract *c, char *why, size_t whylen) CDR_WUR;

/* The canonical document: *out is malloc'd (free with free()), *outlen its
 * length, no NUL counted.  CDR_ERR_CONTRACT_INVALID (with why) if c breaks
 * a rule. */
int cdr_contract_encode(const struct cdr_contract *c, uint8_t **out, size_t *outlen, char *why,
                        size_t whylen) CDR_WUR;

/* Parse len bytes that come from anywhere.  Accepts only a canonical,
 * valid document (at most CDR_CONTRACT_MAX_BYTES); anything else is
 * CDR_ERR_CONTRACT_INVALID with the reason in why, and *c is left zeroed.
 * On success the caller frees *c with cdr_contract_free. */
int cdr_contract_parse(const uint8_t *p, size_t len, struct cdr_contract *c, char *why, size_t whylen) CDR_WUR;

/* The contract hash: SHA-256 of the canonical document (encodes c). */
int cdr_contract_hash(const struct cdr_contract *c, uint8_t out[32]) CDR_WUR;

/* The index of the member with this key fingerprint, or -1. */
long cdr_contract_find_member(const struct cdr_contract *c, const uint8_t key_sha256[32]);

/* The witness quorum of c: q = ceil((n + f + 1) / 2) of its n witnesses
 * with f = witness_faults (docs/ARCHITECTURE.md, "Witnesses"), or 0 when
 * it names none (the history is not witnessed). */
size_t cdr_contract_witness_quorum(const struct cdr_contract *c);
/* What every display says of a room whose active contract names no
 * witnesses, or that has no active contract. */
#define CDR_CONTRACT_UNWITNESSED "history not witnessed: the operator can roll back activity since the last commit"

/* ---- signatures (contract_sign.c) ---- */

/* The signed message for (room, version, hash), CDR_CONTRACT_SIGN_INPUT_LEN
 * bytes appended to out. */
int cdr_contract_sign_input(struct cdr_buf *out, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t version,
                            const uint8_t contract_sha256[32]) CDR_WUR;
/* Sign that message with a member's own key (P-256 ECDSA-SHA256 or RSA
 * PSS, crypto.h's cdr_sign); the signature is appended to sig. */
int cdr_contract_sign(EVP_PKEY *key, const uint8_t contract_sha256[32], const uint8_t room_id[CDR_ROOM_ID_BYTES],
                      uint64_t version, struct cdr_buf *sig) CDR_WUR;
/* Verify a member's signature: spki_der (at most CDR_MAX_PUBKEY_DER bytes)
 * must hash to member_key_sha256 (else CDR_ERR_CERT_KEY_MISMATCH), be a
 * user key type (else CDR_ERR_KEY_UNSUPPORTED), and sig must verify over
 * the signed message (else CDR_ERR_BAD_SIGNATURE). */
int cdr_contract_verify(const uint8_t *spki_der, size_t spki_len, const uint8_t member_key_sha256[32],
                        const uint8_t contract_sha256[32], const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t version,
                        const uint8_t *sig, size_t siglen) CDR_WUR;

/* The detached signature object (PROTOCOL.md 8.5), canonical JSON:
 * {"contract_sha256":hex,"member_key_sha256":hex,"signature":b64,"version":n} */
struct cdr_contract_sig {
  uint64_t version;
  uint8_t contract_sha256[32];
  uint8_t member_key_sha256[32];
  uint8_t *sig; /* malloc'd, 1..CDR_MAX_SIGNATURE bytes */
  size_t sig_len;
};
/* *out malloc'd (free with free()), *outlen its length. */
int cdr_contract_sig_encode(const struct cdr_contract_sig *s, uint8_t **out, size_t *outlen) CDR_WUR;
/* Canonical objects only; CDR_ERR_CONTRACT_INVALID with why otherwise. */
int cdr_contract_sig_parse(const uint8_t *p, size_t len, struct cdr_contract_sig *s, char *why,
                           size_t whylen) CDR_WUR;
void cdr_contract_sig_free(struct cdr_contract_sig *s);

/* ---- governance rule cdr-gov-1 (contract_gov.c) ---- */

/* Why a key must sign (bits, several may apply). */
#define CDR_SIGNER_LISTED 1u   /* version 1: every listed member */
#define CDR_SIGNER_PROVIDER 2u /* a provider of the active version */
#define CDR_SIGNER_ADDED 4u    /* a member the new version adds */
#define CDR_SIGNER_WIDENED 8u  /* a member given a role it did not have */
#define CDR_SIGNER_MEMBER 16u  /* a member of an active version that has no provider */

struct cdr_contract_signer {
  uint8_t key_sha256[32];
  unsigned reasons; /* CDR_SIGNER_* */
};
struct cdr_contract_signers {
  size_t n;
  struct cdr_contract_signer *v; /* sorted by key_sha256, distinct */
};

/* The signers next needs under cdr-gov-1, computed from the ACTIVE
 * version (NULL when next is version 1).  Checks first that next follows
 * active: same room id, version + 1, previous_sha256 = active's hash,
 * governance not looser.  CDR_ERR_CONTRACT_INVALID (with why) if it does
 * not, or if it would need no signature.  The caller frees *out with
 * cdr_contract_signers_free. */
int cdr_contract_required_signers(const struct cdr_contract *active, const struct cdr_contract *next,
                                  struct cdr_contract_signers *out, char *why, size_t whylen) CDR_WUR;
void cdr_contract_signers_free(struct cdr_contract_signers *s);
/* Given the key fingerprints whose signatures over next were VERIFIED
 * (cdr_contract_verify), count the required signers still missing into
 * *missing (0: the version may be activated).  Keys not required are
 * ignored.  If missing_out is not NULL, the first missing key's index in
 * req is written there (or req->n when none is missing). */
int cdr_contract_signers_missing(const struct cdr_contract_signers *req, const uint8_t (*have)[32], size_t n_have,
                                 size_t *missing, size_t *first_missing) CDR_WUR;

#endif
