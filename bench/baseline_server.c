/*
 * baseline_server.c - the plain endpoint that CDR's query throughput is
 * compared with: HTTP + JSON + SQLite, no crypto, no enclave hop.
 *
 *   baseline_server [--listen HOST:PORT] [--db FILE] [--threads N] [--ready-file PATH]
 *
 * POST /query with {"sql": "<SQL>"} runs the statement and answers
 * {"columns": [...], "rows": [[...], ...], "row_count": n}, the shape of
 * CDR's query result; an SQL error answers 422 {"error","message"}.
 *
 * Built from the libraries cdrd uses and with its threading model
 * (src/host/http.c): libmicrohttpd with an internal polling thread, epoll
 * and a pool of 4 worker threads (cdrd's default), the same connection
 * limits, timeout and per-connection memory; request bodies accumulated
 * into a capped buffer and parsed with jansson; answers rendered with
 * jansson.  Written to be as fast as a plain server reasonably is: each
 * worker thread has its own SQLite connection (opened on first use, no
 * mutex, since MHD never moves a connection between threads), so queries
 * run in parallel where cdrd's run one at a time in the enclave.  With no
 * --db each connection is an empty in-memory database (enough for
 * `SELECT 1`); with --db all open FILE read-only.
 *
 * Not a product: no authentication, no policy, no logging.  It stops on
 * SIGINT or SIGTERM.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* As src/host/http.c. */
#define BASE_THREADS_DEFAULT 4u
#define BASE_CONNECTION_TIMEOUT_S 30u
#define BASE_CONNECTION_LIMIT 256u
#define BASE_PER_IP_LIMIT 64u
#define BASE_CONNECTION_MEMORY (128u * 1024u)
/* A request is {"sql": ...} with at most 64 KiB of SQL, as in CDR. */
#define BASE_MAX_BODY (256u * 1024u)
/* As the engine's result caps (src/common/limits.h). */
#define BASE_MAX_RESULT_ROWS 1000000u
#define BASE_MAX_DBS 1024

static const char *g_db_path; /* NULL: in-memory */

/* Every connection opened, to close them after the daemon has stopped. */
static pthread_mutex_t g_dbs_lock = PTHREAD_MUTEX_INITIALIZER;
static sqlite3 *g_dbs[BASE_MAX_DBS];
static size_t g_ndbs;
static __thread sqlite3 *tl_db;

/* This worker thread's connection, opened on first use; NULL on failure. */
static sqlite3 *thread_db(void) {
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_NOMUTEX | (g_db_path ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY);

  if (tl_db != NULL)
    return tl_db;
  if (sqlite3_open_v2(g_db_path ? g_db_path : ":memory:", &db, flags, NULL) != SQLITE_OK) {
    sqlite3_close(db);
    return NULL;
  }
  pthread_mutex_lock(&g_dbs_lock);
  if (g_ndbs == BASE_MAX_DBS) {
    pthread_mutex_unlock(&g_dbs_lock);
    sqlite3_close(db);
    return NULL;
  }
  g_dbs[g_ndbs++] = db;
  pthread_mutex_unlock(&g_dbs_lock);
  return tl_db = db;
}

/* Per-request state (MHD's *con_cls): the body so far. */
struct base_req {
  char *body;
  size_t len, cap;
  int too_large;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  struct MHD_Response *resp;
  enum MHD_Result ret;

