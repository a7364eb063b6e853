/*
 * fuzzlib.c - the fixed PKI and helpers shared by the fuzz harnesses;
 * see fuzzlib.h.
 */
#include "fuzzlib.h"

#include <errno.h>
#include <openssl/pem.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "enclave/engine.h"
#include "fixtures.h"

static X509 *pem_cert(const char *pem) {
  X509 *x = NULL;
  FUZZ_CHECK(cdr_cert_from_pem(&x, pem, strlen(pem)) == 0);
  return x;
}

static EVP_PKEY *pem_key(const char *pem) {
  BIO *b = BIO_new_mem_buf(pem, -1);
  EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  BIO_free(b);
  FUZZ_CHECK(k != NULL);
  return k;
}

static void der_of(X509 *x, uint8_t **der, size_t *len, uint8_t fp[32]) {
  FUZZ_CHECK(cdr_cert_to_der(x, der, len) == 0);
  if (fp != NULL)
    FUZZ_CHECK(cdr_sha256(fp, *der, *len) == 0);
}

const struct fuzz_pki *fuzz_pki(void) {
  static struct fuzz_pki k;
  static int ready;
  if (ready)
    return &k;
  k.ca = pem_cert(FUZZ_CA_CERT_PEM);
  k.platform = pem_cert(FUZZ_PLATFORM_CERT_PEM);
  k.analyst = pem_cert(FUZZ_ANALYST_CERT_PEM);
  k.provider = pem_cert(FUZZ_PROVIDER_CERT_PEM);
  k.ca_key = pem_key(FUZZ_CA_KEY_PEM);
  k.platform_key = pem_key(FUZZ_PLATFORM_KEY_PEM);
  k.analyst_key = pem_key(FUZZ_ANALYST_KEY_PEM);
  k.provider_key = pem_key(FUZZ_PROVIDER_KEY_PEM);
  k.identity_key = pem_key(FUZZ_IDENTITY_KEY_PEM);
  k.share_key = pem_key(FUZZ_SHARE_KEY_PEM);
  der_of(k.ca, &k.ca_der, &k.ca_der_len, k.ca_fp);
  der_of(k.platform, &k.platform_der, &k.platform_der_len, NULL);
  der_of(k.analyst, &k.analyst_der, &k.analyst_der_len, k.analyst_fp);
  der_of(k.provider, &k.provider_der, &k.provider_der_len, k.provider_fp);
  FUZZ_CHECK(cdr_pubkey_to_der(k.identity_key, &k.identity_spki, &k.identity_spki_len) == 0);
  FUZZ_CHECK(cdr_pubkey_to_der(k.analyst_key, &k.analyst_spki, &k.analyst_spki_len) == 0);
  FUZZ_CHECK(cdr_pubkey_to_der(k.provider_key, &k.provider_spki, &k.provider_spki_len) == 0);
  FUZZ_CHECK(cdr_hex_decode(k.room_id, sizeof(k.room_id), FUZZ_ROOM_ID_HEX) == 0);
  k.platform_key_pem = FUZZ_PLATFORM_KEY_PEM;
  k.platform_cert_pem = FUZZ_PLATFORM_CERT_PEM;
  k.ca_cert_pem = FUZZ_CA_CERT_PEM;
  k.analyst_cert_pem = FUZZ_ANALYST_CERT_PEM;
  k.now = FUZZ_NOW;
  ready = 1;
  return &k;
}

void fuzz_fill(uint8_t *out, size_t n, uint8_t byte) { memset(out, byte, n); }

void fuzz_session_keys(struct cdr_session_keys *k) {
  memset(k->req, FUZZ_BYTE_KREQ, sizeof(k->req));
  memset(k->resp, FUZZ_BYTE_KRESP, sizeof(k->resp));
}

int64_t fuzz_now(void) { return FUZZ_NOW; }

uint8_t fuzz_u8(struct fuzz_in *in) {
  if (in->n == 0)
    return 0;
  in->n--;
  return *in->p++;
}

uint32_t fuzz_u32(struct fuzz_in *in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++)
    v = v << 8 | fuzz_u8(in);
  return v;
}

size_t fuzz_bytes(struct fuzz_in *in, size_t n, const uint8_t **p) {
  if (n > in->n)
    n = in->n;
  *p = in->p;
  in->p += n;
  in->n -= n;
  return n;
}

void fuzz_quiet(void) {
  /* FUZZ_VERBOSE=1 keeps the log, to see why an input is refused. */
  const char *v = getenv("FUZZ_VERBOSE");
  cdr_log_init("fuzz", v != NULL && *v != '\0' ? CDR_LOG_DEBUG : (enum cdr_log_level)(CDR_LOG_ERROR + 1));
}

const char fuzz_patients_csv[] =
    "patient_id,age,sex,diagnosis,systolic_bp,cost_eur,note\n"
    "100001,77,F,asthma,153,8213.37,\n"
    "100002,45,M,diabetes,120,3366.44,\n"
    "100003,30,F,\"heart failure\",171,9021.05,\n"
    "100004,61,M,copd,133,412.90,\n"
    "100005,18,F,hypertension,101,2244.00,\n"
    "100006,89,M,asthma,144,7777.77,\n"
    "100007,52,F,diabetes,160,1200.50,\"follow-up, cardiology\"\n"
    "100008,33,M,copd,118,640.10,\n"
    "100009,70,F,\"heart failure\",175,9800.00,\n"
    "100010,41,M,hypertension,149,5000.25,\"r\xc3\xa9sum\xc3\xa9 \"\"quoted\"\"\"\n";

