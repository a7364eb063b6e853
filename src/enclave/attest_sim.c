/*
 * attest_sim.c - the `sim` attestation provider: a software stand-in for
 * a hardware root of trust, for development and CI.
 *
 * The "platform key" is an EC P-256 key made by `cdr room init` and kept
 * in ROOM/attestation/sim-platform.key, with a certificate issued by the
 * room CA.  Evidence (docs/PROTOCOL.md 4.5) is
 *   magic(8) || measurement(32) || report_data(64) || u64be(time)
 *   || u32be(n) || ECDSA-P256-SHA256 signature(n) over bytes [0,112).
 * measurement is SHA-256 of this process's executable (/proc/self/exe),
 * computed once at init.
 *
 * Sealing: the platform sealing key is HKDF-SHA256 of the 32-byte secret
 * in ROOM/attestation/sim-sealing.secret (made by `cdr room init`, mode
 * 0600), read once at init and kept in the secure heap, salted with the
 * measurement: each build has its own key (sim_sealing_key).
 *
 * What it proves: that whoever holds the platform key vouches for the
 * identity key.  The host operator can read that file, so sim evidence
 * proves nothing against the operator; clients accept it only when told
 * to (--allow-sim) and say so.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/x509.h"

#define SIM_SEAL_SECRET_LEN 32

struct sim_state {
  EVP_PKEY *platform_key;
  uint8_t *seal_secret; /* SIM_SEAL_SECRET_LEN bytes, secure heap */
  uint8_t *cert_der;
  size_t cert_len;
  uint8_t measurement[CDR_MEASUREMENT_LEN];
};

/* SHA-256 of the running executable, streamed in blocks. */
static int sim_measure_self(uint8_t out[CDR_MEASUREMENT_LEN]) {
  FILE *f = fopen("/proc/self/exe", "rbe");
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  uint8_t block[65536];
  unsigned int len = 0;
  int r = CDR_ERR_IO;
  if (f == NULL || md == NULL || EVP_DigestInit_ex2(md, EVP_sha256(), NULL) != 1)
    goto out;
  size_t n;
  while ((n = fread(block, 1, sizeof(block), f)) > 0)
    if (EVP_DigestUpdate(md, block, n) != 1)
      goto out;
  if (ferror(f) || EVP_DigestFinal_ex(md, out, &len) != 1 || len != CDR_MEASUREMENT_LEN)
    goto out;
  r = 0;
out:
  if (f)
    fclose(f);
  EVP_MD_CTX_free(md);
  return r;
}

static int sim_init(struct attest_provider *p, const char *room_dir) {
  struct sim_state *s = calloc(1, sizeof(*s));
  char *kpath = NULL, *cpath = NULL;
  X509 *cert = NULL;
  int r = CDR_ERR_NOMEM;
  if (s == NULL)
    goto out;
  kpath = cdr_path_join(room_dir, "attestation/sim-platform.key");
  cpath = cdr_path_join(room_dir, "attestation/sim-platform.crt");
  if (kpath == NULL || cpath == NULL)
    goto out;
  if ((r = cdr_key_load_pem(kpath, &s->platform_key)) != 0) {
    log_error("sim attestation: cannot load the platform key (%s)", cdr_err_code(r));
    goto out;
  }
  if ((r = cdr_cert_load_pem(cpath, &cert)) != 0 || (r = cdr_cert_to_der(cert, &s->cert_der, &s->cert_len)) != 0) {
    log_error("sim attestation: cannot load the platform certificate (%s)", cdr_err_code(r));
    goto out;
  }
  {
    uint8_t *sec = NULL;
    size_t seclen = 0;
    char *spath = cdr_path_join(room_dir, "attestation/sim-sealing.secret");
    r = spath ? cdr_file_read(spath, &sec, &seclen, 64) : CDR_ERR_NOMEM;
    free(spath);
    if (r == 0 && seclen != SIM_SEAL_SECRET_LEN)
      r = CDR_ERR_TRUNCATED;
    if (r == 0 && (s->seal_secret = OPENSSL_secure_malloc(SIM_SEAL_SECRET_LEN)) == NULL)
      r = CDR_ERR_NOMEM;
    if (r == 0)
      memcpy(s->seal_secret, sec, SIM_SEAL_SECRET_LEN);
    if (sec != NULL)
      OPENSSL_clear_free(sec, seclen + 1);
    if (r != 0) {
      log_error("sim attestation: cannot read the sealing secret (%s)", cdr_err_code(r));
      goto out;
    }
  }
  if ((r = sim_measure_self(s->measurement)) != 0) {
    log_error("sim attestation: cannot measure the enclave executable");
    goto out;
  }
  p->state = s;
  s = NULL;
  r = 0;
out:
  if (s) {
    EVP_PKEY_free(s->platform_key);
    OPENSSL_free(s->cert_der);
    if (s->seal_secret)
      OPENSSL_secure_clear_free(s->seal_secret, SIM_SEAL_SECRET_LEN);
    free(s);
  }
  X509_free(cert);
  free(kpath);
  free(cpath);
  return r;
}

