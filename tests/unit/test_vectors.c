/*
 * test_vectors.c - checks the test vectors of docs/PROTOCOL.md (section 7,
 * and the room contract's in section 8.8) against the implementation,
 * reading them from the document itself (every ```vectors block) so that
 * the document and the code cannot drift apart.
 *
 *   test_vectors                 check (CDR_SOURCE_DIR locates the docs)
 *   test_vectors --generate      print a fresh vector block (maintainers)
 *
 * Deterministic values (transcripts, ECDH, HKDF, AEAD, report_data, MAC)
 * are recomputed and compared byte for byte.  ECDSA signatures are
 * randomised, so the recorded ones are verified instead.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"
#include "room/room.h"
#include "testlib.h"

#define MAXV 96
static struct {
  char name[48];
  char *hex;
} vec[MAXV];
static int nvec;
static int generate;

/* Fixed inputs.  Scalars are arbitrary valid P-256 private keys. */
static const char *IN_U = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
static const char *IN_C = "0f56db78ca460b055c500064824bed999a25aaf48ebb519ac201537b85479813";
static const char *IN_E = "e283871239837e13b95f789e6e1af63bf61c918c992e62bca040d64cad1fc2ef";
static const char *IN_I = "a0ed7c2d1bbb1e4da1c0d7a9e8e03c6a8b7f4e63bb0c2a8a8a5b4f7e5d1c2b3a";
static const char *IN_X = "38f65d6dce47676044d58ce5139582d568f64bb16098d179dbab07741dd5caf5";
static const char *IN_NONCE = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char *IN_SESSION = "5e55105e55105e55105e55105e55105e";
static const char *IN_ROOM = "00112233445566778899aabbccddeeff";
static const char *IN_CAFP = "cafecafecafecafecafecafecafecafecafecafecafecafecafecafecafecafe";
/* report_data binds the active contract: section 8.8's version 1. */
static const char *IN_REPORT_CONTRACT = "48cf887eb8bbd22c20675b725e2901767e3abeb0b14fb11d07a117dd80fdfa33";
static const char *IN_CERT = "3082deadbeef"; /* opaque bytes: transcripts do not parse them */
static const char *IN_TOKEN_SECRET = "7365637265747365637265747365637265747365637265747365637265747321";
static const char *IN_TOKEN_ID = "0123456789abcdef0123456789abcdef";
static const char *IN_CSR = "3082c5e2";
static const uint64_t IN_TIMESTAMP = 1767225600; /* 2026-01-01T00:00:00Z */
static const uint64_t IN_EXPIRES = 1767229200;
static const uint64_t IN_SEQ = 1;
static const char *IN_REQ_JSON = "{\"op\":\"query\",\"sql\":\"SELECT 1\"}";
static const char *IN_RESP_JSON = "{\"ok\":true,\"result\":{\"columns\":[\"1\"],\"rows\":[[1]],\"row_count\":1}}";

/* The contract vector's document as PROTOCOL.md shows it (8.8). */
static char *doc_contract_json;

static void load_vectors(void) {
  const char *src = getenv("CDR_SOURCE_DIR");
  char path[4096];
  uint8_t *doc;
  size_t len;
  snprintf(path, sizeof(path), "%s/docs/PROTOCOL.md", src ? src : ".");
  if (cdr_file_read(path, &doc, &len, 1u << 20) != 0) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  const char *mark = "<!-- contract-vector-document -->\n```json\n";
  char *cj = strstr((char *)doc, mark), *cend = cj ? strstr(cj + strlen(mark), "\n```") : NULL;
  CHECK(cj != NULL && cend != NULL);
  if (cj != NULL && cend != NULL)
    doc_contract_json = strndup(cj + strlen(mark), (size_t)(cend - cj - strlen(mark)));
  char *p = strstr((char *)doc, "```vectors\n");
  CHECK(p != NULL);
  if (p == NULL)
    exit(1);
  p += strlen("```vectors\n");
  while (*p && nvec < MAXV) {
    if (strncmp(p, "```", 3) == 0) { /* end of a block: on to the next one */
      if ((p = strstr(p + 3, "```vectors\n")) == NULL)
        break;
      p += strlen("```vectors\n");
      continue;
    }
    char *eol = strchr(p, '\n');
    if (eol == NULL)
      break;
    *eol = '\0';
    char *colon = strstr(p, ": ");
    if (colon != NULL && (size_t)(colon - p) < sizeof(vec[0].name)) {
      memcpy(vec[nvec].name, p, (size_t)(colon - p));
      vec[nvec].name[colon - p] = '\0';
      vec[nvec].hex = strdup(colon + 2);
      nvec++;
    }
    p = eol + 1;
  }
  free(doc);
}

