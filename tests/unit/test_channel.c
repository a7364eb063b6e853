/*
 * test_channel.c - the connected host<->enclave channel (src/ipc/channel.c)
 * and the link that uses it (enclave_link_start_ex with connect).
 *
 * For AWS Nitro Enclaves the channel is vsock: the enclave listens inside
 * the enclave VM, cdrd connects from the parent instance.  This machine
 * can create vsock sockets but has no vsock transport to itself (a
 * connection to the local CID never completes), so no vsock connection is
 * made here.  The code path is tested with its AF_UNIX stand-in: the same
 * ipc_channel_accept_one and ipc_channel_connect, with another address
 * family.  A child process plays the enclave: it accepts one connection,
 * answers IPC_INIT with a 48-byte measurement (as the hardware providers
 * do), then hangs up, which the link must notice between exchanges.
 * For vsock itself, only the address handling and a clean failure to
 * connect are tested.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "ipc/channel.h"
#include "host/enclave_link.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "testlib.h"

static const uint8_t ROOM_ID[CDR_ROOM_ID_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t CA[] = "not really a certificate";

/* The child: accept one host on a, answer INIT with a measurement of
 * meas_len bytes of 0xCD and platform "snp", wait a moment, hang up. */
static void fake_enclave(const struct ipc_channel_addr *a, size_t meas_len) {
  struct cdr_buf in, out;
  uint8_t meas[80];
  uint32_t type;
  int fd;
  if (ipc_channel_accept_one(a, &fd) != 0)
    _exit(3);
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, 4096, 0);
  if (ipc_frame_read(fd, &type, &in, CDR_IPC_MAX_FRAME) != 0 || type != IPC_INIT)
    _exit(4);
  memset(meas, 0xcd, sizeof(meas));
  /* The encoder writes what it is given: a measurement over the cap too. */
  struct ipc_init_ok ok = {.identity_spki = (const uint8_t *)"SPKI", .identity_spki_len = 4, .measurement = meas,
                           .measurement_len = meas_len, .platform = "snp"};
  if (ipc_put_init_ok(&out, &ok) != 0 || ipc_frame_write(fd, IPC_INIT_OK, &out) != 0)
    _exit(5);
  usleep(400 * 1000);
  close(fd);
  _exit(0);
}

static pid_t spawn_fake(const struct ipc_channel_addr *a, size_t meas_len) {
  pid_t pid = fork();
  if (pid == 0)
    fake_enclave(a, meas_len);
  return pid;
}

static int child_status(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_addresses(void) {
  struct ipc_channel_addr a;
  char longpath[200];
  CHECK_RC(ipc_channel_vsock(&a, "3:5000"), 0);
  CHECK(a.ss.ss_family == AF_VSOCK);
  CHECK_STR(a.text, "vsock:3:5000");
  CHECK_RC(ipc_channel_vsock(&a, "4294967295:1"), 0);
  CHECK_RC(ipc_channel_vsock(&a, "4294967296:1"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock(&a, "3"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock(&a, ":5000"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock(&a, "3:"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock(&a, "3:50x0"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock(&a, "-3:5000"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock(&a, NULL), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock_any(&a, "5000"), 0);
  CHECK_STR(a.text, "vsock:4294967295:5000");
  CHECK_RC(ipc_channel_vsock_any(&a, "1:5000"), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_vsock_any(&a, ""), CDR_ERR_ARG);
  CHECK_RC(ipc_channel_unix(&a, "/tmp/x.sock"), 0);
  CHECK(a.ss.ss_family == AF_UNIX);
  CHECK_STR(a.text, "unix:/tmp/x.sock");
  CHECK_RC(ipc_channel_unix(&a, ""), CDR_ERR_ARG);
  memset(longpath, 'a', sizeof(longpath) - 1);
  longpath[sizeof(longpath) - 1] = '\0';
  CHECK_RC(ipc_channel_unix(&a, longpath), CDR_ERR_ARG);
}

static void test_connect_fails_cleanly(const char *dir) {
  struct ipc_channel_addr a;
  char path[256];
  time_t t0 = time(NULL);
  int fd = 123;
  snprintf(path, sizeof(path), "%s/nobody.sock", dir);
  CHECK_RC(ipc_channel_unix(&a, path), 0);
  CHECK_RC(ipc_channel_connect(&a, 1, &fd), CDR_ERR_IO);
  CHECK(fd == -1 && time(NULL) - t0 <= 3);
  /* vsock: whatever this machine has, nobody listens on this port. */
  int s = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (s >= 0) {
    close(s);
    ipc_channel_vsock_num(&a, 1, 49151);
    CHECK_RC(ipc_channel_connect(&a, 1, &fd), CDR_ERR_IO);
  } else {
    printf("note: AF_VSOCK sockets cannot be made here (%s)\n", strerror(errno));
  }
}

static void test_link_over_unix(const char *dir) {
  struct ipc_channel_addr a;
  struct enclave_link_opts o;
  struct enclave_link *l = NULL;
  const struct enclave_identity *id;
  char path[256];
  pid_t pid;

  snprintf(path, sizeof(path), "%s/enclave.sock", dir);
  CHECK_RC(ipc_channel_unix(&a, path), 0);
  memset(&o, 0, sizeof(o));
  o.connect = &a;

  pid = spawn_fake(&a, 48);
  CHECK(pid > 0);
  CHECK_RC(enclave_link_start_ex(&l, &o, ROOM_ID, CA, sizeof(CA), NULL, 0), 0);
  if (l != NULL) {
    id = enclave_link_identity(l);
    CHECK(id->measurement_len == 48 && id->measurement[0] == 0xcd && id->measurement[47] == 0xcd);
    CHECK_STR(id->platform, "snp");
    CHECK(enclave_link_pid(l) == -1);
    CHECK(enclave_link_alive(l) == 1);
    /* The enclave hangs up: the link notices without an exchange. */
    for (int i = 0; i < 50 && enclave_link_alive(l); i++)
      usleep(50 * 1000);
    CHECK(enclave_link_alive(l) == 0);
    enclave_link_stop(l);
  }
  CHECK(child_status(pid) == 0);
  CHECK(access(path, F_OK) != 0); /* the enclave removed its socket once connected */

  /* A measurement longer than any platform's is a malformed INIT_OK. */
  pid = spawn_fake(&a, CDR_MEASUREMENT_MAX + 1);
  l = NULL;
  CHECK_RC(enclave_link_start_ex(&l, &o, ROOM_ID, CA, sizeof(CA), NULL, 0), CDR_ERR_INTERNAL);
  CHECK(l == NULL);
  CHECK(child_status(pid) == 0);

  /* A spawning link still needs its program and room. */
  memset(&o, 0, sizeof(o));
  CHECK_RC(enclave_link_start_ex(&l, &o, ROOM_ID, CA, sizeof(CA), NULL, 0), CDR_ERR_ARG);
}

int main(void) {
  char dir[] = "/tmp/cdr-chan.XXXXXX";
  signal(SIGPIPE, SIG_IGN);
  if (mkdtemp(dir) == NULL)
    return 1;
  test_addresses();
  test_connect_fails_cleanly(dir);
  test_link_over_unix(dir);
  if (rmdir(dir) != 0)
    fprintf(stderr, "note: %s not empty\n", dir);
  return test_summary("test_channel");
}
