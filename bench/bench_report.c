/*
 * bench_report.c - turn the figures of one benchmark run into the table
 * on standard output, bench/results.json and a markdown table for
 * bench/README.md.
 *
 *   bench_report FIGURES RESULTS_JSON [MARKDOWN]
 *
 * FIGURES is what bench/run.sh wrote: one "key value" per line (the value
 * is the rest of the line).  The measurements, their baselines, the
 * direction of each ratio and the targets of issue 4 are defined here, in
 * one table, so that the printed table, the JSON and the README agree.
 * A figure that is missing (a part that failed or was skipped) is null
 * in the JSON and "-" in the tables, and its target counts as not met.
 *
 * Exit status 0 if the files were written (whether or not targets are
 * met: speed is reported, not asserted).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a measurement is judged. */
enum judge {
  JUDGE_NONE,        /* reported only */
  JUDGE_VALUE_MIN,   /* value >= target */
  JUDGE_RATIO_MIN,   /* value / baseline >= target (throughput) */
  JUDGE_RATIO_MAX,   /* value / baseline <= target (time, memory) */
  JUDGE_RATIO_INFO,  /* a ratio, without a target */
};

/* A number: a figure, or figure / figure * scale. */
struct expr {
  const char *num, *den; /* den NULL: just num */
  double scale;
};

struct measure {
  const char *name, *label, *unit;
  struct expr value, baseline; /* baseline.num NULL: none */
  const char *baseline_label;
  enum judge judge;
  double target;
};

#define FIG(k) {k, NULL, 1.0}
#define PER(k, d, s) {k, d, s}
#define NONE {NULL, NULL, 0.0}

static const struct measure MEASURES[] = {
    {"session_setup_ec", "session setups, EC P-256 user", "sessions/s", FIG("session_ec"), NONE, NULL,
     JUDGE_VALUE_MIN, 5000.0},
    {"session_setup_rsa", "session setups, RSA user", "sessions/s", FIG("session_rsa"), NONE, NULL, JUDGE_NONE, 0},
    {"select1_1_thread", "SELECT 1, 1 client thread", "queries/s", FIG("query_secure_1"), FIG("query_plain_1"),
     "plain HTTP+SQLite", JUDGE_RATIO_INFO, 0},
    {"select1_8_threads", "SELECT 1, 8 client threads", "queries/s", FIG("query_secure_8"), FIG("query_plain_8"),
     "plain HTTP+SQLite", JUDGE_RATIO_INFO, 0},
    {"select1_32_threads", "SELECT 1, 32 client threads", "queries/s", FIG("query_secure_32"),
     FIG("query_plain_32"), "plain HTTP+SQLite", JUDGE_RATIO_MIN, 0.6},
    {"upload_mb_per_s", "encrypted upload", "MB/s", PER("upload_bytes", "upload_cdr_s", 1e-6),
     PER("upload_bytes", "upload_sqlite_s", 1e-6), "sqlite3 .import (:memory:)", JUDGE_RATIO_MIN, 0.7},
    {"upload_rows_per_s", "encrypted upload", "rows/s", PER("upload_rows", "upload_cdr_s", 1.0),
     PER("upload_rows", "upload_sqlite_s", 1.0), "sqlite3 .import (:memory:)", JUDGE_RATIO_INFO, 0},
    {"upload_mb_per_s_file_db", "encrypted upload vs a file database", "MB/s",
     PER("upload_bytes", "upload_cdr_s", 1e-6), PER("upload_bytes", "upload_sqlite_file_s", 1e-6),
     "sqlite3 .import (file)", JUDGE_RATIO_INFO, 0},
    {"join_query_s", "aggregate with join", "s", FIG("join_cdr_s"), FIG("join_sqlite_s"), "sqlite3 (:memory:)",
     JUDGE_RATIO_MAX, 1.2},
    {"enclave_peak_rss_upload_mb", "enclave peak RSS, upload", "MB", PER("upload_rss_kb", NULL, 1024e-6),
     PER("upload_bytes", NULL, 1e-6), "CSV size", JUDGE_RATIO_MAX, 2.0},
    {"enclave_peak_rss_join_mb", "enclave peak RSS, join", "MB", PER("join_rss_kb", NULL, 1024e-6),
     PER("join_bytes", NULL, 1e-6), "CSV size", JUDGE_RATIO_MAX, 2.0},
    {"sqlite3_peak_rss_upload_mb", "sqlite3 peak RSS, upload (reference)", "MB",
     PER("upload_sqlite_rss_kb", NULL, 1024e-6), PER("upload_bytes", NULL, 1e-6), "CSV size", JUDGE_RATIO_INFO, 0},
    {"sqlite3_peak_rss_join_mb", "sqlite3 peak RSS, join (reference)", "MB", PER("join_sqlite_rss_kb", NULL, 1024e-6),
     PER("join_bytes", NULL, 1e-6), "CSV size", JUDGE_RATIO_INFO, 0},
    {"isolation_select1_p99_ms", "isolation: one member's SELECT 1 p99 while another runs heavy queries", "ms",
     FIG("isolation_busy_p99_ms"), FIG("isolation_base_p99_ms"), "max(idle p99, 10 ms)", JUDGE_RATIO_MAX, 3.0},
};
#define NMEASURES (sizeof(MEASURES) / sizeof(MEASURES[0]))

