/*
 * test_pagevfs.c - the shared in-memory VFS (src/enclave/pagevfs.c):
 *   - one database seen by several connections, with the same answers as
 *     an ordinary in-memory SQLite database built the same way;
 *   - readers on threads of their own (pages mapped, not copied) while a
 *     writer commits batches, kept apart by a readers-writer lock as the
 *     enclave's room gate does: no reader ever sees half a batch;
 *   - memdb's lock rules: a writer's commit is refused (SQLITE_BUSY)
 *     while another connection reads, and goes through after;
 *   - page accounting: the store holds exactly the database's pages, and
 *     every block is freed when the last connection closes;
 *   - a write that fails half-way for want of memory leaves the previous
 *     database (its journal is hot and played back);
 *   - every block is wiped before it is freed (an allocator wrapper counts
 *     the page-size blocks freed all zero: at least the database's pages,
 *     which held rows).
 * Run under TSan by make test-tsan.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enclave/pagevfs.h"
#include "testlib.h"

#define MARKER "pagevfs-marker-7f3a"

/* ---- an allocator wrapper that inspects freed blocks ---- */
static sqlite3_mem_methods sys_mem;
static pthread_mutex_t freed_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long freed_zero; /* blocks of PAGEVFS_BLOCK bytes freed all zero */

static void spy_free(void *p) {
  if (p != NULL && sys_mem.xSize(p) == (int)PAGEVFS_BLOCK) {
    static const unsigned char zero[PAGEVFS_BLOCK];
    int z = memcmp(p, zero, PAGEVFS_BLOCK) == 0;
    pthread_mutex_lock(&freed_lock);
    freed_zero += (unsigned long)z;
    pthread_mutex_unlock(&freed_lock);
  }
  sys_mem.xFree(p);
}

static void install_spy(void) {
  sqlite3_mem_methods spy;
  CHECK(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sys_mem) == SQLITE_OK);
  spy = sys_mem;
  spy.xFree = spy_free;
  CHECK(sqlite3_config(SQLITE_CONFIG_MALLOC, &spy) == SQLITE_OK);
}

/* ---- helpers ---- */

static sqlite3 *open_db(const char *name, int mmap) {
  sqlite3 *db = NULL;
  int rc = name != NULL ? sqlite3_open_v2(name, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                          PAGEVFS_NAME)
                        : sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  CHECK(rc == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL) == SQLITE_OK);
  if (mmap)
    CHECK(sqlite3_exec(db, "PRAGMA mmap_size = 1073741824", NULL, NULL, NULL) == SQLITE_OK);
  return db;
}

static int exec(sqlite3 *db, const char *sql) { return sqlite3_exec(db, sql, NULL, NULL, NULL); }

static sqlite3_int64 one_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  sqlite3_int64 v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static char *one_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *v = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_text(st, 0) != NULL)
    v = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

/* Rows [from, to) of table t: a, v = a * 7 % 1000 - 500, a text with the
 * marker, long enough to spread the table over many pages. */
static int fill(sqlite3 *db, int from, int to) {
  char sql[512];
  snprintf(sql, sizeof(sql),
           "WITH RECURSIVE c(a) AS (SELECT %d UNION ALL SELECT a + 1 FROM c WHERE a + 1 < %d) "
           "INSERT INTO t SELECT a, a * 7 %% 1000 - 500, printf('%%s-%%d-%%.*c', '" MARKER "', a, 200, 'x') FROM c",
           from, to);
  return exec(db, sql);
}

#define DIGEST_SQL                                                                                                    \
  "SELECT count(*) || ':' || total(v) || ':' || total(a * v) || ':' || total(length(s)) || ':' || min(s) || ':' " \
  "|| max(s) FROM t"

