/*
 * room_int.h - functions shared between the files of src/room and used
 * nowhere else.  Calls between the files go one way only:
 *
 *   room_init.c -> tokens.c, ca.c, room.c, hsm_*.c  (creating a room)
 *   crl.c       -> ca.c                             (revocation)
 *   members.c   -> tokens.c                         (the enrolled keys)
 *   tokens.c    -> ca.c, csr.c, room.c              (host.db, enrollment)
 *   ca.c        -> room.c, hsm_signer.c, hsm_token.c (the room CA)
 *   backup.c    -> room.c, hsm_token.c              (a copy of a room folder)
 *   room.c      -> nothing in room/                 (reading a room)
 *
 * so a helper needed by several of them lives in room.c (or below it).
 */
#ifndef CDR_ROOM_INT_H
#define CDR_ROOM_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <stdint.h>

#include "room.h"

/* Add host.db's tokens.cert_spki column if this host.db predates it
 * (tokens.c).  0 or CDR_ERR_IO. */
int cdr_tokens_db_add_spki(sqlite3 *db) CDR_WUR;

/* room.json's format version, written by room_init.c, required by
 * cdr_room_open. */
#define CDR_ROOM_FORMAT_VERSION 1

/* *out = room->dir + "/" + rel, malloc'd.  0 or CDR_ERR_NOMEM. */
int cdr_room_path(const struct cdr_room *room, const char *rel, char **out) CDR_WUR;

/* Is s a valid user or room name: 1..CDR_MAX_NAME_LEN bytes of valid,
 * printable UTF-8 (no C0/C1 controls, DEL, bidi or zero-width format
 * characters), none of , = + " \ < > ; / (so that it is safe inside a
 * distinguished name rendered as text), no leading or trailing space
 * and no leading '#'.  0 or CDR_ERR_ARG. */
int cdr_room_name_check(const char *s) CDR_WUR;

/* The self-signed room CA certificate for the key pair in the token:
 * pub is the public half read back from the token; the signature is
 * made by the token through ca and checked against pub before return. */
int cdr_ca_make_root(struct cdr_ca *ca, const struct cdr_room *room, EVP_PKEY *pub, int64_t validity_days,
                     X509 **out) CDR_WUR;

/* The certificate of the simulated attestation platform key pub,
 * issued by the room CA (room->ca_cert set) with the CA's validity. */
int cdr_ca_issue_platform(struct cdr_ca *ca, const struct cdr_room *room, EVP_PKEY *pub, X509 **out) CDR_WUR;

/* Sign a CRL with the CA key in the token and check the signature. */
int cdr_ca_sign_crl(struct cdr_ca *ca, const struct cdr_room *room, X509_CRL *crl) CDR_WUR;

/* The DER bytes of the first PEM block of a CSR (a "CERTIFICATE REQUEST"
 * or "NEW CERTIFICATE REQUEST"), exactly as sent: the client's
 * enrollment MAC covers them.  *der is OPENSSL_malloc'd.  Empty or
 * unreadable input: CDR_ERR_CSR_INVALID; over CDR_MAX_CSR_PEM:
 * CDR_ERR_TOO_LARGE. */
int cdr_csr_pem_der(const char *pem, size_t len, unsigned char **der, long *derlen) CDR_WUR;

/* Create ROOM/host.db (mode 0600, WAL) with the tokens table.  Fails if
 * the file exists. */
int cdr_tokens_db_create(const struct cdr_room *room) CDR_WUR;

#endif
