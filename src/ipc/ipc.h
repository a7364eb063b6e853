/*
 * ipc.h - the host<->enclave interface: the one enum of messages, the
 * frame format, and the full-loop frame I/O used by both sides.
 *
 * Frame:  u32be type || u32be length || payload[length]
 * The reader checks length against CDR_IPC_MAX_FRAME before allocating.
 * Requests (host -> enclave) and replies (enclave -> host) come in
 * pairs; every request is answered by its *_OK reply or by IPC_ERROR.
 * The enclave treats any frame it does not expect in its current state,
 * or that does not decode exactly, as proof of a compromised host and
 * exits (docs/ARCHITECTURE.md, "The enclave interface").
 *
 * Payloads (all integers big-endian, lp = u32 length + bytes; each one
 * has a put/get pair in messages.h, which names the cap of every field):
 *   IPC_INIT         lp(room_id[16]) lp(ca_cert_der) lp(sealed_identity)
 *                    (sealed_identity empty on the first start)
 *   IPC_INIT_OK      lp(identity_spki) lp(measurement: 1..64 bytes; sim 32,
 *                    snp/tdx/nitro 48) lp(platform)
 *                    lp(new_sealed_identity)  (empty unless a new identity
 *                    key was made: the host must store it durably)
 *   IPC_ATTEST       lp(nonce[32])
 *   IPC_ATTEST_OK    lp(platform) lp(evidence) u32 ncerts {lp(cert_der)}*
 *   IPC_OPEN         lp(cert_der) lp(user_spki) lp(client_share[65])
 *                    lp(client_nonce[32]) u64 timestamp u32 version lp(sig)
 *   IPC_OPEN_OK      lp(session_id[16]) u64 expires_at u8 kem lp(encap)
 *                    lp(sealed) lp(sig)
 *   IPC_REQUEST      lp(session_id[16]) u64 seq u64 timestamp lp(ct) lp(sig)
 *   IPC_RESPONSE     lp(session_id[16]) u64 seq u8 status lp(ct)
 *   IPC_ERROR        u32 error_index lp(message)      (error_index = -cdr_err)
 *
 * Storage (docs/design/persistence.md).  While handling IPC_REQUEST the
 * enclave may, before its IPC_RESPONSE, send any number of
 *   IPC_STORE        u32 nops {u8 op lp(name) lp(data)}*
 *                    (op: 1 put, 2 append, 3 delete: durable when answered;
 *                     4 append written but not yet synced, 5 sync: make
 *                     every earlier op-4 append to name durable; data empty;
 *                     6 truncate: data u64be size, never grows the object)
 * each answered by the host, after every operation is done, with
 *   IPC_STORED       u8 ok lp(message)                     (ok: 1 done, 0 failed)
 * and any number of
 *   IPC_STORE_NOWAIT the same payload as IPC_STORE, not answered: the host
 *                    applies it before it reads the enclave's next frame,
 *                    and on any failure ends the link (cdrd stops) rather
 *                    than go on.  The audit entry of each decision goes
 *                    this way (op 4), saving a round trip per request; the
 *                    host applies it before it can forward the answer.
 *                    (With lanes, docs/ARCHITECTURE.md "Concurrency",
 *                    audit entries go instead as IPC_STORE rounds on the
 *                    audit lane, where the enclave asks and the host
 *                    answers: one group of appends and one sync each.)
 * and any number of reads of what the host stores (only "audit": the
 * enclave re-reads its audit log at start and to answer readers)
 *   IPC_FETCH        lp(name) u64 offset u32 max      (max <= IPC_FETCH_MAX)
 * each answered by
 *   IPC_FETCHED      u8 found lp(bytes)   (at most max bytes from offset;
 *                                          fewer only at the end; found 0:
 *                                          no such object, bytes empty)
 * and any number of witness rounds (docs/ARCHITECTURE.md "Witnesses"):
 *   IPC_WITNESS      u8 kind u32 n {lp(url)}* lp(body)
 *                    kind 1 GET URL/v1/witness/key (body empty), 2 POST
 *                    URL/v1/witness/latest, 3 POST URL/v1/witness/countersign
 *                    (body: the JSON of docs/PROTOCOL.md 9, the same for
 *                    every witness); n 1..16 witnesses
 * each answered by
 *   IPC_WITNESS_ANSWERS u32 n {u32 http_status lp(body)}*
 *                    the same n, in the same order; status 0: no answer
 *                    (down, slow, refused TLS); bodies are the witnesses'
 *                    raw answers, each capped, believed by nobody: the
 *                    enclave verifies every one (witness_gate.c)
 * At start, after IPC_INIT, the host sends
 *   IPC_LOAD         lp(sealed manifest, empty if none)
 * answered by
 *   IPC_LOAD_WANT    u32 n {lp(table id: 32 hex)}*
 * then for each wanted table, in chunks, in order
 *   IPC_LOAD_CHUNK   lp(table id) u64 offset lp(bytes) u8 last
 * each answered by
 *   IPC_LOAD_ACK     u8 ok lp(message)   (ok 0: the table is refused, the
 *                                          host sends no more of it)
 * and finally
 *   IPC_LOAD_DONE    (empty)  answered by IPC_LOAD_ACK; the enclave is READY.
 *
 * Revocation (READY): the room's current CRL, signed by the room CA
 *   IPC_CRL          lp(crl_der)
 *   IPC_CRL_OK       u64 crl_number u32 sessions_ended
 *
 * Room contract (READY): a proposal the room admin made on the host
 * (`cdr room propose`, ROOM/proposal.json, handed over when it changes
 * while cdrd runs, never again at a restart); it needs no trust, only
 * members' signatures make it count (PROTOCOL 8.9)
 *   IPC_PROPOSE      lp(canonical contract document)
 *   IPC_PROPOSE_OK   u64 version || 32 bytes contract hash || u32 signatures voided
 *   (a refusal is IPC_ERROR, e.g. contract_invalid with the field named)
 *
 * Room limits (READY): the limits the room admin set on the host
 * (`cdr room limits`, ROOM/limits.json, handed over at start and when it
 * changes); each value within its bounds (common/limits.h), else the
 * frame is malformed.  Other values than the enclave's are a commit
 * (sealed manifest, audit entry "limits" by "host").
 *   IPC_LIMITS       u64 query_time_ms u64 query_memory u64 result_bytes
 *                    u64 result_rows u64 member_queries
 *   IPC_LIMITS_OK    u8 changed
 * The contract, public (READY): after the room is loaded and after every
 * change of the active or pending version (a proposal, a signature that
 * activates), the enclave tells the host, not answered (like
 * IPC_STORE_NOWAIT, inside whatever call made the change):
 *   IPC_CONTRACT_NOTICE  version (active) || version (pending) || u64 pending_expires
 *     version = u64 number || 32 bytes hash || lp(canonical document)
 *     (number 0, zero hash, empty document: none)
 *   The host keeps it for the operator's display only (ROOM/contract.json,
 *   `cdr room members`): it is the enclave's word relayed by the host,
 *   not what members check (they read the contract over the secure
 *   channel and through attestation).
 *
 * Upgrade handoff (docs/ATTESTATION.md "Sealing and upgrades"; cdrd
 * --upgrade-to): the host starts the new build N beside the running,
 * READY enclave O.  N gets, instead of IPC_INIT and in its state INIT,
 *   IPC_UPGRADE_HELLO     as IPC_INIT (room id, CA, the room's sealed identity)
 *   IPC_UPGRADE_HELLO_OK  lp(measurement) || lp(ephemeral SPKI) || an
 *                         IPC_ATTEST_OK body (platform, evidence, certs,
 *                         contract 0) whose report_data binds the
 *                         ephemeral key (upgrade.c)
 * and is then UPGRADING.  O (READY, a work lane) gets N's answer as is
 *   IPC_UPGRADE_OFFER     the IPC_UPGRADE_HELLO_OK body
 *   IPC_UPGRADE_KEYS      u8 kem || lp(encap) || lp(ciphertext): the room's
 *                         sealing root sealed to the ephemeral key
 *   (a refusal is IPC_ERROR upgrade_refused naming why; both are audit
 *   entries "enclave_upgrade")
 * and N (UPGRADING, once) gets O's answer as is
 *   IPC_UPGRADE_ACCEPT    the IPC_UPGRADE_KEYS body
 *   IPC_UPGRADE_DONE      lp(the sealed identity blob, its root wrapped
 *                         for N's measurement), which the host stores.
 */
