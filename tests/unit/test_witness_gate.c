/*
 * test_witness_gate.c - the enclave's side of the witnesses
 * (src/enclave/witness_gate.c) with in-memory witness answers, and the
 * contract's witness_faults (src/crypto/contract.c):
 *   - the quorum arithmetic, and n >= 3f + 1 in the contract;
 *   - a quorum of countersignatures: forged, foreign, misplaced and
 *     repeated ones count nothing;
 *   - the check at start: the cut-log attack of issue 13 (the log cut
 *     back after witnesses countersigned a longer one) is history_rollback
 *     naming the witness and both heads, also when the host relays to a
 *     quorum of its choice and one witness was restored from an old copy;
 *     a fork; too few answers, replayed, forged or invented ones are
 *     witness_unavailable; a consistent quorum passes.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/audit_chain.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "crypto/witness_msg.h"
#include "enclave/witness_gate.h"
#include "testlib.h"

#define NW 4
#define LOG 12

static uint8_t room[16] = {0x0b, 0x1e, 0x55, 0xed};
static EVP_PKEY *I, *other_I, *W[NW], *stranger;
static uint8_t *ispki;
static size_t ispki_len;
static uint8_t heads[LOG + 1][32];   /* head(i) of the full log */
static uint8_t nonce[32], old_nonce[32];

static EVP_PKEY *ec(void) {
  EVP_PKEY *k = NULL;
  CHECK_RC(cdr_ec_p256_generate(&k), 0);
  return k;
}

static void fp_of(EVP_PKEY *k, uint8_t out[32]) {
  uint8_t *d = NULL;
  size_t n = 0;
  CHECK_RC(cdr_pubkey_to_der(k, &d, &n), 0);
  CHECK_RC(cdr_sha256(out, d, n), 0);
  OPENSSL_free(d);
}

/* The enclave's log, cut to `size` entries (the host's rollback). */
struct cut_log {
  uint64_t size;
};
static int head_at(void *ctx, uint64_t index, uint8_t out[32]) {
  struct cut_log *l = ctx;
  if (index > l->size)
    return CDR_ERR_ARG;
  memcpy(out, heads[index], 32);
  return 0;
}

/* Witnesses sorted by key fingerprint, as the contract lists them. */
static int w_cmp(const void *a, const void *b) {
  uint8_t fa[32], fb[32];
  fp_of(*(EVP_PKEY *const *)a, fa);
  fp_of(*(EVP_PKEY *const *)b, fb);
  return memcmp(fa, fb, 32);
}

