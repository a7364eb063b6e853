/*
 * witness_routes.c - the witness's HTTP API (PROTOCOL 9.2 to 9.4), served
 * by cdrd's HTTP layer (src/host/http.c: body caps, connection limits,
 * the JSON error convention {"error", "message"}).
 *
 *   GET  /v1/witness/key          the witness's public key and fingerprint
 *   POST /v1/witness/countersign  a signed audit head (and a join) -> Sign_W(W_cs)
 *   POST /v1/witness/latest       a nonce -> the held head, Sign_W(W_latest)
 *
 * Every countersignature is answered only after the state that records
 * it is durable (witness_state_save), and every refusal of a head that
 * does not extend the held one is logged with both heads.  Refusals name
 * what was wrong; each kind has its own code (bad_request, bad_json,
 * too_large, witness_unknown_room, witness_unknown_identity,
 * bad_signature, witness_not_extending, contract_invalid,
 * attestation_*).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_get.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "host/http.h"
#include "witness.h"

static int parse_body(const struct http_request *rq, json_t **out, struct http_reply *rep) {
  json_error_t e;
  *out = json_loadb((const char *)rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &e);
  if (*out == NULL || !json_is_object(*out)) {
    json_decref(*out);
    *out = NULL;
    return http_reply_fail(rep, CDR_ERR_BAD_JSON, "the body is not a JSON object: %s", e.text);
  }
  return 0;
}

static void hex_of(char *out, const uint8_t *p, size_t n) { cdr_hex_encode(out, p, n); }

static int h_key(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct witness *w = ctx;
  char fp[65];
  hex_of(fp, w->key_sha256, 32);
  rep->body = json_pack("{s:s, s:s}", "public_key", w->spki_b64, "key_sha256", fp);
  return rep->body != NULL ? 0 : CDR_ERR_NOMEM;
}

/* Does next extend held?  0, or CDR_ERR_WITNESS_NOT_EXTENDING (logged). */
static int extends(const uint8_t room_id[CDR_ROOM_ID_BYTES], const struct cdr_witness_head *held,
                   const struct cdr_witness_head *next, struct http_reply *rep) {
  char rid[33], hh[65], nh[65];
  if (next->size > held->size || (next->size == held->size && memcmp(next->head, held->head, 32) == 0))
    return 0;
  hex_of(rid, room_id, CDR_ROOM_ID_BYTES);
  hex_of(hh, held->head, 32);
  hex_of(nh, next->head, 32);
  cdr_log(CDR_LOG_WARN, "witness: room %s: refused head size %llu hash %s: this witness holds size %llu hash %s",
          rid, (unsigned long long)next->size, nh, (unsigned long long)held->size, hh);
  return http_reply_fail(rep, CDR_ERR_WITNESS_NOT_EXTENDING,
                         "head size %llu hash %s does not extend the head this witness holds: size %llu hash %s",
                         (unsigned long long)next->size, nh, (unsigned long long)held->size, hh);
}

/* The room's state after this request, in *cur (held or joined). */
static int countersign_state(struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES], const json_t *join,
                             const uint8_t *spki, size_t spki_len, struct witness_room *held,
                             struct witness_room *joined, struct witness_room **cur, int *have_held,
                             struct http_reply *rep) {
  char why[512] = "", rid[33];
  int r = witness_state_load(w, room_id, held);
  hex_of(rid, room_id, CDR_ROOM_ID_BYTES);
  *have_held = r == 0;
  if (r != 0 && r != CDR_ERR_NOT_FOUND)
    return http_reply_fail(rep, r, "this witness cannot read its state for room %s (see its log)", rid);
  if (join != NULL) {
    if ((r = witness_join_check(w, room_id, join, *have_held ? held : NULL, joined, why, sizeof(why))) != 0) {
      cdr_log(CDR_LOG_WARN, "witness: room %s: join refused: %s: %s", rid, cdr_err_code(r), why);
      return http_reply_fail(rep, r, "%s", why);
    }
    *cur = joined;
  } else if (!*have_held) {
    return http_reply_fail(rep, CDR_ERR_WITNESS_UNKNOWN_ROOM,
                           "this witness was not joined to room %s: send the join (contract chain and attestation)",
                           rid);
  } else {
    *cur = held;
  }
  if (spki_len != (*cur)->identity_spki_len || !cdr_ct_equal(spki, (*cur)->identity_spki, spki_len))
    return http_reply_fail(rep, CDR_ERR_WITNESS_UNKNOWN_IDENTITY,
                           "identity_public_key: not the enclave identity this witness holds for room %s%s", rid,
                           join != NULL ? " (the join attested another key)" : ": send a join that attests it");
  return 0;
}

