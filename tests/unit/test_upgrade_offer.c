/*
 * test_upgrade_offer.c - the running enclave's checks of a new build's
 * answer before it hands over the room's sealing root (upgrade.c,
 * IPC_UPGRADE_OFFER; docs/ATTESTATION.md "Sealing and upgrades").
 *
 * A real IPC_UPGRADE_HELLO_OK is made by an in-process enclave (the
 * fixture room, tests/fuzz/enclave_fixture.h), then offered to a READY
 * enclave of the same room, as is and as a host would alter it:
 *   - as is, it passes every check of the evidence and is refused only
 *     because the active contract (the fixture's version 1) does not list its measurement;
 *   - the ephemeral key swapped for the host's own: refused, report_data
 *     does not bind it;
 *   - another measurement named than the evidence reports: refused;
 *   - the evidence's signature changed: refused, not the room's platform;
 *   - another platform named: refused.
 * Each refusal is upgrade_refused with its reason, never keys.  The
 * end-to-end handoff (accepted and refused by the contract) is
 * tests/integration/test_upgrade.sh.
 *
 * The new build's side off sim: it cannot yet verify the running
 * enclave, so a host could make it adopt a root and identity of its own.
 * This binary is linked with -Wl,--wrap=attest_provider_find, which (when
 * as_snp is set) gives the enclave the sim provider under the name "snp":
 * HELLO must then be refused, naming why; and ACCEPT, reached on sim and
 * then seen on "snp", likewise (not "the keys do not open").
 */
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/crypto.h"
#include "enclave/attest.h"
#include "enclave/seal_root.h"
#include "enclave_fixture.h"
#include "fuzzlib.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"
#include "testlib.h"

static struct cdr_buf hello; /* the genuine IPC_UPGRADE_HELLO_OK body */

#define OFF_SIM "the new build cannot yet verify the running enclave's attestation on snp"

/* The sim provider, named snp, while as_snp is set (see the header). */
static int as_snp;
static struct attest_provider snp_named;
struct attest_provider *__real_attest_provider_find(const char *name);
struct attest_provider *__wrap_attest_provider_find(const char *name);
struct attest_provider *__wrap_attest_provider_find(const char *name) {
  struct attest_provider *p = __real_attest_provider_find(name);
  if (!as_snp || p == NULL || strcmp(p->name, "sim") != 0)
    return p;
  snp_named = *p;
  snp_named.name = "snp";
  return &snp_named;
}

