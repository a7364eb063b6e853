/*
 * test_ca_bind.c - the room's sealed state is bound to its CA
 * (enclave_init.c, enclave_load.c, persist.c; issue 10, item 4).
 *
 * Runs the enclave in process (tests/fuzz/enclave_fixture.c) with the
 * fixture room's CA ("CA1") and a second, self-signed CA made here
 * ("CA2", one the host operator would mint), and checks:
 *   - a first start seals the identity with the CA, and a restart with
 *     the other CA is answered IPC_ERROR ca_mismatch naming both
 *     fingerprints, with nothing initialised and no second INIT allowed;
 *   - the stored blob is the sealing root wrapped for the measurement
 *     (seal_root.h): one wrapped for another measurement is refused
 *     sealed_for_another_enclave naming both, one wrapped under another
 *     key fails authentication, and a bare identity from before the
 *     root layer is refused on sim with what to do;
 *   - an identity sealed in the old format (seal version 1, the key's DER
 *     alone, as rooms made before the binding hold it) adopts the CA
 *     offered at its first start (trust on first use), comes back
 *     re-sealed, and refuses another CA from then on;
 *   - a sealed manifest names its CA: one naming another CA is refused at
 *     IPC_LOAD even when the identity was withheld (a new one made under
 *     the host's CA), an old-format manifest is refused without the
 *     identity it was sealed with, and with it is rewritten at LOAD_DONE
 *     in the new format, naming the adopted CA.
 * The manifests here are written by hand from the format in persist.c.
 */
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "enclave_fixture.h"
#include "fuzzlib.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "enclave/seal_root.h"
#include "testlib.h"

static uint8_t *ca2_der;
static size_t ca2_len;
static uint8_t ca2_fp[32];

/* CA2: a self-signed CA certificate of a fresh key. */
static void make_ca2(void) {
  EVP_PKEY *k = NULL;
  X509 *c = X509_new();
  X509V3_CTX ctx;
  CHECK_RC(cdr_ec_p256_generate(&k), 0);
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 2);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(c), "CN", MBSTRING_UTF8, (const unsigned char *)"operator CA", -1,
                             -1, 0);
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509_gmtime_adj(X509_getm_notBefore(c), -60);
  X509_gmtime_adj(X509_getm_notAfter(c), 86400);
  X509_set_pubkey(c, k);
  X509V3_set_ctx(&ctx, c, c, NULL, NULL, 0);
  X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
  X509_EXTENSION *ku = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  CHECK(bc != NULL && ku != NULL);
  X509_add_ext(c, bc, -1);
  X509_add_ext(c, ku, -1);
  X509_EXTENSION_free(bc);
  X509_EXTENSION_free(ku);
  CHECK(X509_sign(c, k, EVP_sha256()) > 0);
  CHECK_RC(cdr_cert_to_der(c, &ca2_der, &ca2_len), 0);
  CHECK_RC(cdr_cert_fingerprint(c, ca2_fp), 0);
  X509_free(c);
  EVP_PKEY_free(k);
}

/* What an INIT (or LOAD) was answered with. */
struct answer {
  int rc;       /* enclave_dispatch's: non-zero is a protocol violation */
  uint32_t rt;  /* the reply type */
  int err;      /* IPC_ERROR: its code */
  char *msg;    /* IPC_ERROR: its message (malloc'd) */
  uint8_t *blob; /* IPC_INIT_OK: a copy of the new sealed identity, or NULL */
  size_t blob_len;
  uint8_t spki[CDR_MAX_PUBKEY_DER];
  size_t spki_len;
};

static void answer_free(struct answer *a) {
  free(a->msg);
  free(a->blob);
  memset(a, 0, sizeof(*a));
}

