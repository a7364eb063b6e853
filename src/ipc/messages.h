/*
 * messages.h - encoders and exact decoders for the IPC payloads listed
 * in ipc.h.  Both sides use them.  Decoders borrow pointers into the
 * buffer, check every length against its cap (or its exact size) before
 * trusting it, and fail with CDR_ERR_TRUNCATED unless the payload is
 * consumed exactly.
 */
#ifndef CDR_IPC_MESSAGES_H
#define CDR_IPC_MESSAGES_H

#include "crypto/envelope.h"
#include "ipc.h"

int ipc_put_open(struct cdr_buf *b, const struct cdr_open_req *q) CDR_WUR;
int ipc_get_open(struct cdr_buf *b, struct cdr_open_req *q) CDR_WUR;
int ipc_put_open_ok(struct cdr_buf *b, const struct cdr_open_resp *p) CDR_WUR;
int ipc_get_open_ok(struct cdr_buf *b, struct cdr_open_resp *p) CDR_WUR;
int ipc_put_request(struct cdr_buf *b, const struct cdr_request_env *e) CDR_WUR;
int ipc_get_request(struct cdr_buf *b, struct cdr_request_env *e) CDR_WUR;
int ipc_put_response(struct cdr_buf *b, const struct cdr_response_env *e) CDR_WUR;
int ipc_get_response(struct cdr_buf *b, struct cdr_response_env *e) CDR_WUR;
/* Storage operations (ipc.h).  A decoded op borrows from the buffer. */
enum ipc_store_op {
  IPC_STORE_PUT = 1,
  IPC_STORE_APPEND = 2,
  IPC_STORE_DELETE = 3,
  IPC_STORE_APPEND_LAZY = 4, /* written (survives a crash of either process), synced later */
  IPC_STORE_SYNC = 5,        /* make the object's lazy appends durable */
  IPC_STORE_TRUNCATE = 6     /* data: u64be size; cut the object to it (never grows it) */
};
struct ipc_store_item {
  uint8_t op;
  const char *name; /* NUL-terminated copy in `namebuf` */
  char namebuf[64];
  const uint8_t *data;
  size_t len;
};
#define IPC_STORE_MAX_OPS 64u
/* Decode the next op of an IPC_STORE payload whose u32 count was read. */
int ipc_get_store_item(struct cdr_buf *b, struct ipc_store_item *it) CDR_WUR;
int ipc_put_store_item(struct cdr_buf *b, uint8_t op, const char *name, const void *data, size_t len) CDR_WUR;
/* u8 ok || lp(message): IPC_STORED and IPC_LOAD_ACK. */
int ipc_put_status(struct cdr_buf *b, int ok, const char *message) CDR_WUR;
/* *message is malloc'd (may be empty). */
int ipc_get_status(struct cdr_buf *b, int *ok, char **message) CDR_WUR;

/* IPC_FETCH: lp(name) u64 offset u32 max; the name is copied NUL-
 * terminated into name[64]. */
int ipc_put_fetch(struct cdr_buf *b, const char *name, uint64_t offset, uint32_t max) CDR_WUR;
int ipc_get_fetch(struct cdr_buf *b, char name[64], uint64_t *offset, uint32_t *max) CDR_WUR;

int ipc_put_error(struct cdr_buf *b, int err, const char *message) CDR_WUR;
/* *err is a valid cdr_err (unknown indexes become CDR_ERR_INTERNAL);
 * *message is malloc'd. */
int ipc_get_error(struct cdr_buf *b, int *err, char **message) CDR_WUR;

#endif
