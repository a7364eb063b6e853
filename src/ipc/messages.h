/*
 * messages.h - encoders and exact decoders for the IPC payloads listed
 * in ipc.h, one put/get pair per payload.  Both sides use them, and
 * nothing else: no payload is built or read by hand anywhere.
 *
 * Contracts:
 *   - Decoders borrow pointers into the buffer (valid while it is
 *     unchanged), check every length against its cap (or its exact size)
 *     before trusting it, and fail unless the payload is consumed
 *     exactly: CDR_ERR_TOO_LARGE for a length over its cap,
 *     CDR_ERR_TRUNCATED for a short, malformed or over-long payload.
 *     Those that copy (a platform name, an object name, a message) say so.
 *   - Encoders append to b and do not check what the decoder will (the
 *     host runs the enclave's decoder over every payload it sends, see
 *     host/enclave_call.c), except where a count bounds an array.
 *   - Each cap on a payload field is named once, below or in limits.h.
 */
#ifndef CDR_IPC_MESSAGES_H
#define CDR_IPC_MESSAGES_H

#include "common/limits.h"
#include "common/room_limits.h"
#include "common/wire.h"
#include "ipc.h"

/* ---- caps of the payload fields (ipc.h) ---- */
/* The sealed identity key (IPC_INIT, IPC_INIT_OK). */
#define IPC_SEALED_IDENTITY_MAX 4096u
/* A platform name ("sim", "snp", "tdx", "nitro"): 1..this printable
 * ASCII bytes (IPC_INIT_OK, IPC_ATTEST_OK). */
#define IPC_PLATFORM_MAX 31u
/* Attestation evidence and the certificates that come with it. */
#define IPC_EVIDENCE_MAX CDR_MAX_EVIDENCE
#define IPC_ATTEST_MAX_CERTS 8u
/* The session-open answer's KEM encapsulation and sealed parameters. */
#define IPC_OPEN_ENCAP_MAX 1024u
#define IPC_OPEN_SEALED_MAX 1024u
/* A stored object's name (IPC_STORE, IPC_FETCH): 1..this bytes, no NUL. */
#define IPC_OBJECT_NAME_MAX 63u
/* The sealed manifest (IPC_LOAD). */
#define IPC_MANIFEST_MAX CDR_IPC_MAX_FRAME
/* A table id: exactly this many lowercase hex digits. */
#define IPC_TABLE_ID_LEN 32u
/* Tables one IPC_LOAD_WANT may name (a manifest names at most this). */
#define IPC_LOAD_MAX_TABLES CDR_MAX_TABLES
/* Bytes of a table file in one IPC_LOAD_CHUNK. */
#define IPC_LOAD_CHUNK_MAX (4u * CDR_MiB)
/* The room's CRL (IPC_CRL). */
#define IPC_CRL_MAX (16u * CDR_MiB)

int ipc_put_open(struct cdr_buf *b, const struct cdr_open_req *q) CDR_WUR;
int ipc_get_open(struct cdr_buf *b, struct cdr_open_req *q) CDR_WUR;
int ipc_put_open_ok(struct cdr_buf *b, const struct cdr_open_resp *p) CDR_WUR;
int ipc_get_open_ok(struct cdr_buf *b, struct cdr_open_resp *p) CDR_WUR;
int ipc_put_request(struct cdr_buf *b, const struct cdr_request_env *e) CDR_WUR;
int ipc_get_request(struct cdr_buf *b, struct cdr_request_env *e) CDR_WUR;
int ipc_put_response(struct cdr_buf *b, const struct cdr_response_env *e) CDR_WUR;
int ipc_get_response(struct cdr_buf *b, struct cdr_response_env *e) CDR_WUR;
/* Storage operations (ipc.h).  A decoded op borrows from the buffer. */
enum ipc_store_op {
  IPC_STORE_PUT = 1,
  IPC_STORE_APPEND = 2,
  IPC_STORE_DELETE = 3,
  IPC_STORE_APPEND_LAZY = 4, /* written (survives a crash of either process), synced later */
  IPC_STORE_SYNC = 5,        /* make the object's lazy appends durable */
  IPC_STORE_TRUNCATE = 6     /* data: u64be size; cut the object to it (never grows it) */
};
struct ipc_store_item {
  uint8_t op;
  const char *name; /* NUL-terminated copy in `namebuf` */
  char namebuf[IPC_OBJECT_NAME_MAX + 1];
  const uint8_t *data;
  size_t len;
};
#define IPC_STORE_MAX_OPS 64u
/* IPC_STORE and IPC_STORE_NOWAIT: u32 nops, then nops items that were
 * encoded (ipc_put_store_item) into `items`.  The decoder reads the
 * count (1..IPC_STORE_MAX_OPS); the caller then decodes that many items
 * and checks the end (cdr_buf_expect_end). */
