/*
 * attest.c - verification of the enclave's attestation (PROTOCOL 4.5).
 *
 * The outcome of attestation is one public key, the enclave identity key
 * I, that the client then uses to authenticate the session-open answer.
 * I is believed only if all of these hold:
 *   - the platform is one this client knows: `snp`, `tdx`, `nitro`, or
 *     `sim` only when the user allowed it;
 *   - for snp, tdx and nitro: the hardware verifier of src/attest
 *     accepts the evidence at the current time (vendor chain to a pinned
 *     root, signature, debug policy, TCB, report_data equal to ours, the
 *     expected measurement, the expected TDX RTMRs / Nitro PCRs); the
 *     rest of this list is sim's:
 *   - the evidence parses exactly (magic, field lengths, total length);
 *   - certificates[0] is a platform certificate issued by the room CA we
 *     trust, valid now, not a CA, subject CN "CDR simulated attestation
 *     platform" with no role (so no user certificate, which the same CA
 *     issues, can stand in for it), naming our room;
 *   - its key signed bytes [0, 112) of the evidence;
 *   - the evidence's report_data equals report_data computed by us from
 *     I, OUR room id, OUR CA fingerprint, the contract hash the answer
 *     names and OUR fresh nonce (compared in constant time), and the
 *     room_id / ca_fingerprint the host reports are ours (another CA
 *     is CDR_ERR_CA_UNPINNED: the client's CA is its pin).  The contract
 *     hash is then proven to be the one the enclave runs under; whether
 *     it is one this user accepts is the caller's check (connect.c);
 *   - the measurement is the one required, if one is, and no RTMR or
 *     PCR is expected (sim has none, and an expectation is never ignored).
 * Checks run in that order, so that each failure has its own error code.
 */
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hwattest.h"
#include "client.h"
#include "client_int.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

#define SIM_MAGIC "CDRSIM\x00\x01"
#define SIM_MAGIC_LEN 8
#define SIM_SIGNED_LEN 112
#define SIM_HEADER_LEN 116
#define SIM_MAX_SIG 256
#define ATTEST_MAX_CERTS 8

static int sim_warned; /* the sim warning was printed (or was due under --quiet) */

static void set_detail(char *detail, size_t len, const char *msg) {
  if (detail != NULL && len > 0)
    snprintf(detail, len, "%s", msg);
}

static int is_zero32(const uint8_t p[32]) {
  uint8_t z = 0;
  for (size_t i = 0; i < 32; i++)
    z |= p[i];
  return z == 0;
}

/* The contract the answer names (PROTOCOL 4.5): both fields, version 0
 * exactly with the zero hash.  0 or -1. */
static int answer_contract(const json_t *resp, uint8_t sha256[32], uint64_t *version) {
  if (cdr_json_get_hex_exact(resp, "contract_sha256", sha256, 32) != 0 ||
      cdr_json_get_u64(resp, "contract_version", version) != 0 || (*version == 0) != is_zero32(sha256))
    return -1;
  return 0;
}

/* The enclave names another CA than ours: our CA is the pin. */
static int other_ca(const uint8_t theirs[32], const uint8_t ours[32], char *detail, size_t detail_len) {
  char a[65], b[65], msg[256];
  cdr_hex_encode(a, theirs, 32);
  cdr_hex_encode(b, ours, 32);
  snprintf(msg, sizeof(msg), "the enclave trusts room CA %s, not the one this client pinned (%s)", a, b);
  set_detail(detail, detail_len, msg);
  return CDR_ERR_CA_UNPINNED;
}

void cdr_attestation_clear(struct cdr_attestation *a) {
  free(a->hw);
  EVP_PKEY_free(a->identity);
  OPENSSL_free(a->identity_spki);
  OPENSSL_cleanse(a, sizeof(*a));
}

/* Is t within [notBefore, notAfter] of x? */
static int cert_valid_at(X509 *x, int64_t t) {
  int nb = ASN1_TIME_cmp_time_t(X509_get0_notBefore(x), (time_t)t);
  int na = ASN1_TIME_cmp_time_t(X509_get0_notAfter(x), (time_t)t);
  return (nb == -1 || nb == 0) && (na == 0 || na == 1);
}

