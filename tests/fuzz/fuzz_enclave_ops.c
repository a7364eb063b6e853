/*
 * fuzz_enclave_ops.c - what an authenticated user can make the enclave
 * run: the decrypted request plaintext, lp(header JSON) || payload,
 * handed to ops_run (src/enclave/ops.c) as
 * enclave_handle_request does after the signature, sequence number and
 * AEAD tag have been checked.  A fuzzer cannot forge those, so
 * fuzz_ipc_frames never gets this far with a mutated plaintext; this
 * target starts behind them.
 *
 * Input: one byte choosing the session's user (fuzz_who in fuzzlib.h:
 * the owner of the fixture tables, an analyst with a grant, another
 * provider, an auditor; 4: a certificate without a known role), then the
 * plaintext.  Every input gets a fresh enclave (enclave_fixture.c), made
 * ready, with a host that stores whatever the enclave asks it to, and the
 * fixture tables of fuzzlib.h put there by the owner through the same
 * operations (upload, hide, grant).
 *
 * Invariants: the operation never fails for the user's input (only out
 * of memory may make it return an error) and never stops the enclave;
 * the response plaintext is one JSON object, as the client parses it,
 * whose "ok" is a boolean that agrees with the status byte; a failure
 * names an error code, the one the outcome carries.
 */
#include <jansson.h>
#include <string.h>

#include "client/client.h"
#include "common/limits.h"
#include "enclave/enclave.h"
#include "enclave/ops.h"
#include "enclave_fixture.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "fuzzlib.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_quiet();
  fx_init();
  return 0;
}

/* Run one operation; returns the status byte, checks the invariants.
 * With show set, prints the answer (for the harness's own setup). */
static uint8_t run_op(struct enclave *e, const struct session *s, const uint8_t *pt, size_t ptlen, int show) {
  struct cdr_buf out;
  struct enclave_op_outcome res = {0xff, 0, 0};
  uint8_t status = 0xff;
  json_error_t jerr;
  cdr_buf_init(&out, CDR_MAX_PLAINTEXT, 0);
  int r = ops_run(e, s, pt, ptlen, &out, &res);
  status = res.status;
  FUZZ_CHECK(r == 0 || r == CDR_ERR_NOMEM);
  FUZZ_CHECK(!e->fatal);
  if (r == 0) {
    FUZZ_CHECK(status == CDR_STATUS_OK || status == CDR_STATUS_FAILED);
    /* Parsed as the client parses it (src/client/http_client.c). */
    json_t *j = json_loadb((const char *)cdr_buf_ptr(&out), cdr_buf_avail(&out), JSON_REJECT_DUPLICATES, &jerr);
    FUZZ_CHECK(json_is_object(j));
    json_t *ok = json_object_get(j, "ok");
    FUZZ_CHECK(json_is_boolean(ok));
    FUZZ_CHECK(json_is_true(ok) == (status == CDR_STATUS_OK));
    if (!json_is_true(ok))
      FUZZ_CHECK(json_is_string(json_object_get(j, "error")));
    /* The outcome carries the code the answer names (the audit entry's). */
    if (!json_is_true(ok))
      FUZZ_CHECK(strcmp(json_string_value(json_object_get(j, "error")), cdr_err_code(res.code)) == 0);
    json_decref(j);
    if (show && status != CDR_STATUS_OK)
      fprintf(stderr, "fixture operation failed: %.*s\n", (int)cdr_buf_avail(&out), (const char *)cdr_buf_ptr(&out));
  }
  cdr_buf_free(&out);
  return status;
}

static void setup_op(struct enclave *e, const struct session *owner, const char *header, const char *payload) {
  struct cdr_buf pt;
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  FUZZ_CHECK(cdr_request_plaintext(&pt, header, payload, payload ? strlen(payload) : 0) == 0);
  FUZZ_CHECK(run_op(e, owner, pt.d, pt.len, 1) == CDR_STATUS_OK);
  cdr_buf_free(&pt);
}

/* Upload csv as `table` through the streaming operations, as `cdr
 * upload` does: begin (declared schema), one chunk, commit. */
