/*
 * channel.c - vsock and AF_UNIX channels between cdrd and cdr-enclave
 * (channel.h).  Both kinds go through the same two functions; only the
 * address differs, so a test of the AF_UNIX path exercises everything but
 * the address family.
 */
#include "channel.h"

#include <errno.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define CHANNEL_RETRY_MS 200

static int parse_u32(const char *s, size_t n, uint32_t *out) {
  uint64_t v = 0;
  if (n == 0 || n > 10)
    return CDR_ERR_ARG;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return CDR_ERR_ARG;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > UINT32_MAX)
    return CDR_ERR_ARG;
  *out = (uint32_t)v;
  return 0;
}

void ipc_channel_vsock_num(struct ipc_channel_addr *a, uint32_t cid, uint32_t port) {
  struct sockaddr_vm *vm = (struct sockaddr_vm *)&a->ss;
  memset(a, 0, sizeof(*a));
  vm->svm_family = AF_VSOCK;
  vm->svm_cid = cid;
  vm->svm_port = port;
  a->len = sizeof(*vm);
  snprintf(a->text, sizeof(a->text), "vsock:%lu:%lu", (unsigned long)cid, (unsigned long)port);
}

int ipc_channel_vsock(struct ipc_channel_addr *a, const char *cid_port) {
  const char *colon = cid_port ? strchr(cid_port, ':') : NULL;
  uint32_t cid, port;
  if (colon == NULL || parse_u32(cid_port, (size_t)(colon - cid_port), &cid) != 0 ||
      parse_u32(colon + 1, strlen(colon + 1), &port) != 0)
    return CDR_ERR_ARG;
  ipc_channel_vsock_num(a, cid, port);
  return 0;
}

int ipc_channel_vsock_any(struct ipc_channel_addr *a, const char *port) {
  uint32_t p;
  if (port == NULL || parse_u32(port, strlen(port), &p) != 0)
    return CDR_ERR_ARG;
  ipc_channel_vsock_num(a, VMADDR_CID_ANY, p);
  return 0;
}

int ipc_channel_unix(struct ipc_channel_addr *a, const char *path) {
  struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
  size_t n = path ? strlen(path) : 0;
  memset(a, 0, sizeof(*a));
  if (n == 0 || n >= sizeof(un->sun_path))
    return CDR_ERR_ARG;
  un->sun_family = AF_UNIX;
  memcpy(un->sun_path, path, n + 1);
  a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  snprintf(a->text, sizeof(a->text), "unix:%s", path);
  return 0;
}

int ipc_channel_accept_one(const struct ipc_channel_addr *a, int *fd) {
  const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
  int lfd, cfd = -1, r = CDR_ERR_IO;
  *fd = -1;
  if ((lfd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
    log_error("channel %s: cannot make a socket: %s", a->text, strerror(errno));
    return CDR_ERR_IO;
  }
  if (a->ss.ss_family == AF_UNIX) {
    struct stat st;
    if (lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
      (void)unlink(un->sun_path); /* a stale socket from an earlier run */
  }
  if (bind(lfd, (const struct sockaddr *)&a->ss, a->len) != 0 || listen(lfd, 1) != 0) {
    log_error("channel %s: cannot listen: %s", a->text, strerror(errno));
    goto out;
  }
  log_info("waiting for the host on %s", a->text);
  do
    cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
  while (cfd < 0 && errno == EINTR);
  if (cfd < 0) {
    log_error("channel %s: accept: %s", a->text, strerror(errno));
    goto out;
  }
  log_info("the host connected on %s", a->text);
  *fd = cfd;
  r = 0;
out:
  (void)close(lfd);
  if (a->ss.ss_family == AF_UNIX)
    (void)unlink(un->sun_path);
  return r;
}

int ipc_channel_connect(const struct ipc_channel_addr *a, int timeout_s, int *fd) {
  struct timespec start, now;
  int err = 0;
  *fd = -1;
  (void)clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int s = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      log_error("channel %s: cannot make a socket: %s", a->text, strerror(errno));
      return CDR_ERR_IO;
    }
    if (connect(s, (const struct sockaddr *)&a->ss, a->len) == 0) {
      *fd = s;
      return 0;
    }
    err = errno;
    (void)close(s);
    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= timeout_s)
      break;
    (void)poll(NULL, 0, CHANNEL_RETRY_MS);
  }
  log_error("channel %s: cannot connect within %d s: %s", a->text, timeout_s, strerror(err));
  return CDR_ERR_IO;
}
