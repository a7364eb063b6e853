/*
 * gen_csv.c - the benchmark's synthetic CSV files, written fast and
 * deterministically (the same arguments give the same bytes).
 *
 *   bench_gen_csv patients BYTES   rows in the shape of scripts/gen-patients.sh
 *                                  until at least BYTES bytes:
 *                                  patient_id,age,sex,diagnosis,systolic_bp,cost_eur,note
 *                                  (quoted fields with commas and spaces, as there)
 *   bench_gen_csv visits ROWS KEYS visit_id,patient_key,cost_eur: ROWS rows, keys
 *                                  uniform in [0, KEYS)
 *   bench_gen_csv regions KEYS     patient_key,region: one row per key, 8 regions
 *
 * The CSV goes to standard output.  The schemas, for `cdr upload
 * --schema` and sqlite3's CREATE TABLE, are in bench/run.sh.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUT_BUF (1u << 20)

static char out_buf[OUT_BUF];
static size_t out_len;
static uint64_t out_total;

static void out_flush(void) {
  if (out_len > 0 && fwrite(out_buf, 1, out_len, stdout) != out_len) {
    perror("bench_gen_csv: write");
    exit(1);
  }
  out_total += out_len;
  out_len = 0;
}

static void out_put(const char *s, size_t n) {
  if (out_len + n > OUT_BUF)
    out_flush();
  memcpy(out_buf + out_len, s, n);
  out_len += n;
}

static void out_str(const char *s) { out_put(s, strlen(s)); }

static void out_u64(uint64_t v) {
  char d[24];
  size_t i = sizeof(d);
  do {
    d[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out_put(d + i, sizeof(d) - i);
}

/* A decimal with two places: cents / 100. */
static void out_cents(uint64_t cents) {
  char frac[3] = {(char)('0' + cents / 10 % 10), (char)('0' + cents % 10), 0};
  out_u64(cents / 100);
  out_put(".", 1);
  out_put(frac, 2);
}

/* xorshift64*: fast, and good enough for synthetic data. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}
static uint64_t rng_below(uint64_t n) { return (rng() >> 11) % n; }

static uint64_t arg_u64(const char *what, const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v == 0) {
    fprintf(stderr, "bench_gen_csv: %s must be a positive integer\n", what);
    exit(2);
  }
  return (uint64_t)v;
}

static void gen_patients(uint64_t bytes) {
  static const char *const dx[] = {"diabetes", "hypertension", "asthma", "copd", "\"heart failure\""};
  out_str("patient_id,age,sex,diagnosis,systolic_bp,cost_eur,note\n");
  for (uint64_t i = 1; out_total + out_len < bytes; i++) {
    out_u64(100000 + i);
    out_put(",", 1);
    out_u64(18 + rng_below(72));
    out_str(rng_below(2) ? ",F," : ",M,");
    out_str(dx[rng_below(5)]);
    out_put(",", 1);
    out_u64(100 + rng_below(80));
    out_put(",", 1);
    out_cents(20000 + rng_below(980000));
    out_str(i % 7 == 0 ? ",\"follow-up, cardiology\"\n" : ",\n");
  }
}

static void gen_visits(uint64_t rows, uint64_t keys) {
  out_str("visit_id,patient_key,cost_eur\n");
  for (uint64_t i = 1; i <= rows; i++) {
    out_u64(i);
    out_put(",", 1);
    out_u64(rng_below(keys));
    out_put(",", 1);
    out_cents(1000 + rng_below(99000));
    out_put("\n", 1);
  }
}

static void gen_regions(uint64_t keys) {
  static const char *const region[] = {"north", "south", "east", "west", "centre", "coast", "islands", "mountains"};
  out_str("patient_key,region\n");
  for (uint64_t k = 0; k < keys; k++) {
    out_u64(k);
    out_put(",", 1);
    out_str(region[rng_below(8)]);
    out_put("\n", 1);
  }
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "patients") == 0)
    gen_patients(arg_u64("BYTES", argv[2]));
  else if (argc == 4 && strcmp(argv[1], "visits") == 0)
    gen_visits(arg_u64("ROWS", argv[2]), arg_u64("KEYS", argv[3]));
  else if (argc == 3 && strcmp(argv[1], "regions") == 0)
    gen_regions(arg_u64("KEYS", argv[2]));
  else {
    fprintf(stderr, "usage: bench_gen_csv patients BYTES | visits ROWS KEYS | regions KEYS\n");
    return 2;
  }
  out_flush();
  if (fflush(stdout) != 0) {
    perror("bench_gen_csv: write");
    return 1;
  }
  return 0;
}
