/*
 * json_get.h - the one family of typed readers of JSON object members,
 * used by the host (request bodies), the client (answers) and the
 * enclave (request headers).
 *
 * Each reader returns 0 or one of these codes, and never writes a
 * message: the caller names the field in its own layer's terms (the
 * host's refusals, the client's "response_forged", the enclave's
 * bad_request):
 *   CDR_ERR_NOT_FOUND  the member is absent
 *   CDR_ERR_BAD_JSON   it has another JSON type
 *   CDR_ERR_TOO_LARGE  a string longer than its cap, or a decoded value
 *                      larger than its cap (checked before allocating)
 *   CDR_ERR_ARG        a bad value: an embedded NUL where a C string is
 *                      wanted, a negative integer, bad base64 or hex, or
 *                      an exact-length value of another length
 *   CDR_ERR_NOMEM
 * On failure no out-parameter is written.  Strings borrow from the
 * object (valid while it lives); decoded bytes are malloc'd and the
 * caller frees them (OPENSSL_clear_free when they are secret).
 */
#ifndef CDR_JSON_GET_H
#define CDR_JSON_GET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* A string member of at most maxlen bytes; it may hold NUL (*len says
 * how long it is). */
int cdr_json_get_str(const json_t *o, const char *key, size_t maxlen, const char **s, size_t *len) CDR_WUR;
/* A string member of at most maxlen bytes with no embedded NUL, so that
 * a name means the same in C as in JSON. */
int cdr_json_get_cstr(const json_t *o, const char *key, size_t maxlen, const char **s) CDR_WUR;
/* An optional string member: its value, or NULL if absent, not a string,
 * or holding a NUL. */
const char *cdr_json_get_cstr_opt(const json_t *o, const char *key);
/* A non-negative JSON integer. */
int cdr_json_get_u64(const json_t *o, const char *key, uint64_t *v) CDR_WUR;
/* An optional boolean: *v = dflt when absent. */
int cdr_json_get_bool(const json_t *o, const char *key, int dflt, int *v) CDR_WUR;
/* Standard padded base64 decoding to at most max bytes (the string's own
 * length is checked against max first); *out is malloc'd. */
int cdr_json_get_b64(const json_t *o, const char *key, size_t max, uint8_t **out, size_t *len) CDR_WUR;
/* Base64 of exactly n bytes, into out (the temporary copy is wiped). */
int cdr_json_get_b64_exact(const json_t *o, const char *key, uint8_t *out, size_t n) CDR_WUR;
/* Lower-case hex of exactly n bytes, into out. */
int cdr_json_get_hex_exact(const json_t *o, const char *key, uint8_t *out, size_t n) CDR_WUR;

/* The two writers that mirror the readers above: set member key of o to
 * base64 of p[0..n), or to lower-case hex of it (n at most 64).  0,
 * CDR_ERR_ARG (hex too long) or CDR_ERR_NOMEM. */
int cdr_json_set_b64(json_t *o, const char *key, const uint8_t *p, size_t n) CDR_WUR;
int cdr_json_set_hex(json_t *o, const char *key, const uint8_t *p, size_t n) CDR_WUR;

#endif
