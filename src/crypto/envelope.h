/*
 * envelope.h - the cryptographic constructions of CDR protocol v1,
 * shared by the client and the enclave.  docs/PROTOCOL.md is the
 * normative description; this file implements it and the test vectors
 * there are checked against it (tests/unit/test_vectors.c).
 *
 * Notation: lp(x) = u32be(len(x)) || x;  H = SHA-256.
 *
 *   T_req  = lp("CDR-v1 session-open request") || u32be(version)
 *            || lp(cert_der) || lp(user_spki_der) || lp(client_share)
 *            || lp(client_nonce) || u64be(timestamp)
 *   T_resp = lp("CDR-v1 session-open response") || lp(H(T_req))
 *            || lp(cert_fingerprint) || lp(client_nonce) || lp(session_id)
 *            || u64be(expires_at) || u8(kem) || lp(encap) || lp(sealed)
 *            (E_pub is inside `sealed`, so the signature binds it, and a
 *            client verifies the signature before it decrypts anything.)
 *   session keys = HKDF-SHA256(ikm = ECDH(E, C), salt = H(T_req),
 *            info = "CDR-v1 session keys" || session_id, L = 64)
 *            -> k_req = [0,32), k_resp = [32,64)
 *   request:  nonce = u32be(1) || u64be(seq)
 *             aad   = lp("CDR-v1 request") || lp(session_id) || u64be(seq) || u64be(timestamp)
 *             S_req = lp("CDR-v1 request signature") || lp(session_id) || u64be(seq)
 *                     || u64be(timestamp) || lp(H(ciphertext))
 *   response: nonce = u32be(2) || u64be(seq)
 *             aad   = lp("CDR-v1 response") || lp(session_id) || u64be(seq) || u8(status)
 *                     || lp(H(request ciphertext))
 *   report_data = SHA-512(lp("CDR-v2 report-data") || lp(identity_spki_der)
 *                 || lp(room_id) || lp(ca_fingerprint) || lp(contract_sha256) || lp(nonce))
 *            contract_sha256: the hash of the active contract version
 *            (PROTOCOL 8.3), 32 zero bytes before version 1 is active
 */
#ifndef CDR_ENVELOPE_H
#define CDR_ENVELOPE_H

#include <openssl/evp.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/wire.h"
#include "crypto.h"

/* The wire vocabulary (protocol version, field sizes, the open and
 * request/response envelope structs) is in common/wire.h. */
#define CDR_REPORT_DATA_LEN 64
/* Sealed session parameters: session_id || u64be(expires_at) || E_pub. */
#define CDR_SESSION_PARAMS_LEN (CDR_SESSION_ID_LEN + 8 + CDR_P256_POINT_LEN)

const char *cdr_kem_name(uint8_t kem);      /* "ecdh-p256", "rsa-oaep-sha256", NULL */
int cdr_kem_from_name(const char *s);       /* kem value, or -1 */

struct cdr_session_keys {
  uint8_t req[CDR_AEAD_KEY_LEN];
  uint8_t resp[CDR_AEAD_KEY_LEN];
};

/* T_req (the bytes the user signs). */
int cdr_open_req_transcript(struct cdr_buf *out, const struct cdr_open_req *r) CDR_WUR;
/* T_resp (the bytes the enclave identity key signs). */
int cdr_open_resp_transcript(struct cdr_buf *out, const uint8_t treq_hash[32], const uint8_t cert_fp[32],
                             const uint8_t client_nonce[CDR_NONCE_LEN], const struct cdr_open_resp *r) CDR_WUR;

/* Encrypt pt so that only the holder of user_pub's private key can read
 * it (P-256: ECDH with an ephemeral key; RSA: OAEP key transport), with
 * AES-256-GCM over aad.  eph is NULL except in test vectors (a fixed
 * ephemeral P-256 key).  Writes *kem, appends to encap and ct. */
int cdr_seal_to_user(EVP_PKEY *user_pub, EVP_PKEY *eph, const void *aad, size_t aadlen, const void *pt, size_t ptlen,
                     uint8_t *kem, struct cdr_buf *encap, struct cdr_buf *ct) CDR_WUR;
/* The reverse, with the user's private key; CDR_ERR_DECRYPT on failure. */
int cdr_open_sealed(EVP_PKEY *user_priv, uint8_t kem, const uint8_t *encap, size_t encap_len, const void *aad,
                    size_t aadlen, const uint8_t *ct, size_t ct_len, struct cdr_buf *pt) CDR_WUR;

/* Session keys from the ECDH shared secret (see top of file). */
int cdr_session_keys_derive(struct cdr_session_keys *k, const uint8_t z[32], const uint8_t treq_hash[32],
                            const uint8_t session_id[CDR_SESSION_ID_LEN]) CDR_WUR;
void cdr_session_keys_wipe(struct cdr_session_keys *k);

/* Client: encrypt a request plaintext under k_req (appends to ct). */
int cdr_request_seal(struct cdr_buf *ct, const struct cdr_session_keys *k, const uint8_t session_id[CDR_SESSION_ID_LEN],
                     uint64_t seq, uint64_t timestamp, const void *pt, size_t ptlen) CDR_WUR;
/* S_req: the bytes the user signs for a request envelope. */
/* The same from the ciphertext's SHA-256 (what an audit entry keeps). */
int cdr_request_sig_input_hashed(struct cdr_buf *out, const uint8_t session_id[CDR_SESSION_ID_LEN], uint64_t seq,
                                 uint64_t timestamp, const uint8_t ct_hash[32]) CDR_WUR;
int cdr_request_sig_input(struct cdr_buf *out, const struct cdr_request_env *env) CDR_WUR;
/* Enclave: decrypt a request whose signature was already verified. */
int cdr_request_open(struct cdr_buf *pt, const struct cdr_session_keys *k, const struct cdr_request_env *env) CDR_WUR;

/* Enclave: encrypt a response plaintext under k_resp, bound to the
 * request ciphertext's hash (appends to ct). */
int cdr_response_seal(struct cdr_buf *ct, const struct cdr_session_keys *k, const uint8_t session_id[CDR_SESSION_ID_LEN],
                      uint64_t seq, uint8_t status, const uint8_t req_ct_hash[32], const void *pt, size_t ptlen) CDR_WUR;
/* Client: decrypt a response to the request whose ciphertext hash is
 * req_ct_hash; any mismatch is CDR_ERR_RESPONSE_FORGED. */
int cdr_response_open(struct cdr_buf *pt, const struct cdr_session_keys *k, const struct cdr_response_env *env,
                      const uint8_t expect_session_id[CDR_SESSION_ID_LEN], uint64_t expect_seq,
                      const uint8_t req_ct_hash[32]) CDR_WUR;

/* Padding (docs/PROTOCOL.md 4.7): the size a plaintext of n bytes is
 * padded to with trailing JSON whitespace, so that ciphertext lengths
 * reveal only a size bucket: 256 bytes at least, then the next power of
 * two up to 1 MiB, then whole MiB. */
size_t cdr_pad_length(size_t n);
/* Append spaces to b until its length is cdr_pad_length(b->len). */
int cdr_pad_spaces(struct cdr_buf *b) CDR_WUR;

/* Attestation report_data binding (see top of file). */
int cdr_report_data(uint8_t out[CDR_REPORT_DATA_LEN], const uint8_t *identity_spki, size_t spki_len,
                    const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t ca_fp[32],
                    const uint8_t contract_sha256[32], const uint8_t nonce[CDR_NONCE_LEN]) CDR_WUR;

#endif
