/*
 * harden.c - see harden.h.
 *
 * PR_SET_DUMPABLE 0 also makes /proc/PID/mem readable only by a process
 * with CAP_SYS_PTRACE: the host process, running as the same user, can
 * no longer read the enclave's memory.  In a real TEE the hardware
 * enforces this; here it is the kernel's word.
 *
 * Memory locking: mlockall(MCL_FUTURE) under a finite RLIMIT_MEMLOCK
 * makes every later allocation past the limit fail, which would turn a
 * large upload into an enclave exit.  So all future memory is locked
 * only when the limit is unlimited (root, CAP_IPC_LOCK, or a raised
 * limit); otherwise only the keys are locked (OpenSSL's secure heap,
 * mlock'd and MADV_DONTDUMP) and a warning says that plaintext data may
 * reach swap.
 */
#include "harden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "common/log.h"
#include "crypto/crypto.h"

#define SECURE_HEAP_BYTES (8u * 1024u * 1024u)

#define CAP_IPC_LOCK_BIT 14

/* Does this process hold CAP_IPC_LOCK (which lifts RLIMIT_MEMLOCK)? */
static int has_ipc_lock(void) {
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  int yes = 0;
  if (f == NULL)
    return 0;
  while (fgets(line, sizeof(line), f) != NULL) {
    if (strncmp(line, "CapEff:", 7) == 0) {
      unsigned long long caps = strtoull(line + 7, NULL, 16);
      yes = (caps >> CAP_IPC_LOCK_BIT) & 1;
      break;
    }
  }
  fclose(f);
  return yes;
}

int harden_process(void) {
  struct rlimit no_core = {0, 0}, memlock;
  if (setrlimit(RLIMIT_CORE, &no_core) != 0)
    return -1;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return -1;
  /* First the secure heap, so that its pages are locked in any case. */
  (void)cdr_crypto_init_secure_heap(SECURE_HEAP_BYTES);
  if (has_ipc_lock() || (getrlimit(RLIMIT_MEMLOCK, &memlock) == 0 && memlock.rlim_cur == RLIM_INFINITY)) {
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
      log_warn("mlockall failed: plaintext data may be swapped; keys stay in the locked secure heap");
  } else {
    log_warn("RLIMIT_MEMLOCK is finite: only keys are locked in memory; plaintext data may be swapped "
             "(run with an unlimited memlock limit or CAP_IPC_LOCK to lock everything)");
  }
  return 0;
}
