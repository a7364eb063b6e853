/*
 * fuzz_witness.c - what a witness and its askers parse from the other
 * side (PROTOCOL 9): a countersign request's head and join (the contract
 * chain and attestation evidence, src/witness/witness_join.c) and a
 * "latest" answer (src/crypto/witness_msg.c).  The host relays all of it
 * and is trusted by neither side.
 *
 * Input: JSON text, tried as a countersign request and as a latest
 * answer.
 *
 * Invariants: every refusal is one of the codes the parsers promise
 * (bad_request for a field, contract_invalid for a chain, attestation_*
 * for evidence, out of memory) and leaves the join's output empty; a
 * parsed latest answer is verified without reading past what it holds.
 */
#include <jansson.h>
#include <string.h>

#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/witness_msg.h"
#include "fuzzlib.h"
#include "witness/witness.h"

static struct witness w;
static EVP_PKEY *wkey;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  uint8_t d[32];
  fuzz_quiet();
  memset(d, 0x5e, sizeof(d));
  if (cdr_p256_from_private(&wkey, d) != 0)
    abort();
  w.key = wkey;
  w.allow_sim = 1;
  return 0;
}

static int join_code_ok(int r) {
  return r == CDR_ERR_ARG || r == CDR_ERR_CONTRACT_INVALID || r == CDR_ERR_NOMEM || r == CDR_ERR_CRYPTO ||
         (r <= CDR_ERR_ATTEST_SIGNATURE && r >= CDR_ERR_ATTEST_DEBUG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
  struct cdr_witness_head h;
  struct cdr_witness_latest l;
  struct witness_room out;
  uint8_t room[CDR_ROOM_ID_BYTES] = {0}, nonce[CDR_NONCE_LEN] = {0};
  char why[512];
  int r;
  if (j == NULL)
    return 0;
  r = cdr_witness_head_from_json(json_object_get(j, "head"), &h, 0, why, sizeof(why));
  FUZZ_CHECK(r == 0 || r == CDR_ERR_ARG);
  FUZZ_CHECK(r != 0 || (h.sig_len > 0 && h.sig_len <= sizeof(h.sig)));
  const char *rid = json_string_value(json_object_get(j, "room_id"));
  if (rid == NULL || cdr_hex_decode(room, sizeof(room), rid) != 0)
    memset(room, 0, sizeof(room));
  r = witness_join_check(&w, room, json_object_get(j, "join"), NULL, &out, why, sizeof(why));
  if (r != 0) {
    FUZZ_CHECK(join_code_ok(r));
    FUZZ_CHECK(out.contract_doc == NULL && out.identity_spki_len == 0);
  } else {
    FUZZ_CHECK(out.contract_doc != NULL && out.identity_spki_len > 0);
    witness_room_free(&out);
  }
  r = cdr_witness_latest_parse(j, &l, why, sizeof(why));
  FUZZ_CHECK(r == 0 || r == CDR_ERR_ARG);
  if (r == 0) {
    FUZZ_CHECK(l.sig_len > 0 && l.sig_len <= sizeof(l.sig) && l.identity_spki_len <= sizeof(l.identity_spki));
    memcpy(nonce, l.nonce, sizeof(nonce));
    r = cdr_witness_latest_verify(&l, wkey, l.room_id, nonce, why, sizeof(why));
    FUZZ_CHECK(r == 0 || r == CDR_ERR_BAD_SIGNATURE || r == CDR_ERR_WITNESS_REPLAYED || r == CDR_ERR_NOMEM ||
               r == CDR_ERR_CRYPTO);
  }
  json_decref(j);
  return 0;
}
