/*
 * table_loader.c - the background load of the sealed tables; see
 * table_loader.h.
 *
 * The thread reads each file from the store in IPC_LOAD_CHUNK_MAX pieces
 * (enclave_load_table takes a work lane per piece, so requests share the
 * lanes meanwhile) and counts what the enclave accepted.  The counts are
 * atomics (progress.h): the HTTP threads read them for /v1/health.
 */
#include "host/table_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"

#define LOADER_GATE_TICK_NS (20 * 1000000L)
#define LOADER_GATE_MAX 32

static int file_order(const void *a, const void *b) {
  const struct host_table_file *x = a, *y = b;
  return x->size < y->size ? -1 : x->size > y->size ? 1 : 0;
}

int host_loader_plan(struct host_loader *l, struct host_store *st, const char (*ids)[33], size_t n,
                     struct host_progress *progress) {
  uint64_t bytes = 0;
  memset(l, 0, sizeof(*l));
  l->st = st;
  l->progress = progress;
  l->gate = getenv("CDR_TEST_LOAD_GATE");
  if (n > 0 && (l->files = calloc(n, sizeof(*l->files))) == NULL)
    return CDR_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    char name[64];
    snprintf(l->files[i].id, sizeof(l->files[i].id), "%s", ids[i]);
    snprintf(name, sizeof(name), "tables/%s", ids[i]);
    if (host_store_size(st, name, &l->files[i].size) != 0)
      l->files[i].size = 0; /* missing: the enclave refuses it, by name */
    bytes += l->files[i].size;
  }
  l->n = n;
  /* Smallest first; qsort is not stable, so ties keep no particular
   * order, which nothing relies on. */
  if (n > 1)
    qsort(l->files, n, sizeof(*l->files), file_order);
  if (progress != NULL) {
    atomic_store(&progress->tables_total, n);
    atomic_store(&progress->bytes_total, bytes);
    atomic_store(&progress->totals_known, 1);
  }
  return 0;
}

/* CDR_TEST_LOAD_GATE (table_loader.h): the number of chunks FILE lets
 * through (0 for an empty or unreadable file), or -1 when FILE is gone. */
static long gate_allows(const char *gate) {
  char buf[LOADER_GATE_MAX];
  FILE *f = fopen(gate, "r");
  size_t n;
  long v = 0;
  if (f == NULL)
    return -1;
  n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  for (size_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9' && v < 1000000000L; i++)
    v = v * 10 + (buf[i] - '0');
  return v;
}

static void gate_wait(struct host_loader *l) {
  const struct timespec tick = {.tv_sec = 0, .tv_nsec = LOADER_GATE_TICK_NS};
  int said = 0;
  long allow;
  while (l->gate != NULL && !atomic_load(&l->stop) && (allow = gate_allows(l->gate)) >= 0 &&
         l->chunks_sent >= (uint64_t)allow) {
    if (!said++)
      log_info("loading paused while %s exists, after %llu chunks (CDR_TEST_LOAD_GATE)", l->gate,
               (unsigned long long)l->chunks_sent);
    nanosleep(&tick, NULL);
  }
}

/* enclave_read_fn: a piece of a table file, after the test gate. */
static int loader_read(void *ctx, const char *id, uint64_t offset, uint8_t *buf, size_t max, size_t *got) {
  struct host_loader *l = ctx;
  char name[64];
  gate_wait(l);
  if (atomic_load(&l->stop))
    return CDR_ERR_INTERNAL; /* shutting down: the table stays unloaded */
  l->chunks_sent++;
  snprintf(name, sizeof(name), "tables/%s", id);
  return host_store_read(l->st, name, offset, buf, max, got);
}

static double mb(uint64_t b) { return (double)b / 1e6; }

/* A piece was accepted: count it, and log each further tenth of all the
 * bytes (the last tenth is the "loaded" line). */
static void loader_chunk_done(void *ctx, size_t len) {
  struct host_loader *l = ctx;
  if (l->progress == NULL)
    return;
  uint64_t done = atomic_fetch_add(&l->progress->bytes_loaded, len) + len;
  uint64_t total = atomic_load(&l->progress->bytes_total);
  unsigned tenth = total > 0 ? (unsigned)(done * 10 / total) : 0;
  if (tenth > l->tenth_logged && tenth < 10) {
    l->tenth_logged = tenth;
    log_info("loading the room's tables: %u%% (%.1f of %.1f MB), %llu of %zu tables loaded", tenth * 10, mb(done),
             mb(total), (unsigned long long)atomic_load(&l->progress->tables_loaded), l->n);
  }
}

static void *loader_main(void *arg) {
  struct host_loader *l = arg;
  struct timespec t0, t1;
  size_t refused = 0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (size_t i = 0; i < l->n && !atomic_load(&l->stop); i++) {
    int r, was_refused = 0;
    if ((r = enclave_load_table(l->link, l->files[i].id, loader_read, l, loader_chunk_done, &was_refused)) != 0) {
      log_error("loading the room's tables stopped: %s", cdr_err_describe(r));
      l->failed = 1;
      break;
    }
    refused += was_refused != 0;
    if (l->progress != NULL) {
      uint64_t k = atomic_fetch_add(&l->progress->tables_loaded, 1) + 1;
      log_info("%s table %llu of %zu (%.1f MB); %.1f of %.1f MB loaded", was_refused ? "refused" : "loaded",
               (unsigned long long)k, l->n, mb(l->files[i].size), mb(atomic_load(&l->progress->bytes_loaded)),
               mb(atomic_load(&l->progress->bytes_total)));
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (!l->failed && !atomic_load(&l->stop))
    log_info("the room's %zu tables are loaded (%zu refused) in %.1f s", l->n, refused,
             (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
  atomic_store(&l->done, 1);
  return NULL;
}

int host_loader_start(struct host_loader *l, struct enclave_link *link) {
  l->link = link;
  if (l->n == 0) {
    atomic_store(&l->done, 1);
    return 0;
  }
  log_info("loading %zu sealed tables (%.1f MB) in the background, smallest first; the room serves meanwhile", l->n,
           l->progress ? mb(atomic_load(&l->progress->bytes_total)) : 0.0);
  if (pthread_create(&l->thread, NULL, loader_main, l) != 0) {
    log_error("cannot start the table loader thread");
    return CDR_ERR_INTERNAL;
  }
  l->started = 1;
  return 0;
}

int host_loader_done(struct host_loader *l) { return atomic_load(&l->done); }

void host_loader_stop(struct host_loader *l) {
  if (l == NULL)
    return;
  atomic_store(&l->stop, 1);
  if (l->started)
    pthread_join(l->thread, NULL);
  l->started = 0;
  free(l->files);
  l->files = NULL;
  l->n = 0;
}
