/*
 * cursor_page.c - sealing and opening one spooled page of a paged
 * result (cursor_page.h has the format and its contract).
 */
#include "cursor_page.h"

#include <openssl/crypto.h>
#include <string.h>

#include "common/err.h"
#include "crypto/crypto.h"

#define PAGE_VERSION 1u
#define PAGE_HEADER 10u
static const char page_label[] = "cdr-cursor-page-v1";

static void put_u64be(uint8_t *p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

/* The nonce and associated data of page (index, last) of cursor id. */
static void page_bind(uint8_t nonce[CDR_AEAD_NONCE_LEN], uint8_t aad[sizeof(page_label) - 1 + CURSOR_ID_LEN + 9],
                      const uint8_t id[CURSOR_ID_LEN], uint64_t index, int last) {
  size_t n = sizeof(page_label) - 1;
  memset(nonce, 0, CDR_AEAD_NONCE_LEN);
  put_u64be(nonce + 4, index);
  memcpy(aad, page_label, n);
  memcpy(aad + n, id, CURSOR_ID_LEN);
  put_u64be(aad + n + CURSOR_ID_LEN, index);
  aad[n + CURSOR_ID_LEN + 8] = last ? 1 : 0;
}

int cursor_page_seal(struct cdr_buf *out, const uint8_t key[CURSOR_KEY_LEN], const uint8_t id[CURSOR_ID_LEN],
                     uint64_t index, int last, const uint8_t *rows, size_t len) {
  uint8_t nonce[CDR_AEAD_NONCE_LEN], aad[sizeof(page_label) - 1 + CURSOR_ID_LEN + 9], head[PAGE_HEADER];
  int r;
  if (out == NULL || key == NULL || id == NULL || (rows == NULL && len > 0))
    return CDR_ERR_ARG;
  page_bind(nonce, aad, id, index, last);
  head[0] = PAGE_VERSION;
  head[1] = last ? 1 : 0;
  put_u64be(head + 2, index);
  if ((r = cdr_buf_put(out, head, sizeof(head))) != 0)
    return r;
  return cdr_aead_seal(out, key, nonce, aad, sizeof(aad), len > 0 ? rows : (const uint8_t *)"", len);
}

int cursor_page_open(struct cdr_buf *out, const uint8_t key[CURSOR_KEY_LEN], const uint8_t id[CURSOR_ID_LEN],
                     uint64_t index, int last, const uint8_t *sealed, size_t len) {
  uint8_t nonce[CDR_AEAD_NONCE_LEN], aad[sizeof(page_label) - 1 + CURSOR_ID_LEN + 9], want[PAGE_HEADER];
  if (out == NULL || key == NULL || id == NULL || (sealed == NULL && len > 0))
    return CDR_ERR_ARG;
  if (out->len > 0)
    OPENSSL_cleanse(out->d, out->len);
  out->len = 0;
  /* The header repeats what the tag binds: checked first so that a page
   * out of place is refused before any decryption is attempted. */
  want[0] = PAGE_VERSION;
  want[1] = last ? 1 : 0;
  put_u64be(want + 2, index);
  if (len < CURSOR_PAGE_OVERHEAD || CRYPTO_memcmp(sealed, want, sizeof(want)) != 0)
    return CDR_ERR_CURSOR_PAGE;
  page_bind(nonce, aad, id, index, last);
  if (cdr_aead_open(out, key, nonce, aad, sizeof(aad), sealed + PAGE_HEADER, len - PAGE_HEADER) != 0) {
    if (out->len > 0)
      OPENSSL_cleanse(out->d, out->len);
    out->len = 0;
    return CDR_ERR_CURSOR_PAGE;
  }
  return 0;
}
