/*
 * harden.h - keep the enclave's secrets out of swap, core dumps and
 * other processes' reach.
 */
#ifndef CDR_HARDEN_H
#define CDR_HARDEN_H

/* No core dumps (RLIMIT_CORE 0), not dumpable or ptrace-attachable by
 * unprivileged peers (PR_SET_DUMPABLE 0), all memory locked
 * (mlockall; a warning if the limit refuses it), OpenSSL's secure heap
 * for key material.  Returns 0, or -1 if a must-have step failed. */
int harden_process(void);

#endif
