/*
 * persist.h - the enclave's sealed state across restarts
 * (docs/design/persistence.md): committing new versions of the manifest
 * and table files through the host's store (store_client.h).  Loading
 * them at start is enclave_load.c (the IPC_LOAD* handlers, enclave.h).
 *
 * Every commit happens inside a request handler, before the request is
 * answered, so a client hears "ok" only after its change is durable.
 */
#ifndef CDR_PERSIST_H
#define CDR_PERSIST_H

#include <stdint.h>

#include "common/buf.h"
#include "enclave.h"

/* After a change is committed in the engine, make it durable before the
 * client hears of it.  On a storage failure these set e->fatal (the
 * enclave then exits: see persist.c) and return the error. */
int persist_table_written(struct enclave *e, const char *name) CDR_WUR; /* upload or replace */
int persist_table_dropped(struct enclave *e, const char *name) CDR_WUR;
int persist_meta_changed(struct enclave *e) CDR_WUR; /* grant, revoke, hide */
struct persist;
void persist_free(struct persist *p);

#endif
