/*
 * cmd_room_members.c - `cdr room members ROOM [--format table|csv|json]`:
 * the certificates ROOM/host.db records as issued and not revoked
 * (room/members.c), each with its key fingerprint (SHA-256 of the SPKI),
 * its name and certificate role, and where its key stands in the room
 * contract: in the active version, only in the pending one, or in
 * neither.  The contract comes from ROOM/contract.json, the copy cdrd
 * keeps of what the enclave reports (host/contract_cache.c): an
 * untrusted display copy for the operator, which the command says;
 * members check the contract themselves (`cdr contract`).  No PIN is
 * needed and nothing is changed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/client.h"
#include "client/render.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"
#include "room/room.h"

#define CMD "room members"
#define CACHE_MAX (4u * CDR_MiB)

static void members_help(void) {
  printf("Usage: cdr room members ROOM [--format table|csv|json]\n"
         "\n"
         "List the certificates the room has issued and not revoked, with each one's\n"
         "name, certificate role and key fingerprint (SHA-256 of its public key), and\n"
         "where that key stands in the room contract: \"active\" (a member of the\n"
         "active version, with the roles it gives), \"pending\" (only in the pending\n"
         "version) or \"none\" (in neither: it can open no session once a version is\n"
         "active).  \"unknown\" means the server has not reported a contract yet (it\n"
         "writes ROOM/contract.json when the room loads and at every change), or\n"
         "that the certificate was enrolled before host.db kept keys.\n"
         "\n"
         "The contract shown is the copy the server keeps of what the enclave\n"
         "reported: the operator's display, not proof.  Members check the contract\n"
         "through the secure channel (cdr contract).  When no active version names\n"
         "witnesses it says \"history not witnessed\": the operator can then roll back\n"
         "activity since the last commit (docs/WITNESSES.md).\n"
         "\n"
         "Options:\n"
         "  -f, --format table|csv|json   output format (default table; text is\n"
         "                                another name for table)\n"
         "  -h, --help                    show this help\n");
}

/* One version of ROOM/contract.json ("active" or "pending"), its
 * document checked against its hash and parsed.  0 when present. */
static int cached_version(const json_t *cache, const char *which, struct cdr_contract *c) {
  const json_t *v = json_object_get(cache, which);
  const char *doc, *h;
  size_t len;
  uint8_t want[32], got[32];
  if (v == NULL || json_is_null(v) || cdr_json_get_str(v, "document", CDR_CONTRACT_MAX_BYTES, &doc, &len) != 0 ||
      (h = cdr_json_get_cstr_opt(v, "sha256")) == NULL || strlen(h) != 64 || cdr_hex_decode(want, 32, h) != 0 ||
      cdr_sha256(got, doc, len) != 0 || memcmp(got, want, 32) != 0)
    return -1;
  return cdr_contract_parse((const uint8_t *)doc, len, c, NULL, 0) == 0 ? 0 : -1;
}

static const struct cdr_contract_member *member_of(const struct cdr_contract *c, const uint8_t key[32]) {
  for (size_t i = 0; c != NULL && i < c->n_members; i++)
    if (memcmp(c->members[i].key_sha256, key, 32) == 0)
      return &c->members[i];
  return NULL;
}

/* "analyst,provider" for a member's roles. */
static void roles_text(char *out, size_t len, unsigned roles) {
  static const unsigned bits[] = {CDR_CONTRACT_ROLE_ANALYST, CDR_CONTRACT_ROLE_AUDITOR, CDR_CONTRACT_ROLE_PROVIDER};
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
    if (roles & bits[i]) {
      int w = snprintf(out + n, len - n, "%s%s", n ? "," : "", cdr_contract_role_name(bits[i]));
      if (w < 0 || (size_t)w >= len - n)
        return;
      n += (size_t)w;
    }
}

/* The rows: one per certificate. */
static json_t *member_rows(const struct cdr_room_cert *v, size_t n, const struct cdr_contract *active,
                           const struct cdr_contract *pending, int have_cache, enum cli_format format) {
  json_t *rows = json_array();
  for (size_t i = 0; rows != NULL && i < n; i++) {
    uint8_t key[32];
    char hex[65] = "", roles[64] = "";
    const char *standing = "unknown";
    const struct cdr_contract_member *m = NULL;
    if (v[i].spki != NULL && cdr_sha256(key, v[i].spki, v[i].spki_len) == 0) {
      cdr_hex_encode(hex, key, 32);
      if (have_cache && (m = member_of(active, key)) != NULL)
        standing = "active";
      else if (have_cache && (m = member_of(pending, key)) != NULL)
        standing = "pending";
      else if (have_cache)
        standing = "none";
    }
    if (m != NULL)
      roles_text(roles, sizeof(roles), m->roles);
    json_t *row = format == CLI_FORMAT_JSON
                      ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", v[i].name, "role", cdr_role_name(v[i].role),
                                  "serial", v[i].serial, "key_sha256", hex, "contract", standing, "contract_roles",
                                  roles)
                      : json_pack("[s,s,s,s,s]", v[i].name, cdr_role_name(v[i].role), hex, standing, roles);
    if (row == NULL || json_array_append_new(rows, row) != 0) {
      json_decref(rows);
      return NULL;
    }
  }
  return rows;
}

