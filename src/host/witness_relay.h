/*
 * witness_relay.h - cdrd's relay between the enclave and the room's
 * history witnesses (docs/ARCHITECTURE.md "Witnesses", PROTOCOL 9).
 *
 * cdrd holds no witness key and believes nothing it relays: it sends the
 * enclave's request body to every witness at once (libcurl multi) and
 * hands each raw answer back (IPC_WITNESS_ANSWERS); the enclave verifies
 * them.  A witness that is down, slow, answers more than
 * IPC_WITNESS_ANSWER_MAX bytes, or fails TLS is "no answer" (status 0):
 * it costs at most the round's bounded time, never the other answers.
 */
#ifndef CDR_HOST_WITNESS_RELAY_H
#define CDR_HOST_WITNESS_RELAY_H

#include "common/buf.h"
#include "ipc/messages.h"

/* Connect within this, and the whole round within that. */
#define WITNESS_RELAY_CONNECT_MS 2000L
#define WITNESS_RELAY_ROUND_MS 5000L

/* Run the round m: answers[i] for m->url[i], its body in bodies[i]
 * (cdr_buf_init'd by the caller with max IPC_WITNESS_ANSWER_MAX; the
 * answers point into them).  TLS trusts CURL_CA_BUNDLE, else
 * SSL_CERT_FILE, else the system store; host names are checked.
 * 0, or CDR_ERR_NOMEM (no witness was asked). */
int witness_relay_round(const struct ipc_witness_round *m, struct ipc_witness_answer *answers,
                        struct cdr_buf *bodies) CDR_WUR;

#endif
