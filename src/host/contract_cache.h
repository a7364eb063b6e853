/*
 * contract_cache.h - ROOM/contract.json, the host's untrusted display
 * copy of the contract the enclave reports (contract_cache.c).
 */
#ifndef CDR_HOST_CONTRACT_CACHE_H
#define CDR_HOST_CONTRACT_CACHE_H

#include <stddef.h>

struct ipc_contract_notice;

/* What the cache is written with: the room folder, and the platform and
 * measurement the enclave reported at IPC_INIT (copied into the file as
 * "enclave", for `cdr room propose`).  Alive as long as the link. */
struct host_contract_cache {
  const char *room_dir;
  char platform[32 + 1];        /* IPC_PLATFORM_MAX + 1 */
  char measurement[2 * 48 + 1]; /* lower-case hex */
};

/* An enclave_contract_fn (enclave_link.h); ctx is a struct
 * host_contract_cache. */
void host_contract_cache_write(void *ctx, const struct ipc_contract_notice *m);

#endif
