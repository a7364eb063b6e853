/*
 * cmd_contract.c - `cdr contract`: read the room contract through the
 * secure channel (the active version and any pending one), sign the
 * pending version, or propose one (docs/PROTOCOL.md 4.7 and 8).
 *
 *   cdr contract [conn] [--format json]   show the versions
 *   cdr contract sign [conn] HASH          sign the pending version HASH
 *   cdr contract propose [conn] FILE       FILE (a canonical document) becomes pending
 *   cdr contract confirm [--profile P] NAME FINGERPRINT
 *                                          record a key checked out of band
 *
 * Every document shown is checked here: its bytes hash to the hash the
 * enclave gives and it parses as a canonical contract, so what a member
 * reads is exactly what it signs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "client/profile.h"
#include "common/json_get.h"
#include "common/util.h"
#include "crypto/contract.h"
#include "crypto/crypto.h"

static const char *const CMD = "contract";

static void help(void) {
  printf("Usage: cdr contract [URL --key KEY --cert CERT] [--format json] [options]\n"
         "       cdr contract sign [URL --key KEY --cert CERT] HASH [options]\n"
         "       cdr contract propose [URL --key KEY --cert CERT] FILE [options]\n"
         "       cdr contract confirm [--profile NAME] MEMBER FINGERPRINT\n\n"
         "Show the room contract as the enclave holds it: the active version and any\n"
         "pending one, with members (name, key fingerprint, roles), the CA, the\n"
         "platform and measurements, the history witnesses (each one's URL and key\n"
         "fingerprint, f and the quorum; or \"history not witnessed\": the operator can\n"
         "then roll back activity since the last commit), what the pending version\n"
         "changes, and whose signatures it still needs (rule cdr-gov-1).  Before\n"
         "signing, check each member's key fingerprint with that member, and each\n"
         "witness's with its operator, out of band.  The profile pins\n"
         "the active version it first sees; a room showing no active version, or an\n"
         "older one, or a chain that does not follow the pin is refused\n"
         "(contract_unpinned).  Until version 1 is active the room serves these\n"
         "contract commands only: every other command is refused with\n"
         "contract_not_active.\n\n"
         "sign HASH     sign the pending version whose contract hash is HASH (64 hex\n"
         "              digits, as shown) with your key; refused if the pending\n"
         "              version has another hash, or (contract_unpinned) if the room\n"
         "              does not follow the version your profile pinned\n"
         "propose FILE  make FILE (a canonical contract document, PROTOCOL.md 8) the\n"
         "              pending version; it replaces any pending one and voids its\n"
         "              signatures\n"
         "confirm MEMBER FINGERPRINT\n"
         "              record that you checked MEMBER's key fingerprint (64 hex\n"
         "              digits) with that member out of band; `cdr contract` marks\n"
         "              every other member's key (but yours) as unconfirmed\n"
         "--format json print the enclave's answer as JSON (the canonical documents\n"
         "              are its \"document\" strings)\n\n");
  cli_connect_help();
}

static void roles_text(unsigned roles, char *out, size_t n) {
  out[0] = '\0';
  for (unsigned bit = 1; bit <= CDR_CONTRACT_ROLE_PROVIDER; bit <<= 1)
    if (roles & bit) {
      size_t l = strlen(out);
      snprintf(out + l, n - l, "%s%s", l ? "," : "", cdr_contract_role_name(bit));
    }
}

/* Whose keys are confirmed: the profile's list and the user's own key. */
struct confirm_ctx {
  const char *profile; /* NULL: no profile, nothing confirmed */
  uint8_t own[32];
};
static const struct confirm_ctx *confirm_marks;

static void print_member(const char *mark, const struct cdr_contract_member *m) {
  char name[CDR_MAX_NAME_LEN * 2 + 1], fp[65], roles[64];
  const struct confirm_ctx *k = confirm_marks;
  int confirmed = k != NULL && (memcmp(k->own, m->key_sha256, 32) == 0 ||
                                (k->profile != NULL && cdr_confirmed_has(k->profile, m->key_sha256)));
  cdr_sanitize(name, sizeof(name), m->name);
  cdr_hex_encode(fp, m->key_sha256, 32);
  roles_text(m->roles, roles, sizeof(roles));
  printf("  %s %-24s key %s  %s%s\n", mark, name, fp, roles, confirmed ? "" : "  (unconfirmed)");
}

