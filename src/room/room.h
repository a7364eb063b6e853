/*
 * room.h - a data room's folder and its administration: creation, the
 * HSM-backed room CA, the simulated attestation platform key, and
 * one-time enrollment tokens.  Used by `cdr room ...` and by cdrd.
 * Never linked into the enclave.
 *
 * Layout of ROOM (docs/ARCHITECTURE.md, "The room folder"):
 *   room.json                  room id, name, PKCS#11 module/token/key
 *                              labels, attestation provider (no secrets)
 *   ca.crt                     the room CA certificate (PEM)
 *   hsm/softhsm2.conf          embedded SoftHSM2 only
 *   hsm/tokens/                embedded SoftHSM2 token files
 *   hsm/user-pin               embedded only, when CDR_HSM_PIN was unset (0600)
 *   attestation/sim-platform.key  sim platform private key (0600)
 *   attestation/sim-platform.crt  its certificate, issued by the room CA
 *   host.db                    host state (SQLite): enrollment tokens
 *
 * The CA private key exists only inside the token (CKA_SENSITIVE true,
 * CKA_EXTRACTABLE false); no file under ROOM holds it.
 */
#ifndef CDR_ROOM_H
#define CDR_ROOM_H

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/enroll_mac.h"
#include "crypto/x509.h"

#define CDR_ROOM_ID_LEN 16 /* bytes; rendered as 32 lower-case hex digits */
#define CDR_SOFTHSM_MODULE "/usr/lib/softhsm/libsofthsm2.so"

struct cdr_room {
  char *dir;            /* absolute path of ROOM */
  char room_id[2 * CDR_ROOM_ID_LEN + 1];
  char *name;           /* human name of the room */
  int64_t created_at;
  char *pkcs11_module;  /* path of the PKCS#11 module */
  char *token_label;
  char *ca_key_label;   /* CKA_LABEL of the CA key pair in the token */
  int embedded_softhsm; /* 1: token files live under ROOM/hsm */
  char *attestation;    /* "sim", "snp", "tdx", "nitro" or "auto" (cdr_room_attestation_ok) */
  X509 *ca_cert;
};

struct cdr_room_init_opts {
  const char *name;          /* NULL: "CDR room <id prefix>" */
  const char *pkcs11_module; /* NULL: embedded SoftHSM2 under ROOM/hsm */
  const char *token_label;   /* required with pkcs11_module */
  int64_t ca_validity_days;  /* 0: 3650 */
  const char *attestation;   /* NULL: "sim"; else see cdr_room_attestation_ok.
                              * The sim platform key, certificate and sealing
                              * secret are made for sim only. */
};

/* Is s an attestation provider a room can name: sim, snp, tdx, nitro,
 * or auto (the enclave picks the hardware it finds, never sim)? */
int cdr_room_attestation_ok(const char *s);

/* Create ROOM (must not exist or be an empty directory): the token (for
 * embedded SoftHSM2: initialised with a random SO PIN that is discarded,
 * and the user PIN from CDR_HSM_PIN or a generated one saved to
 * hsm/user-pin with mode 0600; *pin_generated says which), the CA key
 * pair generated inside the token, the self-signed CA certificate, the
 * sim platform key and certificate, room.json and host.db.  On failure
 * nothing usable is left (the partial folder is removed). */
int cdr_room_init(const char *dir, const struct cdr_room_init_opts *opts, struct cdr_room **out, int *pin_generated) CDR_WUR;
/* Load room.json and ca.crt.  CDR_ERR_NOT_FOUND if ROOM is not a room. */
int cdr_room_open(const char *dir, struct cdr_room **out) CDR_WUR;
void cdr_room_free(struct cdr_room *room);

/* The token's user PIN: CDR_HSM_PIN if set, else ROOM/hsm/user-pin for
 * the embedded token, else CDR_ERR_HSM with a message on stderr.
 * *pin is malloc'd; the caller wipes and frees it. */
int cdr_room_user_pin(const struct cdr_room *room, char **pin) CDR_WUR;

