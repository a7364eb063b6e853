/*
 * lanes.h - the enclave's work lanes and their threads (docs/ARCHITECTURE.md,
 * "Concurrency").
 *
 * With --workers W the channel is W + 2 lanes on consecutive fds: the
 * control lane (served by main.c's loop), the audit lane (audit.c's
 * group-commit writer) and W work lanes, each served by a thread of its
 * own that reads a frame, dispatches it as a work-lane frame and writes
 * the reply.  The threads are created before IPC_INIT, so the seccomp
 * filter (installed with TSYNC on all of them) never allows clone.
 * A protocol violation or a fatal error on any lane ends the process.
 */
#ifndef CDR_LANES_H
#define CDR_LANES_H

#include "common/err.h"
#include "enclave.h"

/* The most workers (work lanes) an enclave runs. */
#define ENCLAVE_MAX_WORKERS 16

/* Start the audit writer on fd first_fd + 1 and one thread per work lane
 * on first_fd + 2 ... first_fd + 1 + workers.  0 or an error. */
int enclave_lanes_start(struct enclave *e, int first_fd, unsigned workers) CDR_WUR;
/* Wait for the work lanes' threads (they end when the host closes their
 * lanes), then stop the audit writer.  Before enclave_free. */
void enclave_lanes_stop(struct enclave *e);

#endif
