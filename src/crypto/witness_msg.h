/*
 * witness_msg.h - the witness messages (docs/PROTOCOL.md section 9),
 * shared by the witness server (src/witness), the enclave that asks
 * witnesses to countersign its audit heads, and any client that checks a
 * witness's answer.  No I/O, clock or state.
 *
 * A witness countersigns the enclave's signed audit head (PROTOCOL 4.8:
 * size, head(size), time, Sign_I(T_head)) with its own P-256 key W:
 *
 *   W_cs     = lp("CDR-v1 witness countersign") || lp(room_id) || u64be(size)
 *              || lp(head)
 *   W_latest = lp("CDR-v1 witness latest") || lp(room_id) || u64be(size)
 *              || lp(head) || lp(nonce)
 *
 * signed ECDSA-SHA256 (DER).  The labels differ from every other signed
 * message of the protocol, so no countersignature is a "latest" answer
 * or an enclave signature, nor the reverse.  A witness that holds nothing
 * for a room answers "latest" with size 0 and a head of 32 zero bytes.
 */
#ifndef CDR_WITNESS_MSG_H
#define CDR_WITNESS_MSG_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"
#include "common/wire.h"

#define CDR_WITNESS_LABEL_COUNTERSIGN "CDR-v1 witness countersign"
#define CDR_WITNESS_LABEL_LATEST "CDR-v1 witness latest"
#define CDR_WITNESS_HASH_LEN 32

/* One signed audit head: what the enclave signed (T_head) and its
 * signature under the identity key I. */
struct cdr_witness_head {
  uint64_t size;                        /* entries in the log (the index of the next) */
  uint8_t head[CDR_WITNESS_HASH_LEN];   /* head(size) */
  uint64_t time;                        /* the enclave's time in T_head */
  uint8_t sig[CDR_MAX_SIGNATURE];       /* Sign_I(T_head), DER */
  size_t sig_len;                       /* 1..CDR_MAX_SIGNATURE; 0 only for "holds nothing" */
};

/* A witness's answer to "latest" (PROTOCOL 9.4), as parsed. */
struct cdr_witness_latest {
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  struct cdr_witness_head head;                /* size 0, zero head, no sig: holds nothing */
  uint8_t identity_spki[CDR_MAX_PUBKEY_DER];   /* the enclave key that signed head (held only) */
  size_t identity_spki_len;
  uint8_t nonce[CDR_NONCE_LEN];                /* the nonce the witness says it signed */
  uint8_t witness_key_sha256[32];
  uint8_t sig[CDR_MAX_SIGNATURE];              /* Sign_W(W_latest) */
  size_t sig_len;
};

/* Append W_cs / W_latest to out. */
int cdr_witness_countersign_input(struct cdr_buf *out, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t size,
                                  const uint8_t head[CDR_WITNESS_HASH_LEN]) CDR_WUR;
int cdr_witness_latest_input(struct cdr_buf *out, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t size,
                             const uint8_t head[CDR_WITNESS_HASH_LEN], const uint8_t nonce[CDR_NONCE_LEN]) CDR_WUR;

/* Does h carry the enclave identity's signature over T_head for this
 * room?  0, or CDR_ERR_BAD_SIGNATURE. */
int cdr_witness_head_verify(const struct cdr_witness_head *h, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                            EVP_PKEY *identity) CDR_WUR;

/* Sign W_cs with the witness key; the DER signature is appended to sig. */
int cdr_witness_countersign(struct cdr_buf *sig, EVP_PKEY *witness, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                            uint64_t size, const uint8_t head[CDR_WITNESS_HASH_LEN]) CDR_WUR;
/* 0 if sig is witness's countersignature of (room, size, head), else
 * CDR_ERR_BAD_SIGNATURE. */
int cdr_witness_countersign_verify(EVP_PKEY *witness, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t size,
                                   const uint8_t head[CDR_WITNESS_HASH_LEN], const uint8_t *sig,
                                   size_t sig_len) CDR_WUR;

/* The head as JSON members of obj: "size", "head" (hex), "time",
 * "signature" (b64; absent when sig_len is 0). */
int cdr_witness_head_to_json(json_t *obj, const struct cdr_witness_head *h) CDR_WUR;
/* Read those members (signature required unless allow_empty and size is
 * 0).  CDR_ERR_ARG naming the field in why. */
int cdr_witness_head_from_json(const json_t *obj, struct cdr_witness_head *h, int allow_empty, char *why,
                               size_t whylen) CDR_WUR;

/* Parse a "latest" answer exactly as PROTOCOL 9.4 writes it.
 * CDR_ERR_ARG naming the field in why. */
int cdr_witness_latest_parse(const json_t *answer, struct cdr_witness_latest *out, char *why,
                             size_t whylen) CDR_WUR;

/* The client-side check of a "latest" answer, for the room and the fresh
 * nonce the asker sent, under the witness key it expects:
 *   - room_id is ours, and the key fingerprint is SHA-256 of witness's
 *     SPKI (CDR_ERR_BAD_SIGNATURE otherwise: another witness answered);
 *   - the echoed nonce is ours: CDR_ERR_WITNESS_REPLAYED otherwise (an
 *     answer to an older question);
 *   - Sign_W over W_latest built with OUR nonce verifies
 *     (CDR_ERR_BAD_SIGNATURE): an edited echo does not help a replay;
 *   - a held head carries a valid Sign_I(T_head) under the identity SPKI
 *     the answer names (CDR_ERR_BAD_SIGNATURE): a faulty witness cannot
 *     invent a head.  Whether that identity is the room's is the
 *     caller's decision.
 * 0 when all hold. */
int cdr_witness_latest_verify(const struct cdr_witness_latest *a, EVP_PKEY *witness,
                              const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t nonce[CDR_NONCE_LEN],
                              char *why, size_t whylen) CDR_WUR;

#endif