/* The witnesses a version names, with f and the quorum, or the plain
 * statement that its history is not witnessed.  URLs come from a document
 * members sign, but are sanitised like every other string shown. */
static void print_witnesses(const struct cdr_contract *c) {
  char url[2 * CDR_CONTRACT_MAX_URL + 1], fp[65];
  if (c->n_witnesses == 0) {
    printf("  %s\n", CDR_CONTRACT_UNWITNESSED);
    return;
  }
  printf("  witnesses: %zu, tolerating f = %u faulty, quorum %zu\n", c->n_witnesses, c->witness_faults,
         cdr_contract_witness_quorum(c));
  for (size_t i = 0; i < c->n_witnesses; i++) {
    cdr_sanitize(url, sizeof(url), c->witnesses[i].url);
    cdr_hex_encode(fp, c->witnesses[i].key_sha256, 32);
    printf("    %s  key %s\n", url, fp);
  }
}

static void print_doc(const char *what, const struct cdr_contract *c, const char *hash) {
  char name[512], hex[2 * CDR_CONTRACT_MEASUREMENT_MAX + 1];
  cdr_sanitize(name, sizeof(name), c->room_name);
  printf("%s contract: version %llu, hash %s\n", what, (unsigned long long)c->version, hash);
  cdr_hex_encode(hex, c->room_id, CDR_ROOM_ID_BYTES);
  printf("  room %s (%s)\n", name, hex);
  cdr_hex_encode(hex, c->ca_sha256, 32);
  printf("  CA %s\n", hex);
  printf("  platform %s, governance %s\n", c->platform, c->governance);
  for (size_t i = 0; i < c->n_measurements; i++) {
    cdr_hex_encode(hex, c->measurements[i], cdr_contract_measurement_len(c->platform));
    printf("  measurement %s\n", hex);
  }
  printf("  members:\n");
  for (size_t i = 0; i < c->n_members; i++)
    print_member(" ", &c->members[i]);
  print_witnesses(c);
}

/* What next changes against active: members added (+), removed (-) or
 * with other roles or name (~). */
static void print_changes(const struct cdr_contract *active, const struct cdr_contract *next) {
  printf("  changes since the active version:\n");
  for (size_t i = 0; i < next->n_members; i++) {
    long j = cdr_contract_find_member(active, next->members[i].key_sha256);
    if (j < 0)
      print_member("+", &next->members[i]);
    else if (active->members[j].roles != next->members[i].roles ||
             strcmp(active->members[j].name, next->members[i].name) != 0)
      print_member("~", &next->members[i]);
  }
  for (size_t i = 0; i < active->n_members; i++)
    if (cdr_contract_find_member(next, active->members[i].key_sha256) < 0)
      print_member("-", &active->members[i]);
  if (memcmp(active->ca_sha256, next->ca_sha256, 32) != 0)
    printf("  ~ the room CA\n");
  if (active->n_measurements != next->n_measurements ||
      memcmp(active->measurements, next->measurements, sizeof(active->measurements)) != 0)
    printf("  ~ the accepted measurements\n");
  int same_witnesses = active->n_witnesses == next->n_witnesses && active->witness_faults == next->witness_faults;
  for (size_t i = 0; same_witnesses && i < next->n_witnesses; i++)
    same_witnesses = memcmp(active->witnesses[i].key_sha256, next->witnesses[i].key_sha256, 32) == 0 &&
                     strcmp(active->witnesses[i].url, next->witnesses[i].url) == 0;
  if (!same_witnesses)
    printf("  ~ the witnesses (or f)\n");
}

