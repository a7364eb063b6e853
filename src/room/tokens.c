/*
 * tokens.c - one-time enrollment tokens, kept in ROOM/host.db (SQLite),
 * and the host side of redeeming one (contracts in room.h).
 *
 * Table `tokens`: one row per token, keyed by its public id.  The row
 * holds the 32-byte secret itself (the host needs it to check the
 * client's HMAC), so host.db is created with mode 0600; the secret never
 * crosses the wire after the token string has been handed out.
 *
 * Invariants:
 *   - A token is redeemed at most once: lookup, checks, certificate
 *     issuance and the UPDATE of used_at run in one BEGIN IMMEDIATE
 *     transaction, so two redemptions (threads or processes) serialise
 *     on the database lock and the second sees used_at set.
 *   - Any failure rolls back: a failed redemption consumes nothing.
 *   - The MAC is compared in constant time, and before anything about
 *     the token's state (expiry, use) is revealed.
 *   - Secrets are wiped from every buffer that held them.
 * Workload: a handful of rows, one connection per call, busy timeout 5 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/enroll_mac.h"
#include "room.h"
#include "room_int.h"

#define TOKEN_PREFIX "cdr1"
#define TOKEN_SECRET_LEN CDR_ENROLL_SECRET_LEN
#define TOKEN_MAX_LEN 1024
#define TOKEN_MAX_TTL_S ((int64_t)366 * 86400)
#define CERT_MAX_VALIDITY_S ((int64_t)100 * 365 * 86400)

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tokens ("
    " id TEXT PRIMARY KEY,"
    " secret BLOB NOT NULL,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " cert_validity_s INTEGER NOT NULL,"
    " used_at INTEGER,"
    " cert_serial TEXT,"
    " cert_spki BLOB);"; /* the issued certificate's SubjectPublicKeyInfo DER (the contract's member key) */

static int db_fail(sqlite3 *db, const char *what) {
  int code = db ? sqlite3_errcode(db) : SQLITE_ERROR;
  log_error("host.db: %s: %s", what, db ? sqlite3_errmsg(db) : "cannot open");
  return (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? CDR_ERR_BUSY : CDR_ERR_IO;
}

/* Open ROOM/host.db read/write with the busy timeout. */
static int db_open(const struct cdr_room *room, sqlite3 **out) {
  char *path = cdr_path_join(room->dir, "host.db");
  sqlite3 *db = NULL;
  int r = 0;

  *out = NULL;
  if (path == NULL)
    return CDR_ERR_NOMEM;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    r = db_fail(db, "open");
    sqlite3_close(db);
  } else {
    sqlite3_busy_timeout(db, 5000);
    *out = db;
  }
  free(path);
  return r;
}

static int db_exec(sqlite3 *db, const char *sql) {
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return db_fail(db, sql);
  return 0;
}

int cdr_tokens_db_add_spki(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  int have = sqlite3_prepare_v2(db, "SELECT cert_spki FROM tokens LIMIT 0", -1, &st, NULL) == SQLITE_OK;
  sqlite3_finalize(st);
  return have ? 0 : db_exec(db, "ALTER TABLE tokens ADD COLUMN cert_spki BLOB");
}

int cdr_tokens_db_create(const struct cdr_room *room) {
  char *path = cdr_path_join(room->dir, "host.db");
  sqlite3 *db = NULL;
  int fd, r;

  if (path == NULL)
    return CDR_ERR_NOMEM;
  /* Create the file ourselves so that it is 0600 from the start;
   * SQLite gives its -wal and -shm files the same mode. */
  if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
    log_error("host.db: cannot create %s: %s", path, strerror(errno));
    free(path);
    return CDR_ERR_IO;
  }
  (void)fchmod(fd, 0600);
  close(fd);
  if ((r = db_open(room, &db)) != 0)
    goto out;
  if ((r = db_exec(db, "PRAGMA journal_mode=WAL;")) != 0 || (r = db_exec(db, schema)) != 0)
    goto out;
out:
  sqlite3_close(db);
  free(path);
  return r;
}

/* ---- token strings ---- */

static int token_id_ok(const char *id) { return id != NULL && strlen(id) == 32 && cdr_hex_lower_ok(id, 32); }

static int role_ok(enum cdr_role role) {
  return role == CDR_ROLE_ANALYST || role == CDR_ROLE_PROVIDER || role == CDR_ROLE_AUDITOR;
}

