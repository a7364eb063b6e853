/*
 * load.c - many concurrent clients against one live server for a fixed
 * time, each with its own attested session, through the client library
 * that `cdr` uses.
 *
 *   load URL CA SECONDS CLIENTS UPLOADERS TABLE ROWS PROV_KEY PROV_CERT ANA_KEY ANA_CERT
 *
 * Clients 0 .. UPLOADERS-1 are providers (PROV_KEY/PROV_CERT): each
 * keeps replacing its own small table load_up_<i> (upload_begin, one
 * chunk, upload_commit) and queries it between uploads.  The others are
 * analysts (ANA_KEY/ANA_CERT) that query TABLE, which must exist with
 * ROWS rows of (id INTEGER 1..ROWS, name TEXT 'n<id>', ...) and be
 * readable by the analyst.  Every answer is checked, not only its status:
 * a count must be ROWS, a lookup by id must name that id.
 *
 * UPLOADERS is at most CDR_MAX_UPLOADS: the enclave holds that many
 * uploads at once and answers `busy` past it, which is a limit, not a
 * failure under test.  Tables load_up_* are the tool's own: replaced if
 * they exist, so that repeated runs keep the room's size constant.
 *
 * Prints one line per operation kind ("op: ok=N failed=N max_ms=N"),
 * the first failures with their codes, and exits 0 only if nothing
 * failed and every kind of operation succeeded at least once.  Latency
 * is printed for information only: the machine decides it.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "common/csv.h"
#include "common/limits.h"
#include "crypto/crypto.h"

enum load_op { OP_SESSION, OP_QUERY, OP_UPLOAD, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"session", "query", "upload"};

struct load_stats {
  atomic_ulong ok[OP_COUNT], failed[OP_COUNT];
  atomic_ulong max_ms[OP_COUNT];
  atomic_int reported; /* failures printed so far */
};

struct load_args {
  const char *url, *ca, *table;
  const char *key[2], *cert[2]; /* [0] provider, [1] analyst */
  long rows;
  double seconds;
  struct load_stats *stats;
};

struct load_client {
  const struct load_args *a;
  int index, uploader;
  pthread_t thread;
};

#define LOAD_REPORT_MAX 20
#define LOAD_UPLOAD_ROWS 64

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stat_max(atomic_ulong *m, unsigned long v) {
  unsigned long cur = atomic_load(m);
  while (v > cur && !atomic_compare_exchange_weak(m, &cur, v)) {
  }
}

/* Count one operation of kind op that took [t0, now); r != 0 (or
 * wrong != NULL) is a failure, printed with its code. */
static void record(struct load_stats *st, struct cdr_client *c, int client, enum load_op op, double t0, int r,
                   const char *wrong) {
  unsigned long ms = (unsigned long)((now_s() - t0) * 1000.0);
  stat_max(&st->max_ms[op], ms);
  if (r == 0 && wrong == NULL) {
    atomic_fetch_add(&st->ok[op], 1);
    return;
  }
  atomic_fetch_add(&st->failed[op], 1);
  if (atomic_fetch_add(&st->reported, 1) < LOAD_REPORT_MAX) {
    char text[768];
    if (wrong != NULL)
      snprintf(text, sizeof(text), "%s", wrong);
    else
      cdr_client_error_text(c, r, text, sizeof(text));
    fprintf(stderr, "load: client %d: %s failed after %lu ms: %s (http %ld)\n", client, op_names[op], ms, text,
            c->http_status);
  }
}

/* The only row's first cell of a query answer {"ok":true,"result":
 * {"columns":[...],"rows":[[...]]}}; -1 unless there is exactly one row. */
static int first_cell(const json_t *res, json_t **cell) {
  json_t *rows = json_object_get(json_object_get(res, "result"), "rows"), *row;
  if (!json_is_array(rows) || json_array_size(rows) != 1 || !json_is_array(row = json_array_get(rows, 0)) ||
      json_array_size(row) < 1)
    return -1;
  *cell = json_array_get(row, 0);
  return 0;
}

/* One query of the analysts' mix; *wrong says what was wrong with a
 * successful answer. */
