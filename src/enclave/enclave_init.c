/*
 * enclave_init.c - IPC_INIT and IPC_ATTEST.
 *
 * INIT gives the enclave the room id and the room CA certificate (both
 * public).  The host could lie about either; the enclave binds both into
 * every attestation report_data, so a client that knows its room's CA
 * fingerprint detects a substituted CA.  INIT also loads the identity
 * key, which the host keeps only as a sealed blob (seal.h) and which
 * lives in this process's secure heap; on the first start it makes one.
 * On a platform without a sealing key (tdx, nitro: util.h,
 * cdr_platform_keeps_state) every start is a first start.
 *
 * The sealed identity names the room CA (below, and docs/ARCHITECTURE.md
 * "Sealing"): an INIT offering another CA is answered IPC_ERROR
 * ca_mismatch with both fingerprints, before the key is parsed, and the
 * enclave accepts no second INIT.  There is no override: a new CA is for
 * a contract version the members sign (not built).
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

/* The attestation providers' certificates all fit one IPC_ATTEST_OK. */
_Static_assert(ATTEST_MAX_CERTS <= IPC_ATTEST_MAX_CERTS, "IPC_ATTEST_OK carries every certificate");

/* The sealed identity blob (seal.h: kind identity, name "identity"),
 * by its seal version:
 *   1  pt = the identity key's DER            (rooms made before the CA binding)
 *   2  pt = lp(room CA fingerprint, 32 bytes) || lp(the identity key's DER)
 * Why the identity and not only the manifest: the identity is sealed at
 * the first start, before anything else exists, and is what INIT opens,
 * so a start with another CA is refused before a table is even named;
 * and the identity key is what attestation binds with the CA fingerprint,
 * so one identity never serves two CAs.  The manifest records the CA too
 * (persist.c), because the host could withhold the identity to have a
 * new one made under its CA. */
#define IDENTITY_V1 1
#define IDENTITY_V2 2

/* Seal e->identity_key with e->ca_fp as a version-2 blob into out. */
static int identity_seal(struct enclave *e, struct cdr_buf *out) {
  unsigned char *raw = NULL;
  struct cdr_buf pt;
  int n, r;
  if ((n = i2d_PrivateKey(e->identity_key, &raw)) <= 0)
    return CDR_ERR_CRYPTO;
  cdr_buf_init(&pt, (size_t)n + 64, 1);
  if ((r = cdr_buf_put_lp(&pt, e->ca_fp, sizeof(e->ca_fp))) == 0 && (r = cdr_buf_put_lp(&pt, raw, (size_t)n)) == 0)
    r = seal_blob(e->sealer, SEAL_IDENTITY, "identity", IDENTITY_V2, pt.d, pt.len, out);
  OPENSSL_clear_free(raw, (size_t)n);
  cdr_buf_free(&pt);
  return r;
}

/* 453 bytes: within the callers' 512 and CDR_MAX_ERROR_MSG, so both
 * fingerprints always reach the host whole. */
void enclave_ca_mismatch_message(char *msg, size_t msglen, const uint8_t sealed[32], const uint8_t offered[32]) {
  char a[96], b[96];
  cdr_fingerprint_format(a, sealed);
  cdr_fingerprint_format(b, offered);
  snprintf(msg, msglen,
           "refusing to start: the sealed state is bound to room CA %s, the host offered CA %s (SHA-256; nothing "
           "was loaded, changed or deleted): put back the room's own CA certificate (ROOM/ca.crt) and token; a new "
           "CA is accepted only through a contract version the members sign",
           a, b);
}

/* The identity key: unsealed from the host's copy, or made and sealed
 * on the first start (the new blob goes back to the host to store).  A
 * blob that fails authentication is refused, not replaced: a silent new
 * identity would hide tampering.  A version-2 blob must name the CA
 * offered now, else CDR_ERR_CA_MISMATCH with the reason in msg (checked
 * before the key is even parsed); a version-1 blob adopts the offered CA
 * (trust on first use) and is re-sealed as version 2 into new_blob. */