int cdr_token_create(const struct cdr_room *room, const char *name, enum cdr_role role, int64_t ttl_s,
                     int64_t cert_validity_s, char **token_string, struct cdr_token_info *info) {
  uint8_t idraw[16], secret[TOKEN_SECRET_LEN];
  char id[33];
  char *secret_b64 = NULL, *name_b64 = NULL, *fp_b64 = NULL, *tok = NULL;
  uint8_t ca_fp[32];
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  size_t toklen = 0;
  int r;

  *token_string = NULL;
  if (info != NULL)
    memset(info, 0, sizeof(*info));
  if ((r = cdr_room_name_check(name)) != 0 || !role_ok(role) || ttl_s <= 0 || ttl_s > TOKEN_MAX_TTL_S ||
      cert_validity_s <= 0 || cert_validity_s > CERT_MAX_VALIDITY_S)
    return CDR_ERR_ARG;
  if ((r = cdr_random(idraw, sizeof(idraw))) != 0 || (r = cdr_random(secret, sizeof(secret))) != 0)
    goto out;
  cdr_hex_encode(id, idraw, sizeof(idraw));
  if ((r = cdr_b64url_encode(&secret_b64, secret, sizeof(secret))) != 0 ||
      (r = cdr_b64url_encode(&name_b64, (const uint8_t *)name, strlen(name))) != 0 ||
      (r = cdr_cert_fingerprint(room->ca_cert, ca_fp)) != 0 || (r = cdr_b64url_encode(&fp_b64, ca_fp, 32)) != 0)
    goto out;
  toklen = strlen(TOKEN_PREFIX) + 1 + 32 + 1 + strlen(secret_b64) + 1 + strlen(name_b64) + 1 + strlen(fp_b64) + 1;
  if ((tok = malloc(toklen)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  snprintf(tok, toklen, TOKEN_PREFIX ".%s.%s.%s.%s", id, secret_b64, name_b64, fp_b64);

  int64_t now = cdr_now();
  if ((r = db_open(room, &db)) != 0)
    goto out;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO tokens (id, secret, name, role, created_at, expires_at, cert_validity_s)"
                         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         -1, &st, NULL) != SQLITE_OK) {
    r = db_fail(db, "prepare insert");
    goto out;
  }
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, secret, sizeof(secret), SQLITE_STATIC);
  sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, cdr_role_name(role), -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 5, now);
  sqlite3_bind_int64(st, 6, now + ttl_s);
  sqlite3_bind_int64(st, 7, cert_validity_s);
  if (sqlite3_step(st) != SQLITE_DONE) {
    r = db_fail(db, "insert token");
    goto out;
  }
  if (info != NULL) {
    if ((info->name = strdup(name)) == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    memcpy(info->token_id, id, sizeof(id));
    info->role = role;
    info->expires_at = now + ttl_s;
    info->cert_validity_s = cert_validity_s;
  }
  *token_string = tok;
  tok = NULL;
  r = 0;
out:
  sqlite3_finalize(st); /* SQLite zeroes nothing: the bound secret is ours */
  sqlite3_close(db);
  OPENSSL_cleanse(secret, sizeof(secret));
  if (secret_b64 != NULL)
    OPENSSL_clear_free(secret_b64, strlen(secret_b64));
  free(name_b64);
  free(fp_b64);
  if (tok != NULL)
    OPENSSL_clear_free(tok, toklen);
  return r;
}

