/*
 * witness_start.h - the enclave's witness check at start and the
 * refusal that follows from it (docs/ARCHITECTURE.md "Witnesses").
 *
 * At LOAD_DONE, after the audit log is re-read and before anything is
 * served: if the active contract names witnesses, the enclave asks them
 * (through the host, IPC_WITNESS) for their keys and then for the latest
 * head each holds, with a fresh nonce, and runs witness_gate_start_check.
 * Until that check passes the enclave serves nothing: every session
 * open and request is answered with the verdict (history_rollback,
 * naming the witness and both heads, final for this start; or
 * witness_unavailable, retried at most once a second, by the next
 * caller, until a quorum answers).  A room without witnesses is not
 * touched.
 */
#ifndef CDR_ENCLAVE_WITNESS_START_H
#define CDR_ENCLAVE_WITNESS_START_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "witness_gate.h"

struct enclave;

struct witness_state {
  pthread_mutex_t lock;  /* zero-initialised (glibc's initialiser) */
  struct witness_gate gate;
  int verdict;           /* 0 serving, CDR_ERR_HISTORY_ROLLBACK, CDR_ERR_WITNESS_UNAVAILABLE */
  char message[768];     /* the verdict's sentence */
  int64_t retry_after;   /* witness_unavailable: not asked again before this second */
  _Atomic int active;    /* witnesses named and the start check passed: every answer waits for a round */
  _Atomic int serving;   /* verdict is 0 (lets callers skip the lock) */
  json_t *join;          /* the join (PROTOCOL 9.3), built at start; read-only after */
  int joined;            /* the audit writer's: the witnesses know this identity (no join needed) */
};

/* How long an answer waits for a quorum's countersignature before it is
 * replaced by witness_unavailable (its entries stay in the log and are
 * countersigned by a later round). */
#define WITNESS_WAIT_MS 4000

/* Build ws->join from the active contract chain, fresh attestation
 * evidence and the CA (the start, on the control lane). */
int witness_join_build(struct enclave *e) CDR_WUR;

/* One countersign round for head h on this thread's lane (the audit
 * writer's): *confirmed distinct witnesses of the contract countersigned
 * it verifiably.  A witness that does not know the room or this
 * identity makes the next round carry the join.  0, or a channel error
 * (fatal). */
int witness_countersign_round(struct enclave *e, const struct cdr_witness_head *h, size_t *confirmed) CDR_WUR;

/* The audit writer (audit.c), under the log's lock: is a countersign
 * round due (durable entries not yet witnessed)?  witness_step runs one
 * (releasing the lock meanwhile) and moves audit.witnessed on a quorum,
 * or pauses half a second when none; non-zero only on a channel error
 * (fatal). */
int witness_due(struct enclave *e);
int witness_step(struct enclave *e) CDR_WUR;

/* Before an answer leaves (dispatch.c): wait, at most WITNESS_WAIT_MS,
 * until every entry logged so far is countersigned by a quorum.  0, or
 * CDR_ERR_WITNESS_UNAVAILABLE (the answer is withheld).  0 at once in a
 * room without witnesses. */
int witness_answer_wait(struct enclave *e);

/* The start check (LOAD_DONE).  0 whatever the verdict (it is kept, and
 * logged); a channel error is returned (fatal). */
int enclave_witness_start(struct enclave *e) CDR_WUR;

/* May the enclave serve?  0 yes; else the verdict's code with its
 * sentence in msg.  witness_unavailable asks the witnesses again first
 * (at most once a second).  Any lane may call it. */
int enclave_witness_serving(struct enclave *e, char *msg, size_t msglen);

void enclave_witness_free(struct enclave *e);

#endif