/* The version v of the answer: its document, checked against its hash. */
static int version_doc(const json_t *v, struct cdr_contract *c, char hash[65]) {
  const char *doc, *h;
  size_t len;
  uint8_t got[32], want[32];
  char why[CDR_CONTRACT_WHY_LEN];
  if (cdr_json_get_str(v, "document", CDR_CONTRACT_MAX_BYTES, &doc, &len) != 0 ||
      (h = cdr_json_get_cstr_opt(v, "sha256")) == NULL || strlen(h) != 64 || cdr_hex_decode(want, 32, h) != 0 ||
      cdr_sha256(got, doc, len) != 0 || memcmp(got, want, 32) != 0)
    return cli_fail(CMD, "the enclave's answer holds a document that does not match its hash");
  if (cdr_contract_parse((const uint8_t *)doc, len, c, why, sizeof(why)) != 0)
    return cli_fail(CMD, "the enclave's answer holds an invalid contract: %s", why);
  memcpy(hash, h, 65);
  return 0;
}

static void print_required(const json_t *pending) {
  json_t *a = json_object_get(pending, "required"), *it;
  size_t i;
  printf("  signatures needed (%s): %lld missing\n", CDR_CONTRACT_GOVERNANCE,
         (long long)json_integer_value(json_object_get(pending, "missing")));
  json_array_foreach(a, i, it) {
    const char *k = cdr_json_get_cstr_opt(it, "key_sha256");
    char ks[65];
    cdr_sanitize(ks, sizeof(ks), k != NULL ? k : "?");
    printf("    %s %s\n", ks, json_is_true(json_object_get(it, "signed")) ? "signed" : "not yet signed");
  }
}

static int show(const json_t *res) {
  json_t *a = json_object_get(res, "active"), *p = json_object_get(res, "pending");
  struct cdr_contract ac, pc;
  char ah[65], ph[65];
  int rc = 0;
  memset(&ac, 0, sizeof(ac));
  memset(&pc, 0, sizeof(pc));
  if (a != NULL && !json_is_null(a)) {
    if ((rc = version_doc(a, &ac, ah)) != 0)
      return rc;
    print_doc("active", &ac, ah);
  } else {
    printf("no active contract: no version has been signed by every member it needs yet\n");
    printf("%s\n", CDR_CONTRACT_UNWITNESSED);
  }
  if (p != NULL && !json_is_null(p)) {
    if ((rc = version_doc(p, &pc, ph)) == 0) {
      print_doc("pending", &pc, ph);
      if (ac.n_members > 0)
        print_changes(&ac, &pc);
      print_required(p);
      printf("before signing, check every unconfirmed key with its member (cdr contract confirm NAME FINGERPRINT)\n"
             "to sign it: cdr contract sign %s\n",
             ph);
    }
  } else {
    printf("no pending version\n");
  }
  cdr_contract_free(&ac);
  cdr_contract_free(&pc);
  return rc;
}

/* Read a whole file of at most max bytes. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *b = NULL;
  size_t n = 0;
  if (f == NULL)
    return cli_fail(CMD, "cannot open %s", path);
  if ((b = malloc(max + 1)) != NULL)
    n = fread(b, 1, max + 1, f);
  fclose(f);
  if (b == NULL || n > max) {
    free(b);
    return cli_fail(CMD, "%s is larger than %zu bytes", path, max);
  }
  *out = b;
  *len = n;
  return 0;
}

static int run(const char *sub, struct cdr_connect_opts *o, const char *arg, int json) {
  struct cdr_connection k;
  json_t *res = NULL;
  uint8_t hash[32], *doc = NULL;
  size_t len = 0;
  char text[1024];
  int r = 0, rc = 0;
  if (sub != NULL && strcmp(sub, "sign") == 0 && (strlen(arg) != 64 || cdr_hex_decode(hash, 32, arg) != 0))
    return cli_usage(CMD, "HASH must be the 64 hex digits of the pending version's contract hash");
  if (sub != NULL && strcmp(sub, "propose") == 0 && read_file(arg, CDR_CONTRACT_MAX_BYTES, &doc, &len) != 0)
    return 1;
  memset(&k, 0, sizeof(k));
  if (cli_connect_user(CMD, o, &k, NULL) != 0) {
    cdr_connection_close(&k);
    free(doc);
    return 1;
  }
  /* The profile's pins (the contract among them: no reading or signing
   * in a room rolled back past the pin) were checked by the connection
   * (client/pins.c), which also moved the pin along a signed chain. */
  if (sub == NULL || strcmp(sub, "sign") == 0)
    r = cdr_client_contract(k.client, k.session, 0, &res);
  if (r == 0 && sub != NULL && strcmp(sub, "sign") == 0) {
    json_decref(res);
    res = NULL;
    r = cdr_client_contract_sign(k.client, k.session, hash, &res);
  } else if (sub != NULL && strcmp(sub, "propose") == 0)
    r = cdr_client_contract_propose(k.client, k.session, doc, len, &res);
  if (r != 0) {
    cdr_client_error_text(k.client, r, text, sizeof(text));
    rc = cli_fail(CMD, "%s", text);
  } else if (json || sub != NULL) {
    char *s = json_dumps(res, JSON_COMPACT | JSON_SORT_KEYS);
    if (sub != NULL)
      printf("%s\n", json_is_true(json_object_get(res, "active")) ? "signed: the version is now active"
                     : strcmp(sub, "sign") == 0                 ? "signed"
                                                                : "proposed");
    if (s != NULL)
      printf("%s\n", s);
    free(s);
  } else {
    struct confirm_ctx ck;
    memset(&ck, 0, sizeof(ck));
    ck.profile = k.profile != NULL ? k.profile->name : NULL;
    if (k.client->spki != NULL && cdr_sha256(ck.own, k.client->spki, k.client->spki_len) == 0)
      confirm_marks = &ck;
    rc = show(res);
    confirm_marks = NULL;
  }
  cdr_connection_close(&k);
  json_decref(res);
  free(doc);
  return rc;
}

