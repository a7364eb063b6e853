/*
 * upgrade.h - cdrd --upgrade-to: the host's side of the upgrade handoff
 * (ipc.h, src/enclave/upgrade.c, docs/ATTESTATION.md "Sealing and
 * upgrades").
 */
#ifndef CDR_HOST_UPGRADE_H
#define CDR_HOST_UPGRADE_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "host/enclave_link.h"
#include "host/store.h"

struct host_upgrade_args {
  struct enclave_link *running;    /* the room's enclave, READY */
  struct enclave_link_opts next;   /* how to start the new build (enclave_path its binary) */
  const uint8_t *room_id;          /* CDR_ROOM_ID_BYTES */
  const uint8_t *ca_der;
  size_t ca_len;
  struct host_store *store;
};

/* Start the new build beside the running enclave (IPC_UPGRADE_HELLO with
 * the room's stored sealed identity), pass its attested answer to the
 * running one (IPC_UPGRADE_OFFER), pass the keys back
 * (IPC_UPGRADE_ACCEPT), and store the sealed identity the new build
 * returns, its root wrapped for the new measurement.  Stops the new
 * build.  A refusal (the contract does not accept the measurement, the
 * evidence does not verify) stores nothing and returns its code, with
 * the reason logged.  Everything is logged. */
int host_upgrade(const struct host_upgrade_args *a) CDR_WUR;

#endif
