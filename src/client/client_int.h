/*
 * client_int.h - helpers shared by the files of the client library and
 * nothing else.  Typed JSON fields are read with common/json_get.h; each
 * caller maps its codes to the error of its layer.
 */
#ifndef CDR_CLIENT_INT_H
#define CDR_CLIENT_INT_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/envelope.h"

struct cdr_client;

/* The single OU of an X.509 name as a room id (32 lower-case hex digits
 * decoded to 16 bytes); CDR_ERR_CERT_INVALID otherwise. */
int cdr_x509_name_room_id(X509_NAME *n, uint8_t out[CDR_ROOM_ID_BYTES]) CDR_WUR;

/* Dump a JSON value compactly; malloc'd, NULL on failure. */
char *cj_dump(const json_t *v);

/* TLS (tls_trust.c).  Set the trust options of the next exchange on
 * curl (a CURL *) for c; 0 or an error with c->detail set. */
int cdr_client_tls_apply(struct cdr_client *c, void *curl) CDR_WUR;
/* If curl_code (a CURLcode) is a certificate verification failure: set
 * c->detail from reason and url and return CDR_ERR_TLS_VERIFY; else 0. */
int cdr_client_tls_failure(struct cdr_client *c, int curl_code, const char *reason, const char *url);

#endif
