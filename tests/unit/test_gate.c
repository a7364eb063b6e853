/*
 * test_gate.c - the concurrency pieces of the enclave that need no
 * channel (docs/ARCHITECTURE.md, "Concurrency"):
 *   - the per-member cap (gate.c): min(member_queries, max(1, W - 1))
 *     queries of one member, the next refused CDR_ERR_BUSY with its
 *     sentence, other members unaffected, a slot freed by leaving; the
 *     room's limit below the lanes' bound is the cap, above it the lanes
 *     win; no cap with one lane;
 *   - sessions by reference (session.c): a session removed while a lane
 *     holds it stays readable until the last session_put, which frees
 *     it (run under ASan and TSan: a use after free or a race fails);
 *     threads taking and dropping references while another removes and
 *     inserts keep the count exact.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/room_limits.h"
#include "crypto/crypto.h"
#include "enclave/gate.h"
#include "enclave/session.h"
#include "testlib.h"

static struct enclave enc; /* large: not on the stack */

static void test_member_cap(void) {
  char msg[192];
  cdr_room_limits_default(&enc.limits); /* member_queries 4, as in a room that never set it */
  enc.nworkers = 3;
  CHECK(enclave_member_query_cap(&enc) == 2);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), 0);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), 0);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), CDR_ERR_BUSY);
  CHECK(strstr(msg, "you already have 2 queries running in this room") != NULL);
  CHECK_RC(gate_member_enter(&enc, "bob", msg, sizeof(msg)), 0); /* another member is not held back */
  gate_member_leave(&enc, "ana");
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), 0); /* a slot freed */
  gate_member_leave(&enc, "ana");
  gate_member_leave(&enc, "ana");
  gate_member_leave(&enc, "bob");
  enc.nworkers = 2;
  CHECK(enclave_member_query_cap(&enc) == 1);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), 0);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), CDR_ERR_BUSY);
  CHECK(strstr(msg, "you already have 1 query running") != NULL);
  gate_member_leave(&enc, "ana");
  /* The room's limit: below the lanes' bound it is the cap... */
  enc.nworkers = 8;
  CHECK(enclave_member_query_cap(&enc) == 4);
  enc.limits.member_queries = 1;
  CHECK(enclave_member_query_cap(&enc) == 1);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), 0);
  CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), CDR_ERR_BUSY);
  CHECK(strstr(msg, "you already have 1 query running") != NULL);
  CHECK_RC(gate_member_enter(&enc, "bob", msg, sizeof(msg)), 0);
  gate_member_leave(&enc, "ana");
  gate_member_leave(&enc, "bob");
  /* ...above it the lanes win: one lane stays free for the others. */
  enc.limits.member_queries = 64;
  CHECK(enclave_member_query_cap(&enc) == 7);
  enc.nworkers = 1;
  CHECK(enclave_member_query_cap(&enc) == 1);
  enc.limits.member_queries = 4;
  enc.nworkers = 0; /* one lane: requests run one at a time, no cap */
  CHECK(enclave_member_query_cap(&enc) == ENCLAVE_MEMBER_QUERIES_UNLIMITED);
  for (int i = 0; i < 5; i++)
    CHECK_RC(gate_member_enter(&enc, "ana", msg, sizeof(msg)), 0);
}

static struct session *make(void) {
  struct session *s = session_new();
  if (s == NULL || cdr_random(s->id, sizeof(s->id)) != 0)
    abort();
  memset(s->cert_fp, s->id[0], sizeof(s->cert_fp));
  snprintf(s->name, sizeof(s->name), "user-%02x", s->id[0]);
  s->expires_at = 1 << 30;
  return s;
}

static struct session_table table;

static void test_reference_outlives_removal(void) {
  struct session *s = make();
  uint8_t id[CDR_SESSION_ID_LEN];
  char name[sizeof(s->name)];
  memcpy(id, s->id, sizeof(id));
  memcpy(name, s->name, sizeof(name));
  CHECK_RC(session_table_insert(&table, s, 0), 0);
  struct session *held = session_table_get(&table, id);
  CHECK(held == s);
  session_table_remove(&table, id); /* revoked, say, while a request runs */
  CHECK(session_table_get(&table, id) == NULL);
  CHECK(!session_table_alive(&table, id, 0));
  CHECK(strcmp(held->name, name) == 0); /* still readable by its holder */
  session_put(&table, held);            /* the last holder frees it */
  CHECK(table.count == 0);
}

/* The ids the readers look up: written before they start, read-only
 * while they run (the table's current ids are the main thread's own). */
struct churn {
  uint8_t ids[64][CDR_SESSION_ID_LEN];
};

static void *reader(void *arg) {
  struct churn *c = arg;
  for (int round = 0; round < 2000; round++) {
    struct session *s = session_table_get(&table, c->ids[round % 64]);
    if (s != NULL) {
      pthread_mutex_lock(&s->busy);
      if (strncmp(s->name, "user-", 5) != 0)
        abort();
      pthread_mutex_unlock(&s->busy);
      session_put(&table, s);
    }
  }
  return NULL;
}

static void test_churn(void) {
  static struct churn c;
  static uint8_t now[64][CDR_SESSION_ID_LEN]; /* the table's ids: this thread's */
  pthread_t t[3];
  for (int i = 0; i < 64; i++) {
    struct session *s = make();
    memcpy(c.ids[i], s->id, CDR_SESSION_ID_LEN);
    memcpy(now[i], s->id, CDR_SESSION_ID_LEN);
    CHECK_RC(session_table_insert(&table, s, 0), 0);
  }
  for (int i = 0; i < 3; i++)
    CHECK(pthread_create(&t[i], NULL, reader, &c) == 0);
  /* Meanwhile: remove every other session (the readers still look it
   * up) and put new ones in. */
  for (int i = 0; i < 64; i += 2) {
    session_table_remove(&table, now[i]);
    struct session *s = make();
    memcpy(now[i], s->id, CDR_SESSION_ID_LEN);
    CHECK_RC(session_table_insert(&table, s, 0), 0);
  }
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  CHECK(table.count == 64);
  for (int i = 0; i < 64; i++)
    CHECK(session_table_alive(&table, now[i], 0));
  session_table_clear(&table);
  CHECK(table.count == 0);
}

int main(void) {
  test_member_cap();
  test_reference_outlives_removal();
  test_churn();
  return test_summary("test_gate");
}
