/*
 * tokens_admin.c - the administrator's view of the enrollment tokens in
 * ROOM/host.db (tokens.c makes and redeems them): list the open ones
 * and cancel one (contracts in room.h).
 *
 * A token is open while it is unused and unexpired.  Cancelling deletes
 * its row, in one statement that only matches an unused row, so a
 * redemption that got there first (its own transaction, tokens.c) wins
 * and the cancel reports CDR_ERR_TOKEN_USED; after a cancel, redeeming
 * the token fails as for any token the room does not know
 * (CDR_ERR_TOKEN_UNKNOWN).  Nothing here reads the token's secret.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "room.h"
#include "room_int.h"

static int admin_db_open(const struct cdr_room *room, sqlite3 **db) {
  char *path = cdr_path_join(room->dir, "host.db");
  int r = 0;
  *db = NULL;
  if (path == NULL)
    return CDR_ERR_NOMEM;
  if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(*db, 5000) != SQLITE_OK) {
    log_error("host.db: %s", *db ? sqlite3_errmsg(*db) : "cannot open");
    sqlite3_close(*db);
    *db = NULL;
    r = CDR_ERR_IO;
  }
  free(path);
  return r;
}

void cdr_token_list_free(struct cdr_token_info *list, size_t n) {
  for (size_t i = 0; i < n && list != NULL; i++)
    free(list[i].name);
  free(list);
}

int cdr_token_list_open(const struct cdr_room *room, int64_t now, struct cdr_token_info **out, size_t *count) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  struct cdr_token_info *list = NULL, *grown;
  size_t n = 0, cap = 0;
  int r, rc;

  *out = NULL;
  *count = 0;
  if ((r = admin_db_open(room, &db)) != 0)
    return r;
  r = CDR_ERR_IO;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, name, role, expires_at, cert_validity_s FROM tokens"
                         " WHERE used_at IS NULL AND expires_at > ?1 ORDER BY expires_at, id",
                         -1, &st, NULL) != SQLITE_OK)
    goto out;
  sqlite3_bind_int64(st, 1, now);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *id = sqlite3_column_text(st, 0), *nm = sqlite3_column_text(st, 1),
                        *rl = sqlite3_column_text(st, 2);
    if (id == NULL || nm == NULL || rl == NULL || strlen((const char *)id) != 32)
      continue; /* not a row cdr_token_create writes */
    if (n == cap) {
      cap = cap ? 2 * cap : 8;
      if ((grown = realloc(list, cap * sizeof(*list))) == NULL) {
        r = CDR_ERR_NOMEM;
        goto out;
      }
      list = grown;
    }
    memset(&list[n], 0, sizeof(list[n]));
    memcpy(list[n].token_id, id, 33);
    if ((list[n].name = strdup((const char *)nm)) == NULL) {
      r = CDR_ERR_NOMEM;
      goto out;
    }
    list[n].role = cdr_role_from_name((const char *)rl);
    list[n].expires_at = sqlite3_column_int64(st, 3);
    list[n].cert_validity_s = sqlite3_column_int64(st, 4);
    n++;
  }
  if (rc != SQLITE_DONE)
    goto out;
  *out = list;
  *count = n;
  list = NULL;
  n = 0;
  r = 0;
out:
  if (r == CDR_ERR_IO)
    log_error("host.db: list tokens: %s", sqlite3_errmsg(db));
  cdr_token_list_free(list, n);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return r;
}

/* The id of the one unused token that which names: its id, or else its
 * user name when exactly one unused token has that name. */
static int token_resolve(sqlite3 *db, const char *which, char id[33], int *matches) {
  sqlite3_stmt *st = NULL;
  int rc;
  *matches = 0;
  if (sqlite3_prepare_v2(db, "SELECT id FROM tokens WHERE used_at IS NULL AND (id = ?1 OR name = ?1)", -1, &st,
                         NULL) != SQLITE_OK)
    return CDR_ERR_IO;
  sqlite3_bind_text(st, 1, which, -1, SQLITE_STATIC);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st, 0);
    if (t != NULL && strlen((const char *)t) == 32 && ++*matches == 1)
      memcpy(id, t, 33);
    if (t != NULL && strcmp((const char *)t, which) == 0) { /* an id names one token, whatever the names */
      memcpy(id, t, 33);
      *matches = 1;
      break;
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return CDR_ERR_IO;
  return *matches == 0 ? CDR_ERR_NOT_FOUND : *matches > 1 ? CDR_ERR_ARG : 0;
}

int cdr_token_cancel(const struct cdr_room *room, const char *which, char token_id[33]) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int r, matches;

  token_id[0] = '\0';
  if (which == NULL || which[0] == '\0')
    return CDR_ERR_ARG;
  if ((r = admin_db_open(room, &db)) != 0)
    return r;
  if ((r = token_resolve(db, which, token_id, &matches)) != 0)
    goto out;
  r = CDR_ERR_IO;
  if (sqlite3_prepare_v2(db, "DELETE FROM tokens WHERE id = ?1 AND used_at IS NULL", -1, &st, NULL) != SQLITE_OK)
    goto out;
  sqlite3_bind_text(st, 1, token_id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    goto out;
  r = sqlite3_changes(db) == 1 ? 0 : CDR_ERR_TOKEN_USED; /* redeemed since it was looked up */
out:
  if (r == CDR_ERR_IO)
    log_error("host.db: cancel token: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return r;
}