/* The run's context, copied into the JSON as they are. */
static const char *const CONTEXT_KEYS[] = {"date", "commit", "nproc", "cpu", "quick", "bench_seconds", "rounds",
                                           "session_threads", "rsa_bits", "upload_rows", "upload_bytes",
                                           "join_rows", "join_keys", "join_bytes", "join_sql", "join_runs",
                                           "join_result_rows", "join_sqlite_result_rows", "isolation_idle_p99_ms",
                                           "isolation_heavy_sql"};

static json_t *figures;

static const char *fig_str(const char *key) { return json_string_value(json_object_get(figures, key)); }

/* A figure as a number; NAN when missing or not a number. */
static double fig(const char *key) {
  const char *s = fig_str(key);
  char *end;
  if (s == NULL || *s == '\0')
    return NAN;
  double v = strtod(s, &end);
  return *end == '\0' ? v : NAN;
}

static double eval(const struct expr *e) {
  if (e->num == NULL)
    return NAN;
  double v = fig(e->num);
  if (e->den != NULL) {
    double d = fig(e->den);
    v = d > 0.0 ? v / d : NAN;
  }
  return v * e->scale;
}

static int read_figures(const char *path) {
  FILE *f = fopen(path, "r");
  char line[4096];
  if (f == NULL) {
    perror(path);
    return -1;
  }
  figures = json_object();
  while (fgets(line, sizeof(line), f) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    char *sp = strchr(line, ' ');
    if (sp == NULL || sp == line)
      continue;
    *sp = '\0';
    json_object_set_new(figures, line, json_string(sp + 1));
  }
  fclose(f);
  return 0;
}

static const char *target_text(const struct measure *m, char *buf, size_t n) {
  switch (m->judge) {
  case JUDGE_VALUE_MIN: snprintf(buf, n, ">= %g %s", m->target, m->unit); break;
  case JUDGE_RATIO_MIN: snprintf(buf, n, "ratio >= %g", m->target); break;
  case JUDGE_RATIO_MAX: snprintf(buf, n, "ratio <= %g", m->target); break;
  default: snprintf(buf, n, "-"); break;
  }
  return buf;
}

/* 1 met, 0 missed, -1 no target. */
static int judge(const struct measure *m, double value, double ratio) {
  switch (m->judge) {
  case JUDGE_VALUE_MIN: return !isnan(value) && value >= m->target;
  case JUDGE_RATIO_MIN: return !isnan(ratio) && ratio >= m->target;
  case JUDGE_RATIO_MAX: return !isnan(ratio) && ratio <= m->target;
  default: return -1;
  }
}

static json_t *num_or_null(double v) { return isnan(v) ? json_null() : json_real(v); }

static void fmt_num(char *buf, size_t n, double v) {
  if (isnan(v))
    snprintf(buf, n, "-");
  else if (fabs(v) >= 100.0)
    snprintf(buf, n, "%.0f", v);
  else if (fabs(v) >= 10.0)
    snprintf(buf, n, "%.1f", v);
  else
    snprintf(buf, n, "%.2f", v);
}