/* ---- the room CA, through PKCS#11 (libp11 -> EVP_PKEY -> X509_sign) ---- */
struct cdr_ca;
/* Log in to the token and find the CA private key.  Thread-safe to use
 * from one thread at a time; callers serialise. */
int cdr_ca_open(const struct cdr_room *room, struct cdr_ca **out) CDR_WUR;
void cdr_ca_close(struct cdr_ca *ca);
/* Issue a user certificate for the CSR's public key.  The subject is
 * built from name/role/room (the CSR's subject is not copied); serial is
 * 16 random bytes; validity [now-60s, now+validity_s].  The caller has
 * already verified the CSR (cdr_csr_check). */
int cdr_ca_issue_user(struct cdr_ca *ca, const struct cdr_room *room, X509_REQ *csr, const char *name,
                      enum cdr_role role, int64_t validity_s, X509 **out) CDR_WUR;

/* Issue cdrd's TLS server certificate for pub (a key cdrd keeps in a
 * file, never the CA's): CN = names[0], one subjectAltName per name (an
 * IPv4/IPv6 literal as iPAddress, anything else as dNSName, checked by
 * cdr_tls_name_check), extendedKeyUsage serverAuth, validity [now-60s,
 * now+validity_s] clamped to the CA's.  CDR_ERR_ARG for a bad name. */
int cdr_ca_issue_server(struct cdr_ca *ca, const struct cdr_room *room, EVP_PKEY *pub, const char *const *names,
                        size_t nnames, int64_t validity_s, X509 **out) CDR_WUR;
/* Is s a name cdrd's certificate can carry: an IP address literal, or
 * a DNS name of 1..253 bytes of [A-Za-z0-9.-] (a leading "*." allowed)
 * with no empty label?  0 or CDR_ERR_ARG. */
int cdr_tls_name_check(const char *s) CDR_WUR;
/* The subjectAltName value "DNS:a,IP:1.2.3.4,..." for names (each
 * checked with cdr_tls_name_check); malloc'd. */
int cdr_tls_san_build(const char *const *names, size_t n, char **out) CDR_WUR;

/* Parse a PEM CSR and check it: self-signature (proof of possession,
 * CDR_ERR_CSR_BAD_SIGNATURE), key type (CDR_ERR_KEY_UNSUPPORTED), and
 * that its subject CN equals expected_name (CDR_ERR_CSR_SUBJECT).
 * Malformed input: CDR_ERR_CSR_INVALID. */
int cdr_csr_check(const char *pem, size_t len, const char *expected_name, X509_REQ **out) CDR_WUR;

/* ---- enrollment tokens (host.db) ----
 * Token string:  cdr1.<id: 32 hex>.<secret: b64url of 32 bytes>.<b64url(name)>
 *                     .<b64url of the room CA's SHA-256 fingerprint>
 * The token reaches the user out of band, so the fingerprint in it pins
 * the CA that the enroll answer must carry.
 * The secret never crosses the wire: the client proves it with
 *   mac = HMAC-SHA256(secret, lp("CDR-v1 enroll") || lp(token_id) || lp(csr_der))
 * (lp = u32 big-endian length then bytes; token_id as its 32 ASCII hex
 * digits; csr_der = DER of the CSR). */
struct cdr_token_info {
  char token_id[33];
  char *name;
  enum cdr_role role;
  int64_t expires_at;
  int64_t cert_validity_s;
};
/* Create a token; *token_string is malloc'd (the caller wipes it). */
int cdr_token_create(const struct cdr_room *room, const char *name, enum cdr_role role, int64_t ttl_s,
                     int64_t cert_validity_s, char **token_string, struct cdr_token_info *info) CDR_WUR;
/* Parse a token string into its parts (client side); ca_fp may be NULL. */
int cdr_token_parse(const char *token, char token_id[33], uint8_t secret[32], char **name, uint8_t ca_fp[32]) CDR_WUR;
/* The open tokens (unused, expiring after now), soonest expiry first:
 * *out is an array of *count entries (NULL when none), freed with
 * cdr_token_list_free.  No secret is read.  (tokens_admin.c) */
