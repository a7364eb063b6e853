/*
 * bench_lib.h - what the load drivers (bench_query, bench_session) share:
 * a fixed-time run of N threads, each repeating one operation, and the
 * one-line report that bench/run.sh reads.
 *
 * A run has three phases, the same for every thread:
 *   setup    per-thread state (a client, an attestation, a session);
 *            not timed.  All threads finish setup before the clock starts.
 *   warm-up  operations run but are not counted (connections, caches,
 *            the enclave's allocator reach their steady state).
 *   measure  operations that *complete* inside the window are counted,
 *            with their latency; a thread stops at the window's end.
 * Throughput is counted operations / window length, so it does not depend
 * on how long a thread's last, unfinished operation takes.
 *
 * Any failed operation is counted as an error (not as throughput) and
 * the first one's text is kept; run.sh refuses a figure with errors.
 */
#ifndef CDR_BENCH_LIB_H
#define CDR_BENCH_LIB_H

#include <stddef.h>
#include <stdint.h>

/* Latency histogram: 16 buckets per doubling from 1 us up to ~1000 s. */
#define BENCH_LAT_BUCKETS (16 * 30)

struct bench_worker {
  unsigned index;            /* 0 .. threads-1 */
  void *state;               /* whatever setup made; freed by teardown */
  uint64_t ops, errors;      /* counted in the measure phase */
  uint64_t lat[BENCH_LAT_BUCKETS];
  char error[256];           /* the first error's text, or "" */
};

/* setup: make w->state, 0 or -1 (with w->error set).  op: one operation
 * on w->state, 0 or -1 (with w->error set when it is still "").
 * teardown: free w->state (also after a failed setup). */
struct bench_ops {
  int (*setup)(struct bench_worker *w, void *arg);
  int (*op)(struct bench_worker *w, void *arg);
  void (*teardown)(struct bench_worker *w, void *arg);
};

struct bench_result {
  unsigned threads;
  double seconds;            /* the measure window */
  uint64_t ops, errors;
  double ops_per_s;
  double p50_ms, p99_ms;
  char error[256];           /* the first error of any thread */
};

/* Run `threads` threads: setup, warmup_s of uncounted operations, then
 * seconds of counted ones.  0, or -1 if a setup failed (out->error says
 * why). */
int bench_run(unsigned threads, double warmup_s, double seconds, const struct bench_ops *ops, void *arg,
              struct bench_result *out);

/* Print the result as one line of key=value pairs on stdout:
 *   label=L threads=N seconds=S ops=N errors=N ops_per_s=X p50_ms=X p99_ms=X [error="..."] */
void bench_result_print(const char *label, const struct bench_result *r);

/* A positive integer or number argument; exits with a usage message
 * naming `what` if s is not one. */
unsigned bench_arg_uint(const char *what, const char *s);
double bench_arg_seconds(const char *what, const char *s);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
