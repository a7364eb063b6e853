/*
 * ca.c - the room CA: its self-signed certificate, user certificates
 * and the simulated attestation platform's certificate, all signed by
 * the CA private key inside the PKCS#11 token (libp11 EVP_PKEY ->
 * X509_sign with SHA-256).
 *
 * Certificates (docs/PROTOCOL.md, "Certificates"):
 *   CA        CN="CDR room CA <name>", O=<room name>, OU=<room id>;
 *             basicConstraints critical CA:TRUE,pathlen:0; keyUsage
 *             critical keyCertSign,cRLSign; SKI.
 *   user      CN=<name>, role=<role> (2.5.4.72), O=<room name>,
 *             OU=<room id>; basicConstraints critical CA:FALSE; keyUsage
 *             critical digitalSignature; extendedKeyUsage clientAuth;
 *             SKI; AKI.
 *   server    CN=<first name>, O, OU; basicConstraints critical CA:FALSE;
 *             keyUsage critical digitalSignature; extendedKeyUsage
 *             serverAuth; SKI; AKI; subjectAltName DNS:/IP: per name
 *             (the TLS certificate of cdrd, docs/PROTOCOL.md "Transport").
 *   platform  CN="CDR simulated attestation platform", O, OU; keyUsage
 *             critical digitalSignature; basicConstraints critical
 *             CA:FALSE; SKI; AKI; the CA's validity period.
 * Every subject string is a UTF8String.  Serials are 16 random bytes
 * (positive).  Invariants: the subject of an issued certificate comes
 * only from the arguments, never from the CSR; every signature made here
 * is verified against the CA public key before the certificate is
 * returned, so a token holding the wrong key cannot issue anything; a
 * user certificate never outlives the CA certificate.
 */
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "hsm.h"
#include "room.h"
#include "room_int.h"

#define CA_MAX_VALIDITY_DAYS 36500
#define USER_MAX_VALIDITY_S ((int64_t)100 * 365 * 86400)

struct cdr_ca {
  struct cdr_hsm_signer *signer;
};