int cdr_token_list_open(const struct cdr_room *room, int64_t now, struct cdr_token_info **out,
                        size_t *count) CDR_WUR;
void cdr_token_list_free(struct cdr_token_info *list, size_t n);
/* Cancel one unused token, named by its id (32 hex) or by the user name
 * it was made for when exactly one unused token has that name; its id
 * is written to token_id.  Redeeming it afterwards fails with
 * CDR_ERR_TOKEN_UNKNOWN.  CDR_ERR_NOT_FOUND: no unused token matches;
 * CDR_ERR_ARG: the name matches several (give the id);
 * CDR_ERR_TOKEN_USED: it was redeemed meanwhile.  (tokens_admin.c) */
int cdr_token_cancel(const struct cdr_room *room, const char *which, char token_id[33]) CDR_WUR;
/* The enrollment MAC, cdr_enroll_mac, is crypto/enroll_mac.h's: the client
 * computes it too. */

/* Host side of enrollment: look the token up (CDR_ERR_TOKEN_UNKNOWN),
 * check the MAC in constant time (CDR_ERR_TOKEN_INVALID), expiry
 * (CDR_ERR_TOKEN_EXPIRED) and single use (CDR_ERR_TOKEN_USED), check the
 * CSR, issue the certificate through the CA, then mark the token used,
 * all in one transaction so that a failure consumes nothing and two
 * concurrent redemptions cannot both succeed. */
int cdr_enroll_redeem(const struct cdr_room *room, struct cdr_ca *ca, const char *token_id, const uint8_t mac[32],
                      const char *csr_pem, size_t csr_len, X509 **cert_out) CDR_WUR;

/* ---- revocation (crl.c) ----
 * Revoke every certificate host.db records as issued to `name`, or the
 * one with `serial` (hex), and write a new CRL, signed by the CA through
 * the token, to ROOM/crl.pem (the running server delivers it to the
 * enclave).  Exactly one of name and serial.  *revoked: how many
 * certificates this call newly revoked; *crl_number: the new CRL's
 * number (strictly increasing).  CDR_ERR_NOT_FOUND if nothing matches. */
int cdr_room_revoke(const struct cdr_room *room, const char *name, const char *serial, int *revoked,
                    uint64_t *crl_number) CDR_WUR;

/* What cdr_room_backup copied. */
struct cdr_room_backup_info {
  size_t tables;        /* sealed table files */
  uint64_t audit_bytes; /* of the audit log, cut at its last whole record */
  int attempts;         /* state snapshots taken (a commit during one starts it again) */
  int pin_left_out;     /* ROOM/hsm/user-pin exists and was not copied */
};

/* Copy the room folder to a new folder `dest` (created 0700; it must not
 * exist), consistently while the room's cdrd runs and commits: the sealed
 * state as of one commit, then the rest, then host.db through SQLite's
 * online backup (src/room/backup.c says how and why).  The embedded
 * token's PIN file is left out; dest/hsm/softhsm2.conf names dest's own
 * token folder, so dest is a room folder that `cdr serve` can start (with
 * the PIN).  Restoring a backup is backing it up again into the room's
 * new place.  CDR_ERR_ARG when dest exists or lies inside the room;
 * CDR_ERR_BUSY when commits came during every snapshot attempt. */
int cdr_room_backup(const struct cdr_room *room, const char *dest, struct cdr_room_backup_info *info) CDR_WUR;

/* ---- the enrolled keys (members.c) ----
 * Every certificate host.db records as issued and not revoked, with the
 * key it certifies: what `cdr room propose` drafts a contract from.
 * Certificates enrolled before host.db kept keys have none (spki NULL):
 * they join a contract through `cdr contract propose`. */
struct cdr_room_cert {
  char *name;
  enum cdr_role role;
  char serial[64];
  uint8_t *spki; /* DER SubjectPublicKeyInfo, or NULL */
  size_t spki_len;
};
int cdr_room_certs(const struct cdr_room *room, struct cdr_room_cert **out, size_t *n) CDR_WUR;
void cdr_room_certs_free(struct cdr_room_cert *v, size_t n);

#endif