static const char *vget(const char *name) {
  for (int i = 0; i < nvec; i++)
    if (strcmp(vec[i].name, name) == 0)
      return vec[i].hex;
  fprintf(stderr, "vector %s missing from PROTOCOL.md\n", name);
  test_failures++;
  return "";
}

/* Compare computed bytes with the document, or print them when generating. */
static void expect(const char *name, const uint8_t *b, size_t n) {
  char *hex = malloc(2 * n + 1);
  cdr_hex_encode(hex, b, n);
  if (generate) {
    printf("%s: %s\n", name, hex);
  } else {
    test_checks++;
    if (strcmp(hex, vget(name)) != 0) {
      test_failures++;
      fprintf(stderr, "vector %s differs:\n  doc:  %s\n  code: %s\n", name, vget(name), hex);
    }
  }
  free(hex);
}

static void input(const char *name, const char *hex) {
  if (generate)
    printf("%s: %s\n", name, hex);
}

static void unhex(uint8_t *out, size_t n, const char *hex) {
  if (cdr_hex_decode(out, n, hex) != 0) {
    fprintf(stderr, "bad hex for %zu bytes: %s\n", n, hex);
    exit(1);
  }
}

static EVP_PKEY *key_from(const char *hex) {
  uint8_t d[32];
  EVP_PKEY *k = NULL;
  unhex(d, 32, hex);
  if (cdr_p256_from_private(&k, d) != 0) {
    fprintf(stderr, "bad scalar %s\n", hex);
    exit(1);
  }
  return k;
}

/* A signature: fresh when generating, else the document's, verified. */
static void signature(const char *name, EVP_PKEY *k, const struct cdr_buf *msg) {
  if (generate) {
    struct cdr_buf sig;
    cdr_buf_init(&sig, 512, 0);
    CHECK_RC(cdr_sign(&sig, k, msg->d, msg->len), 0);
    expect(name, sig.d, sig.len);
    cdr_buf_free(&sig);
    return;
  }
  const char *hex = vget(name);
  size_t n = strlen(hex) / 2;
  uint8_t *sig = malloc(n + 1);
  unhex(sig, n, hex);
  CHECK_RC(cdr_verify(k, msg->d, msg->len, sig, n), 0);
  sig[n / 2] ^= 1; /* and a corrupted one must not */
  CHECK_RC(cdr_verify(k, msg->d, msg->len, sig, n), CDR_ERR_BAD_SIGNATURE);
  free(sig);
}

/* The room contract (PROTOCOL.md 8.8): a version-1 document with two
 * members, the user key U and the key of scalar IN_C, non-ASCII names and
 * the characters '"' and '/' that a canonical encoder must treat exactly
 * as specified; its hash, U's signed message, signature and detached
 * signature object. */
static const char *IN_MEASUREMENT = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

