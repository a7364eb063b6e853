/*
 * crl.c - revocation: host.db keeps what was revoked, and every change
 * produces a new CRL (v2, with a strictly increasing CRL number) signed
 * by the room CA through the PKCS#11 token, written atomically to
 * ROOM/crl.pem.  The running cdrd notices the new file and hands it to
 * the enclave, which verifies it against the CA and refuses any CRL
 * older than one it accepted before.
 *
 * host.db tables (created on first use):
 *   revoked(serial TEXT PRIMARY KEY, name TEXT, revoked_at INTEGER)
 *   crl_state(id INTEGER PRIMARY KEY CHECK (id = 1), number INTEGER)
 */
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "room.h"
#include "room_int.h"

#define CRL_VALIDITY_S ((int64_t)365 * 86400)

static int crl_db_open(const struct cdr_room *room, sqlite3 **db) {
  char *path = cdr_path_join(room->dir, "host.db");
  int r = 0;
  *db = NULL;
  if (path == NULL)
    return CDR_ERR_NOMEM;
  if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(*db, 5000) != SQLITE_OK ||
      sqlite3_exec(*db,
                   "CREATE TABLE IF NOT EXISTS revoked (serial TEXT PRIMARY KEY, name TEXT, revoked_at INTEGER);"
                   "CREATE TABLE IF NOT EXISTS crl_state (id INTEGER PRIMARY KEY CHECK (id = 1), number INTEGER);",
                   NULL, NULL, NULL) != SQLITE_OK) {
    log_error("host.db: %s", *db ? sqlite3_errmsg(*db) : "cannot open");
    sqlite3_close(*db);
    *db = NULL;
    r = CDR_ERR_IO;
  }
  free(path);
  return r;
}

/* Mark the matching issued certificates revoked; *n newly revoked. */
static int mark_revoked(sqlite3 *db, const char *name, const char *serial, int *n) {
  sqlite3_stmt *st = NULL;
  const char *sql = name ? "INSERT OR IGNORE INTO revoked (serial, name, revoked_at)"
                           " SELECT cert_serial, name, ?2 FROM tokens WHERE name = ?1 AND cert_serial IS NOT NULL"
                         : "INSERT OR IGNORE INTO revoked (serial, name, revoked_at)"
                           " SELECT cert_serial, name, ?2 FROM tokens WHERE cert_serial = lower(?1)";
  int r = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    log_error("host.db: %s", sqlite3_errmsg(db));
    return CDR_ERR_IO;
  }
  sqlite3_bind_text(st, 1, name ? name : serial, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, cdr_now());
  if (sqlite3_step(st) != SQLITE_DONE) {
    log_error("host.db: %s", sqlite3_errmsg(db));
    r = CDR_ERR_IO;
  }
  *n = sqlite3_changes(db);
  sqlite3_finalize(st);
  return r;
}