/* The platform certificate rules (see the top of the file). */
static int platform_cert_check(X509 *plat, const struct cdr_attest_policy *pol) {
  X509_NAME *subj = X509_get_subject_name(plat);
  EVP_PKEY *ca_pub = X509_get0_pubkey(pol->ca);
  uint8_t rid[CDR_ROOM_ID_BYTES];
  char *cn = NULL;
  int r = CDR_ERR_ATTEST_ROOT;

  if (ca_pub == NULL || X509_NAME_cmp(X509_get_issuer_name(plat), X509_get_subject_name(pol->ca)) != 0 ||
      X509_verify(plat, ca_pub) != 1)
    goto out;
  if (!cert_valid_at(plat, pol->now) || !cert_valid_at(pol->ca, pol->now))
    goto out;
  if (X509_check_ca(plat) != 0)
    goto out;
  uint32_t ku = X509_get_key_usage(plat);
  if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE))
    goto out;
  if (X509_NAME_get_index_by_NID(subj, NID_role, -1) >= 0)
    goto out;
  if (cdr_cert_subject(plat, &cn, NULL) != 0 || strcmp(cn, CDR_SIM_PLATFORM_CN) != 0)
    goto out;
  if (cdr_x509_name_room_id(subj, rid) != 0 || !cdr_ct_equal(rid, pol->room_id, sizeof(rid)))
    goto out;
  r = 0;
out:
  free(cn);
  ERR_clear_error();
  return r;
}

int cdr_attest_verify_sim(uint8_t measurement[CDR_MEASUREMENT_LEN], uint64_t *timestamp, const uint8_t *ev,
                          size_t ev_len, const uint8_t *plat_der, size_t plat_len,
                          const uint8_t expect_rd[CDR_REPORT_DATA_LEN], const struct cdr_attest_policy *pol) {
  struct cdr_buf b;
  uint8_t magic[SIM_MAGIC_LEN], meas[CDR_MEASUREMENT_LEN], rd[CDR_REPORT_DATA_LEN];
  uint64_t ts;
  uint32_t n;
  X509 *plat = NULL;
  EVP_PKEY *pub;
  uint8_t point[CDR_P256_POINT_LEN];
  int r = CDR_ERR_ATTEST_MALFORMED;

  /* Exact parse: every field, then nothing left over. */
  if (ev_len < SIM_HEADER_LEN || ev_len > SIM_HEADER_LEN + SIM_MAX_SIG)
    goto out;
  cdr_buf_view(&b, ev, ev_len);
  if (cdr_buf_get(&b, magic, sizeof(magic)) != 0 || memcmp(magic, SIM_MAGIC, SIM_MAGIC_LEN) != 0 ||
      cdr_buf_get(&b, meas, sizeof(meas)) != 0 || cdr_buf_get(&b, rd, sizeof(rd)) != 0 ||
      cdr_buf_get_u64(&b, &ts) != 0 || cdr_buf_get_u32(&b, &n) != 0)
    goto out;
  if (n == 0 || n > SIM_MAX_SIG || cdr_buf_avail(&b) != n)
    goto out;

  if (cdr_cert_from_der(&plat, plat_der, plat_len) != 0)
    goto out;
  if ((r = platform_cert_check(plat, pol)) != 0)
    goto out;
  pub = X509_get0_pubkey(plat);
  if (pub == NULL || cdr_p256_point_get(point, pub) != 0) {
    r = CDR_ERR_ATTEST_ROOT; /* the platform key must be P-256 */
    goto out;
  }
  if (cdr_verify(pub, ev, SIM_SIGNED_LEN, cdr_buf_ptr(&b), n) != 0) {
    r = CDR_ERR_ATTEST_SIGNATURE;
    goto out;
  }
  if (!cdr_ct_equal(rd, expect_rd, CDR_REPORT_DATA_LEN)) {
    r = CDR_ERR_ATTEST_REPORT_DATA;
    goto out;
  }
  memcpy(measurement, meas, sizeof(meas));
  *timestamp = ts;
  r = 0;
out:
  X509_free(plat);
  ERR_clear_error();
  return r;
}

