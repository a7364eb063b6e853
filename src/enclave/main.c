/*
 * main.c - cdr-enclave, the trusted process.
 *
 *   cdr-enclave --room ROOM --ipc-fd FD
 *
 * Started by cdrd on one end of a socketpair.  Hardens itself, then
 * serves frames: read one, dispatch it (dispatch.c), write the reply.
 * It exits 0 when the host closes the socket, and 1 on any protocol
 * violation.  It never talks to the network and opens no file after
 * IPC_INIT.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "harden.h"
#include "persist.h"
#include "wipe_alloc.h"
#include "ipc/ipc.h"

static void usage(FILE *f) {
  fprintf(f, "usage: cdr-enclave --room ROOM --ipc-fd FD\n"
             "\n"
             "The trusted half of a CDR data room.  It is started by cdrd (see\n"
             "`cdr serve`) and speaks only the framed protocol of src/ipc/ipc.h on\n"
             "file descriptor FD.  It is not meant to be run by hand.\n");
}

void enclave_free(struct enclave *e) {
  session_table_clear(&e->sessions);
  persist_free(e->persist);
  engine_close(e->engine);
  if (e->attest && e->attest->fini)
    e->attest->fini(e->attest);
  EVP_PKEY_free(e->identity_key);
  OPENSSL_secure_clear_free(e->sealer, sizeof(*e->sealer));
  OPENSSL_free(e->identity_spki);
  X509_free(e->ca_cert);
}

int main(int argc, char **argv) {
  static struct enclave enclave; /* large (session table): not on the stack */
  static const struct option opts[] = {
      {"room", required_argument, NULL, 'r'}, {"ipc-fd", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  const char *room = NULL;
  long fd = -1;
  int c;
  cdr_log_init("cdr-enclave", CDR_LOG_INFO);
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'r': room = optarg; break;
    case 'f': {
      char *end;
      fd = strtol(optarg, &end, 10);
      if (*end != '\0' || fd < 0 || fd > INT_MAX)
        fd = -1;
      break;
    }
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (room == NULL || fd < 0) {
    usage(stderr);
    return 2;
  }
  if (wipe_alloc_install(CDR_SQL_HEAP_LIMIT) != 0) {
    log_error("cannot install the wiping allocators; refusing to run");
    return 1;
  }
  if (harden_process() != 0) {
    log_error("cannot harden the process; refusing to run");
    return 1;
  }
  /* The host's death must not kill us mid-write with SIGPIPE; we see EOF/EPIPE. */
  signal(SIGPIPE, SIG_IGN);

  struct enclave *e = &enclave;
  e->state = ENCLAVE_STATE_INIT;
  e->room_dir = room;
  e->ipc_fd = (int)fd;
  e->now = cdr_now;

  struct cdr_buf in, out;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  int status = 0;
  for (;;) {
    uint32_t type, reply_type = 0;
    int r = ipc_frame_read((int)fd, &type, &in, CDR_IPC_MAX_FRAME);
    if (r == CDR_ERR_IO) {
      log_info("host closed the channel; exiting");
      break;
    }
    if (r != 0) {
      log_error("protocol violation: bad frame from host (%s)", cdr_err_code(r));
      status = 1;
      break;
    }
    cdr_buf_free(&out);
    if (enclave_dispatch(e, type, &in, &reply_type, &out) != 0 || e->fatal) {
      status = 1;
      break;
    }
    cdr_buf_free(&in); /* wipe the request before answering */
    if (ipc_frame_write((int)fd, reply_type, &out) != 0) {
      log_info("host went away; exiting");
      break;
    }
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  enclave_free(e);
  return status;
}