#ifndef CDR_IPC_H
#define CDR_IPC_H

#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

enum ipc_msg_type {
  IPC_INIT = 1,
  IPC_INIT_OK = 2,
  IPC_ATTEST = 3,
  IPC_ATTEST_OK = 4,
  IPC_OPEN = 5,
  IPC_OPEN_OK = 6,
  IPC_REQUEST = 7,
  IPC_RESPONSE = 8,
  IPC_ERROR = 9,
  IPC_STORE = 10,
  IPC_STORED = 11,
  IPC_LOAD = 12,
  IPC_LOAD_WANT = 13,
  IPC_LOAD_CHUNK = 14,
  IPC_LOAD_ACK = 15,
  IPC_LOAD_DONE = 16,
  IPC_CRL = 17,
  IPC_CRL_OK = 18,
  IPC_FETCH = 19,
  IPC_FETCHED = 20,
  IPC_STORE_NOWAIT = 21,
  IPC_PROPOSE = 22,
  IPC_PROPOSE_OK = 23,
  IPC_LIMITS = 24,
  IPC_LIMITS_OK = 25,
  IPC_CONTRACT_NOTICE = 26,
  IPC_UPGRADE_HELLO = 27,
  IPC_UPGRADE_HELLO_OK = 28,
  IPC_UPGRADE_OFFER = 29,
  IPC_UPGRADE_KEYS = 30,
  IPC_UPGRADE_ACCEPT = 31,
  IPC_UPGRADE_DONE = 32,
  IPC_WITNESS = 33,
  IPC_WITNESS_ANSWERS = 34,
  IPC_MSG_MAX = 34
};

/* The most bytes one IPC_FETCH may ask for (fits a frame with room). */
#define IPC_FETCH_MAX (4u * 1024u * 1024u)

const char *ipc_msg_name(uint32_t type);

/* Write one frame, looping over short writes and EINTR.  0 or CDR_ERR_IO. */
int ipc_frame_write(int fd, uint32_t type, const struct cdr_buf *payload) CDR_WUR;
/* Read one frame into payload (reset first; payload->max must be at least
 * max_len).  CDR_ERR_IO on EOF or error, CDR_ERR_TOO_LARGE if the
 * announced length exceeds max_len (nothing is allocated then). */
int ipc_frame_read(int fd, uint32_t *type, struct cdr_buf *payload, uint32_t max_len) CDR_WUR;

#endif
