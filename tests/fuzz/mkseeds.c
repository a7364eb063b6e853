/*
 * mkseeds.c - writes the seed corpora of the fuzz harnesses:
 *
 *   fuzz_mkseeds DIR [ATTEST_DATA]
 *       (make fuzz-seeds: DIR = tests/fuzz/corpus, ATTEST_DATA = tests/data/attest)
 *
 * creates DIR/fuzz_<target>/seed-<what> for every harness.  The seeds are
 * the inputs the unit tests use (CSV, SQL, CSRs, protocol messages), in
 * each harness's input layout, and the protocol ones are signed, sealed
 * and encrypted with the fixture PKI and the fixed values of fuzzlib.h,
 * so that the harnesses accept them and the fuzzer starts from inputs
 * that reach the deep end of each parser.  The hardware attestation
 * harnesses also get the real evidence under ATTEST_DATA, wrapped in
 * their input layout with the policy their unit tests accept it under.  ECDSA signatures are random,
 * so a new run rewrites most files; the checked-in corpus is one run's
 * output.  Harness input layouts are described at the top of each
 * fuzz_<target>.c.
 */
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client/client.h"
#include "common/limits.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"
#include "enclave/attest.h"
#include "enclave/dp_budget.h"
#include "enclave/seal.h"
#include "fuzzlib.h"
#include "host/routes.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

/* Must match fuzz_client_responses.c. */
#define FUZZ_BYTE_MEASUREMENT 0x4d
#define FUZZ_BYTE_OPEN_SESSION 0x0e

static const char *outdir;

/* ---- output ---- */

static void put_seed(const char *target, const char *what, const void *p, size_t n) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/%s", outdir, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(1);
  }
  snprintf(path, sizeof(path), "%s/%s/seed-%s", outdir, target, what);
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* A seed made of a prefix byte and text. */
static void put_seed_b(const char *target, const char *what, uint8_t prefix, const void *p, size_t n) {
  struct cdr_buf b;
  cdr_buf_init(&b, 16u * CDR_MiB, 0);
  FUZZ_CHECK(cdr_buf_put_u8(&b, prefix) == 0 && cdr_buf_put(&b, p, n) == 0);
  put_seed(target, what, b.d, b.len);
  cdr_buf_free(&b);
}

static void put_seed_s(const char *target, const char *what, uint8_t prefix, const char *s) {
  put_seed_b(target, what, prefix, s, strlen(s));
}

static char *b64(const void *p, size_t n) {
  char *s = NULL;
  FUZZ_CHECK(cdr_b64_encode(&s, p, n) == 0);
  return s;
}

/* ---- protocol pieces, made as the client and enclave make them ---- */

static void frame(struct cdr_buf *out, uint32_t type, const struct cdr_buf *payload) {
  FUZZ_CHECK(cdr_buf_put_u32(out, type) == 0);
  FUZZ_CHECK(cdr_buf_put_u32(out, payload ? (uint32_t)payload->len : 0) == 0);
  if (payload && payload->len)
    FUZZ_CHECK(cdr_buf_put(out, payload->d, payload->len) == 0);
}

/* IPC_INIT: room id, CA certificate, sealed identity (empty: make one). */
static void init_payload(struct cdr_buf *p, X509 *ca, const struct cdr_buf *sealed_identity) {
  const struct fuzz_pki *k = fuzz_pki();
  uint8_t *der = NULL;
  size_t len = 0;
  struct ipc_init m;
  FUZZ_CHECK(cdr_cert_to_der(ca, &der, &len) == 0);
  memset(&m, 0, sizeof(m));
  memcpy(m.room_id, k->room_id, sizeof(m.room_id));
  m.ca_der = der;
  m.ca_len = len;
  m.sealed_identity = sealed_identity ? sealed_identity->d : NULL;
  m.sealed_identity_len = sealed_identity ? sealed_identity->len : 0;
  FUZZ_CHECK(ipc_put_init(p, &m) == 0);
  OPENSSL_free(der);
}

/* The fixture identity key sealed as the enclave seals it, with the sim
 * sealing key of fuzz_room_dir(). */
static void sealed_identity(struct cdr_buf *out) {
  const struct fuzz_pki *k = fuzz_pki();
  struct attest_provider *sim = attest_provider_find("sim");
  struct sealer sealer;
  unsigned char *raw = NULL;
  int n;
  FUZZ_CHECK(sim != NULL && sim->init(sim, fuzz_room_dir()) == 0);
  memcpy(sealer.room_id, k->room_id, sizeof(sealer.room_id));
  FUZZ_CHECK(sim->sealing_key(sim, sealer.root) == 0);
  FUZZ_CHECK((n = i2d_PrivateKey(k->identity_key, &raw)) > 0);
  FUZZ_CHECK(seal_blob(&sealer, SEAL_IDENTITY, "identity", 1, raw, (size_t)n, out) == 0);
  OPENSSL_clear_free(raw, (size_t)n);
  OPENSSL_cleanse(&sealer, sizeof(sealer));
  sim->fini(sim);
}

/* INIT, an empty LOAD and LOAD_DONE: the start-up handshake of cdrd. */
static void startup_frames(struct cdr_buf *s, const struct cdr_buf *sealed) {
  struct cdr_buf p;
  cdr_buf_init(&p, CDR_IPC_MAX_FRAME, 0);
  init_payload(&p, fuzz_pki()->ca, sealed);
  frame(s, IPC_INIT, &p);
  cdr_buf_free(&p);
  FUZZ_CHECK(ipc_put_load(&p, NULL, 0) == 0);
  frame(s, IPC_LOAD, &p);
  cdr_buf_free(&p);
  frame(s, IPC_LOAD_DONE, NULL);
}

/* The host's answer to a storage round. */
static void stored_frame(struct cdr_buf *s, int ok) {
  struct cdr_buf p;
  cdr_buf_init(&p, IPC_STATUS_MAX, 0);
  FUZZ_CHECK(ipc_put_status(&p, ok, ok ? "" : "disk full") == 0);
  frame(s, IPC_STORED, &p);
  cdr_buf_free(&p);
}

static void attest_payload(struct cdr_buf *p) {
  uint8_t nonce[CDR_NONCE_LEN];
  fuzz_fill(nonce, sizeof(nonce), FUZZ_BYTE_ATTEST_NONCE);
  FUZZ_CHECK(ipc_put_attest(p, nonce) == 0);
}

/* A session-open request by the analyst (or provider), signed, at time ts. */
static void open_request(struct cdr_open_req *q, struct cdr_buf *sig, int provider, uint64_t ts, uint32_t version) {
  const struct fuzz_pki *k = fuzz_pki();
  struct cdr_buf treq;
  memset(q, 0, sizeof(*q));
  q->version = version;
  q->cert_der = provider ? k->provider_der : k->analyst_der;
  q->cert_len = provider ? k->provider_der_len : k->analyst_der_len;
  q->user_spki = provider ? k->provider_spki : k->analyst_spki;
  q->user_spki_len = provider ? k->provider_spki_len : k->analyst_spki_len;
  FUZZ_CHECK(cdr_p256_point_get(q->client_share, k->share_key) == 0);
  fuzz_fill(q->client_nonce, sizeof(q->client_nonce), FUZZ_BYTE_CLIENT_NONCE);
  q->timestamp = ts;
  cdr_buf_init(&treq, 8u * CDR_MAX_CERT_DER, 0);
  cdr_buf_init(sig, CDR_MAX_SIGNATURE, 0);
  FUZZ_CHECK(cdr_open_req_transcript(&treq, q) == 0);
  FUZZ_CHECK(cdr_sign(sig, provider ? k->provider_key : k->analyst_key, treq.d, treq.len) == 0);
  q->sig = sig->d;
  q->sig_len = sig->len;
  cdr_buf_free(&treq);
}

