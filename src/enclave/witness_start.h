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
};

/* The start check (LOAD_DONE).  0 whatever the verdict (it is kept, and
 * logged); a channel error is returned (fatal). */
int enclave_witness_start(struct enclave *e) CDR_WUR;

/* May the enclave serve?  0 yes; else the verdict's code with its
 * sentence in msg.  witness_unavailable asks the witnesses again first
 * (at most once a second).  Any lane may call it. */
int enclave_witness_serving(struct enclave *e, char *msg, size_t msglen);

void enclave_witness_free(struct enclave *e);

#endif
