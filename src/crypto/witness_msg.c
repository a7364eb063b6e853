/*
 * witness_msg.c - the witness messages of PROTOCOL 9: the two signed
 * messages, the enclave head check, and the JSON of a head and of a
 * "latest" answer.  Every reader is exact about lengths (a hex head is
 * 64 digits, a nonce 32 bytes) and names the field it refuses.
 */
#include "witness_msg.h"

#include <stdio.h>
#include <string.h>

#include "audit_chain.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto.h"

static void set_why(char *why, size_t whylen, const char *field) {
  if (why != NULL && whylen > 0)
    snprintf(why, whylen, "%s: missing or malformed", field);
}

static int put_common(struct cdr_buf *out, const char *label, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                      uint64_t size, const uint8_t head[CDR_WITNESS_HASH_LEN]) {
  int r;
  if ((r = cdr_buf_put_lpstr(out, label)) != 0 || (r = cdr_buf_put_lp(out, room_id, CDR_ROOM_ID_BYTES)) != 0 ||
      (r = cdr_buf_put_u64(out, size)) != 0 || (r = cdr_buf_put_lp(out, head, CDR_WITNESS_HASH_LEN)) != 0)
    return r;
  return 0;
}

int cdr_witness_countersign_input(struct cdr_buf *out, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t size,
                                  const uint8_t head[CDR_WITNESS_HASH_LEN]) {
  return put_common(out, CDR_WITNESS_LABEL_COUNTERSIGN, room_id, size, head);
}

int cdr_witness_latest_input(struct cdr_buf *out, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t size,
                             const uint8_t head[CDR_WITNESS_HASH_LEN], const uint8_t nonce[CDR_NONCE_LEN]) {
  int r;
  if ((r = put_common(out, CDR_WITNESS_LABEL_LATEST, room_id, size, head)) != 0)
    return r;
  return cdr_buf_put_lp(out, nonce, CDR_NONCE_LEN);
}

int cdr_witness_head_verify(const struct cdr_witness_head *h, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                            EVP_PKEY *identity) {
  struct cdr_buf t;
  int r;
  if (h->sig_len == 0 || h->sig_len > sizeof(h->sig))
    return CDR_ERR_BAD_SIGNATURE;
  cdr_buf_init(&t, 256, 0);
  if ((r = cdr_audit_head_transcript(&t, room_id, CDR_ROOM_ID_BYTES, h->size, h->head, h->time)) == 0)
    r = cdr_verify(identity, cdr_buf_ptr(&t), cdr_buf_avail(&t), h->sig, h->sig_len) == 0 ? 0 : CDR_ERR_BAD_SIGNATURE;
  cdr_buf_free(&t);
  return r;
}

int cdr_witness_countersign(struct cdr_buf *sig, EVP_PKEY *witness, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                            uint64_t size, const uint8_t head[CDR_WITNESS_HASH_LEN]) {
  struct cdr_buf m;
  int r;
  cdr_buf_init(&m, 256, 0);
  if ((r = cdr_witness_countersign_input(&m, room_id, size, head)) == 0)
    r = cdr_sign(sig, witness, cdr_buf_ptr(&m), cdr_buf_avail(&m));
  cdr_buf_free(&m);
  return r;
}

int cdr_witness_countersign_verify(EVP_PKEY *witness, const uint8_t room_id[CDR_ROOM_ID_BYTES], uint64_t size,
                                   const uint8_t head[CDR_WITNESS_HASH_LEN], const uint8_t *sig, size_t sig_len) {
  struct cdr_buf m;
  int r;
  if (sig_len == 0 || sig_len > CDR_MAX_SIGNATURE)
    return CDR_ERR_BAD_SIGNATURE;
  cdr_buf_init(&m, 256, 0);
  if ((r = cdr_witness_countersign_input(&m, room_id, size, head)) == 0)
    r = cdr_verify(witness, cdr_buf_ptr(&m), cdr_buf_avail(&m), sig, sig_len) == 0 ? 0 : CDR_ERR_BAD_SIGNATURE;
  cdr_buf_free(&m);
  return r;
}

int cdr_witness_head_to_json(json_t *obj, const struct cdr_witness_head *h) {
  char hex[2 * CDR_WITNESS_HASH_LEN + 1], *b64 = NULL;
  int r = CDR_ERR_NOMEM;
  cdr_hex_encode(hex, h->head, sizeof(h->head));
  if (json_object_set_new(obj, "size", json_integer((json_int_t)h->size)) != 0 ||
      json_object_set_new(obj, "head", json_string(hex)) != 0 ||
      json_object_set_new(obj, "time", json_integer((json_int_t)h->time)) != 0)
    return r;
  if (h->sig_len > 0) {
    if ((r = cdr_b64_encode(&b64, h->sig, h->sig_len)) != 0)
      return r;
    r = json_object_set_new(obj, "signature", json_string(b64)) == 0 ? 0 : CDR_ERR_NOMEM;
    free(b64);
    return r;
  }
  return 0;
}

