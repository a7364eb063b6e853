/*
 * witness_join.c - how a witness learns a room (PROTOCOL 9.3).
 *
 * The host relays the join, so nothing in it is believed because of who
 * sent it:
 *   - the contract chain is verified here, with the contract library
 *     (src/crypto/contract*): every document canonical and of this room,
 *     each version following the one before by cdr-gov-1 and carrying a
 *     verified signature of every signer it requires.  A room the witness
 *     does not know must start at version 1 (signed by every member it
 *     lists); a known room must start at the version the witness pinned,
 *     with its hash, so a host cannot swap in a contract with a
 *     measurement of its choosing;
 *   - the attestation evidence is checked with the client's verifier
 *     (src/client/attest.c, which dispatches to src/attest for hardware)
 *     against the last version's CA (the certificate sent must hash to
 *     its ca_sha256), room and platform; the measurement must be one the
 *     version lists; sim only when the witness runs with --allow-sim.
 * The evidence carries report_data over the identity key, room, CA and a
 * nonce the host chose: the witness needs no freshness here, only proof
 * that this identity key lives in an enclave the room accepts (an old
 * proof for a retired identity gains nothing: that identity's heads must
 * still extend what the witness holds).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "witness.h"

static int refuse(char *why, size_t whylen, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int refuse(char *why, size_t whylen, int r, const char *fmt, ...) {
  va_list ap;
  if (why != NULL && whylen > 0) {
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return r;
}

/* One chain element's document: canonical, of this room; its hash. */
static int chain_doc(const json_t *v, size_t i, const uint8_t room_id[CDR_ROOM_ID_BYTES], struct cdr_contract *c,
                     uint8_t hash[32], const char **doc, size_t *len, char *why, size_t whylen) {
  char reason[CDR_CONTRACT_WHY_LEN];
  if (!json_is_object(v) || cdr_json_get_str(v, "document", CDR_CONTRACT_MAX_BYTES, doc, len) != 0)
    return refuse(why, whylen, CDR_ERR_CONTRACT_INVALID, "join.chain[%zu].document: missing or not a string", i);
  if (cdr_contract_parse((const uint8_t *)*doc, *len, c, reason, sizeof(reason)) != 0)
    return refuse(why, whylen, CDR_ERR_CONTRACT_INVALID, "join.chain[%zu]: %s", i, reason);
  if (memcmp(c->room_id, room_id, CDR_ROOM_ID_BYTES) != 0)
    return refuse(why, whylen, CDR_ERR_CONTRACT_INVALID, "join.chain[%zu]: the contract of another room", i);
  return cdr_sha256(hash, *doc, *len);
}

/* The signatures version c needs after prev (NULL: c is version 1). */
static int chain_signed(const json_t *v, size_t i, const struct cdr_contract *prev, const struct cdr_contract *c,
                        const uint8_t hash[32], char *why, size_t whylen) {
  struct cdr_contract_signers req;
  uint8_t(*have)[32] = NULL;
  size_t n = 0, missing = 0, first = 0;
  char reason[CDR_CONTRACT_WHY_LEN], hex[65];
  int r;
  memset(&req, 0, sizeof(req));
  if (cdr_contract_required_signers(prev, c, &req, reason, sizeof(reason)) != 0)
    return refuse(why, whylen, CDR_ERR_CONTRACT_INVALID, "join.chain[%zu] (version %llu): %s", i,
                  (unsigned long long)c->version, reason);
  if ((r = cdr_contract_verified_signers(v, c, hash, &have, &n)) != 0) {
    r = refuse(why, whylen, r, "join.chain[%zu].signatures: more than %u", i, CDR_CONTRACT_MAX_SIGNATURES);
    goto out;
  }
  if ((r = cdr_contract_signers_missing(&req, (const uint8_t(*)[32])have, n, &missing, &first)) != 0)
    goto out;
  if (missing > 0) {
    cdr_hex_encode(hex, req.v[first].key_sha256, 32);
    r = refuse(why, whylen, CDR_ERR_CONTRACT_INVALID,
               "join.chain[%zu] (version %llu): no verified signature of required signer %s (%zu missing)", i,
               (unsigned long long)c->version, hex, missing);
  }
out:
  free(have);
  cdr_contract_signers_free(&req);
  return r;
}

