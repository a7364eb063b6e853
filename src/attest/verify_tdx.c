/*
 * verify_tdx.c - verification of an Intel TDX DCAP quote (version 4,
 * ECDSA P-256 attestation key, PCK chain embedded as certification data
 * type 5 inside type 6), with the TCB info and QE identity collateral the
 * caller read from a file.  The contract is cdr_verify_tdx in hwattest.h.
 *
 * What a passing quote proves, and in which order it is checked (the
 * first failure stops, with its own error):
 *   1. structure: the quote parses exactly (tdx_quote.c)      MALFORMED
 *   2. the PCK chain in the quote runs PCK -> PCK Platform/Processor CA
 *      -> the pinned Intel SGX Root CA, valid at policy->at   ROOT, CERT_TIME,
 *                                                             SIGNATURE
 *   3. the PCK key signed the QE report                       SIGNATURE
 *   4. QE report_data = SHA-256(attestation key || QE auth data) || 0^32,
 *      binding the attestation key to that QE                 SIGNATURE
 *   5. the attestation key signed header || TD report         SIGNATURE
 *   6. collateral: each of tcb_info and qe_identity is signed (raw r||s,
 *      over its exact JSON text) by an "Intel SGX TCB Signing" certificate
 *      issued by the pinned root, and policy->at lies between its
 *      issueDate and nextUpdate                               ROOT, SIGNATURE,
 *                                                             CERT_TIME
 *   7. the PCK certificate's FMSPC and PCE-ID are the TCB info's
 *                                                             TCB
 *   8. the QE is Intel's TD QE (mrsigner, isvprodid, masked miscselect
 *      and attributes) and its isvsvn is on some level        MEASUREMENT, TCB
 *   9. the TDX module (mrsignerseam, masked seam_attributes) is the one
 *      the TCB info describes for tee_tcb_svn[1], its svn on some level
 *                                                             MEASUREMENT, TCB
 *  10. TCB status (tdx_collateral.c for the level rule): every status of
 *      platform, TDX module and QE other than "UpToDate" must be named in
 *      policy->accept_tcb_statuses; "Revoked" is refused even if named.
 *      No matching platform level is status "Unknown".       TCB
 *  11. TD debug (td_attributes bit 0) unless policy->allow_debug   DEBUG
 *  12. MRTD = policy->expect_measurement                     MEASUREMENT
 *  13. report_data = policy->expect_report_data              REPORT_DATA
 * RTMR expectations are cdr_verify_hw's, after all of these; a policy
 * that carries any is refused here (CDR_ERR_ARG) rather than ignored.
 *
 * Not checked: revocation (the collateral format carries no CRLs), the
 * TCB info's tcbEvaluationDataNumber against a minimum, and the SGX
 * "tcbDate"/advisory IDs (reported only through the status).
 *
 * The report is filled from the quote as soon as it parses, so a caller
 * can print the measurements even when a later check fails; they are
 * proven only when the function returns 0.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "hwattest.h"
#include "tdx_internal.h"

#define PCK_CN "Intel SGX PCK Certificate"
#define PCK_PLATFORM_CA_CN "Intel SGX PCK Platform CA"
#define PCK_PROCESSOR_CA_CN "Intel SGX PCK Processor CA"
#define TCB_SIGNING_CN "Intel SGX TCB Signing"

/* The measurements, report_data and attributes of the TD report. */
static void report_fill(struct cdr_hw_report *out, const struct tdx_quote *q) {
  const uint8_t *tr = q->td_report;
  uint64_t attr = tdx_le64(tr + TDX_TR_TD_ATTRIBUTES);
  char svn[33];

  memcpy(out->measurement, tr + TDX_TR_MRTD, 48);
  out->measurement_len = 48;
  for (size_t i = 0; i < 4; i++)
    memcpy(out->rtmr[i], tr + TDX_TR_RTMR0 + 48 * i, 48);
  memcpy(out->report_data, tr + TDX_TR_REPORT_DATA, 64);
  out->has_report_data = 1;
  out->debug = (attr & 1u) != 0;
  snprintf(out->policy, sizeof(out->policy), "td_attributes 0x%016llx (debug %s%s%s%s%s), xfam 0x%016llx",
           (unsigned long long)attr, out->debug ? "ON" : "off", (attr >> 28) & 1 ? ", SEPT_VE_DISABLE" : "",
           (attr >> 30) & 1 ? ", PKS" : "", (attr >> 31) & 1 ? ", KL" : "", (attr >> 63) & 1 ? ", PERFMON" : "",
           (unsigned long long)tdx_le64(tr + TDX_TR_XFAM));
  cdr_hex_encode(svn, tr + TDX_TR_TEE_TCB_SVN, 16);
  snprintf(out->tcb, sizeof(out->tcb), "tee_tcb_svn %s", svn);
}