static void read_answer(struct answer *a, struct cdr_buf *out) {
  if (a->rc != 0)
    return;
  if (a->rt == IPC_ERROR) {
    CHECK_RC(ipc_get_error(out, &a->err, &a->msg), 0);
  } else if (a->rt == IPC_INIT_OK) {
    struct ipc_init_ok ok;
    CHECK_RC(ipc_get_init_ok(out, &ok), 0);
    CHECK(ok.identity_spki_len <= sizeof(a->spki));
    memcpy(a->spki, ok.identity_spki, ok.identity_spki_len);
    a->spki_len = ok.identity_spki_len;
    if (ok.new_sealed_identity_len > 0) {
      CHECK((a->blob = malloc(ok.new_sealed_identity_len)) != NULL);
      memcpy(a->blob, ok.new_sealed_identity, ok.new_sealed_identity_len);
      a->blob_len = ok.new_sealed_identity_len;
    }
  }
}

static struct answer send_init(struct enclave *e, const uint8_t *ca, size_t ca_len, const uint8_t *blob,
                               size_t blob_len) {
  struct ipc_init init;
  struct cdr_buf in, out;
  struct answer a;
  memset(&a, 0, sizeof(a));
  memset(&init, 0, sizeof(init));
  memcpy(init.room_id, fuzz_pki()->room_id, sizeof(init.room_id));
  init.ca_der = ca;
  init.ca_len = ca_len;
  init.sealed_identity = blob;
  init.sealed_identity_len = blob_len;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_init(&in, &init), 0);
  a.rc = enclave_dispatch(e, IPC_INIT, &in, &a.rt, &out);
  read_answer(&a, &out);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return a;
}

static struct answer send_load(struct enclave *e, const uint8_t *manifest, size_t len) {
  struct cdr_buf in, out;
  struct answer a;
  memset(&a, 0, sizeof(a));
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_load(&in, manifest, len), 0);
  a.rc = enclave_dispatch(e, IPC_LOAD, &in, &a.rt, &out);
  read_answer(&a, &out);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return a;
}

/* The refusal: IPC_ERROR ca_mismatch naming both fingerprints. */
static void check_refused(const struct answer *a, const uint8_t sealed[32], const uint8_t offered[32]) {
  char fs[96], fo[96];
  cdr_fingerprint_format(fs, sealed);
  cdr_fingerprint_format(fo, offered);
  CHECK_RC(a->rc, 0);
  CHECK(a->rt == IPC_ERROR);
  CHECK_RC(a->err, CDR_ERR_CA_MISMATCH);
  CHECK_CONTAINS(a->msg, fs);
  CHECK_CONTAINS(a->msg, fo);
  CHECK_CONTAINS(a->msg, "put back the room's own CA certificate");
}

/* A sealed manifest with no tables, in the v3 format (naming ca) or the
 * v2 format of rooms made before the binding (ca NULL). */
static void make_manifest(const struct sealer *sealer, const uint8_t *ca, struct cdr_buf *out) {
  struct cdr_buf m;
  uint8_t head[CDR_AUDIT_HASH_LEN] = {0};
  cdr_buf_init(&m, 4096, 0);
  CHECK_RC(cdr_buf_put(&m, ca != NULL ? "CDRMANv3" : "CDRMANv2", 8), 0);
  CHECK_RC(cdr_buf_put_u64(&m, 1), 0);
  if (ca != NULL)
    CHECK_RC(cdr_buf_put_lp(&m, ca, 32), 0);
  CHECK_RC(cdr_buf_put_u64(&m, 0), 0); /* crl number */
  CHECK_RC(cdr_buf_put_u64(&m, 0), 0); /* audit size: no log yet */
  CHECK_RC(cdr_buf_put_lp(&m, head, sizeof(head)), 0);
  CHECK_RC(cdr_buf_put_lp(&m, NULL, 0), 0); /* carried record */
  CHECK_RC(cdr_buf_put_u32(&m, 0), 0);      /* tables */
  cdr_buf_init(out, 8192, 0);
  CHECK_RC(seal_blob(sealer, SEAL_MANIFEST, "manifest", 1, m.d, m.len, out), 0);
  cdr_buf_free(&m);
}

/* The fixture room's measurement (every enclave of it has the same). */
static uint8_t fx_meas[CDR_MEASUREMENT_MAX];
static size_t fx_meas_len;

/* The blob the host stores (seal_root.h): s's root wrapped for the
 * measurement m, then the sealed identity idb. */
