/*
 * err.h - the one error convention of CDR.
 *
 * Every function that can fail returns 0 on success or a negative
 * cdr_err.  Each code has a stable wire name (the "error" field of an
 * HTTP error body, see docs/PROTOCOL.md) and an HTTP status.  Codes are
 * never renumbered: append new ones before CDR_ERR__COUNT, and give each
 * its class (the exit status of `cdr`) in err_class.c, which does not
 * build until every code has one, and its row in docs/CLI.md.
 *
 * Callers chain as  if ((r = f()) != 0) goto out;
 */
#ifndef CDR_ERR_H
#define CDR_ERR_H

#define CDR_WUR __attribute__((warn_unused_result))

#define CDR_ERR_LIST(X) \
  /* name                      wire code               http */ \
  X(CDR_OK,                    "ok",                    200) \
  X(CDR_ERR_INTERNAL,          "internal",              500) \
  X(CDR_ERR_NOMEM,             "out_of_memory",         503) \
  X(CDR_ERR_IO,                "io_error",              500) \
  X(CDR_ERR_CRYPTO,            "crypto_error",          500) \
  X(CDR_ERR_ARG,               "bad_request",           400) \
  X(CDR_ERR_TRUNCATED,         "malformed",             400) \
  X(CDR_ERR_TOO_LARGE,         "too_large",             413) \
  X(CDR_ERR_BAD_JSON,          "bad_json",              400) \
  X(CDR_ERR_NOT_FOUND,         "not_found",             404) \
  X(CDR_ERR_METHOD,            "method_not_allowed",    405) \
  X(CDR_ERR_UNSUPPORTED_VERSION,"unsupported_version",  400) \
  /* enrollment */ \
  X(CDR_ERR_TOKEN_UNKNOWN,     "token_unknown",         403) \
  X(CDR_ERR_TOKEN_INVALID,     "token_invalid",         403) \
  X(CDR_ERR_TOKEN_USED,        "token_used",            403) \
  X(CDR_ERR_TOKEN_EXPIRED,     "token_expired",         403) \
  X(CDR_ERR_CSR_INVALID,       "csr_invalid",           400) \
  X(CDR_ERR_CSR_BAD_SIGNATURE, "csr_bad_signature",     400) \
  X(CDR_ERR_CSR_SUBJECT,       "csr_subject_mismatch",  400) \
  X(CDR_ERR_KEY_UNSUPPORTED,   "key_unsupported",       400) \
  X(CDR_ERR_HSM,               "hsm_error",             500) \
  /* certificates and signatures */ \
  X(CDR_ERR_CERT_INVALID,      "cert_invalid",          400) \
  X(CDR_ERR_CERT_UNTRUSTED,    "cert_untrusted",        403) \
  X(CDR_ERR_CERT_EXPIRED,      "cert_expired",          403) \
  X(CDR_ERR_CERT_NOT_YET_VALID,"cert_not_yet_valid",    403) \
  X(CDR_ERR_CERT_USAGE,        "cert_usage",            403) \
  X(CDR_ERR_CERT_NO_ROLE,      "cert_no_role",          403) \
  X(CDR_ERR_CERT_KEY_MISMATCH, "cert_key_mismatch",     403) \
  X(CDR_ERR_BAD_SIGNATURE,     "bad_signature",         403) \
  X(CDR_ERR_CERT_REVOKED,      "cert_revoked",          403) \
  X(CDR_ERR_CRL_STALE,         "revocation_list_stale", 503) \
  X(CDR_ERR_CRL_OLDER,         "revocation_list_older", 409) \
  /* sessions and envelopes */ \
  X(CDR_ERR_CLOCK_SKEW,        "timestamp_out_of_window",403) \
  X(CDR_ERR_SESSION_UNKNOWN,   "session_unknown",       403) \
  X(CDR_ERR_SESSION_EXPIRED,   "session_expired",       403) \
  X(CDR_ERR_SESSION_LIMIT,     "too_many_sessions",     503) \
  X(CDR_ERR_REPLAY,            "replayed",              409) \
  X(CDR_ERR_OUT_OF_ORDER,      "out_of_order",          409) \
  X(CDR_ERR_DECRYPT,           "decrypt_failed",        400) \
  X(CDR_ERR_REQUEST_FAILED,    "request_failed",        422) \
  X(CDR_ERR_ROLE,              "role_forbidden",        403) \
  /* SQL and data */ \
  X(CDR_ERR_SQL_DENIED,        "sql_denied",            403) \
  X(CDR_ERR_SQL_ERROR,         "sql_error",             400) \
  X(CDR_ERR_SQL_TIMEOUT,       "sql_timeout",           408) \
  X(CDR_ERR_RESULT_TOO_LARGE,  "result_too_large",      413) \
  X(CDR_ERR_CSV,               "csv_invalid",           400) \
  X(CDR_ERR_TABLE_EXISTS,      "table_exists",          409) \
  X(CDR_ERR_TABLE_NAME,        "table_name_invalid",    400) \
  /* attestation (client side) */ \
  X(CDR_ERR_ATTEST_SIGNATURE,  "attestation_bad_signature", 502) \
  X(CDR_ERR_ATTEST_ROOT,       "attestation_unknown_root",  502) \
  X(CDR_ERR_ATTEST_SIM_REFUSED,"attestation_sim_not_allowed", 502) \
  X(CDR_ERR_ATTEST_MEASUREMENT,"attestation_measurement_mismatch", 502) \
  X(CDR_ERR_ATTEST_REPORT_DATA,"attestation_report_data_mismatch", 502) \
  X(CDR_ERR_ATTEST_MALFORMED,  "attestation_malformed",     502) \
  X(CDR_ERR_ATTEST_CERT_TIME,  "attestation_cert_not_valid_at_time", 502) \
  X(CDR_ERR_ATTEST_TCB,        "attestation_tcb_too_low",   502) \
  X(CDR_ERR_ATTEST_DEBUG,      "attestation_debug_policy",  502) \
  /* ownership and grants */ \
  X(CDR_ERR_ACCESS_DENIED,     "access_denied",         403) \
  /* client-side response checks */ \
  X(CDR_ERR_RESPONSE_FORGED,   "response_forged",       502) \
  X(CDR_ERR_SERVER,            "server_error",          502) \
  X(CDR_ERR_NETWORK,           "network_error",         502) \
  X(CDR_ERR_BUSY,              "busy",                  503) \
  /* streamed uploads (PROTOCOL 4.7) */ \
  X(CDR_ERR_UPLOAD_SEQUENCE,   "upload_out_of_sequence", 409) \
  X(CDR_ERR_UPLOAD_MISMATCH,   "upload_mismatch",       409) \
  /* audit log and rollback (PROTOCOL 4.8) */ \
  X(CDR_ERR_AUDIT_ROLLBACK,    "audit_rollback",        502) \
  X(CDR_ERR_AUDIT_FORK,        "audit_fork",            502) \
  X(CDR_ERR_AUDIT_INVALID,     "audit_invalid",         502) \
  /* host limits (PROTOCOL 2) */ \
  X(CDR_ERR_REQUEST_TIMEOUT,   "request_timeout",       408) \
  /* the room's sealed state and its CA (ARCHITECTURE "Sealing") */ \
  X(CDR_ERR_CA_MISMATCH,       "ca_mismatch",           409) \
  /* the room contract (PROTOCOL 8) */ \
  X(CDR_ERR_CONTRACT_INVALID,  "contract_invalid",      400) \
  /* tables whose sealed file did not load (PROTOCOL 4.7) */ \
  X(CDR_ERR_TABLE_UNAVAILABLE, "table_unavailable",     409) \
  /* TLS and the invitation bundle (PROTOCOL 2.1, client side) */ \
  X(CDR_ERR_TLS_VERIFY,        "tls_verify_failed",     502) \
  X(CDR_ERR_INSECURE_URL,      "insecure_url",          400) \
  X(CDR_ERR_INVITE_INVALID,    "invite_invalid",        400) \
  /* the user's key where it lives (client side, crypto/userkey.h) */ \
  X(CDR_ERR_KEY_PASSPHRASE_NEEDED, "key_passphrase_needed", 400) \
  X(CDR_ERR_KEY_PASSPHRASE,    "key_passphrase_wrong",  400) \
  X(CDR_ERR_PKCS11_UNAVAILABLE, "pkcs11_unavailable",   400) \
  X(CDR_ERR_PKCS11_NO_KEY,     "pkcs11_key_not_found",  400) \
  X(CDR_ERR_PKCS11_PIN_NEEDED, "pkcs11_pin_needed",     400) \
  X(CDR_ERR_PKCS11_PIN,        "pkcs11_pin_refused",    400) \
  X(CDR_ERR_CSR_KEY_MISMATCH,  "csr_key_mismatch",      400) \
  X(CDR_ERR_SECRET_SOURCE,     "secret_source_invalid", 400) \
  /* the room contract in the enclave (PROTOCOL 8.7, 4.7) */ \
  X(CDR_ERR_NOT_A_MEMBER,      "not_a_member",          403) \
  X(CDR_ERR_CONTRACT_NO_PENDING, "contract_no_pending", 404) \
  X(CDR_ERR_CONTRACT_MISMATCH, "contract_mismatch",     409) \
  /* the client's pinned contract (issue 10 item 5) */ \
  X(CDR_ERR_CONTRACT_UNPINNED, "contract_unpinned",     502) \
  /* a query refused by a table's release rule (docs/RULES.md) */ \
  X(CDR_ERR_RULE_VIOLATION,    "rule_violation",        403) \
  /* cdrd answers while the enclave loads the room (PROTOCOL 4.2) */ \
  X(CDR_ERR_ROOM_LOADING,      "room_loading",          503) \
  /* witnesses of the room's history (PROTOCOL 9) */ \
  X(CDR_ERR_WITNESS_UNKNOWN_ROOM, "witness_unknown_room", 404) \
  X(CDR_ERR_WITNESS_NOT_EXTENDING, "witness_not_extending", 409) \
  X(CDR_ERR_WITNESS_UNKNOWN_IDENTITY, "witness_unknown_identity", 409) \
  X(CDR_ERR_WITNESS_REPLAYED,  "witness_replayed",      502) \
  X(CDR_ERR_HISTORY_ROLLBACK,  "history_rollback",      503) \
  X(CDR_ERR_WITNESS_UNAVAILABLE, "witness_unavailable", 503) \
  /* a query past the room's memory limit per query (PROTOCOL 4.7) */ \
  X(CDR_ERR_SQL_MEMORY,        "sql_memory_limit",      413) \
  /* the client's pins besides the contract (issue 10 items 4, 5) */ \
  X(CDR_ERR_INVITE_CONTRACT_MISMATCH, "invite_contract_mismatch", 502) \
  X(CDR_ERR_CA_UNPINNED,       "ca_unpinned",           502) \
  X(CDR_ERR_PLATFORM_UNPINNED, "platform_unpinned",     502) \
  X(CDR_ERR_MEASUREMENT_UNPINNED, "measurement_unpinned", 502) \
  /* a dp query on a table whose privacy budget is spent (docs/RULES.md) */ \
  X(CDR_ERR_BUDGET_EXHAUSTED,  "budget_exhausted",      403) \
  /* approved query templates (docs/RULES.md, PROTOCOL 4.7 op template) */ \
  X(CDR_ERR_TEMPLATE_NOT_APPROVED, "template_not_approved", 403) \
  X(CDR_ERR_TEMPLATE_HASH,     "template_hash_mismatch", 409) \
  X(CDR_ERR_TEMPLATE_EXISTS,   "template_exists",       409) \
  /* sealing bound to the measurement, upgrades (docs/ATTESTATION.md) */ \
  X(CDR_ERR_SEALED_ELSEWHERE,  "sealed_for_another_enclave", 409) \
  X(CDR_ERR_UPGRADE_REFUSED,   "upgrade_refused",       409) \
  X(CDR_ERR_CURSOR_EXPIRED,    "cursor_expired",        410) \
  X(CDR_ERR_CURSOR_PAGE,       "cursor_page_invalid",   502) \
  /* a room whose contract has no active version yet (PROTOCOL 8.9) */ \
  X(CDR_ERR_CONTRACT_NOT_ACTIVE, "contract_not_active", 403)

#define CDR_ERR_ENUM_(name, wire, http) name##_IDX,
enum cdr_err_index { CDR_ERR_LIST(CDR_ERR_ENUM_) CDR_ERR__COUNT };
#undef CDR_ERR_ENUM_

/* Public codes are the negated indexes so that "r < 0" means failure. */
#define CDR_ERR_ENUM_(name, wire, http) name = -(int)name##_IDX,
enum cdr_err { CDR_ERR_LIST(CDR_ERR_ENUM_) };
#undef CDR_ERR_ENUM_

/* Stable wire name for a code ("bad_signature"); "internal" if unknown. */
const char *cdr_err_code(int err);
/* HTTP status that the host answers with for this code. */
int cdr_err_http_status(int err);
/* Code for a wire name, or CDR_ERR_INTERNAL when the name is unknown. */
int cdr_err_from_code(const char *wire);
/* A short human sentence for the code, for CLI messages. */
const char *cdr_err_describe(int err);

#endif