/* SHA-256(a || b) into md. */
static int sha256_2(uint8_t md[32], const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int n = 0;
  int r = CDR_ERR_CRYPTO;
  if (ctx == NULL)
    return CDR_ERR_NOMEM;
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, a, alen) == 1 &&
      (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1) && EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32)
    r = 0;
  EVP_MD_CTX_free(ctx);
  return r;
}

/* One signed collateral item: coll[chain_key] must be a TCB Signing chain
 * to the pinned root valid at `at`, coll[sig_key] its raw signature over
 * the exact bytes of the string coll[body_key], which must then parse as
 * a JSON object (*parsed, the caller's). */
static int signed_item(const json_t *coll, const char *chain_key, const char *body_key, const char *sig_key,
                       const char *what, int64_t at, json_t **parsed, struct cdr_hw_report *out) {
  const json_t *chain_pem = json_object_get(coll, chain_key), *body = json_object_get(coll, body_key);
  STACK_OF(X509) *chain = NULL;
  uint8_t sig[TDX_SIG_LEN];
  char why[160], name[64];
  json_error_t jerr;
  int r;

  *parsed = NULL;
  if (!json_is_string(chain_pem) || !json_is_string(body) || tdx_json_hex(coll, sig_key, sig, sizeof(sig)) != 0) {
    cdr_hw_check(out, 0, "collateral", "%s, %s and %s (128 hex digits) must be strings", chain_key, body_key,
                 sig_key);
    r = CDR_ERR_ATTEST_MALFORMED;
    goto out;
  }
  snprintf(name, sizeof(name), "%s signing chain", what);
  if ((r = tdx_pem_chain(&chain, (const uint8_t *)json_string_value(chain_pem), json_string_length(chain_pem), why,
                         sizeof(why))) != 0 ||
      (r = tdx_chain_verify(chain, at, TCB_SIGNING_CN, NULL, NULL, why, sizeof(why))) != 0) {
    cdr_hw_check(out, 0, name, "%s", why);
    goto out;
  }
  cdr_hw_check(out, 1, name, "%s -> Intel SGX Root CA", TCB_SIGNING_CN);
  snprintf(name, sizeof(name), "%s signature", what);
  if ((r = tdx_ecdsa_verify(X509_get0_pubkey(sk_X509_value(chain, 0)), (const uint8_t *)json_string_value(body),
                            json_string_length(body), sig)) != 0) {
    cdr_hw_check(out, 0, name, "does not verify with the TCB Signing key");
    goto out;
  }
  cdr_hw_check(out, 1, name, "ECDSA P-256 by the TCB Signing key");
  *parsed = json_loadb(json_string_value(body), json_string_length(body), JSON_REJECT_DUPLICATES, &jerr);
  if (*parsed == NULL || !json_is_object(*parsed)) {
    cdr_hw_check(out, 0, what, "signed, but not a JSON object");
    json_decref(*parsed);
    *parsed = NULL;
    r = CDR_ERR_ATTEST_MALFORMED;
    goto out;
  }
  r = 0;
out:
  sk_X509_pop_free(chain, X509_free);
  return r;
}