static int analyst_query(struct cdr_client *c, struct cdr_session *s, const struct load_args *a, unsigned *seed,
                         const char **wrong) {
  char sql[256], want[32];
  json_t *res = NULL, *cell = NULL;
  long id = 1 + (long)(rand_r(seed) % (unsigned)a->rows);
  int kind = (int)(rand_r(seed) % 3), r;

  if (kind == 0)
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", a->table);
  else if (kind == 1)
    snprintf(sql, sizeof(sql), "SELECT name FROM %s WHERE id = %ld", a->table, id);
  else
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id <= %ld", a->table, id);
  if ((r = cdr_client_query(c, s, sql, &res)) != 0)
    return r;
  if (first_cell(res, &cell) != 0) {
    *wrong = "the answer does not have exactly one row";
  } else if (kind == 1) {
    snprintf(want, sizeof(want), "n%ld", id);
    if (!json_is_string(cell) || strcmp(json_string_value(cell), want) != 0)
      *wrong = "a lookup by id returned another row";
  } else if (!json_is_integer(cell) || json_integer_value(cell) != (kind == 0 ? a->rows : id)) {
    *wrong = "a count is wrong";
  }
  json_decref(res);
  return 0;
}

/* Replace (or create) this uploader's table with LOAD_UPLOAD_ROWS rows
 * tagged with `round`, in one chunk. */
static int upload_round(struct cdr_client *c, struct cdr_session *s, const char *table, int replace, long round,
                        const struct csv_schema *schema, const char **wrong) {
  char csv[LOAD_UPLOAD_ROWS * 48 + 16], id[CDR_UPLOAD_ID_LEN + 1];
  uint8_t sha[32];
  size_t len = 0;
  json_t *res = NULL;
  int r;

  len += (size_t)snprintf(csv + len, sizeof(csv) - len, "k,v\n");
  for (int i = 0; i < LOAD_UPLOAD_ROWS; i++)
    len += (size_t)snprintf(csv + len, sizeof(csv) - len, "%d,round %ld row %d\n", i, round, i);
  if ((r = cdr_sha256(sha, csv, len)) != 0 ||
      (r = cdr_client_upload_begin(c, s, table, replace, schema, len, id)) != 0 ||
      (r = cdr_client_upload_chunk(c, s, id, 0, csv, len, NULL)) != 0 ||
      (r = cdr_client_upload_commit(c, s, id, 1, len, sha, &res)) != 0)
    return r;
  if (json_integer_value(json_object_get(res, "rows")) != LOAD_UPLOAD_ROWS)
    *wrong = "the commit reports another row count";
  json_decref(res);
  return 0;
}

/* Query this uploader's own table: it holds LOAD_UPLOAD_ROWS rows of
 * the last round. */
static int uploader_query(struct cdr_client *c, struct cdr_session *s, const char *table, long round,
                          const char **wrong) {
  char sql[256], want[64];
  json_t *res = NULL, *cell = NULL;
  int r;

  snprintf(sql, sizeof(sql), "SELECT min(v) FROM %s WHERE k = 0", table);
  if ((r = cdr_client_query(c, s, sql, &res)) != 0)
    return r;
  snprintf(want, sizeof(want), "round %ld row 0", round);
  if (first_cell(res, &cell) != 0 || !json_is_string(cell) || strcmp(json_string_value(cell), want) != 0)
    *wrong = "the table does not hold the last upload";
  json_decref(res);
  return 0;
}

/* Does the table exist?  1 yes, 0 no, negative: the probe failed. */
static int table_exists(struct cdr_client *c, struct cdr_session *s, const char *table) {
  char sql[128];
  json_t *res = NULL;
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
  int r = cdr_client_query(c, s, sql, &res);
  json_decref(res);
  if (r == 0)
    return 1;
  if (r == CDR_ERR_ACCESS_DENIED && strstr(c->remote_message, "no such table") != NULL)
    return 0;
  return r;
}