static void open_payload(struct cdr_buf *p, int provider, uint64_t ts, uint32_t version) {
  struct cdr_open_req q;
  struct cdr_buf sig;
  open_request(&q, &sig, provider, ts, version);
  FUZZ_CHECK(ipc_put_open(p, &q) == 0);
  cdr_buf_free(&sig);
}

/* A request envelope in one of the injected sessions: plaintext
 * lp(header) || payload, sealed under the fixed keys, signed by `key`. */
struct request {
  struct cdr_request_env env;
  struct cdr_buf ct, sig;
};

static void make_request(struct request *rq, uint8_t sid_byte, EVP_PKEY *key, uint64_t seq, const char *header,
                         const char *payload) {
  struct cdr_session_keys keys;
  struct cdr_buf pt, sin;
  fuzz_session_keys(&keys);
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  cdr_buf_init(&sin, 1024, 0);
  cdr_buf_init(&rq->ct, CDR_MAX_CIPHERTEXT, 0);
  cdr_buf_init(&rq->sig, CDR_MAX_SIGNATURE, 0);
  FUZZ_CHECK(cdr_request_plaintext(&pt, header, payload, payload ? strlen(payload) : 0) == 0);
  memset(&rq->env, 0, sizeof(rq->env));
  fuzz_fill(rq->env.session_id, sizeof(rq->env.session_id), sid_byte);
  rq->env.seq = seq;
  rq->env.timestamp = (uint64_t)fuzz_now();
  FUZZ_CHECK(cdr_request_seal(&rq->ct, &keys, rq->env.session_id, seq, rq->env.timestamp, pt.d, pt.len) == 0);
  rq->env.ct = rq->ct.d;
  rq->env.ct_len = rq->ct.len;
  FUZZ_CHECK(cdr_request_sig_input(&sin, &rq->env) == 0);
  FUZZ_CHECK(cdr_sign(&rq->sig, key, sin.d, sin.len) == 0);
  rq->env.sig = rq->sig.d;
  rq->env.sig_len = rq->sig.len;
  cdr_buf_free(&pt);
  cdr_buf_free(&sin);
}

static void request_frame(struct cdr_buf *out, uint8_t sid_byte, EVP_PKEY *key, uint64_t seq, const char *header,
                          const char *payload) {
  struct request rq;
  struct cdr_buf p;
  make_request(&rq, sid_byte, key, seq, header, payload);
  cdr_buf_init(&p, CDR_IPC_MAX_FRAME, 0);
  FUZZ_CHECK(ipc_put_request(&p, &rq.env) == 0);
  frame(out, IPC_REQUEST, &p);
  cdr_buf_free(&p);
  cdr_buf_free(&rq.ct);
  cdr_buf_free(&rq.sig);
}

static const char visits_csv[] = "patient_id,visit,ward\n100001,2024-01-02,A\n100002,2024-02-03,B\n"
                                 "100003,2024-03-04,\"C, east\"\n";

/* ---- fuzz_ipc_frames ---- */

static void seeds_ipc_frames(void) {
  const struct fuzz_pki *k = fuzz_pki();
  const char *T = "fuzz_ipc_frames";
  struct cdr_buf s, p, sealed;
  cdr_buf_init(&s, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&p, CDR_IPC_MAX_FRAME, 0);
  cdr_buf_init(&sealed, 4096, 0);
  sealed_identity(&sealed);
#define START(mode) do { cdr_buf_free(&s); FUZZ_CHECK(cdr_buf_put_u8(&s, (mode)) == 0); } while (0)
#define PAYLOAD() cdr_buf_free(&p)
#define SAVE(name) put_seed(T, name, s.d, s.len)

  /* mode 0: from state INIT */
  START(0);
  PAYLOAD();
  init_payload(&p, k->ca, NULL);
  frame(&s, IPC_INIT, &p);
  SAVE("init");
  START(0);
  startup_frames(&s, NULL);
  PAYLOAD();
  attest_payload(&p);
  frame(&s, IPC_ATTEST, &p);
  PAYLOAD();
  open_payload(&p, 0, (uint64_t)fuzz_now(), CDR_PROTOCOL_VERSION);
  frame(&s, IPC_OPEN, &p);
  request_frame(&s, 0x99, k->analyst_key, 1, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  SAVE("startup-attest-open-request");
  START(0);
  startup_frames(&s, &sealed);
  PAYLOAD();
  attest_payload(&p);
  frame(&s, IPC_ATTEST, &p);
  SAVE("startup-sealed-identity-attest");
  START(0);
  sealed.d[sealed.len - 1] ^= 1;
  startup_frames(&s, &sealed);
  sealed.d[sealed.len - 1] ^= 1;
  SAVE("startup-tampered-identity");
  START(0);
  PAYLOAD();
  init_payload(&p, k->ca, NULL);
  frame(&s, IPC_INIT, &p);
  PAYLOAD();
  FUZZ_CHECK(ipc_put_load(&p, (const uint8_t *)"CDRSEAL1-not-really-a-manifest", 30) == 0);
  frame(&s, IPC_LOAD, &p);
  SAVE("load-bad-manifest");
  START(0);
  startup_frames(&s, NULL);
  PAYLOAD();
  {
    struct ipc_load_chunk c = {.id = "0123456789abcdef0123456789abcdef", .offset = 0,
                               .data = (const uint8_t *)"rows", .len = 4, .last = 1};
    FUZZ_CHECK(ipc_put_load_chunk(&p, &c) == 0);
  }
  frame(&s, IPC_LOAD_CHUNK, &p);
  SAVE("load-chunk-not-wanted");
  START(0);
  PAYLOAD();
  attest_payload(&p);
  frame(&s, IPC_ATTEST, &p);
  SAVE("attest-before-init");
  START(0);
  PAYLOAD();
  init_payload(&p, k->platform, NULL); /* not a CA */
  frame(&s, IPC_INIT, &p);
  SAVE("init-not-a-ca");
  START(0);
  frame(&s, 42, NULL);
  SAVE("unknown-type");
  START(0);
  FUZZ_CHECK(cdr_buf_put(&s, "\0\0\0\x07\xff\xff\xff\xf0", 8) == 0);
  SAVE("giant-length");

  /* mode 1: READY, with the provider's and the analyst's sessions */
  START(1);
  PAYLOAD();
  attest_payload(&p);
  frame(&s, IPC_ATTEST, &p);
  SAVE("ready-attest");
  START(1);
  PAYLOAD();
  open_payload(&p, 0, (uint64_t)fuzz_now(), CDR_PROTOCOL_VERSION);
  frame(&s, IPC_OPEN, &p);
  PAYLOAD();
  open_payload(&p, 1, (uint64_t)fuzz_now() - 1000, CDR_PROTOCOL_VERSION); /* stale */
  frame(&s, IPC_OPEN, &p);
  PAYLOAD();
  open_payload(&p, 1, (uint64_t)fuzz_now(), 2); /* unknown version */
  frame(&s, IPC_OPEN, &p);
  SAVE("ready-open");
  /* The provider uploads the fixture patients table (seq 1, with its
   * storage round), then the session's own requests follow. */
#define UPLOAD_PATIENTS()                                                                                        \
  do {                                                                                                           \
    request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 1,                                            \
                  "{\"op\":\"upload\",\"table\":\"patients\"}", fuzz_patients_csv);                                \
    stored_frame(&s, 1);                                                                                         \
    request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 2,                                            \
                  "{\"op\":\"grant\",\"table\":\"patients\",\"to\":\"role:analyst\",\"columns\":[\"age\",\"diagnosis\"]}", \
                  NULL);                                                                                         \
    stored_frame(&s, 1);                                                                                         \
  } while (0)
  START(1);
  UPLOAD_PATIENTS();
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 3, "{\"op\":\"upload\",\"table\":\"visits\"}",
                visits_csv);
  stored_frame(&s, 1);
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 4,
                "{\"op\":\"query\",\"sql\":\"SELECT v.ward, count(*) FROM visits v JOIN patients p USING "
                "(patient_id) GROUP BY 1\"}",
                NULL);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 1,
                "{\"op\":\"query\",\"sql\":\"SELECT diagnosis, avg(age) FROM patients GROUP BY diagnosis\"}", NULL);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 2, "{\"op\":\"query\",\"sql\":\"SELECT note FROM patients\"}",
                NULL);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 2, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 5, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  SAVE("ready-upload-query-replay");
  /* Owner operations that store (hide, replace, drop), then what an
   * analyst sees. */
  START(1);
  UPLOAD_PATIENTS();
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 3,
                "{\"op\":\"hide\",\"table\":\"patients\",\"column\":\"age\"}", NULL);
  stored_frame(&s, 1);
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 4,
                "{\"op\":\"upload\",\"table\":\"patients\",\"replace\":true}", fuzz_patients_csv);
  stored_frame(&s, 1);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 1, "{\"op\":\"tables\"}", NULL);
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 5, "{\"op\":\"drop\",\"table\":\"patients\"}", NULL);
  stored_frame(&s, 1);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 2, "{\"op\":\"tables\"}", NULL);
  SAVE("ready-owner-operations");
  /* A storage round refused by the host, then one answered with the
   * wrong frame. */
  START(1);
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 1, "{\"op\":\"upload\",\"table\":\"visits\"}",
                visits_csv);
  stored_frame(&s, 0);
  SAVE("ready-store-refused");
  START(1);
  request_frame(&s, FUZZ_BYTE_PROVIDER_SESSION, k->provider_key, 1, "{\"op\":\"upload\",\"table\":\"visits\"}",
                visits_csv);
  frame(&s, IPC_ATTEST, NULL); /* not STORED */
  SAVE("ready-store-wrong-answer");