int cdr_ca_open(const struct cdr_room *room, struct cdr_ca **out) {
  struct cdr_ca *ca = NULL;
  char *pin = NULL, *hsm_dir = NULL;
  int r;

  *out = NULL;
  if ((ca = calloc(1, sizeof(*ca))) == NULL)
    return CDR_ERR_NOMEM;
  if (room->embedded_softhsm) {
    if ((hsm_dir = cdr_path_join(room->dir, "hsm")) == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    if ((r = cdr_hsm_softhsm_use(hsm_dir)) != 0)
      goto out;
  }
  if ((r = cdr_room_user_pin(room, &pin)) != 0)
    goto out;
  if ((r = cdr_hsm_signer_open(&ca->signer, room->pkcs11_module, room->token_label, pin, room->ca_key_label)) != 0)
    goto out;
  /* An existing room: the key in the token must be the one certified. */
  if (room->ca_cert != NULL && EVP_PKEY_eq(X509_get0_pubkey(room->ca_cert), cdr_hsm_signer_key(ca->signer)) != 1) {
    ERR_clear_error();
    log_error("room CA: the key \"%s\" in token \"%s\" does not match ca.crt", room->ca_key_label,
              room->token_label);
    r = CDR_ERR_HSM;
    goto out;
  }
  *out = ca;
  ca = NULL;
  r = 0;
out:
  if (pin != NULL)
    OPENSSL_clear_free(pin, strlen(pin));
  free(hsm_dir);
  cdr_ca_close(ca);
  return r;
}

void cdr_ca_close(struct cdr_ca *ca) {
  if (ca == NULL)
    return;
  cdr_hsm_signer_close(ca->signer);
  free(ca);
}

/* ---- certificate building blocks ---- */

/* Append one UTF8String entry to a name. */
static int name_add(X509_NAME *n, int nid, const char *value) {
  size_t len = strlen(value);
  if (len == 0 || len > INT32_MAX)
    return CDR_ERR_ARG;
  if (X509_NAME_add_entry_by_NID(n, nid, V_ASN1_UTF8STRING, (const unsigned char *)value, (int)len, -1, 0) != 1)
    return CDR_ERR_CRYPTO;
  return 0;
}

/* CN=cn[, role=role], O=room name, OU=room id. */
static int name_build(X509_NAME **out, const char *cn, const char *role, const struct cdr_room *room) {
  X509_NAME *n = X509_NAME_new();
  int r = CDR_ERR_NOMEM;
  if (n == NULL)
    goto out;
  if ((r = name_add(n, NID_commonName, cn)) != 0)
    goto out;
  if (role != NULL && (r = name_add(n, NID_role, role)) != 0)
    goto out;
  if ((r = name_add(n, NID_organizationName, room->name)) != 0)
    goto out;
  if ((r = name_add(n, NID_organizationalUnitName, room->room_id)) != 0)
    goto out;
  *out = n;
  n = NULL;
out:
  X509_NAME_free(n);
  return r;
}

/* 16 random bytes, top bit cleared so that the INTEGER is positive and
 * encodes in at most 16 bytes. */
static int set_random_serial(X509 *x) {
  uint8_t raw[16];
  BIGNUM *bn = NULL;
  ASN1_INTEGER *ai = NULL;
  int r;

  if ((r = cdr_random(raw, sizeof(raw))) != 0)
    return r;
  raw[0] &= 0x7f;
  raw[0] |= 0x40; /* never zero, always 16 bytes long */
  r = CDR_ERR_CRYPTO;
  if ((bn = BN_bin2bn(raw, sizeof(raw), NULL)) == NULL || (ai = BN_to_ASN1_INTEGER(bn, NULL)) == NULL)
    goto out;
  if (X509_set_serialNumber(x, ai) != 1)
    goto out;
  r = 0;
out:
  ASN1_INTEGER_free(ai);
  BN_free(bn);
  return r;
}

/* A fresh v3 certificate with subject, issuer name, public key and serial. */
static int cert_start(X509 **out, X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *pub) {
  X509 *x = X509_new();
  int r = CDR_ERR_NOMEM;
  if (x == NULL)
    goto out;
  r = CDR_ERR_CRYPTO;
  if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, subject) != 1 ||
      X509_set_issuer_name(x, issuer) != 1 || X509_set_pubkey(x, pub) != 1)
    goto out;
  if ((r = set_random_serial(x)) != 0)
    goto out;
  *out = x;
  x = NULL;
out:
  X509_free(x);
  return r;
}

/* notBefore = nb, notAfter = na (seconds since the epoch). */
static int cert_set_validity(X509 *x, int64_t nb, int64_t na) {
  if (ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb) == NULL ||
      ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) == NULL)
    return CDR_ERR_CRYPTO;
  return 0;
}

/* A leaf's validity: from a minute ago (clock skew) for validity_s, but
 * never past the room CA's own notAfter. */
static int cert_set_leaf_validity(X509 *x, const struct cdr_room *room, int64_t validity_s) {
  int64_t now = cdr_now();
  int r = cert_set_validity(x, now - 60, now + validity_s);
  if (r != 0)
    return r;
  if (ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(room->ca_cert)) > 0 &&
      X509_set1_notAfter(x, X509_get0_notAfter(room->ca_cert)) != 1)
    return CDR_ERR_CRYPTO;
  return 0;
}

/* Add an extension given in openssl.cnf syntax ("critical,CA:FALSE").
 * issuer is the issuing certificate (x itself when self-signed), needed
 * for the authority key identifier. */
static int cert_add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  int ok;

  X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
  if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL) {
    ERR_clear_error();
    return CDR_ERR_CRYPTO;
  }
  ok = X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok ? 0 : CDR_ERR_CRYPTO;
}

/* Sign with the token key and check the signature under ca_pub. */
static int cert_sign(X509 *x, struct cdr_ca *ca, EVP_PKEY *ca_pub) {
  if (X509_sign(x, cdr_hsm_signer_key(ca->signer), EVP_sha256()) <= 0) {
    ERR_clear_error();
    log_error("room CA: signing through the token failed");
    return CDR_ERR_HSM;
  }
  if (X509_verify(x, ca_pub) != 1) {
    ERR_clear_error();
    log_error("room CA: the token's signature does not verify under the CA public key");
    return CDR_ERR_HSM;
  }
  return 0;
}

