/*
 * fuzz_client_responses.c - the client's judgement of what the host
 * answers (src/client): the host is the attacker here and writes every
 * byte the client reads.
 *
 * Input: one mode byte, for modes 2 and 3 one byte choosing the HTTP
 * status, then the HTTP body.  The client is the fixture analyst, trusts
 * the fixture room CA, and remembers fixed values as if it had sent the
 * request being answered (fuzzlib.h; the seed generator signs and
 * seals with the same values):
 *
 *   mode 0  POST /v1/attest answer: cdr_attest_verify_response with the
 *           nonce FUZZ_BYTE_ATTEST_NONCE, sim allowed, at FUZZ_NOW.
 *   mode 1  POST /v1/session answer: cdr_session_open_finish with the
 *           fixture enclave identity key and a pending open (client key
 *           share, nonce, H(T_req)) of fixed values.
 *   mode 2  POST /v1/request answer: cdr_response_verify for the request
 *           seq 1 of the analyst's session (fixed id and keys).
 *   mode 3  an error answer: cdr_http_error.
 *   mode 4  a decrypted query result: cdr_result_check and the three
 *           renderers; the table (for terminals) must hold no control
 *           character but its line ends.
 *
 * Invariants (no forgery): an accepted attestation names exactly the
 * fixture identity key, the measurement and the platform time the seeds
 * were signed with; an accepted session open yields exactly the seeds'
 * session id and expiry; an accepted response has a JSON object whose
 * "ok" agrees with the HTTP status; a clear error never reads as
 * success.
 */
#include <jansson.h>
#include <string.h>

#include "client/client.h"
#include "client/render.h"
#include "crypto/crypto.h"
#include "fuzzlib.h"

/* What the seed generator signs (mkseeds.c). */
#define FUZZ_BYTE_MEASUREMENT 0x4d
#define FUZZ_BYTE_OPEN_SESSION 0x0e

static struct cdr_client *client;
static struct cdr_open_pending pending_open;
static struct cdr_session session;
static struct cdr_session_keys session_keys;
static struct cdr_pending pending_req;
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  const struct fuzz_pki *k = fuzz_pki();
  fuzz_quiet();
  FUZZ_CHECK(cdr_client_new(&client, "http://127.0.0.1:9") == 0);
  FUZZ_CHECK(cdr_client_set_ca(client, k->ca) == 0);
  FUZZ_CHECK(cdr_client_set_user(client, k->analyst_key, k->analyst) == 0);
  cdr_client_allow_sim(client, 1);

  memset(&pending_open, 0, sizeof(pending_open));
  pending_open.c_key = k->share_key;
  FUZZ_CHECK(cdr_p256_point_get(pending_open.c_pub, k->share_key) == 0);
  fuzz_fill(pending_open.client_nonce, sizeof(pending_open.client_nonce), FUZZ_BYTE_CLIENT_NONCE);
  pending_open.timestamp = (uint64_t)k->now;
  fuzz_fill(pending_open.treq_hash, sizeof(pending_open.treq_hash), FUZZ_BYTE_TREQ_HASH);
  memcpy(pending_open.cert_fp, k->analyst_fp, 32);

  fuzz_session_keys(&session_keys);
  memset(&session, 0, sizeof(session));
  fuzz_fill(session.id, sizeof(session.id), FUZZ_BYTE_ANALYST_SESSION);
  session.expires_at = (uint64_t)(k->now + FUZZ_SESSION_LIFETIME);
  session.seq = 1;
  session.keys = &session_keys;
  session.identity = k->identity_key;
  memset(&pending_req, 0, sizeof(pending_req));
  memcpy(pending_req.session_id, session.id, sizeof(session.id));
  pending_req.seq = 1;
  pending_req.timestamp = (uint64_t)k->now;
  fuzz_fill(pending_req.ct_hash, sizeof(pending_req.ct_hash), FUZZ_BYTE_REQ_CT_HASH);

  devnull = fopen("/dev/null", "w");
  FUZZ_CHECK(devnull != NULL);
  return 0;
}

