/*
 * cursor_page.h - one page of a paged result as the host spools it
 * (docs/PROTOCOL.md 4.7 "Paged results"; docs/ARCHITECTURE.md "Paged
 * results").
 *
 * A sealed page is
 *     u8 version (1) || u8 last (0|1) || u64be index || AES-256-GCM(rows) || tag16
 * under the cursor's own key (random, made when the query ran, held only
 * in the enclave's cursor table), with
 *     nonce = u32be(0) || u64be(index)
 *     aad   = "cdr-cursor-page-v1" || cursor id (16) || u64be index || u8 last
 * A key seals the pages of one cursor, each index once, so a nonce never
 * repeats under a key.  The reader states which page it wants and
 * whether that page must be the last; a page of another cursor, another
 * index, a last page cut short of its successors (or a middle page
 * passed off as the last), or any flipped byte fails the tag, and
 * nothing is decrypted before the tag is checked.
 */
#ifndef CDR_CURSOR_PAGE_H
#define CDR_CURSOR_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/util.h"

#define CURSOR_ID_LEN 16u
#define CURSOR_KEY_LEN 32u
/* Bytes a sealed page adds to its rows: the header and the tag. */
#define CURSOR_PAGE_OVERHEAD (1u + 1u + 8u + 16u)

/* Append the sealed page (index, last) of rows[0..len) to out.  0, or an
 * error code (out may hold a partial append on failure: the caller
 * wipes it). */
int cursor_page_seal(struct cdr_buf *out, const uint8_t key[CURSOR_KEY_LEN], const uint8_t id[CURSOR_ID_LEN],
                     uint64_t index, int last, const uint8_t *rows, size_t len) CDR_WUR;

/* Open a sealed page that must be page `index` of cursor id, the last
 * one iff `last`: its rows are appended to out (reset first).  0, or
 * CDR_ERR_CURSOR_PAGE when it is not that page or not intact (out is
 * then empty and wiped). */
int cursor_page_open(struct cdr_buf *out, const uint8_t key[CURSOR_KEY_LEN], const uint8_t id[CURSOR_ID_LEN],
                     uint64_t index, int last, const uint8_t *sealed, size_t len) CDR_WUR;

#endif