/* ---- the three kinds of certificates ---- */

int cdr_ca_make_root(struct cdr_ca *ca, const struct cdr_room *room, EVP_PKEY *pub, int64_t validity_days,
                     X509 **out) {
  X509_NAME *subject = NULL;
  X509 *x = NULL;
  char *cn = NULL;
  int r;

  *out = NULL;
  if (validity_days <= 0 || validity_days > CA_MAX_VALIDITY_DAYS)
    return CDR_ERR_ARG;
  size_t cnlen = strlen("CDR room CA ") + strlen(room->name) + 1;
  if ((cn = malloc(cnlen)) == NULL)
    return CDR_ERR_NOMEM;
  snprintf(cn, cnlen, "CDR room CA %s", room->name);
  if ((r = name_build(&subject, cn, NULL, room)) != 0)
    goto out;
  if ((r = cert_start(&x, subject, subject, pub)) != 0)
    goto out;
  int64_t now = cdr_now();
  if ((r = cert_set_validity(x, now - 60, now + validity_days * 86400)) != 0)
    goto out;
  if ((r = cert_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0")) != 0 ||
      (r = cert_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign")) != 0 ||
      (r = cert_add_ext(x, x, NID_subject_key_identifier, "hash")) != 0)
    goto out;
  if ((r = cert_sign(x, ca, pub)) != 0)
    goto out;
  *out = x;
  x = NULL;
out:
  X509_free(x);
  X509_NAME_free(subject);
  free(cn);
  return r;
}

/* The CA certificate must still be valid for anything to be issued. */
static int ca_check_current(const struct cdr_room *room) {
  if (room->ca_cert == NULL)
    return CDR_ERR_ARG;
  if (X509_cmp_current_time(X509_get0_notAfter(room->ca_cert)) <= 0) {
    log_error("room CA: the CA certificate has expired");
    return CDR_ERR_CERT_EXPIRED;
  }
  return 0;
}

/* Finish a certificate the CA issues to a leaf (platform or user): its
 * extensions, in this order, basicConstraints critical CA:FALSE,
 * keyUsage critical digitalSignature, extendedKeyUsage eku (unless
 * NULL), SKI, AKI; then the signature by the token, checked under the
 * CA certificate's key. */
static int cert_finish_leaf(X509 *x, struct cdr_ca *ca, const struct cdr_room *room, const char *eku) {
  int r;

  if ((r = cert_add_ext(x, room->ca_cert, NID_basic_constraints, "critical,CA:FALSE")) != 0 ||
      (r = cert_add_ext(x, room->ca_cert, NID_key_usage, "critical,digitalSignature")) != 0 ||
      (eku != NULL && (r = cert_add_ext(x, room->ca_cert, NID_ext_key_usage, eku)) != 0) ||
      (r = cert_add_ext(x, room->ca_cert, NID_subject_key_identifier, "hash")) != 0 ||
      (r = cert_add_ext(x, room->ca_cert, NID_authority_key_identifier, "keyid:always")) != 0)
    return r;
  return cert_sign(x, ca, X509_get0_pubkey(room->ca_cert));
}

int cdr_ca_issue_platform(struct cdr_ca *ca, const struct cdr_room *room, EVP_PKEY *pub, X509 **out) {
  X509_NAME *subject = NULL;
  X509 *x = NULL;
  int r;

  *out = NULL;
  if ((r = ca_check_current(room)) != 0)
    return r;
  if ((r = name_build(&subject, "CDR simulated attestation platform", NULL, room)) != 0)
    goto out;
  if ((r = cert_start(&x, subject, X509_get_subject_name(room->ca_cert), pub)) != 0)
    goto out;
  r = CDR_ERR_CRYPTO;
  if (X509_set1_notBefore(x, X509_get0_notBefore(room->ca_cert)) != 1 ||
      X509_set1_notAfter(x, X509_get0_notAfter(room->ca_cert)) != 1)
    goto out;
  if ((r = cert_finish_leaf(x, ca, room, NULL)) != 0)
    goto out;
  *out = x;
  x = NULL;
out:
  X509_free(x);
  X509_NAME_free(subject);
  return r;
}

/* Contract in room.h.  Also: validity_s in (0, 100 years]; notAfter is
 * clamped to the CA's notAfter. */
int cdr_ca_issue_user(struct cdr_ca *ca, const struct cdr_room *room, X509_REQ *csr, const char *name,
                      enum cdr_role role, int64_t validity_s, X509 **out) {
  X509_NAME *subject = NULL;
  X509 *x = NULL;
  EVP_PKEY *pub;
  int r;

  *out = NULL;
  if (ca == NULL || csr == NULL || name == NULL || validity_s <= 0 || validity_s > USER_MAX_VALIDITY_S)
    return CDR_ERR_ARG;
  if (role != CDR_ROLE_ANALYST && role != CDR_ROLE_PROVIDER && role != CDR_ROLE_AUDITOR)
    return CDR_ERR_ARG;
  if ((r = cdr_room_name_check(name)) != 0)
    return r;
  if ((r = ca_check_current(room)) != 0)
    return r;
  if ((pub = X509_REQ_get0_pubkey(csr)) == NULL)
    return CDR_ERR_CSR_INVALID;
  if ((r = cdr_key_check_user_type(pub)) != 0)
    return CDR_ERR_KEY_UNSUPPORTED;
  if ((r = name_build(&subject, name, cdr_role_name(role), room)) != 0)
    goto out;
  if ((r = cert_start(&x, subject, X509_get_subject_name(room->ca_cert), pub)) != 0)
    goto out;
  if ((r = cert_set_leaf_validity(x, room, validity_s)) != 0)
    goto out;
  if ((r = cert_finish_leaf(x, ca, room, "clientAuth")) != 0)
    goto out;
  *out = x;
  x = NULL;
out:
  X509_free(x);
  X509_NAME_free(subject);
  return r;
}

/* Contract in room.h. */
int cdr_ca_issue_server(struct cdr_ca *ca, const struct cdr_room *room, EVP_PKEY *pub, const char *const *names,
                        size_t nnames, int64_t validity_s, X509 **out) {
  X509_NAME *subject = NULL;
  X509 *x = NULL;
  char *san = NULL;
  int r;

  *out = NULL;
  if (ca == NULL || pub == NULL || names == NULL || nnames == 0 || validity_s <= 0 ||
      validity_s > USER_MAX_VALIDITY_S)
    return CDR_ERR_ARG;
  if ((r = ca_check_current(room)) != 0)
    return r;
  if ((r = cdr_tls_san_build(names, nnames, &san)) != 0)
    return r;
  if ((r = name_build(&subject, names[0], NULL, room)) != 0 ||
      (r = cert_start(&x, subject, X509_get_subject_name(room->ca_cert), pub)) != 0)
    goto out;
  if ((r = cert_set_leaf_validity(x, room, validity_s)) != 0)
    goto out;
  if ((r = cert_add_ext(x, room->ca_cert, NID_subject_alt_name, san)) != 0 ||
      (r = cert_finish_leaf(x, ca, room, "serverAuth")) != 0)
    goto out;
  *out = x;
  x = NULL;
out:
  X509_free(x);
  X509_NAME_free(subject);
  free(san);
  return r;
}

int cdr_ca_sign_crl(struct cdr_ca *ca, const struct cdr_room *room, X509_CRL *crl) {
  if (X509_CRL_sign(crl, cdr_hsm_signer_key(ca->signer), EVP_sha256()) <= 0) {
    ERR_clear_error();
    log_error("room CA: signing the CRL through the token failed");
    return CDR_ERR_HSM;
  }
  if (X509_CRL_verify(crl, X509_get0_pubkey(room->ca_cert)) != 1) {
    ERR_clear_error();
    log_error("room CA: the token's CRL signature does not verify under the CA certificate");
    return CDR_ERR_HSM;
  }
  return 0;
}
