/*
 * bench_lib.c - the fixed-time thread runner of the load drivers; see
 * bench_lib.h.
 *
 * Start: every thread does its setup, then all meet the main thread at a
 * barrier; the main thread fixes the window (now + warm-up, + seconds)
 * and releases them through a second barrier, so no thread starts before
 * the window is known and setup time never counts.
 */
#include "bench_lib.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_shared {
  const struct bench_ops *ops;
  void *arg;
  pthread_barrier_t ready, go;
  atomic_int setup_failed;
  double t_count, t_end; /* set by the main thread between the barriers */
};

struct bench_thread {
  struct bench_shared *sh;
  struct bench_worker w;
  pthread_t tid;
};

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bucket b holds latencies in [2^(b/16), 2^((b+1)/16)) microseconds. */
static unsigned lat_bucket(double seconds) {
  double us = seconds * 1e6;
  if (us < 1.0)
    return 0;
  double b = floor(log2(us) * 16.0);
  return b >= BENCH_LAT_BUCKETS ? BENCH_LAT_BUCKETS - 1 : (unsigned)b;
}

static double lat_bucket_ms(unsigned b) { return pow(2.0, ((double)b + 0.5) / 16.0) / 1000.0; }

static void *bench_thread_main(void *p) {
  struct bench_thread *t = p;
  struct bench_shared *sh = t->sh;
  struct bench_worker *w = &t->w;

  if (sh->ops->setup(w, sh->arg) != 0)
    atomic_store(&sh->setup_failed, 1);
  pthread_barrier_wait(&sh->ready);
  pthread_barrier_wait(&sh->go);
  if (atomic_load(&sh->setup_failed))
    return NULL;
  for (;;) {
    double t0 = bench_now();
    if (t0 >= sh->t_end)
      break;
    int r = sh->ops->op(w, sh->arg);
    double t1 = bench_now();
    if (t1 < sh->t_count || t1 > sh->t_end)
      continue; /* warm-up, or finished after the window closed */
    if (r != 0) {
      w->errors++;
      continue;
    }
    w->ops++;
    w->lat[lat_bucket(t1 - t0)]++;
  }
  return NULL;
}

/* The latency at quantile q (0..1) of the merged histogram, in ms. */
static double lat_quantile(const uint64_t *lat, uint64_t total, double q) {
  uint64_t want = (uint64_t)ceil(q * (double)total), seen = 0;
  for (unsigned b = 0; b < BENCH_LAT_BUCKETS; b++) {
    seen += lat[b];
    if (seen >= want && seen > 0)
      return lat_bucket_ms(b);
  }
  return 0.0;
}

int bench_run(unsigned threads, double warmup_s, double seconds, const struct bench_ops *ops, void *arg,
              struct bench_result *out) {
  struct bench_shared sh;
  struct bench_thread *t = calloc(threads, sizeof(*t));
  uint64_t *lat = calloc(BENCH_LAT_BUCKETS, sizeof(*lat));
  unsigned started = 0;
  int r = -1;

  memset(out, 0, sizeof(*out));
  out->threads = threads;
  out->seconds = seconds;
  if (t == NULL || lat == NULL) {
    snprintf(out->error, sizeof(out->error), "out of memory");
    goto done;
  }
  memset(&sh, 0, sizeof(sh));
  sh.ops = ops;
  sh.arg = arg;
  atomic_init(&sh.setup_failed, 0);
  pthread_barrier_init(&sh.ready, NULL, threads + 1);
  pthread_barrier_init(&sh.go, NULL, threads + 1);
  for (; started < threads; started++) {
    t[started].sh = &sh;
    t[started].w.index = started;
    if (pthread_create(&t[started].tid, NULL, bench_thread_main, &t[started]) != 0)
      break;
  }
  if (started < threads) {
    /* Barriers cannot shrink: a thread we could not start is fatal. */
    fprintf(stderr, "bench: cannot start thread %u\n", started);
    exit(1);
  }
  pthread_barrier_wait(&sh.ready);
  sh.t_count = bench_now() + warmup_s;
  sh.t_end = sh.t_count + seconds;
  pthread_barrier_wait(&sh.go);
  for (unsigned i = 0; i < threads; i++)
    pthread_join(t[i].tid, NULL);
  pthread_barrier_destroy(&sh.ready);
  pthread_barrier_destroy(&sh.go);

  for (unsigned i = 0; i < threads; i++) {
    struct bench_worker *w = &t[i].w;
    out->ops += w->ops;
    out->errors += w->errors;
    for (unsigned b = 0; b < BENCH_LAT_BUCKETS; b++)
      lat[b] += w->lat[b];
    if (out->error[0] == '\0' && w->error[0] != '\0')
      snprintf(out->error, sizeof(out->error), "%s", w->error);
    ops->teardown(w, arg);
  }
  out->ops_per_s = (double)out->ops / seconds;
  out->p50_ms = lat_quantile(lat, out->ops, 0.50);
  out->p99_ms = lat_quantile(lat, out->ops, 0.99);
  r = atomic_load(&sh.setup_failed) ? -1 : 0;
done:
  free(t);
  free(lat);
  return r;
}

void bench_result_print(const char *label, const struct bench_result *r) {
  printf("label=%s threads=%u seconds=%.3f ops=%llu errors=%llu ops_per_s=%.1f p50_ms=%.3f p99_ms=%.3f", label,
         r->threads, r->seconds, (unsigned long long)r->ops, (unsigned long long)r->errors, r->ops_per_s, r->p50_ms,
         r->p99_ms);
  if (r->error[0] != '\0') {
    printf(" error=\"");
    for (const char *s = r->error; *s; s++)
      putchar(*s == '"' || *s < 0x20 ? '\'' : *s);
    printf("\"");
  }
  printf("\n");
  fflush(stdout);
}

unsigned bench_arg_uint(const char *what, const char *s) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v == 0 || v > 100000) {
    fprintf(stderr, "bench: %s must be a positive integer, got \"%s\"\n", what, s);
    exit(2);
  }
  return (unsigned)v;
}

double bench_arg_seconds(const char *what, const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (*s == '\0' || *end != '\0' || !(v >= 0.0) || v > 86400.0) {
    fprintf(stderr, "bench: %s must be a number of seconds, got \"%s\"\n", what, s);
    exit(2);
  }
  return v;
}