/* An IPC_INIT body for the fixture room with a wrapped root. */
static void init_body(struct cdr_buf *in, struct cdr_buf *blob) {
  const struct fuzz_pki *k = fuzz_pki();
  struct ipc_init init;
  uint8_t root[32] = {1}, pkey[32] = {2}, meas[32] = {3}, id[16] = {4};
  cdr_buf_init(in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(blob, 4096, 0);
  CHECK_RC(seal_root_wrap(blob, root, pkey, k->room_id, meas, sizeof(meas), id, sizeof(id)), 0);
  memset(&init, 0, sizeof(init));
  memcpy(init.room_id, k->room_id, sizeof(init.room_id));
  init.ca_der = k->ca_der;
  init.ca_len = k->ca_der_len;
  init.sealed_identity = blob->d;
  init.sealed_identity_len = blob->len;
  CHECK_RC(ipc_put_init(in, &init), 0);
}

/* One frame to n: answered IPC_ERROR upgrade_refused containing want. */
static void refused(struct enclave *n, uint32_t type, struct cdr_buf *in, const char *want) {
  struct cdr_buf out;
  uint32_t rt = 0;
  int code = 0;
  char *msg = NULL;
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(enclave_dispatch(n, type, in, &rt, &out), 0);
  CHECK(rt == IPC_ERROR);
  if (rt == IPC_ERROR) {
    CHECK_RC(ipc_get_error(&out, &code, &msg), 0);
    CHECK_RC(code, CDR_ERR_UPGRADE_REFUSED);
    CHECK_CONTAINS(msg, want);
  }
  free(msg);
  cdr_buf_free(&out);
}

/* The new build on snp: HELLO refused, and no handoff under way. */
static void hello_refused_off_sim(void) {
  struct enclave *n = fx_enclave_new();
  struct cdr_buf in, blob;
  as_snp = 1;
  init_body(&in, &blob);
  refused(n, IPC_UPGRADE_HELLO, &in, OFF_SIM);
  CHECK(n->attest != NULL && strcmp(n->attest->name, "snp") == 0); /* the wrap took */
  CHECK(n->state == ENCLAVE_STATE_INIT && n->upgrade == NULL);
  cdr_buf_free(&in);
  cdr_buf_free(&blob);
  fx_enclave_free(n);
  as_snp = 0;
}

/* ACCEPT on a build whose platform is snp (HELLO passed on sim): refused
 * before any key is opened. */
static void accept_refused_off_sim(void) {
  struct enclave *n = fx_enclave_new();
  struct cdr_buf in, blob, out, keys;
  static const uint8_t encap[65] = {4}, ct[48] = {5};
  struct attest_provider *sim;
  uint32_t rt = 0;
  init_body(&in, &blob);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&keys, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(enclave_dispatch(n, IPC_UPGRADE_HELLO, &in, &rt, &out), 0);
  CHECK(rt == IPC_UPGRADE_HELLO_OK && n->state == ENCLAVE_STATE_UPGRADING);
  sim = n->attest;
  snp_named = *n->attest;
  snp_named.name = "snp";
  n->attest = &snp_named;
  CHECK_RC(ipc_put_upgrade_keys(&keys, 1, encap, sizeof(encap), ct, sizeof(ct)), 0);
  refused(n, IPC_UPGRADE_ACCEPT, &keys, OFF_SIM);
  n->attest = sim;
  cdr_buf_free(&in);
  cdr_buf_free(&blob);
  cdr_buf_free(&out);
  cdr_buf_free(&keys);
  fx_enclave_free(n);
}

/* A new build's answer, from an enclave in state INIT. */
static void make_hello(void) {
  struct enclave *n = fx_enclave_new();
  struct cdr_buf in, blob;
  uint32_t rt = 0;
  /* Any wrapped root: the new build opens it only at ACCEPT. */
  init_body(&in, &blob);
  cdr_buf_init(&hello, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(enclave_dispatch(n, IPC_UPGRADE_HELLO, &in, &rt, &hello), 0);
  CHECK(rt == IPC_UPGRADE_HELLO_OK);
  CHECK(n->state == ENCLAVE_STATE_UPGRADING);
  cdr_buf_free(&in);
  cdr_buf_free(&blob);
  fx_enclave_free(n); /* the sim provider is the process's: one enclave at a time */
}

/* Offer body to o: must be refused upgrade_refused with `want` in its reason. */
static void offer_refused(struct enclave *o, const struct cdr_buf *body, const char *want) {
  struct cdr_buf in, out;
  uint32_t rt = 0;
  int code = 0;
  char *msg = NULL;
  cdr_buf_init(&in, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(cdr_buf_put(&in, body->d, body->len), 0);
  CHECK_RC(enclave_dispatch(o, IPC_UPGRADE_OFFER, &in, &rt, &out), 0);
  CHECK(rt == IPC_ERROR);
  CHECK_RC(ipc_get_error(&out, &code, &msg), 0);
  CHECK_RC(code, CDR_ERR_UPGRADE_REFUSED);
  CHECK_CONTAINS(msg, want);
  free(msg);
  cdr_buf_free(&in);
  cdr_buf_free(&out);
}

/* The genuine answer re-encoded after `edit` changed its decoded form. */
static void altered(struct cdr_buf *out, void (*edit)(struct ipc_upgrade_hello_ok *, void *), void *arg) {
  struct cdr_buf v;
  struct ipc_upgrade_hello_ok m;
  cdr_buf_view(&v, hello.d, hello.len);
  CHECK_RC(ipc_get_upgrade_hello_ok(&v, &m), 0);
  edit(&m, arg);
  cdr_buf_init(out, CDR_IPC_MAX_FRAME, 0);
  CHECK_RC(ipc_put_upgrade_hello_ok(out, &m), 0);
}

static void swap_key(struct ipc_upgrade_hello_ok *m, void *arg) {
  const struct cdr_buf *spki = arg;
  m->eph_spki = spki->d;
  m->eph_spki_len = spki->len;
}

static void other_measurement(struct ipc_upgrade_hello_ok *m, void *arg) {
  uint8_t *copy = arg;
  memcpy(copy, m->measurement, m->measurement_len);
  copy[0] ^= 1;
  m->measurement = copy;
}

static void bad_signature(struct ipc_upgrade_hello_ok *m, void *arg) {
  uint8_t *copy = arg;
  memcpy(copy, m->att.evidence, m->att.evidence_len);
  copy[m->att.evidence_len - 1] ^= 1;
  m->att.evidence = copy;
}

static void other_platform(struct ipc_upgrade_hello_ok *m, void *arg) {
  (void)arg;
  memcpy(m->att.platform, "snp", 4);
}

int main(void) {
  struct fx_storage st;
  struct cdr_buf body, spki;
  EVP_PKEY *host_key = NULL;
  uint8_t *der = NULL, meas[CDR_MEASUREMENT_MAX], ev[IPC_EVIDENCE_MAX];
  size_t der_len = 0;
  fx_init();
  make_hello();
  hello_refused_off_sim();
  accept_refused_off_sim();

  struct enclave *o = fx_enclave_new();
  fx_enclave_ready(o);
  fx_storage_start(o, &st);
  offer_refused(o, &hello, "does not accept measurement");

  CHECK_RC(cdr_ec_p256_generate(&host_key), 0);
  CHECK_RC(cdr_pubkey_to_der(host_key, &der, &der_len), 0);
  cdr_buf_view(&spki, der, der_len);
  altered(&body, swap_key, &spki);
  offer_refused(o, &body, "does not bind its key to this room and CA (report_data)");
  cdr_buf_free(&body);
  altered(&body, other_measurement, meas);
  offer_refused(o, &body, "reports another measurement than it names");
  cdr_buf_free(&body);
  altered(&body, bad_signature, ev);
  offer_refused(o, &body, "not signed by this room's sim platform");
  cdr_buf_free(&body);
  altered(&body, other_platform, NULL);
  offer_refused(o, &body, "the new enclave runs on snp, this room on sim");
  cdr_buf_free(&body);

  fx_storage_stop(o, &st);
  fx_enclave_free(o);
  OPENSSL_free(der);
  EVP_PKEY_free(host_key);
  cdr_buf_free(&hello);
  return test_summary("upgrade_offer");
}