/* Verify the chain (see the top of the file); on success *last is the
 * last version (parsed), last_hash its hash, out->contract_* filled. */
static int chain_check(const uint8_t room_id[CDR_ROOM_ID_BYTES], const json_t *chain,
                       const struct witness_room *held, struct cdr_contract *last, struct witness_room *out,
                       char *why, size_t whylen) {
  struct cdr_contract prev, cur;
  uint8_t hash[32];
  const char *doc = NULL;
  size_t len = 0, i;
  int r = 0, have_prev = 0;
  const json_t *v;

  memset(&prev, 0, sizeof(prev));
  if (!json_is_array(chain) || json_array_size(chain) == 0 || json_array_size(chain) > WITNESS_MAX_CHAIN)
    return refuse(why, whylen, CDR_ERR_CONTRACT_INVALID, "join.chain: 1 to %d contract versions expected",
                  WITNESS_MAX_CHAIN);
  json_array_foreach(chain, i, v) {
    memset(&cur, 0, sizeof(cur));
    if ((r = chain_doc(v, i, room_id, &cur, hash, &doc, &len, why, whylen)) != 0)
      break;
    if (i == 0 && held != NULL) {
      if (cur.version != held->contract_version || memcmp(hash, held->contract_sha256, 32) != 0) {
        r = refuse(why, whylen, CDR_ERR_CONTRACT_INVALID,
                   "join.chain[0]: the chain must start at the version this witness pinned (version %llu)",
                   (unsigned long long)held->contract_version);
        break;
      }
    } else if (i == 0 && cur.version != 1) {
      r = refuse(why, whylen, CDR_ERR_CONTRACT_INVALID,
                 "join.chain[0]: a room this witness does not know joins from contract version 1");
      break;
    } else if ((r = chain_signed(v, i, have_prev ? &prev : NULL, &cur, hash, why, whylen)) != 0) {
      break;
    }
    cdr_contract_free(&prev);
    prev = cur;
    have_prev = 1;
    memset(&cur, 0, sizeof(cur));
    out->contract_version = prev.version;
    memcpy(out->contract_sha256, hash, 32);
  }
  cdr_contract_free(&cur);
  if (r != 0) {
    cdr_contract_free(&prev);
    return r;
  }
  free(out->contract_doc);
  if ((out->contract_doc = malloc(len + 1)) == NULL) {
    cdr_contract_free(&prev);
    return CDR_ERR_NOMEM;
  }
  memcpy(out->contract_doc, doc, len);
  out->contract_doc[len] = '\0';
  out->contract_doc_len = len;
  *last = prev;
  return 0;
}