#undef UPLOAD_PATIENTS
  START(1);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->provider_key, 1, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  request_frame(&s, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 1, "{\"op\":\"upload\",\"table\":\"x\"}", "a\n1\n");
  request_frame(&s, 0x01, k->analyst_key, 1, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  SAVE("ready-wrong-key-role-session");
  START(1);
  startup_frames(&s, NULL);
  SAVE("ready-init-again");

  /* mode 2: the decoders */
  {
    struct cdr_open_req q;
    struct cdr_buf sig;
    struct cdr_open_resp o;
    struct request rq;
    struct cdr_response_env re;
    open_request(&q, &sig, 0, (uint64_t)fuzz_now(), CDR_PROTOCOL_VERSION);
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 0) == 0 && ipc_put_open(&s, &q) == 0);
    SAVE("decode-open");
    memset(&o, 0, sizeof(o));
    fuzz_fill(o.session_id, sizeof(o.session_id), 0x0e);
    o.expires_at = (uint64_t)fuzz_now() + 3600;
    o.kem = CDR_KEM_ECDH_P256;
    o.encap = q.client_share;
    o.encap_len = sizeof(q.client_share);
    o.sealed = (const uint8_t *)"sealed-parameters";
    o.sealed_len = 17;
    o.sig = q.sig;
    o.sig_len = q.sig_len;
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 1) == 0 && ipc_put_open_ok(&s, &o) == 0);
    SAVE("decode-open-ok");
    make_request(&rq, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 1, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 2) == 0 && ipc_put_request(&s, &rq.env) == 0);
    SAVE("decode-request");
    memset(&re, 0, sizeof(re));
    memcpy(re.session_id, rq.env.session_id, sizeof(re.session_id));
    re.seq = 1;
    re.status = CDR_STATUS_FAILED;
    re.ct = rq.ct.d;
    re.ct_len = rq.ct.len;
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 3) == 0 && ipc_put_response(&s, &re) == 0);
    SAVE("decode-response");
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 4) == 0 && ipc_put_error(&s, CDR_ERR_REPLAY, "replayed") == 0);
    SAVE("decode-error");
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 5) == 0 && ipc_put_status(&s, 1, "stored") == 0);
    SAVE("decode-status");
    START(2);
    FUZZ_CHECK(cdr_buf_put_u8(&s, 6) == 0 && cdr_buf_put_u32(&s, 2) == 0 &&
               ipc_put_store_item(&s, IPC_STORE_PUT, "tables/0123456789abcdef0123456789abcdef", "data", 4) == 0 &&
               ipc_put_store_item(&s, IPC_STORE_DELETE, "manifest", NULL, 0) == 0);
    SAVE("decode-store");
    /* selectors from 0x80: the start, load, revocation and fetch codecs */
    {
      struct ipc_init_ok iok = {.identity_spki = q.user_spki, .identity_spki_len = q.user_spki_len,
                                .measurement = q.client_nonce, .measurement_len = 32, .platform = "sim",
                                .new_sealed_identity = NULL, .new_sealed_identity_len = 0};
      struct ipc_attest_ok aok = {.platform = "sim", .evidence = q.client_share, .evidence_len = sizeof(q.client_share),
                                  .ncerts = 1, .certs = {q.cert_der}, .cert_lens = {q.cert_len}};
      struct ipc_load_chunk ch = {.id = "0123456789abcdef0123456789abcdef", .offset = 4096,
                                  .data = (const uint8_t *)"rows", .len = 4, .last = 0};
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x80) == 0);
      init_payload(&s, k->ca, NULL);
      SAVE("decode-init");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x81) == 0 && ipc_put_init_ok(&s, &iok) == 0);
      SAVE("decode-init-ok");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x82) == 0);
      attest_payload(&s);
      SAVE("decode-attest");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x83) == 0 && ipc_put_attest_ok(&s, &aok) == 0);
      SAVE("decode-attest-ok");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x84) == 0 && ipc_put_load(&s, (const uint8_t *)"manifest", 8) == 0);
      SAVE("decode-load");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x85) == 0 && ipc_put_load_want_count(&s, 2) == 0 &&
                 ipc_put_table_id(&s, "0123456789abcdef0123456789abcdef") == 0 &&
                 ipc_put_table_id(&s, "fedcba9876543210fedcba9876543210") == 0);
      SAVE("decode-load-want");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x86) == 0 && ipc_put_load_chunk(&s, &ch) == 0);
      SAVE("decode-load-chunk");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x88) == 0 && ipc_put_crl(&s, q.cert_der, q.cert_len) == 0);
      SAVE("decode-crl");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x89) == 0 && ipc_put_crl_ok(&s, 7, 2) == 0);
      SAVE("decode-crl-ok");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x8a) == 0 && ipc_put_fetch(&s, "audit", 0, 65536) == 0);
      SAVE("decode-fetch");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x8b) == 0 && ipc_put_fetched(&s, 1, "record", 6) == 0);
      SAVE("decode-fetched");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x8c) == 0 && ipc_put_propose(&s, (const uint8_t *)"{\"type\":1}", 10) == 0);
      SAVE("decode-propose");
      START(2);
      FUZZ_CHECK(cdr_buf_put_u8(&s, 0x8d) == 0 && ipc_put_propose_ok(&s, 2, (const uint8_t *)"0123456789abcdef0123456789abcdef", 3) == 0);
      SAVE("decode-propose-ok");
    }
    cdr_buf_free(&sig);
    cdr_buf_free(&rq.ct);
    cdr_buf_free(&rq.sig);
  }