int main(int argc, char **argv) {
  json_t *out, *ms, *ctx;
  FILE *md = NULL;
  char tb[64], vb[32], bb[32], rb[32];
  int nmet = 0, ntargets = 0;

  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: bench_report FIGURES RESULTS_JSON [MARKDOWN]\n");
    return 2;
  }
  if (read_figures(argv[1]) != 0)
    return 1;
  if (argc == 4 && (md = fopen(argv[3], "w")) == NULL) {
    perror(argv[3]);
    return 1;
  }
  out = json_object();
  ctx = json_object();
  for (size_t i = 0; i < sizeof(CONTEXT_KEYS) / sizeof(CONTEXT_KEYS[0]); i++) {
    const char *s = fig_str(CONTEXT_KEYS[i]);
    double v = fig(CONTEXT_KEYS[i]);
    int text = strcmp(CONTEXT_KEYS[i], "commit") == 0 || strcmp(CONTEXT_KEYS[i], "date") == 0;
    json_t *jv = isnan(v) || text ? json_string(s)
                 : v == floor(v) && fabs(v) < 9007199254740992.0 ? json_integer((json_int_t)v)
                                                                   : json_real(v);
    if (s != NULL)
      json_object_set_new(ctx, CONTEXT_KEYS[i], jv);
    else
      json_decref(jv);
  }
  json_object_set_new(out, "run", ctx);
  ms = json_array();

  printf("\nCDR benchmark, %s, commit %s, %s CPUs%s\n\n", fig_str("date") ? fig_str("date") : "?",
         fig_str("commit") ? fig_str("commit") : "?", fig_str("nproc") ? fig_str("nproc") : "?",
         fig("quick") > 0 ? " (quick run: small sizes)" : "");
  printf("%-40s %10s %-11s %10s  %-28s %7s  %-20s %s\n", "measurement", "CDR", "unit", "baseline", "(baseline is)",
         "ratio", "target", "met");
  if (md != NULL) {
    fprintf(md, "Run of %s, commit %s, %s CPUs%s.\n\n", fig_str("date") ? fig_str("date") : "?",
            fig_str("commit") ? fig_str("commit") : "?", fig_str("nproc") ? fig_str("nproc") : "?",
            fig("quick") > 0 ? " (quick run: small sizes)" : "");
    fprintf(md, "| measurement | CDR | unit | baseline | baseline is | ratio | target | met |\n");
    fprintf(md, "| --- | ---: | --- | ---: | --- | ---: | --- | --- |\n");
  }
  for (size_t i = 0; i < NMEASURES; i++) {
    const struct measure *m = &MEASURES[i];
    double value = eval(&m->value), base = eval(&m->baseline);
    double ratio = (!isnan(value) && base > 0.0) ? value / base : NAN;
    int met = judge(m, value, ratio);
    json_t *o = json_object();

    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "description", json_string(m->label));
    json_object_set_new(o, "unit", json_string(m->unit));
    json_object_set_new(o, "value", num_or_null(value));
    json_object_set_new(o, "baseline", num_or_null(base));
    json_object_set_new(o, "baseline_is", m->baseline_label ? json_string(m->baseline_label) : json_null());
    json_object_set_new(o, "ratio", num_or_null(ratio));
    json_object_set_new(o, "target", m->judge == JUDGE_NONE || m->judge == JUDGE_RATIO_INFO
                                         ? json_null()
                                         : json_string(target_text(m, tb, sizeof(tb))));
    json_object_set_new(o, "met", met < 0 ? json_null() : json_boolean(met));
    json_array_append_new(ms, o);
    if (met >= 0) {
      ntargets++;
      nmet += met;
    }

    fmt_num(vb, sizeof(vb), value);
    fmt_num(bb, sizeof(bb), base);
    if (isnan(ratio))
      snprintf(rb, sizeof(rb), "-");
    else
      snprintf(rb, sizeof(rb), "%.2f", ratio);
    target_text(m, tb, sizeof(tb));
    const char *mt = met < 0 ? "" : met ? "yes" : "NO";
    printf("%-40s %10s %-11s %10s  %-28s %7s  %-20s %s\n", m->label, vb, m->unit, bb,
           m->baseline_label ? m->baseline_label : "-", rb, tb, mt);
    if (md != NULL)
      fprintf(md, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m->label, vb, m->unit, bb,
              m->baseline_label ? m->baseline_label : "-", rb, tb, met < 0 ? "" : met ? "yes" : "**no**");
  }
  printf("\n%d of %d targets met.\n", nmet, ntargets);
  json_object_set_new(out, "measurements", ms);
  json_object_set_new(out, "targets_met", json_integer(nmet));
  json_object_set_new(out, "targets", json_integer(ntargets));
  json_object_set_new(out, "figures", figures);
  if (json_dump_file(out, argv[2], JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8)) != 0) {
    fprintf(stderr, "bench_report: cannot write %s\n", argv[2]);
    return 1;
  }
  if (md != NULL) {
    fprintf(md, "\n%d of %d targets met.\n", nmet, ntargets);
    if (fclose(md) != 0)
      return 1;
  }
  json_decref(out);
  return 0;
}