static void attest_answer(const uint8_t *body, size_t len) {
  const struct fuzz_pki *k = fuzz_pki();
  struct cdr_attest_policy pol;
  struct cdr_attestation att;
  uint8_t nonce[CDR_NONCE_LEN], meas[CDR_MEASUREMENT_LEN];
  char detail[256];
  json_t *j = NULL;
  if (cdr_json_parse_object(&j, body, len) != 0)
    return;
  fuzz_fill(nonce, sizeof(nonce), FUZZ_BYTE_ATTEST_NONCE);
  memset(&pol, 0, sizeof(pol));
  pol.ca = k->ca;
  pol.room_id = k->room_id;
  pol.ca_fp = k->ca_fp;
  pol.nonce = nonce;
  pol.allow_sim = 1;
  pol.now = k->now;
  if (cdr_attest_verify_response(&att, j, &pol, detail, sizeof(detail)) == 0) {
    fuzz_fill(meas, sizeof(meas), FUZZ_BYTE_MEASUREMENT);
    FUZZ_CHECK(att.identity != NULL);
    FUZZ_CHECK(att.identity_spki_len == k->identity_spki_len &&
               memcmp(att.identity_spki, k->identity_spki, k->identity_spki_len) == 0);
    FUZZ_CHECK(memcmp(att.measurement, meas, sizeof(meas)) == 0);
    FUZZ_CHECK(att.timestamp == (uint64_t)k->now);
    cdr_attestation_clear(&att);
  } else {
    FUZZ_CHECK(att.identity == NULL);
  }
  json_decref(j);
}

static void session_answer(const uint8_t *body, size_t len) {
  const struct fuzz_pki *k = fuzz_pki();
  struct cdr_session *s = NULL;
  uint8_t sid[CDR_SESSION_ID_LEN];
  json_t *j = NULL;
  if (cdr_json_parse_object(&j, body, len) != 0)
    return;
  if (cdr_session_open_finish(client, k->identity_key, &pending_open, j, &s) == 0) {
    fuzz_fill(sid, sizeof(sid), FUZZ_BYTE_OPEN_SESSION);
    FUZZ_CHECK(s != NULL && memcmp(s->id, sid, sizeof(sid)) == 0);
    FUZZ_CHECK(s->expires_at == (uint64_t)(k->now + FUZZ_SESSION_LIFETIME));
    cdr_session_free(s);
  } else {
    FUZZ_CHECK(s == NULL);
  }
  json_decref(j);
}

static long status_of(uint8_t b) {
  static const long statuses[] = {200, 422, 400, 401, 403, 404, 409, 413, 500, 503, 204, 302};
  return statuses[b % (sizeof(statuses) / sizeof(statuses[0]))];
}

static void request_answer(long status, const uint8_t *body, size_t len) {
  json_t *plain = NULL;
  int failed = -1;
  int r = cdr_response_verify(client, &session, &pending_req, status, body, len, &plain, &failed);
  if (r == 0) {
    FUZZ_CHECK(status == 200 || status == 422);
    FUZZ_CHECK(json_is_object(plain));
    FUZZ_CHECK(failed == (status == 422));
    FUZZ_CHECK(json_is_true(json_object_get(plain, "ok")) == (status == 200));
  } else {
    FUZZ_CHECK(r < 0 && plain == NULL);
  }
  json_decref(plain);
}

static void error_answer(long status, const uint8_t *body, size_t len) {
  FUZZ_CHECK(cdr_http_error(client, status, body, len) < 0);
  FUZZ_CHECK(memchr(client->remote_code, '\0', sizeof(client->remote_code)) != NULL);
  /* cdr_sanitize: no C0, DEL or C1 control reaches the terminal. */
  for (const unsigned char *p = (const unsigned char *)client->remote_message; *p; p++) {
    FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
    FUZZ_CHECK(!(p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f));
  }
}

static void result_render(const uint8_t *body, size_t len) {
  json_t *j = NULL;
  if (cdr_json_parse_object(&j, body, len) != 0)
    return;
  if (cdr_result_check(j) == 0) {
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    FUZZ_CHECK(f != NULL);
    int rt = cdr_render_table(f, j);
    FUZZ_CHECK(fclose(f) == 0);
    /* render.h: data cannot reach the terminal as a control character. */
    if (rt == 0)
      for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)text + i;
        FUZZ_CHECK((*p >= 0x20 || *p == '\n') && *p != 0x7f);
        FUZZ_CHECK(!(p[0] == 0xc2 && i + 1 < n && p[1] >= 0x80 && p[1] <= 0x9f));
      }
    free(text);
    if (cdr_render_csv(devnull, j) != 0 || cdr_render_json(devnull, j) != 0)
      FUZZ_CHECK(rt != 0); /* the three agree on what they can render */
  }
  json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_in in = {data, size};
  uint8_t mode = fuzz_u8(&in) % 5;
  cdr_client_clear_error(client);
  switch (mode) {
  case 0: attest_answer(in.p, in.n); break;
  case 1: session_answer(in.p, in.n); break;
  case 2: {
    long status = status_of(fuzz_u8(&in));
    request_answer(status, in.p, in.n);
    break;
  }
  case 3: {
    long status = status_of(fuzz_u8(&in));
    error_answer(status, in.p, in.n);
    break;
  }
  default: result_render(in.p, in.n); break;
  }
  return 0;
}
