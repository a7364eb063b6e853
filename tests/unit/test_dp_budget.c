/*
 * test_dp_budget.c - the privacy budget ledger (src/enclave/dp_budget.c):
 * exact spending (0.3 in steps of 0.1 is exactly three queries, the
 * amounts read from a real rule document), per-analyst shares within
 * the total, refunds, names without case, and the sealed encoding:
 * a round trip, and the refusal of every truncation, trailing bytes, an
 * oversized input and each broken invariant.
 */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "enclave/dp_budget.h"
#include "enclave/rule_doc.h"
#include "testlib.h"

static const uint8_t A[32] = {1}, B[32] = {2}, C[32] = {3};

static struct rule_doc *dp_rule(const char *extra) {
  static const char *const names[] = {"uid", "region"};
  static const char *const types[] = {"INTEGER", "TEXT"};
  char json[512];
  snprintf(json, sizeof(json),
           "{\"mode\": \"dp\", \"columns\": {\"uid\": \"privacy_unit\", \"region\": \"dimension\"}, "
           "\"max_groups_per_unit\": 1, \"delta\": 1e-9, %s}", extra);
  struct rule_doc *d = NULL;
  char *err = NULL;
  CHECK_RC(rule_doc_parse(json, strlen(json), names, types, 2, &d, &err), 0);
  free(err);
  return d;
}

static int charge(struct dp_ledger *l, const char *table, const uint8_t *fp, const struct rule_doc *d,
                  char **err) {
  free(*err);
  *err = NULL;
  return dp_ledger_charge(l, table, fp, d->eps_total_micro, d->eps_analyst_micro, d->eps_query_micro, d->delta_pico,
                          err);
}

static void check_three_queries(void) {
  struct rule_doc *d = dp_rule("\"epsilon_per_query\": 0.1, \"epsilon_total\": 0.3");
  struct dp_ledger *l = NULL;
  char *err = NULL;
  struct dp_spent s;
  CHECK_RC(dp_ledger_new(&l), 0);
  if (d == NULL || l == NULL)
    return;
  for (int i = 0; i < 3; i++)
    CHECK_RC(charge(l, "visits", i == 1 ? B : A, d, &err), 0);
  CHECK_RC(charge(l, "visits", A, d, &err), CDR_ERR_BUDGET_EXHAUSTED);
  CHECK_STR(err, "the privacy budget of table visits is spent: this query needs epsilon 0.1 and 0 of 0.3 is left");
  /* The name is the table's whatever its case: the same budget. */
  CHECK_RC(charge(l, "VISITS", C, d, &err), CDR_ERR_BUDGET_EXHAUSTED);
  dp_ledger_spent(l, "Visits", A, &s);
  CHECK(s.eps_micro == 300000 && s.analyst_micro == 200000 && s.delta_pico == 3000);
  dp_ledger_spent(l, "visits", C, &s);
  CHECK(s.analyst_micro == 0);
  /* Another table has its own budget. */
  CHECK_RC(charge(l, "claims", A, d, &err), 0);
  dp_ledger_spent(l, "nosuch", A, &s);
  CHECK(s.eps_micro == 0 && s.delta_pico == 0 && s.analyst_micro == 0);
  /* A refund gives back exactly one charge, and only one that was made. */
  CHECK_RC(dp_ledger_refund(l, "visits", B, 100000, 1000), 0);
  CHECK_RC(dp_ledger_refund(l, "visits", B, 100000, 1000), CDR_ERR_INTERNAL);
  CHECK_RC(dp_ledger_refund(l, "visits", C, 1, 0), CDR_ERR_INTERNAL);
  CHECK_RC(dp_ledger_refund(l, "nosuch", A, 1, 0), CDR_ERR_INTERNAL);
  dp_ledger_spent(l, "visits", B, &s);
  CHECK(s.eps_micro == 200000 && s.analyst_micro == 0 && s.delta_pico == 2000);
  CHECK_RC(charge(l, "visits", C, d, &err), 0);
  CHECK_RC(charge(l, "visits", C, d, &err), CDR_ERR_BUDGET_EXHAUSTED);
  /* A rule with a larger total (the owner's change) finds the spent
   * amount still spent. */
  struct rule_doc *d2 = dp_rule("\"epsilon_per_query\": 0.1, \"epsilon_total\": 0.4");
  if (d2 != NULL) {
    CHECK_RC(charge(l, "visits", A, d2, &err), 0);
    CHECK_RC(charge(l, "visits", A, d2, &err), CDR_ERR_BUDGET_EXHAUSTED);
    CHECK_CONTAINS(err, "0 of 0.4 is left");
  }
  /* Bad arguments. */
  CHECK_RC(dp_ledger_charge(l, "visits", A, 300000, 0, 0, 0, &err), CDR_ERR_ARG);
  CHECK_RC(dp_ledger_charge(l, "no such", A, 300000, 0, 1, 0, &err), CDR_ERR_ARG);
  rule_doc_free(d2);
  rule_doc_free(d);
  dp_ledger_free(l);
  free(err);
}

