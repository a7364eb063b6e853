/*
 * lanes.c - the work lanes' threads; see lanes.h.
 *
 * Each thread owns its lane's fd and its two frame buffers; everything
 * it shares with the others goes through the locks named in
 * docs/ARCHITECTURE.md ("Concurrency").  The storage rounds a request
 * makes go out on the request's own lane (store_client_set_lane).
 */
#include "lanes.h"

#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/log.h"
#include "ipc/ipc.h"
#include "store_client.h"
#include "thread_warm.h"

_Static_assert(ENCLAVE_MAX_WORKERS <= ENGINE_MAX_LANES, "every work lane needs a SQL connection of its own");

/* A lane thread's stack.  Under mlockall (harden.c) a thread's whole
 * stack is resident from its start, so it is the main cost of a worker:
 * half of the main thread's 8 MiB, which SQLite's expression depth limit
 * (1000), jansson's (2048) and libpg_query's own check stay well within. */
#define ENCLAVE_LANE_STACK (4u * 1024u * 1024u)

struct enclave_lane {
  struct enclave *e;
  int fd;
  pthread_t thread;
  int started;
};

struct enclave_lanes {
  unsigned n;
  struct enclave_lane lane[ENCLAVE_MAX_WORKERS];
};

static void *lane_main(void *arg) {
  struct enclave_lane *l = arg;
  struct enclave *e = l->e;
  struct cdr_buf in, out;
  enclave_thread_warm();
  store_client_set_lane(l->fd);
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  for (;;) {
    uint32_t type, reply_type = 0;
    int r = ipc_frame_read(l->fd, &type, &in, CDR_IPC_MAX_FRAME);
    if (r == CDR_ERR_IO)
      break; /* the host closed the lane */
    if (r != 0) {
      log_error("protocol violation: bad frame from host on a work lane (%s)", cdr_err_code(r));
      _exit(1); /* nothing is written after this: memory goes with the process */
    }
    cdr_buf_free(&out);
    if (enclave_dispatch_lane(e, ENCLAVE_LANE_WORK, type, &in, &reply_type, &out) != 0 || e->fatal) {
      log_error("stopping: a work lane failed");
      _exit(1);
    }
    cdr_buf_free(&in); /* wipe the request before answering */
    if (ipc_frame_write(l->fd, reply_type, &out) != 0)
      break;
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return NULL;
}

int enclave_lanes_start(struct enclave *e, int first_fd, unsigned workers) {
  struct enclave_lanes *ls;
  int r;
  if (workers == 0 || workers > ENCLAVE_MAX_WORKERS)
    return CDR_ERR_ARG;
  /* One malloc arena for every thread: glibc shrinks a thread's own
   * arena with a first look at /proc/sys/vm/overcommit_memory (an open,
   * which the filter forbids, at some later free()); the main arena
   * never does.  (A sanitizer's own allocator ignores this.) */
  (void)mallopt(M_ARENA_MAX, 1);
  if ((ls = calloc(1, sizeof(*ls))) == NULL)
    return CDR_ERR_NOMEM;
  e->lanes = ls;
  e->nworkers = workers;
  if ((r = audit_writer_start(e, first_fd + 1)) != 0)
    return r;
  pthread_attr_t attr;
  if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, ENCLAVE_LANE_STACK) != 0)
    return CDR_ERR_INTERNAL;
  for (unsigned i = 0; i < workers; i++) {
    struct enclave_lane *l = &ls->lane[i];
    l->e = e;
    l->fd = first_fd + 2 + (int)i;
    if (pthread_create(&l->thread, &attr, lane_main, l) != 0) {
      pthread_attr_destroy(&attr);
      return CDR_ERR_INTERNAL;
    }
    l->started = 1;
    ls->n = i + 1;
  }
  pthread_attr_destroy(&attr);
  thread_warm_wait(workers + 1); /* the work lanes and the audit writer */
  return 0;
}

void enclave_lanes_stop(struct enclave *e) {
  struct enclave_lanes *ls = e->lanes;
  if (ls != NULL)
    for (unsigned i = 0; i < ls->n; i++)
      if (ls->lane[i].started)
        (void)pthread_join(ls->lane[i].thread, NULL);
  audit_writer_stop(e);
  free(ls);
  e->lanes = NULL;
}