static void setup_upload(struct enclave *e, const struct session *owner, const char *table, const char *schema,
                         const char *csv) {
  struct cdr_buf pt, out;
  struct enclave_op_outcome res = {0xff, 0, 0};
  uint8_t h[32];
  char hdr[2048], hex[65];
  json_t *j;
  size_t n = strlen(csv);
  snprintf(hdr, sizeof(hdr), "{\"op\":\"upload_begin\",\"table\":\"%s\",\"schema\":%s,\"bytes\":%zu}", table,
           schema, n);
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  cdr_buf_init(&out, CDR_MAX_PLAINTEXT, 0);
  FUZZ_CHECK(cdr_request_plaintext(&pt, hdr, NULL, 0) == 0);
  FUZZ_CHECK(ops_run(e, owner, pt.d, pt.len, &out, &res) == 0 && res.status == CDR_STATUS_OK);
  j = json_loadb((const char *)out.d, out.len, 0, NULL);
  FUZZ_CHECK(json_is_string(json_object_get(j, "upload")));
  char id[64];
  snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(j, "upload")));
  json_decref(j);
  cdr_buf_free(&pt);
  snprintf(hdr, sizeof(hdr), "{\"op\":\"upload_chunk\",\"upload\":\"%s\",\"index\":0}", id);
  setup_op(e, owner, hdr, csv);
  FUZZ_CHECK(cdr_sha256(h, csv, n) == 0);
  cdr_hex_encode(hex, h, sizeof(h));
  snprintf(hdr, sizeof(hdr),
           "{\"op\":\"upload_commit\",\"upload\":\"%s\",\"chunks\":1,\"bytes\":%zu,\"sha256\":\"%s\"}", id, n,
           hex);
  setup_op(e, owner, hdr, NULL);
  cdr_buf_free(&out);
}

/* The fixture tables, as the owner would make them. */
static void setup_tables(struct enclave *e, const struct session *owner) {
  static const char ledger[] = "account,balance\nACC-1,100.5\nACC-2,-3.25\nACC-3,0.5\n";
  setup_upload(e, owner, "patients",
               "[{\"name\":\"patient_id\",\"type\":\"INTEGER\"},{\"name\":\"age\",\"type\":\"INTEGER\"},"
               "{\"name\":\"sex\",\"type\":\"TEXT\"},{\"name\":\"diagnosis\",\"type\":\"TEXT\"},"
               "{\"name\":\"systolic_bp\",\"type\":\"INTEGER\"},{\"name\":\"cost_eur\",\"type\":\"REAL\"},"
               "{\"name\":\"note\",\"type\":\"TEXT\"}]",
               fuzz_patients_csv);
  setup_upload(e, owner, "ledger", "[{\"name\":\"account\",\"type\":\"TEXT\"},{\"name\":\"balance\",\"type\":\"REAL\"}]",
               ledger);
  setup_op(e, owner, "{\"op\":\"hide\",\"table\":\"patients\",\"column\":\"note\"}", NULL);
  setup_op(e, owner, "{\"op\":\"grant\",\"table\":\"patients\",\"to\":\"role:analyst\",\"columns\":[\"age\",\"sex\",\"diagnosis\"]}",
           NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const struct fuzz_pki *k = fuzz_pki();
  struct fx_storage storage;
  struct session other;
  uint8_t id[CDR_SESSION_ID_LEN];
  if (size < 1)
    return 0;
  struct enclave *e = fx_enclave_new();
  fx_enclave_ready(e);
  fx_storage_start(e, &storage);

  fuzz_fill(id, sizeof(id), FUZZ_BYTE_PROVIDER_SESSION);
  const struct session *provider = session_table_find(&e->sessions, id);
  fuzz_fill(id, sizeof(id), FUZZ_BYTE_ANALYST_SESSION);
  const struct session *analyst = session_table_find(&e->sessions, id);
  FUZZ_CHECK(provider != NULL && analyst != NULL);
  setup_tables(e, provider);

  /* The users without a session in the table get one here. */
  struct engine_principal who;
  uint8_t sel = data[0] % 5;
  memset(&other, 0, sizeof(other));
  fuzz_principal((enum fuzz_who)(sel % 4), &who);
  snprintf(other.name, sizeof(other.name), "%s", who.name);
  other.role = sel == 4 ? CDR_ROLE_NONE : who.role;
  other.user_key = k->share_key;
  memcpy(other.key_fp, who.key_fp, sizeof(other.key_fp));
  other.expires_at = fuzz_now() + FUZZ_SESSION_LIFETIME;
  other.last_seq = 1;
  const struct session *s = sel == FUZZ_WHO_PROVIDER ? provider : sel == FUZZ_WHO_ANALYST ? analyst : &other;

  (void)run_op(e, s, data + 1, size - 1, 0);
  fx_storage_stop(e, &storage);
  fx_enclave_free(e);
  return 0;
}
