/*
 * test_contract_state.c - the contract chain the enclave keeps
 * (src/enclave/contract_state.h): proposing (room, CA, chain checked;
 * a new proposal voids the old one's signatures), signing (each refusal
 * with its own code: no pending version, another hash, another key than
 * the session's, a non-member, a bad signature; a repeated signature
 * changes nothing), activation exactly when cdr-gov-1's signers have all
 * signed, the operator's shortcut (the only provider revoked, a version
 * without it and with the operator's key: never active without the
 * provider), expiry, and the sealed encoding's round trip.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "enclave/contract_state.h"
#include "testlib.h"

#define NOW 1800000000

static uint8_t room[CDR_ROOM_ID_BYTES], ca[32];
static char why[CDR_CONTRACT_WHY_LEN];

struct mk {
  EVP_PKEY *k;
  uint8_t *spki;
  size_t spki_len;
  uint8_t fp[32];
};

static void mk_make(struct mk *m) {
  CHECK_RC(cdr_key_generate(&m->k, "ec", 0), 0);
  CHECK_RC(cdr_pubkey_to_der(m->k, &m->spki, &m->spki_len), 0);
  CHECK_RC(cdr_sha256(m->fp, m->spki, m->spki_len), 0);
}

static void mk_free(struct mk *m) {
  EVP_PKEY_free(m->k);
  OPENSSL_free(m->spki);
}

static int fp_cmp(const void *a, const void *b) {
  return memcmp(((const struct cdr_contract_member *)a)->key_sha256, ((const struct cdr_contract_member *)b)->key_sha256,
                32);
}

/* The canonical document of a version with these members and roles,
 * following prev (NULL: version 1). */
