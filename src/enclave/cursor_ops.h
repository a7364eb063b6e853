/*
 * cursor_ops.h - paged results (docs/ARCHITECTURE.md "Paged results";
 * PROTOCOL 4.7): the query's side (a cursor opened, each page sealed and
 * spooled on the host as it fills, the cursor published or discarded)
 * and the `cursor` operation that reads a page back or closes it.
 *
 * A published cursor holds one of its member's running-query counts
 * (gate.h) until it is finished off: its last page read, closed, or
 * idle past the table's timeout (the sweep, run before every query and
 * every cursor operation).  Finishing one off deletes its spooled pages
 * (a storage round) and gives the count back.  Nothing here holds the
 * room gate or the engine between requests; the callers hold the gate
 * shared while they call in.
 */
#ifndef CDR_CURSOR_OPS_H
#define CDR_CURSOR_OPS_H

#include <jansson.h>

#include "enclave.h"
#include "ops.h"

/* A query being paged. */
struct cursor_spool {
  struct enclave *e;
  int open;               /* a cursor is reserved */
  struct cursor_view v;   /* its id and key (wiped by cursor_spool_end) */
  char id_hex[2 * CURSOR_ID_LEN + 1];
  uint64_t pages;         /* pages spooled so far */
  struct engine_page_sink sink;
};

/* Finish off the expired cursors (their pages deleted, their counts
 * given back).  Called with the gate held shared. */
void cursor_sweep(struct enclave *e);

/* Reserve a cursor for a query of session sid by member (when paging is
 * on and a slot is free): *sink is then where its pages go, else NULL
 * (the result must fit one response, as before paging). */
void cursor_spool_begin(struct cursor_spool *sp, struct enclave *e, const uint8_t sid[CDR_SESSION_ID_LEN],
                        const char *member, const struct engine_page_sink **sink);
/* After the query: when it succeeded with pages (ok, pages > 0) the
 * cursor is published and keeps the member's count: returns 1; else its
 * pages are deleted and it is gone: returns 0 and the caller gives the
 * count back. */
int cursor_spool_end(struct cursor_spool *sp, int ok, uint64_t pages);

/* The `cursor` operation for session sid (ops.c checked the role):
 * {"op":"cursor","cursor":"<32 hex>","page":K} answers page K,
 * {"op":"cursor","cursor":"<32 hex>","close":true} drops the cursor. */
int cursor_op_run(struct enclave *e, const uint8_t sid[CDR_SESSION_ID_LEN], const json_t *hdr, struct cdr_buf *out,
                  struct enclave_op_outcome *res) CDR_WUR;

#endif