int cdr_witness_head_from_json(const json_t *obj, struct cdr_witness_head *h, int allow_empty, char *why,
                               size_t whylen) {
  uint8_t *sig = NULL;
  size_t sig_len = 0;
  memset(h, 0, sizeof(*h));
  if (!json_is_object(obj)) {
    set_why(why, whylen, "head");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_u64(obj, "size", &h->size) != 0) {
    set_why(why, whylen, "head.size");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_hex_exact(obj, "head", h->head, sizeof(h->head)) != 0) {
    set_why(why, whylen, "head.head");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_u64(obj, "time", &h->time) != 0) {
    set_why(why, whylen, "head.time");
    return CDR_ERR_ARG;
  }
  if (allow_empty && h->size == 0 && json_object_get(obj, "signature") == NULL)
    return 0;
  if (cdr_json_get_b64(obj, "signature", CDR_MAX_SIGNATURE, &sig, &sig_len) != 0 || sig_len == 0) {
    free(sig);
    set_why(why, whylen, "head.signature");
    return CDR_ERR_ARG;
  }
  memcpy(h->sig, sig, sig_len);
  h->sig_len = sig_len;
  free(sig);
  return 0;
}

int cdr_witness_latest_parse(const json_t *answer, struct cdr_witness_latest *out, char *why, size_t whylen) {
  uint8_t *p = NULL;
  size_t n = 0;
  int held = 0;
  memset(out, 0, sizeof(*out));
  if (cdr_json_get_hex_exact(answer, "room_id", out->room_id, sizeof(out->room_id)) != 0) {
    set_why(why, whylen, "room_id");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_bool(answer, "held", -1, &held) != 0 || held < 0) {
    set_why(why, whylen, "held");
    return CDR_ERR_ARG;
  }
  if (held) {
    if (cdr_witness_head_from_json(json_object_get(answer, "head"), &out->head, 0, why, whylen) != 0)
      return CDR_ERR_ARG;
    if (cdr_json_get_b64(answer, "identity_public_key", CDR_MAX_PUBKEY_DER, &p, &n) != 0 || n == 0) {
      free(p);
      set_why(why, whylen, "identity_public_key");
      return CDR_ERR_ARG;
    }
    memcpy(out->identity_spki, p, n);
    out->identity_spki_len = n;
    free(p);
    p = NULL;
  } else if (json_object_get(answer, "head") != NULL || json_object_get(answer, "identity_public_key") != NULL) {
    set_why(why, whylen, "head (an answer that holds nothing has none)");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_b64_exact(answer, "nonce", out->nonce, sizeof(out->nonce)) != 0) {
    set_why(why, whylen, "nonce");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_hex_exact(answer, "witness_key_sha256", out->witness_key_sha256, 32) != 0) {
    set_why(why, whylen, "witness_key_sha256");
    return CDR_ERR_ARG;
  }
  if (cdr_json_get_b64(answer, "signature", CDR_MAX_SIGNATURE, &p, &n) != 0 || n == 0) {
    free(p);
    set_why(why, whylen, "signature");
    return CDR_ERR_ARG;
  }
  memcpy(out->sig, p, n);
  out->sig_len = n;
  free(p);
  return 0;
}

static int fail(char *why, size_t whylen, int r, const char *msg) {
  if (why != NULL && whylen > 0)
    snprintf(why, whylen, "%s", msg);
  return r;
}

int cdr_witness_latest_verify(const struct cdr_witness_latest *a, EVP_PKEY *witness,
                              const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t nonce[CDR_NONCE_LEN],
                              char *why, size_t whylen) {
  uint8_t *spki = NULL, fp[32];
  size_t spki_len = 0;
  struct cdr_buf m;
  EVP_PKEY *ident = NULL;
  int r;

  if (!cdr_ct_equal(a->room_id, room_id, CDR_ROOM_ID_BYTES))
    return fail(why, whylen, CDR_ERR_BAD_SIGNATURE, "the answer is about another room");
  if ((r = cdr_pubkey_to_der(witness, &spki, &spki_len)) != 0)
    return r;
  r = cdr_sha256(fp, spki, spki_len);
  OPENSSL_free(spki);
  if (r != 0)
    return r;
  if (!cdr_ct_equal(fp, a->witness_key_sha256, 32))
    return fail(why, whylen, CDR_ERR_BAD_SIGNATURE, "the answer names another witness key");
  if (!cdr_ct_equal(a->nonce, nonce, CDR_NONCE_LEN))
    return fail(why, whylen, CDR_ERR_WITNESS_REPLAYED,
                "the answer is for another nonce than the one just sent: an old answer replayed");
  cdr_buf_init(&m, 512, 0);
  if ((r = cdr_witness_latest_input(&m, room_id, a->head.size, a->head.head, nonce)) == 0 &&
      cdr_verify(witness, cdr_buf_ptr(&m), cdr_buf_avail(&m), a->sig, a->sig_len) != 0)
    r = fail(why, whylen, CDR_ERR_BAD_SIGNATURE, "the witness signature over the answer does not verify");
  cdr_buf_free(&m);
  if (r != 0)
    return r;
  if (a->head.sig_len == 0) {
    static const uint8_t zero[CDR_WITNESS_HASH_LEN];
    if (a->head.size != 0 || !cdr_ct_equal(a->head.head, zero, sizeof(zero)))
      return fail(why, whylen, CDR_ERR_BAD_SIGNATURE, "a head without the enclave's signature");
    return 0;
  }
  if (cdr_pubkey_from_der(&ident, a->identity_spki, a->identity_spki_len) != 0)
    return fail(why, whylen, CDR_ERR_BAD_SIGNATURE, "the identity key of the head is not a public key");
  r = cdr_witness_head_verify(&a->head, room_id, ident);
  EVP_PKEY_free(ident);
  if (r != 0)
    return fail(why, whylen, r, "the enclave's signature over the head does not verify");
  return 0;
}