/* `cdr contract confirm NAME FINGERPRINT`: no connection needed. */
static int confirm(const char *profile, const char *name, const char *fphex) {
  uint8_t fp[32];
  char *def = NULL;
  int r;
  if (strlen(fphex) != 64 || cdr_hex_decode(fp, 32, fphex) != 0)
    return cli_usage(CMD, "FINGERPRINT must be 64 hex digits (the key fingerprint `cdr contract` shows)");
  if (profile == NULL && cdr_profile_default_get(&def) != 0)
    return cli_fail(CMD, "no profile: give --profile NAME (the confirmation is kept with the profile)");
  if ((r = cdr_confirmed_add(profile != NULL ? profile : def, fp, name)) != 0) {
    free(def);
    return cli_fail_err(CMD, r, "cannot record the confirmation");
  }
  printf("confirmed: %s has key %s (profile %s)\n", name, fphex, profile != NULL ? profile : def);
  free(def);
  return 0;
}

int cmd_contract(int argc, char **argv) {
  static const struct option opts[] = {CLI_CONNECT_LONGOPTS,
                                       {"format", required_argument, NULL, 'F'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  const char *sub = NULL;
  int ch, r, allow_sim = 0, json = 0;
  if (argc >= 2 && (strcmp(argv[1], "sign") == 0 || strcmp(argv[1], "propose") == 0 ||
                    strcmp(argv[1], "confirm") == 0)) {
    sub = argv[1];
    argc--;
    argv++;
  }
  memset(&o, 0, sizeof(o));
  while ((ch = cli_connect_getopt(argc, argv, CLI_CONNECT_SHORTOPTS "h", opts, &o, &allow_sim)) != -1) {
    switch (ch) {
    case 'h': help(); return 0;
    case 'F':
      if (strcmp(optarg, "json") != 0 && strcmp(optarg, "text") != 0)
        return cli_usage(CMD, "--format must be json or text");
      json = strcmp(optarg, "json") == 0;
      break;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (sub != NULL && strcmp(sub, "confirm") == 0) {
    if (argc - optind != 2)
      return cli_usage(CMD, "confirm expects NAME FINGERPRINT");
    return confirm(o.profile, argv[optind], argv[optind + 1]);
  }
  if ((r = cli_connect_finish(CMD, argc, argv, &optind, &o, allow_sim)) != 0)
    return r;
  if (sub == NULL && argc != optind)
    return cli_usage(CMD, "unexpected argument %s (sign HASH, propose FILE, or nothing)", argv[optind]);
  if (sub != NULL && argc - optind != 1)
    return cli_usage(CMD, "%s expects one %s", sub, strcmp(sub, "sign") == 0 ? "HASH" : "FILE");
  return run(sub, &o, sub != NULL ? argv[optind] : NULL, json);
}