/* Is there any issued certificate matching name / serial at all? */
static int matches_any(sqlite3 *db, const char *name, const char *serial) {
  sqlite3_stmt *st = NULL;
  int found = 0;
  const char *sql = name ? "SELECT 1 FROM tokens WHERE name = ?1 AND cert_serial IS NOT NULL"
                         : "SELECT 1 FROM tokens WHERE cert_serial = lower(?1)";
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name ? name : serial, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

/* The whole CRL from the revoked table, numbered `number`, signed. */
static int build_crl(const struct cdr_room *room, sqlite3 *db, uint64_t number, X509_CRL **out) {
  X509_CRL *crl = X509_CRL_new();
  ASN1_TIME *t = NULL;
  ASN1_INTEGER *num = NULL;
  sqlite3_stmt *st = NULL;
  struct cdr_ca *ca = NULL;
  int r = CDR_ERR_CRYPTO;
  int64_t now = cdr_now();
  if (crl == NULL || X509_CRL_set_version(crl, 1) != 1 ||
      X509_CRL_set_issuer_name(crl, X509_get_subject_name(room->ca_cert)) != 1 ||
      (t = ASN1_TIME_set(NULL, (time_t)now)) == NULL || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
      ASN1_TIME_set(t, (time_t)(now + CRL_VALIDITY_S)) == NULL || X509_CRL_set1_nextUpdate(crl, t) != 1)
    goto out;
  if ((num = ASN1_INTEGER_new()) == NULL || ASN1_INTEGER_set_uint64(num, number) != 1 ||
      X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) != 1)
    goto out;
  if (sqlite3_prepare_v2(db, "SELECT serial, revoked_at FROM revoked ORDER BY serial", -1, &st, NULL) != SQLITE_OK) {
    r = CDR_ERR_IO;
    goto out;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    BIGNUM *bn = NULL;
    const char *hex = (const char *)sqlite3_column_text(st, 0);
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *when = ASN1_TIME_set(NULL, (time_t)sqlite3_column_int64(st, 1));
    int ok = rev != NULL && when != NULL && hex != NULL && BN_hex2bn(&bn, hex) > 0 &&
             (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL && X509_REVOKED_set_serialNumber(rev, serial) == 1 &&
             X509_REVOKED_set_revocationDate(rev, when) == 1 && X509_CRL_add0_revoked(crl, rev) == 1;
    if (ok)
      rev = NULL; /* owned by the CRL now */
    X509_REVOKED_free(rev);
    ASN1_INTEGER_free(serial);
    ASN1_TIME_free(when);
    BN_free(bn);
    if (!ok)
      goto out;
  }
  if (X509_CRL_sort(crl) != 1)
    goto out;
  if ((r = cdr_ca_open(room, &ca)) != 0 || (r = cdr_ca_sign_crl(ca, room, crl)) != 0)
    goto out;
  *out = crl;
  crl = NULL;
  r = 0;
out:
  if (ca != NULL)
    cdr_ca_close(ca);
  sqlite3_finalize(st);
  ASN1_INTEGER_free(num);
  ASN1_TIME_free(t);
  X509_CRL_free(crl);
  ERR_clear_error();
  return r;
}

static int write_crl(const struct cdr_room *room, X509_CRL *crl) {
  BIO *b = BIO_new(BIO_s_mem());
  BUF_MEM *bm = NULL;
  char *path = cdr_path_join(room->dir, "crl.pem");
  int r = CDR_ERR_CRYPTO;
  if (b != NULL && path != NULL && PEM_write_bio_X509_CRL(b, crl) == 1) {
    BIO_get_mem_ptr(b, &bm);
    r = cdr_file_write(path, bm->data, bm->length, 0644, 0);
  }
  BIO_free(b);
  free(path);
  return r;
}

int cdr_room_revoke(const struct cdr_room *room, const char *name, const char *serial, int *revoked,
                    uint64_t *crl_number) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  X509_CRL *crl = NULL;
  uint64_t number = 0;
  int r, in_tx = 0;
  *revoked = 0;
  if ((name == NULL) == (serial == NULL))
    return CDR_ERR_ARG;
  if ((r = crl_db_open(room, &db)) != 0)
    return r;
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    r = CDR_ERR_IO;
    goto out;
  }
  in_tx = 1;
  if (!matches_any(db, name, serial)) {
    r = CDR_ERR_NOT_FOUND;
    goto out;
  }
  if ((r = mark_revoked(db, name, serial, revoked)) != 0)
    goto out;
  if (sqlite3_prepare_v2(db, "SELECT number FROM crl_state WHERE id = 1", -1, &st, NULL) != SQLITE_OK) {
    r = CDR_ERR_IO;
    goto out;
  }
  if (sqlite3_step(st) == SQLITE_ROW)
    number = (uint64_t)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  number++;
  if ((r = build_crl(room, db, number, &crl)) != 0)
    goto out;
  if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO crl_state (id, number) VALUES (1, ?1)", -1, &st, NULL) !=
          SQLITE_OK ||
      sqlite3_bind_int64(st, 1, (sqlite3_int64)number) != SQLITE_OK || sqlite3_step(st) != SQLITE_DONE ||
      sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
    r = CDR_ERR_IO;
    goto out;
  }
  in_tx = 0;
  /* After the commit: a failed write can then never reuse this number
   * for different contents; the next revoke writes a complete CRL. */
  if ((r = write_crl(room, crl)) != 0) {
    log_error("the revocation is recorded, but ROOM/crl.pem could not be written: revoke again to retry");
    goto out;
  }
  *crl_number = number;
  log_info("CRL number %llu written (%d newly revoked)", (unsigned long long)number, *revoked);
out:
  sqlite3_finalize(st);
  if (in_tx)
    (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
  X509_CRL_free(crl);
  return r;
}
