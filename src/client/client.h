/*
 * client.h - the client side of CDR protocol v1 (docs/PROTOCOL.md),
 * used by `cdr` and by tests that attack the server.
 *
 * The layers, from the bottom up:
 *
 *   http      one HTTP exchange with the host (libcurl), bodies capped at
 *             CDR_MAX_HTTP_BODY; error bodies {"error","message"} become a
 *             cdr_err plus the remote code and message kept for display.
 *   enroll    POST /v1/enroll (4.4): a CSR and its MAC under the token's
 *             secret; the issued certificate and the room CA are believed
 *             only under the CA fingerprint the token carries.
 *   attest    POST /v1/attest with a fresh nonce and verification of the
 *             answer (4.5): evidence (sim: platform certificate under the
 *             room CA; snp, tdx, nitro: the vendor's chain to a root pinned
 *             in src/attest, at the current time), report_data binding,
 *             room id, CA fingerprint, measurement.  The result is the
 *             enclave identity key I.
 *   session   POST /v1/session (4.6): key share, signature with U,
 *             verification of the answer with I, session keys.
 *   request   POST /v1/request (4.7): seal and sign a request, open and
 *             authenticate its response against our own session id, seq
 *             and request ciphertext hash.
 *
 * Each layer exposes its "build" and "verify" halves separately so that
 * a test can build an envelope without sending it, send any bytes to any
 * route, and check how the client judges any answer.
 *
 * Trust: the client trusts exactly one room CA (pinned at enrollment, or
 * given with --ca, or fetched once and printed for out-of-band checking),
 * the room id that CA names, and the enclave identity key that passes
 * attestation under that CA.  Nothing the host says in clear is believed:
 * clear errors are reported as failures, never as results.
 *
 * Ownership: every struct here is owned by whoever created it and freed
 * with its _free/_clear function, which also wipes secrets.  Functions
 * return 0 or a negative cdr_err; on failure they may leave a one-line
 * reason in the client's `detail` (see cdr_client_error_text).
 */
#ifndef CDR_CLIENT_H
#define CDR_CLIENT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "attest/hwattest.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/limits.h"
#include "crypto/enroll_mac.h"
#include "crypto/envelope.h"
#include "crypto/x509.h"

#define CDR_SIM_WARNING \
  "warning: simulated attestation (sim) is not hardware-backed; it proves nothing against the server operator"
#define CDR_SIM_PLATFORM_CN "CDR simulated attestation platform"

/* Hardware measurements (snp MEASUREMENT, tdx MRTD, nitro PCR0). */
#define CDR_HW_MEASUREMENT_LEN 48
/* Cap on a TDX collateral file. */
#define CDR_TDX_COLLATERAL_MAX (4u * 1024u * 1024u)

#define CDR_HTTP_CONNECT_TIMEOUT_S 15L
#define CDR_HTTP_TIMEOUT_S 600L

/* ------------------------------------------------------------------ */
/* The client context.  Fields are set through the functions below and
 * may be read by callers. */
struct cdr_client {
  char *url;                /* base URL, no trailing '/' */
  long connect_timeout_s, timeout_s;
  void *curl;               /* the libcurl easy handle, made at the first request and
                             * kept, so that its connection to this one server is
                             * reused (keep-alive); a client is used by one thread
                             * at a time */

  /* The room CA and what it names; have_ca says they are set. */
  int have_ca;
  X509 *ca;
  uint8_t ca_fp[32];        /* SHA-256 of the CA certificate DER */
  uint8_t room_id[CDR_ROOM_ID_BYTES]; /* from the CA subject OU */
  char *ca_pem;             /* that CA as PEM: the TLS trust anchor while set */

  /* TLS (PROTOCOL 2.1; tls_trust.c).  The server's certificate must
   * verify against tls_cacert when set (--cacert: an operator's own
   * certificate), else against the room CA above alone when have_ca,
   * else against CURL_CA_BUNDLE / SSL_CERT_FILE / the system store. */
  char *tls_cacert;
  int tls_unverified_once;  /* the next exchange only, verifying nothing:
                             * cdr_client_tls_bootstrap's fetch of a CA it
                             * checks by fingerprint */

  /* The user: private key U and its certificate. */
  EVP_PKEY *key;
  X509 *cert;
  uint8_t *cert_der;
  size_t cert_len;
  uint8_t *spki;            /* DER SubjectPublicKeyInfo of U */
  size_t spki_len;