/* The evidence against the last version (see the top of the file). */
static int attestation_check(const struct witness *w, const json_t *join, const struct cdr_contract *c,
                             struct witness_room *out, char *why, size_t whylen) {
  struct cdr_attest_policy pol;
  struct cdr_attestation att;
  uint8_t nonce[CDR_NONCE_LEN], *ca_der = NULL, ca_fp[32];
  size_t ca_len = 0, mlen = cdr_contract_measurement_len(c->platform);
  X509 *ca = NULL;
  const json_t *answer = json_object_get(join, "attestation");
  char detail[256] = "";
  int r, found = 0;

  memset(&att, 0, sizeof(att));
  if (!json_is_object(answer))
    return refuse(why, whylen, CDR_ERR_ARG, "join.attestation: missing or not an object");
  if (cdr_json_get_b64_exact(join, "nonce", nonce, sizeof(nonce)) != 0)
    return refuse(why, whylen, CDR_ERR_ARG, "join.nonce: missing or not 32 bytes of base64");
  if (cdr_json_get_b64(join, "ca_certificate", CDR_MAX_CERT_DER, &ca_der, &ca_len) != 0 ||
      cdr_cert_from_der(&ca, ca_der, ca_len) != 0) {
    free(ca_der);
    return refuse(why, whylen, CDR_ERR_ARG, "join.ca_certificate: missing or not a DER certificate");
  }
  r = cdr_sha256(ca_fp, ca_der, ca_len);
  free(ca_der);
  if (r != 0 || !cdr_ct_equal(ca_fp, c->ca_sha256, 32)) {
    X509_free(ca);
    return r != 0 ? r
                  : refuse(why, whylen, CDR_ERR_CONTRACT_INVALID,
                           "join.ca_certificate: not the CA the contract names (ca_sha256)");
  }
  memset(&pol, 0, sizeof(pol));
  pol.ca = ca;
  pol.room_id = c->room_id;
  pol.ca_fp = c->ca_sha256;
  pol.nonce = nonce;
  pol.allow_sim = w->allow_sim;
  pol.now = cdr_now();
  r = cdr_attest_verify_response(&att, answer, &pol, detail, sizeof(detail));
  X509_free(ca);
  if (r != 0)
    return refuse(why, whylen, r, "join.attestation: %s", detail[0] ? detail : cdr_err_describe(r));
  if (strcmp(att.platform, c->platform) != 0) {
    r = refuse(why, whylen, CDR_ERR_ATTEST_ROOT, "join.attestation: the enclave attests as %s, the contract names %s",
               att.platform, c->platform);
    goto out;
  }
  for (size_t i = 0; i < c->n_measurements; i++)
    if (att.measurement_len == mlen && cdr_ct_equal(att.measurement, c->measurements[i], mlen))
      found = 1;
  if (!found) {
    char hex[2 * WITNESS_MEASUREMENT_MAX + 1];
    cdr_hex_encode(hex, att.measurement, att.measurement_len < WITNESS_MEASUREMENT_MAX ? att.measurement_len
                                                                                       : WITNESS_MEASUREMENT_MAX);
    r = refuse(why, whylen, CDR_ERR_ATTEST_MEASUREMENT,
               "join.attestation: measurement %s is not one the contract accepts", hex);
    goto out;
  }
  /* The evidence binds the contract the enclave holds active (PROTOCOL
   * 4.5): it must be the version the chain ends at, which is pinned. */
  if (att.contract_version != out->contract_version ||
      !cdr_ct_equal(att.contract_sha256, out->contract_sha256, 32)) {
    r = refuse(why, whylen, CDR_ERR_ATTEST_REPORT_DATA,
               "join.attestation: the enclave binds contract version %llu, the chain ends at version %llu",
               (unsigned long long)att.contract_version, (unsigned long long)out->contract_version);
    goto out;
  }
  if (att.identity_spki_len == 0 || att.identity_spki_len > sizeof(out->identity_spki)) {
    r = refuse(why, whylen, CDR_ERR_ATTEST_MALFORMED, "join.attestation: identity key too long");
    goto out;
  }
  snprintf(out->platform, sizeof(out->platform), "%s", att.platform);
  memcpy(out->measurement, att.measurement, att.measurement_len);
  out->measurement_len = att.measurement_len;
  memcpy(out->identity_spki, att.identity_spki, att.identity_spki_len);
  out->identity_spki_len = att.identity_spki_len;
  r = 0;
out:
  cdr_attestation_clear(&att);
  return r;
}

int witness_join_check(const struct witness *w, const uint8_t room_id[CDR_ROOM_ID_BYTES], const json_t *join,
                       const struct witness_room *held, struct witness_room *out, char *why, size_t whylen) {
  struct cdr_contract last;
  int r;

  memset(out, 0, sizeof(*out));
  memset(&last, 0, sizeof(last));
  memcpy(out->room_id, room_id, CDR_ROOM_ID_BYTES);
  if (!json_is_object(join))
    return refuse(why, whylen, CDR_ERR_ARG, "join: not an object");
  if ((r = chain_check(room_id, json_object_get(join, "chain"), held, &last, out, why, whylen)) != 0)
    goto out;
  r = attestation_check(w, join, &last, out, why, whylen);
out:
  cdr_contract_free(&last);
  if (r != 0)
    witness_room_free(out);
  return r;
}