static void *client_main(void *arg) {
  struct load_client *lc = arg;
  const struct load_args *a = lc->a;
  struct load_stats *st = a->stats;
  struct cdr_client *c = NULL;
  struct cdr_attestation att;
  struct cdr_session *s = NULL;
  struct csv_schema schema;
  char table[64], why[128];
  unsigned seed = (unsigned)lc->index * 7919u + (unsigned)time(NULL);
  int who = lc->uploader ? 0 : 1, r, exists = 0;
  long round = 0;
  double t0, end;

  memset(&att, 0, sizeof(att));
  memset(&schema, 0, sizeof(schema));
  snprintf(table, sizeof(table), "load_up_%d", lc->index);
  if (cdr_client_new(&c, a->url) != 0 || cdr_client_set_ca_file(c, a->ca) != 0 ||
      cdr_client_load_user(c, a->key[who], a->cert[who]) != 0 ||
      csv_schema_parse(&schema, "k INTEGER, v TEXT", why, sizeof(why)) != 0) {
    fprintf(stderr, "load: client %d cannot be set up\n", lc->index);
    atomic_fetch_add(&st->failed[OP_SESSION], 1);
    goto out;
  }
  cdr_client_allow_sim(c, 1);
  t0 = now_s();
  if ((r = cdr_client_attest(c, &att)) == 0)
    r = cdr_session_open(c, &att, &s);
  record(st, c, lc->index, OP_SESSION, t0, r, NULL);
  if (r != 0)
    goto out;
  if (lc->uploader && (exists = table_exists(c, s, table)) < 0) {
    record(st, c, lc->index, OP_QUERY, now_s(), exists, NULL);
    goto out;
  }
  end = now_s() + a->seconds;
  for (unsigned long i = 0; now_s() < end; i++) {
    const char *wrong = NULL;
    t0 = now_s();
    if (!lc->uploader) {
      r = analyst_query(c, s, a, &seed, &wrong);
      record(st, c, lc->index, OP_QUERY, t0, r, wrong);
    } else if (i % 3 == 0) {
      r = upload_round(c, s, table, exists, round + 1, &schema, &wrong);
      record(st, c, lc->index, OP_UPLOAD, t0, r, wrong);
      if (r == 0) {
        round++;
        exists = 1;
      }
    } else if (exists && round > 0) {
      r = uploader_query(c, s, table, round, &wrong);
      record(st, c, lc->index, OP_QUERY, t0, r, wrong);
    } else {
      r = analyst_query(c, s, a, &seed, &wrong);
      record(st, c, lc->index, OP_QUERY, t0, r, wrong);
    }
  }
out:
  csv_schema_free(&schema);
  cdr_session_free(s);
  cdr_attestation_clear(&att);
  cdr_client_free(c);
  return NULL;
}

int main(int argc, char **argv) {
  struct load_stats stats;
  struct load_args a;
  struct load_client *clients;
  long nclients, nup;
  char *end;
  int bad = 0;

  if (argc != 12) {
    fprintf(stderr, "usage: load URL CA SECONDS CLIENTS UPLOADERS TABLE ROWS PROV_KEY PROV_CERT ANA_KEY ANA_CERT\n");
    return 2;
  }
  memset(&stats, 0, sizeof(stats));
  memset(&a, 0, sizeof(a));
  a.url = argv[1];
  a.ca = argv[2];
  a.seconds = strtod(argv[3], &end);
  nclients = strtol(argv[4], NULL, 10);
  nup = strtol(argv[5], NULL, 10);
  a.table = argv[6];
  a.rows = strtol(argv[7], NULL, 10);
  a.key[0] = argv[8];
  a.cert[0] = argv[9];
  a.key[1] = argv[10];
  a.cert[1] = argv[11];
  a.stats = &stats;
  if (a.seconds <= 0 || nclients < 1 || nclients > 512 || nup < 0 || nup > nclients || nup > (long)CDR_MAX_UPLOADS ||
      a.rows < 1) {
    fprintf(stderr, "load: SECONDS > 0, 1 <= CLIENTS <= 512, 0 <= UPLOADERS <= min(CLIENTS, %u), ROWS >= 1\n",
            CDR_MAX_UPLOADS);
    return 2;
  }
  if ((clients = calloc((size_t)nclients, sizeof(*clients))) == NULL)
    return 2;
  for (long i = 0; i < nclients; i++) {
    clients[i].a = &a;
    clients[i].index = (int)i;
    clients[i].uploader = i < nup;
    if (pthread_create(&clients[i].thread, NULL, client_main, &clients[i]) != 0) {
      fprintf(stderr, "load: cannot start client %ld: %s\n", i, strerror(errno));
      nclients = i;
      bad = 1;
      break;
    }
  }
  for (long i = 0; i < nclients; i++)
    pthread_join(clients[i].thread, NULL);
  free(clients);

  printf("load: %ld clients (%ld uploading) for %.0f s\n", nclients, nup, a.seconds);
  for (int op = 0; op < OP_COUNT; op++) {
    unsigned long ok = atomic_load(&stats.ok[op]), failed = atomic_load(&stats.failed[op]);
    printf("%s: ok=%lu failed=%lu max_ms=%lu\n", op_names[op], ok, failed, atomic_load(&stats.max_ms[op]));
    if (failed != 0 || (ok == 0 && (op != OP_UPLOAD || nup > 0)))
      bad = 1;
  }
  return bad ? 1 : 0;
}