  /* Attestation policy. */
  int allow_sim;
  int have_measurement;
  uint8_t measurement[CDR_MEASUREMENT_MAX]; /* measurement_len bytes: 32 for */
  size_t measurement_len;                   /* sim, 48 for snp/tdx/nitro */
  uint8_t *tdx_collateral;                  /* TDX collateral JSON (TCB info, */
  size_t tdx_collateral_len;                /* QE identity), or NULL */
  char *accept_tcb;                         /* TCB statuses accepted besides
                                             * UpToDate (comma list), or NULL */
  struct cdr_hw_expect expect_regs;         /* TDX RTMR / Nitro PCR values to
                                             * require (n 0: none) */
  uint8_t snp_min_tcb[CDR_SNP_TCB_LEN];     /* SEV-SNP minimum TCB (all 0: none) */
  int snp_min_tcb_required;                 /* a room of another platform fails */

  /* The last failure: HTTP status (0 if none), the remote error code and
   * message when the server sent one (sanitised to printable ASCII),
   * whether it was authenticated by the enclave (sealed) or travelled in
   * clear, and a local detail sentence. */
  long http_status;
  int remote_error;
  int remote_sealed;
  char remote_code[64];
  char remote_message[CDR_MAX_ERROR_MSG];
  char detail[512];
};

/* A new context for the server at url (https://, or http:// to a
 * loopback address only, and no userinfo in either: CDR_ERR_INSECURE_URL
 * otherwise; see cdr_url_check).  The context keeps libcurl's normalised
 * URL, without trailing '/'.  *out is
 * freed with cdr_client_free.  The first call in a process also sets up
 * libcurl and makes jansson wipe every block it frees (the whole block:
 * SQL text, results and names pass through JSON), unless the program
 * has given jansson allocators of its own (JSON freed before that first
 * call is not wiped). */
int cdr_client_new(struct cdr_client **out, const char *url) CDR_WUR;
/* What the first cdr_client_new does once per process (libcurl, the
 * wiping jansson free), for code that handles secrets in JSON before it
 * has a client (an invitation bundle). */
void cdr_client_lib_init(void);
void cdr_client_free(struct cdr_client *c);
/* Free a JSON text that jansson handed over (json_dumps: a request
 * header holding SQL, an enrollment body holding the MAC, an audit
 * entry), wiping the whole block first: jansson's own free, which wipes,
 * never sees these. */
void cdr_json_text_free(char *s);
/* For tests: when set, the client's jansson free and cdr_json_text_free
 * call it with each block (and its usable size) after wiping it, just
 * before free(3). */
extern void (*cdr_client_json_free_hook)(const void *p, size_t n);
/* Close the kept-alive connection to the server, if any (the next
 * request makes a new one).  For a program that keeps a client idle for
 * a while: an idle connection still counts against the server's
 * per-address connection limit. */
void cdr_client_disconnect(struct cdr_client *c);

/* Trust this room CA: it must be a self-signed CA certificate whose
 * subject OU is a 32-hex room id.  Takes its own reference. */
int cdr_client_set_ca(struct cdr_client *c, X509 *ca) CDR_WUR;
int cdr_client_set_ca_file(struct cdr_client *c, const char *path) CDR_WUR;
/* Verify the server's TLS certificate against the CA certificates in
 * this PEM file instead of the room CA (an operator's own server
 * certificate).  Copied; checked to be readable now. */
int cdr_client_set_tls_cacert(struct cdr_client *c, const char *path) CDR_WUR;
/* Enrollment without the CA at hand (cdr enroll URL --token T): fetch
 * GET /v1/room over TLS that verifies nothing, keep its CA only if its
 * SHA-256 equals ca_fp (the token's, which came out of band), and trust
 * it (cdr_client_set_ca) for every later exchange; the unverified
 * connection is closed.  CDR_ERR_CA_MISMATCH on another CA. */
int cdr_client_tls_bootstrap(struct cdr_client *c, const uint8_t ca_fp[32]) CDR_WUR;
/* 1 if url, as libcurl parses it, has no userinfo and its host is a
 * loopback address (127.0.0.0/8, [::1], localhost): the only hosts plain
 * http:// is allowed to (cdr_client_new refuses the others with
 * CDR_ERR_INSECURE_URL). */
int cdr_url_host_is_loopback(const char *url);
/* The check cdr_client_new makes, on libcurl's parse of url: CDR_ERR_ARG
 * unless it is an http:// or https:// URL with a host; CDR_ERR_INSECURE_URL
 * if it carries userinfo (user@, user:password@, in either scheme: a
 * "host" before the '@' is not where curl connects) or is http:// to a
 * host that is not loopback.  On 0, *normalised (if not NULL) is curl's
 * normalised URL, to free with free(3). */
int cdr_url_check(const char *url, char **normalised) CDR_WUR;
/* The user key and certificate; the certificate must certify the key.
 * Takes its own references. */
int cdr_client_set_user(struct cdr_client *c, EVP_PKEY *key, X509 *cert) CDR_WUR;
int cdr_client_load_user(struct cdr_client *c, const char *key_path, const char *cert_path) CDR_WUR;
/* The same for a key wherever it lives (crypto/userkey.h: a PEM file,
 * encrypted or not, or a pkcs11: URI, with the passphrase or PIN source);
 * the load's own code on failure (CDR_ERR_KEY_PASSPHRASE,
 * CDR_ERR_PKCS11_PIN, ...), with a sentence in c's detail. */