#undef START
#undef PAYLOAD
#undef SAVE
  cdr_buf_free(&s);
  cdr_buf_free(&p);
  cdr_buf_free(&sealed);
}

/* ---- fuzz_enclave_ops: who byte (fuzz_who; 4: no role) + plaintext ---- */

static void ops_seed(const char *what, uint8_t who, const char *header, const char *payload) {
  struct cdr_buf pt;
  cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
  FUZZ_CHECK(cdr_buf_put_u8(&pt, who) == 0);
  FUZZ_CHECK(cdr_request_plaintext(&pt, header, payload, payload ? strlen(payload) : 0) == 0);
  put_seed("fuzz_enclave_ops", what, pt.d, pt.len);
  cdr_buf_free(&pt);
}

static void seeds_enclave_ops(void) {
  ops_seed("upload", 0, "{\"op\":\"upload\",\"table\":\"visits\"}", visits_csv);
  ops_seed("upload-replace", 0, "{\"op\":\"upload\",\"table\":\"patients\",\"replace\":true}", visits_csv);
  ops_seed("upload-replace-not-owner", 2, "{\"op\":\"upload\",\"table\":\"patients\",\"replace\":true}", "a\n1\n");
  ops_seed("upload-existing", 0, "{\"op\":\"upload\",\"table\":\"patients\"}", "a\n1\n");
  ops_seed("upload-bad-name", 0, "{\"op\":\"upload\",\"table\":\"sqlite_x\"}", "a\n1\n");
  ops_seed("upload-as-analyst", 1, "{\"op\":\"upload\",\"table\":\"t\"}", "a\n1\n");
  ops_seed("query-owner", 0, "{\"op\":\"query\",\"sql\":\"SELECT sex, count(*), avg(cost_eur) FROM patients GROUP BY sex\"}",
           NULL);
  ops_seed("query-analyst", 1, "{\"op\":\"query\",\"sql\":\"SELECT diagnosis, avg(age) FROM patients GROUP BY 1\"}", NULL);
  ops_seed("query-analyst-hidden", 1, "{\"op\":\"query\",\"sql\":\"SELECT note FROM patients\"}", NULL);
  ops_seed("query-auditor", 3, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  ops_seed("query-with-payload", 1, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", "payload");
  ops_seed("query-denied", 1, "{\"op\":\"query\",\"sql\":\"SELECT * FROM sqlite_master\"}", NULL);
  ops_seed("query-sql-not-string", 1, "{\"op\":\"query\",\"sql\":1}", NULL);
  ops_seed("tables-owner", 0, "{\"op\":\"tables\"}", NULL);
  ops_seed("tables-analyst", 1, "{\"op\":\"tables\"}", NULL);
  ops_seed("grant", 0, "{\"op\":\"grant\",\"table\":\"ledger\",\"to\":\"ana@fuzz.example\",\"columns\":[\"account\"]}",
           NULL);
  ops_seed("grant-all", 0, "{\"op\":\"grant\",\"table\":\"ledger\",\"to\":\"role:auditor\",\"columns\":\"all\"}", NULL);
  ops_seed("grant-not-owner", 2, "{\"op\":\"grant\",\"table\":\"patients\",\"to\":\"role:analyst\"}", NULL);
  ops_seed("revoke", 0, "{\"op\":\"revoke_grant\",\"table\":\"patients\",\"to\":\"role:analyst\"}", NULL);
  ops_seed("hide", 0, "{\"op\":\"hide\",\"table\":\"patients\",\"column\":\"age\",\"hidden\":true}", NULL);
  ops_seed("unhide", 0, "{\"op\":\"hide\",\"table\":\"patients\",\"column\":\"note\",\"hidden\":false}", NULL);
  ops_seed("drop", 0, "{\"op\":\"drop\",\"table\":\"ledger\"}", NULL);
  ops_seed("drop-not-owner", 2, "{\"op\":\"drop\",\"table\":\"ledger\"}", NULL);
  ops_seed("no-role", 4, "{\"op\":\"tables\"}", NULL);
  ops_seed("unknown-op", 0, "{\"op\":\"explode\"}", NULL);
  ops_seed("duplicate-keys", 0, "{\"op\":\"query\",\"op\":\"upload\"}", NULL);
  ops_seed("not-an-object", 1, "[\"query\"]", NULL);
  put_seed("fuzz_enclave_ops", "no-header", "\x01\x00\x00", 3);
}

/* ---- fuzz_http_json: route index + body ---- */

static size_t route_index(const char *method, const char *path) {
  size_t n;
  const struct http_route *r = host_routes(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(r[i].method, method) == 0 && strcmp(r[i].path, path) == 0)
      return i;
  FUZZ_CHECK(!"route not found");
  return 0;
}

static char *csr_pem(EVP_PKEY *key, const char *cn) {
  X509_REQ *req = X509_REQ_new();
  X509_NAME *n = X509_NAME_new();
  BIO *b = BIO_new(BIO_s_mem());
  BUF_MEM *bm;
  FUZZ_CHECK(req && n && b);
  FUZZ_CHECK(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1);
  FUZZ_CHECK(X509_REQ_set_subject_name(req, n) == 1 && X509_REQ_set_pubkey(req, key) == 1);
  FUZZ_CHECK(X509_REQ_sign(req, key, EVP_sha256()) > 0);
  FUZZ_CHECK(PEM_write_bio_X509_REQ(b, req) == 1);
  BIO_get_mem_ptr(b, &bm);
  char *s = malloc(bm->length + 1);
  FUZZ_CHECK(s != NULL);
  memcpy(s, bm->data, bm->length);
  s[bm->length] = '\0';
  BIO_free(b);
  X509_NAME_free(n);
  X509_REQ_free(req);
  return s;
}

static void seeds_http_json(void) {
  const struct fuzz_pki *k = fuzz_pki();
  const char *T = "fuzz_http_json";
  uint8_t raw[32];
  char *s1, *s2, *s3, *s4, *s5, *s6;
  json_t *j;
  char *body;

  put_seed_s(T, "health", (uint8_t)route_index("GET", "/v1/health"), "");
  put_seed_s(T, "room", (uint8_t)route_index("GET", "/v1/room"), "");

  char *pem = csr_pem(k->analyst_key, "ana@fuzz.example");
  fuzz_fill(raw, sizeof(raw), 0x42);
  s1 = b64(raw, 32);
  j = json_pack("{s:s, s:s, s:s}", "token_id", "0123456789abcdef0123456789abcdef", "csr", pem, "mac", s1);
  body = json_dumps(j, JSON_COMPACT);
  put_seed_s(T, "enroll", (uint8_t)route_index("POST", "/v1/enroll"), body);
  free(body);
  json_decref(j);
  free(pem);
  free(s1);

  fuzz_fill(raw, sizeof(raw), FUZZ_BYTE_ATTEST_NONCE);
  s1 = b64(raw, 32);
  j = json_pack("{s:s}", "nonce", s1);
  body = json_dumps(j, JSON_COMPACT);
  put_seed_s(T, "attest", (uint8_t)route_index("POST", "/v1/attest"), body);
  free(body);
  json_decref(j);
  free(s1);

  struct cdr_open_req q;
  struct cdr_buf sig;
  open_request(&q, &sig, 0, (uint64_t)fuzz_now(), CDR_PROTOCOL_VERSION);
  s1 = b64(q.cert_der, q.cert_len);
  s2 = b64(q.user_spki, q.user_spki_len);
  s3 = b64(q.client_share, sizeof(q.client_share));
  s4 = b64(q.client_nonce, sizeof(q.client_nonce));
  s5 = b64(q.sig, q.sig_len);
  j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:s}", "version", 1, "certificate", s1, "user_public_key", s2,
                "client_key_share", s3, "client_nonce", s4, "timestamp", (json_int_t)q.timestamp, "signature", s5);
  body = json_dumps(j, JSON_COMPACT);
  put_seed_s(T, "session", (uint8_t)route_index("POST", "/v1/session"), body);
  free(body);
  json_decref(j);
  free(s1);
  free(s2);
  free(s3);
  free(s4);
  free(s5);
  cdr_buf_free(&sig);

  struct request rq;
  make_request(&rq, FUZZ_BYTE_ANALYST_SESSION, k->analyst_key, 1, "{\"op\":\"query\",\"sql\":\"SELECT 1\"}", NULL);
  s1 = b64(rq.env.session_id, sizeof(rq.env.session_id));
  s2 = b64(rq.env.ct, rq.env.ct_len);
  s6 = b64(rq.env.sig, rq.env.sig_len);
  j = json_pack("{s:s, s:I, s:I, s:s, s:s}", "session_id", s1, "seq", (json_int_t)1, "timestamp",
                (json_int_t)rq.env.timestamp, "ciphertext", s2, "signature", s6);
  body = json_dumps(j, JSON_COMPACT);
  put_seed_s(T, "request", (uint8_t)route_index("POST", "/v1/request"), body);
  free(body);
  json_decref(j);
  free(s1);
  free(s2);
  free(s6);
  cdr_buf_free(&rq.ct);
  cdr_buf_free(&rq.sig);

  uint8_t session = (uint8_t)route_index("POST", "/v1/session");
  put_seed_s(T, "not-json", session, "{\"version\":");
  put_seed_s(T, "array", session, "[1,2,3]");
  put_seed_s(T, "duplicate-keys", session, "{\"version\":1,\"version\":1}");
  put_seed_s(T, "bad-base64", session, "{\"version\":1,\"certificate\":\"@@@\"}");
  put_seed_s(T, "negative-version", session, "{\"version\":-1}");
  put_seed_s(T, "scalar", (uint8_t)route_index("POST", "/v1/attest"), "\"nonce\"");
}