  json_decref(o);
  if (text == NULL)
    return MHD_NO;
  resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  if (resp == NULL) {
    free(text);
    return MHD_NO;
  }
  (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
  ret = MHD_queue_response(conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, unsigned status, const char *code,
                                   const char *message) {
  json_t *o = json_pack("{s:s, s:s}", "error", code, "message", message);
  if (o == NULL)
    o = json_pack("{s:s, s:s}", "error", code, "message", "(not UTF-8)");
  return answer(conn, status, o);
}

/* One column value as JSON: integers, reals, text, blobs as hex, null. */
static json_t *column_json(sqlite3_stmt *st, int i) {
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_INTEGER: return json_integer(sqlite3_column_int64(st, i));
  case SQLITE_FLOAT: return json_real(sqlite3_column_double(st, i));
  case SQLITE_TEXT:
    return json_stringn((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
  case SQLITE_BLOB: {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    char *s = malloc(2 * n + 1);
    json_t *v;
    if (s == NULL)
      return NULL;
    for (size_t k = 0; k < n; k++) {
      s[2 * k] = hex[p[k] >> 4];
      s[2 * k + 1] = hex[p[k] & 15];
    }
    v = json_stringn(s, 2 * n);
    free(s);
    return v;
  }
  default: return json_null();
  }
}

/* Run sql and answer with its rows. */
static enum MHD_Result run_query(struct MHD_Connection *conn, const char *sql) {
  sqlite3 *db = thread_db();
  sqlite3_stmt *st = NULL;
  json_t *o = NULL, *cols, *rows;
  json_int_t nrows = 0;
  int rc, ncol;

  if (db == NULL)
    return answer_error(conn, 503, "busy", "cannot open the database");
  if (sqlite3_prepare_v3(db, sql, -1, 0, &st, NULL) != SQLITE_OK || st == NULL) {
    sqlite3_finalize(st);
    return answer_error(conn, 422, "sql_error", sqlite3_errmsg(db));
  }
  ncol = sqlite3_column_count(st);
  if ((o = json_object()) == NULL || (cols = json_array()) == NULL || json_object_set_new(o, "columns", cols) != 0 ||
      (rows = json_array()) == NULL || json_object_set_new(o, "rows", rows) != 0)
    goto nomem;
  for (int i = 0; i < ncol; i++)
    if (json_array_append_new(cols, json_string(sqlite3_column_name(st, i))) != 0)
      goto nomem;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    json_t *row = json_array();
    if (row == NULL || json_array_append_new(rows, row) != 0)
      goto nomem;
    for (int i = 0; i < ncol; i++)
      if (json_array_append_new(row, column_json(st, i)) != 0)
        goto nomem;
    if (++nrows > (json_int_t)BASE_MAX_RESULT_ROWS) {
      sqlite3_finalize(st);
      json_decref(o);
      return answer_error(conn, 422, "result_too_large", "the result has too many rows");
    }
  }
  if (rc != SQLITE_DONE) {
    enum MHD_Result ret = answer_error(conn, 422, "sql_error", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    json_decref(o);
    return ret;
  }
  sqlite3_finalize(st);
  if (json_object_set_new(o, "row_count", json_integer(nrows)) != 0)
    goto nomem;
  return answer(conn, 200, o);
nomem:
  sqlite3_finalize(st);
  json_decref(o);
  return answer_error(conn, 503, "busy", "out of memory");
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
  struct base_req *q = *con_cls;
  json_error_t jerr;
  json_t *j;
  const char *sql;
  enum MHD_Result ret;

  if (q == NULL) {
    if (strcmp(url, "/query") != 0)
      return answer_error(conn, 404, "not_found", "no such route");
    if (strcmp(method, "POST") != 0)
      return answer_error(conn, 405, "method_not_allowed", "POST only");
    if ((q = calloc(1, sizeof(*q))) == NULL)
      return MHD_NO;
    *con_cls = q;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (q->too_large || n > BASE_MAX_BODY - q->len) {
      q->too_large = 1;
      return MHD_YES;
    }
    if (q->len + n + 1 > q->cap) {
      size_t cap = q->cap ? q->cap : 1024;
      while (cap < q->len + n + 1)
        cap *= 2;
      char *nb = realloc(q->body, cap);
      if (nb == NULL)
        return MHD_NO;
      q->body = nb;
      q->cap = cap;
    }
    memcpy(q->body + q->len, upload_data, n);
    q->len += n;
    return MHD_YES;
  }
  if (q->too_large)
    return answer_error(conn, 413, "too_large", "request body larger than the limit");
  j = json_loadb(q->body ? q->body : "", q->len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(j) || (sql = json_string_value(json_object_get(j, "sql"))) == NULL) {
    json_decref(j);
    return answer_error(conn, 400, "bad_json", "expected {\"sql\": \"...\"}");
  }
  ret = run_query(conn, sql);
  json_decref(j);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
  struct base_req *q = *con_cls;
  if (q != NULL) {
    free(q->body);
    free(q);
  }
  *con_cls = NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: baseline_server [--listen 127.0.0.1:PORT] [--db FILE] [--threads N] [--ready-file PATH]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *listen = "127.0.0.1:0", *ready = NULL;
  unsigned threads = BASE_THREADS_DEFAULT;
  struct MHD_Daemon *d;
  const union MHD_DaemonInfo *info;
  struct sockaddr_in addr;
  sigset_t stop;
  int sig;

  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc)
      usage();
    if (strcmp(argv[i], "--listen") == 0)
      listen = argv[++i];
    else if (strcmp(argv[i], "--db") == 0)
      g_db_path = argv[++i];
    else if (strcmp(argv[i], "--ready-file") == 0)
      ready = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0)
      threads = (unsigned)strtoul(argv[++i], NULL, 10);
    else
      usage();
  }
  const char *colon = strrchr(listen, ':');
  char host[64];
  if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) || threads == 0 || threads > 256)
    usage();
  memcpy(host, listen, (size_t)(colon - listen));
  host[colon - listen] = '\0';
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)strtoul(colon + 1, NULL, 10));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
    usage();

  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, &on_access,
                       NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
                       MHD_OPTION_CONNECTION_TIMEOUT, BASE_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                       BASE_CONNECTION_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, BASE_PER_IP_LIMIT,
                       MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BASE_CONNECTION_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
                       &on_completed, NULL, MHD_OPTION_END);
  if (d == NULL || (info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
    fprintf(stderr, "baseline_server: cannot listen on %s\n", listen);
    return 1;
  }
  if (ready != NULL) {
    char tmp[4096];
    FILE *f;
    snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
    int ok = (f = fopen(tmp, "w")) != NULL;
    if (ok)
      ok = fprintf(f, "http://%s:%u\n", host, (unsigned)info->port) > 0;
    if (f != NULL && fclose(f) != 0)
      ok = 0;
    if (!ok || rename(tmp, ready) != 0) {
      fprintf(stderr, "baseline_server: cannot write %s: %s\n", ready, strerror(errno));
      MHD_stop_daemon(d);
      return 1;
    }
  }
  while (sigwait(&stop, &sig) != 0)
    ;
  MHD_stop_daemon(d);
  for (size_t i = 0; i < g_ndbs; i++)
    sqlite3_close(g_dbs[i]);
  return 0;
}
