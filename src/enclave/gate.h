/*
 * gate.h - the room gate and the per-member cap (docs/ARCHITECTURE.md,
 * "Concurrency").
 *
 * The room gate is a readers-writer lock over the room's state: the
 * catalog, the SQL engine's tables, uploads in progress, the contract,
 * the CRL and the sealed manifest.  Read-only work (queries, the table
 * list, audit reads, the contract's reading, session opens) holds it
 * shared; every change (uploads, owner operations, contract changes, a
 * CRL, a proposal) holds it exclusive, through its storage rounds, so
 * changes are serialised and no reader sees one half-done.  It prefers
 * readers (glibc's default): a read never waits for a queued change,
 * only for one running.
 *
 * The engine's lanes: a query takes a SQLite connection of its own
 * (engine_lane_take: one per work lane, to one shared in-memory
 * database, pagevfs.h) inside the shared gate, so queries run in
 * parallel; a change's statements run on the room engine's connection
 * under the exclusive gate, so no query sees one half-done.
 *
 * The per-member cap: a member (the principal's name) runs at most
 * enclave_member_query_cap() queries (the room's member_queries, bounded
 * by the lanes) at once; one more is refused
 * CDR_ERR_BUSY at once, never queued (a queued query would hold a work
 * lane, which is what the cap protects).
 */
#ifndef CDR_GATE_H
#define CDR_GATE_H

#include "common/err.h"
#include "enclave.h"

void gate_read_enter(struct enclave *e);
void gate_write_enter(struct enclave *e);
void gate_leave(struct enclave *e);

/* The engine a query runs on (this query's lane), between enter and
 * leave, inside the shared gate. */
struct cdr_engine *gate_engine_enter(struct enclave *e);
void gate_engine_leave(struct enclave *e, struct cdr_engine *lane);

/* The most queries one member runs at once: the room's limit
 * member_queries (room_limits.h, set by the room's admin), bounded by
 * the work lanes: min(member_queries, max(1, workers - 1)), so that with
 * two lanes or more one stays free for the other members whatever the
 * limit says.  Unlimited with one lane (a connected enclave: requests run
 * one at a time there, a cap would change nothing).  Read under the room
 * gate (held shared by the query): IPC_LIMITS changes member_queries
 * holding it exclusive, so a query's enter and leave see one cap. */
#define ENCLAVE_MEMBER_QUERIES_UNLIMITED 0xffffffffu
unsigned enclave_member_query_cap(const struct enclave *e);
/* Count one more running query of member `name`: 0, or CDR_ERR_BUSY with
 * the refusal's sentence in msg when the member is at its cap. */
int gate_member_enter(struct enclave *e, const char *name, char *msg, size_t msglen) CDR_WUR;
void gate_member_leave(struct enclave *e, const char *name);

#endif