/* ---- fuzz_csr ---- */

static void seeds_csr(void) {
  const struct fuzz_pki *k = fuzz_pki();
  char *pem = csr_pem(k->analyst_key, "ana@fuzz.example");
  put_seed("fuzz_csr", "valid", pem, strlen(pem));
  free(pem);
  pem = csr_pem(k->provider_key, "someone@else.example");
  put_seed("fuzz_csr", "other-subject", pem, strlen(pem));
  /* The same with its signature broken (a byte in the base64 of the tail). */
  size_t n = strlen(pem);
  char *end = strstr(pem, "\n-----END");
  if (end != NULL && end - pem > 10)
    end[-5] = end[-5] == 'A' ? 'B' : 'A';
  put_seed("fuzz_csr", "bad-signature", pem, n);
  free(pem);
  EVP_PKEY *rsa = NULL;
  FUZZ_CHECK(cdr_key_generate(&rsa, "rsa", 1024) == 0 || cdr_key_generate(&rsa, "rsa", 2048) == 0);
  pem = csr_pem(rsa, "ana@fuzz.example");
  put_seed("fuzz_csr", "rsa", pem, strlen(pem));
  free(pem);
  EVP_PKEY_free(rsa);
  const char *garbage = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
  put_seed("fuzz_csr", "truncated", garbage, strlen(garbage));
  put_seed("fuzz_csr", "certificate-not-csr", k->ca_cert_pem, strlen(k->ca_cert_pem));
}

/* ---- fuzz_cert: 0 + DER or 1 + PEM ---- */

static void seeds_cert(void) {
  const struct fuzz_pki *k = fuzz_pki();
  put_seed_b("fuzz_cert", "analyst-der", 0, k->analyst_der, k->analyst_der_len);
  put_seed_b("fuzz_cert", "provider-der", 0, k->provider_der, k->provider_der_len);
  put_seed_b("fuzz_cert", "platform-der", 0, k->platform_der, k->platform_der_len);
  put_seed_b("fuzz_cert", "ca-der", 0, k->ca_der, k->ca_der_len);
  put_seed_s("fuzz_cert", "analyst-pem", 1, k->analyst_cert_pem);
  put_seed_s("fuzz_cert", "ca-pem", 1, k->ca_cert_pem);
}

/* ---- fuzz_client_responses: mode [+ status index] + body ---- */

static void client_seed(const char *what, uint8_t mode, int status_index, json_t *j) {
  char *body = json_dumps(j, JSON_COMPACT);
  struct cdr_buf s;
  FUZZ_CHECK(body != NULL);
  cdr_buf_init(&s, 16u * CDR_MiB, 0);
  FUZZ_CHECK(cdr_buf_put_u8(&s, mode) == 0);
  if (status_index >= 0)
    FUZZ_CHECK(cdr_buf_put_u8(&s, (uint8_t)status_index) == 0);
  FUZZ_CHECK(cdr_buf_put(&s, body, strlen(body)) == 0);
  put_seed("fuzz_client_responses", what, s.d, s.len);
  cdr_buf_free(&s);
  free(body);
  json_decref(j);
}

#define CONTRACT_HEX "4200000000000000000000000000000000000000000000000000000000000000"

