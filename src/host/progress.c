/*
 * progress.c - cdrd's start-up phase and load counts; see progress.h.
 */
#include "progress.h"

#include "common/wire.h"

void host_progress_init(struct host_progress *p) {
  atomic_init(&p->phase, HOST_PHASE_STARTING);
  atomic_init(&p->totals_known, 0);
  atomic_init(&p->tables_loaded, 0);
  atomic_init(&p->tables_total, 0);
  atomic_init(&p->bytes_loaded, 0);
  atomic_init(&p->bytes_total, 0);
}

void host_progress_set_phase(struct host_progress *p, enum host_phase phase) { atomic_store(&p->phase, (int)phase); }

enum host_phase host_progress_phase(struct host_progress *p) { return (enum host_phase)atomic_load(&p->phase); }

const char *host_progress_phase_name(enum host_phase phase) {
  switch (phase) {
  case HOST_PHASE_STARTING: return "starting";
  case HOST_PHASE_LOADING: return "loading";
  case HOST_PHASE_READY: return "ready";
  default: return "failed";
  }
}

/* A count as a JSON integer (jansson's are signed 64-bit). */
static json_t *progress_count(atomic_uint_fast64_t *v) {
  uint64_t x = atomic_load(v);
  return json_integer(x > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)x);
}

json_t *host_progress_json(struct host_progress *p) {
  enum host_phase phase = host_progress_phase(p);
  const char *status = phase == HOST_PHASE_READY ? "ok" : phase == HOST_PHASE_FAILED ? "failed" : "loading";
  json_t *o = json_pack("{s:s, s:s, s:b, s:b, s:i}", "status", status, "phase", host_progress_phase_name(phase),
                        "ready", phase == HOST_PHASE_READY, "serving",
                        phase == HOST_PHASE_READY || phase == HOST_PHASE_LOADING, "version", (int)CDR_PROTOCOL_VERSION);
  if (o == NULL || !atomic_load(&p->totals_known))
    return o;
  json_t *g = json_pack("{s:o, s:o, s:o, s:o}", "tables_loaded", progress_count(&p->tables_loaded), "tables_total",
                        progress_count(&p->tables_total), "bytes_loaded", progress_count(&p->bytes_loaded),
                        "bytes_total", progress_count(&p->bytes_total));
  if (g == NULL || json_object_set_new(o, "progress", g) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}