int cdr_token_parse(const char *token, char token_id[33], uint8_t secret[32], char **name, uint8_t ca_fp[32]) {
  char *copy = NULL, *nmstr = NULL, *parts[5];
  uint8_t *sec = NULL, *nm = NULL, *fp = NULL;
  size_t seclen = 0, nmlen = 0, fplen = 0, n, np = 0;
  int r = CDR_ERR_ARG;

  if (name != NULL)
    *name = NULL;
  if (token == NULL || (n = strlen(token)) == 0 || n > TOKEN_MAX_LEN)
    return CDR_ERR_ARG;
  if ((copy = strdup(token)) == NULL)
    return CDR_ERR_NOMEM;
  /* Split on '.' into exactly five non-empty parts. */
  parts[np++] = copy;
  for (char *p = copy; *p != '\0'; p++) {
    if (*p != '.')
      continue;
    if (np == 5)
      goto out;
    *p = '\0';
    parts[np++] = p + 1;
  }
  if (np != 5 || strcmp(parts[0], TOKEN_PREFIX) != 0 || !token_id_ok(parts[1]) || parts[2][0] == '\0' ||
      parts[3][0] == '\0' || parts[4][0] == '\0')
    goto out;
  if (cdr_b64url_decode(&fp, &fplen, parts[4], 32) != 0 || fplen != 32)
    goto out;
  if (cdr_b64url_decode(&sec, &seclen, parts[2], TOKEN_SECRET_LEN) != 0 || seclen != TOKEN_SECRET_LEN)
    goto out;
  if (cdr_b64url_decode(&nm, &nmlen, parts[3], CDR_MAX_NAME_LEN) != 0 || memchr(nm, '\0', nmlen) != NULL)
    goto out;
  if ((nmstr = malloc(nmlen + 1)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  memcpy(nmstr, nm, nmlen);
  nmstr[nmlen] = '\0';
  if (cdr_room_name_check(nmstr) != 0)
    goto out;
  memcpy(token_id, parts[1], 33);
  memcpy(secret, sec, TOKEN_SECRET_LEN);
  if (ca_fp != NULL)
    memcpy(ca_fp, fp, 32);
  if (name != NULL) {
    *name = nmstr;
    nmstr = NULL;
  }
  r = 0;
out:
  if (sec != NULL)
    OPENSSL_clear_free(sec, seclen);
  free(nm);
  free(fp);
  free(nmstr);
  OPENSSL_clear_free(copy, n + 1);
  return r;
}

/* Lower-case hex of a certificate's serial, malloc'd. */
static int serial_hex(X509 *cert, char **out) {
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
  char *h = bn ? BN_bn2hex(bn) : NULL;
  int r = CDR_ERR_CRYPTO;
  if (h != NULL && (*out = strdup(h)) != NULL) {
    for (char *p = *out; *p; p++)
      if (*p >= 'A' && *p <= 'F')
        *p = (char)(*p - 'A' + 'a');
    r = 0;
  }
  OPENSSL_free(h);
  BN_free(bn);
  return r;
}

/* A row of the tokens table, as redemption reads it.  secret is wiped
 * and name freed by whoever holds the row. */
struct token_row {
  uint8_t secret[TOKEN_SECRET_LEN];
  char *name;
  enum cdr_role role;
  int64_t expires_at, cert_validity_s;
  int used;
};

/* Step 1 of redemption: the row of token_id (inside the caller's
 * transaction).  CDR_ERR_TOKEN_UNKNOWN if there is none; the row's
 * statement is finalised before return, so the only copy of the secret
 * left is row->secret. */
static int token_lookup(sqlite3 *db, const char *token_id, struct token_row *row) {
  sqlite3_stmt *st = NULL;
  int r;

  if (sqlite3_prepare_v2(db,
                         "SELECT secret, name, role, expires_at, cert_validity_s, used_at IS NOT NULL"
                         " FROM tokens WHERE id = ?1",
                         -1, &st, NULL) != SQLITE_OK)
    return db_fail(db, "prepare select");
  sqlite3_bind_text(st, 1, token_id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    r = CDR_ERR_TOKEN_UNKNOWN;
    goto out;
  }
  if (rc != SQLITE_ROW) {
    r = db_fail(db, "select token");
    goto out;
  }
  const void *sec = sqlite3_column_blob(st, 0);
  const unsigned char *nm = sqlite3_column_text(st, 1);
  const unsigned char *rl = sqlite3_column_text(st, 2);
  if (sec == NULL || sqlite3_column_bytes(st, 0) != TOKEN_SECRET_LEN || nm == NULL || rl == NULL) {
    log_error("host.db: token %s is corrupt", token_id);
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  memcpy(row->secret, sec, sizeof(row->secret));
  if ((row->name = strdup((const char *)nm)) == NULL) {
    r = CDR_ERR_NOMEM;
    goto out;
  }
  row->role = cdr_role_from_name((const char *)rl);
  row->expires_at = sqlite3_column_int64(st, 3);
  row->cert_validity_s = sqlite3_column_int64(st, 4);
  row->used = sqlite3_column_int(st, 5);
  r = 0;
out:
  sqlite3_finalize(st); /* the row's copy of the secret goes with it */
  return r;
}

/* Step 7 of redemption: mark token_id used by the certificate with this
 * serial (inside the caller's transaction).  CDR_ERR_TOKEN_USED if
 * another redemption got there first. */
static int token_consume(sqlite3 *db, const char *token_id, const char *serial, const uint8_t *spki, int spki_len) {
  sqlite3_stmt *st = NULL;
  int r = 0;

  /* host.db from before the contract has no cert_spki column yet. */
  if ((r = cdr_tokens_db_add_spki(db)) != 0)
    return r;
  if (sqlite3_prepare_v2(db,
                         "UPDATE tokens SET used_at = ?1, cert_serial = ?2, cert_spki = ?4 WHERE id = ?3 AND used_at "
                         "IS NULL",
                         -1, &st, NULL) != SQLITE_OK)
    return db_fail(db, "prepare update");
  sqlite3_bind_int64(st, 1, cdr_now());
  sqlite3_bind_text(st, 2, serial, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, token_id, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 4, spki, spki_len, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    r = db_fail(db, "update token");
  else if (sqlite3_changes(db) != 1)
    r = CDR_ERR_TOKEN_USED;
  sqlite3_finalize(st);
  return r;
}

int cdr_enroll_redeem(const struct cdr_room *room, struct cdr_ca *ca, const char *token_id, const uint8_t mac[32],
                      const char *csr_pem, size_t csr_len, X509 **cert_out) {
  sqlite3 *db = NULL;
  struct token_row row;
  unsigned char *der = NULL, *req_der = NULL;
  long derlen = 0;
  int req_derlen = 0;
  uint8_t want[32];
  char *serial = NULL;
  unsigned char *spki = NULL;
  int in_tx = 0, r, spki_len = 0;
  X509_REQ *req = NULL;
  X509 *cert = NULL;

  memset(&row, 0, sizeof(row));
  *cert_out = NULL;
  if (room == NULL || ca == NULL || mac == NULL || csr_pem == NULL)
    return CDR_ERR_ARG;
  if (!token_id_ok(token_id))
    return CDR_ERR_TOKEN_UNKNOWN;
  if ((r = db_open(room, &db)) != 0)
    goto out;
  if ((r = db_exec(db, "BEGIN IMMEDIATE")) != 0)
    goto out;
  in_tx = 1;

  /* 1. look the token up */
  if ((r = token_lookup(db, token_id, &row)) != 0)
    goto out;
  /* 2. the MAC over the CSR bytes as sent, in constant time */
  if ((r = cdr_csr_pem_der(csr_pem, csr_len, &der, &derlen)) != 0)
    goto out;
  if ((r = cdr_enroll_mac(want, row.secret, token_id, der, (size_t)derlen)) != 0)
    goto out;
  if (CRYPTO_memcmp(want, mac, sizeof(want)) != 0) {
    r = CDR_ERR_TOKEN_INVALID;
    goto out;
  }
  /* 3. expiry, 4. single use */
  if (cdr_now() >= row.expires_at) {
    r = CDR_ERR_TOKEN_EXPIRED;
    goto out;
  }
  if (row.used) {
    r = CDR_ERR_TOKEN_USED;
    goto out;
  }
  /* 5. the CSR itself; it must be the very bytes the MAC covered */
  if ((r = cdr_csr_check(csr_pem, csr_len, row.name, &req)) != 0)
    goto out;
  if ((req_derlen = i2d_X509_REQ(req, &req_der)) <= 0 || (long)req_derlen != derlen ||
      memcmp(req_der, der, (size_t)derlen) != 0) {
    r = CDR_ERR_CSR_INVALID;
    goto out;
  }
  if (!role_ok(row.role)) {
    log_error("host.db: token %s has an unknown role", token_id);
    r = CDR_ERR_INTERNAL;
    goto out;
  }
  /* 6. issue, 7. consume */
  if ((r = cdr_ca_issue_user(ca, room, req, row.name, row.role, row.cert_validity_s, &cert)) != 0)
    goto out;
  if ((spki_len = i2d_PUBKEY(X509_get0_pubkey(cert), &spki)) <= 0) {
    r = CDR_ERR_CRYPTO;
    goto out;
  }
  if ((r = serial_hex(cert, &serial)) != 0 || (r = token_consume(db, token_id, serial, spki, spki_len)) != 0)
    goto out;
  if ((r = db_exec(db, "COMMIT")) != 0)
    goto out;
  in_tx = 0;
  log_info("enrollment: token %s redeemed, certificate serial %s", token_id, serial);
  *cert_out = cert;
  cert = NULL;
  r = 0;
out:
  if (in_tx)
    (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(db);
  OPENSSL_cleanse(row.secret, sizeof(row.secret));
  OPENSSL_cleanse(want, sizeof(want));
  OPENSSL_free(der);
  OPENSSL_free(req_der);
  OPENSSL_free(spki);
  X509_REQ_free(req);
  X509_free(cert);
  free(row.name);
  free(serial);
  return r;
}
