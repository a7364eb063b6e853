/*
 * metrics.c - request counters, latency histograms and the gauges of
 * /metrics; see metrics.h for what is exposed and why nothing more.
 *
 * Counters live in fixed arrays: (routes + 1 "unmatched") x the fixed
 * status list, and one histogram per route with fixed buckets, so a
 * client cannot grow them.  Gauges are read at scrape time: the
 * enclave's RSS from /proc/PID/statm, the sealed bytes by listing
 * ROOM/state and ROOM/state/tables, the audit records by walking the
 * u32be length prefixes of ROOM/state/audit.sealed (from where the last
 * scrape stopped: the file only grows, and a shorter one is walked
 * again from the start).
 */
#include "metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"

/* The statuses cdrd answers with (PROTOCOL 4.1); anything else is
 * counted as "other", the last slot. */
static const int metrics_statuses[] = {200, 400, 403, 404, 405, 408, 409, 413, 422, 431, 500, 503};
#define METRICS_NSTATUS (sizeof(metrics_statuses) / sizeof(metrics_statuses[0]) + 1)
/* Latency buckets, in seconds (the last, +Inf, is implicit). */
static const double metrics_buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
#define METRICS_NBUCKET (sizeof(metrics_buckets) / sizeof(metrics_buckets[0]))

struct route_stats {
  uint64_t by_status[METRICS_NSTATUS];
  uint64_t buckets[METRICS_NBUCKET]; /* non-cumulative; summed at render */
  uint64_t count;
  int64_t sum_usec;
};

struct host_metrics {
  const struct http_route *routes;
  size_t nroutes;
  char *state_dir; /* ROOM/state */
  struct host_progress *progress;
  struct http_server *api;
  struct enclave_link *link; /* under lock */
  atomic_int enclave_pid;
  pthread_mutex_t lock;
  struct route_stats *stats; /* nroutes + 1, the last "unmatched" */
  uint64_t expiry[CDR_MAX_SESSIONS]; /* ring of session expiry times */
  size_t expiry_next;
  uint64_t sessions_opened;
  uint64_t audit_offset, audit_records; /* the audit walk so far */
};

int host_metrics_new(struct host_metrics **out, const struct http_route *routes, size_t nroutes, const char *room_dir,
                     struct host_progress *progress) {
  struct host_metrics *m = calloc(1, sizeof(*m));
  *out = NULL;
  if (m == NULL)
    return CDR_ERR_NOMEM;
  m->routes = routes;
  m->nroutes = nroutes;
  m->progress = progress;
  atomic_init(&m->enclave_pid, -1);
  if ((m->stats = calloc(nroutes + 1, sizeof(*m->stats))) == NULL ||
      (m->state_dir = cdr_path_join(room_dir, "state")) == NULL || pthread_mutex_init(&m->lock, NULL) != 0) {
    free(m->stats);
    free(m->state_dir);
    free(m);
    return CDR_ERR_NOMEM;
  }
  *out = m;
  return 0;
}

void host_metrics_free(struct host_metrics *m) {
  if (m == NULL)
    return;
  pthread_mutex_destroy(&m->lock);
  free(m->stats);
  free(m->state_dir);
  free(m);
}

void host_metrics_set_server(struct host_metrics *m, struct http_server *api) {
  pthread_mutex_lock(&m->lock);
  m->api = api;
  pthread_mutex_unlock(&m->lock);
}

void host_metrics_set_link(struct host_metrics *m, struct enclave_link *link) {
  pthread_mutex_lock(&m->lock);
  m->link = link;
  pthread_mutex_unlock(&m->lock);
}

void host_metrics_set_enclave_pid(struct host_metrics *m, pid_t pid) { atomic_store(&m->enclave_pid, (int)pid); }

static size_t status_slot(int status) {
  for (size_t i = 0; i + 1 < METRICS_NSTATUS; i++)
    if (metrics_statuses[i] == status)
      return i;
  return METRICS_NSTATUS - 1;
}

void host_metrics_observe(void *ctx, int route, int status, int64_t usec) {
  struct host_metrics *m = ctx;
  size_t ri = (route >= 0 && (size_t)route < m->nroutes) ? (size_t)route : m->nroutes;
  double s = (double)usec / 1e6;
  size_t b = 0;

  while (b < METRICS_NBUCKET && s > metrics_buckets[b])
    b++;
  pthread_mutex_lock(&m->lock);
  struct route_stats *st = &m->stats[ri];
  st->by_status[status_slot(status)]++;
  if (b < METRICS_NBUCKET)
    st->buckets[b]++;
  st->count++;
  st->sum_usec += usec > 0 ? usec : 0;
  pthread_mutex_unlock(&m->lock);
}