static void contract_with(struct cdr_contract *c, size_t n, unsigned f) {
  memset(c, 0, sizeof(*c));
  CHECK_RC(cdr_contract_alloc(c, 1, n), 0);
  memcpy(c->room_id, room, 16);
  c->room_name = strdup("gate room");
  c->version = 1;
  memset(c->ca_sha256, 0xca, 32);
  memcpy(c->platform, "sim", 4);
  c->n_measurements = 1;
  memset(c->measurements[0], 0x11, 32);
  memcpy(c->governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  memset(c->members[0].key_sha256, 0x77, 32);
  c->members[0].name = strdup("Provider");
  c->members[0].roles = CDR_CONTRACT_ROLE_PROVIDER;
  for (size_t i = 0; i < n; i++) {
    char url[64];
    fp_of(W[i], c->witnesses[i].key_sha256);
    snprintf(url, sizeof(url), "https://w%zu.example", i);
    c->witnesses[i].url = strdup(url);
  }
  c->witness_faults = f;
}

static void gate_with(struct witness_gate *g, size_t n, unsigned f) {
  struct cdr_contract c;
  contract_with(&c, n, f);
  CHECK_RC(witness_gate_init(g, &c), 0);
  for (size_t i = 0; i < n; i++) {
    uint8_t *d = NULL;
    size_t len = 0, idx = 99;
    CHECK_RC(cdr_pubkey_to_der(W[i], &d, &len), 0);
    CHECK_RC(witness_gate_set_key(g, d, len, &idx), 0);
    CHECK(idx == i);
    OPENSSL_free(d);
  }
  cdr_contract_free(&c);
}

static void test_quorum_and_contract(void) {
  CHECK(witness_quorum(0, 0) == 0);
  CHECK(witness_quorum(1, 0) == 1);
  CHECK(witness_quorum(3, 0) == 2);
  CHECK(witness_quorum(4, 1) == 3);
  CHECK(witness_quorum(7, 2) == 5);
  CHECK(witness_quorum(10, 3) == 7);
  CHECK(witness_quorum(16, 5) == 11);
  /* Every allowed (n, f): two quorums share f + 1, and n - f reach one. */
  for (size_t n = 1; n <= 16; n++)
    for (unsigned f = 0; 3 * f + 1 <= n; f++) {
      size_t q = witness_quorum(n, f);
      CHECK(2 * q >= n + f + 1 && q <= n - f);
    }

  struct cdr_contract c, back;
  char why[CDR_CONTRACT_WHY_LEN] = "";
  uint8_t *doc = NULL;
  size_t len = 0;
  contract_with(&c, 3, 1);
  CHECK_RC(cdr_contract_validate(&c, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "witness_faults: 1 faulty witnesses need at least 4 witnesses (n >= 3f + 1), not 3");
  struct witness_gate g;
  CHECK_RC(witness_gate_init(&g, &c), CDR_ERR_CONTRACT_INVALID);
  cdr_contract_free(&c);
  contract_with(&c, 4, 1);
  CHECK_RC(cdr_contract_encode(&c, &doc, &len, why, sizeof(why)), 0);
  CHECK(doc != NULL && strstr((char *)doc, ",\"witness_faults\":1,\"witnesses\":[") != NULL);
  CHECK_RC(cdr_contract_parse(doc, len, &back, why, sizeof(why)), 0);
  CHECK(back.witness_faults == 1 && back.n_witnesses == 4);
  cdr_contract_free(&back);
  /* 0 is written by leaving the member out: "witness_faults":0 is refused. */
  char *zero = strdup((char *)doc), *at = strstr(zero, "\"witness_faults\":1");
  at[17] = '0';
  CHECK_RC(cdr_contract_parse((uint8_t *)zero, len, &back, why, sizeof(why)), CDR_ERR_CONTRACT_INVALID);
  CHECK_CONTAINS(why, "witness_faults: 0 is written by leaving the member out");
  free(zero);
  free(doc);
  cdr_contract_free(&c);
  /* No witnesses: the gate is open and says the history is not witnessed. */
  contract_with(&c, 0, 0);
  CHECK_RC(witness_gate_init(&g, &c), 0);
  struct cut_log l = {LOG};
  struct witness_gate_log log = {LOG, head_at, &l, ispki, ispki_len};
  struct witness_gate_verdict v;
  CHECK_RC(witness_gate_start_check(&g, nonce, NULL, &log, &v), 0);
  CHECK_CONTAINS(v.message, "history not witnessed: the operator can roll back activity since the last commit");
  witness_gate_free(&g);
  cdr_contract_free(&c);
}

static void test_set_key(void) {
  struct witness_gate g;
  uint8_t *d = NULL;
  size_t len = 0;
  gate_with(&g, NW, 1);
  CHECK_RC(cdr_pubkey_to_der(stranger, &d, &len), 0);
  CHECK_RC(witness_gate_set_key(&g, d, len, NULL), CDR_ERR_NOT_A_MEMBER);
  OPENSSL_free(d);
  witness_gate_free(&g);
}

static void countersig(struct witness_countersig *cs, struct cdr_buf *buf, EVP_PKEY *w, EVP_PKEY *named,
                       uint64_t size, const uint8_t head[32]) {
  cdr_buf_init(buf, CDR_MAX_SIGNATURE, 0);
  CHECK_RC(cdr_witness_countersign(buf, w, room, size, head), 0);
  fp_of(named, cs->witness_key_sha256);
  cs->sig = buf->d;
  cs->sig_len = buf->len;
}

static void test_confirmed(void) {
  struct witness_gate g;
  struct witness_countersig cs[6];
  struct cdr_buf b[6];
  size_t n = 0;
  gate_with(&g, NW, 1); /* quorum 3 */
  countersig(&cs[0], &b[0], W[0], W[0], LOG, heads[LOG]);
  countersig(&cs[1], &b[1], W[1], W[1], LOG, heads[LOG]);
  countersig(&cs[2], &b[2], stranger, W[2], LOG, heads[LOG]); /* forged: not W[2]'s signature */
  countersig(&cs[3], &b[3], W[3], W[3], LOG - 1, heads[LOG]); /* over another size */
  countersig(&cs[4], &b[4], stranger, stranger, LOG, heads[LOG]); /* not a witness of the room */
  cs[5] = cs[0];                                                  /* witness 0 again */
  b[5].d = NULL;
  CHECK_RC(witness_gate_confirmed(&g, LOG, heads[LOG], cs, 6, &n), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK(n == 2);
  cdr_buf_free(&b[2]);
  countersig(&cs[2], &b[2], W[2], W[2], LOG, heads[LOG]);
  CHECK_RC(witness_gate_confirmed(&g, LOG, heads[LOG], cs, 3, &n), 0);
  CHECK(n == 3);
  /* The same three over another head confirm nothing. */
  CHECK_RC(witness_gate_confirmed(&g, LOG, heads[LOG - 1], cs, 3, &n), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK(n == 0);
  for (int i = 0; i < 5; i++)
    cdr_buf_free(&b[i]);
  witness_gate_free(&g);
  /* Three witnesses, f = 0: a quorum of 2. */
  gate_with(&g, 3, 0);
  countersig(&cs[0], &b[0], W[0], W[0], 5, heads[5]);
  countersig(&cs[1], &b[1], W[2], W[2], 5, heads[5]);
  CHECK_RC(witness_gate_confirmed(&g, 5, heads[5], cs, 2, &n), 0);
  CHECK(n == 2);
  CHECK_RC(witness_gate_confirmed(&g, 5, heads[5], cs, 1, &n), CDR_ERR_WITNESS_UNAVAILABLE);
  cdr_buf_free(&b[0]);
  cdr_buf_free(&b[1]);
  witness_gate_free(&g);
}

/* Witness w's "latest" answer: it holds head(size) (of the full log, or
 * another hash when fork), signed by identity, for the asker's nonce. */
static void latest(struct cdr_witness_latest *a, EVP_PKEY *w, uint64_t size, int fork, EVP_PKEY *identity,
                   const uint8_t *for_nonce) {
  struct cdr_buf t, s;
  uint8_t *spki = NULL;
  size_t spki_len = 0;
  memset(a, 0, sizeof(*a));
  memcpy(a->room_id, room, 16);
  memcpy(a->nonce, for_nonce, 32);
  fp_of(w, a->witness_key_sha256);
  cdr_buf_init(&t, 512, 0);
  cdr_buf_init(&s, CDR_MAX_SIGNATURE, 0);
  if (identity != NULL) {
    a->head.size = size;
    memcpy(a->head.head, heads[size], 32);
    if (fork)
      a->head.head[0] ^= 0xff;
    a->head.time = 1767225600 + size;
    CHECK_RC(cdr_audit_head_transcript(&t, room, 16, a->head.size, a->head.head, a->head.time), 0);
    CHECK_RC(cdr_sign(&s, identity, t.d, t.len), 0);
    memcpy(a->head.sig, s.d, s.len);
    a->head.sig_len = s.len;
    CHECK_RC(cdr_pubkey_to_der(identity, &spki, &spki_len), 0);
    memcpy(a->identity_spki, spki, spki_len);
    a->identity_spki_len = spki_len;
    OPENSSL_free(spki);
  }
  t.len = 0;
  s.len = 0;
  CHECK_RC(cdr_witness_latest_input(&t, room, a->head.size, a->head.head, for_nonce), 0);
  CHECK_RC(cdr_sign(&s, w, t.d, t.len), 0);
  memcpy(a->sig, s.d, s.len);
  a->sig_len = s.len;
  cdr_buf_free(&t);
  cdr_buf_free(&s);
}

static int start(struct witness_gate *g, uint64_t log_size, const struct cdr_witness_latest *const *ans,
                 struct witness_gate_verdict *v) {
  struct cut_log l = {log_size};
  struct witness_gate_log log = {log_size, head_at, &l, ispki, ispki_len};
  return witness_gate_start_check(g, nonce, ans, &log, v);
}

static void test_start(void) {
  static struct cdr_witness_latest a[NW], restored, fork, replayed, invented, forged_w;
  const struct cdr_witness_latest *ans[NW];
  struct witness_gate g;
  struct witness_gate_verdict v;
  char hex[65];
  gate_with(&g, NW, 1); /* quorum 3 */
  for (int i = 0; i < NW; i++)
    latest(&a[i], W[i], LOG, 0, I, nonce);
  latest(&restored, W[3], 8, 0, I, nonce); /* witness 3 restored from an old copy */

  /* Nothing rolled back: all four hold the log's head. */
  for (int i = 0; i < NW; i++)
    ans[i] = &a[i];
  CHECK_RC(start(&g, LOG, ans, &v), 0);
  CHECK(v.answered == 4);
  CHECK_CONTAINS(v.message, "4 of 4 witnesses confirmed the history up to entry 12 (quorum 3)");
  /* A restored witness behind the log is consistent with it. */
  ans[3] = &restored;
  CHECK_RC(start(&g, LOG, ans, &v), 0);

  /* The cut-log attack: the host cuts the log back to 8 entries and
   * relays to any quorum it likes (here: every 3 of 4, witness 3 restored
   * to 8 as well).  Each such quorum holds an honest head of 12. */
  for (int leave_out = 0; leave_out < NW; leave_out++) {
    for (int i = 0; i < NW; i++)
      ans[i] = i == leave_out ? NULL : (i == 3 ? &restored : &a[i]);
    int r = start(&g, 8, ans, &v);
    CHECK_RC(r, CDR_ERR_HISTORY_ROLLBACK);
    CHECK(v.theirs.size == LOG && v.our_size == 8 && v.culprit != (size_t)leave_out && v.culprit != 3);
    cdr_hex_encode(hex, heads[LOG], 32);
    CHECK_CONTAINS(v.message, hex); /* their head */
    cdr_hex_encode(hex, heads[8], 32);
    CHECK_CONTAINS(v.message, hex); /* ours */
    CHECK_CONTAINS(v.message, "beyond the log (size 8");
    CHECK_CONTAINS(v.message, "https://w");
  }

  /* A fork: another hash at a size the log has. */
  latest(&fork, W[1], 10, 1, I, nonce);
  for (int i = 0; i < NW; i++)
    ans[i] = &a[i];
  ans[1] = &fork;
  CHECK_RC(start(&g, LOG, ans, &v), CDR_ERR_HISTORY_ROLLBACK);
  CHECK(v.culprit == 1 && v.theirs.size == 10);
  CHECK_CONTAINS(v.message, "witness 1 (https://w1.example");
  CHECK_CONTAINS(v.message, "the room's history was replaced");

  /* Too few: two answers of four. */
  ans[1] = &a[1];
  ans[2] = NULL;
  ans[3] = NULL;
  CHECK_RC(start(&g, LOG, ans, &v), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK(v.answered == 2);
  CHECK_CONTAINS(v.message, "witness_unavailable: 2 of 4 witnesses confirmed the history, a quorum is 3");
  CHECK_CONTAINS(v.message, "witness 2 (https://w2.example): no answer");

  /* A replayed answer (an older nonce), a head the witness invented (not
   * signed by this enclave), and an answer not signed by the witness: none
   * counts, so the quorum is not reached, and none proves a rollback. */
  latest(&replayed, W[2], LOG, 0, I, old_nonce);
  latest(&invented, W[3], LOG, 0, other_I, nonce);
  invented.head.size = LOG; /* beyond nothing, but signed by another key */
  latest(&forged_w, stranger, LOG, 0, I, nonce);
  memcpy(forged_w.witness_key_sha256, a[3].witness_key_sha256, 32);
  ans[2] = &replayed;
  ans[3] = &invented;
  CHECK_RC(start(&g, LOG, ans, &v), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK_CONTAINS(v.message, "an old answer replayed");
  ans[3] = &forged_w;
  CHECK_RC(start(&g, LOG, ans, &v), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK(v.answered == 2);
  /* A witness whose key was never relayed counts nothing either. */
  struct witness_gate g2;
  struct cdr_contract c;
  contract_with(&c, NW, 1);
  CHECK_RC(witness_gate_init(&g2, &c), 0);
  for (int i = 0; i < NW; i++)
    ans[i] = &a[i];
  CHECK_RC(start(&g2, LOG, ans, &v), CDR_ERR_WITNESS_UNAVAILABLE);
  CHECK_CONTAINS(v.message, "its key was not relayed");
  witness_gate_free(&g2);
  cdr_contract_free(&c);

  /* Three witnesses, f = 0 (quorum 2): the cut log is caught by either. */
  witness_gate_free(&g);
  gate_with(&g, 3, 0);
  for (int i = 0; i < 3; i++)
    ans[i] = &a[i];
  ans[0] = NULL;
  CHECK_RC(start(&g, 8, ans, &v), CDR_ERR_HISTORY_ROLLBACK);
  ans[0] = &a[0];
  ans[1] = NULL;
  ans[2] = NULL;
  CHECK_RC(start(&g, LOG, ans, &v), CDR_ERR_WITNESS_UNAVAILABLE);
  ans[1] = &a[1];
  CHECK_RC(start(&g, LOG, ans, &v), 0);
  witness_gate_free(&g);
}

int main(void) {
  I = ec();
  other_I = ec();
  stranger = ec();
  for (int i = 0; i < NW; i++)
    W[i] = ec();
  qsort(W, NW, sizeof(W[0]), w_cmp);
  CHECK_RC(cdr_pubkey_to_der(I, &ispki, &ispki_len), 0);
  CHECK_RC(cdr_audit_genesis(heads[0], room, 16), 0);
  for (uint64_t i = 0; i < LOG; i++) {
    uint8_t leaf[32];
    char entry[32];
    snprintf(entry, sizeof(entry), "{\"index\":%llu}", (unsigned long long)i);
    CHECK_RC(cdr_audit_leaf(leaf, entry, strlen(entry)), 0);
    CHECK_RC(cdr_audit_step(heads[i + 1], heads[i], i, leaf), 0);
  }
  CHECK_RC(cdr_random(nonce, 32), 0);
  CHECK_RC(cdr_random(old_nonce, 32), 0);
  test_quorum_and_contract();
  test_set_key();
  test_confirmed();
  test_start();
  OPENSSL_free(ispki);
  EVP_PKEY_free(I);
  EVP_PKEY_free(other_I);
  EVP_PKEY_free(stranger);
  for (int i = 0; i < NW; i++)
    EVP_PKEY_free(W[i]);
  return test_summary("test_witness_gate");
}