/* ---- same answers as an ordinary database ---- */
static void test_same_answers(void) {
  sqlite3 *w = open_db("same", 0), *r = open_db("same", 1), *ref = open_db(NULL, 0);
  CHECK(exec(w, "CREATE TABLE t(a INTEGER PRIMARY KEY, v INTEGER, s TEXT); CREATE INDEX tv ON t(v)") == SQLITE_OK);
  CHECK(exec(ref, "CREATE TABLE t(a INTEGER PRIMARY KEY, v INTEGER, s TEXT); CREATE INDEX tv ON t(v)") == SQLITE_OK);
  CHECK(fill(w, 0, 5000) == SQLITE_OK && fill(ref, 0, 5000) == SQLITE_OK);
  CHECK(exec(w, "DELETE FROM t WHERE a % 3 = 0; UPDATE t SET v = v + 1 WHERE a % 5 = 0") == SQLITE_OK);
  CHECK(exec(ref, "DELETE FROM t WHERE a % 3 = 0; UPDATE t SET v = v + 1 WHERE a % 5 = 0") == SQLITE_OK);
  char *a = one_text(r, DIGEST_SQL), *b = one_text(ref, DIGEST_SQL);
  char *ai = one_text(r, "SELECT group_concat(a) FROM (SELECT a FROM t WHERE v BETWEEN -10 AND 10 ORDER BY v, a)");
  char *bi = one_text(ref, "SELECT group_concat(a) FROM (SELECT a FROM t WHERE v BETWEEN -10 AND 10 ORDER BY v, a)");
  CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
  CHECK(ai != NULL && bi != NULL && strcmp(ai, bi) == 0);
  char *ok = one_text(r, "PRAGMA integrity_check");
  CHECK(ok != NULL && strcmp(ok, "ok") == 0);
  free(a);
  free(b);
  free(ai);
  free(bi);
  free(ok);
  /* The reader maps pages: while a statement has a row, pages are mapped. */
  struct pagevfs_stats s;
  sqlite3_stmt *st = NULL;
  CHECK(sqlite3_prepare_v2(r, "SELECT s FROM t", -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_RC(pagevfs_stats("same", &s), 0);
  CHECK(s.mapped > 0 && s.readers == 1 && s.writer == 0);
  sqlite3_finalize(st);
  CHECK_RC(pagevfs_stats("same", &s), 0);
  CHECK(s.mapped == 0 && s.readers == 0);
  sqlite3_close(w);
  sqlite3_close(r);
  sqlite3_close(ref);
}

/* ---- lock rules ---- */
static void test_lock_rules(void) {
  sqlite3 *w = open_db("locks", 0), *r = open_db("locks", 1);
  sqlite3_stmt *st = NULL;
  CHECK(exec(w, "CREATE TABLE t(a INTEGER PRIMARY KEY, v INTEGER, s TEXT)") == SQLITE_OK);
  CHECK(fill(w, 0, 100) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(r, "SELECT a FROM t", -1, &st, NULL) == SQLITE_OK);
  CHECK(sqlite3_step(st) == SQLITE_ROW); /* r holds SHARED */
  CHECK(fill(w, 100, 200) == SQLITE_BUSY);
  sqlite3_finalize(st);
  CHECK(fill(w, 100, 200) == SQLITE_OK);
  CHECK(one_int(r, "SELECT count(*) FROM t") == 200);
  sqlite3_close(r);
  sqlite3_close(w);
}

/* ---- readers and a writer under a gate ---- */
#define READERS 3
#define BATCH 50
#define BATCHES 40

static pthread_rwlock_t gate; /* writer-preferring: readers that loop would starve glibc's default */
static int writer_done; /* under gate */

struct reader {
  sqlite3 *db;
  unsigned long reads, torn, shrank;
};

static void *reader_main(void *arg) {
  struct reader *rd = arg;
  sqlite3_int64 last = 0;
  for (;;) {
    pthread_rwlock_rdlock(&gate);
    int done = writer_done;
    sqlite3_stmt *st = NULL;
    /* a batch inserts BATCH rows whose v sum to zero */
    if (sqlite3_prepare_v2(rd->db, "SELECT count(*), total(v), count(DISTINCT b) FROM t", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      sqlite3_int64 n = sqlite3_column_int64(st, 0);
      if (n % BATCH != 0 || sqlite3_column_double(st, 1) != 0.0 || sqlite3_column_int64(st, 2) * BATCH != n)
        rd->torn++;
      if (n < last)
        rd->shrank++;
      last = n;
      rd->reads++;
    } else {
      rd->torn++;
    }
    sqlite3_finalize(st);
    pthread_rwlock_unlock(&gate);
    if (done)
      return NULL;
  }
}

static void test_readers_and_writer(void) {
  sqlite3 *w = open_db("gate", 0), *ref = open_db(NULL, 0);
  struct reader rd[READERS];
  pthread_t th[READERS];
  const char *schema = "CREATE TABLE t(a INTEGER PRIMARY KEY, b INTEGER, v INTEGER, s TEXT)";
  CHECK(exec(w, schema) == SQLITE_OK && exec(ref, schema) == SQLITE_OK);
  pthread_rwlockattr_t ga;
  CHECK(pthread_rwlockattr_init(&ga) == 0);
  CHECK(pthread_rwlockattr_setkind_np(&ga, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) == 0);
  CHECK(pthread_rwlock_init(&gate, &ga) == 0);
  pthread_rwlockattr_destroy(&ga);
  memset(rd, 0, sizeof(rd));
  for (int i = 0; i < READERS; i++) {
    rd[i].db = open_db("gate", 1);
    CHECK(pthread_create(&th[i], NULL, reader_main, &rd[i]) == 0);
  }
  for (int b = 0; b < BATCHES; b++) {
    char sql[512];
    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE c(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM c WHERE k + 1 < %d) "
             "INSERT INTO t SELECT %d * %d + k, %d, CASE WHEN k %% 2 = 0 THEN k + 1 ELSE -k END, "
             "printf('%%s-%%.*c', '" MARKER "', 300 + k, 'y') FROM c",
             BATCH, b, BATCH, b);
    pthread_rwlock_wrlock(&gate);
    CHECK(exec(w, sql) == SQLITE_OK);
    if (b == BATCHES - 1)
      writer_done = 1;
    pthread_rwlock_unlock(&gate);
    CHECK(exec(ref, sql) == SQLITE_OK);
  }
  unsigned long reads = 0;
  for (int i = 0; i < READERS; i++) {
    CHECK(pthread_join(th[i], NULL) == 0);
    CHECK(rd[i].torn == 0);
    CHECK(rd[i].shrank == 0);
    reads += rd[i].reads;
  }
  CHECK(reads >= READERS); /* each read at least once, the last after the writer */
  char *a = one_text(rd[0].db, "SELECT count(*) || ':' || total(v) || ':' || total(length(s)) FROM t");
  char *b = one_text(ref, "SELECT count(*) || ':' || total(v) || ':' || total(length(s)) FROM t");
  CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
  free(a);
  free(b);
  for (int i = 0; i < READERS; i++)
    sqlite3_close(rd[i].db);
  sqlite3_close(w);
  sqlite3_close(ref);
}

/* ---- page accounting and wiping ---- */
static void test_accounting_and_wipe(void) {
  uint64_t before = pagevfs_blocks_total();
  unsigned long zero0;
  struct pagevfs_stats s;
  sqlite3 *w = open_db("acct", 0), *r = open_db("acct", 1);
  CHECK(exec(w, "CREATE TABLE t(a INTEGER PRIMARY KEY, v INTEGER, s TEXT)") == SQLITE_OK);
  CHECK(fill(w, 0, 3000) == SQLITE_OK);
  sqlite3_int64 pages = one_int(r, "PRAGMA page_count"), psize = one_int(r, "PRAGMA page_size");
  CHECK(psize == (sqlite3_int64)PAGEVFS_BLOCK);
  CHECK_RC(pagevfs_stats("acct", &s), 0);
  CHECK(pages > 100 && s.size == (uint64_t)(pages * psize) && s.blocks == (uint64_t)pages);
  CHECK(pagevfs_blocks_total() == before + (uint64_t)pages); /* the journal is gone with its commit */
  CHECK_RC(pagevfs_stats("acct-journal", &s), CDR_ERR_NOT_FOUND);
  pthread_mutex_lock(&freed_lock);
  zero0 = freed_zero;
  pthread_mutex_unlock(&freed_lock);
  sqlite3_close(r);
  CHECK_RC(pagevfs_stats("acct", &s), 0); /* still open by w */
  sqlite3_close(w);
  CHECK_RC(pagevfs_stats("acct", &s), CDR_ERR_NOT_FOUND);
  CHECK(pagevfs_blocks_total() == before);
  /* The database's pages were full of rows: each was freed wiped.  (SQLite
   * frees page-size scratch buffers of its own too, unwiped: in the
   * enclave wipe_alloc.c wipes those.) */
  pthread_mutex_lock(&freed_lock);
  CHECK(freed_zero - zero0 >= (unsigned long)pages);
  pthread_mutex_unlock(&freed_lock);
}

/* ---- a write that fails half-way ---- */
static void test_failed_write(void) {
  sqlite3 *w = open_db("fail", 0), *r = open_db("fail", 1);
  CHECK(exec(w, "PRAGMA cache_size = 8") == SQLITE_OK); /* spill to the file inside the transaction */
  CHECK(exec(w, "CREATE TABLE t(a INTEGER PRIMARY KEY, v INTEGER, s TEXT)") == SQLITE_OK);
  CHECK(fill(w, 0, 1000) == SQLITE_OK);
  char *before = one_text(r, DIGEST_SQL);
  sqlite3_int64 used = sqlite3_memory_used();
  sqlite3_hard_heap_limit64(used + 1024 * 1024);
  int rc = exec(w, "BEGIN; UPDATE t SET s = s || 'z'; ");
  if (rc == SQLITE_OK)
    rc = fill(w, 1000, 40000);
  CHECK(rc != SQLITE_OK);
  (void)exec(w, "ROLLBACK");
  sqlite3_hard_heap_limit64(0);
  char *after_r = one_text(r, DIGEST_SQL), *after_w = one_text(w, DIGEST_SQL);
  CHECK(before != NULL && after_r != NULL && strcmp(before, after_r) == 0);
  CHECK(after_w != NULL && strcmp(before, after_w) == 0);
  char *ok = one_text(r, "PRAGMA integrity_check");
  CHECK(ok != NULL && strcmp(ok, "ok") == 0);
  CHECK(fill(w, 1000, 1100) == SQLITE_OK); /* and it takes writes again */
  CHECK(one_int(r, "SELECT count(*) FROM t") == 1100);
  free(before);
  free(after_r);
  free(after_w);
  free(ok);
  sqlite3_close(r);
  sqlite3_close(w);
}

/* ---- what the VFS refuses ---- */
static void test_refusals(void) {
  sqlite3 *db = NULL;
  char longname[PAGEVFS_MAX_NAME + 2];
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  CHECK(sqlite3_open_v2(longname, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, PAGEVFS_NAME) == SQLITE_CANTOPEN);
  sqlite3_close(db);
  db = NULL;
  /* a name nobody created cannot be opened without CREATE */
  CHECK(sqlite3_open_v2("nobody", &db, SQLITE_OPEN_READWRITE, PAGEVFS_NAME) == SQLITE_CANTOPEN);
  sqlite3_close(db);
  db = open_db("nowal", 0);
  char *mode = one_text(db, "PRAGMA journal_mode = WAL");
  CHECK(mode != NULL && strcmp(mode, "wal") != 0);
  free(mode);
  sqlite3_close(db);
}

int main(void) {
  install_spy();
  CHECK_RC(pagevfs_register(), 0);
  CHECK_RC(pagevfs_register(), 0); /* idempotent */
  test_same_answers();
  test_lock_rules();
  test_readers_and_writer();
  test_accounting_and_wipe();
  test_failed_write();
  test_refusals();
  CHECK(pagevfs_blocks_total() == 0);
  return test_summary("pagevfs");
}
