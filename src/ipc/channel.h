/*
 * channel.h - the host<->enclave channel when it is a connection rather
 * than a socketpair: for AWS Nitro Enclaves a vsock connection (the
 * enclave listens inside the Nitro enclave, cdrd connects from the parent
 * instance), and an AF_UNIX stand-in with the same code path (for
 * machines without a vsock transport, and for the tests).
 *
 * The channel carries the same frames as the socketpair (ipc.h); nothing
 * on it is trusted more for being a socket of one kind or another: the
 * host is untrusted either way, and clients believe only attestation.
 * The enclave accepts exactly one connection and then closes its
 * listening socket, so a second "host" cannot connect later.
 */
#ifndef CDR_IPC_CHANNEL_H
#define CDR_IPC_CHANNEL_H

#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"

/* A socket address of either kind. */
struct ipc_channel_addr {
  struct sockaddr_storage ss;
  socklen_t len;
  char text[128]; /* "vsock:CID:PORT" or "unix:PATH", for logs */
};

/* "CID:PORT" (decimal, each a u32; CID 0xFFFFFFFF is VMADDR_CID_ANY)
 * into a vsock address.  CDR_ERR_ARG if it is not that. */
int ipc_channel_vsock(struct ipc_channel_addr *a, const char *cid_port) CDR_WUR;
/* "PORT" on every local CID (VMADDR_CID_ANY): what the enclave listens on. */
int ipc_channel_vsock_any(struct ipc_channel_addr *a, const char *port) CDR_WUR;
/* The same from numbers. */
void ipc_channel_vsock_num(struct ipc_channel_addr *a, uint32_t cid, uint32_t port);
/* A filesystem AF_UNIX address; CDR_ERR_ARG if path is empty or too long. */
int ipc_channel_unix(struct ipc_channel_addr *a, const char *path) CDR_WUR;

/* Enclave side: listen on a, accept one connection (waiting as long as
 * it takes), close the listener, and return the connection in *fd
 * (close-on-exec).  For AF_UNIX a stale socket at the path is replaced,
 * and the path is removed once the host is connected.  CDR_ERR_IO on
 * failure (logged). */
int ipc_channel_accept_one(const struct ipc_channel_addr *a, int *fd) CDR_WUR;

/* Host side: connect to a, retrying every 200 ms for up to timeout_s
 * seconds while the enclave is not listening yet (it may still be
 * booting).  *fd is the connection (close-on-exec).  CDR_ERR_IO when
 * the time is up (logged with the last error). */
int ipc_channel_connect(const struct ipc_channel_addr *a, int timeout_s, int *fd) CDR_WUR;

#endif
