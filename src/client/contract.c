/*
 * contract.c - the client's side of the room contract operations
 * (docs/PROTOCOL.md 4.7 contract, contract_propose, contract_sign; 8):
 * reading the versions, proposing one, and signing the pending version
 * with the user's own key.  A signature is made only over a document the
 * enclave itself showed through the secure channel and whose hash is the
 * one the user named, so the host cannot have a member sign a draft
 * other than the one all members read.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"

int cdr_client_contract(struct cdr_client *c, struct cdr_session *s, uint64_t from, json_t **result) {
  json_t *hdr = from > 0 ? json_pack("{s:s,s:I}", "op", "contract", "from", (json_int_t)from)
                         : json_pack("{s:s}", "op", "contract");
  int r;
  if (hdr == NULL)
    return CDR_ERR_NOMEM;
  r = cdr_client_op(c, s, hdr, result);
  json_decref(hdr);
  return r;
}

int cdr_client_contract_propose(struct cdr_client *c, struct cdr_session *s, const uint8_t *doc, size_t len,
                                json_t **result) {
  return cdr_client_request(c, s, "{\"op\":\"contract_propose\"}", doc, len, result);
}

/* The pending version the enclave shows: its canonical document, which
 * must hash to want (else CDR_ERR_CONTRACT_MISMATCH, with the hash it
 * has in the detail). */
static int pending_doc(struct cdr_client *c, json_t *res, const uint8_t want[32], struct cdr_contract *doc) {
  json_t *p = json_object_get(res, "pending");
  const char *text;
  size_t len;
  uint8_t h[32];
  char hex[65], why[CDR_CONTRACT_WHY_LEN] = "";
  if (p == NULL || json_is_null(p)) {
    cdr_client_set_detail(c, "no contract version is pending (none was proposed, or it expired)");
    return CDR_ERR_CONTRACT_NO_PENDING;
  }
  if (cdr_json_get_str(p, "document", CDR_CONTRACT_MAX_BYTES, &text, &len) != 0 || cdr_sha256(h, text, len) != 0) {
    cdr_client_set_detail(c, "the enclave's answer has no pending document");
    return CDR_ERR_SERVER;
  }
  if (memcmp(h, want, 32) != 0) {
    cdr_hex_encode(hex, h, 32);
    cdr_client_set_detail(c, "the pending version's hash is %s, not the one given: read it again with `cdr contract`",
                          hex);
    return CDR_ERR_CONTRACT_MISMATCH;
  }
  if (cdr_contract_parse((const uint8_t *)text, len, doc, why, sizeof(why)) != 0) {
    cdr_client_set_detail(c, "the pending document is not a valid contract: %s", why);
    return CDR_ERR_CONTRACT_INVALID;
  }
  if (c->have_ca && memcmp(doc->room_id, c->room_id, CDR_ROOM_ID_BYTES) != 0) {
    cdr_contract_free(doc);
    cdr_client_set_detail(c, "the pending document is for another room");
    return CDR_ERR_CONTRACT_INVALID;
  }
  return 0;
}

int cdr_client_contract_sign(struct cdr_client *c, struct cdr_session *s, const uint8_t hash[32], json_t **result) {
  struct cdr_contract doc;
  struct cdr_contract_sig so;
  struct cdr_buf sig;
  json_t *res = NULL;
  uint8_t *obj = NULL;
  size_t objlen = 0;
  int r;
  *result = NULL;
  memset(&doc, 0, sizeof(doc));
  if (c->key == NULL || c->spki == NULL) {
    cdr_client_set_detail(c, "no user key to sign with");
    return CDR_ERR_ARG;
  }
  if ((r = cdr_client_contract(c, s, 0, &res)) != 0 || (r = pending_doc(c, res, hash, &doc)) != 0)
    goto out;
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  memset(&so, 0, sizeof(so));
  so.version = doc.version;
  memcpy(so.contract_sha256, hash, 32);
  if ((r = cdr_sha256(so.member_key_sha256, c->spki, c->spki_len)) == 0 &&
      (r = cdr_contract_sign(c->key, hash, doc.room_id, doc.version, &sig)) == 0) {
    so.sig = sig.d;
    so.sig_len = sig.len;
    r = cdr_contract_sig_encode(&so, &obj, &objlen);
  }
  cdr_buf_free(&sig);
  if (r == 0)
    r = cdr_client_request(c, s, "{\"op\":\"contract_sign\"}", obj, objlen, result);
out:
  free(obj);
  cdr_contract_free(&doc);
  json_decref(res);
  return r;
}
