/*
 * room_limits.h - the limits the room admin sets (PROTOCOL 4.7,
 * "limits"): query time, memory per query, result size in bytes and
 * rows, and concurrent queries per member.
 *
 * The admin sets them on the host (`cdr room limits`, ROOM/limits.json),
 * cdrd hands them over (IPC_LIMITS), and the enclave keeps them in its
 * sealed manifest (persist.c), so a restart keeps them; until a room sets
 * them it has the defaults of common/limits.h.  Every member reads them
 * (op "limits"); no session can change them (op "limits_set" is refused,
 * naming the admin's command).  Limits are about availability, which the
 * host controls anyway: the enclave takes them from the host, bounds
 * each (common/limits.h), logs each change ("limits", "by": "host") and
 * shows them to every member, so that nobody's limits change unseen.
 * The engine applies time, memory and result size; member_queries is
 * for the worker pool (kept and shown here).
 */
#ifndef CDR_ROOM_LIMITS_H
#define CDR_ROOM_LIMITS_H

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "ipc/messages.h"

struct enclave;

/* Give the engine e->limits (time, memory, result bytes and rows). */
void room_limits_apply(struct enclave *e);

/* Their sealed encoding, the manifest's optional last section:
 * "LIM1" || five u64 (struct cdr_room_limits order). */
int room_limits_encode(const struct cdr_room_limits *l, struct cdr_buf *b) CDR_WUR;
/* Read that section if b has bytes left (else the defaults); each value
 * within its bounds, else CDR_ERR_TRUNCATED.  Bytes after it are left in
 * b for the sections that follow (persist.c). */
int room_limits_decode(struct cdr_buf *b, struct cdr_room_limits *l) CDR_WUR;

#endif