static int identity_load_or_make(struct enclave *e, const uint8_t *blob, size_t blob_len, struct cdr_buf *new_blob,
                                 char *msg, size_t msglen) {
  struct cdr_buf der, in;
  const uint8_t *fp = NULL, *key = NULL;
  size_t fp_len = 0, key_len = 0;
  uint64_t version = 0;
  char fps[96];
  int r;
  cdr_buf_init(&der, 4096, 1);
  if (blob_len == 0) {
    if ((r = cdr_ec_p256_generate(&e->identity_key)) == 0 && (r = identity_seal(e, new_blob)) == 0) {
      e->identity_made = 1;
      e->ca_binding = "new";
      log_info("made a new identity key, bound to this room CA");
    }
    goto out;
  }
  if ((r = unseal_blob(e->sealer, SEAL_IDENTITY, "identity", blob, blob_len, &version, &der)) != 0) {
    log_error("the sealed identity key fails authentication (%s): tampered, or from another room or platform; "
              "refusing to start (move ROOM/state/identity.sealed aside to start with a new identity)",
              cdr_err_code(r));
    goto out;
  }
  cdr_buf_view(&in, der.d, der.len);
  if (version == IDENTITY_V1) {
    key = der.d;
    key_len = der.len;
  } else if (version != IDENTITY_V2 || cdr_buf_get_lp(&in, &fp, &fp_len, 32) != 0 || fp_len != 32 ||
             cdr_buf_get_lp(&in, &key, &key_len, der.len) != 0 || cdr_buf_expect_end(&in) != 0) {
    log_error("the sealed identity (version %llu) does not decode; refusing to start", (unsigned long long)version);
    r = version != IDENTITY_V2 ? CDR_ERR_UNSUPPORTED_VERSION : CDR_ERR_TRUNCATED;
    goto out;
  } else if (CRYPTO_memcmp(fp, e->ca_fp, 32) != 0) {
    enclave_ca_mismatch_message(msg, msglen, fp, e->ca_fp);
    r = CDR_ERR_CA_MISMATCH;
    goto out;
  }
  const unsigned char *p = key;
  e->identity_key = d2i_AutoPrivateKey(NULL, &p, (long)key_len);
  if (e->identity_key == NULL || p != key + key_len) {
    r = CDR_ERR_TRUNCATED;
    goto out;
  }
  e->ca_binding = "sealed";
  if (version == IDENTITY_V1) {
    /* A room from before the binding: it has never named its CA, so the
     * one offered at this start becomes its CA, once and for good. */
    if ((r = identity_seal(e, new_blob)) != 0)
      goto out;
    e->ca_binding = "trust_on_first_use";
    cdr_fingerprint_format(fps, e->ca_fp);
    log_warn("the sealed identity predates the CA binding: binding the room CA offered at this start, %s "
             "(trust on first use); from now on this room refuses any other CA",
             fps);
  }
out:
  cdr_buf_free(&der);
  return r;
}

