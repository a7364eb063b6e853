/*
 * test_session.c - the enclave's session table: lookups after many
 * inserts and removals (checked against a plain list), expiry, the
 * global cap with fair-share eviction, and the per-certificate cap with
 * eviction of the oldest.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "enclave/session.h"
#include "testlib.h"

static struct session_table table;

static struct session *make(uint8_t cert, int64_t expires) {
  struct session *s = session_new();
  if (s == NULL || cdr_random(s->id, sizeof(s->id)) != 0)
    abort();
  /* Make collisions of the home slot frequent to exercise probing. */
  s->id[1] &= 0x01;
  s->id[2] = s->id[3] = 0;
  memset(s->cert_fp, cert, sizeof(s->cert_fp));
  s->expires_at = expires;
  return s;
}

int main(void) {
  enum { N = 3000 };
  static uint8_t ids[N][CDR_SESSION_ID_LEN];
  static int live[N];
  int64_t now = 1000;
  /* Many certificates (so that no per-cert cap applies), then random removals. */
  for (int i = 0; i < N; i++) {
    struct session *s = make((uint8_t)(i % 200), now + 100 + i);
    memcpy(ids[i], s->id, CDR_SESSION_ID_LEN);
    CHECK_RC(session_table_insert(&table, s, now), 0);
    live[i] = 1;
  }
  CHECK(table.count == N);
  for (int i = 0; i < N; i += 3) {
    session_table_remove(&table, ids[i]);
    live[i] = 0;
  }
  int all_found = 1;
  for (int i = 0; i < N; i++) {
    struct session *s = session_table_find(&table, ids[i]);
    if ((s != NULL) != live[i])
      all_found = 0;
  }
  CHECK(all_found);
  /* Expiry removes exactly those expired at `now`. */
  session_table_expire(&table, now + 100 + N / 2);
  all_found = 1;
  size_t expect = 0;
  for (int i = 0; i < N; i++) {
    int should = live[i] && (now + 100 + i) > now + 100 + N / 2;
    expect += should;
    if ((session_table_find(&table, ids[i]) != NULL) != should)
      all_found = 0;
  }
  CHECK(all_found);
  CHECK(table.count == expect);
  session_table_clear(&table);
  CHECK(table.count == 0);

  /* Per-certificate cap: the 33rd session of one certificate evicts its oldest. */
  uint8_t first[CDR_SESSION_ID_LEN], second[CDR_SESSION_ID_LEN];
  for (unsigned i = 0; i < CDR_MAX_SESSIONS_PER_CERT; i++) {
    struct session *s = make(7, now + 10 + i);
    if (i == 0)
      memcpy(first, s->id, sizeof(first));
    if (i == 1)
      memcpy(second, s->id, sizeof(second));
    CHECK_RC(session_table_insert(&table, s, now), 0);
  }
  struct session *other = make(8, now + 5);
  CHECK_RC(session_table_insert(&table, other, now), 0);
  CHECK(table.count == CDR_MAX_SESSIONS_PER_CERT + 1);
  CHECK_RC(session_table_insert(&table, make(7, now + 500), now), 0);
  CHECK(table.count == CDR_MAX_SESSIONS_PER_CERT + 1);
  CHECK(session_table_find(&table, first) == NULL);   /* the oldest of cert 7 went */
  CHECK(session_table_find(&table, second) != NULL);
  CHECK(session_table_find(&table, other->id) != NULL); /* another cert's older session stays */
  session_table_clear(&table);

  /* Global cap, fair share: a table full of a few certificates' live
   * sessions gives way to a newcomer, taking the oldest session of the
   * certificate that holds the most. */
  uint8_t heavy_oldest[CDR_SESSION_ID_LEN];
  for (unsigned i = 0; i < CDR_MAX_SESSIONS; i++) {
    /* cert 0 holds 32, the other 4064 sessions spread over 250 certs */
    struct session *s = make(i < 32 ? 0 : (uint8_t)(1 + i % 250), now + 1000 + i);
    if (i == 0)
      memcpy(heavy_oldest, s->id, sizeof(heavy_oldest));
    if (session_table_insert(&table, s, now) != 0)
      abort();
  }
  CHECK(table.count == CDR_MAX_SESSIONS);
  struct session *newcomer = make(251, now + 5000);
  CHECK_RC(session_table_insert(&table, newcomer, now), 0);
  CHECK(table.count == CDR_MAX_SESSIONS);
  CHECK(session_table_find(&table, heavy_oldest) == NULL); /* cert 0's oldest went */
  CHECK(session_table_find(&table, newcomer->id) != NULL);
  session_table_clear(&table);

  /* A table full of distinct certificates (one session each, the fair
   * share) stays full: too_many_sessions; expired ones make room. */
  for (unsigned i = 0; i < CDR_MAX_SESSIONS; i++) {
    struct session *s = make(0, i < 10 ? now + 1 : now + 1000);
    s->cert_fp[0] = (uint8_t)(i >> 8);
    s->cert_fp[1] = (uint8_t)i;
    if (session_table_insert(&table, s, now) != 0)
      abort();
  }
  struct session *extra = make(0xee, now + 1000);
  CHECK_RC(session_table_insert(&table, extra, now), CDR_ERR_SESSION_LIMIT);
  CHECK_RC(session_table_insert(&table, extra, now + 2), 0); /* ten expired sessions dropped */
  CHECK(table.count == CDR_MAX_SESSIONS - 10 + 1);
  session_table_clear(&table);
  return test_summary("test_session");
}
