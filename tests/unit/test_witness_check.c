/*
 * test_witness_check.c - the client's judgment of the witnesses' answers
 * (src/client/witness_check.c) against a verified log, on synthetic
 * reports: which witnesses confirm, up to where a quorum confirms, a head
 * beyond the log or forking it (history_rollback, naming the witness and
 * both heads), a head before the entries read (answered, not checked), a
 * head of another enclave identity (not even an answer toward the
 * quorum), too few answers (witness_unavailable);
 * and the quorum arithmetic of the contract (q = ceil((n + f + 1) / 2)).
 * The network half (asking, the signature and nonce checks) is
 * tests/integration/test_witness_client.sh; the message checks
 * themselves are test_witness_msg.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/witness_check.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "testlib.h"

static const uint8_t OURS[4] = {1, 2, 3, 4}, THEIRS[4] = {9, 9, 9, 9};

/* The log: head(size) = SHA-256 of "head <size>", readable from `from`. */
struct log {
  uint64_t from;
};

static void head_of(uint64_t size, uint8_t out[32]) {
  char s[64];
  snprintf(s, sizeof(s), "head %llu", (unsigned long long)size);
  if (cdr_sha256(out, s, strlen(s)) != 0)
    memset(out, 0, 32);
}

static int head_at(void *ctx, uint64_t size, uint8_t out[CDR_WITNESS_HASH_LEN]) {
  const struct log *l = ctx;
  if (size < l->from)
    return 0;
  head_of(size, out);
  return 1;
}

static struct cdr_witness_report *round_new(struct cdr_witness_round *r, size_t n, unsigned f) {
  struct cdr_contract c;
  memset(&c, 0, sizeof(c));
  c.n_witnesses = n;
  c.witness_faults = f;
  memset(r, 0, sizeof(*r));
  r->n = n;
  r->f = f;
  r->quorum = cdr_contract_witness_quorum(&c);
  r->w = calloc(n, sizeof(*r->w));
  for (size_t i = 0; r->w != NULL && i < n; i++) {
    r->w[i].url = i == 0 ? "https://w0.example" : i == 1 ? "https://w1.example" : "https://wn.example";
    memset(r->w[i].key_sha256, (int)(0x10 + i), 32);
  }
  return r->w;
}

/* Witness i answered with a head of `size` (hash of the log's, or `other`)
 * signed by identity `id`. */
static void held(struct cdr_witness_report *w, uint64_t size, int other, const uint8_t id[4]) {
  w->status = CDR_WITNESS_CONFIRMED;
  w->answer.head.size = size;
  head_of(other ? size + 1000 : size, w->answer.head.head);
  w->answer.head.sig_len = 70;
  memcpy(w->answer.identity_spki, id, 4);
  w->answer.identity_spki_len = 4;
}

static void test_quorum(void) {
  struct cdr_contract c;
  static const size_t n[] = {0, 1, 3, 4, 7, 16}, q[] = {0, 1, 2, 3, 5, 0};
  static const unsigned f[] = {0, 0, 0, 1, 2, 5};
  memset(&c, 0, sizeof(c));
  for (size_t i = 0; i < 5; i++) {
    c.n_witnesses = n[i];
    c.witness_faults = f[i];
    CHECK(cdr_contract_witness_quorum(&c) == q[i]);
  }
  c.n_witnesses = 16; /* n = 3f + 1: ceil(22 / 2) = 11 */
  c.witness_faults = 5;
  CHECK(cdr_contract_witness_quorum(&c) == 11);
}

static void test_confirmed(struct cdr_client *c) {
  struct cdr_witness_round r;
  struct log l = {0};
  struct cdr_witness_report *w = round_new(&r, 3, 0);
  uint64_t sizes[3];
  size_t ns = 0;
  held(&w[0], 5, 0, OURS);
  held(&w[1], 9, 0, OURS);
  held(&w[2], 7, 0, OURS);
  cdr_witness_round_sizes(&r, OURS, 4, sizes, &ns);
  CHECK(ns == 3 && sizes[0] == 5 && sizes[1] == 9 && sizes[2] == 7);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), 0);
  CHECK(r.answered == 3 && r.confirmed == 3);
  CHECK(r.quorum_size == 7); /* 9 and 7 hold entries 0..6: two of three */
  CHECK(w[1].status == CDR_WITNESS_CONFIRMED);
  /* A head at the log's very end confirms the whole log. */
  held(&w[0], 10, 0, OURS);
  held(&w[2], 10, 0, OURS);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), 0);
  CHECK(r.quorum_size == 10);
  cdr_witness_round_free(&r);
}

