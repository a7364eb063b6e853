/*
 * witness.h - cdr-witness, the history witness (`cdr witness serve`,
 * docs/ARCHITECTURE.md "Witnesses", docs/PROTOCOL.md section 9).
 *
 * A witness is run by an organisation apart from the room's operator.
 * For each room it was joined to it keeps, durably, the latest audit head
 * it countersigned together with the enclave's own signature on it, the
 * room's contract version it pinned and the attested enclave identity.
 * It countersigns only heads that the pinned identity signed and that
 * extend the one it holds, and answers "what do you hold" with a
 * signature over the asker's nonce.
 *
 *   main.c            options, the witness key, the HTTP server, signals
 *   witness_routes.c  the three routes: key, countersign, latest
 *   witness_join.c    joining a room: the contract chain and attestation
 *   witness_state.c   one room's state file: read, and write durably
 *
 * Calls go one way: main -> routes -> join, state.  One mutex serialises
 * every room's read-check-write, so two requests for one room never race
 * between the check and the write.
 */
#ifndef CDR_WITNESS_H
#define CDR_WITNESS_H

#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/wire.h"
#include "crypto/witness_msg.h"

/* A witness request body is at most 4 MiB: a contract chain of a few
 * versions (each at most 1 MiB, PROTOCOL 8.2) and attestation evidence.
 * A room with a longer chain joins from a version the witness pinned. */
#define WITNESS_MAX_BODY (4u * 1024u * 1024u)
/* Versions one join may carry. */
#define WITNESS_MAX_CHAIN 16
/* Measurements are at most 48 bytes (snp, tdx, nitro). */
#define WITNESS_MEASUREMENT_MAX 48

struct witness {
  EVP_PKEY *key;             /* W, P-256 */
  uint8_t key_sha256[32];    /* SHA-256 of W's SPKI DER: the contract's key_sha256 */
  char *spki_b64;            /* W's SPKI DER, base64 */
  char *state_dir;           /* DIR: DIR/rooms/<room hex>.json */
  int allow_sim;             /* --allow-sim: join rooms whose contract names sim */
  pthread_mutex_t lock;      /* every room's state */
};

/* What a witness holds for one room. */
struct witness_room {
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  uint64_t contract_version;     /* the pinned (last verified) version */
  uint8_t contract_sha256[32];
  char *contract_doc;            /* its canonical document (malloc'd, NUL-terminated) */
  size_t contract_doc_len;
  char platform[16];             /* as attested */
  uint8_t measurement[WITNESS_MEASUREMENT_MAX];
  size_t measurement_len;
  uint8_t identity_spki[CDR_MAX_PUBKEY_DER]; /* the attested enclave identity I */
  size_t identity_spki_len;
  struct cdr_witness_head head;  /* the latest head countersigned, signed by I */
};

void witness_room_free(struct witness_room *r);

/* ---- witness_routes.c ---- */

/* The route table for http_server_start (ctx: the struct witness). */
struct http_route;
const struct http_route *witness_routes(size_t *n);
/* The error codes those routes answer besides PROTOCOL 4.1's. */
const int *witness_api_errors(size_t *n);

/* ---- witness_state.c ---- */

/* Read DIR/rooms/<room>.json into *out.  CDR_ERR_NOT_FOUND when the
 * witness never joined the room; CDR_ERR_IO for a file it cannot read or
 * parse (never treated as "not joined": a damaged file stops the room
 * at this witness rather than letting it be joined afresh). */
int witness_state_load(const struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                       struct witness_room *out) CDR_WUR;
/* Write the room's state durably: a temporary file, fsync, rename over
 * the old one, fsync of the folder.  When this returns 0 the state
 * survives a crash or power cut; otherwise the old file is unchanged. */
int witness_state_save(const struct witness *w, const struct witness_room *room) CDR_WUR;

/* ---- witness_join.c ---- */

/* Check a join (PROTOCOL 9.3) for room_id against what the witness holds
 * (held NULL: not joined yet) and fill *out with the room's new pinned
 * contract and attested identity (out->head is left zero; the caller
 * fills it).  The chain's signatures are verified here, by cdr-gov-1,
 * from version 1 or from the pinned version; the attestation evidence
 * against the last version's CA, platform and measurements, with sim
 * only when w->allow_sim.  Errors: CDR_ERR_CONTRACT_INVALID (a chain that
 * does not verify or does not extend the pin), CDR_ERR_ATTEST_* (the
 * evidence), CDR_ERR_ARG (a malformed field), each with why. */
int witness_join_check(const struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES], const json_t *join,
                       const struct witness_room *held, struct witness_room *out, char *why,
                       size_t whylen) CDR_WUR;

#endif
