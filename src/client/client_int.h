/*
 * client_int.h - helpers shared by the files of the client library and
 * nothing else: strict readers of JSON fields that carry protocol values
 * (base64, hex, integers).  They return 0, CDR_ERR_BAD_JSON (missing or
 * wrongly typed field), CDR_ERR_ARG (bad encoding or length) or
 * CDR_ERR_TOO_LARGE; the caller maps these to the error of its layer.
 */
#ifndef CDR_CLIENT_INT_H
#define CDR_CLIENT_INT_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/envelope.h"

/* A string member; *s borrows from the object. */
int cj_str(const json_t *o, const char *key, const char **s) CDR_WUR;
/* An optional string member: its value, or NULL if absent or not a string. */
const char *cj_str_opt(const json_t *o, const char *key);
/* A non-negative integer member. */
int cj_u64(const json_t *o, const char *key, uint64_t *v) CDR_WUR;
/* A base64 member decoded into a malloc'd buffer of at most max bytes. */
int cj_b64(const json_t *o, const char *key, uint8_t **out, size_t *len, size_t max) CDR_WUR;
/* A base64 member that must decode to exactly n bytes. */
int cj_b64_exact(const json_t *o, const char *key, uint8_t *out, size_t n) CDR_WUR;
/* A hex member that must decode to exactly n bytes (lower-case only). */
int cj_hex_exact(const json_t *o, const char *key, uint8_t *out, size_t n) CDR_WUR;

/* The single OU of an X.509 name as a room id (32 lower-case hex digits
 * decoded to 16 bytes); CDR_ERR_CERT_INVALID otherwise. */
int cdr_x509_name_room_id(X509_NAME *n, uint8_t out[CDR_ROOM_ID_BYTES]) CDR_WUR;

/* Dump a JSON value compactly; malloc'd, NULL on failure. */
char *cj_dump(const json_t *v);

#endif
