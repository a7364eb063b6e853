/*
 * enclave_state.h - what cdrd does with the enclave's sealed state when
 * it starts one (docs/design/persistence.md): it hands over the sealed
 * identity, checks the enclave's platform against room.json, clears an
 * ephemeral platform's earlier run (docs/ATTESTATION.md, "Sealing"),
 * stores what the enclave asks and plans the load of its sealed tables
 * (table_loader.h).
 * cdrd cannot read any of it.
 */
#ifndef CDR_HOST_ENCLAVE_STATE_H
#define CDR_HOST_ENCLAVE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "host/progress.h"
#include "host/store.h"
#include "host/table_loader.h"
#include "enclave_link.h"
#include "room/room.h"

/* The sealed identity an earlier start stored (malloc'd; NULL and 0
 * before the first), for IPC_INIT. */
int host_state_sealed_identity(struct host_store *st, uint8_t **blob, size_t *len) CDR_WUR;

/* After IPC_INIT: check the enclave's platform against room.json; on a
 * platform that keeps no state, remove the earlier run's objects (only
 * if a platform of that kind sealed them); serve the enclave's storage
 * operations from st; hand over the manifest (IPC_LOAD), plan the load
 * of the tables it names into *loader (host_loader_plan: the totals go
 * to progress, may be NULL) and have the enclave check its state and
 * start serving (IPC_LOAD_DONE); remove table files no manifest names;
 * store a newly made (or re-sealed) sealed identity, only now, so that
 * a start the enclave refused changes nothing; then note the platform
 * in ROOM/state/platform.  The tables themselves load afterwards, while
 * the room serves (host_loader_start).  Each failure is logged; the
 * enclave's refusal of the room's CA is returned as
 * CDR_ERR_CA_MISMATCH. */
int host_state_load(const struct cdr_room *room, struct host_store *st, struct enclave_link *link,
                    struct host_progress *progress, struct host_loader *loader) CDR_WUR;

#endif