static void contract_vectors(EVP_PKEY *U, EVP_PKEY *B, const uint8_t room[16], const uint8_t cafp[32]) {
  struct cdr_contract c;
  uint8_t *uspki = NULL, *bspki = NULL, *doc = NULL, *obj = NULL, h[32];
  size_t ulen = 0, blen = 0, dlen = 0, olen = 0;
  char why[CDR_CONTRACT_WHY_LEN] = "";
  struct cdr_buf msg, sig;
  cdr_buf_init(&msg, 256, 0);
  cdr_buf_init(&sig, CDR_MAX_SIGNATURE, 0);
  CHECK_RC(cdr_contract_alloc(&c, 2, 0), 0);
  CHECK_RC(cdr_pubkey_to_der(U, &uspki, &ulen), 0);
  CHECK_RC(cdr_pubkey_to_der(B, &bspki, &blen), 0);
  uint8_t ufp[32], bfp[32];
  CHECK_RC(cdr_sha256(ufp, uspki, ulen), 0);
  CHECK_RC(cdr_sha256(bfp, bspki, blen), 0);
  expect("contract_member_a_key_sha256", ufp, 32);
  expect("contract_member_b_spki", bspki, blen);
  expect("contract_member_b_key_sha256", bfp, 32);
  memcpy(c.room_id, room, 16);
  c.room_name = strdup("Étude cardio 2026");
  c.version = 1;
  memcpy(c.ca_sha256, cafp, 32);
  memcpy(c.platform, "sim", 4);
  c.n_measurements = 1;
  unhex(c.measurements[0], 32, IN_MEASUREMENT);
  memcpy(c.governance, CDR_CONTRACT_GOVERNANCE, sizeof(CDR_CONTRACT_GOVERNANCE));
  int u_first = memcmp(ufp, bfp, 32) < 0; /* members sorted by key fingerprint */
  struct cdr_contract_member *mu = &c.members[u_first ? 0 : 1], *mb = &c.members[u_first ? 1 : 0];
  memcpy(mu->key_sha256, ufp, 32);
  mu->name = strdup("Hôpital Saint-Éloi");
  mu->roles = CDR_CONTRACT_ROLE_ANALYST | CDR_CONTRACT_ROLE_PROVIDER;
  memcpy(mb->key_sha256, bfp, 32);
  mb->name = strdup("Labo \"R&D\" / Zürich");
  mb->roles = CDR_CONTRACT_ROLE_AUDITOR;
  CHECK_RC(cdr_contract_encode(&c, &doc, &dlen, why, sizeof(why)), 0);
  if (doc == NULL)
    exit(1);
  expect("contract_document", doc, dlen);
  if (generate)
    fprintf(stderr, "contract document:\n%s\n", (char *)doc);
  else
    CHECK(doc_contract_json != NULL && strcmp(doc_contract_json, (char *)doc) == 0);
  CHECK_RC(cdr_contract_hash(&c, h), 0);
  expect("contract_sha256", h, 32);
  /* The document as written in PROTOCOL.md parses back to the same hash. */
  struct cdr_contract back;
  CHECK_RC(cdr_contract_parse(doc, dlen, &back, why, sizeof(why)), 0);
  cdr_contract_free(&back);
  CHECK_RC(cdr_contract_sign_input(&msg, room, 1, h), 0);
  expect("contract_sign_input", msg.d, msg.len);
  /* The signature: made once when generating, else the document's,
   * verified (and a corrupted copy refused) by signature(). */
  if (generate) {
    CHECK_RC(cdr_contract_sign(U, h, room, 1, &sig), 0);
    expect("contract_signature_by_user", sig.d, sig.len);
  } else {
    signature("contract_signature_by_user", U, &msg);
    const char *hex = vget("contract_signature_by_user");
    size_t n = strlen(hex) / 2;
    CHECK(n > 0 && n <= CDR_MAX_SIGNATURE);
    CHECK_RC(cdr_buf_reserve(&sig, n), 0);
    unhex(sig.d, n, hex);
    sig.len = n;
  }
  struct cdr_contract_sig s = {.version = 1, .sig = sig.d, .sig_len = sig.len};
  memcpy(s.contract_sha256, h, 32);
  memcpy(s.member_key_sha256, ufp, 32);
  CHECK_RC(cdr_contract_sig_encode(&s, &obj, &olen), 0);
  expect("contract_signature_object", obj, olen);
  CHECK_RC(cdr_contract_verify(uspki, ulen, ufp, h, room, 1, sig.d, sig.len), 0);
  free(obj);
  free(doc);
  OPENSSL_free(uspki);
  OPENSSL_free(bspki);
  cdr_contract_free(&c);
  cdr_buf_free(&msg);
  cdr_buf_free(&sig);
}