int ipc_put_store(struct cdr_buf *b, uint32_t nops, const struct cdr_buf *items) CDR_WUR;
int ipc_get_store_count(struct cdr_buf *b, uint32_t *nops) CDR_WUR;
/* Decode the next op of an IPC_STORE payload whose u32 count was read. */
int ipc_get_store_item(struct cdr_buf *b, struct ipc_store_item *it) CDR_WUR;
int ipc_put_store_item(struct cdr_buf *b, uint8_t op, const char *name, const void *data, size_t len) CDR_WUR;
/* u8 ok || lp(message): IPC_STORED and IPC_LOAD_ACK; the message is at
 * most CDR_MAX_ERROR_MSG bytes, so the payload at most this. */
#define IPC_STATUS_MAX (1u + 4u + CDR_MAX_ERROR_MSG)
/* message: NULL or a NUL-terminated string (the caller guarantees the
 * NUL: strnlen may read up to CDR_MAX_ERROR_MSG bytes looking for it);
 * a longer one is cut to CDR_MAX_ERROR_MSG bytes.  Likewise for
 * ipc_put_error. */
int ipc_put_status(struct cdr_buf *b, int ok, const char *message) CDR_WUR;
/* *message is malloc'd (may be empty). */
int ipc_get_status(struct cdr_buf *b, int *ok, char **message) CDR_WUR;

/* IPC_FETCH: lp(name) u64 offset u32 max (1..IPC_FETCH_MAX); the name
 * is copied NUL-terminated into name. */
int ipc_put_fetch(struct cdr_buf *b, const char *name, uint64_t offset, uint32_t max) CDR_WUR;
int ipc_get_fetch(struct cdr_buf *b, char name[IPC_OBJECT_NAME_MAX + 1], uint64_t *offset, uint32_t *max) CDR_WUR;
/* IPC_FETCHED: u8 found lp(bytes).  The decoder takes the max of the
 * IPC_FETCH it answers: more bytes than that, found > 1, or bytes with
 * found 0 are refused. */
int ipc_put_fetched(struct cdr_buf *b, int found, const void *data, size_t len) CDR_WUR;
/* The longest IPC_FETCHED that answers an IPC_FETCH of max bytes. */
#define IPC_FETCHED_MAX(max) (1u + 4u + (size_t)(max))
int ipc_get_fetched(struct cdr_buf *b, uint32_t max, int *found, const uint8_t **data, size_t *len) CDR_WUR;

/* IPC_INIT.  ca_der 0..CDR_MAX_CERT_DER bytes (the enclave parses it),
 * sealed_identity 0..IPC_SEALED_IDENTITY_MAX (empty on a first start). */
struct ipc_init {
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  const uint8_t *ca_der;
  size_t ca_len;
  const uint8_t *sealed_identity;
  size_t sealed_identity_len;
};
int ipc_put_init(struct cdr_buf *b, const struct ipc_init *m) CDR_WUR;
int ipc_get_init(struct cdr_buf *b, struct ipc_init *m) CDR_WUR;