static void doc_make(const struct contract_version *prev, struct mk **members, const unsigned *roles, size_t n,
                     uint8_t **doc, size_t *len) {
  struct cdr_contract c;
  CHECK_RC(cdr_contract_alloc(&c, n, 0), 0);
  memcpy(c.room_id, room, sizeof(room));
  c.room_name = strdup("Cardiology study");
  c.version = prev != NULL ? prev->c.version + 1 : 1;
  if (prev != NULL)
    memcpy(c.previous_sha256, prev->hash, 32);
  memcpy(c.ca_sha256, ca, 32);
  memcpy(c.platform, "sim", 4);
  c.n_measurements = 1;
  memset(c.measurements[0], 0xee, 32);
  memcpy(c.governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  for (size_t i = 0; i < n; i++) {
    char name[32];
    snprintf(name, sizeof(name), "member-%p", (void *)members[i]);
    memcpy(c.members[i].key_sha256, members[i]->fp, 32);
    c.members[i].name = strdup(name);
    c.members[i].roles = roles[i];
  }
  qsort(c.members, n, sizeof(c.members[0]), fp_cmp);
  CHECK_RC(cdr_contract_encode(&c, doc, len, why, sizeof(why)), 0);
  cdr_contract_free(&c);
}

/* m's signature object over (version, hash). */
static void sig_obj(struct mk *signer, const uint8_t fp[32], uint64_t version, const uint8_t hash[32], uint8_t **obj,
                    size_t *len) {
  struct cdr_buf sig;
  struct cdr_contract_sig s;
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  CHECK_RC(cdr_contract_sign(signer->k, hash, room, version, &sig), 0);
  memset(&s, 0, sizeof(s));
  s.version = version;
  memcpy(s.contract_sha256, hash, 32);
  memcpy(s.member_key_sha256, fp, 32);
  s.sig = sig.d;
  s.sig_len = sig.len;
  CHECK_RC(cdr_contract_sig_encode(&s, obj, len), 0);
  cdr_buf_free(&sig);
}

/* m signs the pending version as itself; the code contract_state_sign gives. */
static int sign_as(struct contract_state *st, struct mk *m, int64_t now, enum contract_sign_result *res,
                   size_t *missing) {
  uint8_t *obj;
  size_t len;
  sig_obj(m, m->fp, st->pending.c.version, st->pending.hash, &obj, &len);
  int r = contract_state_sign(st, room, m->spki, m->spki_len, obj, len, now, res, missing, why, sizeof(why));
  free(obj);
  return r;
}

static int propose(struct contract_state *st, const uint8_t *doc, size_t len, size_t *voided) {
  return contract_state_propose(st, room, ca, doc, len, NOW, voided, why, sizeof(why));
}

/* Encode and decode: the same chain and pending version. */
static void round_trip(const struct contract_state *st) {
  struct cdr_buf b, view;
  struct contract_state back;
  cdr_buf_init(&b, 64u * CDR_MiB, 0);
  CHECK_RC(contract_state_encode(st, &b), 0);
  cdr_buf_view(&view, b.d, b.len);
  CHECK_RC(contract_state_decode(&view, &back), 0);
  CHECK_RC(cdr_buf_expect_end(&view), 0);
  CHECK(back.n_active == st->n_active && back.has_pending == st->has_pending);
  for (size_t i = 0; i < st->n_active && i < back.n_active; i++)
    CHECK(memcmp(back.active[i].hash, st->active[i].hash, 32) == 0 && back.active[i].n_sigs == st->active[i].n_sigs);
  if (st->has_pending && back.has_pending)
    CHECK(memcmp(back.pending.hash, st->pending.hash, 32) == 0 && back.pending.n_sigs == st->pending.n_sigs &&
          back.pending_expires == st->pending_expires);
  contract_state_free(&back);
  /* A cut encoding is refused. */
  cdr_buf_view(&view, b.d, b.len - 1);
  CHECK(contract_state_decode(&view, &back) != 0 || cdr_buf_expect_end(&view) != 0);
  contract_state_free(&back);
  cdr_buf_free(&b);
}

int main(void) {
  struct mk a, b, x, op;
  struct contract_state st;
  enum contract_sign_result res;
  uint8_t *doc, *obj;
  size_t len, olen, voided, missing;
  uint8_t other_room[CDR_ROOM_ID_BYTES], other_ca[32];
  memset(room, 0x42, sizeof(room));
  memset(ca, 0xca, sizeof(ca));
  memset(other_room, 0x43, sizeof(other_room));
  memset(other_ca, 0xcb, sizeof(other_ca));
  mk_make(&a);
  mk_make(&b);
  mk_make(&x);
  mk_make(&op);
  memset(&st, 0, sizeof(st));

  /* Version 1: a provides and analyses, b analyses. */
  struct mk *v1m[] = {&a, &b};
  unsigned v1r[] = {CDR_CONTRACT_ROLE_PROVIDER | CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_ANALYST};
  doc_make(NULL, v1m, v1r, 2, &doc, &len);
  CHECK_RC(contract_state_propose(&st, other_room, ca, doc, len, NOW, &voided, why, sizeof(why)),
           CDR_ERR_CONTRACT_INVALID);
  CHECK(strstr(why, "room_id") != NULL);
  CHECK_RC(contract_state_propose(&st, room, other_ca, doc, len, NOW, &voided, why, sizeof(why)),
           CDR_ERR_CONTRACT_INVALID);
  CHECK(strstr(why, "ca_sha256") != NULL);
  CHECK(!st.has_pending);
  /* Nothing pending: a signature is refused as such. */
  uint8_t h0[32];
  memset(h0, 1, 32);
  sig_obj(&a, a.fp, 1, h0, &obj, &olen);
  CHECK_RC(contract_state_sign(&st, room, a.spki, a.spki_len, obj, olen, NOW, &res, &missing, why, sizeof(why)),
           CDR_ERR_CONTRACT_NO_PENDING);
  free(obj);
  CHECK_RC(propose(&st, doc, len, &voided), 0);
  free(doc);
  CHECK(st.has_pending && voided == 0 && st.pending_expires == NOW + CONTRACT_PENDING_TTL_SECONDS);
  CHECK(contract_state_current(&st) == NULL);

  /* Refusals, each its own code, nothing recorded. */
  sig_obj(&a, a.fp, 1, h0, &obj, &olen); /* over another hash */
  CHECK_RC(contract_state_sign(&st, room, a.spki, a.spki_len, obj, olen, NOW, &res, &missing, why, sizeof(why)),
           CDR_ERR_CONTRACT_MISMATCH);
  free(obj);
  CHECK_RC(sign_as(&st, &x, NOW, &res, &missing), CDR_ERR_NOT_A_MEMBER); /* not in it */
  sig_obj(&a, a.fp, 1, st.pending.hash, &obj, &olen); /* a's object, b's session */
  CHECK_RC(contract_state_sign(&st, room, b.spki, b.spki_len, obj, olen, NOW, &res, &missing, why, sizeof(why)),
           CDR_ERR_CERT_KEY_MISMATCH);
  free(obj);
  sig_obj(&b, a.fp, 1, st.pending.hash, &obj, &olen); /* b's signature under a's key */
  CHECK_RC(contract_state_sign(&st, room, a.spki, a.spki_len, obj, olen, NOW, &res, &missing, why, sizeof(why)),
           CDR_ERR_BAD_SIGNATURE);
  free(obj);
  CHECK_RC(contract_state_sign(&st, room, a.spki, a.spki_len, (const uint8_t *)"{}", 2, NOW, &res, &missing, why,
                               sizeof(why)),
           CDR_ERR_CONTRACT_INVALID);
  CHECK(st.pending.n_sigs == 0);

  /* a signs (one missing), again (nothing changes), b signs: active. */
  CHECK_RC(sign_as(&st, &a, NOW, &res, &missing), 0);
  CHECK(res == CONTRACT_SIGN_ADDED && missing == 1 && st.pending.n_sigs == 1);
  CHECK_RC(sign_as(&st, &a, NOW, &res, &missing), 0);
  CHECK(res == CONTRACT_SIGN_REPEATED && missing == 1 && st.pending.n_sigs == 1);
  round_trip(&st);
  CHECK_RC(sign_as(&st, &b, NOW, &res, &missing), 0);
  CHECK(res == CONTRACT_SIGN_ACTIVATED && missing == 0 && !st.has_pending && st.n_active == 1);
  const struct contract_version *v1 = contract_state_current(&st);
  CHECK(v1 != NULL && v1->c.version == 1 && v1->n_sigs == 2);
  round_trip(&st);

  /* The operator's shortcut: a version without a (the only provider)
   * that adds op as provider.  op and b sign; without a it never activates. */
  struct mk *v2m[] = {&b, &op};
  unsigned v2r[] = {CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_PROVIDER | CDR_CONTRACT_ROLE_ANALYST};
  doc_make(v1, v2m, v2r, 2, &doc, &len);
  CHECK_RC(propose(&st, doc, len, &voided), 0);
  free(doc);
  CHECK_RC(sign_as(&st, &op, NOW, &res, &missing), 0);
  CHECK(res == CONTRACT_SIGN_ADDED && missing == 1);
  CHECK_RC(sign_as(&st, &b, NOW, &res, &missing), 0); /* a member, not a required signer */
  CHECK(res == CONTRACT_SIGN_ADDED && missing == 1 && st.n_active == 1);
  CHECK_RC(sign_as(&st, &x, NOW, &res, &missing), CDR_ERR_NOT_A_MEMBER);
  round_trip(&st);
  /* A new proposal voids those signatures (version 2 again: adds x as analyst). */
  struct mk *v2bm[] = {&a, &b, &x};
  unsigned v2br[] = {v1r[0], v1r[1], CDR_CONTRACT_ROLE_ANALYST};
  doc_make(v1, v2bm, v2br, 3, &doc, &len);
  CHECK_RC(propose(&st, doc, len, &voided), 0);
  free(doc);
  CHECK(voided == 2 && st.pending.n_sigs == 0);
  /* Expired: refused, and nothing pending is shown. */
  CHECK_RC(sign_as(&st, &a, NOW + CONTRACT_PENDING_TTL_SECONDS, &res, &missing), CDR_ERR_CONTRACT_NO_PENDING);
  CHECK(contract_state_pending(&st, NOW + CONTRACT_PENDING_TTL_SECONDS) == NULL);
  /* a (provider) and x (added) sign: version 2 active, chained to 1. */
  CHECK_RC(sign_as(&st, &x, NOW, &res, &missing), 0);
  CHECK(res == CONTRACT_SIGN_ADDED && missing == 1);
  CHECK_RC(sign_as(&st, &a, NOW, &res, &missing), 0);
  CHECK(res == CONTRACT_SIGN_ACTIVATED && st.n_active == 2);
  CHECK(memcmp(st.active[1].c.previous_sha256, st.active[0].hash, 32) == 0);
  /* A version that skips the chain (version 2 again, after 2) is refused. */
  doc_make(&st.active[0], v2bm, v2br, 3, &doc, &len);
  CHECK_RC(propose(&st, doc, len, &voided), CDR_ERR_CONTRACT_INVALID);
  free(doc);
  CHECK(!st.has_pending && st.n_active == 2);
  round_trip(&st);

  contract_state_free(&st);
  mk_free(&a);
  mk_free(&b);
  mk_free(&x);
  mk_free(&op);
  return test_summary("test_contract_state");
}