struct cdr_key_source;
int cdr_client_load_user_src(struct cdr_client *c, const struct cdr_key_source *key, const char *cert_path) CDR_WUR;
/* Check the user certificate against the CA now (chain, validity, role):
 * catches an expired or foreign certificate before the enclave does. */
int cdr_client_check_user_cert(struct cdr_client *c) CDR_WUR;
/* Require this measurement from attestation: 64 hex digits (sim: SHA-256
 * of cdr-enclave) or 96 (snp MEASUREMENT, tdx MRTD, nitro PCR0).  A
 * measurement of the other length never matches. */
int cdr_client_expect_measurement(struct cdr_client *c, const char *hex) CDR_WUR;
/* TDX only: the collateral JSON (Intel PCS TCB info and QE identity, in
 * the format of `cdr attest --collateral`) that online verification of a
 * TDX quote needs; read now (at most 4 MiB).  Without it a TDX room is
 * refused (attestation_malformed: no collateral). */
int cdr_client_set_tdx_collateral(struct cdr_client *c, const char *path) CDR_WUR;
/* TCB statuses to accept besides UpToDate (TDX), e.g. "SWHardeningNeeded";
 * NULL: none.  Copied. */
int cdr_client_accept_tcb(struct cdr_client *c, const char *list) CDR_WUR;
/* SEV-SNP only: the minimum reported TCB, "bootloader=N,tee=N,snp=N,
 * microcode=N" (cdr_snp_min_tcb_parse; NULL or "": none).  An SNP report
 * whose TCB is below it in any named field fails attestation
 * (attestation_tcb).  With `required` (the user asked for this room, not
 * a default for every room), a room of another platform fails too
 * (attestation_tcb: it has no SEV-SNP TCB); without it, other platforms
 * are not affected (TDX's TCB rule is its status, cdr_client_accept_tcb).
 * 0 or CDR_ERR_ARG (the earlier minimum kept). */
int cdr_client_snp_min_tcb(struct cdr_client *c, const char *spec, int required) CDR_WUR;
/* Require these register values from attestation (TDX RTMR0-3, Nitro
 * PCR0-31; build the list with cdr_hw_expect_add from "N=HEX").  Copied;
 * replaces any earlier list; NULL or an empty list: none.  An expectation
 * the room's platform cannot meet (any on sim or SEV-SNP, a PCR on TDX, an
 * RTMR on Nitro, a PCR the document does not carry) fails attestation
 * with CDR_ERR_ATTEST_MEASUREMENT.  0, or CDR_ERR_ARG for a list that is
 * not well formed (cdr_hw_expect_valid; the old list is kept). */
int cdr_client_expect_registers(struct cdr_client *c, const struct cdr_hw_expect *list) CDR_WUR;
void cdr_client_allow_sim(struct cdr_client *c, int allow);
/* Process-wide: the warnings this library prints on stderr (the sim
 * warning, notices about the audit head) are not printed after
 * cdr_client_set_quiet(1).  The sim warning is printed at most once per
 * process however many attestations accept sim evidence: a command that
 * attests twice warns once. */
void cdr_client_set_quiet(int quiet);
int cdr_client_quiet(void);

