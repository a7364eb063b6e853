/*
 * room_limits.c - the room's limits (room_limits.h): their sealed
 * encoding and their effect on the engine.  IPC_LIMITS, which changes
 * them, is room_limits_ops.c (which calls persist.c, which calls this).
 */
#include "room_limits.h"

#include <string.h>

#include "enclave.h"
#include "engine.h"

#define LIMITS_MAGIC "LIM1"
#define LIMITS_BYTES (5u * 8u) /* five u64 */

void room_limits_apply(struct enclave *e) {
  const struct cdr_room_limits *l = &e->limits;
  if (e->engine == NULL)
    return;
  engine_set_time_limit_ms(e->engine, (unsigned)l->query_time_ms);
  engine_set_memory_limit(e->engine, l->query_memory);
  engine_set_result_limits(e->engine, (size_t)l->result_bytes, l->result_rows);
}

int room_limits_encode(const struct cdr_room_limits *l, struct cdr_buf *b) {
  int r;
  if ((r = cdr_buf_put(b, LIMITS_MAGIC, 4)) != 0)
    return r;
  return ipc_put_limits(b, l);
}

int room_limits_decode(struct cdr_buf *b, struct cdr_room_limits *l) {
  uint8_t magic[4];
  cdr_room_limits_default(l);
  if (cdr_buf_avail(b) == 0)
    return 0; /* a manifest from before the room's limits */
  if (cdr_buf_get(b, magic, 4) != 0 || memcmp(magic, LIMITS_MAGIC, 4) != 0 || cdr_buf_avail(b) < LIMITS_BYTES)
    return CDR_ERR_TRUNCATED;
  /* ipc_get_limits reads to the end of its buffer: give it the
   * section's five values alone (a later section may follow them). */
  struct cdr_buf v;
  cdr_buf_view(&v, b->d + b->off, LIMITS_BYTES);
  if (ipc_get_limits(&v, l) != 0)
    return CDR_ERR_TRUNCATED;
  b->off += LIMITS_BYTES;
  return 0;
}