int main(int argc, char **argv) {
  generate = argc > 1 && strcmp(argv[1], "--generate") == 0;
  if (!generate)
    load_vectors();

  EVP_PKEY *U = key_from(IN_U), *C = key_from(IN_C), *E = key_from(IN_E), *I = key_from(IN_I), *X = key_from(IN_X);
  uint8_t nonce[32], sid[16], room[16], cafp[32], cert[6], secret[32], csr[4];
  unhex(nonce, 32, IN_NONCE);
  unhex(sid, 16, IN_SESSION);
  unhex(room, 16, IN_ROOM);
  unhex(cafp, 32, IN_CAFP);
  unhex(cert, sizeof(cert), IN_CERT);
  unhex(secret, 32, IN_TOKEN_SECRET);
  unhex(csr, sizeof(csr), IN_CSR);

  input("user_private_key", IN_U);
  input("client_share_private_key", IN_C);
  input("enclave_session_private_key", IN_E);
  input("identity_private_key", IN_I);
  input("seal_ephemeral_private_key", IN_X);
  input("client_nonce", IN_NONCE);
  input("session_id", IN_SESSION);
  input("room_id", IN_ROOM);
  input("ca_fingerprint", IN_CAFP);
  input("cert_der", IN_CERT);

  /* Public values derived from the scalars. */
  uint8_t *uspki, *ispki;
  size_t uspki_len, ispki_len;
  uint8_t cpub[65], epub[65];
  CHECK_RC(cdr_pubkey_to_der(U, &uspki, &uspki_len), 0);
  CHECK_RC(cdr_pubkey_to_der(I, &ispki, &ispki_len), 0);
  CHECK_RC(cdr_p256_point_get(cpub, C), 0);
  CHECK_RC(cdr_p256_point_get(epub, E), 0);
  expect("user_spki", uspki, uspki_len);
  expect("identity_spki", ispki, ispki_len);
  expect("client_share", cpub, 65);
  expect("enclave_session_public", epub, 65);

  /* Session-open request. */
  struct cdr_open_req q = {.version = 1, .cert_der = cert, .cert_len = sizeof(cert), .user_spki = uspki,
                           .user_spki_len = uspki_len, .timestamp = IN_TIMESTAMP};
  memcpy(q.client_share, cpub, 65);
  memcpy(q.client_nonce, nonce, 32);
  if (generate)
    printf("timestamp: %016llx\n", (unsigned long long)IN_TIMESTAMP);
  struct cdr_buf treq;
  cdr_buf_init(&treq, 1 << 16, 0);
  CHECK_RC(cdr_open_req_transcript(&treq, &q), 0);
  expect("T_req", treq.d, treq.len);
  uint8_t treq_hash[32];
  CHECK_RC(cdr_sha256(treq_hash, treq.d, treq.len), 0);
  expect("H_T_req", treq_hash, 32);
  signature("T_req_signature_by_user", U, &treq);

  /* Sealed session parameters to U with the fixed ephemeral X. */
  uint8_t params[CDR_SESSION_PARAMS_LEN];
  memcpy(params, sid, 16);
  for (int i = 0; i < 8; i++)
    params[16 + i] = (uint8_t)(IN_EXPIRES >> (56 - 8 * i));
  memcpy(params + 24, epub, 65);
  if (generate)
    printf("expires_at: %016llx\n", (unsigned long long)IN_EXPIRES);
  expect("session_params", params, sizeof(params));
  struct cdr_buf encap, sealed, opened;
  cdr_buf_init(&encap, 1024, 0);
  cdr_buf_init(&sealed, 1024, 0);
  cdr_buf_init(&opened, 1024, 0);
  uint8_t kem = 0;
  CHECK_RC(cdr_seal_to_user(U, X, treq_hash, 32, params, sizeof(params), &kem, &encap, &sealed), 0);
  CHECK(kem == CDR_KEM_ECDH_P256);
  expect("encapsulated_key", encap.d, encap.len);
  expect("sealed", sealed.d, sealed.len);
  CHECK_RC(cdr_open_sealed(U, kem, encap.d, encap.len, treq_hash, 32, sealed.d, sealed.len, &opened), 0);
  CHECK(opened.len == sizeof(params) && memcmp(opened.d, params, sizeof(params)) == 0);
  sealed.d[3] ^= 0x80; /* a flipped bit must fail */
  cdr_buf_free(&opened);
  CHECK_RC(cdr_open_sealed(U, kem, encap.d, encap.len, treq_hash, 32, sealed.d, sealed.len, &opened), CDR_ERR_DECRYPT);
  sealed.d[3] ^= 0x80;

  /* Session-open response transcript and identity signature. */
  struct cdr_open_resp p = {.expires_at = IN_EXPIRES, .kem = kem, .encap = encap.d, .encap_len = encap.len,
                            .sealed = sealed.d, .sealed_len = sealed.len};
  memcpy(p.session_id, sid, 16);
  uint8_t certfp[32];
  CHECK_RC(cdr_sha256(certfp, cert, sizeof(cert)), 0);
  struct cdr_buf tresp;
  cdr_buf_init(&tresp, 1 << 16, 0);
  CHECK_RC(cdr_open_resp_transcript(&tresp, treq_hash, certfp, nonce, &p), 0);
  expect("T_resp", tresp.d, tresp.len);
  signature("T_resp_signature_by_identity", I, &tresp);

  /* Session keys, both sides. */
  uint8_t z1[32], z2[32];
  CHECK_RC(cdr_ecdh_p256(z1, C, E), 0);
  CHECK_RC(cdr_ecdh_p256(z2, E, C), 0);
  CHECK(memcmp(z1, z2, 32) == 0);
  expect("ecdh_shared_secret", z1, 32);
  struct cdr_session_keys k;
  CHECK_RC(cdr_session_keys_derive(&k, z1, treq_hash, sid), 0);
  expect("k_req", k.req, 32);
  expect("k_resp", k.resp, 32);

  /* Request. */
  struct cdr_buf rpt, rct, sreq, back;
  cdr_buf_init(&rpt, 1 << 16, 0);
  cdr_buf_init(&rct, 1 << 16, 0);
  cdr_buf_init(&sreq, 1 << 16, 0);
  cdr_buf_init(&back, 1 << 16, 0);
  CHECK_RC(cdr_buf_put_lpstr(&rpt, IN_REQ_JSON), 0);
  if (generate)
    printf("seq: %016llx\n", (unsigned long long)IN_SEQ);
  expect("request_plaintext", rpt.d, rpt.len);
  CHECK_RC(cdr_request_seal(&rct, &k, sid, IN_SEQ, IN_TIMESTAMP, rpt.d, rpt.len), 0);
  expect("request_ciphertext", rct.d, rct.len);
  struct cdr_request_env env = {.seq = IN_SEQ, .timestamp = IN_TIMESTAMP, .ct = rct.d, .ct_len = rct.len};
  memcpy(env.session_id, sid, 16);
  CHECK_RC(cdr_request_sig_input(&sreq, &env), 0);
  expect("S_req", sreq.d, sreq.len);
  signature("S_req_signature_by_user", U, &sreq);
  CHECK_RC(cdr_request_open(&back, &k, &env), 0);
  CHECK(back.len == rpt.len && memcmp(back.d, rpt.d, rpt.len) == 0);

  /* Response. */
  struct cdr_buf spt, sct, sback;
  cdr_buf_init(&spt, 1 << 16, 0);
  cdr_buf_init(&sct, 1 << 16, 0);
  cdr_buf_init(&sback, 1 << 16, 0);
  uint8_t reqhash[32];
  CHECK_RC(cdr_sha256(reqhash, rct.d, rct.len), 0);
  CHECK_RC(cdr_buf_put(&spt, IN_RESP_JSON, strlen(IN_RESP_JSON)), 0);
  expect("response_plaintext", spt.d, spt.len);
  CHECK_RC(cdr_response_seal(&sct, &k, sid, IN_SEQ, CDR_STATUS_OK, reqhash, spt.d, spt.len), 0);
  expect("response_ciphertext", sct.d, sct.len);
  struct cdr_response_env renv = {.seq = IN_SEQ, .status = CDR_STATUS_OK, .ct = sct.d, .ct_len = sct.len};
  memcpy(renv.session_id, sid, 16);
  CHECK_RC(cdr_response_open(&sback, &k, &renv, sid, IN_SEQ, reqhash), 0);
  CHECK(sback.len == spt.len && memcmp(sback.d, spt.d, spt.len) == 0);
  renv.status = CDR_STATUS_FAILED; /* a flipped status must not authenticate */
  cdr_buf_free(&sback);
  CHECK_RC(cdr_response_open(&sback, &k, &renv, sid, IN_SEQ, reqhash), CDR_ERR_RESPONSE_FORGED);
  renv.status = CDR_STATUS_OK;
  CHECK_RC(cdr_response_open(&sback, &k, &renv, sid, IN_SEQ + 1, reqhash), CDR_ERR_RESPONSE_FORGED);

  /* Attestation report_data. */
  uint8_t rd[64], rd_contract[32];
  unhex(rd_contract, 32, IN_REPORT_CONTRACT);
  input("report_data_contract_sha256", IN_REPORT_CONTRACT);
  CHECK_RC(cdr_report_data(rd, ispki, ispki_len, room, cafp, rd_contract, nonce), 0);
  expect("report_data", rd, 64);

  /* Enrollment MAC. */
  input("token_secret", IN_TOKEN_SECRET);
  input("token_id_ascii", IN_TOKEN_ID);
  input("csr_der", IN_CSR);
  uint8_t mac[32];
  CHECK_RC(cdr_enroll_mac(mac, secret, IN_TOKEN_ID, csr, sizeof(csr)), 0);
  expect("enroll_mac", mac, 32);

  contract_vectors(U, C, room, cafp);

  cdr_session_keys_wipe(&k);
  cdr_buf_free(&treq);
  cdr_buf_free(&tresp);
  cdr_buf_free(&encap);
  cdr_buf_free(&sealed);
  cdr_buf_free(&opened);
  cdr_buf_free(&rpt);
  cdr_buf_free(&rct);
  cdr_buf_free(&sreq);
  cdr_buf_free(&back);
  cdr_buf_free(&spt);
  cdr_buf_free(&sct);
  cdr_buf_free(&sback);
  OPENSSL_free(uspki);
  OPENSSL_free(ispki);
  EVP_PKEY_free(U);
  EVP_PKEY_free(C);
  EVP_PKEY_free(E);
  EVP_PKEY_free(I);
  EVP_PKEY_free(X);
  for (int i = 0; i < nvec; i++)
    free(vec[i].hex);
  if (generate)
    return 0;
  CHECK(nvec >= 47); /* section 7 (39) and the contract's 8.8 (8) */
  return test_summary("test_vectors");
}