/* Variant 1: the same readable columns (age, sex, diagnosis), other
 * values everywhere else. */
static const char patients_csv_b[] =
    "patient_id,age,sex,diagnosis,systolic_bp,cost_eur,note\n"
    "900017,77,F,asthma,99,1.5,SECRET-A\n"
    "123,45,M,diabetes,250,99999.99,x\n"
    "-5,30,F,\"heart failure\",100,0.01,\"a much longer secret note, with a comma\"\n"
    "7,61,M,copd,180,12345678.9,n\n"
    "1000000000,18,F,hypertension,60,2.25,\"\"\"\"\n"
    "42,89,M,asthma,200,0.5,\xe2\x9c\x93\n"
    "0,52,F,diabetes,111,3.75,z\n"
    "99,33,M,copd,222,4.125,zz\n"
    "31337,70,F,\"heart failure\",90,5.5,zzz\n"
    "8,41,M,hypertension,95,6.0625,zzzz\n";
static const char ledger_csv_a[] = "account,balance\nACC-1,100.5\nACC-2,-3.25\nACC-3,0.5\n";
static const char ledger_csv_b[] = "account,balance\nZ,777.5\nQQQQQQQQQQQQ,1e+10\nACC-3,-0.5\n";

void fuzz_principal(enum fuzz_who w, struct engine_principal *p) {
  const struct fuzz_pki *k = fuzz_pki();
  memset(p, 0, sizeof(*p));
  switch (w) {
  case FUZZ_WHO_PROVIDER:
    p->name = "prov@fuzz.example";
    p->role = CDR_ROLE_PROVIDER;
    FUZZ_CHECK(cdr_sha256(p->key_fp, k->provider_spki, k->provider_spki_len) == 0);
    break;
  case FUZZ_WHO_ANALYST:
    p->name = "ana@fuzz.example";
    p->role = CDR_ROLE_ANALYST;
    FUZZ_CHECK(cdr_sha256(p->key_fp, k->analyst_spki, k->analyst_spki_len) == 0);
    break;
  case FUZZ_WHO_OTHER_PROVIDER:
    p->name = "other@fuzz.example";
    p->role = CDR_ROLE_PROVIDER;
    memset(p->key_fp, 0xee, sizeof(p->key_fp));
    break;
  default:
    p->name = "aud@fuzz.example";
    p->role = CDR_ROLE_AUDITOR;
    memset(p->key_fp, 0xaa, sizeof(p->key_fp));
    break;
  }
}

static void load(struct cdr_engine *e, const struct engine_principal *owner, const char *name, const char *csv,
                 uint64_t want_rows) {
  uint64_t rows = 0;
  char *err = NULL;
  int r = engine_load_csv(e, owner, name, (const uint8_t *)csv, strlen(csv), 0, &rows, &err);
  if (r != 0)
    fprintf(stderr, "fixture table %s: %s\n", name, err ? err : "");
  FUZZ_CHECK(r == 0 && rows == want_rows);
  free(err);
}

struct cdr_engine *fuzz_engine_open(unsigned time_limit_ms, int variant) {
  static const char *const granted[] = {"age", "sex", "diagnosis"};
  struct cdr_engine *e = NULL;
  struct engine_principal owner;
  char *err = NULL;
  fuzz_principal(FUZZ_WHO_PROVIDER, &owner);
  FUZZ_CHECK(engine_open(&e) == 0);
  load(e, &owner, "patients", variant ? patients_csv_b : fuzz_patients_csv, 10);
  load(e, &owner, "ledger", variant ? ledger_csv_b : ledger_csv_a, 3);
  FUZZ_CHECK(engine_hide(e, &owner, "patients", "note", 1, &err) == 0);
  FUZZ_CHECK(engine_grant(e, &owner, "patients", "role:analyst", granted, 3, &err) == 0);
  free(err);
  engine_set_time_limit_ms(e, time_limit_ms);
  engine_set_result_limits(e, 1u << 20, 10000);
  return e;
}

static char room_dir[64];

static void room_dir_remove(void) {
  static const char *const files[] = {"attestation/sim-platform.key", "attestation/sim-platform.crt",
                                      "attestation/sim-sealing.secret"};
  char path[128];
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", room_dir, files[i]);
    (void)unlink(path);
  }
  snprintf(path, sizeof(path), "%s/attestation", room_dir);
  (void)rmdir(path);
  (void)rmdir(room_dir);
}

static void room_file(const char *name, const void *p, size_t n) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", room_dir, name);
  FUZZ_CHECK(cdr_file_write(path, p, n, 0600, 0) == 0);
}

const char *fuzz_room_dir(void) {
  const struct fuzz_pki *k = fuzz_pki();
  uint8_t secret[32];
  char path[128];
  if (room_dir[0] != '\0')
    return room_dir;
  snprintf(room_dir, sizeof(room_dir), "/tmp/cdr-fuzz-room.XXXXXX");
  FUZZ_CHECK(mkdtemp(room_dir) != NULL);
  atexit(room_dir_remove);
  snprintf(path, sizeof(path), "%s/attestation", room_dir);
  FUZZ_CHECK(mkdir(path, 0700) == 0);
  room_file("attestation/sim-platform.key", k->platform_key_pem, strlen(k->platform_key_pem));
  room_file("attestation/sim-platform.crt", k->platform_cert_pem, strlen(k->platform_cert_pem));
  memset(secret, FUZZ_BYTE_SEAL_SECRET, sizeof(secret));
  room_file("attestation/sim-sealing.secret", secret, sizeof(secret));
  return room_dir;
}
