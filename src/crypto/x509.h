/*
 * x509.h - the X.509 operations CDR needs, all through OpenSSL's X509
 * API: parsing, fingerprints, verifying a user certificate against the
 * room CA (enclave), issuing one from a CSR (host, with the CA key that
 * lives in the PKCS#11 token), and the room CA's self-signed certificate.
 *
 * Room certificates (docs/PROTOCOL.md, "Certificates"):
 *   subject   CN=<user name>, role=<analyst|provider|auditor> (OID 2.5.4.72),
 *             O=<room name>, OU=<room id>
 *   keyUsage  critical digitalSignature (user) / keyCertSign,cRLSign (CA)
 *   extendedKeyUsage clientAuth (user)
 *   basicConstraints critical CA:FALSE (user) / CA:TRUE,pathlen:0 (CA)
 */
#ifndef CDR_X509_H
#define CDR_X509_H

#include <openssl/x509.h>
#include <stdint.h>

#include "common/err.h"

enum cdr_role { CDR_ROLE_NONE = 0, CDR_ROLE_ANALYST = 1, CDR_ROLE_PROVIDER = 2, CDR_ROLE_AUDITOR = 3 };

const char *cdr_role_name(enum cdr_role r);        /* "analyst", ... or "none" */
enum cdr_role cdr_role_from_name(const char *s);  /* CDR_ROLE_NONE if unknown */

int cdr_cert_from_der(X509 **out, const uint8_t *der, size_t len) CDR_WUR;
int cdr_cert_to_der(X509 *c, uint8_t **der, size_t *len) CDR_WUR;
/* First certificate of a PEM file or string. */
int cdr_cert_load_pem(const char *path, X509 **out) CDR_WUR;
int cdr_cert_from_pem(X509 **out, const char *pem, size_t len) CDR_WUR;
/* PEM text of a certificate, malloc'd and NUL-terminated. */
int cdr_cert_to_pem(X509 *c, char **pem) CDR_WUR;
/* SHA-256 of the DER encoding. */
int cdr_cert_fingerprint(X509 *c, uint8_t out[32]) CDR_WUR;
/* "AB:CD:..." rendering of a fingerprint (out: 96 bytes). */
void cdr_fingerprint_format(char out[96], const uint8_t fp[32]);

/* Verify a user certificate against the room CA at time `at`:
 * chain (CA signature), validity period, basicConstraints CA:FALSE,
 * keyUsage digitalSignature, and a role in the subject.  Distinct
 * errors: CDR_ERR_CERT_UNTRUSTED, _EXPIRED, _NOT_YET_VALID, _USAGE,
 * _NO_ROLE, _INVALID.  On success *role and *name (malloc'd CN) are set
 * when the pointers are non-NULL. */
int cdr_cert_verify_user(X509 *ca, X509 *cert, int64_t at, enum cdr_role *role, char **name) CDR_WUR;

/* Subject CN and role of a certificate without verifying it. */
int cdr_cert_subject(X509 *cert, char **name, enum cdr_role *role) CDR_WUR;

#endif
