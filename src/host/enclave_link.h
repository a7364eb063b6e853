/*
 * enclave_link.h - the host's view of the enclave: plain functions with
 * the shape of the operations (OpenSSH's mm_* stubs), so that no HTTP
 * handler ever builds a frame.
 *
 * The link owns the socketpairs (the lanes: control, audit and W work
 * lanes, docs/ARCHITECTURE.md "Concurrency") and the enclave child
 * process.  Calls may be made from any thread: attestation and session
 * setup go one at a time on the control lane, requests, CRLs and
 * proposals each take a free work lane (waiting for one when all are
 * busy), and a thread of the link answers the enclave's audit lane.  If the enclave dies or answers
 * with a malformed frame, every later call fails with CDR_ERR_INTERNAL
 * and enclave_link_alive() returns 0; the host then shuts down.
 *
 * Out-parameters that borrow (cdr_open_resp, cdr_response_env) point
 * into `reply`, which the caller frees with cdr_buf_free.  When the
 * enclave refuses a request, the call returns the enclave's cdr_err and
 * *errmsg (if non-NULL) gets its message, malloc'd.  A request the
 * enclave's decoder would refuse (an oversized field from a client) is
 * refused here with that decoder's error, and nothing is sent.
 *
 * Implemented by enclave_link.c (start, watch, stop), enclave_call.c
 * (one call and the storage rounds inside it) and enclave_stubs.c (the
 * operations); see enclave_link_int.h.
 */
#ifndef CDR_ENCLAVE_LINK_H
#define CDR_ENCLAVE_LINK_H

#include <stdint.h>
#include <sys/types.h>

#include "crypto/envelope.h"
#include "ipc/ipc.h"
#include "ipc/messages.h"

struct enclave_link;

struct enclave_identity {
  uint8_t *identity_spki; /* DER SubjectPublicKeyInfo of the identity key */
  size_t identity_spki_len;
  uint8_t measurement[CDR_MEASUREMENT_MAX]; /* measurement_len bytes: sim 32, */
  size_t measurement_len;                   /* snp, tdx and nitro 48 */
  char platform[IPC_PLATFORM_MAX + 1]; /* "sim", "snp", "tdx", "nitro" */
  uint8_t *new_sealed_identity; /* non-NULL when the enclave made a new */
  size_t new_sealed_identity_len; /* identity key: store it durably */
};

struct enclave_attestation {
  char platform[IPC_PLATFORM_MAX + 1];
  uint64_t contract_version;   /* the active contract the evidence binds */
  uint8_t contract_sha256[32]; /* (0 and zeros before version 1 is active) */
  uint8_t *evidence;
  size_t evidence_len;
  size_t ncerts;
  uint8_t **certs; /* DER certificates the verifier needs (sim: platform cert) */
  size_t *cert_lens;
};
void enclave_attestation_free(struct enclave_attestation *a);

/* Start `enclave_path --room room_dir --ipc-fd 3` on one end of a
 * socketpair and initialise it with the room id, the CA certificate and
 * the sealed identity key from an earlier start (NULL/0 on the first). */
int enclave_link_start(struct enclave_link **out, const char *enclave_path, const char *room_dir,
                       const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *ca_der, size_t ca_len,
                       const uint8_t *sealed_identity, size_t sealed_identity_len) CDR_WUR;
/* The same, with the options a hardware room needs.  With connect set,
 * no process is started: the link connects to an enclave already
 * listening there (cdr-enclave --vsock-port N in a Nitro enclave, or
 * --listen-unix PATH), retrying for up to two minutes, and the enclave's
 * own command line chooses its attestation. */
struct ipc_channel_addr;
struct enclave_link_opts {
  const char *enclave_path;                /* spawn this (not with connect) */
  const char *room_dir;                    /* its --room (not with connect) */
  const char *attestation;                 /* its --attestation; NULL: none (sim) */
  const char *tsm_root;                    /* its --tsm-root; NULL: none (tests) */
  const struct ipc_channel_addr *connect;  /* connect here instead of spawning */
  /* Send IPC_UPGRADE_HELLO instead of IPC_INIT (the new build of an
   * upgrade handoff, host/upgrade.c): its answer is kept whole
   * (enclave_link_hello), and the link has no identity. */
  int upgrade_hello;
};
int enclave_link_start_ex(struct enclave_link **out, const struct enclave_link_opts *o,
                          const uint8_t room_id[CDR_ROOM_ID_BYTES], const uint8_t *ca_der, size_t ca_len,
                          const uint8_t *sealed_identity, size_t sealed_identity_len) CDR_WUR;
/* Close the socket (the enclave exits on EOF), reap the child. */
void enclave_link_stop(struct enclave_link *l);
/* The IPC_UPGRADE_HELLO_OK body of a link started with upgrade_hello. */
const struct cdr_buf *enclave_link_hello(struct enclave_link *l);
/* The handoff's two calls (ipc.h): the running enclave o gets the new
 * build's HELLO_OK body and answers the keys (appended to keys); the new
 * build n gets those keys and answers the room's sealed identity with
 * its root wrapped for n (*blob, malloc'd, the caller frees).  A refusal
 * is CDR_ERR_UPGRADE_REFUSED (or the code the enclave named) with
 * *errmsg set. */
int enclave_upgrade_offer(struct enclave_link *o, const struct cdr_buf *hello, struct cdr_buf *keys,
                          char **errmsg) CDR_WUR;