/* IPC_INIT_OK.  identity_spki 1..CDR_MAX_PUBKEY_DER bytes, measurement
 * 1..CDR_MEASUREMENT_MAX, platform 1..IPC_PLATFORM_MAX printable ASCII
 * (the decoder copies it NUL-terminated), new_sealed_identity
 * 0..IPC_SEALED_IDENTITY_MAX (empty unless a new key was made). */
struct ipc_init_ok {
  const uint8_t *identity_spki;
  size_t identity_spki_len;
  const uint8_t *measurement;
  size_t measurement_len;
  char platform[IPC_PLATFORM_MAX + 1];
  const uint8_t *new_sealed_identity;
  size_t new_sealed_identity_len;
};
int ipc_put_init_ok(struct cdr_buf *b, const struct ipc_init_ok *m) CDR_WUR;
int ipc_get_init_ok(struct cdr_buf *b, struct ipc_init_ok *m) CDR_WUR;

/* IPC_ATTEST: lp(nonce[CDR_NONCE_LEN]). */
int ipc_put_attest(struct cdr_buf *b, const uint8_t nonce[CDR_NONCE_LEN]) CDR_WUR;
int ipc_get_attest(struct cdr_buf *b, uint8_t nonce[CDR_NONCE_LEN]) CDR_WUR;

/* IPC_ATTEST_OK.  platform as in IPC_INIT_OK, evidence
 * 0..IPC_EVIDENCE_MAX bytes, ncerts 0..IPC_ATTEST_MAX_CERTS (the encoder
 * refuses more with CDR_ERR_TOO_LARGE), each certificate
 * 1..CDR_MAX_CERT_DER bytes; then u64 contract_version and the 32-byte
 * contract_sha256 the evidence's report_data binds (0 and 32 zero bytes
 * before version 1 is active; the decoder refuses one without the other). */
struct ipc_attest_ok {
  char platform[IPC_PLATFORM_MAX + 1];
  uint64_t contract_version;
  uint8_t contract_sha256[32];
  const uint8_t *evidence;
  size_t evidence_len;
  uint32_t ncerts;
  const uint8_t *certs[IPC_ATTEST_MAX_CERTS];
  size_t cert_lens[IPC_ATTEST_MAX_CERTS];
};
int ipc_put_attest_ok(struct cdr_buf *b, const struct ipc_attest_ok *m) CDR_WUR;
int ipc_get_attest_ok(struct cdr_buf *b, struct ipc_attest_ok *m) CDR_WUR;

/* IPC_LOAD: lp(sealed manifest: 0..IPC_MANIFEST_MAX bytes, empty if none). */
int ipc_put_load(struct cdr_buf *b, const uint8_t *manifest, size_t len) CDR_WUR;
int ipc_get_load(struct cdr_buf *b, const uint8_t **manifest, size_t *len) CDR_WUR;

/* IPC_LOAD_WANT: u32 n (0..IPC_LOAD_MAX_TABLES), then n table ids.  The
 * encoder is the count, then one call per id (IPC_TABLE_ID_LEN lowercase
 * hex, else CDR_ERR_ARG).  The decoder checks every id and the end, and
 * returns them as a malloc'd array of NUL-terminated ids (*ids NULL when
 * n is 0; the caller frees it). */
int ipc_put_load_want_count(struct cdr_buf *b, uint32_t n) CDR_WUR;
int ipc_put_table_id(struct cdr_buf *b, const char *id) CDR_WUR;
int ipc_get_load_want(struct cdr_buf *b, char (**ids)[IPC_TABLE_ID_LEN + 1], uint32_t *n) CDR_WUR;

/* IPC_LOAD_CHUNK.  id: a table id as above (copied NUL-terminated); data
 * 0..IPC_LOAD_CHUNK_MAX bytes; last 0 or 1. */
