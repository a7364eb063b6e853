/*
 * sandbox.h - the enclave's system-call allowlist (seccomp-bpf, through
 * libseccomp), entered once initialisation is done.
 *
 * After IPC_INIT the enclave computes on memory and talks to the host on
 * one descriptor; the filter keeps it that way even if a bug in the code
 * that parses the host's frames or the users' SQL is exploited: no socket
 * of its own, no exec, no ptrace or process_vm_*, no new executable
 * memory, and no file opened except through the attestation provider's
 * platform interface (snp/tdx: configfs-tsm; nitro: an ioctl on the
 * /dev/nsm descriptor opened at init; sim: nothing).  Anything outside the
 * list kills the whole process with SIGSYS (SCMP_ACT_KILL_PROCESS), which
 * cdrd reports as "enclave pid N killed by signal 31".
 *
 * There is no switch to turn it off: a test that wants to see it fire
 * installs it in a child process of its own (tests/unit/test_sandbox.c).
 */
#ifndef CDR_SANDBOX_H
#define CDR_SANDBOX_H

#include "common/err.h"

/* Enter the sandbox for attestation provider `provider` ("sim", "snp",
 * "tdx" or "nitro": the one IPC_INIT chose), with ipc_fd the channel to
 * the host.  First warms up what the libraries would otherwise open
 * lazily (jansson's hash seed and SQLite's PRNG read /dev/urandom, glibc
 * reads the local time zone; the OpenSSL DRBGs), then sets no_new_privs
 * and loads the filter on every thread.  Irreversible.  0, or a
 * negative cdr_err (logged) after which the caller must exit: running on
 * without the filter is not an option.  An unknown provider, or no
 * descriptor, is CDR_ERR_ARG (and nothing is changed). */
int sandbox_enter(const char *provider, int ipc_fd) CDR_WUR;
/* The same for a channel of nfds lanes on fds ipc_fd .. ipc_fd + nfds - 1
 * (lanes.h); the threads serving them must exist already. */
int sandbox_enter_lanes(const char *provider, int ipc_fd, unsigned nfds) CDR_WUR;

#endif