static void rooted_for(const struct sealer *s, const uint8_t *m, size_t mlen, const uint8_t *idb, size_t len,
                       struct cdr_buf *out) {
  cdr_buf_init(out, 8192, 0);
  CHECK_RC(seal_root_wrap(out, s->root, s->platform_key, fuzz_pki()->room_id, m, mlen, idb, len), 0);
}

/* A new identity key sealed as version 2 under the room's root, naming
 * CA fp: what a host that could keep the root while withholding the
 * identity would get made under its own CA (seal_root.h makes the two
 * one blob; this stands for that host). */
static void fresh_identity(const struct sealer *s, const uint8_t fp[32], struct cdr_buf *out) {
  EVP_PKEY *k = NULL;
  unsigned char *der = NULL;
  struct cdr_buf pt, blob;
  CHECK_RC(cdr_ec_p256_generate(&k), 0);
  int n = i2d_PrivateKey(k, &der);
  CHECK(n > 0);
  cdr_buf_init(&pt, 8192, 0);
  cdr_buf_init(&blob, 8192, 0);
  CHECK_RC(cdr_buf_put_lp(&pt, fp, 32), 0);
  CHECK_RC(cdr_buf_put_lp(&pt, der, (size_t)n), 0);
  CHECK_RC(seal_blob(s, SEAL_IDENTITY, "identity", 2, pt.d, pt.len, &blob), 0);
  rooted_for(s, fx_meas, fx_meas_len, blob.d, blob.len, out);
  cdr_buf_free(&pt);
  cdr_buf_free(&blob);
  OPENSSL_clear_free(der, (size_t)n);
  EVP_PKEY_free(k);
}

/* ---- a host that stores everything and keeps the last manifest ---- */

struct keeper {
  int fd;
  pthread_t thread;
  struct cdr_buf manifest;
  int identity_puts;
};

static void *keeper_main(void *arg) {
  struct keeper *k = arg;
  struct cdr_buf in, out;
  uint32_t type, n;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, IPC_STATUS_MAX, 0);
  while (ipc_frame_read(k->fd, &type, &in, CDR_IPC_MAX_FRAME) == 0) {
    cdr_buf_free(&out);
    if (type == IPC_CONTRACT_NOTICE) /* the contract for the host's display: not answered */
      continue;
    if (type == IPC_FETCH) {
      if (ipc_put_fetched(&out, 0, NULL, 0) != 0 || ipc_frame_write(k->fd, IPC_FETCHED, &out) != 0)
        break;
      continue;
    }
    if (ipc_get_store_count(&in, &n) != 0)
      break;
    for (uint32_t i = 0; i < n; i++) {
      struct ipc_store_item it;
      if (ipc_get_store_item(&in, &it) != 0)
        break;
      if (it.op == IPC_STORE_PUT && strcmp(it.name, "manifest") == 0) {
        cdr_buf_free(&k->manifest);
        if (cdr_buf_put(&k->manifest, it.data, it.len) != 0)
          break;
      }
      if (it.op == IPC_STORE_PUT && strcmp(it.name, "identity") == 0)
        k->identity_puts++;
    }
    if (type == IPC_STORE_NOWAIT)
      continue;
    if (ipc_put_status(&out, 1, "") != 0 || ipc_frame_write(k->fd, IPC_STORED, &out) != 0)
      break;
  }
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return NULL;
}

/* LOAD_DONE against the keeper: the answer's ok flag. */
static int load_done(struct enclave *e, struct keeper *k) {
  struct cdr_buf in, out;
  uint32_t rt = 0;
  int ok = 0, sv[2];
  char *msg = NULL;
  cdr_buf_init(&in, 64, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&k->manifest, CDR_IPC_MAX_FRAME, 0);
  CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  e->ipc_fd = sv[0];
  k->fd = sv[1];
  CHECK(pthread_create(&k->thread, NULL, keeper_main, k) == 0);
  CHECK_RC(ipc_put_load_done(&in), 0);
  CHECK_RC(enclave_dispatch(e, IPC_LOAD_DONE, &in, &rt, &out), 0);
  CHECK(rt == IPC_LOAD_ACK);
  CHECK_RC(ipc_get_status(&out, &ok, &msg), 0);
  if (!ok)
    fprintf(stderr, "LOAD_DONE refused: %s\n", msg ? msg : "");
  close(sv[0]);
  pthread_join(k->thread, NULL);
  close(sv[1]);
  e->ipc_fd = -1;
  free(msg);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
  return ok;
}

