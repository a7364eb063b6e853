/*
 * contract_sign.c - a member's signature over one version of the room
 * contract (contract.h, PROTOCOL.md 8.4 and 8.5): the signed message,
 * signing with the member's own key, verification against the member's
 * key fingerprint, and the detached signature object.
 *
 * Invariants: the signed message has its own label, so no other
 * signature of the protocol (session open, request) can be replayed as a
 * contract signature or the reverse; it binds the room id, the version
 * number and the contract hash, so a signature counts for exactly one
 * version of one room.  A verifier checks SHA-256(spki) against the
 * member's fingerprint (constant time) before it parses the key.
 */
#include "contract.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "contract_int.h"
#include "crypto.h"

int cdr_contract_sign_input(struct cdr_buf *out, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t version,
                            const uint8_t contract_sha256[32]) {
  int r;
  if (version == 0)
    return CDR_ERR_ARG;
  if ((r = cdr_buf_put_lpstr(out, CDR_CONTRACT_SIGN_LABEL)) != 0 || (r = cdr_buf_put(out, room_id, CDR_ROOM_ID_BYTES)) != 0 ||
      (r = cdr_buf_put_u64(out, version)) != 0 || (r = cdr_buf_put(out, contract_sha256, 32)) != 0)
    return r;
  return 0;
}

int cdr_contract_sign(EVP_PKEY *key, const uint8_t contract_sha256[32], const uint8_t room_id[CDR_ROOM_ID_BYTES],
                      uint64_t version, struct cdr_buf *sig) {
  struct cdr_buf m;
  int r;
  if (key == NULL || (r = cdr_key_check_user_type(key)) != 0)
    return key == NULL ? CDR_ERR_ARG : r;
  cdr_buf_init(&m, CDR_CONTRACT_SIGN_INPUT_LEN, 0);
  if ((r = cdr_contract_sign_input(&m, room_id, version, contract_sha256)) != 0)
    goto out;
  r = cdr_sign(sig, key, cdr_buf_ptr(&m), cdr_buf_avail(&m));
out:
  cdr_buf_free(&m);
  return r;
}

int cdr_contract_verify(const uint8_t *spki_der, size_t spki_len, const uint8_t member_key_sha256[32],
                        const uint8_t contract_sha256[32], const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t version,
                        const uint8_t *sig, size_t siglen) {
  uint8_t fp[32];
  EVP_PKEY *k = NULL;
  struct cdr_buf m;
  int r;

  if (spki_der == NULL || spki_len == 0 || spki_len > CDR_MAX_PUBKEY_DER || sig == NULL || siglen == 0 ||
      siglen > CDR_MAX_SIGNATURE)
    return CDR_ERR_ARG;
  cdr_buf_init(&m, CDR_CONTRACT_SIGN_INPUT_LEN, 0);
  if ((r = cdr_sha256(fp, spki_der, spki_len)) != 0)
    goto out;
  if (!cdr_ct_equal(fp, member_key_sha256, 32)) {
    r = CDR_ERR_CERT_KEY_MISMATCH;
    goto out;
  }
  if ((r = cdr_pubkey_from_der(&k, spki_der, spki_len)) != 0 || (r = cdr_key_check_user_type(k)) != 0 ||
      (r = cdr_contract_sign_input(&m, room_id, version, contract_sha256)) != 0)
    goto out;
  r = cdr_verify(k, cdr_buf_ptr(&m), cdr_buf_avail(&m), sig, siglen);
out:
  cdr_buf_free(&m);
  EVP_PKEY_free(k);
  return r;
}

/* ---- the detached signature object ---- */

static json_t *sig_json(const struct cdr_contract_sig *s) {
  char h1[65], h2[65], *b64 = NULL;
  json_t *o = NULL;
  if (s->sig == NULL || s->sig_len == 0 || s->sig_len > CDR_MAX_SIGNATURE || s->version == 0 ||
      s->version > (1ull << 53) - 1 || cdr_b64_encode(&b64, s->sig, s->sig_len) != 0)
    return NULL;
  cdr_hex_encode(h1, s->contract_sha256, 32);
  cdr_hex_encode(h2, s->member_key_sha256, 32);
  o = json_pack("{s:I,s:s,s:s,s:s}", "version", (json_int_t)s->version, "contract_sha256", h1, "member_key_sha256", h2,
                "signature", b64);
  free(b64);
  return o;
}