static int members_print(const struct cdr_room *room, enum cli_format format) {
  struct cdr_room_cert *v = NULL;
  struct cdr_contract active, pending;
  size_t n = 0;
  uint8_t *text = NULL;
  size_t len = 0;
  json_t *cache = NULL, *res = NULL, *rows = NULL;
  char *path = NULL;
  int r, rc = 0, have_active = 0, have_pending = 0;

  memset(&active, 0, sizeof(active));
  memset(&pending, 0, sizeof(pending));
  if ((r = cdr_room_certs(room, &v, &n)) != 0)
    return cli_fail_err(CMD, r, "cannot read the certificates of %s", room->dir);
  size_t plen = strlen(room->dir) + sizeof("/contract.json");
  if ((path = malloc(plen)) == NULL) {
    rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  snprintf(path, plen, "%s/contract.json", room->dir);
  if (cdr_file_read(path, &text, &len, CACHE_MAX) == 0 && cdr_json_parse_object(&cache, text, len) == 0) {
    have_active = cached_version(cache, "active", &active) == 0;
    have_pending = cached_version(cache, "pending", &pending) == 0;
  } else if (!cdr_client_quiet()) {
    fprintf(stderr, "note: %s is missing or unreadable: the server has not reported the contract (start it with "
                    "cdr serve); every key's standing is unknown\n", path);
  }
  rows = member_rows(v, n, have_active ? &active : NULL, have_pending ? &pending : NULL, cache != NULL, format);
  res = json_pack("{s:[s,s,s,s,s], s:o}", "columns", "name", "role", "key_sha256", "contract", "contract_roles",
                  "rows", rows != NULL ? json_incref(rows) : json_array());
  if (rows == NULL || res == NULL) {
    rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (format == CLI_FORMAT_TABLE && !cdr_client_quiet() && cache != NULL)
    fprintf(stderr, "contract: active version %llu, pending version %llu (as the server last reported it; "
                    "members check it with cdr contract)\n",
            have_active ? (unsigned long long)active.version : 0ULL,
            have_pending ? (unsigned long long)pending.version : 0ULL);
  /* Said whatever the cache holds: without an active version naming
   * witnesses, nothing stops the operator from putting an older state back. */
  if (format == CLI_FORMAT_TABLE && !cdr_client_quiet()) {
    if (!have_active || active.n_witnesses == 0)
      fprintf(stderr, "%s\n", CDR_CONTRACT_UNWITNESSED);
    else
      fprintf(stderr, "witnessed: %zu witnesses, f = %u, quorum %zu (cdr contract lists them)\n",
              active.n_witnesses, active.witness_faults, cdr_contract_witness_quorum(&active));
  }
  if (format == CLI_FORMAT_TABLE && n == 0)
    printf("no certificates\n");
  else if ((format == CLI_FORMAT_JSON  ? cdr_render_json_value(stdout, rows, JSON_ENSURE_ASCII)
            : format == CLI_FORMAT_CSV ? cdr_render_csv(stdout, res)
                                       : cdr_render_table(stdout, res)) != 0 ||
           fflush(stdout) != 0)
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write the list");
out:
  json_decref(rows);
  json_decref(res);
  json_decref(cache);
  free(text);
  free(path);
  cdr_contract_free(&active);
  cdr_contract_free(&pending);
  cdr_room_certs_free(v, n);
  return rc;
}

int cmd_room_members(int argc, char **argv) {
  enum cli_format format;
  struct cdr_room *room = NULL;
  int r, rc, helped;

  if ((r = cli_format_options(CMD, argc, argv, &format, members_help, &helped)) != 0 || helped)
    return r;
  if (argc - optind != 1)
    return cli_usage(CMD, "expected ROOM");
  if ((r = cdr_room_open(argv[optind], &room)) != 0)
    return cli_fail_err(CMD, r, "%s is not a usable room", argv[optind]);
  rc = members_print(room, format);
  cdr_room_free(room);
  return rc;
}