/* The hardware platforms: name for display, verifier. */
static const struct {
  const char *name, *display;
  enum cdr_hw_platform platform;
} hw_platforms[] = {
    {"snp", "AMD SEV-SNP", CDR_HW_SNP}, {"tdx", "Intel TDX", CDR_HW_TDX}, {"nitro", "AWS Nitro", CDR_HW_NITRO}};

/* Is status one of the comma-separated names in list? */
/* The answer's certificates (b64 DER, at most ATTEST_MAX_CERTS) as a
 * stack; they are only ever untrusted intermediates or candidates for
 * the SEV-SNP VCEK, never roots.  CDR_ERR_ATTEST_MALFORMED. */
static int hw_certs(const json_t *certs, STACK_OF(X509) **out) {
  STACK_OF(X509) *sk = sk_X509_new_null();
  int r = CDR_ERR_ATTEST_MALFORMED;
  if (sk == NULL || !json_is_array(certs) || json_array_size(certs) > ATTEST_MAX_CERTS)
    goto out;
  for (size_t i = 0; i < json_array_size(certs); i++) {
    const json_t *v = json_array_get(certs, i);
    uint8_t *der = NULL;
    size_t len = 0;
    X509 *x = NULL;
    if (!json_is_string(v) || cdr_b64_decode(&der, &len, json_string_value(v), CDR_MAX_CERT_DER) != 0 ||
        cdr_cert_from_der(&x, der, len) != 0 || !sk_X509_push(sk, x)) {
      X509_free(x);
      free(der);
      goto out;
    }
    free(der);
  }
  *out = sk;
  sk = NULL;
  r = 0;
out:
  sk_X509_pop_free(sk, X509_free);
  return r;
}

/* snp, tdx, nitro evidence: the vendor's verifier at pol->now, with our
 * report_data and the expected measurement when it has the platform's
 * length.  Fills out->measurement and out->hw. */
