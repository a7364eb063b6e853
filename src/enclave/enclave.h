/*
 * enclave.h - the state of cdr-enclave, the trusted process.
 *
 * The enclave holds every secret of the room except the CA key: its
 * identity key, the per-session keys, all plaintext data and the SQL
 * engine.  It serves several lanes at once, one thread each (lanes.c);
 * each shared part has its lock (docs/ARCHITECTURE.md, "Concurrency").
 */
#ifndef CDR_ENCLAVE_H
#define CDR_ENCLAVE_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdint.h>

#include "attest.h"
#include "audit.h"
#include "contract_state.h"
#include "cursor.h"
#include "crypto/envelope.h"
#include "crypto/x509.h"
#include "engine.h"
#include "ipc/messages.h"
#include "seal.h"
#include "session.h"
#include "template_state.h"
#include "upload.h"
#include "witness_start.h"

/* States are bits, so a dispatch row can allow several.  INIT --IPC_INIT-->
 * INITIALISED --IPC_LOAD--> LOADING --IPC_LOAD_DONE--> READY (IPC_LOAD_CHUNK
 * stays in LOADING).  dispatch.c's table says which frame is legal when. */
enum enclave_state {
  ENCLAVE_STATE_INIT = 1,
  ENCLAVE_STATE_INITIALISED = 2,
  ENCLAVE_STATE_LOADING = 4,
  ENCLAVE_STATE_READY = 8,
  /* A new build taking a room over (upgrade.c): after IPC_UPGRADE_HELLO,
   * where only IPC_UPGRADE_ACCEPT is legal, once. */
  ENCLAVE_STATE_UPGRADING = 16
};

struct enclave {
  _Atomic(enum enclave_state) state; /* written by the control lane, read by every lane */
  int ipc_fd; /* the control lane (the only one when connected), for storage rounds */
  /* Lanes (lanes.c; docs/ARCHITECTURE.md "Concurrency"): the audit lane
   * and nworkers work lanes, fds ipc_fd + 1, ipc_fd + 2...; 0 workers
   * when the enclave has one channel. */
  unsigned nworkers;
  struct enclave_lanes *lanes;
  /* The room gate (gate.c): read-only operations hold it shared, writes
   * exclusive.  Zero-initialised or pthread_rwlock_init'ed. */
  pthread_rwlock_t gate;
  uint8_t room_id[CDR_ROOM_ID_BYTES];
  X509 *ca_cert;
  uint8_t ca_fp[32];
  /* How this start's CA relates to the sealed identity (enclave_init.c):
   * "sealed" (the identity names it), "new" (a first start sealed it),
   * "trust_on_first_use" (an identity from before the binding adopted
   * it at this start).  Recorded in the start's audit entry. */
  const char *ca_binding;
  int identity_made;  /* the identity key was made at this start */
  uint8_t measurement[CDR_MEASUREMENT_MAX]; /* this enclave's, from the provider at INIT */
  size_t measurement_len;
  EVP_PKEY *identity_key; /* private part in OpenSSL's secure heap */
  uint8_t *identity_spki;
  size_t identity_spki_len;
  struct attest_provider *attest;
  const char *attest_name;          /* --attestation: sim, snp, tdx, nitro, auto; NULL: sim */
  struct attest_options attest_opts; /* where the hardware providers look */
  struct sealer *sealer; /* secure heap */
  const char *room_dir;
  struct session_table sessions;
  struct persist *persist; /* the sealed state's manifest entries (persist.c, enclave_load.c) */
  _Atomic int fatal;       /* set when the enclave must stop (storage failed); any thread */
  X509_CRL *crl;           /* the room's current CRL, verified (revoke.c) */
  uint64_t crl_number;     /* its number; 0 before any */
  uint64_t crl_required;   /* the number the sealed manifest recorded */
  struct cdr_engine *engine;
  struct upload_set uploads; /* streamed uploads in progress (upload.c) */
  struct audit_log audit;    /* the room's audit log (audit.c) */
  /* The room contract: active chain and pending version (contract_state.h),
   * sealed in the manifest (persist.c), changed by contract_ops.c. */
  struct contract_state contract;
  /* The room's limits (room_limits.h), sealed in the manifest. */
  struct cdr_room_limits limits;
  /* Approved query templates (template_state.h), sealed in the manifest
   * after the contract (persist.c), changed by template_ops.c. */
  struct template_set templates;
  /* The new build's side of an upgrade handoff (upgrade.c), from
   * IPC_UPGRADE_HELLO to IPC_UPGRADE_ACCEPT; NULL otherwise. */
  struct enclave_upgrade *upgrade;
  /* The room's witnesses and the start check's verdict (witness_start.h). */
  struct witness_state witness;
  /* Open cursors of paged results (cursor.h, cursor_ops.c); idle_s 0
   * (zeroed) turns paging off, main.c sets it. */
  struct cursor_table cursors;
  /* Clock, replaceable by tests. */
  int64_t (*now)(void);
};

/* The kinds of lane a frame may arrive on (dispatch.c's rows). */
enum enclave_lane_kind { ENCLAVE_LANE_CONTROL = 1, ENCLAVE_LANE_WORK = 2, ENCLAVE_LANE_ANY = 3 };