void host_metrics_session_opened(struct host_metrics *m, uint64_t expires_at) {
  pthread_mutex_lock(&m->lock);
  m->expiry[m->expiry_next] = expires_at;
  m->expiry_next = (m->expiry_next + 1) % CDR_MAX_SESSIONS;
  m->sessions_opened++;
  pthread_mutex_unlock(&m->lock);
}

/* ---- gauges read at scrape time ---- */

/* Resident bytes of process pid (/proc/PID/statm, second field), or -1. */
static int64_t probe_rss(int pid) {
  char path[64], line[128], *end;
  FILE *f;
  if (pid <= 0)
    return -1;
  snprintf(path, sizeof(path), "/proc/%d/statm", pid);
  if ((f = fopen(path, "re")) == NULL)
    return -1;
  char *ok = fgets(line, sizeof(line), f);
  fclose(f);
  if (ok == NULL)
    return -1;
  (void)strtoull(line, &end, 10);
  unsigned long long pages = strtoull(end, &end, 10);
  long page = sysconf(_SC_PAGESIZE);
  return page > 0 ? (int64_t)pages * page : -1;
}

/* Sum of the sizes of the regular files in dir (not recursive). */
static uint64_t probe_dir_bytes(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  struct stat sb;
  uint64_t total = 0;
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL)
    if (fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
      total += (uint64_t)sb.st_size;
  closedir(d);
  return total;
}

/* Records in ROOM/state/audit.sealed (u32be len || record), continuing
 * the walk of the last scrape; m->lock held. */
static uint64_t probe_audit_records(struct host_metrics *m) {
  char *path = cdr_path_join(m->state_dir, "audit.sealed");
  struct stat sb;
  uint8_t h[4];
  int fd = path != NULL ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  free(path);
  if (fd < 0 || fstat(fd, &sb) != 0) {
    if (fd >= 0)
      close(fd);
    m->audit_offset = m->audit_records = 0;
    return 0;
  }
  if ((uint64_t)sb.st_size < m->audit_offset)
    m->audit_offset = m->audit_records = 0; /* rewritten: walk again */
  while (m->audit_offset + 4 <= (uint64_t)sb.st_size &&
         pread(fd, h, 4, (off_t)m->audit_offset) == 4) {
    uint64_t len = (uint64_t)h[0] << 24 | (uint64_t)h[1] << 16 | (uint64_t)h[2] << 8 | h[3];
    if (m->audit_offset + 4 + len > (uint64_t)sb.st_size)
      break; /* a record still being appended */
    m->audit_offset += 4 + len;
    m->audit_records++;
  }
  close(fd);
  return m->audit_records;
}

/* ---- rendering ---- */

static void render_family(FILE *f, const char *name, const char *type, const char *help) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_gauge(FILE *f, const char *name, const char *help, double v) {
  render_family(f, name, "gauge", help);
  fprintf(f, "%s %.17g\n", name, v);
}

static const char *route_label(struct host_metrics *m, size_t i, char *buf, size_t n) {
  if (i >= m->nroutes)
    return "unmatched";
  snprintf(buf, n, "%s %s", m->routes[i].method, m->routes[i].path);
  return buf;
}

/* The per-route counters and histograms; m->lock held. */
static void render_requests(FILE *f, struct host_metrics *m) {
  char lb[128];
  render_family(f, "cdr_http_requests_total", "counter",
                "HTTP requests finished, by route (\"METHOD /path\" of the fixed table, or unmatched) and status "
                "(0: no answer sent; other: a status outside the fixed list)");
  for (size_t i = 0; i <= m->nroutes; i++)
    for (size_t s = 0; s < METRICS_NSTATUS; s++) {
      char st[16];
      if (s + 1 < METRICS_NSTATUS)
        snprintf(st, sizeof(st), "%d", metrics_statuses[s]);
      else
        snprintf(st, sizeof(st), "other");
      if (m->stats[i].by_status[s] > 0 || (s == 0 && i < m->nroutes))
        fprintf(f, "cdr_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n", route_label(m, i, lb, sizeof(lb)),
                st, (unsigned long long)m->stats[i].by_status[s]);
    }
  render_family(f, "cdr_http_request_duration_seconds", "histogram",
                "time from a request's first byte to the end of its answer, by route");
  for (size_t i = 0; i <= m->nroutes; i++) {
    const struct route_stats *st = &m->stats[i];
    const char *r = route_label(m, i, lb, sizeof(lb));
    uint64_t cum = 0;
    for (size_t b = 0; b < METRICS_NBUCKET; b++) {
      cum += st->buckets[b];
      fprintf(f, "cdr_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", r, metrics_buckets[b],
              (unsigned long long)cum);
    }
    fprintf(f, "cdr_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", r,
            (unsigned long long)st->count);
    fprintf(f, "cdr_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", r, (double)st->sum_usec / 1e6);
    fprintf(f, "cdr_http_request_duration_seconds_count{route=\"%s\"} %llu\n", r, (unsigned long long)st->count);
  }
}

