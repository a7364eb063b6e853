/*
 * progress.h - where cdrd is in its start-up, for /v1/health, /v1/ready
 * and /metrics (docs/PROTOCOL.md 4.2).
 *
 * cdrd listens before the enclave has loaded the room, so the HTTP
 * threads read this while the main thread writes it: every field is an
 * atomic: the phase written by the main thread, the counts by the table
 * loader's thread.  The totals are the table files the enclave asked for
 * (its manifest names them) and their sizes; tables_loaded counts those
 * whose load ended, accepted or refused, and bytes_loaded the bytes the
 * enclave accepted.  Nothing here is secret: sizes and counts of sealed
 * files are visible on the disk.
 */
#ifndef CDR_HOST_PROGRESS_H
#define CDR_HOST_PROGRESS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

enum host_phase {
  HOST_PHASE_STARTING, /* the enclave is started (or connected to) and checks its sealed state */
  HOST_PHASE_LOADING,  /* it serves requests while its sealed tables load (table_loader.h) */
  HOST_PHASE_READY,    /* it serves requests, every table loaded */
  HOST_PHASE_FAILED    /* it refused the room; cdrd is about to exit */
};

struct host_progress {
  atomic_int phase;
  atomic_int totals_known; /* the four counts below are meaningful */
  atomic_uint_fast64_t tables_loaded, tables_total, bytes_loaded, bytes_total;
};

void host_progress_init(struct host_progress *p);
void host_progress_set_phase(struct host_progress *p, enum host_phase phase);
enum host_phase host_progress_phase(struct host_progress *p);
/* The phase's name on the wire: "starting", "loading", "ready", "failed". */
const char *host_progress_phase_name(enum host_phase phase);

/* The body of /v1/health and /v1/ready (PROTOCOL 4.2), a new reference or
 * NULL out of memory:
 *   {"status": "ok"|"loading"|"failed", "phase": NAME, "ready": bool,
 *    "serving": bool, "version": 1, "progress": {tables_loaded,
 *    tables_total, bytes_loaded, bytes_total}}
 * with "progress" only once the totals are known. */
json_t *host_progress_json(struct host_progress *p);

#endif