struct ipc_load_chunk {
  char id[IPC_TABLE_ID_LEN + 1];
  uint64_t offset;
  const uint8_t *data;
  size_t len;
  uint8_t last;
};
int ipc_put_load_chunk(struct cdr_buf *b, const struct ipc_load_chunk *m) CDR_WUR;
int ipc_get_load_chunk(struct cdr_buf *b, struct ipc_load_chunk *m) CDR_WUR;

/* IPC_LOAD_DONE: empty.  (IPC_LOAD_ACK is the status codec.) */
int ipc_put_load_done(struct cdr_buf *b) CDR_WUR;
int ipc_get_load_done(struct cdr_buf *b) CDR_WUR;

/* IPC_CRL: lp(crl_der: 0..IPC_CRL_MAX bytes). */
int ipc_put_crl(struct cdr_buf *b, const uint8_t *der, size_t len) CDR_WUR;
int ipc_get_crl(struct cdr_buf *b, const uint8_t **der, size_t *len) CDR_WUR;
/* IPC_CRL_OK: u64 crl_number u32 sessions_ended. */
int ipc_put_crl_ok(struct cdr_buf *b, uint64_t number, uint32_t ended) CDR_WUR;
int ipc_get_crl_ok(struct cdr_buf *b, uint64_t *number, uint32_t *ended) CDR_WUR;
/* IPC_PROPOSE: lp(document: 1..CDR_CONTRACT_MAX_BYTES bytes). */
int ipc_put_propose(struct cdr_buf *b, const uint8_t *doc, size_t len) CDR_WUR;
int ipc_get_propose(struct cdr_buf *b, const uint8_t **doc, size_t *len) CDR_WUR;
/* IPC_PROPOSE_OK: u64 version || hash[32] || u32 voided. */
int ipc_put_propose_ok(struct cdr_buf *b, uint64_t version, const uint8_t hash[32], uint32_t voided) CDR_WUR;
int ipc_get_propose_ok(struct cdr_buf *b, uint64_t *version, uint8_t hash[32], uint32_t *voided) CDR_WUR;

/* IPC_LIMITS: five u64 (struct order), each within its bounds. */
int ipc_put_limits(struct cdr_buf *b, const struct cdr_room_limits *l) CDR_WUR;
int ipc_get_limits(struct cdr_buf *b, struct cdr_room_limits *l) CDR_WUR;
/* IPC_LIMITS_OK: u8 changed (0 or 1). */
int ipc_put_limits_ok(struct cdr_buf *b, int changed) CDR_WUR;
int ipc_get_limits_ok(struct cdr_buf *b, int *changed) CDR_WUR;
/* IPC_CONTRACT_NOTICE (ipc.h): each version number 0 exactly with a zero
 * hash and an empty document, else a document of 1..CDR_CONTRACT_MAX_BYTES
 * (not parsed here: the host only displays it). */
struct ipc_contract_version {
  uint64_t number;
  uint8_t sha256[32];
  const uint8_t *doc;
  size_t doc_len;
};
struct ipc_contract_notice {
  struct ipc_contract_version active, pending;
  uint64_t pending_expires;
};
int ipc_put_contract_notice(struct cdr_buf *b, const struct ipc_contract_notice *m) CDR_WUR;
int ipc_get_contract_notice(struct cdr_buf *b, struct ipc_contract_notice *m) CDR_WUR;

int ipc_put_error(struct cdr_buf *b, int err, const char *message) CDR_WUR;
/* *err is a valid cdr_err (unknown indexes become CDR_ERR_INTERNAL);
 * *message is malloc'd. */
int ipc_get_error(struct cdr_buf *b, int *err, char **message) CDR_WUR;

/* ---- the upgrade handoff (ipc.h) ---- */

