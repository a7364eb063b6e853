/*
 * cursor.c - reading a paged result (PROTOCOL 4.7 "Paged results";
 * client.h: cdr_result_paged, cdr_client_cursor_read).
 *
 * A query whose result is larger than one page is answered with its
 * columns, its row count and a cursor (id, pages); the pages are then
 * asked for one at a time, in order, as `cursor` operations of the same
 * session, each answer sealed to the session like any other.  Only one
 * page is held at a time, so memory stays bounded whatever the result's
 * size.  Every answer must be the page asked for (its index, the page
 * count announced, "last" exactly on the last page, rows as wide as the
 * columns), and the pages together must hold the announced rows: a page
 * missing, out of order, repeated or cut short is CDR_ERR_CURSOR_PAGE,
 * naming the page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "client_int.h"
#include "common/util.h"

int cdr_result_paged(const json_t *result) { return json_is_object(json_object_get(result, "cursor")); }

/* CDR_TEST_CURSOR_GATE=FILE (tests, docs/PROTOCOL.md 4.7): before every
 * page after the first, wait while FILE exists, so that a test can act
 * on an open cursor without a timed assertion.  It only delays. */
static void cursor_gate_wait(void) {
  const char *gate = getenv("CDR_TEST_CURSOR_GATE");
  const struct timespec tick = {0, 20 * 1000000L};
  while (gate != NULL && gate[0] != '\0' && access(gate, F_OK) == 0)
    nanosleep(&tick, NULL);
}

/* The failure fields of `from` into `to` (the failure being reported
 * must survive the close that follows it). */
static void error_copy(struct cdr_client *to, const struct cdr_client *from) {
  to->http_status = from->http_status;
  to->remote_error = from->remote_error;
  to->remote_sealed = from->remote_sealed;
  memcpy(to->remote_code, from->remote_code, sizeof(to->remote_code));
  memcpy(to->remote_message, from->remote_message, sizeof(to->remote_message));
  memcpy(to->detail, from->detail, sizeof(to->detail));
}

/* Ask for page k (or, close != 0, close the cursor): the decrypted
 * answer in *resp. */
static int cursor_ask(struct cdr_client *c, struct cdr_session *s, const char *id, uint64_t k, int close,
                      json_t **resp) {
  json_t *h = close ? json_pack("{s:s,s:s,s:b}", "op", "cursor", "cursor", id, "close", 1)
                    : json_pack("{s:s,s:s,s:I}", "op", "cursor", "cursor", id, "page", (json_int_t)k);
  int r;
  if (h == NULL)
    return CDR_ERR_NOMEM;
  r = cdr_client_op(c, s, h, resp);
  json_decref(h);
  return r;
}

/* Page k's answer is page k of n, last exactly when k is the last, with
 * rows ncols wide: 0 and *rows, or CDR_ERR_CURSOR_PAGE with the reason. */
static int page_check(struct cdr_client *c, const json_t *resp, uint64_t k, uint64_t n, size_t ncols,
                      const json_t **rows) {
  const json_t *page = json_object_get(resp, "page"), *pages = json_object_get(resp, "pages");
  const json_t *last = json_object_get(resp, "last"), *row;
  size_t i;
  *rows = json_object_get(resp, "rows");
  if (!json_is_integer(page) || (uint64_t)json_integer_value(page) != k) {
    cdr_client_set_detail(c, "page %llu of %llu: the answer is not that page (out of order or repeated)",
                          (unsigned long long)k, (unsigned long long)n);
    return CDR_ERR_CURSOR_PAGE;
  }
  if (!json_is_integer(pages) || (uint64_t)json_integer_value(pages) != n || !json_is_boolean(last) ||
      json_is_true(last) != (k + 1 == n)) {
    cdr_client_set_detail(c, "page %llu of %llu: the answer disagrees on where the result ends (truncated)",
                          (unsigned long long)k, (unsigned long long)n);
    return CDR_ERR_CURSOR_PAGE;
  }
  if (!json_is_array(*rows)) {
    cdr_client_set_detail(c, "page %llu of %llu holds no rows array", (unsigned long long)k, (unsigned long long)n);
    return CDR_ERR_CURSOR_PAGE;
  }
  json_array_foreach(*rows, i, row) if (!json_is_array(row) || json_array_size(row) != ncols) {
    cdr_client_set_detail(c, "page %llu of %llu: row %zu is not %zu values wide", (unsigned long long)k,
                          (unsigned long long)n, i, ncols);
    return CDR_ERR_CURSOR_PAGE;
  }
  return 0;
}

int cdr_client_cursor_read(struct cdr_client *c, struct cdr_session *s, const json_t *result,
                           int (*fn)(void *ud, const json_t *rows, uint64_t page), void *ud) {
  const json_t *cur = json_object_get(result, "cursor"), *cols = json_object_get(result, "columns");
  const json_t *jn = json_object_get(cur, "pages"), *jrows = json_object_get(result, "row_count");
  const char *id = json_string_value(json_object_get(cur, "id"));
  uint64_t n, want, got = 0, k;
  json_t *resp = NULL;
  const json_t *rows;
  int r = 0;
  if (id == NULL || strlen(id) != 32 || !cdr_hex_lower_ok(id, 32) || !json_is_integer(jn) ||
      json_integer_value(jn) < 1 || !json_is_integer(jrows) || json_integer_value(jrows) < 0 || !json_is_array(cols)) {
    cdr_client_set_detail(c, "the enclave's answer announces no well-formed cursor");
    return CDR_ERR_RESPONSE_FORGED;
  }
  n = (uint64_t)json_integer_value(jn);
  want = (uint64_t)json_integer_value(jrows);
  for (k = 0; k < n && r == 0; k++) {
    if (k > 0)
      cursor_gate_wait();
    if ((r = cursor_ask(c, s, id, k, 0, &resp)) != 0)
      break;
    if ((r = page_check(c, resp, k, n, json_array_size(cols), &rows)) == 0) {
      got += json_array_size(rows);
      r = fn(ud, rows, k);
    }
    json_decref(resp);
    resp = NULL;
  }
  if (r == 0 && got != want) {
    cdr_client_set_detail(c, "the %llu pages hold %llu rows; the result announced %llu (truncated)",
                          (unsigned long long)n, (unsigned long long)got, (unsigned long long)want);
    r = CDR_ERR_CURSOR_PAGE;
  }
  /* Given up before the end (our failure, or a page the checks refused):
   * close the cursor so that it gives back its query count at once.  The
   * enclave closed it itself after a refusal of its own. */
  if (r != 0 && k < n && !c->remote_error) {
    struct cdr_client *saved = malloc(sizeof(*saved));
    if (saved != NULL) {
      error_copy(saved, c);
      if (cursor_ask(c, s, id, 0, 1, &resp) == 0)
        json_decref(resp);
      error_copy(c, saved);
      free(saved);
    }
  }
  return r;
}