static void test_rollback(struct cdr_client *c) {
  struct cdr_witness_round r;
  struct log l = {0};
  struct cdr_witness_report *w = round_new(&r, 4, 1);
  char fp[65];
  held(&w[0], 5, 0, OURS);
  held(&w[1], 12, 0, OURS); /* beyond a log of 10 */
  w[2].status = CDR_WITNESS_UNREACHABLE;
  held(&w[3], 6, 0, OURS);
  cdr_client_clear_error(c);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), CDR_ERR_HISTORY_ROLLBACK);
  cdr_hex_encode(fp, w[1].key_sha256, 32);
  CHECK_CONTAINS(c->detail, "witness https://w1.example (key ");
  CHECK_CONTAINS(c->detail, fp);
  CHECK_CONTAINS(c->detail, "holds head size 12 hash ");
  CHECK_CONTAINS(c->detail, "beyond the log (size 10, head ");
  CHECK_CONTAINS(c->detail, "rolled back");
  CHECK(w[1].status == CDR_WITNESS_CONTRADICTS && w[0].status == CDR_WITNESS_CONFIRMED);
  /* Another hash at a size the log has: a fork. */
  held(&w[1], 8, 1, OURS);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), CDR_ERR_HISTORY_ROLLBACK);
  CHECK_CONTAINS(c->detail, "holds head size 8 hash ");
  CHECK_CONTAINS(c->detail, "where the log (size 10) has hash ");
  CHECK_CONTAINS(c->detail, "forked");
  /* One contradicting head is enough, however many answers are missing. */
  w[0].status = w[3].status = CDR_WITNESS_UNREACHABLE;
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), CDR_ERR_HISTORY_ROLLBACK);
  cdr_witness_round_free(&r);
}

static void test_not_counted(struct cdr_client *c) {
  struct cdr_witness_round r;
  struct log l = {4}; /* entries read from 4 on (--from 4) */
  struct cdr_witness_report *w = round_new(&r, 4, 1);
  held(&w[0], 9, 0, OURS);
  held(&w[1], 12, 1, THEIRS); /* another identity: beyond the log, but not ours to judge */
  held(&w[2], 2, 1, OURS);    /* before the entries read: not checked */
  w[3].status = CDR_WITNESS_HOLDS_NOTHING;
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), 0);
  CHECK(w[1].status == CDR_WITNESS_OTHER_IDENTITY && w[2].status == CDR_WITNESS_UNCHECKED);
  CHECK(r.answered == 3 && r.confirmed == 1 && r.quorum_size == 0);
  /* A witness whose answer was refused (replayed, forged) does not count:
   * with one unreachable, two answers are fewer than a quorum of 3. */
  w[1].status = CDR_WITNESS_REFUSED;
  w[3].status = CDR_WITNESS_UNREACHABLE;
  cdr_client_clear_error(c);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK_CONTAINS(c->detail, "only 2 of the room's 4 witnesses answered (a quorum is 3): the room's history");
  cdr_witness_round_free(&r);
}

/* Witnesses holding heads another identity signed (a host's own enclave,
 * which the witnesses accepted) are no quorum for this one: two of ours
 * and two of theirs, quorum 3, is witness_unavailable, naming them. */
static void test_other_identity_no_quorum(struct cdr_client *c) {
  struct cdr_witness_round r;
  struct log l = {0};
  struct cdr_witness_report *w = round_new(&r, 4, 1);
  held(&w[0], 9, 0, OURS);
  held(&w[1], 3, 1, THEIRS);
  held(&w[2], 8, 0, OURS);
  held(&w[3], 4, 1, THEIRS);
  cdr_client_clear_error(c);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK(r.answered == 2 && r.confirmed == 2);
  CHECK(w[1].status == CDR_WITNESS_OTHER_IDENTITY && w[3].status == CDR_WITNESS_OTHER_IDENTITY);
  CHECK_CONTAINS(c->detail, "only 2 of the room's 4 witnesses answered (a quorum is 3); 2 more hold a head of "
                            "another enclave identity, which counts for nothing: ");
  /* A third of ours makes the quorum; theirs still count for nothing. */
  held(&w[3], 10, 0, OURS);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), 0);
  CHECK(r.answered == 3 && r.confirmed == 3 && r.quorum_size == 8);
  cdr_witness_round_free(&r);
}

static void test_unwitnessed(struct cdr_client *c) {
  struct cdr_witness_round r;
  struct log l = {0};
  round_new(&r, 0, 0);
  CHECK_RC(cdr_witness_round_judge(c, &r, OURS, 4, 10, head_at, &l), 0);
  CHECK(r.answered == 0 && r.quorum == 0);
  cdr_witness_round_free(&r);
}

int main(void) {
  struct cdr_client *c = NULL;
  CHECK_RC(cdr_client_new(&c, "https://127.0.0.1:1"), 0);
  if (c == NULL)
    return test_summary("test_witness_check");
  test_quorum();
  test_confirmed(c);
  test_rollback(c);
  test_not_counted(c);
  test_other_identity_no_quorum(c);
  test_unwitnessed(c);
  cdr_client_free(c);
  return test_summary("test_witness_check");
}