static void seeds_client_responses(void) {
  const struct fuzz_pki *k = fuzz_pki();
  uint8_t nonce[32], meas[32], rd[64];
  struct cdr_buf ev, sig;
  char rid[33], fp[65];

  /* mode 0: the attestation answer */
  fuzz_fill(nonce, sizeof(nonce), FUZZ_BYTE_ATTEST_NONCE);
  fuzz_fill(meas, sizeof(meas), FUZZ_BYTE_MEASUREMENT);
  static const uint8_t contract[32] = {0x42}; /* an active version 1 (any hash) */
  FUZZ_CHECK(cdr_report_data(rd, k->identity_spki, k->identity_spki_len, k->room_id, k->ca_fp, contract, nonce) == 0);
  cdr_buf_init(&ev, 1024, 0);
  cdr_buf_init(&sig, 256, 0);
  FUZZ_CHECK(cdr_buf_put(&ev, "CDRSIM\x00\x01", 8) == 0 && cdr_buf_put(&ev, meas, 32) == 0 &&
             cdr_buf_put(&ev, rd, 64) == 0 && cdr_buf_put_u64(&ev, (uint64_t)fuzz_now()) == 0);
  FUZZ_CHECK(cdr_sign(&sig, k->platform_key, ev.d, 112) == 0 && cdr_buf_put_lp(&ev, sig.d, sig.len) == 0);
  cdr_hex_encode(rid, k->room_id, 16);
  cdr_hex_encode(fp, k->ca_fp, 32);
  char *e = b64(ev.d, ev.len), *c = b64(k->platform_der, k->platform_der_len),
       *sp = b64(k->identity_spki, k->identity_spki_len), *ca = b64(k->ca_der, k->ca_der_len);
  client_seed("attest", 0, -1,
              json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:i}", "platform", "sim", "evidence", e, "certificates", c,
                        "identity_public_key", sp, "room_id", rid, "ca_fingerprint", fp, "contract_sha256", CONTRACT_HEX,
                        "contract_version", 1));
  client_seed("attest-ca-as-platform", 0, -1,
              json_pack("{s:s, s:s, s:[s], s:s, s:s, s:s, s:s, s:i}", "platform", "sim", "evidence", e, "certificates", ca,
                        "identity_public_key", sp, "room_id", rid, "ca_fingerprint", fp, "contract_sha256", CONTRACT_HEX,
                        "contract_version", 1));
  client_seed("attest-snp", 0, -1,
              json_pack("{s:s, s:s, s:[], s:s, s:s, s:s, s:s, s:i}", "platform", "snp", "evidence", e, "certificates",
                        "identity_public_key", sp, "room_id", rid, "ca_fingerprint", fp, "contract_sha256", CONTRACT_HEX,
                        "contract_version", 1));
  free(e);
  free(c);
  free(sp);
  free(ca);
  cdr_buf_free(&ev);
  cdr_buf_free(&sig);

  /* mode 1: the session-open answer */
  {
    uint8_t treq_hash[32], nonce2[32], params[CDR_SESSION_PARAMS_LEN];
    struct cdr_open_resp o;
    struct cdr_buf encap, sealed, tresp, osig;
    EVP_PKEY *ekey = NULL;
    fuzz_fill(treq_hash, sizeof(treq_hash), FUZZ_BYTE_TREQ_HASH);
    fuzz_fill(nonce2, sizeof(nonce2), FUZZ_BYTE_CLIENT_NONCE);
    memset(&o, 0, sizeof(o));
    fuzz_fill(o.session_id, sizeof(o.session_id), FUZZ_BYTE_OPEN_SESSION);
    o.expires_at = (uint64_t)(fuzz_now() + FUZZ_SESSION_LIFETIME);
    memcpy(params, o.session_id, CDR_SESSION_ID_LEN);
    for (int i = 0; i < 8; i++)
      params[CDR_SESSION_ID_LEN + i] = (uint8_t)(o.expires_at >> (56 - 8 * i));
    FUZZ_CHECK(cdr_ec_p256_generate(&ekey) == 0 && cdr_p256_point_get(params + CDR_SESSION_ID_LEN + 8, ekey) == 0);
    cdr_buf_init(&encap, 1024, 0);
    cdr_buf_init(&sealed, 1024, 0);
    cdr_buf_init(&tresp, 8u * CDR_MAX_CERT_DER, 0);
    cdr_buf_init(&osig, CDR_MAX_SIGNATURE, 0);
    FUZZ_CHECK(cdr_seal_to_user(k->analyst_key, NULL, treq_hash, sizeof(treq_hash), params, sizeof(params), &o.kem,
                                &encap, &sealed) == 0);
    o.encap = encap.d;
    o.encap_len = encap.len;
    o.sealed = sealed.d;
    o.sealed_len = sealed.len;
    FUZZ_CHECK(cdr_open_resp_transcript(&tresp, treq_hash, k->analyst_fp, nonce2, &o) == 0);
    FUZZ_CHECK(cdr_sign(&osig, k->identity_key, tresp.d, tresp.len) == 0);
    char *a = b64(o.session_id, sizeof(o.session_id)), *b = b64(encap.d, encap.len), *d = b64(sealed.d, sealed.len),
         *f = b64(osig.d, osig.len);
    client_seed("session-open", 1, -1,
                json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "session_id", a, "expires_at", (json_int_t)o.expires_at,
                          "kem", cdr_kem_name(o.kem), "encapsulated_key", b, "sealed", d, "signature", f));
    client_seed("session-open-rsa-kem", 1, -1,
                json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "session_id", a, "expires_at", (json_int_t)o.expires_at,
                          "kem", "rsa-oaep-sha256", "encapsulated_key", b, "sealed", d, "signature", f));
    free(a);
    free(b);
    free(d);
    free(f);
    EVP_PKEY_free(ekey);
    cdr_buf_free(&encap);
    cdr_buf_free(&sealed);
    cdr_buf_free(&tresp);
    cdr_buf_free(&osig);
  }

  /* mode 2: responses to request seq 1 of the analyst's session (status index 0 = 200, 1 = 422) */
  {
    static const char *const pts[] = {
        "{\"ok\":true,\"result\":{\"columns\":[\"n\"],\"rows\":[[1]],\"row_count\":1}}",
        "{\"ok\":false,\"error\":\"sql_denied\",\"message\":\"ATTACH is not allowed\"}"};
    struct cdr_session_keys keys;
    uint8_t sid[16], cth[32];
    fuzz_session_keys(&keys);
    fuzz_fill(sid, sizeof(sid), FUZZ_BYTE_ANALYST_SESSION);
    fuzz_fill(cth, sizeof(cth), FUZZ_BYTE_REQ_CT_HASH);
    for (int i = 0; i < 2; i++) {
      struct cdr_buf pt, ct;
      cdr_buf_init(&pt, CDR_MAX_PLAINTEXT, 0);
      cdr_buf_init(&ct, CDR_MAX_CIPHERTEXT, 0);
      FUZZ_CHECK(cdr_buf_put(&pt, pts[i], strlen(pts[i])) == 0 && cdr_pad_spaces(&pt) == 0);
      FUZZ_CHECK(cdr_response_seal(&ct, &keys, sid, 1, (uint8_t)(i ? CDR_STATUS_FAILED : CDR_STATUS_OK), cth, pt.d,
                                   pt.len) == 0);
      char *a = b64(sid, sizeof(sid)), *b = b64(ct.d, ct.len);
      if (i == 0)
        client_seed("response-ok", 2, 0,
                    json_pack("{s:s, s:I, s:s, s:s}", "session_id", a, "seq", (json_int_t)1, "status", "ok",
                              "ciphertext", b));
      else
        client_seed("response-failed", 2, 1,
                    json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "session_id", a, "seq", (json_int_t)1, "status",
                              "failed", "ciphertext", b, "error", "request_failed", "message", "sealed"));
      free(a);
      free(b);
      cdr_buf_free(&pt);
      cdr_buf_free(&ct);
    }
  }

  /* mode 3: clear errors (status index 2 = 400, 8 = 500) */
  client_seed("error-replay", 3, 2, json_pack("{s:s, s:s}", "error", "replay", "message", "seen \x1b[31m before"));
  client_seed("error-ok", 3, 8, json_pack("{s:s}", "error", "ok"));
  client_seed("error-unknown", 3, 8, json_pack("{s:s, s:s}", "error", "no_such_code", "message", "\xc2\x9b"));

  /* mode 4: results to render */
  client_seed("result", 4, -1,
              json_pack("{s:[s,s,s], s:[[i,s,n],[f,{s:s},s]], s:i}", "columns", "id", "na,me", "q\"t", "rows", 1,
                        "plain", -2.5, "hex", "00ff", "two\nlines", "row_count", 2));
}

/* ---- fuzz_csv: chunk byte + CSV ---- */

static void seeds_csv(void) {
  static const char *const csvs[] = {
      "a,b\n1,2\n3,4\n", "a,b\r\n1,2\r\n", "a,b\n1,2", "a,b,c\n,,\n1,,\n",
      "name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n\"multi\nline\",x\n4,5\n", "a\n\"x\r\ny\"\n",
      "\xEF\xBB\xBF" "a,b\n1,2\n", "a\n1\n\n\n\r\n", "a\n1\n\n2\n",
      "\xe5\x90\x8d\xe5\x89\x8d,\xc3\xa9\n\xF0\x9F\x98\x80,\xF4\x8F\xBF\xBF\n", "a,b\n1\n", "a\n\"unterminated\n",
      "a,a\n1,2\n", ",b\n1,2\n", "a\rb\n", "a\n\xc0\xaf\n", "x,y,z\n-9223372036854775808,1e308,007\n"
      "9223372036854775808,-0.0,.5\n", ""};
  char what[32];
  for (size_t i = 0; i < sizeof(csvs) / sizeof(csvs[0]); i++) {
    snprintf(what, sizeof(what), "%02zu", i);
    put_seed_s("fuzz_csv", what, (uint8_t)(i * 7), csvs[i]);
  }
  put_seed_s("fuzz_csv", "patients", 3, fuzz_patients_csv);
}

