/*
 * fuzzlib.h - what the fuzz harnesses share: the fixed PKI of
 * fixtures.h as OpenSSL objects, the fixed protocol values that the
 * seed generator (mkseeds.c) signs over, a byte reader for
 * splitting an input, and the invariant check that makes a violated
 * property a crash.
 *
 * Every harness is one fuzz_<name>.c defining LLVMFuzzerTestOneInput
 * (and optionally LLVMFuzzerInitialize).  It is linked twice: with
 * libFuzzer in the CDR_FUZZ build (`make fuzz`), and with replay_main.c
 * in the normal build, where ctest replays tests/fuzz/corpus/<name>/ and
 * tests/fuzz/regressions/<name>/ through it.
 */
#ifndef CDR_FUZZLIB_H
#define CDR_FUZZLIB_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "crypto/envelope.h"
#include "enclave/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property the code under test promised does not hold: report and
 * abort, which libFuzzer (and the replay test) records as a crash. */
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                           \
    }                                                                                    \
  } while (0)

/* The fixed room: keys, certificates, and values derived from them.
 * Built once on first use; never freed (the process ends). */
struct fuzz_pki {
  X509 *ca, *platform, *analyst, *provider;
  EVP_PKEY *ca_key, *platform_key, *analyst_key, *provider_key, *identity_key, *share_key;
  uint8_t *ca_der, *platform_der, *analyst_der, *provider_der;
  size_t ca_der_len, platform_der_len, analyst_der_len, provider_der_len;
  uint8_t *identity_spki, *analyst_spki, *provider_spki;
  size_t identity_spki_len, analyst_spki_len, provider_spki_len;
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  uint8_t ca_fp[32], analyst_fp[32], provider_fp[32];
  const char *platform_key_pem, *platform_cert_pem, *ca_cert_pem, *analyst_cert_pem;
  int64_t now; /* FUZZ_NOW: inside every certificate's validity */
};
const struct fuzz_pki *fuzz_pki(void);

/* Fixed protocol values (generator and harnesses must agree). */
#define FUZZ_BYTE_PROVIDER_SESSION 0x5e /* session id bytes of the provider's session */
#define FUZZ_BYTE_ANALYST_SESSION 0x5a  /* ... and the analyst's */
#define FUZZ_BYTE_KREQ 0x11             /* session keys: k_req, k_resp */
#define FUZZ_BYTE_KRESP 0x22
#define FUZZ_BYTE_ATTEST_NONCE 0xa7     /* the client's attestation nonce */
#define FUZZ_BYTE_CLIENT_NONCE 0xc1     /* the client's session-open nonce */
#define FUZZ_BYTE_TREQ_HASH 0x7e        /* H(T_req) the client remembers */
#define FUZZ_BYTE_REQ_CT_HASH 0x3c      /* H(request ciphertext) the client remembers */
#define FUZZ_SESSION_LIFETIME 3600     /* expires_at = FUZZ_NOW + this */
void fuzz_fill(uint8_t *out, size_t n, uint8_t byte);
/* Session keys with every byte of k_req FUZZ_BYTE_KREQ, of k_resp FUZZ_BYTE_KRESP. */
void fuzz_session_keys(struct cdr_session_keys *k);
/* The enclave's clock in the harnesses. */
int64_t fuzz_now(void);

/* Reading an input front to back; reads past the end yield zeros. */
struct fuzz_in {
  const uint8_t *p;
  size_t n;
};
uint8_t fuzz_u8(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
/* Up to n bytes (fewer at the end); returns how many, *p borrows. */
size_t fuzz_bytes(struct fuzz_in *in, size_t n, const uint8_t **p);

/* Silence the project log (harness inputs are mostly refused), unless
 * FUZZ_VERBOSE is set. */
void fuzz_quiet(void);


/* A room folder for the enclave's sim attestation provider, made once
 * under /tmp and removed at exit: attestation/sim-platform.key and .crt
 * (the fixture platform key and certificate) and sim-sealing.secret (32
 * bytes of FUZZ_BYTE_SEAL_SECRET, so that seeds can carry sealed blobs). */
#define FUZZ_BYTE_SEAL_SECRET 0x5c
const char *fuzz_room_dir(void);

/* The users the engine harnesses act for (engine_principal): the
 * provider that owns the fixture tables, the analyst (role grant on some
 * columns), another provider and an auditor (no grants).  key_fp is the
 * SHA-256 of the user's SPKI, as ops.c computes it (fixed bytes for the
 * two without a fixture key). */
enum fuzz_who { FUZZ_WHO_PROVIDER = 0, FUZZ_WHO_ANALYST = 1, FUZZ_WHO_OTHER_PROVIDER = 2, FUZZ_WHO_AUDITOR = 3 };
void fuzz_principal(enum fuzz_who w, struct engine_principal *p);

/* The fixture tables (as scripts/gen-patients.sh writes), owned by the
 * provider:
 *   patients(patient_id, age, sex, diagnosis, systolic_bp, cost_eur, note)
 *            note hidden; role:analyst granted age, sex and diagnosis
 *   ledger(account, balance)   no grants
 * In variant 1 every value an analyst may NOT read differs from variant
 * 0 (same types, same row counts); what the analyst may read is equal.
 * The engine's time limit is time_limit_ms and its result limits 1 MiB /
 * 10000 rows, so that an input costs milliseconds, not the production
 * 30 s. */
extern const char fuzz_patients_csv[];
struct cdr_engine *fuzz_engine_open(unsigned time_limit_ms, int variant);

#endif