/* IPC_UPGRADE_HELLO_OK, and IPC_UPGRADE_OFFER (the same body). */
struct ipc_upgrade_hello_ok {
  const uint8_t *measurement; /* 1..CDR_MEASUREMENT_MAX */
  size_t measurement_len;
  const uint8_t *eph_spki; /* 1..CDR_MAX_PUBKEY_DER */
  size_t eph_spki_len;
  struct ipc_attest_ok att; /* contract_version 0, zero hash */
};
int ipc_put_upgrade_hello_ok(struct cdr_buf *b, const struct ipc_upgrade_hello_ok *m) CDR_WUR;
int ipc_get_upgrade_hello_ok(struct cdr_buf *b, struct ipc_upgrade_hello_ok *m) CDR_WUR;
/* IPC_UPGRADE_KEYS, and IPC_UPGRADE_ACCEPT (the same body). */
#define IPC_UPGRADE_ENCAP_MAX 1024u
#define IPC_UPGRADE_CT_MAX 256u
int ipc_put_upgrade_keys(struct cdr_buf *b, uint8_t kem, const uint8_t *encap, size_t encap_len, const uint8_t *ct,
                         size_t ct_len) CDR_WUR;
int ipc_get_upgrade_keys(struct cdr_buf *b, uint8_t *kem, const uint8_t **encap, size_t *encap_len,
                         const uint8_t **ct, size_t *ct_len) CDR_WUR;
/* IPC_UPGRADE_DONE: the new sealed identity blob, 1..IPC_SEALED_IDENTITY_MAX. */
int ipc_put_upgrade_done(struct cdr_buf *b, const uint8_t *blob, size_t len) CDR_WUR;
int ipc_get_upgrade_done(struct cdr_buf *b, const uint8_t **blob, size_t *len) CDR_WUR;

/* ---- witness rounds (IPC_WITNESS, IPC_WITNESS_ANSWERS; ipc.h) ---- */

#define IPC_WITNESS_KEY 1u
#define IPC_WITNESS_LATEST 2u
#define IPC_WITNESS_COUNTERSIGN 3u
/* At most this many witnesses a round (CDR_CONTRACT_MAX_WITNESSES). */
#define IPC_WITNESS_MAX_N 16u
/* A request body (a countersign with its join: chain and evidence). */
#define IPC_WITNESS_BODY_MAX (8u * 1024u * 1024u)
/* One witness's answer body; a longer one is relayed as no answer. */
#define IPC_WITNESS_ANSWER_MAX (64u * 1024u)

struct ipc_witness_round {
  uint8_t kind;                        /* IPC_WITNESS_* */
  uint32_t n;                          /* 1..IPC_WITNESS_MAX_N */
  const char *url[IPC_WITNESS_MAX_N];  /* encode: the caller's; decode: malloc'd, NUL-terminated */
  const uint8_t *body;                 /* borrowed from the buffer on decode */
  size_t body_len;
};
struct ipc_witness_answer {
  uint32_t status;     /* HTTP status; 0: no answer */
  const uint8_t *body; /* borrowed from the buffer on decode */
  size_t len;
};
int ipc_put_witness(struct cdr_buf *b, const struct ipc_witness_round *m) CDR_WUR;
/* Exact: kind known, n in bounds, each URL 1..CDR_CONTRACT_MAX_URL bytes
 * of printable ASCII, body within its cap (empty for kind KEY).  The
 * URLs are malloc'd: free with ipc_witness_round_free. */
int ipc_get_witness(struct cdr_buf *b, struct ipc_witness_round *m) CDR_WUR;
void ipc_witness_round_free(struct ipc_witness_round *m);
int ipc_put_witness_answers(struct cdr_buf *b, const struct ipc_witness_answer *a, uint32_t n) CDR_WUR;
/* Exact: n must be the round's (want_n), each body within
 * IPC_WITNESS_ANSWER_MAX and empty when status is 0. */
int ipc_get_witness_answers(struct cdr_buf *b, uint32_t want_n, struct ipc_witness_answer *a) CDR_WUR;

#endif
