/*
 * audit.h - the client's side of the audit log (docs/PROTOCOL.md 4.8):
 * the signed head, the rollback check every connecting command makes,
 * and reading and verifying the log.
 *
 * Remembered heads live under the configuration directory
 * (profile.h) as heads/<room id>.json:
 * {"size","head","time","signature","identity","platform","retired"},
 * mode 0600 ("identity": hex SHA-256 of the SPKI of the identity key
 * that signed the head; "platform": the platform it attested on;
 * "retired": identities of earlier runs).  A client that has seen a head
 * of size k refuses a server whose log is shorter (audit_rollback: the
 * room's state was put back) or whose head at size k differs
 * (audit_fork).  Both the remembered and the new head are signed by the
 * attested identity key.  On a platform that keeps no state
 * (cdr_platform_keeps_state: tdx, nitro), a head of another identity on
 * the same platform is forgotten with a notice on stderr (the enclave
 * restarted empty) and its identity retired; a retired identity that
 * attests again is audit_fork (the host runs two enclaves).  The check
 * holds an exclusive flock on heads/<room id>.json.lock from reading the
 * remembered head to saving the new one, so concurrent commands of one
 * user never store an older head over a newer.
 */
#ifndef CDR_CLIENT_AUDIT_H
#define CDR_CLIENT_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#include "client.h"
#include "crypto/audit_chain.h"

struct cdr_audit_head {
  uint64_t size;
  uint8_t head[CDR_AUDIT_HASH_LEN];
  uint64_t time;
  char *signature_b64;
};
void cdr_audit_head_clear(struct cdr_audit_head *h);

/* Ask for the signed head (known: a size whose head to return too, or
 * UINT64_MAX) and verify its signature with the session's identity key.
 * *known_head is set (and *have_known 1) when the server returned it. */
int cdr_client_audit_head(struct cdr_client *c, struct cdr_session *s, uint64_t known, struct cdr_audit_head *out,
                          uint8_t known_head[CDR_AUDIT_HASH_LEN], int *have_known) CDR_WUR;

/* 1 if a remembered head signed by seen_identity on seen_platform ("" if
 * the file did not record them) is to be forgotten because the enclave
 * now attests with identity on the same platform, one that keeps no
 * state (a restart, not a rollback); else 0.  Fingerprints in hex. */
int cdr_audit_head_restarted(const char *seen_identity, const char *seen_platform, const char *identity,
                             const char *platform);

/* The rollback check: compare the server's head with the one remembered
 * for this room, then remember the newer.  CDR_ERR_AUDIT_ROLLBACK or
 * CDR_ERR_AUDIT_FORK (with a detail naming both sizes and the file to
 * remove once the operator has explained it), or another error. */
int cdr_client_audit_check(struct cdr_client *c, struct cdr_session *s, const struct cdr_attestation *att) CDR_WUR;

/* Read the log from `from` (or, with from == UINT64_MAX, from the first
 * entry at or after `since`) to its end, verifying as it goes:
 *   - each page's head signature, with the session's identity key;
 *   - every visible entry's bytes against its leaf;
 *   - the chain from the first page's prev (the genesis when from is 0)
 *     through every leaf to the last page's signed head;
 *   - with check_signatures, the user signature each visible entry
 *     carries (session opens: over T_req, with the certificate checked
 *     against the room CA; requests: over S_req with the entry's key,
 *     which must be the key of the session's admitted open when that
 *     entry was seen; when it was not, only the enclave vouches that
 *     the key belongs to the entry's subject).
 * fn gets each entry the reader may see (decoded; borrowed) with its
 * index; it returns 0 to go on.  Damage, a broken chain or a bad
 * signature end it with CDR_ERR_AUDIT_INVALID and a detail. */
struct cdr_audit_result {
  uint64_t from, size;       /* entries [from, size) were checked */
  uint64_t shown, hidden;    /* entries seen in full / as leaf only */
  uint64_t signatures;       /* user signatures verified */
  uint8_t head[CDR_AUDIT_HASH_LEN];
};
int cdr_client_audit_read(struct cdr_client *c, struct cdr_session *s, uint64_t from, int64_t since,
                          int check_signatures, int (*fn)(void *ud, uint64_t index, json_t *entry), void *ud,
                          struct cdr_audit_result *res) CDR_WUR;

/* The same, also recording the chain's head at chosen sizes (a witness's
 * head, witness_check.h): for each probe whose size is in [first entry
 * read, size of the log], found is set to 1 and head to head(size) as the
 * verified chain computes it; a probe outside that range stays found 0. */
struct cdr_audit_probe {
  uint64_t size;
  uint8_t head[CDR_AUDIT_HASH_LEN];
  int found;
};
int cdr_client_audit_read_probed(struct cdr_client *c, struct cdr_session *s, uint64_t from, int64_t since,
                                 int check_signatures, int (*fn)(void *ud, uint64_t index, json_t *entry), void *ud,
                                 struct cdr_audit_probe *probes, size_t n_probes,
                                 struct cdr_audit_result *res) CDR_WUR;

#endif
