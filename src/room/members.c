/*
 * members.c - the certificates a room has issued and not revoked, with
 * the keys they certify (room.h, cdr_room_certs): what `cdr room
 * propose` drafts a contract from.  The list is the host's view, so it
 * is only a draft: only members' signatures make a contract count.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/log.h"
#include "common/util.h"
#include "room.h"
#include "room_int.h"

void cdr_room_certs_free(struct cdr_room_cert *v, size_t n) {
  for (size_t i = 0; v != NULL && i < n; i++) {
    free(v[i].name);
    free(v[i].spki);
  }
  free(v);
}

static int certs_read(sqlite3 *db, struct cdr_room_cert **out, size_t *n_out) {
  static const char sql[] = "SELECT name, role, cert_serial, cert_spki FROM tokens WHERE cert_serial IS NOT NULL AND "
                            "cert_serial NOT IN (SELECT serial FROM revoked) ORDER BY used_at, id";
  sqlite3_stmt *st = NULL;
  struct cdr_room_cert *v = NULL, *nv;
  size_t n = 0;
  int r = 0, rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    log_error("host.db: %s", sqlite3_errmsg(db));
    return CDR_ERR_IO;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0), *role = (const char *)sqlite3_column_text(st, 1),
               *serial = (const char *)sqlite3_column_text(st, 2);
    const void *spki = sqlite3_column_blob(st, 3);
    int spki_len = sqlite3_column_bytes(st, 3);
    if (name == NULL || role == NULL || serial == NULL || spki_len > (int)CDR_MAX_PUBKEY_DER) {
      r = CDR_ERR_IO;
      break;
    }
    if ((nv = realloc(v, (n + 1) * sizeof(*v))) == NULL) {
      r = CDR_ERR_NOMEM;
      break;
    }
    v = nv;
    memset(&v[n], 0, sizeof(v[n]));
    v[n].role = cdr_role_from_name(role);
    snprintf(v[n].serial, sizeof(v[n].serial), "%s", serial);
    if ((v[n].name = strdup(name)) == NULL || (spki_len > 0 && (v[n].spki = malloc((size_t)spki_len)) == NULL)) {
      free(v[n].name);
      r = CDR_ERR_NOMEM;
      break;
    }
    if (spki_len > 0)
      memcpy(v[n].spki, spki, (size_t)spki_len);
    v[n].spki_len = (size_t)spki_len;
    n++;
  }
  if (r == 0 && rc != SQLITE_DONE) {
    log_error("host.db: %s", sqlite3_errmsg(db));
    r = CDR_ERR_IO;
  }
  sqlite3_finalize(st);
  if (r != 0) {
    cdr_room_certs_free(v, n);
    return r;
  }
  *out = v;
  *n_out = n;
  return 0;
}

int cdr_room_certs(const struct cdr_room *room, struct cdr_room_cert **out, size_t *n) {
  char *path = cdr_path_join(room->dir, "host.db");
  sqlite3 *db = NULL;
  int r;
  *out = NULL;
  *n = 0;
  if (path == NULL)
    return CDR_ERR_NOMEM;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK || sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
      sqlite3_exec(db, "CREATE TABLE IF NOT EXISTS revoked (serial TEXT PRIMARY KEY, name TEXT, revoked_at INTEGER);",
                   NULL, NULL, NULL) != SQLITE_OK) {
    log_error("host.db: %s", db ? sqlite3_errmsg(db) : "cannot open");
    r = CDR_ERR_IO;
  } else if ((r = cdr_tokens_db_add_spki(db)) == 0) {
    r = certs_read(db, out, n);
  }
  sqlite3_close(db);
  free(path);
  return r;
}
