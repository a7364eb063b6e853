/*
 * err_class.c - the one table that gives every cdr_err its class
 * (err_class.h).  Rows are indexed by the code's position in
 * CDR_ERR_LIST; the static assertion below fails the build when the list
 * grows and this table does not, and test_err_class checks that no row
 * in the middle was left out (a missing row would be 0, which only
 * CDR_OK may have).
 */
#include "err_class.h"

#include "err.h"

#define C(name, cls) [name##_IDX] = CDR_CLASS_##cls

static const unsigned char class_table[] = {
    C(CDR_OK, OK),
    C(CDR_ERR_INTERNAL, FAILURE),
    C(CDR_ERR_NOMEM, FAILURE),
    C(CDR_ERR_IO, LOCAL),
    C(CDR_ERR_CRYPTO, FAILURE),
    C(CDR_ERR_ARG, USAGE),
    C(CDR_ERR_TRUNCATED, LOCAL),
    C(CDR_ERR_TOO_LARGE, LOCAL),
    C(CDR_ERR_BAD_JSON, LOCAL),
    C(CDR_ERR_NOT_FOUND, LOCAL),
    C(CDR_ERR_METHOD, REFUSED),
    C(CDR_ERR_UNSUPPORTED_VERSION, REFUSED),
    /* enrollment: the room decides */
    C(CDR_ERR_TOKEN_UNKNOWN, REFUSED),
    C(CDR_ERR_TOKEN_INVALID, REFUSED),
    C(CDR_ERR_TOKEN_USED, REFUSED),
    C(CDR_ERR_TOKEN_EXPIRED, REFUSED),
    C(CDR_ERR_CSR_INVALID, LOCAL),
    C(CDR_ERR_CSR_BAD_SIGNATURE, LOCAL),
    C(CDR_ERR_CSR_SUBJECT, REFUSED),
    C(CDR_ERR_KEY_UNSUPPORTED, LOCAL),
    C(CDR_ERR_HSM, LOCAL),
    /* certificates and signatures this side checks */
    C(CDR_ERR_CERT_INVALID, VERIFY),
    C(CDR_ERR_CERT_UNTRUSTED, VERIFY),
    C(CDR_ERR_CERT_EXPIRED, VERIFY),
    C(CDR_ERR_CERT_NOT_YET_VALID, VERIFY),
    C(CDR_ERR_CERT_USAGE, VERIFY),
    C(CDR_ERR_CERT_NO_ROLE, VERIFY),
    C(CDR_ERR_CERT_KEY_MISMATCH, LOCAL),
    C(CDR_ERR_BAD_SIGNATURE, VERIFY),
    C(CDR_ERR_CERT_REVOKED, VERIFY),
    C(CDR_ERR_CRL_STALE, VERIFY),
    C(CDR_ERR_CRL_OLDER, VERIFY),
    /* sessions and envelopes */
    C(CDR_ERR_CLOCK_SKEW, REFUSED),
    C(CDR_ERR_SESSION_UNKNOWN, REFUSED),
    C(CDR_ERR_SESSION_EXPIRED, REFUSED),
    C(CDR_ERR_SESSION_LIMIT, REFUSED),
    C(CDR_ERR_REPLAY, VERIFY),
    C(CDR_ERR_OUT_OF_ORDER, VERIFY),
    C(CDR_ERR_DECRYPT, VERIFY),
    C(CDR_ERR_REQUEST_FAILED, REFUSED),
    C(CDR_ERR_ROLE, REFUSED),
    /* SQL and data */
    C(CDR_ERR_SQL_DENIED, REFUSED),
    C(CDR_ERR_SQL_ERROR, REFUSED),
    C(CDR_ERR_SQL_TIMEOUT, REFUSED),
    C(CDR_ERR_RESULT_TOO_LARGE, REFUSED),
    C(CDR_ERR_CSV, LOCAL),
    C(CDR_ERR_TABLE_EXISTS, REFUSED),
    C(CDR_ERR_TABLE_NAME, USAGE),
    /* attestation (client side) */
    C(CDR_ERR_ATTEST_SIGNATURE, VERIFY),
    C(CDR_ERR_ATTEST_ROOT, VERIFY),
    C(CDR_ERR_ATTEST_SIM_REFUSED, VERIFY),
    C(CDR_ERR_ATTEST_MEASUREMENT, VERIFY),
    C(CDR_ERR_ATTEST_REPORT_DATA, VERIFY),
    C(CDR_ERR_ATTEST_MALFORMED, VERIFY),
    C(CDR_ERR_ATTEST_CERT_TIME, VERIFY),
    C(CDR_ERR_ATTEST_TCB, VERIFY),
    C(CDR_ERR_ATTEST_DEBUG, VERIFY),
    C(CDR_ERR_ACCESS_DENIED, REFUSED),
    /* client-side response checks */
    C(CDR_ERR_RESPONSE_FORGED, VERIFY),
    C(CDR_ERR_SERVER, NETWORK),
    C(CDR_ERR_NETWORK, NETWORK),
    C(CDR_ERR_BUSY, REFUSED),
    C(CDR_ERR_UPLOAD_SEQUENCE, REFUSED),
    C(CDR_ERR_UPLOAD_MISMATCH, VERIFY),
    C(CDR_ERR_AUDIT_ROLLBACK, VERIFY),
    C(CDR_ERR_AUDIT_FORK, VERIFY),
    C(CDR_ERR_AUDIT_INVALID, VERIFY),
    C(CDR_ERR_REQUEST_TIMEOUT, NETWORK),
    C(CDR_ERR_CA_MISMATCH, VERIFY),
    C(CDR_ERR_CONTRACT_INVALID, VERIFY),
    C(CDR_ERR_TABLE_UNAVAILABLE, REFUSED),
    /* TLS and the invitation bundle */
    C(CDR_ERR_TLS_VERIFY, VERIFY),
    C(CDR_ERR_INSECURE_URL, USAGE),
    C(CDR_ERR_INVITE_INVALID, USAGE),
    /* the user's key where it lives */
    C(CDR_ERR_KEY_PASSPHRASE_NEEDED, LOCAL),
    C(CDR_ERR_KEY_PASSPHRASE, LOCAL),
    C(CDR_ERR_PKCS11_UNAVAILABLE, LOCAL),
    C(CDR_ERR_PKCS11_NO_KEY, LOCAL),
    C(CDR_ERR_PKCS11_PIN_NEEDED, LOCAL),
    C(CDR_ERR_PKCS11_PIN, LOCAL),
    C(CDR_ERR_CSR_KEY_MISMATCH, LOCAL),
    C(CDR_ERR_SECRET_SOURCE, USAGE),
    /* the room contract */
    C(CDR_ERR_NOT_A_MEMBER, REFUSED),
    C(CDR_ERR_CONTRACT_NO_PENDING, REFUSED),
    C(CDR_ERR_CONTRACT_MISMATCH, REFUSED),
    C(CDR_ERR_CONTRACT_UNPINNED, VERIFY),
    /* release rules */
    C(CDR_ERR_RULE_VIOLATION, REFUSED),
    /* the room still loading (503, Retry-After) */
    C(CDR_ERR_ROOM_LOADING, REFUSED),
    /* witnesses */
    C(CDR_ERR_WITNESS_UNKNOWN_ROOM, REFUSED),
    C(CDR_ERR_WITNESS_NOT_EXTENDING, REFUSED),
    C(CDR_ERR_WITNESS_UNKNOWN_IDENTITY, REFUSED),
    C(CDR_ERR_WITNESS_REPLAYED, VERIFY),
    C(CDR_ERR_HISTORY_ROLLBACK, VERIFY),
    C(CDR_ERR_WITNESS_UNAVAILABLE, REFUSED),
    /* a query past the room's memory limit */
    C(CDR_ERR_SQL_MEMORY, REFUSED),
    /* the client's pins */
    C(CDR_ERR_INVITE_CONTRACT_MISMATCH, VERIFY),
    C(CDR_ERR_CA_UNPINNED, VERIFY),
    C(CDR_ERR_PLATFORM_UNPINNED, VERIFY),
    C(CDR_ERR_MEASUREMENT_UNPINNED, VERIFY),
    /* a spent differential-privacy budget */
    C(CDR_ERR_BUDGET_EXHAUSTED, REFUSED),
    /* approved query templates */
    C(CDR_ERR_TEMPLATE_NOT_APPROVED, REFUSED),
    C(CDR_ERR_TEMPLATE_HASH, REFUSED),
    C(CDR_ERR_TEMPLATE_EXISTS, REFUSED),
    /* sealing bound to the measurement, upgrades */
    C(CDR_ERR_SEALED_ELSEWHERE, VERIFY),
    C(CDR_ERR_UPGRADE_REFUSED, REFUSED),
    C(CDR_ERR_CURSOR_EXPIRED, REFUSED),
    C(CDR_ERR_CURSOR_PAGE, VERIFY),
    C(CDR_ERR_CONTRACT_NOT_ACTIVE, REFUSED),
};

#undef C

_Static_assert(sizeof(class_table) == CDR_ERR__COUNT,
               "every code in CDR_ERR_LIST (err.h) needs its class in class_table (err_class.c)");

int cdr_err_class(int err) {
  int i = -err;
  if (i < 0 || i >= CDR_ERR__COUNT)
    return CDR_CLASS_FAILURE;
  return class_table[i];
}

int cdr_err_class_from(int err, int from_room) {
  if (err != 0 && from_room)
    return CDR_CLASS_REFUSED;
  return cdr_err_class(err);
}

const char *cdr_err_class_name(int cls) {
  switch (cls) {
  case CDR_CLASS_OK: return "ok";
  case CDR_CLASS_USAGE: return "usage";
  case CDR_CLASS_REFUSED: return "refused";
  case CDR_CLASS_NETWORK: return "network";
  case CDR_CLASS_VERIFY: return "verification";
  case CDR_CLASS_LOCAL: return "local";
  default: return "failure";
  }
}