static int attest_verify_hw(struct cdr_attestation *out, size_t which, const uint8_t *ev, size_t ev_len,
                            const json_t *certs, const uint8_t expect_rd[CDR_REPORT_DATA_LEN],
                            const struct cdr_attest_policy *pol, char *detail, size_t detail_len) {
  struct cdr_hw_policy hp;
  struct cdr_hw_report *rep = NULL;
  size_t want_len = pol->measurement_len ? pol->measurement_len : CDR_MEASUREMENT_LEN;
  int r;

  memset(&hp, 0, sizeof(hp));
  if ((r = hw_certs(certs, &hp.certs)) != 0) {
    set_detail(detail, detail_len, "the attestation answer's certificates are not DER X.509 certificates");
    goto out;
  }
  if ((rep = calloc(1, sizeof(*rep))) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  hp.at = pol->now;
  hp.expect_report_data = expect_rd;
  if (pol->measurement != NULL && want_len == CDR_HW_MEASUREMENT_LEN) {
    hp.expect_measurement = pol->measurement;
    hp.expect_measurement_len = CDR_HW_MEASUREMENT_LEN;
  }
  hp.accept_tcb_statuses = pol->accept_tcb;
  if (pol->snp_min_tcb != NULL)
    memcpy(hp.snp_min_tcb, pol->snp_min_tcb, CDR_SNP_TCB_LEN);
  hp.expect_regs = pol->expect_regs;
  hp.collateral = pol->tdx_collateral;
  hp.collateral_len = pol->tdx_collateral_len;
  r = cdr_verify_hw(hw_platforms[which].platform, ev, ev_len, &hp, rep);
  if (r != 0) {
    const struct cdr_hw_check *failed = NULL;
    for (size_t i = 0; i < rep->nchecks && i < CDR_HW_MAX_CHECKS; i++)
      if (!rep->checks[i].ok)
        failed = &rep->checks[i];
    if (detail != NULL && detail_len > 0) {
      if (hw_platforms[which].platform == CDR_HW_TDX && hp.collateral == NULL)
        snprintf(detail, detail_len,
                 "%s: online verification of a TDX quote needs Intel's collateral: set CDR_TDX_COLLATERAL=FILE "
                 "or give --collateral FILE (docs/ATTESTATION.md)",
                 hw_platforms[which].display);
      else if (failed != NULL)
        snprintf(detail, detail_len, "%s: %s: %s", hw_platforms[which].display, failed->name, failed->detail);
      else
        snprintf(detail, detail_len, "%s evidence does not verify", hw_platforms[which].display);
    }
    goto out;
  }
  if (rep->measurement_len != CDR_HW_MEASUREMENT_LEN) {
    set_detail(detail, detail_len, "the verifier found no 48-byte measurement");
    r = CDR_ERR_ATTEST_MALFORMED;
    goto out;
  }
  memcpy(out->measurement, rep->measurement, CDR_HW_MEASUREMENT_LEN);
  out->measurement_len = CDR_HW_MEASUREMENT_LEN;
  out->timestamp = 0;
  out->hw = rep;
  rep = NULL;
out:
  sk_X509_pop_free(hp.certs, X509_free);
  free(rep);
  return r;
}

int cdr_attest_verify_response(struct cdr_attestation *out, const json_t *resp, const struct cdr_attest_policy *pol,
                               char *detail, size_t detail_len) {
  const char *platform;
  uint8_t *ev = NULL, *plat = NULL, *spki = NULL;
  size_t ev_len = 0, plat_len = 0, spki_len = 0, hw = SIZE_MAX;
  size_t want_len = pol->measurement_len ? pol->measurement_len : CDR_MEASUREMENT_LEN;
  uint8_t rid[CDR_ROOM_ID_BYTES], cafp[32], expect_rd[CDR_REPORT_DATA_LEN], point[CDR_P256_POINT_LEN];
  uint8_t contract_sha256[32];
  uint64_t contract_version = 0;
  EVP_PKEY *ident = NULL;
  json_t *certs;
  int r = CDR_ERR_ATTEST_MALFORMED;

  memset(out, 0, sizeof(*out));
  if (cdr_json_get_cstr(resp, "platform", SIZE_MAX, &platform) != 0) {
    set_detail(detail, detail_len, "the answer names no platform");
    goto out;
  }
  for (size_t i = 0; i < sizeof(hw_platforms) / sizeof(hw_platforms[0]); i++)
    if (strcmp(platform, hw_platforms[i].name) == 0)
      hw = i;
  if (hw == SIZE_MAX && strcmp(platform, "sim") != 0) {
    set_detail(detail, detail_len, "the enclave uses an attestation platform this client does not support");
    goto out;
  }
  if (hw == SIZE_MAX) {
    if (!pol->allow_sim) {
      set_detail(detail, detail_len, "it is not hardware-backed");
      r = CDR_ERR_ATTEST_SIM_REFUSED;
      goto out;
    }
    /* once per process (client.h); threads may attest at once */
    if (__atomic_exchange_n(&sim_warned, 1, __ATOMIC_RELAXED) == 0 && !cdr_client_quiet())
      fprintf(stderr, "%s\n", CDR_SIM_WARNING);
  }

  certs = json_object_get(resp, "certificates");
  if (cdr_json_get_b64(resp, "evidence", CDR_MAX_EVIDENCE, &ev, &ev_len) != 0 || !json_is_array(certs) ||
      json_array_size(certs) > ATTEST_MAX_CERTS ||
      (hw == SIZE_MAX &&
       (json_array_size(certs) < 1 || !json_is_string(json_array_get(certs, 0)) ||
        cdr_b64_decode(&plat, &plat_len, json_string_value(json_array_get(certs, 0)), CDR_MAX_CERT_DER) != 0)) ||
      cdr_json_get_b64(resp, "identity_public_key", CDR_MAX_PUBKEY_DER, &spki, &spki_len) != 0 ||
      cdr_json_get_hex_exact(resp, "room_id", rid, sizeof(rid)) != 0 ||
      cdr_json_get_hex_exact(resp, "ca_fingerprint", cafp, sizeof(cafp)) != 0) {
    set_detail(detail, detail_len, "the attestation answer is missing a field or has a malformed one");
    goto out;
  }
  if (answer_contract(resp, contract_sha256, &contract_version) != 0) {
    set_detail(detail, detail_len,
               "the attestation answer has no valid contract_sha256 and contract_version (a server older than "
               "protocol version 2?)");
    goto out;
  }
  if (cdr_pubkey_from_der(&ident, spki, spki_len) != 0 || cdr_p256_point_get(point, ident) != 0) {
    set_detail(detail, detail_len, "the identity key is not an EC P-256 public key");
    goto out;
  }
  if (!cdr_ct_equal(rid, pol->room_id, sizeof(rid))) {
    set_detail(detail, detail_len, "the enclave serves a different room than the one you enrolled in");
    r = CDR_ERR_ATTEST_ROOT;
    goto out;
  }
  if (!cdr_ct_equal(cafp, pol->ca_fp, sizeof(cafp))) {
    r = other_ca(cafp, pol->ca_fp, detail, detail_len);
    goto out;
  }
  /* report_data from what WE know, not from what the host says. */
  if ((r = cdr_report_data(expect_rd, spki, spki_len, pol->room_id, pol->ca_fp, contract_sha256, pol->nonce)) != 0)
    goto out;
  if (hw != SIZE_MAX) {
    if ((r = attest_verify_hw(out, hw, ev, ev_len, certs, expect_rd, pol, detail, detail_len)) != 0)
      goto out;
  } else {
    r = cdr_attest_verify_sim(out->measurement, &out->timestamp, ev, ev_len, plat, plat_len, expect_rd, pol);
    if (r != 0) {
      set_detail(detail, detail_len,
                 r == CDR_ERR_ATTEST_ROOT ? "the platform certificate is not a sim platform certificate of your room CA"
                 : r == CDR_ERR_ATTEST_SIGNATURE ? "the evidence signature does not verify under the platform key"
                 : r == CDR_ERR_ATTEST_REPORT_DATA
                     ? "the evidence does not bind this identity key, room, CA, contract hash and our nonce"
                     : "the sim evidence does not parse");
      goto out;
    }
    out->measurement_len = CDR_MEASUREMENT_LEN;
  }
  /* The measurement: for hardware the verifier compared it already when
   * the lengths agree; this also catches an expectation of the wrong
   * length (a 64-hex sim measurement for a hardware room, or the reverse). */
  if (pol->measurement != NULL &&
      (want_len != out->measurement_len || !cdr_ct_equal(out->measurement, pol->measurement, want_len))) {
    char got[2 * CDR_MEASUREMENT_MAX + 1], want[2 * CDR_MEASUREMENT_MAX + 1], msg[400];
    cdr_hex_encode(got, out->measurement, out->measurement_len);
    if (want_len <= CDR_MEASUREMENT_MAX)
      cdr_hex_encode(want, pol->measurement, want_len);
    else
      snprintf(want, sizeof(want), "(too long)");
    if (want_len != out->measurement_len)
      snprintf(msg, sizeof(msg), "measurement %s (%zu bytes, %s), expected %s (%zu bytes)", got,
               out->measurement_len, platform, want, want_len);
    else
      snprintf(msg, sizeof(msg), "measurement %s, expected %s", got, want);
    set_detail(detail, detail_len, msg);
    r = CDR_ERR_ATTEST_MEASUREMENT;
    goto out;
  }
  /* Register expectations: cdr_verify_hw compared them for hardware. */
  if (hw == SIZE_MAX && pol->expect_regs != NULL && pol->expect_regs->n > 0) {
    char msg[160];
    snprintf(msg, sizeof(msg), "%s%u expected, but sim evidence has no RTMRs or PCRs",
             cdr_hw_reg_name(pol->expect_regs->reg[0].kind), pol->expect_regs->reg[0].index);
    set_detail(detail, detail_len, msg);
    r = CDR_ERR_ATTEST_MEASUREMENT;
    goto out;
  }
  /* A minimum SEV-SNP TCB the user required (the verifier compared it
   * for SNP): a room of another platform cannot meet it, and is not let
   * through as if it had. */
  if (pol->snp_min_tcb_required && (hw == SIZE_MAX || hw_platforms[hw].platform != CDR_HW_SNP)) {
    char msg[160];
    snprintf(msg, sizeof(msg), "a minimum SEV-SNP TCB was required (--snp-min-tcb), but the room attests as %s",
             platform);
    set_detail(detail, detail_len, msg);
    r = CDR_ERR_ATTEST_TCB;
    goto out;
  }
  snprintf(out->platform, sizeof(out->platform), "%s", platform);
  memcpy(out->nonce, pol->nonce, CDR_NONCE_LEN);
  out->contract_version = contract_version;
  memcpy(out->contract_sha256, contract_sha256, sizeof(contract_sha256));
  if ((r = cdr_sha256(out->identity_fp, spki, spki_len)) != 0)
    goto out;
  out->identity = ident;
  out->identity_spki = spki;
  out->identity_spki_len = spki_len;
  ident = NULL;
  spki = NULL;
  r = 0;
out:
  if (r != 0)
    cdr_attestation_clear(out);
  EVP_PKEY_free(ident);
  free(ev);
  free(plat);
  free(spki);
  return r;
}

int cdr_client_expect_registers(struct cdr_client *c, const struct cdr_hw_expect *list) {
  if (cdr_hw_expect_valid(list) != 0)
    return CDR_ERR_ARG;
  if (list == NULL)
    memset(&c->expect_regs, 0, sizeof(c->expect_regs));
  else
    c->expect_regs = *list;
  return 0;
}

int cdr_client_attest(struct cdr_client *c, struct cdr_attestation *out) {
  uint8_t nonce[CDR_NONCE_LEN];
  char *nonce_b64 = NULL, *body = NULL;
  json_t *req = NULL, *resp = NULL;
  struct cdr_attest_policy pol;
  int r;

  memset(out, 0, sizeof(*out));
  cdr_client_clear_error(c);
  if (!c->have_ca) {
    cdr_client_set_detail(c, "no room CA to verify attestation against");
    return CDR_ERR_ARG;
  }
  if ((r = cdr_random(nonce, sizeof(nonce))) != 0 || (r = cdr_b64_encode(&nonce_b64, nonce, sizeof(nonce))) != 0)
    goto out;
  r = CDR_ERR_NOMEM;
  if ((req = json_pack("{s:s}", "nonce", nonce_b64)) == NULL || (body = cj_dump(req)) == NULL)
    goto out;
  if ((r = cdr_http_json(c, "POST", "/v1/attest", body, strlen(body), &resp)) != 0)
    goto out;
  memset(&pol, 0, sizeof(pol));
  pol.ca = c->ca;
  pol.room_id = c->room_id;
  pol.ca_fp = c->ca_fp;
  pol.nonce = nonce;
  pol.measurement = c->have_measurement ? c->measurement : NULL;
  pol.measurement_len = c->have_measurement ? c->measurement_len : 0;
  pol.tdx_collateral = c->tdx_collateral;
  pol.tdx_collateral_len = c->tdx_collateral_len;
  pol.accept_tcb = c->accept_tcb;
  pol.expect_regs = &c->expect_regs;
  pol.snp_min_tcb = c->snp_min_tcb;
  pol.snp_min_tcb_required = c->snp_min_tcb_required;
  pol.allow_sim = c->allow_sim;
  pol.now = cdr_now();
  r = cdr_attest_verify_response(out, resp, &pol, c->detail, sizeof(c->detail));
out:
  json_decref(req);
  json_decref(resp);
  free(body);
  free(nonce_b64);
  return r;
}
