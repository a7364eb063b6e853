/*
 * upgrade.c - the upgrade handoff (MarbleRun's model; docs/ATTESTATION.md
 * "Sealing and upgrades", ipc.h for the messages).
 *
 * The room's sealed objects derive from its sealing root, which only an
 * enclave of the measurement it is wrapped for can unwrap (seal_root.h).
 * A new build N takes a room over from the running enclave O:
 *
 *   N  IPC_UPGRADE_HELLO: sets up its platform as INIT does, makes an
 *      ephemeral P-256 key X, and answers its attestation evidence with
 *      report_data = upgrade_report_data(X, room id, CA fingerprint).
 *   O  IPC_UPGRADE_OFFER (N's answer): verifies that evidence (its
 *      signature and chain, report_data binding X, the measurement it
 *      reports), then that the ACTIVE contract version accepts N's
 *      platform and measurement; only then seals the root to X, after
 *      its audit entry "enclave_upgrade" is durable.  Any failure is
 *      upgrade_refused naming why, and an audit entry with that reason:
 *      N gets nothing.
 *   N  IPC_UPGRADE_ACCEPT (O's answer): opens the root with X, proves it
 *      is the room's by unsealing the room's identity with it (which must
 *      name the CA it was given), and wraps it for its own measurement in
 *      front of that identity: the blob the host stores.  Nothing else is
 *      re-sealed; X is wiped.
 *
 * Evidence is verified inside O for `sim` only (the platform certificate
 * the room CA issued, as the client checks it): verifying SEV-SNP
 * evidence needs the AMD chain and policy code of src/attest/, which the
 * enclave does not link (not built); such a handoff is refused, named.
 *
 * N, for its part, does not yet verify O at all: UPGRADE_KEYS is anonymous
 * ECIES to X (public in HELLO_OK), and the identity that "proves" the root
 * is the blob the host gave HELLO, so a host could hand N a root and
 * identity of its own making.  Until N checks O's hardware evidence
 * binding (X, N's measurement, the ciphertext's hash, room id, CA
 * fingerprint) against the contract's accepted measurements, N refuses
 * HELLO and ACCEPT on every platform O refuses (all but sim, where the
 * host can forge any evidence anyway: there the handoff proves nothing
 * against the host).  upgrade_platform_refusal is that one rule.
 */
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest.h"
#include "audit.h"
#include "common/log.h"
#include "common/util.h"
#include "contract_state.h"
#include "crypto/x509.h"
#include "enclave.h"
#include "enclave_reply.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "seal_root.h"

#define UPGRADE_RD_LABEL "CDR-v1 upgrade report-data"
#define UPGRADE_AAD_LABEL "CDR-v1 upgrade root"
#define SIM_PLATFORM_CN "CDR simulated attestation platform"
#define WHY_LEN 320

struct enclave_upgrade {
  EVP_PKEY *eph;  /* X, private part in the secure heap */
  uint8_t *blob;  /* the room's sealed identity blob, as HELLO gave it */
  size_t blob_len;
  int done;
};

void enclave_upgrade_free(struct enclave *e) {
  struct enclave_upgrade *u = e->upgrade;
  if (u == NULL)
    return;
  EVP_PKEY_free(u->eph);
  free(u->blob);
  free(u);
  e->upgrade = NULL;
}

/* SHA-512(lp(label) || lp(X's SPKI) || lp(room id) || lp(CA fingerprint)):
 * what N's evidence binds, so the root goes to the key the attested
 * enclave made, in this room, under this CA. */
static int upgrade_report_data(uint8_t out[CDR_REPORT_DATA_LEN], const uint8_t *spki, size_t spki_len,
                               const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t ca_fp[32]) {
  struct cdr_buf b;
  int r;
  cdr_buf_init(&b, 4096, 0);
  if ((r = cdr_buf_put_lpstr(&b, UPGRADE_RD_LABEL)) == 0 && (r = cdr_buf_put_lp(&b, spki, spki_len)) == 0 &&
      (r = cdr_buf_put_lp(&b, room_id, CDR_ROOM_ID_BYTES)) == 0 && (r = cdr_buf_put_lp(&b, ca_fp, 32)) == 0)
    r = cdr_sha512(out, b.d, b.len);
  cdr_buf_free(&b);
  return r;
}