/* Handle one frame.  Returns 0 after writing a reply to `reply`
 * (*reply_type set), or a negative code when the frame is a protocol
 * violation by the host: the caller then exits.  enclave_dispatch is
 * the control lane's (every lane's, with one channel);
 * enclave_dispatch_lane names the lane's kind. */
int enclave_dispatch(struct enclave *e, uint32_t type, struct cdr_buf *payload, uint32_t *reply_type,
                     struct cdr_buf *reply) CDR_WUR;
int enclave_dispatch_lane(struct enclave *e, unsigned lane, uint32_t type, struct cdr_buf *payload,
                          uint32_t *reply_type, struct cdr_buf *reply) CDR_WUR;

/* The handlers of dispatch.c's rows.  Each decodes its payload exactly
 * (ipc/messages.h); a decode failure is returned as a negative code
 * (fatal), a refusal of a well-formed request is written as an IPC_ERROR
 * reply (or, for the LOAD* rows, a failed IPC_LOAD_ACK) and returns 0.
 *   IPC_INIT         enclave_handle_init        enclave_init.c
 *   IPC_LOAD         enclave_handle_load        enclave_load.c
 *   IPC_LOAD_CHUNK   enclave_handle_load_chunk  enclave_load.c
 *   IPC_LOAD_DONE    enclave_handle_load_done   enclave_load.c
 *   IPC_ATTEST       enclave_handle_attest      enclave_init.c
 *   IPC_OPEN         enclave_handle_open        enclave_keyx.c
 *   IPC_REQUEST      enclave_handle_request     enclave_request.c
 *   IPC_CRL          enclave_handle_crl         revoke.c
 *   IPC_PROPOSE      enclave_handle_propose     contract_ops.c
 *   IPC_LIMITS       enclave_handle_limits      room_limits_ops.c
 *   IPC_UPGRADE_HELLO   enclave_handle_upgrade_hello   upgrade.c (the new build)
 *   IPC_UPGRADE_OFFER   enclave_handle_upgrade_offer   upgrade.c (the running one)
 *   IPC_UPGRADE_ACCEPT  enclave_handle_upgrade_accept  upgrade.c (the new build) */
int enclave_handle_init(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_load(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_load_chunk(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_load_done(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_attest(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_open(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_request(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_crl(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_propose(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_limits(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_upgrade_hello(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_upgrade_offer(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
int enclave_handle_upgrade_accept(struct enclave *e, struct cdr_buf *in, uint32_t *rt, struct cdr_buf *out) CDR_WUR;
/* Free the new build's handoff state (main.c at exit). */
void enclave_upgrade_free(struct enclave *e);
/* May a new build take a room over on platform (HELLO, ACCEPT)?  0 on
 * sim only; else CDR_ERR_UPGRADE_REFUSED with why: it cannot yet verify
 * the running enclave's attestation there (upgrade.c). */
int enclave_upgrade_platform_refusal(const char *platform, char *why, size_t whylen) CDR_WUR;
/* The refusal of a CA other than the sealed one (CDR_ERR_CA_MISMATCH),
 * in one sentence that names both fingerprints and says what to do; it
 * goes to the host in IPC_ERROR and into cdrd's log (enclave_init.c). */
/* The room's sealing root at INIT (enclave_root.c; e->sealer, its
 * platform_key, e->measurement and e->room_id set first).  From the
 * host's blob: *identity and *identity_len get the sealed identity
 * inside it (NULL, 0 on a first start, which makes a new root), and
 * *rewrap says the blob must be wrapped again (first start, or a bare
 * identity from before the root layer).  CDR_ERR_SEALED_ELSEWHERE with
 * the reason in msg for a root wrapped for another measurement, or a sim
 * room from before the binding; other codes for a blob that does not
 * parse or authenticate (logged). */
/* INIT's first half, shared with IPC_UPGRADE_HELLO (upgrade.c): the room
 * id and CA from m (checked: a self-signed CA), the attestation provider
 * (our command line's), its measurement, and the sealer with the
 * platform sealing key (random on a platform without one).  Nothing
 * sealed is opened.  CDR_ERR_ARG on a second call. */
struct ipc_init;
int enclave_init_platform(struct enclave *e, const struct ipc_init *m) CDR_WUR;
int enclave_root_open(struct enclave *e, const uint8_t *blob, size_t len, const uint8_t **identity,
                      size_t *identity_len, int *rewrap, char *msg, size_t msglen) CDR_WUR;
/* Append the blob the host stores: the root wrapped for this
 * measurement, then the sealed identity. */
int enclave_root_wrap(struct enclave *e, const uint8_t *identity, size_t identity_len, struct cdr_buf *out) CDR_WUR;
void enclave_ca_mismatch_message(char *msg, size_t msglen, const uint8_t sealed[32], const uint8_t offered[32]);
/* 0 if cert may open a session now, else CDR_ERR_CERT_REVOKED or
 * CDR_ERR_CRL_STALE (revoke.c). */
int enclave_cert_not_revoked(struct enclave *e, X509 *cert) CDR_WUR;

void enclave_free(struct enclave *e);

#endif