int cdr_contract_sig_encode(const struct cdr_contract_sig *s, uint8_t **out, size_t *outlen) {
  const size_t flags = JSON_COMPACT | JSON_SORT_KEYS;
  json_t *o = sig_json(s);
  int r = 0;
  *out = NULL;
  *outlen = 0;
  if (o == NULL)
    return CDR_ERR_ARG;
  size_t n = json_dumpb(o, NULL, 0, flags);
  if (n == 0 || (*out = malloc(n + 1)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  if (json_dumpb(o, (char *)*out, n, flags) != n) {
    free(*out);
    *out = NULL;
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  (*out)[n] = '\0';
  *outlen = n;
out:
  json_decref(o);
  return r;
}

void cdr_contract_sig_free(struct cdr_contract_sig *s) {
  if (s == NULL)
    return;
  free(s->sig);
  memset(s, 0, sizeof(*s));
}

static int sig_fields(const json_t *o, struct cdr_contract_sig *s, char *why, size_t whylen) {
  json_t *v = json_object_get(o, "version"), *c = json_object_get(o, "contract_sha256"),
         *m = json_object_get(o, "member_key_sha256"), *g = json_object_get(o, "signature");
  size_t len = 0;
  if (json_object_size(o) != 4 || v == NULL || c == NULL || m == NULL || g == NULL)
    return contract_refuse(why, whylen, "signature object: exactly contract_sha256, member_key_sha256, signature, version");
  if (!json_is_integer(v) || json_integer_value(v) < 1 || (uint64_t)json_integer_value(v) > (1ull << 53) - 1)
    return contract_refuse(why, whylen, "version: an integer from 1 to 2^53-1");
  s->version = (uint64_t)json_integer_value(v);
  if (!json_is_string(c) || json_string_length(c) != 64 || !cdr_hex_lower_ok(json_string_value(c), 64) ||
      cdr_hex_decode(s->contract_sha256, 32, json_string_value(c)) != 0)
    return contract_refuse(why, whylen, "contract_sha256: must be 64 lower-case hex digits");
  if (!json_is_string(m) || json_string_length(m) != 64 || !cdr_hex_lower_ok(json_string_value(m), 64) ||
      cdr_hex_decode(s->member_key_sha256, 32, json_string_value(m)) != 0)
    return contract_refuse(why, whylen, "member_key_sha256: must be 64 lower-case hex digits");
  if (!json_is_string(g) || json_string_length(g) > (CDR_MAX_SIGNATURE + 2) / 3 * 4 ||
      cdr_b64_decode(&s->sig, &len, json_string_value(g), CDR_MAX_SIGNATURE) != 0 || len == 0)
    return contract_refuse(why, whylen, "signature: standard base64 of 1 to %u bytes", CDR_MAX_SIGNATURE);
  s->sig_len = len;
  return 0;
}

int cdr_contract_sig_parse(const uint8_t *p, size_t len, struct cdr_contract_sig *s, char *why, size_t whylen) {
  json_error_t jerr;
  json_t *o = NULL;
  uint8_t *again = NULL;
  size_t again_len = 0;
  int r;

  memset(s, 0, sizeof(*s));
  if (p == NULL || len == 0 || len > 4 * CDR_MAX_SIGNATURE)
    return contract_refuse(why, whylen, "signature object: 1 to %u bytes", 4 * CDR_MAX_SIGNATURE);
  if ((o = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
    r = contract_refuse(why, whylen, "signature object: not valid JSON at byte %d: %s", jerr.position, jerr.text);
    goto out;
  }
  if (!json_is_object(o)) {
    r = contract_refuse(why, whylen, "signature object: must be a JSON object");
    goto out;
  }
  if ((r = sig_fields(o, s, why, whylen)) != 0 || (r = cdr_contract_sig_encode(s, &again, &again_len)) != 0)
    goto out;
  if (again_len != len || memcmp(again, p, len) != 0)
    r = contract_refuse(why, whylen, "signature object: not in canonical form (keys sorted, no whitespace)");
out:
  free(again);
  json_decref(o);
  if (r != 0) {
    if (r != CDR_ERR_NOMEM)
      r = CDR_ERR_CONTRACT_INVALID;
    cdr_contract_sig_free(s);
  }
  return r;
}
