/*
 * thread_warm.c - a new thread's first allocation, made before the
 * seccomp filter goes on; see thread_warm.h.
 */
#include "thread_warm.h"

#include <pthread.h>
#include <stdlib.h>

/* Threads that have made their first allocation.  glibc sets up a
 * thread's allocator state (its cache, its arena) at its first
 * allocation, and may ask the kernel things then that the seccomp
 * filter forbids: so every thread allocates once before
 * enclave_lanes_start returns, and so before the filter goes on. */
static pthread_mutex_t warm_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t warm_cond = PTHREAD_COND_INITIALIZER;
static unsigned warm_threads;

void enclave_thread_warm(void) {
  void *p = malloc(64);
  free(p);
  pthread_mutex_lock(&warm_lock);
  warm_threads++;
  pthread_cond_broadcast(&warm_cond);
  pthread_mutex_unlock(&warm_lock);
}

void thread_warm_wait(unsigned n) {
  pthread_mutex_lock(&warm_lock);
  while (warm_threads < n)
    pthread_cond_wait(&warm_cond, &warm_lock);
  pthread_mutex_unlock(&warm_lock);
}

