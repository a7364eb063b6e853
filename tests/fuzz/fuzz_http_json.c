/*
 * fuzz_http_json.c - HTTP request bodies as cdrd parses them.
 *
 * Input: one byte choosing a route of host_routes() (src/host/routes.c:
 * health, room, enroll, attest, session, request), then the request
 * body.  The handler is called exactly as http.c's dispatcher calls it:
 * body NUL-terminated after body_len bytes.  The host context is the one
 * tests/unit/test_http.c uses: a room with the fixture CA, no PKCS#11
 * CA and no enclave link, so every handler parses and checks its whole
 * request and then answers "hsm_error" or "enclave down" instead of
 * signing or calling the enclave.
 *
 * Invariants: a handler returns 0 with a JSON body (or, for the
 * description, its text), or a known negative
 * cdr_err and a NUL-terminated message.
 */
#include <string.h>

#include "common/err.h"
#include "fuzzlib.h"
#include "host/routes.h"

static struct cdr_room room;
static struct host_ctx *ctx;
static const struct http_route *routes;
static size_t nroutes;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const struct fuzz_pki *k = fuzz_pki();
  fuzz_quiet();
  memset(&room, 0, sizeof(room));
  snprintf(room.room_id, sizeof(room.room_id), "%s", "f0221a5ebd1e5eedf0221a5ebd1e5eed");
  room.name = (char *)"Fuzz room";
  room.attestation = (char *)"sim";
  room.ca_cert = k->ca;
  FUZZ_CHECK(host_ctx_new(&ctx, &room, NULL, NULL) == 0);
  routes = host_routes(&nroutes);
  FUZZ_CHECK(nroutes > 0);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct http_request rq;
  struct http_reply rep;
  if (size < 1)
    return 0;
  const struct http_route *route = &routes[data[0] % nroutes];
  /* http.c hands handlers a body with a NUL after it. */
  uint8_t *body = malloc(size);
  FUZZ_CHECK(body != NULL);
  memcpy(body, data + 1, size - 1);
  body[size - 1] = '\0';
  memset(&rep, 0, sizeof(rep));
  rq.method = route->method;
  rq.path = route->path;
  rq.body = body;
  rq.body_len = size - 1;
  int r = route->handler(ctx, &rq, &rep);
  if (r == 0) {
    /* A JSON body, or (GET /v1/openapi.json) the rendered text. */
    FUZZ_CHECK(rep.body != NULL || (rep.text != NULL && rep.text_len > 0));
  } else {
    FUZZ_CHECK(r < 0 && r > -(int)CDR_ERR__COUNT);
    FUZZ_CHECK(memchr(rep.message, '\0', sizeof(rep.message)) != NULL);
  }
  json_decref(rep.body);
  free(rep.text);
  free(body);
  return 0;
}