/* ---- fuzz_dp_ledger: the sealed budget ledger ---- */

static void seeds_dp_ledger(void) {
  static const uint8_t a[32] = {1}, b2[32] = {2};
  struct dp_ledger *l = NULL;
  struct cdr_buf b;
  char what[16];
  FUZZ_CHECK(dp_ledger_new(&l) == 0);
  for (int i = 0; i < 4; i++) {
    cdr_buf_init(&b, DP_LEDGER_MAX_BYTES, 0);
    FUZZ_CHECK(dp_ledger_encode(l, &b) == 0);
    snprintf(what, sizeof(what), "%02d", i);
    put_seed("fuzz_dp_ledger", what, b.d, b.len);
    cdr_buf_free(&b);
    /* Each seed adds a charge: a table, a second analyst, a second table. */
    FUZZ_CHECK(dp_ledger_charge(l, i == 2 ? "Claims" : "visits", i == 1 ? b2 : a, 3000000, 0, 100000 * (i + 1),
                                1000, NULL) == 0);
  }
  dp_ledger_free(l);
}

/* ---- fuzz_sql: SQL text ---- */

static void seeds_sql(void) {
  static const char *const sqls[] = {
      "SELECT count(*) AS n FROM patients",
      "SELECT diagnosis, count(*) AS n, sum(age) FROM patients GROUP BY diagnosis ORDER BY diagnosis",
      "SELECT rowid, * FROM patients ORDER BY 1 DESC LIMIT 3",
      "SELECT key, value FROM json_each('[10,20]')",
      "SELECT count(*) AS n FROM json_tree('{\"a\":[1]}')",
      "  -- leading comment\n/* block */ ;SELECT 1 AS one;; -- trailing\n /* c */ ;",
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100) SELECT sum(x) FROM c",
      "VALUES (1, 'a'), (2, x'00ff'), (3.5, NULL)",
      "SELECT 1e308 * 10, -1e308 * 10, 0.0 / 0.0, randomblob(4), zeroblob(3), char(0xd800)",
      "SELECT p.ward FROM patients p JOIN patients q USING (patient_id)",
      "WITH x AS (SELECT 1) DELETE FROM patients",
      "WITH x AS (SELECT 1, 2) INSERT INTO patients SELECT * FROM x",
      "CREATE TABLE x AS SELECT * FROM patients",
      "CREATE TEMP TABLE x(a)",
      "ATTACH DATABASE ':memory:' AS x",
      "PRAGMA writable_schema=1",
      "SELECT * FROM pragma_table_info('patients')",
      "SELECT load_extension('x')",
      "SELECT * FROM sqlite_master",
      "SELECT * FROM temp.sqlite_master",
      "SELECT * FROM dbstat",
      "VACUUM",
      "EXPLAIN SELECT * FROM patients",
      "SELECT 1; DROP TABLE patients",
      "UPDATE patients SET age = 0",
      "REPLACE INTO patients (patient_id) VALUES (1)",
      "SELECT json_extract('{\"a\":1}', '$.b[')",
      "SELECT printf('%.*c', 1000000, 'x')",
      "SELECT group_concat(note, char(10)) FROM patients",
      "SELECT * FROM patients WHERE note LIKE '%cardio%' ESCAPE '\\'",
      "SELECT substr(diagnosis, -3, 2), upper(sex), instr(note, ',') FROM patients",
      "SELECT CAST(cost_eur AS INTEGER) % 7, age / 0, abs(-9223372036854775807 - 1) FROM patients",
      "SELECT * FROM (SELECT * FROM patients ORDER BY random()) LIMIT 1 OFFSET 2",
      "SELECT max(age) OVER (PARTITION BY sex ORDER BY age ROWS 2 PRECEDING) FROM patients",
  };
  static const char *const analyst_sqls[] = {
      "SELECT note FROM patients",
      "SELECT * FROM patients",
      "SELECT age, sex, diagnosis FROM patients ORDER BY age",
      "SELECT count(*), rowid FROM patients",
      "SELECT count(*) FROM ledger",
      "SELECT a.age FROM patients a JOIN patients b USING (patient_id)",
      "SELECT age FROM patients NATURAL JOIN ledger",
      "SELECT diagnosis FROM patients WHERE cost_eur > 1000",
      "SELECT diagnosis FROM patients ORDER BY systolic_bp",
      "SELECT (SELECT max(balance) FROM ledger), age FROM patients",
      "WITH x AS (SELECT * FROM patients) SELECT age FROM x",
      "SELECT json_object('a', age, 'b', note) FROM patients",
  };
  char what[32];
  for (size_t i = 0; i < sizeof(sqls) / sizeof(sqls[0]); i++) {
    snprintf(what, sizeof(what), "owner-%02zu", i);
    put_seed_s("fuzz_sql", what, FUZZ_WHO_PROVIDER, sqls[i]);
  }
  for (size_t i = 0; i < sizeof(analyst_sqls) / sizeof(analyst_sqls[0]); i++) {
    snprintf(what, sizeof(what), "analyst-%02zu", i);
    put_seed_s("fuzz_sql", what, FUZZ_WHO_ANALYST, analyst_sqls[i]);
  }
  put_seed_s("fuzz_sql", "auditor", FUZZ_WHO_AUDITOR, "SELECT age FROM patients");
  put_seed_s("fuzz_sql", "other-provider", FUZZ_WHO_OTHER_PROVIDER, "SELECT count(*) FROM patients");
}

/* ---- hardware attestation: flags + u32 at + [...] + evidence ---- */

/* Minimal CBOR: a head (major type, argument). */
static void cbor_head(struct cdr_buf *b, uint8_t major, uint64_t v) {
  uint8_t m = (uint8_t)(major << 5);
  if (v < 24) {
    FUZZ_CHECK(cdr_buf_put_u8(b, (uint8_t)(m | v)) == 0);
  } else if (v < 256) {
    FUZZ_CHECK(cdr_buf_put_u8(b, m | 24) == 0 && cdr_buf_put_u8(b, (uint8_t)v) == 0);
  } else if (v < 65536) {
    FUZZ_CHECK(cdr_buf_put_u8(b, m | 25) == 0 && cdr_buf_put_u8(b, (uint8_t)(v >> 8)) == 0 &&
               cdr_buf_put_u8(b, (uint8_t)v) == 0);
  } else {
    FUZZ_CHECK(cdr_buf_put_u8(b, m | 27) == 0 && cdr_buf_put_u64(b, v) == 0);
  }
}

static void cbor_bytes(struct cdr_buf *b, const void *p, size_t n) {
  cbor_head(b, 2, n);
  FUZZ_CHECK(cdr_buf_put(b, p, n) == 0);
}

static void cbor_text(struct cdr_buf *b, const char *s) {
  cbor_head(b, 3, strlen(s));
  FUZZ_CHECK(cdr_buf_put(b, s, strlen(s)) == 0);
}

static void hw_seed_at(const char *target, const char *what, uint8_t flags, uint32_t at, const void *certs,
                       size_t certs_len, const void *coll, size_t coll_len, const struct cdr_buf *ev) {
  struct cdr_buf s;
  cdr_buf_init(&s, 16u * CDR_MiB, 0);
  FUZZ_CHECK(cdr_buf_put_u8(&s, flags) == 0 && cdr_buf_put_u32(&s, at) == 0);
  if (flags & 16)
    FUZZ_CHECK(cdr_buf_put_u32(&s, (uint32_t)certs_len) == 0 && cdr_buf_put(&s, certs, certs_len) == 0);
  if (flags & 32)
    FUZZ_CHECK(cdr_buf_put_u32(&s, (uint32_t)coll_len) == 0 && cdr_buf_put(&s, coll, coll_len) == 0);
  FUZZ_CHECK(cdr_buf_put(&s, ev->d, ev->len) == 0);
  put_seed(target, what, s.d, s.len);
  cdr_buf_free(&s);
}

