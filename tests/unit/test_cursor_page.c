/*
 * test_cursor_page.c - the sealing of a paged result's spooled pages
 * (src/enclave/cursor_page.c): a page opens only as itself (its cursor,
 * its index, its last flag) under its cursor's key, and any altered or
 * cut byte is refused with cursor_page_invalid, releasing nothing.
 */
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "enclave/cursor_page.h"
#include "testlib.h"

int main(void) {
  uint8_t key[CURSOR_KEY_LEN], key2[CURSOR_KEY_LEN], id[CURSOR_ID_LEN], id2[CURSOR_ID_LEN];
  static const char rows[] = "[1,\"a\"],[2,\"b\"],[3,null]";
  struct cdr_buf sealed, pt, last, empty;
  memset(key, 0x11, sizeof(key));
  memset(key2, 0x22, sizeof(key2));
  memset(id, 0xa5, sizeof(id));
  memcpy(id2, id, sizeof(id2));
  id2[15] ^= 1;
  cdr_buf_init(&sealed, SIZE_MAX, 0);
  cdr_buf_init(&pt, SIZE_MAX, 0);
  cdr_buf_init(&last, SIZE_MAX, 0);
  cdr_buf_init(&empty, SIZE_MAX, 0);

  CHECK_RC(cursor_page_seal(&sealed, key, id, 7, 0, (const uint8_t *)rows, strlen(rows)), 0);
  CHECK(sealed.len == strlen(rows) + CURSOR_PAGE_OVERHEAD);
  /* The rows do not appear in clear. */
  CHECK(sealed.len < 8 || memmem(sealed.d, sealed.len, "\"a\"", 3) == NULL);
  CHECK_RC(cursor_page_open(&pt, key, id, 7, 0, sealed.d, sealed.len), 0);
  CHECK(pt.len == strlen(rows) && memcmp(pt.d, rows, pt.len) == 0);

  /* Out of place: another index (reordered, replayed), passed off as the
   * last page (truncated result), another cursor, another key. */
  CHECK_RC(cursor_page_open(&pt, key, id, 6, 0, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);
  CHECK(pt.len == 0);
  CHECK_RC(cursor_page_open(&pt, key, id, 8, 0, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);
  CHECK_RC(cursor_page_open(&pt, key, id, 7, 1, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);
  CHECK_RC(cursor_page_open(&pt, key, id2, 7, 0, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);
  CHECK_RC(cursor_page_open(&pt, key2, id, 7, 0, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);

  /* Relabelling the header does not help: the tag binds index and flag. */
  sealed.d[1] ^= 1; /* claim "last" */
  CHECK_RC(cursor_page_open(&pt, key, id, 7, 1, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);
  sealed.d[1] ^= 1;
  sealed.d[9] ^= 1; /* claim index 6 */
  CHECK_RC(cursor_page_open(&pt, key, id, 6, 0, sealed.d, sealed.len), CDR_ERR_CURSOR_PAGE);
  sealed.d[9] ^= 1;

  /* Every flipped bit anywhere, and every truncation, is refused. */
  for (size_t i = 0; i < sealed.len; i++) {
    sealed.d[i] ^= 0x20;
    int r = cursor_page_open(&pt, key, id, 7, 0, sealed.d, sealed.len);
    sealed.d[i] ^= 0x20;
    if (r != CDR_ERR_CURSOR_PAGE) {
      CHECK_RC(r, CDR_ERR_CURSOR_PAGE);
      break;
    }
  }
  for (size_t n = 0; n < sealed.len; n++) {
    int r = cursor_page_open(&pt, key, id, 7, 0, sealed.d, n);
    if (r != CDR_ERR_CURSOR_PAGE) {
      CHECK_RC(r, CDR_ERR_CURSOR_PAGE);
      break;
    }
  }
  CHECK(pt.len == 0);
  CHECK_RC(cursor_page_open(&pt, key, id, 7, 0, sealed.d, sealed.len), 0);

  /* A last page, and an empty one, round-trip as themselves only. */
  CHECK_RC(cursor_page_seal(&last, key, id, 8, 1, (const uint8_t *)"[9]", 3), 0);
  CHECK_RC(cursor_page_open(&pt, key, id, 8, 1, last.d, last.len), 0);
  CHECK(pt.len == 3 && memcmp(pt.d, "[9]", 3) == 0);
  CHECK_RC(cursor_page_open(&pt, key, id, 8, 0, last.d, last.len), CDR_ERR_CURSOR_PAGE);
  CHECK_RC(cursor_page_seal(&empty, key, id, 0, 1, NULL, 0), 0);
  CHECK(empty.len == CURSOR_PAGE_OVERHEAD);
  CHECK_RC(cursor_page_open(&pt, key, id, 0, 1, empty.d, empty.len), 0);
  CHECK(pt.len == 0);
  CHECK_RC(cursor_page_open(&pt, key, id, 0, 0, empty.d, empty.len), CDR_ERR_CURSOR_PAGE);

  cdr_buf_free(&sealed);
  cdr_buf_free(&pt);
  cdr_buf_free(&last);
  cdr_buf_free(&empty);
  return test_summary("test_cursor_page");
}
