/*
 * wire.h - the wire vocabulary of CDR protocol v1 that the client, the
 * host and the enclave share: the protocol version, the sizes of the
 * fixed fields (nonce, session id, room id, client share, measurement),
 * the KEM and status codes, and the session-open and request/response
 * envelopes as plain structs.  docs/PROTOCOL.md is the normative text.
 *
 * This header holds only names and layouts, no code: the constructions
 * over these structs (transcripts, sealing, key derivation) live in
 * crypto/envelope.h, and the IPC encoding of them in ipc/messages.h.
 * That keeps ipc/ free of crypto/ (docs/ARCHITECTURE.md, include graph).
 *
 * Invariants: the numbers here are part of the protocol; changing one
 * changes the wire.  Pointers in the envelope structs borrow from the
 * buffer they were decoded from (or that the caller keeps alive); none
 * of them owns memory.
 */
#ifndef CDR_WIRE_H
#define CDR_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define CDR_PROTOCOL_VERSION 1u
#define CDR_NONCE_LEN 32
#define CDR_SESSION_ID_LEN 16
#define CDR_ROOM_ID_BYTES 16
/* The client's ECDH share: an uncompressed P-256 point, 0x04 || X || Y
 * (crypto.h's CDR_P256_POINT_LEN; envelope.c asserts they agree). */
#define CDR_CLIENT_SHARE_LEN 65
#define CDR_MEASUREMENT_LEN 32 /* sim: SHA-256 of cdr-enclave */
/* Any platform's measurement: sim 32 bytes, SEV-SNP MEASUREMENT, TDX MRTD
 * and Nitro PCR0 48 bytes.  IPC_INIT_OK and the client carry 1..this. */
#define CDR_MEASUREMENT_MAX 64

enum cdr_kem { CDR_KEM_ECDH_P256 = 1, CDR_KEM_RSA_OAEP_SHA256 = 2 };
enum cdr_status { CDR_STATUS_OK = 0, CDR_STATUS_FAILED = 1 };

/* Session-open request as sent by the client.  Pointers borrow. */
struct cdr_open_req {
  uint32_t version;
  const uint8_t *cert_der;
  size_t cert_len;
  const uint8_t *user_spki;
  size_t user_spki_len;
  uint8_t client_share[CDR_CLIENT_SHARE_LEN];
  uint8_t client_nonce[CDR_NONCE_LEN];
  uint64_t timestamp;
  const uint8_t *sig;
  size_t sig_len;
};

/* Session-open response as returned by the enclave.  Pointers borrow. */
struct cdr_open_resp {
  uint8_t session_id[CDR_SESSION_ID_LEN];
  uint64_t expires_at;
  uint8_t kem;
  const uint8_t *encap;
  size_t encap_len;
  const uint8_t *sealed;
  size_t sealed_len;
  const uint8_t *sig;
  size_t sig_len;
};

/* A request envelope (client -> enclave).  Pointers borrow. */
struct cdr_request_env {
  uint8_t session_id[CDR_SESSION_ID_LEN];
  uint64_t seq;
  uint64_t timestamp;
  const uint8_t *ct;
  size_t ct_len;
  const uint8_t *sig;
  size_t sig_len;
};

/* A response envelope (enclave -> client).  Pointers borrow. */
struct cdr_response_env {
  uint8_t session_id[CDR_SESSION_ID_LEN];
  uint64_t seq;
  uint8_t status;
  const uint8_t *ct;
  size_t ct_len;
};

#endif