int enclave_init_platform(struct enclave *e, const struct ipc_init *m) {
  const char *provider = e->attest_name != NULL ? e->attest_name : "sim";
  uint8_t measurement[CDR_MEASUREMENT_MAX];
  size_t measurement_len = 0;
  int r;
  if (e->ca_cert != NULL)
    return CDR_ERR_ARG; /* a second INIT after a refused one: the host must start a new enclave */
  memcpy(e->room_id, m->room_id, CDR_ROOM_ID_BYTES);
  if ((r = cdr_cert_from_der(&e->ca_cert, m->ca_der, m->ca_len)) != 0)
    return r;
  EVP_PKEY *ca_key = X509_get0_pubkey(e->ca_cert);
  if (X509_check_ca(e->ca_cert) == 0 || ca_key == NULL || X509_verify(e->ca_cert, ca_key) != 1) {
    log_error("the room CA certificate is not a self-signed CA certificate");
    return CDR_ERR_CERT_INVALID;
  }
  if ((r = cdr_cert_fingerprint(e->ca_cert, e->ca_fp)) != 0)
    return r;
  /* The provider: chosen on our own command line, never by the host. */
  if (strcmp(provider, "auto") == 0 && (r = attest_detect(&e->attest_opts, &provider)) != 0)
    return r;
  if ((e->attest = attest_provider_find(provider)) == NULL)
    return CDR_ERR_INTERNAL;
  e->attest->opts = &e->attest_opts;
  if ((r = e->attest->init(e->attest, e->room_dir)) != 0) {
    e->attest = NULL; /* nothing to fini */
    return r;
  }
  if ((r = e->attest->measurement(e->attest, measurement, &measurement_len)) != 0)
    return r;
  if (measurement_len == 0 || measurement_len > sizeof(measurement))
    return CDR_ERR_INTERNAL;
  memcpy(e->measurement, measurement, measurement_len);
  e->measurement_len = measurement_len;
  if ((e->sealer = OPENSSL_secure_zalloc(sizeof(*e->sealer))) == NULL)
    return CDR_ERR_NOMEM;
  memcpy(e->sealer->room_id, e->room_id, CDR_ROOM_ID_BYTES);
  if (cdr_platform_keeps_state(e->attest->name) != (e->attest->sealing_key != NULL))
    return CDR_ERR_INTERNAL; /* a provider that disagrees with the rule */
  if (e->attest->sealing_key != NULL)
    return e->attest->sealing_key(e->attest, e->sealer->platform_key);
  /* No platform sealing key (util.h): a random one that dies with this
   * process. */
  return cdr_random(e->sealer->platform_key, sizeof(e->sealer->platform_key));
}

int enclave_handle_init(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct ipc_init m;
  struct ipc_init_ok ok;
  struct cdr_buf new_id, stored;
  char fp[96], msg[512] = "";
  int r;
  if ((r = ipc_get_init(in, &m)) != 0 || (r = enclave_init_platform(e, &m)) != 0)
    return r;
  const uint8_t *idblob = NULL;
  size_t idblob_len = 0;
  int rewrap = 0;
  cdr_buf_init(&new_id, IPC_SEALED_IDENTITY_MAX, 0);
  cdr_buf_init(&stored, IPC_SEALED_IDENTITY_MAX, 0);
  if (e->attest->sealing_key == NULL) {
    /* What was sealed by an earlier run can never be opened again (its
     * key died with it), so its identity blob is not even tried. */
    if (m.sealed_identity_len > 0)
      log_info("ignoring the sealed identity of an earlier run: %s keeps no state across restarts", e->attest->name);
    m.sealed_identity_len = 0;
    log_info("%s offers no sealing key: this enclave's identity, tables and audit log last only as long as it runs",
             e->attest->name);
  }
  r = enclave_root_open(e, m.sealed_identity, m.sealed_identity_len, &idblob, &idblob_len, &rewrap, msg, sizeof(msg));
  if (r == CDR_ERR_SEALED_ELSEWHERE) {
    log_error("%s", msg); /* a refusal the host hears (and logs), as ca_mismatch below */
    r = enclave_reply_error(out, rt, CDR_ERR_SEALED_ELSEWHERE, msg);
    goto out;
  }
  if (r != 0 || (r = sealer_derive(e->sealer)) != 0)
    goto out;
  r = identity_load_or_make(e, idblob, idblob_len, &new_id, msg, sizeof(msg));
  if (r == CDR_ERR_CA_MISMATCH) {
    /* A refusal, not a protocol violation: the host hears why (and logs
     * it), and this enclave stays in INIT, where only a new INIT is legal
     * and is refused as a second one (above). */
    log_error("%s", msg);
    r = enclave_reply_error(out, rt, CDR_ERR_CA_MISMATCH, msg);
    goto out;
  }
  /* What the host stores: the root wrapped for this measurement, then
   * the identity (new or re-sealed, else the one it sent). */
  if (r == 0 && (new_id.len > 0 || rewrap))
    r = new_id.len > 0 ? enclave_root_wrap(e, new_id.d, new_id.len, &stored)
                       : enclave_root_wrap(e, idblob, idblob_len, &stored);
  if (r != 0 || (r = cdr_pubkey_to_der(e->identity_key, &e->identity_spki, &e->identity_spki_len)) != 0 ||
      (r = engine_open(&e->engine)) != 0 ||
      (r = engine_lanes_open(e->engine, e->nworkers > 0 ? e->nworkers : 1)) != 0)
    goto out;
  cdr_room_limits_default(&e->limits); /* until the manifest or the admin says otherwise */
  cdr_fingerprint_format(fp, e->ca_fp);
  log_info("initialised: attestation %s, room CA %s", e->attest->name, fp);
  *rt = IPC_INIT_OK;
  memset(&ok, 0, sizeof(ok));
  ok.identity_spki = e->identity_spki;
  ok.identity_spki_len = e->identity_spki_len;
  ok.measurement = e->measurement;
  ok.measurement_len = e->measurement_len;
  snprintf(ok.platform, sizeof(ok.platform), "%s", e->attest->name);
  ok.new_sealed_identity = stored.d;
  ok.new_sealed_identity_len = stored.len;
  if ((r = ipc_put_init_ok(out, &ok)) != 0)
    goto out;
  e->state = ENCLAVE_STATE_INITIALISED;
out:
  cdr_buf_free(&new_id);
  cdr_buf_free(&stored);
  return r;
}

