/*
 * witness_gate.h - the enclave's side of the room's witnesses (PROTOCOL 9,
 * ARCHITECTURE "Witnesses"): the witness set the active contract names,
 * the quorum, the check of a quorum of countersignatures over an audit
 * head, and the check at start.  Pure functions over values the host
 * relays: no I/O, no clock, no state beyond the struct; every answer is
 * verified here, so a host that forges, drops, replays or reorders them
 * can stop the room but not make it accept an older history.
 *
 * Wired by witness_start.c (at LOAD_DONE: keys, a "latest" round with a
 * fresh nonce, witness_gate_start_check; the verdict gates every session
 * open and request) and witness_round.c (per durable audit batch: a
 * countersign round and witness_gate_confirmed before any answer of the
 * batch leaves).
 */
#ifndef CDR_ENCLAVE_WITNESS_GATE_H
#define CDR_ENCLAVE_WITNESS_GATE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/wire.h"
#include "crypto/contract.h"
#include "crypto/witness_msg.h"

/* q = ceil((n + f + 1) / 2): two quorums share f + 1 witnesses, one of
 * them honest; with n >= 3f + 1 a quorum is reachable with f gone. */
size_t witness_quorum(size_t n, unsigned f);

struct witness_gate_member {
  uint8_t key_sha256[32]; /* the contract's */
  char *url;              /* the contract's (for messages) */
  EVP_PKEY *key;          /* W, once a relayed SPKI matched key_sha256; NULL before */
};

struct witness_gate {
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  size_t n;      /* witnesses; 0: the room's history is not witnessed */
  unsigned f;    /* faulty witnesses tolerated */
  size_t quorum; /* witness_quorum(n, f); 0 when n is 0 */
  struct witness_gate_member *w;
};

/* The gate for contract c (its witnesses and witness_faults).
 * CDR_ERR_CONTRACT_INVALID when n < 3f + 1 (cdr_contract_validate
 * refuses such a contract already; checked again here). */
int witness_gate_init(struct witness_gate *g, const struct cdr_contract *c) CDR_WUR;
void witness_gate_free(struct witness_gate *g);
/* Does g hold exactly contract c's witness set (the same keys, in the
 * contract's order, and the same f)?  A version activated while serving
 * whose set differs takes effect at the next start (the start check is
 * what takes a set up); changing the set under both sets' quorums is
 * not built. */
int witness_gate_same_set(const struct witness_gate *g, const struct cdr_contract *c);

/* Accept a witness's public key (SPKI DER, as GET /v1/witness/key gives
 * it): P-256, and SHA-256 of it one of the contract's key_sha256.
 * *index (may be NULL) receives the witness's index.
 * CDR_ERR_NOT_A_MEMBER: no witness of this room has that key;
 * CDR_ERR_KEY_UNSUPPORTED: not a P-256 key. */
int witness_gate_set_key(struct witness_gate *g, const uint8_t *spki, size_t spki_len, size_t *index) CDR_WUR;

/* One countersignature as relayed: the witness it names, Sign_W(W_cs). */
struct witness_countersig {
  uint8_t witness_key_sha256[32];
  const uint8_t *sig;
  size_t sig_len;
};

/* Count the distinct witnesses of the room (keys set) whose
 * countersignature over (room, size, head) verifies into *confirmed;
 * others (an unknown key, a forged or misplaced signature, a witness
 * named twice) count nothing.  0 when *confirmed reaches the quorum,
 * else CDR_ERR_WITNESS_UNAVAILABLE. */
int witness_gate_confirmed(const struct witness_gate *g, uint64_t size, const uint8_t head[CDR_WITNESS_HASH_LEN],
                           const struct witness_countersig *cs, size_t n_cs, size_t *confirmed) CDR_WUR;

/* The enclave's own log, as the start check needs it. */
struct witness_gate_log {
  uint64_t size;                   /* entries */
  /* head(index) for 0 <= index <= size into out; 0 or an error. */
  int (*head_at)(void *ctx, uint64_t index, uint8_t out[CDR_WITNESS_HASH_LEN]);
  void *ctx;
  const uint8_t *identity_spki;    /* the enclave's identity I (SPKI DER) */
  size_t identity_spki_len;
};

struct witness_gate_verdict {
  size_t answered;                 /* answers that verified (quorum counts these) */
  size_t culprit;                  /* history_rollback: the witness's index */
  struct cdr_witness_head theirs;  /* its head */
  uint64_t our_size;               /* the log's size ... */
  uint8_t our_head[CDR_WITNESS_HASH_LEN]; /* ... and head at theirs.size, or head(size) when beyond */
  char message[768];               /* one line for the host's log and every client */
};

/* The check at start, over the "latest" answers to one fresh nonce:
 * answers[i] is witness i's (g->n entries; NULL: no answer).  An answer
 * counts only if cdr_witness_latest_verify accepts it under witness i's
 * key and our nonce, and a held head carries OUR identity's signature (a
 * faulty witness cannot invent one).  Then:
 *   - a counted head beyond the log, or with another hash than the log
 *     has at its size: CDR_ERR_HISTORY_ROLLBACK, naming the witness and
 *     both heads (whatever the other answers: one such head proves it);
 *   - fewer than a quorum counted: CDR_ERR_WITNESS_UNAVAILABLE;
 *   - else 0.
 * v->message says which, or how many confirmed; with no witnesses (n 0)
 * the answer is 0 and the message says the history is not witnessed. */
int witness_gate_start_check(const struct witness_gate *g, const uint8_t nonce[CDR_NONCE_LEN],
                             const struct cdr_witness_latest *const *answers, const struct witness_gate_log *log,
                             struct witness_gate_verdict *v) CDR_WUR;

#endif