int enclave_upgrade_accept(struct enclave_link *n, const struct cdr_buf *keys, uint8_t **blob, size_t *len,
                           char **errmsg) CDR_WUR;
int enclave_link_alive(struct enclave_link *l);
/* The child's pid; -1 for a connected link. */
pid_t enclave_link_pid(struct enclave_link *l);
const struct enclave_identity *enclave_link_identity(struct enclave_link *l);
/* Calls now in the enclave or waiting for a lane: the depth of its
 * request queue, for /metrics; 0 for NULL. */
unsigned enclave_link_queue_depth(struct enclave_link *l);

/* Where the enclave's storage operations go (docs/design/persistence.md).
 * store: apply one operation durably (op: IPC_STORE_PUT/APPEND/DELETE),
 * 0 or a cdr_err.  read: up to max bytes of table `id` from offset; *got 0
 * at the end. */
typedef int (*enclave_store_fn)(void *ctx, uint8_t op, const char *name, const uint8_t *data, size_t len);
typedef int (*enclave_read_fn)(void *ctx, const char *table_id, uint64_t offset, uint8_t *buf, size_t max,
                               size_t *got);
/* Read up to max bytes of a stored object from offset (IPC_FETCH); *got
 * 0 at the end; CDR_ERR_NOT_FOUND if there is no such object.  The
 * implementation decides which names the enclave may read. */
typedef int (*enclave_fetch_fn)(void *ctx, const char *name, uint64_t offset, uint8_t *buf, size_t max, size_t *got);
/* Set before the first request that may store (before enclave_load_open);
 * fetch may be NULL (every IPC_FETCH then finds nothing). */
void enclave_link_set_store(struct enclave_link *l, enclave_store_fn fn, enclave_fetch_fn fetch, void *ctx);

/* Where the enclave's IPC_CONTRACT_NOTICE goes (ipc.h): the active and
 * pending contract, public, for the operator's display only.  Set before
 * enclave_load_open (the first notice comes with IPC_LOAD_DONE); with
 * none set a notice is decoded and dropped. */
struct ipc_contract_notice;
typedef void (*enclave_contract_fn)(void *ctx, const struct ipc_contract_notice *m);
void enclave_link_set_contract(struct enclave_link *l, enclave_contract_fn fn, void *ctx);

/* Hand the enclave its sealed state (docs/ARCHITECTURE.md, "The enclave
 * interface"), in three steps:
 *   enclave_load_open: the manifest (NULL/0 if none); *wanted (malloc'd
 *     array of 33-byte ids, *nwanted entries) is what it names, so the
 *     caller can stream them and later remove other files.
 *   enclave_load_done: the enclave checks its audit log against the
 *     manifest and starts serving (0), or refuses the state (its reason
 *     logged; CDR_ERR_INTERNAL).
 *   enclave_load_table: stream one table file it asked for, through
 *     `read`, in IPC_LOAD_CHUNK_MAX pieces on a work lane (one call per
 *     chunk, so requests share the lanes meanwhile), after
 *     enclave_load_done, one table at a time.  `chunk_done` (may be NULL)
 *     is called after each accepted piece with its length.  *refused is 1
 *     when the enclave refused the table (id and reason logged); it stays
 *     unavailable and the others load.  An error only when the link
 *     broke. */
int enclave_load_open(struct enclave_link *l, const uint8_t *manifest, size_t manifest_len, char (**wanted)[33],
                      size_t *nwanted) CDR_WUR;
int enclave_load_done(struct enclave_link *l) CDR_WUR;
int enclave_load_table(struct enclave_link *l, const char *id, enclave_read_fn read, void *ctx,
                       void (*chunk_done)(void *ctx, size_t len), int *refused) CDR_WUR;

/* Hand the enclave a contract proposal (the canonical document): the
 * pending version's number, hash and the signatures it voided, or the
 * enclave's refusal (e.g. CDR_ERR_CONTRACT_INVALID) with *errmsg. */
int enclave_propose(struct enclave_link *l, const uint8_t *doc, size_t len, uint64_t *version, uint8_t hash[32],
                    uint32_t *voided, char **errmsg) CDR_WUR;
/* Hand the enclave the room's limits (checked against their bounds
 * first: CDR_ERR_ARG); *changed says whether they differed from the
 * enclave's (which then committed them). */
struct cdr_room_limits;
int enclave_set_limits(struct enclave_link *l, const struct cdr_room_limits *limits, int *changed,
                       char **errmsg) CDR_WUR;
/* Hand the enclave the room's CRL (DER).  *number gets its CRL number
 * and *ended how many open sessions it ended.  The enclave refuses a list
 * not signed by the room CA (CDR_ERR_BAD_SIGNATURE) or older than one it
 * accepted (CDR_ERR_CRL_OLDER). */
int enclave_set_crl(struct enclave_link *l, const uint8_t *der, size_t len, uint64_t *number, uint32_t *ended,
                    char **errmsg) CDR_WUR;

int enclave_attest(struct enclave_link *l, const uint8_t nonce[CDR_NONCE_LEN], struct enclave_attestation *out,
                   char **errmsg) CDR_WUR;
int enclave_open_session(struct enclave_link *l, const struct cdr_open_req *req, struct cdr_open_resp *resp,
                         struct cdr_buf *reply, char **errmsg) CDR_WUR;
int enclave_request(struct enclave_link *l, const struct cdr_request_env *req, struct cdr_response_env *resp,
                    struct cdr_buf *reply, char **errmsg) CDR_WUR;

#endif