/* Sessions opened and not yet expired; m->lock held. */
static uint64_t sessions_open(struct host_metrics *m) {
  uint64_t now = (uint64_t)time(NULL), n = 0;
  for (size_t i = 0; i < CDR_MAX_SESSIONS; i++)
    n += m->expiry[i] > now;
  return n;
}

/* The load and the room's disk; no lock needed. */
static void render_room(FILE *f, struct host_metrics *m) {
  char *tables = cdr_path_join(m->state_dir, "tables");
  struct host_progress *p = m->progress;
  render_gauge(f, "cdr_ready", "1 once the room serves requests, 0 while it starts or loads",
               host_progress_phase(p) == HOST_PHASE_READY);
  render_gauge(f, "cdr_load_tables_loaded", "sealed tables loaded into the enclave at start-up",
               (double)atomic_load(&p->tables_loaded));
  render_gauge(f, "cdr_load_tables_on_disk", "sealed table files on disk when the load began",
               (double)atomic_load(&p->tables_total));
  render_gauge(f, "cdr_load_bytes_loaded", "bytes of sealed tables streamed to the enclave at start-up",
               (double)atomic_load(&p->bytes_loaded));
  render_gauge(f, "cdr_load_bytes_on_disk", "bytes of sealed table files on disk when the load began",
               (double)atomic_load(&p->bytes_total));
  render_gauge(f, "cdr_sealed_bytes", "bytes of sealed state on disk (ROOM/state and ROOM/state/tables)",
               (double)(probe_dir_bytes(m->state_dir) + (tables != NULL ? probe_dir_bytes(tables) : 0)));
  free(tables);
  int64_t rss = probe_rss(atomic_load(&m->enclave_pid));
  if (rss >= 0)
    render_gauge(f, "cdr_enclave_resident_memory_bytes", "resident memory of the enclave process (/proc/PID/statm)",
                 (double)rss);
}

int host_metrics_render(struct host_metrics *m, char **text, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (f == NULL)
    return CDR_ERR_NOMEM;
  pthread_mutex_lock(&m->lock);
  render_requests(f, m);
  render_gauge(f, "cdr_http_requests_in_flight",
               "API requests received and not yet finished (in a handler, waiting for the enclave, or uploading)",
               (double)http_server_in_flight(m->api));
  render_gauge(f, "cdr_enclave_calls_queued",
               "calls in the enclave or waiting for it (it answers one at a time): its request queue",
               (double)enclave_link_queue_depth(m->link));
  render_family(f, "cdr_sessions_opened_total", "counter", "sessions the enclave opened since cdrd started");
  fprintf(f, "cdr_sessions_opened_total %llu\n", (unsigned long long)m->sessions_opened);
  render_gauge(f, "cdr_sessions_open",
               "sessions opened and not yet expired (an upper bound: the enclave may end one earlier)",
               (double)sessions_open(m));
  render_gauge(f, "cdr_audit_records", "records in the sealed audit log (what the host can count, not read)",
               (double)probe_audit_records(m));
  pthread_mutex_unlock(&m->lock);
  render_room(f, m);
  if (fclose(f) != 0) {
    free(buf);
    return CDR_ERR_NOMEM;
  }
  *text = buf;
  *len = n;
  return 0;
}

/* ---- the listener's one route ---- */

static int route_metrics(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  (void)rq;
  if (host_metrics_render(ctx, &rep->text, &rep->text_len) != 0)
    return http_reply_fail(rep, CDR_ERR_BUSY, "out of memory rendering the metrics");
  rep->content_type = "text/plain; version=0.0.4; charset=utf-8";
  return 0;
}

static const struct http_route metrics_routes[] = {{"GET", "/metrics", route_metrics}};

const struct http_route *host_metrics_routes(size_t *n) {
  *n = sizeof(metrics_routes) / sizeof(metrics_routes[0]);
  return metrics_routes;
}
