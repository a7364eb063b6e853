/*
 * test_ipc_witness.c - the witness round codecs (IPC_WITNESS,
 * IPC_WITNESS_ANSWERS; src/ipc/ipc.h): round trips, and every way the
 * host or the enclave could send a malformed one refused: a cut at
 * every byte, a trailing byte, an unknown kind, n out of bounds, an
 * empty or non-printable URL, a body for a key round, a body over its
 * cap, an answer count other than the round's, a body with status 0.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc/messages.h"
#include "testlib.h"

static void expect_cut_refused(const struct cdr_buf *enc, int (*dec)(struct cdr_buf *)) {
  struct cdr_buf v, bad;
  size_t n = cdr_buf_avail(enc);
  for (size_t cut = 0; cut < n; cut++) {
    cdr_buf_view(&v, cdr_buf_ptr(enc), cut);
    CHECK(dec(&v) != 0);
  }
  cdr_buf_init(&bad, n + 1, 0);
  CHECK_RC(cdr_buf_put(&bad, cdr_buf_ptr(enc), n), 0);
  CHECK_RC(cdr_buf_put_u8(&bad, 0), 0);
  CHECK(dec(&bad) != 0);
  cdr_buf_free(&bad);
}

static int dec_round(struct cdr_buf *b) {
  struct ipc_witness_round m;
  int r = ipc_get_witness(b, &m);
  ipc_witness_round_free(&m);
  return r;
}

static int dec_answers2(struct cdr_buf *b) {
  struct ipc_witness_answer a[IPC_WITNESS_MAX_N];
  return ipc_get_witness_answers(b, 2, a);
}

static void test_round(void) {
  struct ipc_witness_round m = {0}, g;
  struct cdr_buf enc, v;
  const char *body = "{\"room_id\":\"00\"}";
  m.kind = IPC_WITNESS_LATEST;
  m.n = 2;
  m.url[0] = "https://a.example:1";
  m.url[1] = "https://b.example:2";
  m.body = (const uint8_t *)body;
  m.body_len = strlen(body);
  cdr_buf_init(&enc, 4096, 0);
  CHECK_RC(ipc_put_witness(&enc, &m), 0);
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_witness(&v, &g), 0);
  CHECK(g.kind == IPC_WITNESS_LATEST && g.n == 2);
  CHECK_STR(g.url[1], "https://b.example:2");
  CHECK(g.body_len == strlen(body) && memcmp(g.body, body, g.body_len) == 0);
  ipc_witness_round_free(&g);
  expect_cut_refused(&enc, dec_round);

  /* an unknown kind */
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  enc.d[0] = 9;
  CHECK_RC(ipc_get_witness(&v, &g), CDR_ERR_TRUNCATED);
  enc.d[0] = IPC_WITNESS_KEY; /* a key round carries no body */
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_witness(&v, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);

  /* a URL with a space, and n 0 or past the cap, are refused */
  m.url[1] = "https://b .example";
  cdr_buf_init(&enc, 4096, 0);
  CHECK_RC(ipc_put_witness(&enc, &m), 0);
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_witness(&v, &g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
  m.n = 0;
  cdr_buf_init(&enc, 4096, 0);
  CHECK_RC(ipc_put_witness(&enc, &m), CDR_ERR_ARG);
  m.n = IPC_WITNESS_MAX_N + 1;
  CHECK_RC(ipc_put_witness(&enc, &m), CDR_ERR_ARG);
  cdr_buf_free(&enc);
  uint8_t raw[5] = {IPC_WITNESS_LATEST, 0, 0, 0, 17}; /* n = 17 */
  cdr_buf_view(&v, raw, sizeof(raw));
  CHECK_RC(ipc_get_witness(&v, &g), CDR_ERR_TRUNCATED);
}

static void test_answers(void) {
  struct ipc_witness_answer a[2] = {{200, (const uint8_t *)"{}", 2}, {0, NULL, 0}}, g[IPC_WITNESS_MAX_N];
  struct cdr_buf enc, v;
  cdr_buf_init(&enc, 4096, 0);
  CHECK_RC(ipc_put_witness_answers(&enc, a, 2), 0);
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_witness_answers(&v, 2, g), 0);
  CHECK(g[0].status == 200 && g[0].len == 2 && memcmp(g[0].body, "{}", 2) == 0);
  CHECK(g[1].status == 0 && g[1].len == 0);
  expect_cut_refused(&enc, dec_answers2);
  /* another count than the round's */
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK_RC(ipc_get_witness_answers(&v, 3, g), CDR_ERR_TRUNCATED);
  cdr_buf_free(&enc);
  /* status 0 with a body */
  uint8_t raw[] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 'x'};
  cdr_buf_view(&v, raw, sizeof(raw));
  CHECK_RC(ipc_get_witness_answers(&v, 1, g), CDR_ERR_TRUNCATED);
  /* a body over its cap */
  struct ipc_witness_answer big = {200, NULL, IPC_WITNESS_ANSWER_MAX + 1};
  uint8_t *p = calloc(1, IPC_WITNESS_ANSWER_MAX + 1);
  big.body = p;
  cdr_buf_init(&enc, 2u * IPC_WITNESS_ANSWER_MAX, 0);
  CHECK_RC(ipc_put_witness_answers(&enc, &big, 1), CDR_ERR_ARG);
  cdr_buf_free(&enc);
  cdr_buf_init(&enc, 2u * IPC_WITNESS_ANSWER_MAX, 0);
  CHECK_RC(cdr_buf_put_u32(&enc, 1), 0);
  CHECK_RC(cdr_buf_put_u32(&enc, 200), 0);
  CHECK_RC(cdr_buf_put_lp(&enc, p, IPC_WITNESS_ANSWER_MAX + 1), 0);
  cdr_buf_view(&v, cdr_buf_ptr(&enc), cdr_buf_avail(&enc));
  CHECK(ipc_get_witness_answers(&v, 1, g) != 0);
  cdr_buf_free(&enc);
  free(p);
}

int main(void) {
  test_round();
  test_answers();
  return test_summary("test_ipc_witness");
}
