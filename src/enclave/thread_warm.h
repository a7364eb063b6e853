/*
 * thread_warm.h - what every thread of the enclave does first (lanes.c
 * creates them before the seccomp filter goes on): allocate once, so
 * that whatever the C library sets up for a thread at its first
 * allocation happens before the filter, and count itself, so that the
 * creator can wait for all of them.
 */
#ifndef CDR_THREAD_WARM_H
#define CDR_THREAD_WARM_H

/* A new thread's first call. */
void enclave_thread_warm(void);
/* Wait until n threads have called enclave_thread_warm. */
void thread_warm_wait(unsigned n);

#endif
