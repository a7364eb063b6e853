/*
 * witness_check.h - the client's check of the room's history witnesses
 * (docs/PROTOCOL.md 9.4 and 4.8, "Witnesses, checked by the client"):
 * what `cdr audit --verify` asks the witnesses the active contract names,
 * directly and not through the room's host, and how it judges the heads
 * they hold against the log it downloaded and verified.
 *
 * The order matters and is the caller's: ask the witnesses FIRST
 * (cdr_witness_round_ask), then read and verify the log, recording its
 * head at every size a witness named (struct cdr_audit_probe, audit.h),
 * then judge (cdr_witness_round_judge).  A witness only ever holds heads
 * the enclave had already made durable, so an honest witness's head can
 * never be beyond a log read after it answered; read the other way round,
 * a busy room would look rolled back.
 *
 * Trust: a witness is believed only through signatures.  Its key must
 * hash to the key_sha256 the contract names, its "latest" answer must be
 * signed over the nonce just sent (cdr_witness_latest_verify: an old
 * answer is witness_replayed, an edited one bad_signature), and the head
 * it holds counts only if the room's attested identity key I signed it.
 * TLS to a witness is verified (against --witness-ca, else
 * CURL_CA_BUNDLE / SSL_CERT_FILE / the system store), but what counts is
 * the signatures.
 */
#ifndef CDR_CLIENT_WITNESS_CHECK_H
#define CDR_CLIENT_WITNESS_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "crypto/contract.h"
#include "crypto/witness_msg.h"

/* Timeouts for one witness exchange: a witness that is down must not hold
 * the command for the room's 10 minutes. */
#define CDR_WITNESS_CONNECT_TIMEOUT_S 10L
#define CDR_WITNESS_TIMEOUT_S 30L

enum cdr_witness_status {
  CDR_WITNESS_UNREACHABLE = 0, /* no usable answer: network, TLS, HTTP error, not JSON */
  CDR_WITNESS_REFUSED,         /* an answer this client refuses: wrong key, replayed, bad signature */
  CDR_WITNESS_HOLDS_NOTHING,   /* a valid answer: the witness holds no head of this room */
  CDR_WITNESS_OTHER_IDENTITY,  /* a valid answer, a head signed by another enclave identity */
  CDR_WITNESS_UNCHECKED,       /* a valid answer, a head before the entries read (--from, --since) */
  CDR_WITNESS_CONFIRMED,       /* a valid answer whose head is in the verified log */
  CDR_WITNESS_CONTRADICTS      /* a valid answer whose head is beyond the log or forks it */
};

struct cdr_witness_report {
  const char *url;                  /* the contract's (borrowed) */
  uint8_t key_sha256[32];           /* the contract's */
  enum cdr_witness_status status;
  int err;                          /* UNREACHABLE, REFUSED: the cdr_err */
  char why[400];                    /* UNREACHABLE, REFUSED, CONTRADICTS: one line, sanitised */
  struct cdr_witness_latest answer; /* what it answered (valid from HOLDS_NOTHING on) */
};

struct cdr_witness_round {
  size_t n;                         /* the contract's witnesses */
  unsigned f;
  size_t quorum;                    /* cdr_contract_witness_quorum */
  uint8_t nonce[CDR_NONCE_LEN];     /* fresh, one for the whole round */
  struct cdr_witness_report *w;     /* n entries */
  /* After judging: */
  size_t answered;                  /* valid answers, less OTHER_IDENTITY ones (the quorum counts these) */
  size_t confirmed;                 /* witnesses whose head the log has */
  uint64_t quorum_size;             /* entries [0, quorum_size) confirmed by at least a quorum */
};
void cdr_witness_round_free(struct cdr_witness_round *r);

/* Ask every witness of ct (the room's ACTIVE contract, checked by the
 * caller against the attestation) for its latest head of c's room, with
 * one fresh nonce, each over its own connection; tls_cacert (or NULL) is
 * the CA file witnesses' TLS certificates must chain to.  No witness's
 * failure is an error here: each report says what happened.  0, or
 * CDR_ERR_NOMEM / a randomness failure. */
int cdr_witness_round_ask(struct cdr_client *c, const struct cdr_contract *ct, const char *tls_cacert,
                          struct cdr_witness_round *out) CDR_WUR;

/* The sizes the log must be read at (one per witness with a head of the
 * attested identity); *n_out of them into sizes (room for r->n). */
void cdr_witness_round_sizes(const struct cdr_witness_round *r, const uint8_t *identity_spki, size_t identity_len,
                             uint64_t *sizes, size_t *n_out);

/* Judge the answers against the verified log: log_size entries, and
 * head_at(ctx, size, out) giving head(size) for a size the reader
 * recorded (1) or not (0: before the entries read).  Then:
 *   - a head of the attested identity beyond the log, or with another
 *     hash at a size the log has: CDR_ERR_HISTORY_ROLLBACK, with a detail
 *     in c naming the witness (URL, key) and both heads (one such head
 *     proves it: the enclave signed it);
 *   - fewer than a quorum of valid answers (a head of another identity
 *     is not one): CDR_ERR_WITNESS_UNAVAILABLE, with a detail saying how
 *     many answered of how many, and how many held another identity's;
 *   - else 0, with answered, confirmed and quorum_size set.
 * A room whose contract names no witnesses: 0 (nothing to judge). */
int cdr_witness_round_judge(struct cdr_client *c, struct cdr_witness_round *r, const uint8_t *identity_spki,
                            size_t identity_len, uint64_t log_size,
                            int (*head_at)(void *ctx, uint64_t size, uint8_t out[CDR_WITNESS_HASH_LEN]),
                            void *ctx) CDR_WUR;

#endif
