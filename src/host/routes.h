/*
 * routes.h - the handlers of cdrd's HTTP API (docs/PROTOCOL.md section
 * 4): JSON in, plain calls into the room (enrollment) and the enclave
 * stubs (attest, session, request), JSON out.  No handler builds an IPC
 * frame or touches a key.
 */
#ifndef CDR_HOST_ROUTES_H
#define CDR_HOST_ROUTES_H

#include <stddef.h>

#include "http.h"
#include "enclave_link.h"
#include "host/metrics.h"
#include "host/progress.h"
#include "room/room.h"

struct host_ctx;

/*
 * What the handlers share.  room must stay valid and unchanged while
 * the server runs; ca and link may be NULL (tests): enrollment then
 * answers 500 hsm_error and the enclave routes 503 internal, after the
 * request has been parsed and checked.  Computes the CA certificate's
 * PEM and fingerprint once.
 */
int host_ctx_new(struct host_ctx **out, const struct cdr_room *room, struct cdr_ca *ca,
                 struct enclave_link *link) CDR_WUR;
void host_ctx_free(struct host_ctx *h);

/* Serve while the room loads (PROTOCOL 4.2): with progress set, every
 * route but /v1/health, /v1/ready and /v1/openapi.json answers 503
 * room_loading until progress says HOST_PHASE_READY; metrics (may be
 * NULL) counts the sessions opened.  Call before the server starts. */
void host_ctx_set_progress(struct host_ctx *h, struct host_progress *progress, struct host_metrics *metrics);
/* The enclave link, once started: before the phase becomes READY. */
void host_ctx_set_link(struct host_ctx *h, struct enclave_link *link);

/* The route table ({method, path, handler}) for http_server_start with a
 * struct host_ctx as ctx. */
const struct http_route *host_routes(size_t *n);

#endif