static int sim_evidence(struct attest_provider *p, const uint8_t report_data[CDR_REPORT_DATA_LEN],
                        struct cdr_buf *evidence, struct cdr_buf certs[ATTEST_MAX_CERTS], size_t *ncerts) {
  struct sim_state *s = p->state;
  struct cdr_buf sig;
  size_t start = evidence->len;
  int r;
  cdr_buf_init(&sig, SIM_EVIDENCE_MAX_SIG, 0);
  if ((r = cdr_buf_put(evidence, SIM_EVIDENCE_MAGIC, 8)) != 0 ||
      (r = cdr_buf_put(evidence, s->measurement, CDR_MEASUREMENT_LEN)) != 0 ||
      (r = cdr_buf_put(evidence, report_data, CDR_REPORT_DATA_LEN)) != 0 ||
      (r = cdr_buf_put_u64(evidence, (uint64_t)cdr_now())) != 0)
    goto out;
  if ((r = cdr_sign(&sig, s->platform_key, evidence->d + start, SIM_EVIDENCE_SIGNED_LEN)) != 0)
    goto out;
  if ((r = cdr_buf_put_lp(evidence, sig.d, sig.len)) != 0)
    goto out;
  cdr_buf_init(&certs[0], CDR_MAX_CERT_DER, 0);
  *ncerts = 1; /* before the put: the caller frees certs[0] on any path */
  r = cdr_buf_put(&certs[0], s->cert_der, s->cert_len);
out:
  cdr_buf_free(&sig);
  return r;
}

static int sim_measurement(struct attest_provider *p, uint8_t out[CDR_MEASUREMENT_MAX], size_t *len) {
  struct sim_state *s = p->state;
  memcpy(out, s->measurement, CDR_MEASUREMENT_LEN);
  *len = CDR_MEASUREMENT_LEN;
  return 0;
}

/* Bound to the measurement, as SEV-SNP's derived key is: the
 * measurement is the HKDF salt, so another build of cdr-enclave derives
 * another key from the same secret and cannot unwrap the room's sealing
 * root (seal_root.h).  (Before this binding, "CDR-v1 sim sealing key"
 * without a salt: any build derived the same key.) */
static int sim_sealing_key(struct attest_provider *p, uint8_t out[32]) {
  struct sim_state *s = p->state;
  static const char info[] = "CDR-v2 sim sealing key";
  return cdr_hkdf_sha256(out, 32, s->seal_secret, SIM_SEAL_SECRET_LEN, s->measurement, CDR_MEASUREMENT_LEN, info,
                         sizeof(info) - 1);
}

static void sim_fini(struct attest_provider *p) {
  struct sim_state *s = p->state;
  if (s == NULL)
    return;
  EVP_PKEY_free(s->platform_key);
  if (s->seal_secret)
    OPENSSL_secure_clear_free(s->seal_secret, SIM_SEAL_SECRET_LEN);
  OPENSSL_free(s->cert_der);
  free(s);
  p->state = NULL;
}

struct attest_provider attest_sim_provider = {
    .name = "sim",
    .init = sim_init,
    .evidence = sim_evidence,
    .measurement = sim_measurement,
    .sealing_key = sim_sealing_key,
    .fini = sim_fini};
