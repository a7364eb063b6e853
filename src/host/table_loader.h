/*
 * table_loader.h - cdrd's background load of the room's sealed tables
 * (docs/ARCHITECTURE.md, "The host": start-up order).
 *
 * Once the enclave has accepted its state (IPC_LOAD_DONE) the room
 * serves, and one thread streams the table files the manifest named to
 * the enclave (enclave_load_table), smallest first, so that most tables
 * are queryable soonest and one large table holds up only itself.  It
 * advances the start-up counts (progress.h) as chunks are accepted and
 * logs each table and every tenth of the bytes.  One table at a time:
 * the enclave inserts every table's rows through its one SQL connection
 * under the exclusive room gate, so a second loader would only wait.
 *
 * CDR_TEST_LOAD_GATE=FILE (tests only; it delays the load and changes
 * nothing else): before each chunk, while FILE exists, the loader waits
 * once it has sent as many chunks as the decimal number FILE holds (an
 * empty file: none), so that a test can hold the load before a given
 * chunk without a timed assertion.
 */
#ifndef CDR_HOST_TABLE_LOADER_H
#define CDR_HOST_TABLE_LOADER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "host/enclave_link.h"
#include "host/progress.h"
#include "host/store.h"

struct host_table_file {
  char id[33];
  uint64_t size;
};

struct host_loader {
  struct enclave_link *link;
  struct host_store *st;
  struct host_progress *progress; /* may be NULL */
  struct host_table_file *files;  /* in load order */
  size_t n;
  const char *gate;       /* CDR_TEST_LOAD_GATE, or NULL */
  uint64_t chunks_sent;   /* the loader thread's own count */
  unsigned tenth_logged;  /* the last tenth of the bytes logged */
  atomic_int stop, done;  /* stop: asked to end; done: the thread ended */
  int failed;             /* the link broke (read after done) */
  int started;
  pthread_t thread;
};

/* The files to load: ids (as the enclave asked, n of them) with their
 * sizes on disk, in load order (smallest first, then the enclave's
 * order), into l->files; the totals go to progress (may be NULL).  0 or
 * CDR_ERR_NOMEM. */
int host_loader_plan(struct host_loader *l, struct host_store *st, const char (*ids)[33], size_t n,
                     struct host_progress *progress) CDR_WUR;
/* Start the thread (after the enclave's IPC_LOAD_DONE); with no files it
 * is done at once.  0 or CDR_ERR_INTERNAL. */
int host_loader_start(struct host_loader *l, struct enclave_link *link) CDR_WUR;
/* 1 once every file was streamed (or the link broke: l->failed). */
int host_loader_done(struct host_loader *l);
/* Ask the thread to stop after its current chunk, wait for it, free. */
void host_loader_stop(struct host_loader *l);

#endif