/* The AAD of the sealed root: the room and the measurement it goes to. */
static int upgrade_aad(struct cdr_buf *aad, const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *m, size_t mlen) {
  int r;
  if ((r = cdr_buf_put_lpstr(aad, UPGRADE_AAD_LABEL)) != 0 || (r = cdr_buf_put_lp(aad, room_id, CDR_ROOM_ID_BYTES)) != 0)
    return r;
  return cdr_buf_put_lp(aad, m, mlen);
}

int enclave_upgrade_platform_refusal(const char *platform, char *why, size_t whylen) {
  if (platform != NULL && strcmp(platform, "sim") == 0)
    return 0;
  snprintf(why, whylen,
           "the new build cannot yet verify the running enclave's attestation on %s: no upgrade handoff there "
           "(docs/ATTESTATION.md \"Sealing and upgrades\")",
           platform != NULL ? platform : "this platform");
  return CDR_ERR_UPGRADE_REFUSED;
}

int enclave_handle_upgrade_hello(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct ipc_init m;
  struct ipc_upgrade_hello_ok ok;
  struct enclave_upgrade *u = NULL;
  uint8_t rd[CDR_REPORT_DATA_LEN], *spki = NULL;
  size_t spki_len = 0, ncerts = 0;
  struct cdr_buf evidence, certs[ATTEST_MAX_CERTS];
  char why[WHY_LEN];
  int r;
  cdr_buf_init(&evidence, IPC_EVIDENCE_MAX, 0);
  if ((r = ipc_get_init(in, &m)) != 0 || (r = enclave_init_platform(e, &m)) != 0)
    goto out;
  if (enclave_upgrade_platform_refusal(e->attest->name, why, sizeof(why)) != 0) {
    log_error("refused to take the room over: %s", why);
    r = enclave_reply_error(out, rt, CDR_ERR_UPGRADE_REFUSED, why);
    goto out;
  }
  if (e->attest->sealing_key == NULL || !seal_root_is_container(m.sealed_identity, m.sealed_identity_len)) {
    /* Nothing to take over: a platform that keeps no state, or a room
     * without a wrapped root (a first start makes one; see enclave_root.c). */
    r = enclave_reply_error(out, rt, CDR_ERR_UPGRADE_REFUSED,
                            e->attest->sealing_key == NULL
                                ? "this platform keeps no sealed state: there is nothing to hand over"
                                : "the room has no sealed identity with a wrapped root to take over");
    goto out;
  }
  if ((u = calloc(1, sizeof(*u))) == NULL || (u->blob = malloc(m.sealed_identity_len)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  memcpy(u->blob, m.sealed_identity, m.sealed_identity_len);
  u->blob_len = m.sealed_identity_len;
  if ((r = cdr_ec_p256_generate(&u->eph)) != 0 || (r = cdr_pubkey_to_der(u->eph, &spki, &spki_len)) != 0 ||
      (r = upgrade_report_data(rd, spki, spki_len, e->room_id, e->ca_fp)) != 0 ||
      (r = e->attest->evidence(e->attest, rd, &evidence, certs, &ncerts)) != 0)
    goto out;
  memset(&ok, 0, sizeof(ok));
  ok.measurement = e->measurement;
  ok.measurement_len = e->measurement_len;
  ok.eph_spki = spki;
  ok.eph_spki_len = spki_len;
  snprintf(ok.att.platform, sizeof(ok.att.platform), "%s", e->attest->name);
  ok.att.evidence = evidence.d;
  ok.att.evidence_len = evidence.len;
  ok.att.ncerts = (uint32_t)ncerts;
  for (size_t i = 0; i < ncerts; i++) {
    ok.att.certs[i] = certs[i].d;
    ok.att.cert_lens[i] = certs[i].len;
  }
  *rt = IPC_UPGRADE_HELLO_OK;
  if ((r = ipc_put_upgrade_hello_ok(out, &ok)) != 0)
    goto out;
  e->upgrade = u;
  u = NULL;
  e->state = ENCLAVE_STATE_UPGRADING;
  log_info("ready to take the room over: waiting for the running enclave's keys");
out:
  if (u != NULL) {
    EVP_PKEY_free(u->eph);
    free(u->blob);
    free(u);
  }
  for (size_t i = 0; i < ncerts; i++)
    cdr_buf_free(&certs[i]);
  cdr_buf_free(&evidence);
  OPENSSL_free(spki);
  return r;
}

/* The sim platform certificate: issued by the room CA, not a CA, no
 * role, the platform's CN (as src/client/attest.c checks it). */
static int sim_platform_cert_ok(X509 *ca, X509 *plat) {
  char *cn = NULL;
  enum cdr_role role = CDR_ROLE_NONE;
  EVP_PKEY *ca_pub = X509_get0_pubkey(ca);
  int ok = ca_pub != NULL && X509_NAME_cmp(X509_get_issuer_name(plat), X509_get_subject_name(ca)) == 0 &&
           X509_verify(plat, ca_pub) == 1 && X509_check_ca(plat) == 0 && cdr_cert_subject(plat, &cn, &role) == 0 &&
           role == CDR_ROLE_NONE && cn != NULL && strcmp(cn, SIM_PLATFORM_CN) == 0;
  free(cn);
  return ok;
}

/* N's sim evidence (PROTOCOL 4.5): magic, measurement, report_data, time,
 * lp(signature over the first 112 bytes) by the platform certificate's
 * key; the measurement must be the one N names, report_data the binding
 * of its ephemeral key. */
static int verify_sim(struct enclave *e, const struct ipc_upgrade_hello_ok *m, char *why, size_t whylen) {
  const uint8_t *ev = m->att.evidence;
  uint8_t rd[CDR_REPORT_DATA_LEN], head[SIM_EVIDENCE_SIGNED_LEN];
  struct cdr_buf b;
  const uint8_t *sig;
  size_t siglen;
  X509 *plat = NULL;
  int ok = 0;
  cdr_buf_view(&b, ev, m->att.evidence_len);
  if (m->att.evidence_len < SIM_EVIDENCE_SIGNED_LEN + 4 || memcmp(ev, SIM_EVIDENCE_MAGIC, 8) != 0 ||
      m->measurement_len != CDR_MEASUREMENT_LEN || cdr_buf_get(&b, head, sizeof(head)) != 0 ||
      cdr_buf_get_lp(&b, &sig, &siglen, SIM_EVIDENCE_MAX_SIG) != 0 || cdr_buf_expect_end(&b) != 0) {
    snprintf(why, whylen, "the new enclave's evidence does not parse");
    goto out;
  }
  if (CRYPTO_memcmp(ev + 8, m->measurement, CDR_MEASUREMENT_LEN) != 0) {
    snprintf(why, whylen, "the new enclave's evidence reports another measurement than it names");
    goto out;
  }
  if (upgrade_report_data(rd, m->eph_spki, m->eph_spki_len, e->room_id, e->ca_fp) != 0 ||
      CRYPTO_memcmp(ev + 8 + CDR_MEASUREMENT_LEN, rd, sizeof(rd)) != 0) {
    snprintf(why, whylen, "the new enclave's evidence does not bind its key to this room and CA (report_data)");
    goto out;
  }
  if (m->att.ncerts < 1 || cdr_cert_from_der(&plat, m->att.certs[0], m->att.cert_lens[0]) != 0 ||
      !sim_platform_cert_ok(e->ca_cert, plat) ||
      cdr_verify(X509_get0_pubkey(plat), ev, SIM_EVIDENCE_SIGNED_LEN, sig, siglen) != 0) {
    snprintf(why, whylen, "the new enclave's evidence is not signed by this room's sim platform");
    goto out;
  }
  ok = 1;
out:
  X509_free(plat);
  return ok;
}

/* May the room go to N?  0, or CDR_ERR_UPGRADE_REFUSED with why. */
static int upgrade_check(struct enclave *e, const struct ipc_upgrade_hello_ok *m, char *why, size_t whylen) {
  const struct contract_version *cur = contract_state_current(&e->contract);
  char hex[2 * CDR_MEASUREMENT_MAX + 1];
  cdr_hex_encode(hex, m->measurement, m->measurement_len);
  if (strcmp(m->att.platform, e->attest->name) != 0) {
    snprintf(why, whylen, "the new enclave runs on %s, this room on %s", m->att.platform, e->attest->name);
    return CDR_ERR_UPGRADE_REFUSED;
  }
  if (strcmp(e->attest->name, "sim") != 0) {
    snprintf(why, whylen, "verifying %s evidence inside the enclave is not built: no handoff on %s",
             e->attest->name, e->attest->name);
    return CDR_ERR_UPGRADE_REFUSED;
  }
  if (!verify_sim(e, m, why, whylen))
    return CDR_ERR_UPGRADE_REFUSED;
  if (cur == NULL) {
    snprintf(why, whylen, "no contract version is active: measurement %s is accepted by none", hex);
    return CDR_ERR_UPGRADE_REFUSED;
  }
  size_t mlen = cdr_contract_measurement_len(cur->c.platform);
  int accepted = strcmp(cur->c.platform, m->att.platform) == 0 && mlen == m->measurement_len;
  if (accepted) {
    accepted = 0;
    for (size_t i = 0; i < cur->c.n_measurements; i++)
      accepted |= CRYPTO_memcmp(cur->c.measurements[i], m->measurement, mlen) == 0;
  }
  if (!accepted) {
    snprintf(why, whylen,
             "the active contract (version %llu) does not accept measurement %s: a signed version that adds it "
             "comes first",
             (unsigned long long)cur->c.version, hex);
    return CDR_ERR_UPGRADE_REFUSED;
  }
  return 0;
}

int enclave_handle_upgrade_offer(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct ipc_upgrade_hello_ok m;
  struct cdr_buf aad, encap, ct;
  EVP_PKEY *x = NULL;
  uint8_t kem = 0;
  char why[WHY_LEN] = "";
  int r, code;
  if ((r = ipc_get_upgrade_hello_ok(in, &m)) != 0)
    return r;
  cdr_buf_init(&aad, 1024, 0);
  cdr_buf_init(&encap, IPC_UPGRADE_ENCAP_MAX, 0);
  cdr_buf_init(&ct, IPC_UPGRADE_CT_MAX, 0);
  if ((r = audit_begin(e, "enclave_upgrade")) != 0)
    goto out;
  audit_set(e, "platform", json_string(m.att.platform));
  audit_set(e, "measurement", audit_hex(m.measurement, m.measurement_len));
  audit_set(e, "from_measurement", audit_hex(e->measurement, e->measurement_len));
  code = upgrade_check(e, &m, why, sizeof(why));
  if (code == 0 && (cdr_pubkey_from_der(&x, m.eph_spki, m.eph_spki_len) != 0 || EVP_PKEY_get_id(x) != EVP_PKEY_EC)) {
    snprintf(why, sizeof(why), "the new enclave's key is not a P-256 key");
    code = CDR_ERR_UPGRADE_REFUSED;
  }
  if (code != 0) {
    audit_set(e, "detail", json_string(why));
    if ((r = audit_finish(e, code)) != 0)
      goto out; /* fatal: e->fatal is set */
    log_error("refused to hand the room over: %s", why);
    r = enclave_reply_error(out, rt, code, why);
    goto out;
  }
  audit_set(e, "contract_version", json_integer((json_int_t)contract_state_current(&e->contract)->c.version));
  if ((r = upgrade_aad(&aad, e->room_id, m.measurement, m.measurement_len)) != 0 ||
      (r = cdr_seal_to_user(x, NULL, aad.d, aad.len, e->sealer->root, sizeof(e->sealer->root), &kem, &encap, &ct)) !=
          0)
    goto out;
  /* The entry is durable before the root leaves. */
  if ((r = audit_finish(e, 0)) != 0)
    goto out;
  log_info("handed the room's sealing root to an enclave of measurement accepted by the contract");
  *rt = IPC_UPGRADE_KEYS;
  r = ipc_put_upgrade_keys(out, kem, encap.d, encap.len, ct.d, ct.len);
out:
  EVP_PKEY_free(x);
  cdr_buf_free(&aad);
  cdr_buf_free(&encap);
  cdr_buf_free(&ct);
  return r;
}

/* The root is the room's: the identity inside blob unseals under it and
 * names the CA this enclave was given. */
static int root_proves_room(struct enclave *e, const struct seal_root_blob *b) {
  struct cdr_buf pt, in;
  const uint8_t *fp;
  size_t fp_len;
  uint64_t version = 0;
  int r;
  cdr_buf_init(&pt, 4096, 1);
  if ((r = sealer_derive(e->sealer)) != 0 ||
      (r = unseal_blob(e->sealer, SEAL_IDENTITY, "identity", b->identity, b->identity_len, &version, &pt)) != 0)
    goto out;
  cdr_buf_view(&in, pt.d, pt.len);
  if (version != 2 || cdr_buf_get_lp(&in, &fp, &fp_len, 32) != 0 || fp_len != 32 ||
      CRYPTO_memcmp(fp, e->ca_fp, 32) != 0)
    r = CDR_ERR_CA_MISMATCH;
out:
  cdr_buf_free(&pt);
  return r;
}

int enclave_handle_upgrade_accept(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) {
  struct enclave_upgrade *u = e->upgrade;
  struct seal_root_blob b;
  struct cdr_buf aad, root, blob;
  const uint8_t *encap, *ct;
  size_t encap_len, ct_len;
  uint8_t kem;
  char why[WHY_LEN];
  int r;
  if ((r = ipc_get_upgrade_keys(in, &kem, &encap, &encap_len, &ct, &ct_len)) != 0)
    return r;
  if (u == NULL || u->done)
    return CDR_ERR_ARG; /* once */
  u->done = 1;
  cdr_buf_init(&aad, 1024, 0);
  cdr_buf_init(&root, 64, 1);
  cdr_buf_init(&blob, IPC_SEALED_IDENTITY_MAX, 0);
  /* HELLO already refused such a platform; this holds if that changes. */
  if (enclave_upgrade_platform_refusal(e->attest->name, why, sizeof(why)) != 0) {
    log_error("refused to take the room over: %s", why);
    r = enclave_reply_error(out, rt, CDR_ERR_UPGRADE_REFUSED, why);
    goto out;
  }
  if ((r = seal_root_split(u->blob, u->blob_len, &b)) != 0 ||
      (r = upgrade_aad(&aad, e->room_id, e->measurement, e->measurement_len)) != 0)
    goto out;
  if ((r = cdr_open_sealed(u->eph, kem, encap, encap_len, aad.d, aad.len, ct, ct_len, &root)) != 0 ||
      root.len != SEAL_ROOT_LEN) {
    r = enclave_reply_error(out, rt, CDR_ERR_UPGRADE_REFUSED, "the keys handed over do not open with this enclave's key");
    goto out;
  }
  memcpy(e->sealer->root, root.d, SEAL_ROOT_LEN);
  if ((r = root_proves_room(e, &b)) != 0) {
    r = enclave_reply_error(out, rt, CDR_ERR_UPGRADE_REFUSED,
                            r == CDR_ERR_CA_MISMATCH ? "the room's sealed identity names another CA than the one given"
                                                     : "the root handed over does not open the room's sealed identity");
    goto out;
  }
  if ((r = enclave_root_wrap(e, b.identity, b.identity_len, &blob)) != 0)
    goto out;
  log_info("took the room over: its sealing root is now wrapped for this enclave's measurement");
  *rt = IPC_UPGRADE_DONE;
  r = ipc_put_upgrade_done(out, blob.d, blob.len);
out:
  /* This enclave serves nothing: it keeps no key past its answer. */
  OPENSSL_cleanse(e->sealer->root, sizeof(e->sealer->root));
  OPENSSL_cleanse(e->sealer->kind_key, sizeof(e->sealer->kind_key));
  e->sealer->derived = 0;
  EVP_PKEY_free(u->eph);
  u->eph = NULL;
  cdr_buf_free(&aad);
  cdr_buf_free(&root);
  cdr_buf_free(&blob);
  return r;
}
