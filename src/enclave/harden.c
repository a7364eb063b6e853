/*
 * harden.c - see harden.h.
 *
 * PR_SET_DUMPABLE 0 also makes /proc/PID/mem readable only by a process
 * with CAP_SYS_PTRACE: the host process, running as the same user, can
 * no longer read the enclave's memory.  In a real TEE the hardware
 * enforces this; here it is the kernel's word.
 */
#include "harden.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "common/log.h"
#include "crypto/crypto.h"

#define SECURE_HEAP_BYTES (8u * 1024u * 1024u)

int harden_process(void) {
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0)
    return -1;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    return -1;
  if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
    log_warn("mlockall refused (raise RLIMIT_MEMLOCK or grant CAP_IPC_LOCK): "
             "plaintext data may be swapped; keys stay in the locked secure heap");
  (void)cdr_crypto_init_secure_heap(SECURE_HEAP_BYTES);
  return 0;
}