/* (a & mask) == (b & mask) over n bytes. */
static int masked_eq(const uint8_t *a, const uint8_t *b, const uint8_t *mask, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((a[i] & mask[i]) != (b[i] & mask[i]))
      return 0;
  return 1;
}

/* Step 8: the QE of the quote is the one qe_identity describes; its
 * status goes to *status. */
static int check_qe_identity(const json_t *qe_id, const uint8_t *qe_report, const char **status,
                             struct cdr_hw_report *out) {
  uint8_t mrsigner[32], misc[4], misc_mask[4], attr[16], attr_mask[16], report_misc[4];
  const json_t *prodid = json_object_get(qe_id, "isvprodid");
  const char *id = json_string_value(json_object_get(qe_id, "id"));
  unsigned isvsvn = tdx_le16(qe_report + TDX_QE_ISVSVN);
  char why[160];
  int r;

  *status = NULL;
  if (id == NULL || strcmp(id, "TD_QE") != 0 || !json_is_integer(prodid) ||
      tdx_json_hex(qe_id, "mrsigner", mrsigner, sizeof(mrsigner)) != 0 ||
      tdx_json_hex(qe_id, "miscselect", misc, sizeof(misc)) != 0 ||
      tdx_json_hex(qe_id, "miscselectMask", misc_mask, sizeof(misc_mask)) != 0 ||
      tdx_json_hex(qe_id, "attributes", attr, sizeof(attr)) != 0 ||
      tdx_json_hex(qe_id, "attributesMask", attr_mask, sizeof(attr_mask)) != 0) {
    cdr_hw_check(out, 0, "QE identity", "qe_identity is not a TD_QE identity with the expected fields");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  /* miscselect is a u32: big-endian in the JSON hex, little-endian in the report. */
  for (size_t i = 0; i < 4; i++)
    report_misc[i] = qe_report[TDX_QE_MISCSELECT + 3 - i];
  if (memcmp(mrsigner, qe_report + TDX_QE_MRSIGNER, 32) != 0 ||
      json_integer_value(prodid) != (json_int_t)tdx_le16(qe_report + TDX_QE_ISVPRODID) ||
      !masked_eq(report_misc, misc, misc_mask, 4) || !masked_eq(qe_report + TDX_QE_ATTRIBUTES, attr, attr_mask, 16)) {
    cdr_hw_check(out, 0, "QE identity", "QE mrsigner, isvprodid, miscselect or attributes differ from Intel's TD QE");
    return CDR_ERR_ATTEST_MEASUREMENT;
  }
  if ((r = tdx_isvsvn_level(json_object_get(qe_id, "tcbLevels"), isvsvn, status, why, sizeof(why))) != 0) {
    cdr_hw_check(out, 0, "QE identity", "qe_identity: %s", why);
    return r;
  }
  if (*status == NULL) {
    cdr_hw_check(out, 0, "QE identity", "QE isvsvn %u is below every level of qe_identity", isvsvn);
    return CDR_ERR_ATTEST_TCB;
  }
  cdr_hw_check(out, 1, "QE identity", "Intel TD QE, isvprodid %u, isvsvn %u: %s",
               tdx_le16(qe_report + TDX_QE_ISVPRODID), isvsvn, *status);
  return 0;
}

/* Step 9: the TDX module.  tee_tcb_svn[1] is the module's major version:
 * 0 is described by tcb_info.tdxModule (no levels, so "UpToDate"), N > 0
 * by tcb_info.tdxModuleIdentities["TDX_0N"], whose levels rate
 * tee_tcb_svn[0]. */
static int check_tdx_module(const json_t *tcb_info, const uint8_t *td_report, const char **status,
                            struct cdr_hw_report *out) {
  const uint8_t *svn = td_report + TDX_TR_TEE_TCB_SVN;
  const json_t *ids = json_object_get(tcb_info, "tdxModuleIdentities"), *mod = NULL;
  uint8_t mrsigner[48], attr[8], mask[8];
  char want[16], why[160];
  int r;

  *status = NULL;
  snprintf(want, sizeof(want), "TDX_%02X", svn[1]);
  if (svn[1] != 0 && json_is_array(ids) && json_array_size(ids) > 0) {
    for (size_t i = 0; i < json_array_size(ids); i++) {
      const char *id = json_string_value(json_object_get(json_array_get(ids, i), "id"));
      if (id != NULL && strcasecmp(id, want) == 0) {
        mod = json_array_get(ids, i);
        break;
      }
    }
    if (mod == NULL) {
      cdr_hw_check(out, 0, "TDX module", "TCB info describes no module %s", want);
      return CDR_ERR_ATTEST_TCB;
    }
  } else {
    mod = json_object_get(tcb_info, "tdxModule");
  }
  if (tdx_json_hex(mod, "mrsigner", mrsigner, sizeof(mrsigner)) != 0 ||
      tdx_json_hex(mod, "attributes", attr, sizeof(attr)) != 0 ||
      tdx_json_hex(mod, "attributesMask", mask, sizeof(mask)) != 0) {
    cdr_hw_check(out, 0, "TDX module", "TCB info: module mrsigner/attributes/attributesMask do not parse");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  if (memcmp(mrsigner, td_report + TDX_TR_MRSIGNERSEAM, 48) != 0 ||
      !masked_eq(td_report + TDX_TR_SEAM_ATTRIBUTES, attr, mask, 8)) {
    cdr_hw_check(out, 0, "TDX module", "mrsignerseam or seam_attributes differ from the TCB info's module");
    return CDR_ERR_ATTEST_MEASUREMENT;
  }
  if (mod == json_object_get(tcb_info, "tdxModule")) {
    *status = "UpToDate";
    cdr_hw_check(out, 1, "TDX module", "version %u, signer as in the TCB info", svn[1]);
    return 0;
  }
  if ((r = tdx_isvsvn_level(json_object_get(mod, "tcbLevels"), svn[0], status, why, sizeof(why))) != 0) {
    cdr_hw_check(out, 0, "TDX module", "%s: %s", want, why);
    return r;
  }
  if (*status == NULL) {
    cdr_hw_check(out, 0, "TDX module", "%s svn %u is below every level of the TCB info", want, svn[0]);
    return CDR_ERR_ATTEST_TCB;
  }
  cdr_hw_check(out, 1, "TDX module", "%s, svn %u: %s", want, svn[0], *status);
  return 0;
}

/* Step 10.  Each status other than UpToDate must be accepted by name. */
static int check_statuses(const struct cdr_hw_policy *policy, const char *platform, const char *module,
                          const char *qe, struct cdr_hw_report *out) {
  const char *st[3] = {platform, module, qe}, *what[3] = {"platform", "TDX module", "QE"};
  const char *worst = "UpToDate";

  for (size_t i = 0; i < 3; i++)
    if (strcmp(st[i], "UpToDate") != 0 && strcmp(worst, "UpToDate") == 0)
      worst = st[i];
  snprintf(out->tcb_status, sizeof(out->tcb_status), "%s", worst);
  for (size_t i = 0; i < 3; i++) {
    if (strcmp(st[i], "UpToDate") == 0)
      continue;
    if (strcmp(st[i], "Revoked") == 0 || !tdx_status_accepted(policy->accept_tcb_statuses, st[i])) {
      cdr_hw_check(out, 0, "TCB status", "%s TCB is %s%s", what[i], st[i],
                   strcmp(st[i], "Revoked") == 0 ? " (never accepted)" : ", not accepted by the policy");
      return CDR_ERR_ATTEST_TCB;
    }
  }
  cdr_hw_check(out, 1, "TCB status", "platform %s, TDX module %s, QE %s%s", platform, module, qe,
               strcmp(worst, "UpToDate") == 0 ? "" : " (accepted by the policy)");
  return 0;
}

/* Steps 2-5: the PCK chain to the pinned root at time at, the QE report
 * under the PCK key, the QE's binding of the attestation key, and the
 * quote under that key.  *pck_chain (leaf first) is the caller's to free,
 * also on failure. */
static int verify_signatures(const struct tdx_quote *q, const uint8_t *quote, int64_t at,
                             STACK_OF(X509) **pck_chain, struct cdr_hw_report *out) {
  static const uint8_t zero[32];
  EVP_PKEY *att_key = NULL;
  uint8_t md[32];
  char why[160];
  int r;

  /* 2. PCK chain. */
  if ((r = tdx_pem_chain(pck_chain, q->pck_pem, q->pck_pem_len, why, sizeof(why))) != 0 ||
      (r = tdx_chain_verify(*pck_chain, at, PCK_CN, PCK_PLATFORM_CA_CN, PCK_PROCESSOR_CA_CN, why, sizeof(why))) !=
          0) {
    cdr_hw_check(out, 0, "PCK certificate chain", "%s", why);
    goto out;
  }
  cdr_hw_check(out, 1, "PCK certificate chain", "PCK -> PCK CA -> pinned Intel SGX Root CA");

  /* 3. QE report signed by the PCK key. */
  if ((r = tdx_ecdsa_verify(X509_get0_pubkey(sk_X509_value(*pck_chain, 0)), q->qe_report, TDX_QE_REPORT_LEN,
                            q->qe_report_sig)) != 0) {
    cdr_hw_check(out, 0, "QE report signature", "does not verify with the PCK key");
    goto out;
  }
  cdr_hw_check(out, 1, "QE report signature", "ECDSA P-256 by the PCK key");

  /* 4. The QE vouches for the attestation key. */
  if ((r = sha256_2(md, q->att_key, TDX_ATT_KEY_LEN, q->qe_auth, q->qe_auth_len)) != 0)
    goto out;
  if (memcmp(md, q->qe_report + TDX_QE_REPORT_DATA, 32) != 0 ||
      memcmp(zero, q->qe_report + TDX_QE_REPORT_DATA + 32, 32) != 0) {
    cdr_hw_check(out, 0, "attestation key binding", "QE report_data is not SHA-256(key || auth data) || 0");
    r = CDR_ERR_ATTEST_SIGNATURE;
    goto out;
  }
  cdr_hw_check(out, 1, "attestation key binding", "QE report_data = SHA-256(key || %zu-byte auth data)",
               q->qe_auth_len);

  /* 5. Quote signed by the attestation key. */
  if ((r = tdx_p256_key(&att_key, q->att_key)) != 0) {
    cdr_hw_check(out, 0, "quote signature", "the attestation key is not a P-256 point");
    goto out;
  }
  if ((r = tdx_ecdsa_verify(att_key, quote, TDX_SIGNED_LEN, q->quote_sig)) != 0) {
    cdr_hw_check(out, 0, "quote signature", "header and TD report do not verify with the attestation key");
    goto out;
  }
  cdr_hw_check(out, 1, "quote signature", "ECDSA P-256 over header and TD report");
out:
  EVP_PKEY_free(att_key);
  return r;
}

/* Step 6: the collateral parses, its TCB info and QE identity are signed
 * under the pinned root and current at policy->at.  *coll, *tcb_info and
 * *qe_id are the caller's to free, also on failure. */
static int load_collateral(const struct cdr_hw_policy *policy, json_t **coll, json_t **tcb_info, json_t **qe_id,
                           struct cdr_hw_report *out) {
  json_error_t jerr;
  char why[160];
  int r;

  if (policy->collateral == NULL || policy->collateral_len == 0) {
    cdr_hw_check(out, 0, "collateral", "none given (TCB info and QE identity are required)");
    return CDR_ERR_ARG;
  }
  if (policy->collateral_len > TDX_MAX_COLLATERAL ||
      (*coll = json_loadb((const char *)policy->collateral, policy->collateral_len, JSON_REJECT_DUPLICATES,
                          &jerr)) == NULL ||
      !json_is_object(*coll)) {
    cdr_hw_check(out, 0, "collateral", "not a JSON object of at most %u bytes", TDX_MAX_COLLATERAL);
    return CDR_ERR_ATTEST_MALFORMED;
  }
  if ((r = signed_item(*coll, "tcb_info_issuer_chain", "tcb_info", "tcb_info_signature", "TCB info", policy->at,
                       tcb_info, out)) != 0 ||
      (r = signed_item(*coll, "qe_identity_issuer_chain", "qe_identity", "qe_identity_signature", "QE identity",
                       policy->at, qe_id, out)) != 0)
    return r;
  if ((r = tdx_json_window(*tcb_info, policy->at, "TCB info", why, sizeof(why))) != 0 ||
      (r = tdx_json_window(*qe_id, policy->at, "QE identity", why, sizeof(why))) != 0) {
    cdr_hw_check(out, 0, "collateral validity", "%s", why);
    return r;
  }
  cdr_hw_check(out, 1, "collateral validity", "TCB info and QE identity current at the verification time");
  return 0;
}

/* Step 7: the TCB info is a version 3, tcbType 0 TDX TCB info for the
 * PCK certificate's FMSPC and PCE-ID; *ext is that certificate's SGX
 * extension, whose TCB is appended to out->tcb. */
static int check_platform(const json_t *tcb_info, X509 *pck, const struct tdx_quote *q, struct tdx_pck_ext *ext,
                          struct cdr_hw_report *out) {
  const char *id = json_string_value(json_object_get(tcb_info, "id"));
  uint8_t fmspc[6], pceid[2];
  char why[160], hex[33];
  size_t n;
  int r;

  if (id == NULL || strcmp(id, "TDX") != 0 || !json_is_integer(json_object_get(tcb_info, "version")) ||
      json_integer_value(json_object_get(tcb_info, "version")) != 3 ||
      !json_is_integer(json_object_get(tcb_info, "tcbType")) ||
      json_integer_value(json_object_get(tcb_info, "tcbType")) != 0 || /* per-component comparison */
      tdx_json_hex(tcb_info, "fmspc", fmspc, sizeof(fmspc)) != 0 ||
      tdx_json_hex(tcb_info, "pceId", pceid, sizeof(pceid)) != 0) {
    cdr_hw_check(out, 0, "TCB info", "not a version 3, tcbType 0 TDX TCB info with fmspc and pceId");
    return CDR_ERR_ATTEST_MALFORMED;
  }
  if ((r = tdx_pck_ext_parse(pck, ext, why, sizeof(why))) != 0) {
    cdr_hw_check(out, 0, "PCK SGX extension", "%s", why);
    return r;
  }
  cdr_hex_encode(hex, ext->fmspc, sizeof(ext->fmspc));
  if (memcmp(fmspc, ext->fmspc, 6) != 0 || memcmp(pceid, ext->pceid, 2) != 0) {
    cdr_hw_check(out, 0, "platform", "PCK FMSPC %s / PCE-ID differ from the TCB info's", hex);
    return CDR_ERR_ATTEST_TCB;
  }
  cdr_hw_check(out, 1, "platform", "FMSPC %s, as in the TCB info", hex);
  n = strlen(out->tcb);
  snprintf(out->tcb + n, sizeof(out->tcb) - n,
           "; sgx %u.%u.%u.%u.%u.%u.%u.%u.%u.%u.%u.%u.%u.%u.%u.%u pcesvn %u; qe isvsvn %u", ext->comp[0],
           ext->comp[1], ext->comp[2], ext->comp[3], ext->comp[4], ext->comp[5], ext->comp[6], ext->comp[7],
           ext->comp[8], ext->comp[9], ext->comp[10], ext->comp[11], ext->comp[12], ext->comp[13], ext->comp[14],
           ext->comp[15], ext->pcesvn, tdx_le16(q->qe_report + TDX_QE_ISVSVN));
  return 0;
}

/* Steps 11-13: the TD itself (debug, MRTD, report_data), from out. */
static int check_td(const struct cdr_hw_policy *policy, struct cdr_hw_report *out) {
  if (out->debug && !policy->allow_debug) {
    cdr_hw_check(out, 0, "debug", "the TD is debuggable (td_attributes bit 0) and the policy refuses it");
    return CDR_ERR_ATTEST_DEBUG;
  }
  cdr_hw_check(out, 1, "debug", out->debug ? "debuggable TD, allowed by the policy" : "TD is not debuggable");
  if (policy->expect_measurement != NULL) {
    if (memcmp(policy->expect_measurement, out->measurement, 48) != 0) {
      cdr_hw_check(out, 0, "MRTD", "differs from the expected measurement");
      return CDR_ERR_ATTEST_MEASUREMENT;
    }
    cdr_hw_check(out, 1, "MRTD", "equals the expected measurement");
  }
  if (policy->expect_report_data != NULL) {
    if (memcmp(policy->expect_report_data, out->report_data, 64) != 0) {
      cdr_hw_check(out, 0, "report_data", "differs from the expected report_data");
      return CDR_ERR_ATTEST_REPORT_DATA;
    }
    cdr_hw_check(out, 1, "report_data", "equals the expected report_data");
  }
  return 0;
}

int cdr_verify_tdx(const uint8_t *quote, size_t len, const struct cdr_hw_policy *policy,
                   struct cdr_hw_report *out) {
  struct tdx_quote q;
  struct tdx_pck_ext ext;
  STACK_OF(X509) *pck_chain = NULL;
  json_t *coll = NULL, *tcb_info = NULL, *qe_id = NULL;
  const char *platform_status, *module_status, *qe_status;
  char why[160];
  int r;

  if (out == NULL)
    return CDR_ERR_ARG;
  memset(out, 0, sizeof(*out));
  out->platform = CDR_HW_TDX;
  if (policy == NULL || (policy->expect_measurement != NULL && policy->expect_measurement_len != 48)) {
    cdr_hw_check(out, 0, "policy", "an expected MRTD must be 48 bytes");
    return CDR_ERR_ARG;
  }
  if (policy->expect_regs != NULL && policy->expect_regs->n > 0) {
    cdr_hw_check(out, 0, "policy", "RTMR expectations are checked by cdr_verify_hw, not here");
    return CDR_ERR_ARG;
  }

  /* 1. Structure. */
  if ((r = tdx_quote_parse(&q, quote, len, why, sizeof(why))) != 0) {
    cdr_hw_check(out, 0, "quote structure", "%s", why);
    goto out;
  }
  cdr_hw_check(out, 1, "quote structure", "TDX quote v4, ECDSA P-256, %zu bytes + %zu zero padding", q.quote_len,
               len - q.quote_len);
  report_fill(out, &q);

  /* 2-7. Signatures, collateral, platform. */
  if ((r = verify_signatures(&q, quote, policy->at, &pck_chain, out)) != 0 ||
      (r = load_collateral(policy, &coll, &tcb_info, &qe_id, out)) != 0 ||
      (r = check_platform(tcb_info, sk_X509_value(pck_chain, 0), &q, &ext, out)) != 0)
    goto out;

  /* 8-10. QE, TDX module, platform TCB level, acceptance. */
  if ((r = check_qe_identity(qe_id, q.qe_report, &qe_status, out)) != 0 ||
      (r = check_tdx_module(tcb_info, q.td_report, &module_status, out)) != 0)
    goto out;
  if ((r = tdx_tcb_level(tcb_info, &ext, q.td_report + TDX_TR_TEE_TCB_SVN, &platform_status, why, sizeof(why))) !=
      0) {
    cdr_hw_check(out, 0, "TCB status", "%s", why);
    goto out;
  }
  if ((r = check_statuses(policy, platform_status, module_status, qe_status, out)) != 0)
    goto out;

  /* 11-13. The TD itself. */
  r = check_td(policy, out);
out:
  json_decref(qe_id);
  json_decref(tcb_info);
  json_decref(coll);
  sk_X509_pop_free(pck_chain, X509_free);
  return r;
}
