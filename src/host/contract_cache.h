/*
 * contract_cache.h - ROOM/contract.json, the host's untrusted display
 * copy of the contract the enclave reports (contract_cache.c).
 */
#ifndef CDR_HOST_CONTRACT_CACHE_H
#define CDR_HOST_CONTRACT_CACHE_H

struct ipc_contract_notice;

/* An enclave_contract_fn (enclave_link.h); ctx is the room folder path
 * (a const char *, alive as long as the link). */
void host_contract_cache_write(void *ctx, const struct ipc_contract_notice *m);

#endif