static void hw_seed(const char *target, const char *what, uint8_t flags, const void *coll, size_t coll_len,
                    const struct cdr_buf *ev) {
  hw_seed_at(target, what, flags, (uint32_t)fuzz_now(), NULL, 0, coll, coll_len, ev);
}

/* A file of the verifiers' test data (tests/data/attest/...), or NULL. */
static uint8_t *data_file(const char *datadir, const char *name, size_t *len) {
  char path[4096];
  uint8_t *d = NULL;
  snprintf(path, sizeof(path), "%s/%s", datadir, name);
  if (cdr_file_read(path, &d, len, CDR_MAX_EVIDENCE) != 0)
    return NULL;
  return d;
}

/* The real evidence the verifiers' unit tests use, with the policy under
 * which those tests accept it (tests/unit/test_{snp,tdx,nitro}.c). */
static void seeds_attest_vectors(const char *datadir) {
  struct cdr_buf ev;
  size_t n = 0, cn = 0;
  uint8_t *d, *c;
  if ((d = data_file(datadir, "snp/report-gcp-milan.bin", &n)) != NULL &&
      (c = data_file(datadir, "snp/vcek-gcp-milan.pem", &cn)) != NULL) {
    cdr_buf_view(&ev, d, n);
    hw_seed_at("fuzz_attest_snp", "gcp-milan", 16, 1764914668u, c, cn, NULL, 0, &ev);
    hw_seed_at("fuzz_attest_snp", "gcp-milan-no-vcek", 0, 1764914668u, NULL, 0, NULL, 0, &ev);
    free(c);
  }
  free(d);
  if ((d = data_file(datadir, "tdx/tdx-quote.bin", &n)) != NULL &&
      (c = data_file(datadir, "tdx/collateral.json", &cn)) != NULL) {
    cdr_buf_view(&ev, d, n);
    hw_seed_at("fuzz_attest_tdx", "quote", 32 | 8, 1742428800u, NULL, 0, c, cn, &ev);
    hw_seed_at("fuzz_attest_tdx", "quote-strict-tcb", 32, 1742428800u, NULL, 0, c, cn, &ev);
    free(c);
  }
  free(d);
  if ((d = data_file(datadir, "nitro/attestation-2024-05-07.cbor", &n)) != NULL) {
    cdr_buf_view(&ev, d, n);
    hw_seed_at("fuzz_attest_nitro", "attestation-2024-05-07", 0, 1715103786u, NULL, 0, NULL, 0, &ev);
    hw_seed_at("fuzz_attest_nitro", "attestation-2024-05-07-debug", 4, 1715103786u, NULL, 0, NULL, 0, &ev);
  }
  free(d);
}

static void seeds_attest_hw(void) {
  struct cdr_buf ev;
  uint8_t zero[1184];
  cdr_buf_init(&ev, CDR_MAX_EVIDENCE, 0);

  /* SEV-SNP: a 1184-byte report, version 2 and 3 (little-endian u32 at 0). */
  memset(zero, 0, sizeof(zero));
  zero[0] = 2;
  FUZZ_CHECK(cdr_buf_put(&ev, zero, sizeof(zero)) == 0);
  hw_seed("fuzz_attest_snp", "report-v2", 0, NULL, 0, &ev);
  ev.d[0] = 3;
  hw_seed("fuzz_attest_snp", "report-v3-debug-allowed", 4, NULL, 0, &ev);
  cdr_buf_free(&ev);

  /* TDX: a v4 quote header (version 4, ECDSA-P256 key, TEE type 0x81),
   * a zeroed 584-byte TD report body, an empty signature section. */
  uint8_t hdr[48];
  memset(hdr, 0, sizeof(hdr));
  hdr[0] = 4;
  hdr[2] = 2;
  hdr[4] = 0x81;
  memset(zero, 0, sizeof(zero));
  FUZZ_CHECK(cdr_buf_put(&ev, hdr, sizeof(hdr)) == 0 && cdr_buf_put(&ev, zero, 584) == 0 &&
             cdr_buf_put(&ev, "\0\0\0\0", 4) == 0);
  static const char coll[] = "{\"tcbInfo\":{\"version\":3,\"id\":\"TDX\",\"tcbLevels\":[]},"
                             "\"qeIdentity\":{\"id\":\"TD_QE\",\"tcbLevels\":[]}}";
  hw_seed("fuzz_attest_tdx", "quote-v4", 32, coll, sizeof(coll) - 1, &ev);
  cdr_buf_free(&ev);

  /* Nitro: COSE_Sign1 [protected {1: -35}, {}, payload, signature] with a
   * payload map as the NSM writes it (PCR0 zero, no certificates). */
  struct cdr_buf payload;
  cdr_buf_init(&payload, CDR_MAX_EVIDENCE, 0);
  cbor_head(&payload, 5, 9);
  cbor_text(&payload, "module_id");
  cbor_text(&payload, "i-0123456789abcdef0-enc0123456789abcdef");
  cbor_text(&payload, "digest");
  cbor_text(&payload, "SHA384");
  cbor_text(&payload, "timestamp");
  cbor_head(&payload, 0, (uint64_t)fuzz_now() * 1000u);
  cbor_text(&payload, "pcrs");
  cbor_head(&payload, 5, 1);
  cbor_head(&payload, 0, 0);
  cbor_bytes(&payload, zero, 48);
  cbor_text(&payload, "certificate");
  cbor_bytes(&payload, fuzz_pki()->platform_der, fuzz_pki()->platform_der_len);
  cbor_text(&payload, "cabundle");
  cbor_head(&payload, 4, 1);
  cbor_bytes(&payload, fuzz_pki()->ca_der, fuzz_pki()->ca_der_len);
  cbor_text(&payload, "public_key");
  FUZZ_CHECK(cdr_buf_put_u8(&payload, 0xf6) == 0); /* null */
  cbor_text(&payload, "user_data");
  cbor_bytes(&payload, zero, 64);
  cbor_text(&payload, "nonce");
  FUZZ_CHECK(cdr_buf_put_u8(&payload, 0xf6) == 0);
  FUZZ_CHECK(cdr_buf_put_u8(&ev, 0xd2) == 0); /* tag 18 */
  cbor_head(&ev, 4, 4);
  cbor_bytes(&ev, "\xa1\x01\x38\x22", 4);
  cbor_head(&ev, 5, 0);
  cbor_bytes(&ev, payload.d, payload.len);
  cbor_bytes(&ev, zero, 96);
  hw_seed("fuzz_attest_nitro", "cose-sign1-tagged", 0, NULL, 0, &ev);
  cdr_buf_free(&ev);
  cdr_buf_free(&payload);
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr, "usage: fuzz_mkseeds DIR [ATTEST_DATA_DIR]\n");
    return 2;
  }
  outdir = argv[1];
  if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
    perror(outdir);
    return 1;
  }
  fuzz_quiet();
  seeds_ipc_frames();
  seeds_enclave_ops();
  seeds_http_json();
  seeds_csr();
  seeds_cert();
  seeds_client_responses();
  seeds_csv();
  seeds_sql();
  seeds_dp_ledger();
  seeds_attest_hw();
  if (argc == 3)
    seeds_attest_vectors(argv[2]);
  fprintf(stderr, "fuzz_mkseeds: wrote the seed corpora under %s\n", outdir);
  return 0;
}