static int countersign_answer(struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES],
                              const struct cdr_witness_head *h, struct http_reply *rep) {
  struct cdr_buf sig;
  char rid[33], hh[65], fp[65], *b64 = NULL;
  int r;
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  if ((r = cdr_witness_countersign(&sig, w->key, room_id, h->size, h->head)) != 0 ||
      (r = cdr_b64_encode(&b64, cdr_buf_ptr(&sig), cdr_buf_avail(&sig))) != 0)
    goto out;
  hex_of(rid, room_id, CDR_ROOM_ID_BYTES);
  hex_of(hh, h->head, 32);
  hex_of(fp, w->key_sha256, 32);
  rep->body = json_pack("{s:s, s:I, s:s, s:s, s:s}", "room_id", rid, "size", (json_int_t)h->size, "head", hh,
                        "witness_key_sha256", fp, "signature", b64);
  r = rep->body != NULL ? 0 : CDR_ERR_NOMEM;
out:
  free(b64);
  cdr_buf_free(&sig);
  return r;
}

static int h_countersign(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct witness *w = ctx;
  struct witness_room held, joined, *cur = NULL;
  struct cdr_witness_head h;
  uint8_t room_id[CDR_ROOM_ID_BYTES], *spki = NULL;
  size_t spki_len = 0;
  EVP_PKEY *ident = NULL;
  json_t *body = NULL;
  char why[160] = "", rid[33], hh[65];
  int r, have_held = 0, locked = 0;

  memset(&held, 0, sizeof(held));
  memset(&joined, 0, sizeof(joined));
  if ((r = parse_body(rq, &body, rep)) != 0)
    return r;
  if (cdr_json_get_hex_exact(body, "room_id", room_id, sizeof(room_id)) != 0) {
    r = http_reply_fail(rep, CDR_ERR_ARG, "room_id: missing or not 32 hex digits");
    goto out;
  }
  if (cdr_witness_head_from_json(json_object_get(body, "head"), &h, 0, why, sizeof(why)) != 0) {
    r = http_reply_fail(rep, CDR_ERR_ARG, "%s", why);
    goto out;
  }
  if (cdr_json_get_b64(body, "identity_public_key", CDR_MAX_PUBKEY_DER, &spki, &spki_len) != 0 ||
      cdr_pubkey_from_der(&ident, spki, spki_len) != 0) {
    r = http_reply_fail(rep, CDR_ERR_ARG, "identity_public_key: missing or not a base64 SubjectPublicKeyInfo");
    goto out;
  }
  /* The enclave's signature first: a head nobody signed changes nothing
   * and reaches no state file. */
  if (cdr_witness_head_verify(&h, room_id, ident) != 0) {
    r = http_reply_fail(rep, CDR_ERR_BAD_SIGNATURE,
                        "head.signature: not the enclave identity's signature over this head (T_head)");
    goto out;
  }
  pthread_mutex_lock(&w->lock);
  locked = 1;
  if ((r = countersign_state(w, room_id, json_object_get(body, "join"), spki, spki_len, &held, &joined, &cur,
                             &have_held, rep)) != 0)
    goto out;
  if (have_held && (r = extends(room_id, &held.head, &h, rep)) != 0)
    goto out;
  cur->head = h;
  if ((r = witness_state_save(w, cur)) != 0) {
    r = http_reply_fail(rep, r, "this witness cannot store the head durably (see its log)");
    goto out;
  }
  pthread_mutex_unlock(&w->lock);
  locked = 0;
  hex_of(rid, room_id, CDR_ROOM_ID_BYTES);
  hex_of(hh, h.head, 32);
  cdr_log(CDR_LOG_INFO, "witness: room %s: countersigned size %llu hash %s%s", rid, (unsigned long long)h.size, hh,
          cur == &joined ? (have_held ? " (joined again)" : " (joined)") : "");
  r = countersign_answer(w, room_id, &h, rep);
out:
  if (locked)
    pthread_mutex_unlock(&w->lock);
  witness_room_free(&held);
  witness_room_free(&joined);
  EVP_PKEY_free(ident);
  free(spki);
  json_decref(body);
  return r;
}

