/*
 * cmd_profile.c - `cdr profile list | use NAME | show [NAME]`: the
 * profiles `cdr enroll` saved (client/profile.h).
 *
 * Output contract: list prints one row per profile (name, URL, room id,
 * whether it is the default); show prints one profile's fields.  Neither
 * ever reads the private key: show gives the key's path and the key
 * fingerprint, the SHA-256 of the public key (SubjectPublicKeyInfo DER)
 * taken from the certificate, in hex as `cdr keygen` prints it (the form
 * the room contract names members by).  --format table|csv|json as every command that prints data.
 */
#include <getopt.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/profile.h"
#include "client/render.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"

static const char *const CMD = "profile";

static void help(void) {
  printf("Usage: cdr profile list [--format table|csv|json]\n"
         "  or:  cdr profile use NAME\n"
         "  or:  cdr profile show [NAME] [--format table|csv|json]\n\n"
         "The profiles that `cdr enroll` saves: one per room membership, each naming\n"
         "the room's URL, your key and certificate files, the room CA and room id.\n"
         "A command without URL or --profile uses the default profile.\n\n"
         "Commands:\n"
         "  list          every profile: name, URL, room id; \"*\" (json:\n"
         "                \"default\": true) marks the default\n"
         "  use NAME      make NAME the default profile\n"
         "  show [NAME]   one profile (default: the default profile): its URL, room\n"
         "                id, the paths of its key, certificate and room CA, the\n"
         "                key fingerprint (SHA-256 of the public key, from the\n"
         "                certificate) and the CA fingerprint.  The key file\n"
         "                itself is never read.\n\n"
         "Options:\n"
         "  -f, --format table|csv|json  output format (default table; text is another\n"
         "                               name for table)\n"
         "  -h, --help                   show this help\n\n"
         "Environment:\n"
         "  CDR_CONFIG_DIR  where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                  else ~/.config/cdr)\n");
}

/* A result-shaped object (render.h) holding rows, in the chosen format. */
static int print_rows(const char *cmd, enum cli_format format, json_t *res) {
  int r;
  if (format == CLI_FORMAT_CSV)
    r = cdr_render_csv(stdout, res);
  else if (format == CLI_FORMAT_JSON)
    r = cdr_render_json_value(stdout, json_object_get(res, "rows"), JSON_ENSURE_ASCII);
  else
    r = cdr_render_table(stdout, res);
  if (r != 0 || fflush(stdout) != 0)
    return cli_fail_code(cmd, CDR_ERR_IO, "cannot write the list");
  return 0;
}

static int profile_list(enum cli_format format) {
  char **names = NULL, *dflt = NULL;
  size_t n = 0, i;
  json_t *res = NULL, *rows;
  int r, rc;

  if ((r = cdr_profile_list(&names, &n)) != 0)
    return cli_fail_err(CMD, r, "cannot list the profiles");
  if (cdr_profile_default_get(&dflt) != 0)
    dflt = NULL;
  if (format == CLI_FORMAT_JSON)
    res = json_pack("{s:[], s:[]}", "columns", "rows");
  else
    res = json_pack("{s:[s,s,s,s], s:[]}", "columns", "default", "name", "url", "room_id", "rows");
  rc = res == NULL ? cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory") : 0;
  rows = json_object_get(res, "rows");
  for (i = 0; i < n && rc == 0; i++) {
    struct cdr_profile *p = NULL;
    int is_default = dflt != NULL && strcmp(dflt, names[i]) == 0;
    json_t *row;
    if ((r = cdr_profile_load(names[i], &p)) != 0) {
      cli_note("warning: profile %s cannot be read: %s\n", names[i], cdr_err_describe(r));
      continue;
    }
    if (format == CLI_FORMAT_JSON)
      row = json_pack("{s:s,s:s,s:s,s:b}", "name", p->name, "url", p->url, "room_id", p->room_id, "default",
                      is_default);
    else
      row = json_pack("[s,s,s,s]", is_default ? "*" : "", p->name, p->url, p->room_id);
    cdr_profile_free(p);
    if (row == NULL || json_array_append_new(rows, row) != 0)
      rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
  }
  if (rc == 0 && n == 0 && format == CLI_FORMAT_TABLE)
    printf("no profiles: `cdr enroll` saves one\n");
  else if (rc == 0)
    rc = print_rows(CMD, format, res);
  json_decref(res);
  for (i = 0; i < n; i++)
    free(names[i]);
  free(names);
  free(dflt);
  return rc;
}

/* The SHA-256 (hex) of the public key in the certificate at path, as
 * `cdr keygen` prints it, or why there is none. */
static void key_fingerprint(const char *cert_path, char *out, size_t outlen) {
  X509 *x = NULL;
  uint8_t *der = NULL, h[32];
  size_t len = 0;
  if (cdr_cert_load_pem(cert_path, &x) != 0) {
    snprintf(out, outlen, "(the certificate cannot be read)");
    return;
  }
  if (cdr_pubkey_to_der(X509_get0_pubkey(x), &der, &len) != 0 || cdr_sha256(h, der, len) != 0) {
    snprintf(out, outlen, "(the certificate holds no usable public key)");
  } else {
    cdr_hex_encode(out, h, sizeof(h)); /* outlen >= 65 (the caller's) */
  }
  OPENSSL_free(der);
  X509_free(x);
}

