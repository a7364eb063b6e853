/*
 * enclave_fixture.h - an in-process cdr-enclave for the harnesses that
 * drive it (fuzz_ipc_frames, fuzz_enclave_ops), set up as
 * src/enclave/main.c sets it up, with the fixture room (fuzzlib.h) and
 * the enclave's clock at FUZZ_NOW.
 *
 * Targets that use it are linked with -Wl,--wrap=fopen: the sim
 * attestation provider's read of /proc/self/exe gets a short fixed
 * "executable" instead, so that INIT costs a key generation rather than
 * hashing the fuzzer binary, and the measurement is the same in every
 * build.
 */
#ifndef CDR_FUZZ_ENCLAVE_FIXTURE_H
#define CDR_FUZZ_ENCLAVE_FIXTURE_H

#include <pthread.h>

#include "enclave/enclave.h"

/* Once per process, before any other enclave call: the wiping allocators
 * (with a 256 MiB SQLite heap), SIGPIPE ignored, the room folder. */
void fx_init(void);

/* A fresh enclave in state INIT; fx_enclave_free releases it with the
 * real enclave_free. */
struct enclave *fx_enclave_new(void);
void fx_enclave_free(struct enclave *e);

/* The start-up handshake cdrd performs (INIT with the fixture room and no
 * sealed identity, an empty LOAD, LOAD_DONE), then two sessions with
 * fixed ids and keys (FUZZ_BYTE_PROVIDER_SESSION, _ANALYST_SESSION), and
 * an active contract version 1 whose members are the four fuzz_who users
 * with their roles (before one, a room serves contract operations only). */
void fx_enclave_ready(struct enclave *e);

/* A host that answers every IPC_STORE the enclave sends on e->ipc_fd
 * with IPC_STORED ok, on a thread of its own, until fx_storage_stop. */
struct fx_storage {
  int fd;
  pthread_t thread;
};
void fx_storage_start(struct enclave *e, struct fx_storage *s);
void fx_storage_stop(struct enclave *e, struct fx_storage *s);

#endif