int main(void) {
  struct answer a, b;
  fx_init(); /* first: it installs the enclave's allocators */
  const struct fuzz_pki *k = fuzz_pki();
  const uint8_t *ca1 = k->ca_der;
  size_t ca1_len = k->ca_der_len;
  make_ca2();

  /* A first start seals the identity with CA1. */
  struct enclave *e1 = fx_enclave_new();
  a = send_init(e1, ca1, ca1_len, NULL, 0);
  CHECK(a.rc == 0 && a.rt == IPC_INIT_OK && a.blob != NULL);
  CHECK_STR(e1->ca_binding, "new");
  struct answer first = a;
  /* The fixture room's sealing keys (every enclave of it derives the
   * same), kept to seal old-format objects below; then e1 goes, since
   * the sim provider's state is the process's: one enclave at a time. */
  struct sealer *seal1 = OPENSSL_secure_malloc(sizeof(*seal1));
  CHECK(seal1 != NULL);
  memcpy(seal1, e1->sealer, sizeof(*seal1));
  memcpy(fx_meas, e1->measurement, e1->measurement_len);
  fx_meas_len = e1->measurement_len;
  fx_enclave_free(e1);

  /* The swap: the same sealed identity, offered CA2. */
  struct enclave *e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, first.blob, first.blob_len);
  check_refused(&a, k->ca_fp, ca2_fp);
  CHECK(e->state == ENCLAVE_STATE_INIT && e->identity_key == NULL && e->engine == NULL);
  b = send_init(e, ca1, ca1_len, first.blob, first.blob_len);
  CHECK(b.rc != 0); /* no second INIT on a refused enclave */
  answer_free(&a);
  answer_free(&b);
  fx_enclave_free(e);

  /* The room's own CA: the same identity, nothing re-sealed. */
  e = fx_enclave_new();
  a = send_init(e, ca1, ca1_len, first.blob, first.blob_len);
  CHECK(a.rc == 0 && a.rt == IPC_INIT_OK && a.blob == NULL);
  CHECK(a.spki_len == first.spki_len && memcmp(a.spki, first.spki, a.spki_len) == 0);
  CHECK_STR(e->ca_binding, "sealed");
  answer_free(&a);
  fx_enclave_free(e);

  /* The stored blob is the root wrapped for this measurement, then the
   * identity (seal_root.h). */
  struct seal_root_blob sb;
  CHECK(seal_root_is_container(first.blob, first.blob_len));
  CHECK_RC(seal_root_split(first.blob, first.blob_len, &sb), 0);
  CHECK(sb.measurement_len == fx_meas_len && memcmp(sb.measurement, fx_meas, fx_meas_len) == 0);
  /* A root wrapped for another build's measurement: refused before
   * anything is unsealed, naming both measurements. */
  uint8_t other[CDR_MEASUREMENT_MAX];
  char hx[2 * CDR_MEASUREMENT_MAX + 1];
  struct cdr_buf elsewhere, forged;
  memcpy(other, fx_meas, fx_meas_len);
  other[0] ^= 1;
  rooted_for(seal1, other, fx_meas_len, sb.identity, sb.identity_len, &elsewhere);
  e = fx_enclave_new();
  a = send_init(e, ca1, ca1_len, elsewhere.d, elsewhere.len);
  CHECK(a.rc == 0 && a.rt == IPC_ERROR);
  CHECK_RC(a.err, CDR_ERR_SEALED_ELSEWHERE);
  cdr_hex_encode(hx, other, fx_meas_len);
  CHECK_CONTAINS(a.msg, hx);
  cdr_hex_encode(hx, fx_meas, fx_meas_len);
  CHECK_CONTAINS(a.msg, hx);
  CHECK(e->identity_key == NULL && e->engine == NULL);
  answer_free(&a);
  fx_enclave_free(e);
  /* This measurement in the header, but wrapped under another platform
   * key (another build's, claiming to be this one): fails authentication. */
  struct sealer *other_key = OPENSSL_secure_malloc(sizeof(*other_key));
  CHECK(other_key != NULL);
  memcpy(other_key, seal1, sizeof(*other_key));
  other_key->platform_key[0] ^= 1;
  rooted_for(other_key, fx_meas, fx_meas_len, sb.identity, sb.identity_len, &forged);
  e = fx_enclave_new();
  a = send_init(e, ca1, ca1_len, forged.d, forged.len);
  CHECK_RC(a.rc, CDR_ERR_DECRYPT);
  CHECK(e->identity_key == NULL);
  answer_free(&a);
  fx_enclave_free(e);
  OPENSSL_secure_clear_free(other_key, sizeof(*other_key));
  cdr_buf_free(&elsewhere);
  cdr_buf_free(&forged);

  /* An identity from before the binding (seal version 1, the key alone). */
  EVP_PKEY *old_key = NULL;
  unsigned char *der = NULL;
  uint8_t *old_spki = NULL;
  size_t old_spki_len = 0;
  struct cdr_buf legacy, bare;
  cdr_buf_init(&bare, 8192, 0);
  CHECK_RC(cdr_ec_p256_generate(&old_key), 0);
  int der_len = i2d_PrivateKey(old_key, &der);
  CHECK(der_len > 0);
  CHECK_RC(cdr_pubkey_to_der(old_key, &old_spki, &old_spki_len), 0);
  CHECK_RC(seal_blob(seal1, SEAL_IDENTITY, "identity", 1, der, (size_t)der_len, &bare), 0);
  /* Bare, as rooms made before the sealing root hold it: sim refuses it
   * (its old platform key was the same for every build). */
  e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, bare.d, bare.len);
  CHECK(a.rc == 0 && a.rt == IPC_ERROR);
  CHECK_RC(a.err, CDR_ERR_SEALED_ELSEWHERE);
  CHECK_CONTAINS(a.msg, "predates sealing bound to the enclave measurement");
  CHECK(e->identity_key == NULL && e->engine == NULL);
  answer_free(&a);
  fx_enclave_free(e);
  rooted_for(seal1, fx_meas, fx_meas_len, bare.d, bare.len, &legacy);
  e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, legacy.d, legacy.len);
  CHECK(a.rc == 0 && a.rt == IPC_INIT_OK && a.blob != NULL); /* adopted CA2, re-sealed */
  CHECK(a.spki_len == old_spki_len && memcmp(a.spki, old_spki, old_spki_len) == 0);
  CHECK_STR(e->ca_binding, "trust_on_first_use");
  struct answer migrated = a;
  fx_enclave_free(e);
  e = fx_enclave_new();
  a = send_init(e, ca1, ca1_len, migrated.blob, migrated.blob_len); /* and refuses any other CA after */
  check_refused(&a, ca2_fp, k->ca_fp);
  answer_free(&a);
  fx_enclave_free(e);
  e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, migrated.blob, migrated.blob_len);
  CHECK(a.rc == 0 && a.rt == IPC_INIT_OK && a.blob == NULL);
  CHECK_STR(e->ca_binding, "sealed");
  answer_free(&a);
  fx_enclave_free(e);

  /* The host withholds the identity (a new one is made under CA2) but
   * hands over the manifest, which names CA1. */
  struct cdr_buf m3, m2, f2, f1;
  make_manifest(seal1, k->ca_fp, &m3);
  make_manifest(seal1, NULL, &m2);
  fresh_identity(seal1, ca2_fp, &f2);
  fresh_identity(seal1, k->ca_fp, &f1);
  e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, f2.d, f2.len);
  CHECK(a.rc == 0 && a.rt == IPC_INIT_OK);
  answer_free(&a);
  a = send_load(e, m3.d, m3.len);
  check_refused(&a, k->ca_fp, ca2_fp);
  CHECK(e->state == ENCLAVE_STATE_INITIALISED);
  b = send_load(e, m3.d, m3.len);
  CHECK(b.rc != 0); /* no second LOAD */
  answer_free(&a);
  answer_free(&b);
  fx_enclave_free(e);
  /* ... and an old-format manifest without its identity. */
  e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, f2.d, f2.len);
  answer_free(&a);
  a = send_load(e, m2.d, m2.len);
  CHECK(a.rc == 0 && a.rt == IPC_ERROR);
  CHECK_RC(a.err, CDR_ERR_CA_MISMATCH);
  CHECK_CONTAINS(a.msg, "put back ROOM/state/identity.sealed");
  answer_free(&a);
  fx_enclave_free(e);
  /* ... nor with an identity already bound (version 2, from a start that
   * did not make it): the host withheld the identity once to have one
   * sealed under its CA, then put an old manifest back. */
  e = fx_enclave_new();
  b = send_init(e, ca2_der, ca2_len, f2.d, f2.len);
  CHECK(b.rc == 0 && b.rt == IPC_INIT_OK && b.blob == NULL); /* opened, not made */
  answer_free(&b);
  b = send_load(e, m2.d, m2.len);
  CHECK(b.rc == 0 && b.rt == IPC_ERROR);
  CHECK_RC(b.err, CDR_ERR_CA_MISMATCH);
  CHECK_CONTAINS(b.msg, "from the same state");
  answer_free(&b);
  fx_enclave_free(e);
  /* The room's own CA with a v3 manifest loads. */
  e = fx_enclave_new();
  a = send_init(e, ca1, ca1_len, first.blob, first.blob_len);
  answer_free(&a);
  a = send_load(e, m3.d, m3.len);
  CHECK(a.rc == 0 && a.rt == IPC_LOAD_WANT);
  answer_free(&a);
  fx_enclave_free(e);

  /* Migration: the old identity and the old manifest together adopt CA2,
   * and the start rewrites the manifest naming it. */
  struct keeper kp;
  memset(&kp, 0, sizeof(kp));
  e = fx_enclave_new();
  a = send_init(e, ca2_der, ca2_len, legacy.d, legacy.len);
  answer_free(&a);
  a = send_load(e, m2.d, m2.len);
  CHECK(a.rc == 0 && a.rt == IPC_LOAD_WANT);
  answer_free(&a);
  CHECK(load_done(e, &kp) == 1);
  CHECK(e->state == ENCLAVE_STATE_READY);
  CHECK(kp.manifest.len > 0);
  struct cdr_buf pt, view;
  uint64_t version = 0, v = 0;
  uint8_t magic[8] = {0}, fp[32] = {0};
  cdr_buf_init(&pt, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(unseal_blob(e->sealer, SEAL_MANIFEST, "manifest", kp.manifest.d, kp.manifest.len, &version, &pt), 0);
  CHECK(version == 2);
  cdr_buf_view(&view, pt.d, pt.len);
  CHECK_RC(cdr_buf_get(&view, magic, 8), 0);
  CHECK(memcmp(magic, "CDRMANv4", 8) == 0);
  CHECK_RC(cdr_buf_get_u64(&view, &v), 0);
  CHECK_RC(cdr_buf_get_lp_exact(&view, fp, 32), 0);
  CHECK(v == 2 && memcmp(fp, ca2_fp, 32) == 0);
  fx_enclave_free(e);
  /* The rewritten manifest now refuses CA1 even with a new identity. */
  e = fx_enclave_new();
  a = send_init(e, ca1, ca1_len, f1.d, f1.len);
  answer_free(&a);
  a = send_load(e, kp.manifest.d, kp.manifest.len);
  check_refused(&a, ca2_fp, k->ca_fp);
  answer_free(&a);
  fx_enclave_free(e);

  cdr_buf_free(&pt);
  cdr_buf_free(&kp.manifest);
  cdr_buf_free(&m2);
  cdr_buf_free(&m3);
  cdr_buf_free(&legacy);
  cdr_buf_free(&bare);
  cdr_buf_free(&f1);
  cdr_buf_free(&f2);
  OPENSSL_clear_free(der, (size_t)der_len);
  OPENSSL_free(old_spki);
  EVP_PKEY_free(old_key);
  answer_free(&first);
  answer_free(&migrated);
  OPENSSL_secure_clear_free(seal1, sizeof(*seal1));
  OPENSSL_free(ca2_der);
  return test_summary("ca_bind");
}
