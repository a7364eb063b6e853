/*
 * err.c - wire names, HTTP statuses and descriptions of cdr_err codes.
 */
#include "err.h"

#include <string.h>

struct err_entry {
  const char *wire;
  int http;
};

#define CDR_ERR_ROW_(name, wire, http) {wire, http},
static const struct err_entry err_table[CDR_ERR__COUNT] = {CDR_ERR_LIST(CDR_ERR_ROW_)};
#undef CDR_ERR_ROW_

static int err_index(int err) {
  int i = -err;
  if (i < 0 || i >= CDR_ERR__COUNT)
    return -1;
  return i;
}

const char *cdr_err_code(int err) {
  int i = err_index(err);
  return i < 0 ? "internal" : err_table[i].wire;
}

int cdr_err_http_status(int err) {
  int i = err_index(err);
  return i < 0 ? 500 : err_table[i].http;
}

int cdr_err_from_code(const char *wire) {
  if (wire == NULL)
    return CDR_ERR_INTERNAL;
  for (int i = 0; i < CDR_ERR__COUNT; i++)
    if (strcmp(err_table[i].wire, wire) == 0)
      return -i;
  return CDR_ERR_INTERNAL;
}

const char *cdr_err_describe(int err) {
  switch (err) {
  case CDR_OK: return "success";
  case CDR_ERR_NOMEM: return "out of memory";
  case CDR_ERR_IO: return "input/output error";
  case CDR_ERR_CRYPTO: return "cryptographic library failure";
  case CDR_ERR_ARG: return "invalid argument";
  case CDR_ERR_TRUNCATED: return "malformed or truncated message";
  case CDR_ERR_TOO_LARGE: return "message larger than the limit";
  case CDR_ERR_BAD_JSON: return "malformed JSON";
  case CDR_ERR_NOT_FOUND: return "no such resource";
  case CDR_ERR_TOKEN_UNKNOWN: return "enrollment token not known to this room";
  case CDR_ERR_TOKEN_INVALID: return "enrollment token secret is wrong";
  case CDR_ERR_TOKEN_USED: return "enrollment token was already used";
  case CDR_ERR_TOKEN_EXPIRED: return "enrollment token has expired";
  case CDR_ERR_CSR_INVALID: return "certificate signing request is malformed";
  case CDR_ERR_CSR_BAD_SIGNATURE: return "certificate signing request signature does not verify (no proof of key possession)";
  case CDR_ERR_CSR_SUBJECT: return "CSR subject does not match the name the token is bound to";
  case CDR_ERR_KEY_UNSUPPORTED: return "key type not supported (EC P-256 or RSA 2048-4096)";
  case CDR_ERR_HSM: return "PKCS#11 token operation failed";
  case CDR_ERR_CERT_INVALID: return "certificate is malformed";
  case CDR_ERR_CERT_UNTRUSTED: return "certificate was not issued by this room's CA";
  case CDR_ERR_CERT_EXPIRED: return "certificate has expired";
  case CDR_ERR_CERT_NOT_YET_VALID: return "certificate is not yet valid";
  case CDR_ERR_CERT_USAGE: return "certificate key usage does not allow signing";
  case CDR_ERR_CERT_NO_ROLE: return "certificate carries no room role";
  case CDR_ERR_CERT_KEY_MISMATCH: return "public key is not the key the certificate certifies";
  case CDR_ERR_BAD_SIGNATURE: return "signature does not verify";
  case CDR_ERR_CERT_REVOKED: return "certificate has been revoked";
  case CDR_ERR_CRL_STALE: return "the server has not provided the room's current revocation list";
  case CDR_ERR_CRL_OLDER: return "revocation list is older than one the enclave already accepted";
  case CDR_ERR_CLOCK_SKEW: return "message timestamp is outside the accepted window";
  case CDR_ERR_SESSION_UNKNOWN: return "no such session (expired, closed or never opened)";
  case CDR_ERR_SESSION_EXPIRED: return "session has expired";
  case CDR_ERR_SESSION_LIMIT: return "the enclave has too many open sessions";
  case CDR_ERR_REPLAY: return "message was already processed (replay)";
  case CDR_ERR_OUT_OF_ORDER: return "message sequence number is out of order";
  case CDR_ERR_DECRYPT: return "ciphertext failed authentication";
  case CDR_ERR_REQUEST_FAILED: return "the enclave refused the request (details are encrypted to the client)";
  case CDR_ERR_ROLE: return "the certificate's role does not allow this operation";
  case CDR_ERR_SQL_DENIED: return "SQL statement denied by the room policy";
  case CDR_ERR_SQL_ERROR: return "SQL error";
  case CDR_ERR_SQL_TIMEOUT: return "SQL statement ran past its time limit";
  case CDR_ERR_RESULT_TOO_LARGE: return "result is larger than the limit";
  case CDR_ERR_CSV: return "CSV input is invalid";
  case CDR_ERR_TABLE_EXISTS: return "table already exists";
  case CDR_ERR_TABLE_NAME: return "table name is invalid";
  case CDR_ERR_ATTEST_SIGNATURE: return "attestation evidence signature does not verify";
  case CDR_ERR_ATTEST_ROOT: return "attestation evidence does not chain to a trusted root";
  case CDR_ERR_ATTEST_SIM_REFUSED: return "server offers only simulated attestation (allow with --allow-sim or CDR_ALLOW_SIM=1)";
  case CDR_ERR_ATTEST_MEASUREMENT: return "enclave measurement differs from the expected one";
  case CDR_ERR_ATTEST_REPORT_DATA: return "attestation report_data does not bind the identity key and nonce";
  case CDR_ERR_ATTEST_MALFORMED: return "attestation evidence is malformed";
  case CDR_ERR_ATTEST_CERT_TIME: return "an attestation certificate is not valid at the verification time";
  case CDR_ERR_ATTEST_TCB: return "the platform's TCB is below the accepted level (or its status was not accepted)";
  case CDR_ERR_ATTEST_DEBUG: return "the attested platform allows debugging, which the policy refuses";
  case CDR_ERR_ACCESS_DENIED: return "access denied: the table belongs to another user, who has not allowed this";
  case CDR_ERR_RESPONSE_FORGED: return "response failed authentication (forged, swapped or corrupted)";
  case CDR_ERR_SERVER: return "server returned an unexpected answer";
  case CDR_ERR_NETWORK: return "could not reach the server";
  case CDR_ERR_BUSY: return "server is busy";
  case CDR_ERR_UPLOAD_SEQUENCE: return "an upload chunk is missing, repeated or out of order";
  case CDR_ERR_UPLOAD_MISMATCH: return "the upload's chunks, size or SHA-256 differ from what was sent";
  case CDR_ERR_AUDIT_ROLLBACK: return "the room's state is older than state already seen (rolled back)";
  case CDR_ERR_AUDIT_FORK: return "the room's audit log does not extend the one already seen (forked)";
  case CDR_ERR_AUDIT_INVALID: return "the audit log fails verification";
  case CDR_ERR_REQUEST_TIMEOUT: return "the request did not arrive in time (too slow a connection)";
  case CDR_ERR_CA_MISMATCH: return "the room's sealed state is bound to another CA than the one offered";
  case CDR_ERR_CONTRACT_INVALID: return "the room contract or contract signature is malformed or breaks a rule";
  case CDR_ERR_TABLE_UNAVAILABLE:
    return "the table's sealed file did not load (withheld or damaged by the server): only its owner can drop or "
           "replace it";
  case CDR_ERR_TLS_VERIFY:
    return "the server's TLS certificate does not verify against the pinned room CA (or --cacert): not the room's "
           "server, or a server certificate from another CA";
  case CDR_ERR_INSECURE_URL: return "a server URL may carry no user@ part, and plain http:// is only allowed to a loopback address; use https://HOST:PORT";
  case CDR_ERR_INVITE_INVALID: return "the invitation bundle is malformed or inconsistent";
  case CDR_ERR_KEY_PASSPHRASE_NEEDED: return "the private key file is encrypted: give its passphrase with --pass env:VAR|file:PATH";
  case CDR_ERR_KEY_PASSPHRASE: return "the passphrase does not decrypt the private key (wrong passphrase)";
  case CDR_ERR_PKCS11_UNAVAILABLE:
    return "the PKCS#11 engine or module cannot be loaded (is libengine-pkcs11-openssl installed, and the "
           "module-path right?)";
  case CDR_ERR_PKCS11_NO_KEY: return "no PKCS#11 token holds a private key that matches the pkcs11: URI";
  case CDR_ERR_PKCS11_PIN_NEEDED:
    return "the PKCS#11 token needs its PIN: give --pin env:VAR|file:PATH, or pin-source in the URI";
  case CDR_ERR_PKCS11_PIN: return "the PKCS#11 token refused the PIN (wrong, or the token is locked)";
  case CDR_ERR_CSR_KEY_MISMATCH: return "the CSR's public key is not the key that --key names";
  case CDR_ERR_SECRET_SOURCE:
    return "the --pass or --pin source cannot be read (env:VAR set, or file:PATH readable; one line of 1..1024 "
           "bytes)";
  case CDR_ERR_NOT_A_MEMBER: return "this key is not a member of the room's active contract";
  case CDR_ERR_CONTRACT_NO_PENDING: return "no contract version is pending (none was proposed, or it expired)";
  case CDR_ERR_CONTRACT_MISMATCH: return "the contract signature is over another version than the pending one";
  case CDR_ERR_CONTRACT_UNPINNED:
    return "the room's contract does not follow the version this profile pinned through properly signed versions";
  case CDR_ERR_RULE_VIOLATION: return "the query breaks the release rule of a table it reads";
  case CDR_ERR_ROOM_LOADING: return "the room is still loading its sealed tables; retry shortly";
  case CDR_ERR_WITNESS_UNKNOWN_ROOM:
    return "the witness was not joined to this room: the first request must carry the contract chain and the "
           "enclave's attestation";
  case CDR_ERR_WITNESS_NOT_EXTENDING:
    return "the head does not extend the one the witness holds (a lower size, or another hash at the same size)";
  case CDR_ERR_WITNESS_UNKNOWN_IDENTITY:
    return "the head is signed by an enclave identity the witness was not shown attested: send the join";
  case CDR_ERR_WITNESS_REPLAYED: return "the witness's answer is for another nonce: an old answer replayed";
  case CDR_ERR_HISTORY_ROLLBACK:
    return "a witness holds a head of this room's history that the enclave's log does not have: the room's state "
           "was rolled back, and the enclave serves nothing";
  case CDR_ERR_WITNESS_UNAVAILABLE:
    return "fewer than a quorum of the room's witnesses confirmed its history: nothing is served until enough answer";
  case CDR_ERR_SQL_MEMORY: return "SQL statement needed more memory than the room allows one query";
  case CDR_ERR_INVITE_CONTRACT_MISMATCH:
    return "the room's enclave runs under another contract than the invitation names";
  case CDR_ERR_CA_UNPINNED: return "the room's CA is not the one this profile pinned";
  case CDR_ERR_PLATFORM_UNPINNED: return "the room attests another platform than the one this profile pinned";
  case CDR_ERR_MEASUREMENT_UNPINNED:
    return "the room's enclave measurement is not one this profile accepts (pinned, or listed by the pinned "
           "contract)";
  case CDR_ERR_BUDGET_EXHAUSTED:
    return "the privacy budget of a table the query reads is spent (the message names the table and what is left)";
  case CDR_ERR_TEMPLATE_NOT_APPROVED:
    return "the query template is not approved by every owner of the tables it reads (pending, rejected or "
           "withdrawn)";
  case CDR_ERR_TEMPLATE_HASH: return "the hash given is not the hash of the template's current text";
  case CDR_ERR_TEMPLATE_EXISTS: return "a query template of that name exists (proposed by another member)";
  case CDR_ERR_SEALED_ELSEWHERE: return "the room's sealed state belongs to another enclave build (measurement)";
  case CDR_ERR_UPGRADE_REFUSED: return "the enclave upgrade was refused (the contract does not accept that build)";
  case CDR_ERR_CURSOR_EXPIRED: return "the paged result's cursor is closed or expired: run the query again";
  case CDR_ERR_CURSOR_PAGE: return "a page of the paged result is missing, altered, out of order or truncated";
  case CDR_ERR_CONTRACT_NOT_ACTIVE:
    return "this room has no active contract yet: its members must sign version 1 (cdr contract)";
  default: return "internal error";
  }
}