static void check_shares(void) {
  struct rule_doc *d = dp_rule("\"epsilon_per_query\": 0.1, \"epsilon_total\": 0.7, \"epsilon_per_analyst\": 0.3");
  struct dp_ledger *l = NULL;
  char *err = NULL;
  CHECK_RC(dp_ledger_new(&l), 0);
  if (d == NULL || l == NULL)
    return;
  for (int i = 0; i < 3; i++)
    CHECK_RC(charge(l, "visits", A, d, &err), 0);
  CHECK_RC(charge(l, "visits", A, d, &err), CDR_ERR_BUDGET_EXHAUSTED);
  CHECK_STR(err, "your share of the privacy budget of table visits is spent: this query needs epsilon 0.1 and 0 of "
                 "your 0.3 is left");
  for (int i = 0; i < 3; i++)
    CHECK_RC(charge(l, "visits", B, d, &err), 0);
  /* C has a share left, but the table's total (0.7) has 0.1 left. */
  CHECK_RC(charge(l, "visits", C, d, &err), 0);
  CHECK_RC(charge(l, "visits", C, d, &err), CDR_ERR_BUDGET_EXHAUSTED);
  CHECK_STR(err, "the privacy budget of table visits is spent: this query needs epsilon 0.1 and 0 of 0.7 is left");
  rule_doc_free(d);
  dp_ledger_free(l);
  free(err);
}

static void check_amounts(void) {
  char b[DP_AMOUNT_STR];
  dp_amount_format(300000, 6, b);
  CHECK_STR(b, "0.3");
  dp_amount_format(3000000, 6, b);
  CHECK_STR(b, "3");
  dp_amount_format(1, 6, b);
  CHECK_STR(b, "0.000001");
  dp_amount_format(1000000000, 6, b);
  CHECK_STR(b, "1000");
  dp_amount_format(1234567, 6, b);
  CHECK_STR(b, "1.234567");
  dp_amount_format(100000, 12, b);
  CHECK_STR(b, "0.0000001");
  dp_amount_format(0, 6, b);
  CHECK_STR(b, "0");
}

static void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static int decode_rc(const uint8_t *p, size_t n) {
  struct dp_ledger *l = (struct dp_ledger *)1;
  int r = dp_ledger_decode(p, n, &l);
  if (r != 0)
    CHECK(l == NULL);
  dp_ledger_free(r == 0 ? l : NULL);
  return r;
}