int enclave_handle_attest(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  uint8_t nonce[CDR_NONCE_LEN], report_data[CDR_REPORT_DATA_LEN];
  struct cdr_buf evidence, certs[ATTEST_MAX_CERTS];
  struct ipc_attest_ok ok;
  size_t ncerts = 0;
  const struct contract_version *cur = contract_state_current(&e->contract);
  uint8_t contract_sha256[32] = {0}; /* before version 1 is active (PROTOCOL 4.5) */
  int r;
  if ((r = ipc_get_attest(in, nonce)) != 0)
    return r;
  if (cur != NULL)
    memcpy(contract_sha256, cur->hash, sizeof(contract_sha256));
  cdr_buf_init(&evidence, IPC_EVIDENCE_MAX, 0);
  if ((r = cdr_report_data(report_data, e->identity_spki, e->identity_spki_len, e->room_id, e->ca_fp,
                           contract_sha256, nonce)) != 0 ||
      (r = e->attest->evidence(e->attest, report_data, &evidence, certs, &ncerts)) != 0) {
    log_error("attestation evidence failed: %s", cdr_err_code(r));
    r = enclave_reply_error(out, rt, r, "the attestation provider could not produce evidence");
    goto out;
  }
  *rt = IPC_ATTEST_OK;
  memset(&ok, 0, sizeof(ok));
  snprintf(ok.platform, sizeof(ok.platform), "%s", e->attest->name);
  ok.contract_version = cur != NULL ? cur->c.version : 0;
  memcpy(ok.contract_sha256, contract_sha256, sizeof(ok.contract_sha256));
  ok.evidence = evidence.d;
  ok.evidence_len = evidence.len;
  ok.ncerts = (uint32_t)ncerts;
  for (size_t i = 0; i < ncerts; i++) {
    ok.certs[i] = certs[i].d;
    ok.cert_lens[i] = certs[i].len;
  }
  r = ipc_put_attest_ok(out, &ok);
out:
  for (size_t i = 0; i < ncerts; i++)
    cdr_buf_free(&certs[i]);
  cdr_buf_free(&evidence);
  return r;
}
