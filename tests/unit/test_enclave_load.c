/*
 * test_enclave_load.c - the enclave's start-up handshake against a host
 * that misbehaves during IPC_LOAD_DONE, when the enclave reads its audit
 * log back through IPC_FETCH (enclave_load.c, store_client.c).
 *
 * A malformed IPC_FETCHED is a protocol violation: the enclave must stop
 * (enclave_dispatch fails, main.c exits), not answer IPC_LOAD_ACK as if
 * the log were damaged.  The old code did the latter, and sent the host
 * a message read from an uninitialised stack buffer.  And a table chunk
 * out of place (before LOAD_DONE, or not asked for) stops it too.  Runs
 * the enclave in process (tests/fuzz/enclave_fixture.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/limits.h"
#include "enclave_fixture.h"
#include "fuzzlib.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "testlib.h"

/* What the fake host answers to every IPC_FETCH. */
enum fetched_fault { FOUND_IS_TWO, SHORT_LENGTH, NOT_FOUND_WITH_BYTES };

struct fake_host {
  int fd;
  enum fetched_fault fault;
  int fetches;
};

static void *fake_host_run(void *arg) {
  struct fake_host *h = arg;
  struct cdr_buf in, out;
  uint32_t type;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, 64, 0);
  while (ipc_frame_read(h->fd, &type, &in, CDR_IPC_MAX_FRAME) == 0) {
    if (type != IPC_FETCH)
      continue; /* NOWAIT storage frames: nothing to answer */
    h->fetches++;
    cdr_buf_free(&out);
    int r = 0;
    switch (h->fault) {
    case FOUND_IS_TWO: /* found must be 0 or 1 */
      r = cdr_buf_put_u8(&out, 2) || cdr_buf_put_u32(&out, 0);
      break;
    case SHORT_LENGTH: /* lp announces 10 bytes, 1 follows */
      r = cdr_buf_put_u8(&out, 1) || cdr_buf_put_u32(&out, 10) || cdr_buf_put_u8(&out, 0);
      break;
    case NOT_FOUND_WITH_BYTES: /* found 0 carries no bytes */
      r = cdr_buf_put_u8(&out, 0) || cdr_buf_put_lp(&out, "abc", 3);
      break;
    }
    if (r != 0 || ipc_frame_write(h->fd, IPC_FETCHED, &out) != 0)
      break;
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return NULL;
}

static void load_done_with(enum fetched_fault fault, const char *what) {
  struct enclave *e = fx_enclave_new();
  const struct fuzz_pki *k = fuzz_pki();
  struct cdr_buf in, out;
  struct ipc_init init;
  struct fake_host h = {.fault = fault};
  pthread_t t;
  uint32_t rt = 0;
  int sv[2];

  memset(&init, 0, sizeof(init));
  memcpy(init.room_id, k->room_id, sizeof(init.room_id));
  init.ca_der = k->ca_der;
  init.ca_len = k->ca_der_len;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_init(&in, &init), 0);
  CHECK_RC(enclave_dispatch(e, IPC_INIT, &in, &rt, &out), 0);
  CHECK(rt == IPC_INIT_OK);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  CHECK_RC(ipc_put_load(&in, NULL, 0), 0);
  CHECK_RC(enclave_dispatch(e, IPC_LOAD, &in, &rt, &out), 0);
  CHECK(rt == IPC_LOAD_WANT);
  cdr_buf_free(&in);
  cdr_buf_free(&out);

  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  e->ipc_fd = sv[0];
  h.fd = sv[1];
  CHECK(pthread_create(&t, NULL, fake_host_run, &h) == 0);
  rt = 0;
  int r = enclave_dispatch(e, IPC_LOAD_DONE, &in, &rt, &out);
  if (r == 0) {
    fprintf(stderr, "%s: LOAD_DONE was answered (%s, %zu bytes) instead of stopping the enclave\n", what,
            ipc_msg_name(rt), out.len);
  }
  CHECK(r != 0);                      /* fatal: main.c exits */
  CHECK(e->state != ENCLAVE_STATE_READY);
  close(sv[0]);
  pthread_join(t, NULL);
  close(sv[1]);
  CHECK(h.fetches == 1);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  e->ipc_fd = -1;
  fx_enclave_free(e);
}

/* A table chunk is legal only after LOAD_DONE (the tables load while the
 * room serves) and only for a table LOAD asked for: before LOAD_DONE (the
 * old order) or for a table no manifest named, it is a protocol
 * violation, and the enclave stops. */
static void chunk_out_of_place(void) {
  struct enclave *e = fx_enclave_new();
  const struct fuzz_pki *k = fuzz_pki();
  struct ipc_load_chunk c = {.id = "0123456789abcdef0123456789abcdef", .offset = 0, .len = 0, .last = 1};
  struct cdr_buf in, out;
  struct ipc_init init;
  struct fx_storage st;
  uint32_t rt = 0;

  memset(&init, 0, sizeof(init));
  memcpy(init.room_id, k->room_id, sizeof(init.room_id));
  init.ca_der = k->ca_der;
  init.ca_len = k->ca_der_len;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_init(&in, &init), 0);
  CHECK_RC(enclave_dispatch(e, IPC_INIT, &in, &rt, &out), 0);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  CHECK_RC(ipc_put_load(&in, NULL, 0), 0);
  CHECK_RC(enclave_dispatch(e, IPC_LOAD, &in, &rt, &out), 0);
  CHECK(rt == IPC_LOAD_WANT);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  CHECK_RC(ipc_put_load_chunk(&in, &c), 0);
  CHECK(enclave_dispatch(e, IPC_LOAD_CHUNK, &in, &rt, &out) != 0); /* before LOAD_DONE */
  CHECK(e->state == ENCLAVE_STATE_LOADING);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  fx_storage_start(e, &st);
  CHECK_RC(ipc_put_load_done(&in), 0);
  CHECK_RC(enclave_dispatch(e, IPC_LOAD_DONE, &in, &rt, &out), 0);
  fx_storage_stop(e, &st);
  CHECK(rt == IPC_LOAD_ACK && e->state == ENCLAVE_STATE_READY);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  CHECK_RC(ipc_put_load_chunk(&in, &c), 0);
  CHECK(enclave_dispatch(e, IPC_LOAD_CHUNK, &in, &rt, &out) != 0); /* not asked for */
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  fx_enclave_free(e);
}

int main(void) {
  fx_init();
  chunk_out_of_place();
  load_done_with(FOUND_IS_TWO, "found = 2");
  load_done_with(SHORT_LENGTH, "a length past the frame");
  load_done_with(NOT_FOUND_WITH_BYTES, "not found, with bytes");
  return test_summary("enclave_load");
}