static void check_encoding(void) {
  struct dp_ledger *l = NULL, *l2 = NULL;
  struct cdr_buf b, b2;
  char *err = NULL;
  struct dp_spent s;
  CHECK_RC(dp_ledger_new(&l), 0);
  if (l == NULL)
    return;
  CHECK_RC(dp_ledger_charge(l, "visits", A, 3000000, 0, 500000, 100000, &err), 0);
  CHECK_RC(dp_ledger_charge(l, "visits", B, 3000000, 0, 250000, 0, &err), 0);
  CHECK_RC(dp_ledger_charge(l, "Claims", A, 1000000000, 0, 1, 7, &err), 0);
  cdr_buf_init(&b, DP_LEDGER_MAX_BYTES, 0);
  cdr_buf_init(&b2, DP_LEDGER_MAX_BYTES, 0);
  CHECK_RC(dp_ledger_encode(l, &b), 0);
  /* magic + count + 2 tables: (4+6 + 8+8+4 + 2*40) and (4+6 + 8+8+4 + 40) */
  CHECK(b.len == 8 + 4 + 110 + 70);
  CHECK(memcmp(b.d, "CDRDPLv1", 8) == 0);
  CHECK_RC(dp_ledger_decode(b.d, b.len, &l2), 0);
  if (l2 != NULL) {
    dp_ledger_spent(l2, "visits", B, &s);
    CHECK(s.eps_micro == 750000 && s.delta_pico == 100000 && s.analyst_micro == 250000);
    dp_ledger_spent(l2, "claims", A, &s);
    CHECK(s.eps_micro == 1 && s.delta_pico == 7 && s.analyst_micro == 1);
    CHECK_RC(dp_ledger_encode(l2, &b2), 0);
    CHECK(b2.len == b.len && memcmp(b.d, b2.d, b.len) == 0);
  }
  /* Every truncation, and a byte too many. */
  for (size_t n = 0; n < b.len; n++)
    CHECK(decode_rc(b.d, n) != 0);
  CHECK_RC(decode_rc(b.d, b.len), 0);
  uint8_t *x = malloc(b.len + 1);
  if (x != NULL) {
    memcpy(x, b.d, b.len);
    x[b.len] = 0;
    CHECK_RC(decode_rc(x, b.len + 1), CDR_ERR_TRUNCATED);
    /* Each broken rule of the encoding. */
    x[0] = 'X';
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_ARG); /* magic */
    memcpy(x, b.d, b.len);
    put_u32(x + 8, CDR_MAX_TABLES + 1);
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_TOO_LARGE); /* table count */
    memcpy(x, b.d, b.len);
    put_u32(x + 12 + 10 + 16, DP_MAX_ANALYSTS + 1);
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_TOO_LARGE); /* analyst count */
    memcpy(x, b.d, b.len);
    x[12 + 10 + 16 + 4 + 32 + 7] ^= 1; /* A's amount: the sum is off */
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_ARG);
    memcpy(x, b.d, b.len);
    memcpy(x + 12 + 10 + 16 + 4 + 40, A, 32); /* B's key made A's: twice */
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_ARG);
    memcpy(x, b.d, b.len);
    memcpy(x + 12 + 110 + 4, "VISITS", 6); /* "Claims" renamed: a name twice */
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_ARG);
    memcpy(x, b.d, b.len);
    x[12 + 4] = '1'; /* "1isits": not a table name */
    CHECK_RC(decode_rc(x, b.len), CDR_ERR_ARG);
    free(x);
  }
  CHECK_RC(decode_rc(b.d, DP_LEDGER_MAX_BYTES + 1), CDR_ERR_TOO_LARGE);
  CHECK_RC(decode_rc(NULL, 1), CDR_ERR_ARG);
  /* The empty ledger: magic and a zero count. */
  struct dp_ledger *e = NULL;
  cdr_buf_free(&b2);
  CHECK_RC(dp_ledger_new(&e), 0);
  if (e != NULL)
    CHECK_RC(dp_ledger_encode(e, &b2), 0);
  CHECK(b2.len == 12);
  CHECK_RC(decode_rc(b2.d, b2.len), 0);
  dp_ledger_free(e);
  cdr_buf_free(&b);
  cdr_buf_free(&b2);
  dp_ledger_free(l);
  dp_ledger_free(l2);
  free(err);
}

int main(void) {
  check_three_queries();
  check_shares();
  check_amounts();
  check_encoding();
  return test_summary("dp_budget");
}
