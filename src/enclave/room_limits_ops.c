/*
 * room_limits_ops.c - IPC_LIMITS (enclave.h): the room admin's limits,
 * handed over by the host, committed with their audit entry and applied
 * (room_limits.h).
 */
#include <string.h>

#include "audit.h"
#include "common/log.h"
#include "enclave.h"
#include "persist.h"
#include "room_limits.h"

/* IPC_LIMITS: the admin's limits through the host.  The same values
 * again change nothing (cdrd hands them over at every start); other
 * values are a commit with their audit entry, durable before the
 * answer. */
int enclave_handle_limits(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct cdr_room_limits l, old = e->limits;
  int r;
  if ((r = ipc_get_limits(in, &l)) != 0)
    return r;
  *rt = IPC_LIMITS_OK;
  if (memcmp(&l, &e->limits, sizeof(l)) == 0)
    return ipc_put_limits_ok(out, 0);
  if ((r = audit_begin(e, "limits")) != 0)
    return r;
  audit_set(e, "by", json_string("host"));
  audit_set(e, "limits", cdr_room_limits_to_json(&l));
  e->limits = l;
  if ((r = persist_meta_changed(e)) != 0) {
    e->limits = old; /* fatal anyway (e->fatal): memory never runs ahead of the disk */
    return r;
  }
  room_limits_apply(e);
  log_info("the room's limits changed: query time %llu ms, memory %llu MiB per query, results %llu bytes and %llu "
           "rows, %llu queries per member",
           (unsigned long long)l.query_time_ms, (unsigned long long)(l.query_memory >> 20),
           (unsigned long long)l.result_bytes, (unsigned long long)l.result_rows,
           (unsigned long long)l.member_queries);
  return ipc_put_limits_ok(out, 1);
}