static void ca_fingerprint(const char *ca_path, char *out, size_t outlen) {
  X509 *x = NULL;
  uint8_t fp[32];
  char s[96];
  if (cdr_cert_load_pem(ca_path, &x) != 0 || cdr_cert_fingerprint(x, fp) != 0) {
    snprintf(out, outlen, "(the CA certificate cannot be read)");
  } else {
    cdr_fingerprint_format(s, fp);
    snprintf(out, outlen, "SHA-256 %s", s);
  }
  X509_free(x);
}

static int profile_show(const char *name, enum cli_format format) {
  struct cdr_profile *p = NULL;
  char *dflt = NULL, kfp[96], cfp[128];
  json_t *res;
  int r, rc;

  if ((r = cdr_profile_load(name, &p)) != 0) {
    if (r == CDR_ERR_NOT_FOUND)
      return name ? cli_fail_code(CMD, r, "no profile named %s (see `cdr profile list`)", name)
                  : cli_fail_code(CMD, r, "no default profile (run `cdr enroll`, or `cdr profile use NAME`)");
    return cli_fail_err(CMD, r, "cannot load profile %s", name ? name : "(default)");
  }
  if (cdr_profile_default_get(&dflt) != 0)
    dflt = NULL;
  key_fingerprint(p->cert, kfp, sizeof(kfp));
  ca_fingerprint(p->ca, cfp, sizeof(cfp));
  res = json_pack("{s:[s,s], s:[[s,s],[s,s],[s,s],[s,s],[s,s],[s,s],[s,s],[s,s],[s,s]]}", "columns", "field",
                  "value", "rows", "name", p->name, "default", dflt && strcmp(dflt, p->name) == 0 ? "yes" : "no",
                  "url", p->url, "room_id", p->room_id, "key", p->key, "key_fingerprint", kfp, "cert", p->cert, "ca",
                  p->ca, "ca_fingerprint", cfp);
  if (res == NULL) {
    rc = cli_fail_code(CMD, CDR_ERR_NOMEM, "out of memory");
  } else if (format == CLI_FORMAT_JSON) {
    json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", p->name, "default",
                          dflt && strcmp(dflt, p->name) == 0, "url", p->url, "room_id", p->room_id, "key", p->key,
                          "key_fingerprint", kfp, "cert", p->cert, "ca", p->ca, "ca_fingerprint", cfp);
    rc = o != NULL && cdr_render_json_value(stdout, o, JSON_ENSURE_ASCII) == 0 && fflush(stdout) == 0
             ? 0
             : cli_fail_code(CMD, CDR_ERR_IO, "cannot write the profile");
    json_decref(o);
  } else if (format == CLI_FORMAT_CSV) {
    rc = print_rows(CMD, format, res);
  } else {
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(res, "rows"), i, row)
      printf("%-16s %s\n", json_string_value(json_array_get(row, 0)), json_string_value(json_array_get(row, 1)));
    rc = fflush(stdout) == 0 ? 0 : cli_fail_code(CMD, CDR_ERR_IO, "cannot write the profile");
  }
  json_decref(res);
  cdr_profile_free(p);
  free(dflt);
  return rc;
}

static int profile_use(const char *name) {
  int r;
  if (!cdr_profile_name_valid(name) || !cdr_profile_exists(name))
    return cli_fail_code(CMD, CDR_ERR_NOT_FOUND, "no profile named %s (see `cdr profile list`)", name);
  if ((r = cdr_profile_default_set(name)) != 0)
    return cli_fail_err(CMD, r, "cannot make %s the default profile", name);
  printf("default profile: %s\n", name);
  return 0;
}

int cmd_profile(int argc, char **argv) {
  enum cli_format format;
  const char *sub;
  int r, helped;

  if ((r = cli_format_options(CMD, argc, argv, &format, help, &helped)) != 0 || helped)
    return r;
  if (optind >= argc)
    return cli_usage(CMD, "missing command: list, use or show");
  sub = argv[optind++];
  if (strcmp(sub, "list") == 0) {
    if (optind != argc)
      return cli_usage(CMD, "list takes no argument");
    return profile_list(format);
  }
  if (strcmp(sub, "use") == 0) {
    if (argc - optind != 1)
      return cli_usage(CMD, "use takes one profile NAME");
    return profile_use(argv[optind]);
  }
  if (strcmp(sub, "show") == 0) {
    if (argc - optind > 1)
      return cli_usage(CMD, "show takes at most one profile NAME");
    return profile_show(optind < argc ? argv[optind] : NULL, format);
  }
  return cli_usage(CMD, "unknown command '%s' (list, use or show)", sub);
}