static int latest_answer(struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES], const struct witness_room *room,
                         const uint8_t nonce[CDR_NONCE_LEN], struct http_reply *rep) {
  static const uint8_t zero[32];
  struct cdr_buf m, sig;
  char rid[33], fp[65], *sig64 = NULL, *nonce64 = NULL, *spki64 = NULL;
  json_t *head = NULL;
  int r;
  cdr_buf_init(&m, 512, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  if ((r = cdr_witness_latest_input(&m, room_id, room ? room->head.size : 0, room ? room->head.head : zero,
                                    nonce)) != 0 ||
      (r = cdr_sign(&sig, w->key, cdr_buf_ptr(&m), cdr_buf_avail(&m))) != 0 ||
      (r = cdr_b64_encode(&sig64, cdr_buf_ptr(&sig), cdr_buf_avail(&sig))) != 0 ||
      (r = cdr_b64_encode(&nonce64, nonce, CDR_NONCE_LEN)) != 0)
    goto out;
  hex_of(rid, room_id, CDR_ROOM_ID_BYTES);
  hex_of(fp, w->key_sha256, 32);
  r = CDR_ERR_NOMEM;
  if ((rep->body = json_pack("{s:s, s:b, s:s, s:s, s:s}", "room_id", rid, "held", room != NULL, "nonce", nonce64,
                             "witness_key_sha256", fp, "signature", sig64)) == NULL)
    goto out;
  if (room != NULL) {
    if ((r = cdr_b64_encode(&spki64, room->identity_spki, room->identity_spki_len)) != 0 ||
        (head = json_object()) == NULL || (r = cdr_witness_head_to_json(head, &room->head)) != 0 ||
        json_object_set(rep->body, "head", head) != 0 ||
        json_object_set_new(rep->body, "identity_public_key", json_string(spki64)) != 0) {
      r = r != 0 ? r : CDR_ERR_NOMEM;
      goto out;
    }
  }
  r = 0;
out:
  json_decref(head);
  free(sig64);
  free(nonce64);
  free(spki64);
  cdr_buf_free(&m);
  cdr_buf_free(&sig);
  return r;
}

static int h_latest(void *ctx, const struct http_request *rq, struct http_reply *rep) {
  struct witness *w = ctx;
  struct witness_room room;
  uint8_t room_id[CDR_ROOM_ID_BYTES], nonce[CDR_NONCE_LEN];
  json_t *body = NULL;
  char rid[33];
  int r;

  memset(&room, 0, sizeof(room));
  if ((r = parse_body(rq, &body, rep)) != 0)
    return r;
  if (cdr_json_get_hex_exact(body, "room_id", room_id, sizeof(room_id)) != 0) {
    r = http_reply_fail(rep, CDR_ERR_ARG, "room_id: missing or not 32 hex digits");
    goto out;
  }
  if (cdr_json_get_b64_exact(body, "nonce", nonce, sizeof(nonce)) != 0) {
    r = http_reply_fail(rep, CDR_ERR_ARG, "nonce: missing or not 32 bytes of base64");
    goto out;
  }
  pthread_mutex_lock(&w->lock);
  r = witness_state_load(w, room_id, &room);
  pthread_mutex_unlock(&w->lock);
  if (r != 0 && r != CDR_ERR_NOT_FOUND) {
    hex_of(rid, room_id, CDR_ROOM_ID_BYTES);
    r = http_reply_fail(rep, r, "this witness cannot read its state for room %s (see its log)", rid);
    goto out;
  }
  r = latest_answer(w, room_id, r == 0 ? &room : NULL, nonce, rep);
out:
  witness_room_free(&room);
  json_decref(body);
  return r;
}

static const struct http_route routes[] = {
    {"GET", "/v1/witness/key", h_key},
    {"POST", "/v1/witness/countersign", h_countersign},
    {"POST", "/v1/witness/latest", h_latest},
};

/* The codes the witness answers besides PROTOCOL 4.1's (http.h). */
static const int api_errors[] = {
    CDR_ERR_WITNESS_UNKNOWN_ROOM, CDR_ERR_WITNESS_NOT_EXTENDING, CDR_ERR_WITNESS_UNKNOWN_IDENTITY,
    CDR_ERR_CONTRACT_INVALID,     CDR_ERR_ATTEST_SIGNATURE,      CDR_ERR_ATTEST_ROOT,
    CDR_ERR_ATTEST_SIM_REFUSED,   CDR_ERR_ATTEST_MEASUREMENT,    CDR_ERR_ATTEST_REPORT_DATA,
    CDR_ERR_ATTEST_MALFORMED,     CDR_ERR_ATTEST_CERT_TIME,      CDR_ERR_ATTEST_TCB,
    CDR_ERR_ATTEST_DEBUG,
};

const int *witness_api_errors(size_t *n) {
  *n = sizeof(api_errors) / sizeof(api_errors[0]);
  return api_errors;
}

const struct http_route *witness_routes(size_t *n) {
  *n = sizeof(routes) / sizeof(routes[0]);
  return routes;
}