/* Record a local reason for the current failure (printf-style). */
void cdr_client_set_detail(struct cdr_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Forget the last failure. */
void cdr_client_clear_error(struct cdr_client *c);
/* One line describing failure err for the user: for a refusal by the
 * server "server refused the request: sql_denied: ATTACH is not allowed",
 * else "<wire code>: <description>[: <detail>]", e.g.
 * "attestation_measurement_mismatch: enclave measurement differs ...". */
void cdr_client_error_text(const struct cdr_client *c, int err, char *out, size_t outlen);

/* Copy s into out (outlen > 0, truncating) with every control character
 * (C0, DEL, C1) replaced by '?', so that text from the other side cannot
 * drive the terminal.  Other UTF-8 is kept. */
void cdr_sanitize(char *out, size_t outlen, const char *s);
/* A string member of a JSON object, or NULL when absent, not a string or
 * holding a NUL (borrowed; cdr_json_get_cstr_opt). */
const char *cdr_json_string(const json_t *o, const char *key);

/* ------------------------------------------------------------------ */
/* HTTP (http_client.c). */

/* Raw exchange: send body (may be NULL for GET) to path ("/v1/...") and
 * store the answer's status and body (NUL-terminated after its length;
 * at most CDR_MAX_HTTP_BODY bytes, else CDR_ERR_TOO_LARGE).  Any HTTP
 * answer is success here; CDR_ERR_NETWORK if none arrived. */
int cdr_http_raw(struct cdr_client *c, const char *method, const char *path, const void *body, size_t len,
                 long *status, struct cdr_buf *resp) CDR_WUR;
/* Turn a non-success answer into a cdr_err: parses {"error","message"},
 * records them in c, and returns the code's cdr_err (CDR_ERR_SERVER if
 * the body is not an error body or names no known failure). */
int cdr_http_error(struct cdr_client *c, long status, const uint8_t *body, size_t len) CDR_WUR;
/* Parse a JSON object strictly (duplicate keys refused); CDR_ERR_BAD_JSON. */
int cdr_json_parse_object(json_t **out, const uint8_t *body, size_t len) CDR_WUR;
/* Exchange expecting 200 and a JSON object; other answers go through
 * cdr_http_error.  body may be NULL (GET). */
int cdr_http_json(struct cdr_client *c, const char *method, const char *path, const char *body, size_t len,
                  json_t **out) CDR_WUR;

/* GET /v1/room: the room as the host describes it (trust on first use:
 * nothing here is authenticated). */
struct cdr_room_info {
  char room_id[2 * CDR_ROOM_ID_BYTES + 1];
  char *name;
  X509 *ca;
  char *attestation;
};
int cdr_client_fetch_room(struct cdr_client *c, struct cdr_room_info *out) CDR_WUR;
void cdr_room_info_clear(struct cdr_room_info *ri);

/* ------------------------------------------------------------------ */
/* Enrollment (enroll.c): redeem an invitation token (4.4). */

/* The parts of an enrollment token, as room/'s cdr_token_parse gives
 * them (the caller parses the token and wipes the secret). */
struct cdr_enroll_token {
  char token_id[33];   /* 32 lower-case hex digits */
  uint8_t secret[CDR_ENROLL_SECRET_LEN]; /* never sent: it keys the MAC */
  const char *name;    /* the name the certificate must be for */
  uint8_t ca_fp[32];   /* the room CA's fingerprint: the pin */
};
/* Where cdr_client_enroll stopped, so that the caller can word it. */
enum cdr_enroll_step {
  CDR_ENROLL_CSR = 1, /* making the CSR (CDR_ERR_CRYPTO, NOMEM) */
  CDR_ENROLL_MAC,     /* computing the MAC (cdr_enroll_mac's error) */
  CDR_ENROLL_BODY,    /* building the request: the name is not UTF-8 */
  CDR_ENROLL_SEND,    /* the exchange (cdr_http_json's error) */
  CDR_ENROLL_ANSWER,  /* no certificate and CA certificate in the answer */
  CDR_ENROLL_CA,      /* the CA is not a room CA (cdr_client_set_ca's error) */
  CDR_ENROLL_PIN,     /* the CA is not the one the token names */
  CDR_ENROLL_KEY,     /* the certificate is not for key */
  CDR_ENROLL_VERIFY,  /* it does not verify under the CA now (its error) */
  CDR_ENROLL_NAME     /* it is for another name than the token's */
};
/* The request body {"token_id", "csr", "mac"} (JSON text, malloc'd): a
 * CSR for key with subject CN=tok->name signed with key (SHA-256), and
 * the enrollment MAC (crypto/enroll_mac.h) of its DER under tok->secret.  On failure *step is
 * CDR_ENROLL_CSR, _MAC or _BODY. */
int cdr_enroll_build(EVP_PKEY *key, const struct cdr_enroll_token *tok, char **body, enum cdr_enroll_step *step) CDR_WUR;
/* Judge a parsed /v1/enroll answer (status 200) as cdr_client_enroll
 * does, from CDR_ENROLL_ANSWER on; on success *cert (the caller frees it)
 * and *role are set and c trusts the room CA. */
int cdr_enroll_finish(struct cdr_client *c, EVP_PKEY *key, const struct cdr_enroll_token *tok, const json_t *resp,
                      X509 **cert, enum cdr_role *role, enum cdr_enroll_step *step) CDR_WUR;
/* Both halves and the exchange: make a CSR for key (subject
 * CN=tok->name), POST /v1/enroll with its MAC under tok->secret, and
 * believe the answer only if the CA is a room CA with fingerprint
 * tok->ca_fp and the issued certificate certifies key, verifies under
 * that CA now with a role, and is for tok->name.
 * On success *cert (the caller frees it) and *role are set and c trusts
 * the room CA (c->ca, ca_fp, room_id).  On failure *step says where, c's
 * detail holds a reason and *cert is NULL (from CDR_ENROLL_PIN on, c
 * holds the CA the server sent, for the caller's message). */
int cdr_client_enroll(struct cdr_client *c, EVP_PKEY *key, const struct cdr_enroll_token *tok, X509 **cert,
                      enum cdr_role *role, enum cdr_enroll_step *step) CDR_WUR;

/* A CSR made elsewhere (enroll_csr.c, `cdr enroll --csr`).  Read one
 * from a PEM or DER file (CDR_ERR_CSR_INVALID when it is neither, and
 * cdr_file_read's codes).  Check it as the server will, before a token
 * is spent: self-signature (CDR_ERR_CSR_BAD_SIGNATURE), key type
 * (CDR_ERR_KEY_UNSUPPORTED), subject exactly CN=name
 * (CDR_ERR_CSR_SUBJECT).  Check that it is for key's public key
 * (CDR_ERR_CSR_KEY_MISMATCH). */
int cdr_enroll_csr_read(const char *path, X509_REQ **out) CDR_WUR;
int cdr_enroll_csr_check(struct cdr_client *c, X509_REQ *csr, const char *name) CDR_WUR;
int cdr_enroll_csr_key_check(struct cdr_client *c, X509_REQ *csr, EVP_PKEY *key) CDR_WUR;
/* The request body for csr as it is (cdr_enroll_build's second half). */
int cdr_enroll_build_csr(X509_REQ *csr, const struct cdr_enroll_token *tok, char **body,
                         enum cdr_enroll_step *step) CDR_WUR;
/* cdr_client_enroll with that CSR: the issued certificate must certify
 * the CSR's key. */
int cdr_client_enroll_csr(struct cdr_client *c, X509_REQ *csr, const struct cdr_enroll_token *tok, X509 **cert,
                          enum cdr_role *role, enum cdr_enroll_step *step) CDR_WUR;

/* ------------------------------------------------------------------ */
/* Attestation (attest.c). */

struct cdr_hw_report;
struct cdr_attestation {
  char platform[16];
  uint8_t nonce[CDR_NONCE_LEN];
  uint8_t measurement[CDR_MEASUREMENT_MAX]; /* measurement_len bytes (sim 32; */
  size_t measurement_len;                   /* snp, tdx, nitro 48) */
  uint64_t timestamp;                 /* sim: the platform's time in the
                                       * evidence; hardware: 0 (none stated) */
  struct cdr_hw_report *hw;           /* snp, tdx, nitro: what the verifier
                                       * found and every check (owned) */
  EVP_PKEY *identity;                 /* I, P-256 public key */
  uint8_t *identity_spki;
  size_t identity_spki_len;
  uint8_t identity_fp[32];            /* SHA-256 of identity_spki */
  uint64_t contract_version;          /* the active contract version the evidence */
  uint8_t contract_sha256[32];        /* binds (PROTOCOL 4.5): 0 and zeros before
                                       * version 1 is active */
};
void cdr_attestation_clear(struct cdr_attestation *a);

/* What the verifier knows in advance. */
struct cdr_attest_policy {
  X509 *ca;                           /* room CA */
  const uint8_t *room_id;             /* 16 bytes */
  const uint8_t *ca_fp;               /* 32 bytes: SHA-256 of the CA DER */
  const uint8_t *nonce;               /* 32 bytes we sent */
  const uint8_t *measurement;         /* measurement_len bytes, or NULL for any */
  size_t measurement_len;             /* 0 means CDR_MEASUREMENT_LEN (32) */
  int allow_sim;
  int64_t now;                        /* for certificate validity */
  const uint8_t *tdx_collateral;      /* TDX: collateral JSON, or NULL */
  size_t tdx_collateral_len;
  const char *accept_tcb;             /* TCB statuses besides UpToDate, or NULL */
  const struct cdr_hw_expect *expect_regs; /* RTMR / PCR values required, or NULL */
  const uint8_t *snp_min_tcb;         /* SEV-SNP minimum TCB (CDR_SNP_TCB_LEN bytes), or NULL */
  int snp_min_tcb_required;           /* other platforms fail (CDR_ERR_ATTEST_TCB) */
};

/* Verify `sim` evidence (4.5) exactly: magic, lengths (116 + n, n in
 * [1, 256]), the platform certificate (DER) issued by policy->ca and
 * valid at policy->now, subject CN "CDR simulated attestation platform"
 * with no role, not a CA; the signature with its key; report_data equal
 * to expect_rd in constant time.  Fills measurement and timestamp.
 * Errors: CDR_ERR_ATTEST_MALFORMED, _ROOT, _SIGNATURE, _REPORT_DATA. */
int cdr_attest_verify_sim(uint8_t measurement[CDR_MEASUREMENT_LEN], uint64_t *timestamp, const uint8_t *ev,
                          size_t ev_len, const uint8_t *plat_der, size_t plat_len,
                          const uint8_t expect_rd[CDR_REPORT_DATA_LEN], const struct cdr_attest_policy *pol) CDR_WUR;
/* Verify a parsed /v1/attest answer against the policy and fill *out.
 * Sim is refused (CDR_ERR_ATTEST_SIM_REFUSED) unless allowed, in which
 * case CDR_SIM_WARNING is printed to stderr.  snp, tdx and nitro evidence
 * goes to cdr_verify_snp/tdx/nitro (src/attest/hwattest.h) at pol->now
 * with our report_data and the expected measurement; the certificates of
 * the answer are the SEV-SNP chip certificates (never trusted as roots);
 * every check of the verifier must pass, a TCB status other than
 * UpToDate must be listed in pol->accept_tcb, an SEV-SNP report's TCB
 * must reach pol->snp_min_tcb, and every register in
 * pol->expect_regs must have its value (cdr_verify_hw).  Their errors are
 * the verifier's (CDR_ERR_ATTEST_*), and detail names the failing check.
 * Register expectations with sim evidence: CDR_ERR_ATTEST_MEASUREMENT.
 * room_id / ca_fingerprint other than ours: CDR_ERR_ATTEST_ROOT.
 * Measurement other than the required one (or of the other length):
 * CDR_ERR_ATTEST_MEASUREMENT.  detail (may be NULL) receives a reason. */
int cdr_attest_verify_response(struct cdr_attestation *out, const json_t *resp, const struct cdr_attest_policy *pol,
                               char *detail, size_t detail_len) CDR_WUR;
/* Fresh nonce, POST /v1/attest, verify with the client's CA, room id,
 * measurement and sim policy.  Requires a CA (cdr_client_set_ca). */
int cdr_client_attest(struct cdr_client *c, struct cdr_attestation *out) CDR_WUR;

/* ------------------------------------------------------------------ */
/* Sessions (session.c). */

struct cdr_session {
  uint8_t id[CDR_SESSION_ID_LEN];
  uint64_t expires_at;
  uint64_t seq;                       /* last seq used; the next is seq + 1 */
  struct cdr_session_keys *keys;      /* secure heap; wiped on free */
  EVP_PKEY *identity;                 /* the attested I (own reference) */
};
void cdr_session_free(struct cdr_session *s);

/* The client's half of a session open, kept between sending the request
 * and checking its answer.  C's private key and T_req's hash live here. */
struct cdr_open_pending {
  EVP_PKEY *c_key;
  uint8_t c_pub[CDR_P256_POINT_LEN];
  uint8_t client_nonce[CDR_NONCE_LEN];
  uint64_t timestamp;
  uint8_t treq_hash[32];
  uint8_t cert_fp[32];                /* H(cert_der) */
};
void cdr_open_pending_clear(struct cdr_open_pending *p);

/* Build the /v1/session request body (JSON text, malloc'd) with a fresh
 * key share and nonce, signed with U at `timestamp` (0: now). */
int cdr_session_open_build(struct cdr_client *c, uint64_t timestamp, struct cdr_open_pending *p, char **body) CDR_WUR;
/* Check a /v1/session answer (already parsed, status 200) exactly as
 * 4.6 says, with identity key I, and derive the session.  Any mismatch:
 * CDR_ERR_RESPONSE_FORGED. */
int cdr_session_open_finish(struct cdr_client *c, EVP_PKEY *identity, const struct cdr_open_pending *p,
                            const json_t *resp, struct cdr_session **out) CDR_WUR;
/* Both halves and the exchange. */
int cdr_session_open(struct cdr_client *c, const struct cdr_attestation *att, struct cdr_session **out) CDR_WUR;

/* ------------------------------------------------------------------ */
/* Requests (request.c). */

/* What the client remembers of a request to judge its response. */
struct cdr_pending {
  uint8_t session_id[CDR_SESSION_ID_LEN];
  uint64_t seq;
  uint64_t timestamp;
  uint8_t ct_hash[32];                /* H(request ciphertext) */
};

/* Plaintext lp(header_json) || payload (4.7); appended to pt. */
int cdr_request_plaintext(struct cdr_buf *pt, const char *header_json, const void *payload, size_t payload_len) CDR_WUR;
/* Seal and sign a request plaintext with an explicit seq and timestamp
 * (s->seq is not touched): appends the JSON body to `body` (initialised
 * by the caller, max at least CDR_MAX_HTTP_BODY; not NUL-terminated) and
 * fills *p with what is needed to open the answer. */
int cdr_request_build_ex(struct cdr_client *c, const struct cdr_session *s, uint64_t seq, uint64_t timestamp,
                         const void *pt, size_t pt_len, struct cdr_pending *p, struct cdr_buf *body) CDR_WUR;
/* Same with the session's next seq (s->seq is advanced) and now. */
int cdr_request_build(struct cdr_client *c, struct cdr_session *s, const void *pt, size_t pt_len,
                      struct cdr_pending *p, struct cdr_buf *body) CDR_WUR;
/* Judge an answer to the request p: status 200/422 with a response
 * envelope is opened with our own session id, seq and ciphertext hash
 * and parsed into *plain (the decrypted JSON object); *failed says the
 * enclave sealed a failure.  The HTTP status, the envelope status and the
 * plaintext "ok" must agree.  Other statuses go through cdr_http_error.
 * Forged, swapped or corrupted answers: CDR_ERR_RESPONSE_FORGED. */
int cdr_response_verify(struct cdr_client *c, const struct cdr_session *s, const struct cdr_pending *p, long status,
                        const uint8_t *body, size_t len, json_t **plain, int *failed) CDR_WUR;
/* Build, send, verify.  A sealed failure becomes its cdr_err (e.g.
 * CDR_ERR_SQL_DENIED) with remote_code/message set; *plain is set only
 * on success. */
int cdr_client_request(struct cdr_client *c, struct cdr_session *s, const char *header_json, const void *payload,
                       size_t payload_len, json_t **plain) CDR_WUR;
/* The operations (PROTOCOL 4.7).  *result is the decrypted response
 * object.  A query the enclave refuses `busy` (the member already runs
 * as many queries as one member may) is asked again after a pause
 * (10 ms, doubling to 500 ms) for up to two minutes. */
int cdr_client_query(struct cdr_client *c, struct cdr_session *s, const char *sql, json_t **result) CDR_WUR;
/* 1 if a query's result object is paged (carries a "cursor": PROTOCOL
 * 4.7 "Paged results"), else 0. */
int cdr_result_paged(const json_t *result);
/* Read the pages of a paged result (the "result" object of the query's
 * answer) in order, calling fn with each page's rows array (borrowed,
 * freed after fn returns) and index; a non-zero return from fn stops
 * the read with that code.  Each answer must be the page asked for, and
 * the pages must hold the announced rows: CDR_ERR_CURSOR_PAGE otherwise,
 * with a detail naming the page.  A read given up before the end closes
 * the cursor.  CDR_TEST_CURSOR_GATE=FILE (tests) waits before each page
 * after the first while FILE exists. */
int cdr_client_cursor_read(struct cdr_client *c, struct cdr_session *s, const json_t *result,
                           int (*fn)(void *ud, const json_t *rows, uint64_t page), void *ud) CDR_WUR;
/* Any operation without a payload (tables, grant, revoke_grant, hide,
 * drop): header is the request header object (borrowed), e.g.
 * {"op":"grant","table":"t","to":"role:analyst"}.  A "query" header (a
 * query by template) is asked again on `busy` as cdr_client_query is. */
int cdr_client_op(struct cdr_client *c, struct cdr_session *s, json_t *header, json_t **result) CDR_WUR;
/* The same with a payload after the header (rule: the rule's JSON text). */
int cdr_client_op_payload(struct cdr_client *c, struct cdr_session *s, json_t *header, const void *payload,
                          size_t payload_len, json_t **result) CDR_WUR;

/* The room contract (contract.c; PROTOCOL 4.7 and 8).  contract: the
 * active and pending versions (from > 0: and the chain from that
 * version).  contract_propose: doc (a canonical document) becomes the
 * pending version.  contract_sign: sign the pending version, which must
 * be the one whose hash is `hash` as the enclave shows it (else
 * CDR_ERR_CONTRACT_MISMATCH, or CDR_ERR_CONTRACT_NO_PENDING), with the
 * user's key.  *result is the decrypted answer. */
int cdr_client_contract(struct cdr_client *c, struct cdr_session *s, uint64_t from, json_t **result) CDR_WUR;
int cdr_client_contract_propose(struct cdr_client *c, struct cdr_session *s, const uint8_t *doc, size_t len,
                                json_t **result) CDR_WUR;
int cdr_client_contract_sign(struct cdr_client *c, struct cdr_session *s, const uint8_t hash[32],
                             json_t **result) CDR_WUR;

/* The contract pin of a profile (contract_pin.c): profiles/NAME.contract,
 * the latest active version accepted.  load: CDR_ERR_NOT_FOUND if none.
 * chain_follows: `chain` (the "chain" of a contract answer from the
 * pinned version on) starts at the pinned version and hash, and each
 * later version names the one before and carries verified signatures of
 * every signer cdr-gov-1 computes from it; the last version is returned.
 * CDR_ERR_CONTRACT_UNPINNED with a detail otherwise. */
int cdr_contract_pin_load(const char *profile, uint64_t *version, uint8_t hash[32]) CDR_WUR;
/* One version V of a contract answer (PROTOCOL 8.9): its "document"
 * hashes to its "sha256" (into hash) and parses as canonical (into *c,
 * which the caller frees).  CDR_ERR_CONTRACT_UNPINNED otherwise. */
struct cdr_contract;
/* The verified signers of one chain entry V ({"signatures": [{"spki",
 * "object"}...]}) over contract c whose hash is HASH: the member key
 * hashes whose signature object verifies under its own SPKI (an
 * unreadable or wrong object counts nothing; a missing array is none).
 * *have is malloc'd (free it), *n its count.  CDR_ERR_CONTRACT_INVALID
 * when V lists more than CDR_CONTRACT_MAX_SIGNATURES objects. */
int cdr_contract_verified_signers(const json_t *v, const struct cdr_contract *c, const uint8_t hash[32],
                                  uint8_t (**have)[32], size_t *n) CDR_WUR;
int cdr_contract_entry_doc(const json_t *v, struct cdr_contract *c, uint8_t hash[32]) CDR_WUR;
int cdr_contract_pin_save(const char *profile, uint64_t version, const uint8_t hash[32]) CDR_WUR;
int cdr_contract_chain_follows(struct cdr_client *cl, const json_t *chain, uint64_t pin_version,
                               const uint8_t pin_hash[32], uint64_t *last_version, uint8_t last_hash[32]) CDR_WUR;

/* ------------------------------------------------------------------ */
/* Streamed uploads (upload.c; PROTOCOL 4.7 upload_begin, upload_chunk,
 * upload_commit, upload_abort). */

struct csv_schema;
#define CDR_UPLOAD_ID_LEN 16 /* hex digits */

/* The four operations, one request each, exactly as given (a test may
 * send any index, count or hash).  begin fills id (the enclave's answer,
 * checked to be 16 hex digits); chunk sets *received (the bytes the
 * enclave holds so far; may be NULL); commit's *result is the decrypted
 * answer {"ok","table","rows","replaced","columns"}. */
int cdr_client_upload_begin(struct cdr_client *c, struct cdr_session *s, const char *table, int replace,
                            const struct csv_schema *schema, uint64_t bytes, char id[CDR_UPLOAD_ID_LEN + 1]) CDR_WUR;
int cdr_client_upload_chunk(struct cdr_client *c, struct cdr_session *s, const char *id, uint64_t index,
                            const void *data, size_t len, uint64_t *received) CDR_WUR;
int cdr_client_upload_commit(struct cdr_client *c, struct cdr_session *s, const char *id, uint64_t chunks,
                             uint64_t bytes, const uint8_t sha256[32], json_t **result) CDR_WUR;
int cdr_client_upload_abort(struct cdr_client *c, struct cdr_session *s, const char *id) CDR_WUR;

struct cdr_upload_opts {
  int replace;                     /* replace the caller's own table */
  const struct csv_schema *schema; /* declared (names must match the
                                    * header); NULL: infer (pass 1) */
  size_t chunk_size;               /* 1..CDR_UPLOAD_CHUNK_MAX bytes;
                                    * 0: CDR_UPLOAD_CHUNK_DEFAULT */
};
/* Progress: phase 0 while the file is read to infer its schema, 1 while
 * it is sent; done and total are bytes of the file. */
typedef void (*cdr_upload_progress_fn)(void *ctx, int phase, uint64_t done, uint64_t total);
/* Upload the CSV file at path as table `table`, in flat memory (one chunk
 * and one CSV record): without a schema, pass 1 reads the whole file and
 * infers the types with the enclave's rules (csv.h), refusing a malformed
 * file (CDR_ERR_CSV, detail "line N: ...") before anything is sent; with
 * one, only the header is read and must name its columns.  Pass 2 sends
 * the file in chunks and commits with their count, the size and the
 * SHA-256.  A local failure after begin aborts the upload; a refusal by
 * the enclave has dropped it already.  The file must not change while it
 * is sent (a size or content change is refused).  *result as for
 * cdr_client_upload_commit. */
int cdr_client_upload_stream(struct cdr_client *c, struct cdr_session *s, const char *table, const char *path,
                             const struct cdr_upload_opts *opts, cdr_upload_progress_fn progress, void *ctx,
                             json_t **result) CDR_WUR;

/* ---- history witnesses (witness_key.c) ---- */

/* GET url/v1/witness/key (PROTOCOL 9.5): *spki (malloc'd) is the
 * witness's SubjectPublicKeyInfo DER, key_sha256 its fingerprint, after
 * checking that the answer's key_sha256 is SHA-256 of it and that it is
 * an EC P-256 key.  url is https://HOST[:PORT] with no trailing slash.
 * CDR_ERR_NETWORK, CDR_ERR_TLS_VERIFY, CDR_ERR_RESPONSE_FORGED or
 * CDR_ERR_KEY_UNSUPPORTED with a one-line reason naming the URL in why. */
int cdr_witness_key_fetch(const char *url, const char *cafile, uint8_t **spki, size_t *spki_len,
                          uint8_t key_sha256[32], char *why, size_t whylen) CDR_WUR;
/* Set the TLS trust of a libcurl easy handle for talking to a witness:
 * cafile if not NULL, else CURL_CA_BUNDLE, else SSL_CERT_FILE, else
 * libcurl's default (the system store). */
void cdr_witness_tls_trust(void *curl_easy, const char *cafile);

#endif
