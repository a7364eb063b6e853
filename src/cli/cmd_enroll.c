/*
 * cmd_enroll.c - `cdr enroll BUNDLE --key K` or `cdr enroll URL --key K
 * --token TOKEN`: redeem an invitation (PROTOCOL 4.4) for a certificate
 * from the room CA.
 *
 * TLS: with a bundle (client/invite.h) the connection is pinned to the
 * bundle's CA from the first byte, and the bundle's CA must be the one
 * its token names; with URL and token, --cacert FILE, else the room CA
 * fetched once without verification and kept only if it has the token's
 * fingerprint (cdr_client_tls_bootstrap), before the MAC is sent.
 *
 * This file parses the options, reads and parses the token, does every
 * local check before the token is spent, and saves and prints the
 * result; the protocol (the CSR, the MAC, the request and every check of
 * the answer) is cdr_client_enroll's (client/enroll.c).  The token came
 * out of band, so the CA fingerprint in it pins the room CA;
 * --ca-fingerprint, if given, must agree with it before anything is
 * sent.  Only after cdr_client_enroll believes the answer are the
 * certificate, the CA (beside it, as CERT-without-.crt + ".ca.crt") and
 * a profile saved.  Existing files are never overwritten, and that is
 * checked before the token is spent.
 *
 * The key may live elsewhere (crypto/userkey.h): an encrypted PEM file
 * (--pass), a PKCS#11 token (--key pkcs11:..., --pin), or, with --csr,
 * anywhere at all: the CSR was made by other tooling for a key this
 * process never sees, and --key only says where later commands will
 * find it.  When that key can be reached now, the CSR must be for it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client/client.h"
#include "client/connect.h"
#include "client/invite.h"
#include "client/profile.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/userkey.h"
#include "crypto/x509.h"
#include "room/room.h"

static const char *const CMD = "enroll";
#define TOKEN_MAX 1024

static void help(void) {
  printf("Usage: cdr enroll BUNDLE --key KEY [--out CERT] [--profile NAME]\n"
         "                  [--csr CSR] [--pass SRC] [--pin SRC] [--allow-sim]\n"
         "       cdr enroll URL --key KEY --token TOKEN [--out CERT] [--profile NAME]\n"
         "                  [--ca-fingerprint HEX] [--cacert FILE]\n"
         "                  [--csr CSR] [--pass SRC] [--pin SRC]\n\n"
         "Redeem an invitation from the room administrator for a certificate\n"
         "issued by the room CA to KEY (made with `cdr keygen`, or kept elsewhere:\n"
         "see below).  BUNDLE is the one line `cdr room invite --url URL` prints\n"
         "(cdr-invite-1:...; \"-\" reads it from standard input, which keeps it\n"
         "out of `ps`): it carries the URL, the\n"
         "token, the room CA (TLS is pinned to it) and the room's attestation\n"
         "platform, measurement and active contract hash.  With a bundle the server is\n"
         "attested before the token is spent, and must show that measurement and that\n"
         "contract (invite_contract_mismatch otherwise); the profile keeps them and\n"
         "every later command requires them, or a contract that follows from them\n"
         "through properly signed versions.  Everything in a bundle is the operator's\n"
         "word: confirm the CA fingerprint and the contract hash with a member you\n"
         "already know.  The token's secret is never sent: the server gets a certificate\n"
         "request and a MAC made with it.\n\n"
         "Saves the certificate to CERT, the room CA certificate beside it (CERT\n"
         "without .crt/.pem, plus .ca.crt), and a profile with the URL, key,\n"
         "certificate, CA and room id, so that later commands need no URL or files.\n"
         "The first profile becomes the default.  Existing files are not overwritten.\n\n"
         "Keys kept elsewhere:\n"
         "  A passphrase-protected PEM key works with --pass (no terminal needed).\n"
         "  A key in a PKCS#11 token (smart card, HSM, SoftHSM2) is named by an\n"
         "  RFC 7512 URI, e.g. --key \"pkcs11:token=alice;object=cdr;type=private\";\n"
         "  the CSR is then signed in the token, and so is everything later.\n"
         "  With --csr, the certificate request is one made elsewhere (openssl req,\n"
         "  an organization's own tooling) for a key cdr never sees; its subject must\n"
         "  be CN=<the name in the token>.  --key then names where the key will be\n"
         "  for later commands: a pkcs11: URI, or a PEM file (which need not exist\n"
         "  yet: the profile records its absolute path, and every later command needs\n"
         "  the key there).  When KEY exists now, the CSR must be for its key (a\n"
         "  token's public key needs no PIN; an encrypted file needs --pass).\n"
         "  The profile keeps KEY, never a passphrase or PIN: give --pass or --pin to\n"
         "  each later command (or put pin-source=file:PATH in the URI); a pin-value\n"
         "  in the URI is left out of the profile.\n\n"
         "Options:\n"
         "  -k, --key KEY             the private key: a PEM file (EC P-256 or RSA\n"
         "                            2048..4096) or a pkcs11: URI (query attributes\n"
         "                            module-path=, pin-source=file:PATH taken)\n"
         "  -o, --out CERT            where to write your certificate (PEM; default:\n"
         "                            KEY without .key/.pem, plus .crt; required with\n"
         "                            a pkcs11: key)\n"
         "      --cacert FILE         the server's TLS certificate is from this CA (an\n"
         "                            operator's own certificate, not the room CA's);\n"
         "                            kept in the profile\n"
         "  -t, --token TOKEN         the token printed by `cdr room invite`\n"
         "                            (cdr1.<id>.<secret>.<name>.<CA fingerprint>); \"-\"\n"
         "                            reads it from standard input, which keeps it\n"
         "                            out of `ps`\n"
         "      --csr CSR             send this PKCS#10 request (PEM or DER) instead of\n"
         "                            making one with KEY\n"
         "      --pass SRC            KEY's passphrase: env:VAR or file:PATH (first line)\n"
         "      --pin SRC             the token's user PIN: env:VAR or file:PATH\n"
         "  -p, --profile NAME        profile name (default: the room name, made safe)\n"
         "  -f, --ca-fingerprint HEX  also check the room CA against this fingerprint\n"
         "                            (SHA-256 of the CA certificate, 64 hex digits,\n"
         "                            colons allowed); the token already carries one,\n"
         "                            and the server's CA must match it in any case\n"
         "  -s, --allow-sim           with a bundle: accept simulated attestation (sim),\n"
         "                            which proves nothing against the operator\n"
         "  -h, --help                show this help\n\n"
         "Environment:\n"
         "  CDR_ALLOW_SIM        1 has the effect of --allow-sim\n"
         "  CDR_ENROLL_TOKEN     the token, when --token is not given\n"
         "  CDR_CONFIG_DIR       where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                       else ~/.config/cdr)\n"
         "  PKCS11_MODULE_PATH   the PKCS#11 module, when the URI has no module-path\n"
         "                       (default: p11-kit's proxy, every module it knows)\n");
}

/* 64 hex digits, colons and case ignored. */
static int parse_fingerprint(const char *s, uint8_t out[32]) {
  char hex[65];
  size_t n = 0;
  for (; *s; s++) {
    if (*s == ':' || *s == ' ')
      continue;
    if (n >= 64)
      return CDR_ERR_ARG;
    hex[n++] = *s;
  }
  hex[n] = '\0';
  return n == 64 ? cdr_hex_decode(out, 32, hex) : CDR_ERR_ARG;
}

/* The first line of standard input (the token), malloc'd. */
static int read_token_stdin(char **out) {
  char *buf = malloc(TOKEN_MAX + 2);
  if (buf == NULL)
    return CDR_ERR_NOMEM;
  if (fgets(buf, TOKEN_MAX + 2, stdin) == NULL) {
    free(buf);
    return CDR_ERR_ARG;
  }
  buf[strcspn(buf, "\r\n")] = '\0';
  *out = buf;
  return 0;
}

/* Can a new file be created beside path? (sets errno when not) */
static int dir_writable(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[PATH_MAX];
  if (slash == NULL)
    return access(".", W_OK | X_OK) == 0;
  if ((size_t)(slash - path) >= sizeof(dir)) {
    errno = ENAMETOOLONG;
    return 0;
  }
  memcpy(dir, path, (size_t)(slash - path));
  dir[slash - path] = '\0';
  return access(slash == path ? "/" : dir, W_OK | X_OK) == 0;
}

/* Write x as PEM to a new file (mode 0644: certificates are public). */
static int write_cert(const char *path, X509 *x) {
  char *pem = NULL;
  int r;
  if ((r = cdr_cert_to_pem(x, &pem)) != 0)
    return r;
  r = cdr_file_write(path, pem, strlen(pem), 0644, 1);
  free(pem);
  return r;
}

/* A single subject entry of the CA as text, or NULL. */
static char *subject_text(X509 *x, int nid) {
  X509_NAME *n = X509_get_subject_name(x);
  int idx = X509_NAME_get_index_by_NID(n, nid, -1);
  unsigned char *u = NULL;
  char *s = NULL;
  int len;
  if (idx < 0 || (len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, idx)))) < 0)
    return NULL;
  if ((s = malloc((size_t)len + 1)) != NULL) {
    memcpy(s, u, (size_t)len);
    s[len] = '\0';
  }
  OPENSSL_free(u);
  return s;
}

/* Keep [A-Za-z0-9._-] of s, other runs become one '-', at most max. */
static void name_part(char *out, size_t max, const char *s) {
  size_t n = 0;
  for (const char *p = s; p != NULL && *p && n < max; p++) {
    char ch = *p;
    int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
             ch == '_' || ch == '-';
    if (!ok && (n == 0 || out[n - 1] == '-'))
      continue;
    out[n++] = ok ? ch : '-';
  }
  while (n > 0 && out[n - 1] == '-')
    n--;
  out[n] = '\0';
}

/* An unused profile name: the room name made safe (else the room id),
 * then with "-<user name>", then with a number. */
static char *default_profile_name(X509 *ca, const char *room_hex, const char *user) {
  char *room = subject_text(ca, NID_organizationName);
  char base[33], who[24], name[CDR_PROFILE_NAME_MAX + 1];
  name_part(base, 32, room);
  free(room);
  if (!cdr_profile_name_valid(base))
    snprintf(base, sizeof(base), "%s", room_hex);
  if (!cdr_profile_exists(base))
    return strdup(base);
  name_part(who, sizeof(who) - 1, user);
  snprintf(name, sizeof(name), "%s-%s", base, who);
  if (who[0] != '\0' && cdr_profile_name_valid(name) && !cdr_profile_exists(name))
    return strdup(name);
  for (int i = 2; i < 1000; i++) {
    snprintf(name, sizeof(name), "%s-%d", base, i);
    if (!cdr_profile_exists(name))
      return strdup(name);
  }
  return NULL;
}

/* The command line, checked. */
struct enroll_opts {
  const char *url, *key_path, *token_arg, *out_path, *profile, *fp_arg, *cacert;
  const char *csr_path, *pass, *pin; /* --csr, --pass, --pin, or NULL */
  uint8_t want_fp[32]; /* --ca-fingerprint, when fp_arg is set */
  const char *bundle_arg; /* BUNDLE (or "-") instead of URL and --token */
  struct cdr_invite inv;  /* the bundle, parsed */
  char *default_out;      /* KEY's stem + ".crt" when --out is not given */
  int allow_sim;          /* --allow-sim */
  uint64_t contract_version; /* with a bundle: the contract the attestation */
  uint8_t contract_sha256[32]; /* bound, pinned in the new profile */
};

/* The bundle argument ("-": the first line of standard input) into
 * o->inv, o->url and o->token_arg.  0, or 1 when it has printed why not. */
static int enroll_bundle(struct enroll_opts *o, int *rc) {
  char why[256], *line = NULL;
  const char *text = o->bundle_arg;
  int r;

  if (o->token_arg != NULL || o->fp_arg != NULL) {
    *rc = cli_usage(CMD, "a bundle carries the token and the CA: no --token or --ca-fingerprint with it");
    return 1;
  }
  if (strcmp(text, "-") == 0) {
    if ((line = malloc(CDR_INVITE_MAX + 2)) == NULL || fgets(line, CDR_INVITE_MAX + 2, stdin) == NULL) {
      free(line);
      *rc = cli_fail(CMD, "cannot read the invitation bundle from standard input");
      return 1;
    }
    line[strcspn(line, "\r\n")] = '\0';
    text = line;
  }
  r = cdr_invite_parse(text, &o->inv, why, sizeof(why));
  if (line != NULL)
    OPENSSL_clear_free(line, CDR_INVITE_MAX + 2);
  if (r != 0) {
    *rc = cli_fail(CMD, "%s: %s: %s", cdr_err_code(r), cdr_err_describe(r), why);
    return 1;
  }
  o->url = o->inv.url;
  o->token_arg = o->inv.token;
  return 0;
}

/* KEY without .key or .pem, plus .crt (malloc'd). */
static char *default_cert_path(const char *key) {
  size_t n = strlen(key), stem = n;
  char *out;
  if (n >= 4 && (strcmp(key + n - 4, ".key") == 0 || strcmp(key + n - 4, ".pem") == 0))
    stem = n - 4;
  if ((out = malloc(stem + sizeof(".crt"))) == NULL)
    return NULL;
  memcpy(out, key, stem);
  memcpy(out + stem, ".crt", sizeof(".crt"));
  return out;
}

/* Parse and check the command line into *o.  1 with *rc set when the
 * command is over (help: 0; usage: 2; failure: 1), else 0. */
static int enroll_options(int argc, char **argv, struct enroll_opts *o, int *rc) {
  static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                       {"token", required_argument, NULL, 't'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"profile", required_argument, NULL, 'p'},
                                       {"ca-fingerprint", required_argument, NULL, 'f'},
                                       {"cacert", required_argument, NULL, CLI_OPT_CACERT},
                                       {"csr", required_argument, NULL, 'r'},
                                       {"pass", required_argument, NULL, 'P'},
                                       {"pin", required_argument, NULL, 'N'},
                                       {"allow-sim", no_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int ch;

  *rc = 2;
  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "k:t:o:p:f:sh", opts, NULL)) != -1) {
    switch (ch) {
    case 'k': o->key_path = optarg; break;
    case 't': o->token_arg = optarg; break;
    case 'o': o->out_path = optarg; break;
    case 'p': o->profile = optarg; break;
    case 'f': o->fp_arg = optarg; break;
    case CLI_OPT_CACERT: o->cacert = optarg; break;
    case 'r': o->csr_path = optarg; break;
    case 'P': o->pass = optarg; break;
    case 'N': o->pin = optarg; break;
    case 's': o->allow_sim = 1; break;
    case 'h': help(); *rc = 0; return 1;
    default: cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]); return 1;
    }
  }
  if (argc - optind != 1) {
    cli_usage(CMD, "expected exactly one invitation bundle or URL");
    return 1;
  }
  if (cdr_invite_is_bundle(argv[optind]) || strcmp(argv[optind], "-") == 0) {
    o->bundle_arg = argv[optind];
    if (enroll_bundle(o, rc))
      return 1;
  } else {
    o->url = argv[optind];
    if (!cdr_is_url(o->url)) {
      cli_usage(CMD, "expected an invitation bundle (cdr-invite-1:...) or a URL (https://...)");
      return 1;
    }
  }
  if (o->token_arg == NULL)
    o->token_arg = getenv("CDR_ENROLL_TOKEN");
  if (o->key_path == NULL || o->token_arg == NULL) {
    cli_usage(CMD, o->key_path == NULL ? "--key is required" : "--token is required with a URL (or give a bundle)");
    return 1;
  }
  if (o->out_path == NULL && cdr_key_ref_is_pkcs11(o->key_path)) {
    cli_usage(CMD, "--out is required with a pkcs11: key");
    return 1;
  }
  if (o->out_path == NULL && (o->out_path = o->default_out = default_cert_path(o->key_path)) == NULL)
    return 1;
  if (o->profile != NULL && !cdr_profile_name_valid(o->profile)) {
    cli_usage(CMD, "profile names are 1-64 characters of A-Z a-z 0-9 . _ - (not starting with .)");
    return 1;
  }
  if (o->profile != NULL && cdr_profile_exists(o->profile)) {
    *rc = cli_fail(CMD, "profile %s already exists; choose another --profile", o->profile);
    return 1;
  }
  if (o->fp_arg != NULL && parse_fingerprint(o->fp_arg, o->want_fp) != 0) {
    cli_usage(CMD, "--ca-fingerprint must be 64 hex digits (colons allowed)");
    return 1;
  }
  return 0;
}

/* Read the token (from --token, $CDR_ENROLL_TOKEN or standard input) and
 * parse it into *tok; *token (the text) and *name (tok->name) are the
 * caller's to wipe and free.  0, or 1 when it has printed why not. */
static int enroll_token(const struct enroll_opts *o, char **token, char **name, struct cdr_enroll_token *tok) {
  if (strcmp(o->token_arg, "-") == 0) {
    if (read_token_stdin(token) != 0)
      return cli_fail(CMD, "cannot read the token from standard input");
  } else if ((*token = strdup(o->token_arg)) == NULL) {
    return 1;
  }
  if (cdr_token_parse(*token, tok->token_id, tok->secret, name, tok->ca_fp) != 0)
    return cli_fail(CMD, "the enrollment token is malformed (expected cdr1.<id>.<secret>.<name>.<CA fingerprint>)");
  tok->name = *name;
  if (o->bundle_arg != NULL && !cdr_ct_equal(o->inv.ca_fp, tok->ca_fp, 32))
    return cli_fail(CMD, "invite_invalid: the bundle's room CA is not the one its token names; nothing was sent");
  /* The token came out of band and names the room CA: it is the pin. */
  if (o->fp_arg != NULL && !cdr_ct_equal(o->want_fp, tok->ca_fp, 32))
    return cli_fail(CMD, "--ca-fingerprint differs from the CA fingerprint in the enrollment token; nothing was sent");
  return 0;
}

/* Print why cdr_client_enroll failed at step with r; returns the exit
 * status (cli.h). */
static int enroll_fail(struct cdr_client *c, int r, enum cdr_enroll_step step) {
  char text[1024], fpstr[96];
  switch (step) {
  case CDR_ENROLL_CSR: return cli_fail_err(CMD, r, "cannot make the certificate request");
  case CDR_ENROLL_MAC: return cli_fail_err(CMD, r, "cannot compute the enrollment MAC");
  case CDR_ENROLL_BODY: return cli_fail(CMD, "cannot build the request (is the name in the token valid UTF-8?)");
  case CDR_ENROLL_ANSWER: return cli_fail_code(CMD, CDR_ERR_SERVER, "the server's answer does not hold a certificate and a CA certificate");
  case CDR_ENROLL_CA:
    cdr_client_error_text(c, r, text, sizeof(text));
    return cli_fail_code(CMD, r, "the room CA certificate from the server is not acceptable: %s", text);
  case CDR_ENROLL_PIN:
    cdr_fingerprint_format(fpstr, c->ca_fp);
    return cli_fail_code(CMD, CDR_ERR_CA_MISMATCH, "ca_mismatch: the server's room CA has fingerprint %s, not the one in the enrollment token "
                         "(someone between you and the room may have swapped it); nothing was saved", fpstr);
  case CDR_ENROLL_KEY: return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the issued certificate is not for your key; nothing was saved");
  case CDR_ENROLL_VERIFY:
    return cli_fail_err(CMD, r, "the issued certificate does not verify under the room CA; nothing was saved");
  case CDR_ENROLL_NAME:
    return cli_fail_code(CMD, CDR_ERR_RESPONSE_FORGED, "the issued certificate is for another name than the token's; nothing was saved");
  case CDR_ENROLL_SEND:
  default:
    return cli_fail_client(CMD, c, r, NULL);
  }
}

/* KEY as it may be shown and kept: a pkcs11: URI without its pin-value
 * (*dropped_pin), a file's absolute path (it need not exist yet with
 * --csr).  malloc'd, or NULL when it is not well formed (printed). */
static char *key_ref_kept(const char *ref, int *dropped_pin) {
  char abs[PATH_MAX], cwd[PATH_MAX], *out = NULL;
  *dropped_pin = 0;
  if (cdr_key_ref_is_pkcs11(ref)) {
    if (cdr_key_ref_for_profile(ref, &out, dropped_pin) != 0)
      cli_fail(CMD, "--key: the pkcs11: URI is malformed (query attributes are NAME=VALUE joined by &)");
    return out;
  }
  if (realpath(ref, abs) != NULL)
    return strdup(abs);
  if (ref[0] == '/')
    return strdup(ref);
  if (getcwd(cwd, sizeof(cwd)) == NULL || (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, ref) >= sizeof(abs)) {
    cli_fail(CMD, "cannot resolve the path %s", ref);
    return NULL;
  }
  return strdup(abs);
}

/* Print why the key at shown (KEY, its PIN left out) cannot be used:
 * the code, then a sentence.  Returns 1. */
static int key_fail(const char *shown, int pkcs11, int r) {
  const char *why = r == CDR_ERR_NOT_FOUND ? "no such file"
                    : r != CDR_ERR_ARG     ? cdr_err_describe(r)
                    : pkcs11               ? "a malformed pkcs11: URI (query attributes are NAME=VALUE joined by &)"
                                           : "not a PEM private key";
  return cli_fail_code(CMD, r, "%s: cannot use the private key %s: %s", cdr_err_code(r), shown, why);
}

/* The key, before the token is spent.  Without --csr: loaded into *key
 * (it signs the CSR).  With --csr: the CSR read into *csr and, when KEY
 * can be reached now (a pkcs11: key's public half needs no PIN), checked
 * to be for KEY's public key.  0, or 1 when it has printed why not. */
static int enroll_key(const struct enroll_opts *o, struct cdr_client *c, const char *shown, EVP_PKEY **key,
                      X509_REQ **csr) {
  struct cdr_key_source src = {o->key_path, o->pass, o->pin};
  int pkcs11 = cdr_key_ref_is_pkcs11(o->key_path), r;
  EVP_PKEY *pub = NULL;

  if (o->csr_path == NULL) {
    if ((r = cdr_user_key_load(&src, key)) != 0)
      return key_fail(shown, pkcs11, r);
    if (cdr_key_check_user_type(*key) != 0)
      return cli_fail_code(CMD, CDR_ERR_KEY_UNSUPPORTED, "%s is not an EC P-256 or RSA 2048..4096 key", shown);
    return 0;
  }
  if ((r = cdr_enroll_csr_read(o->csr_path, csr)) != 0)
    return cli_fail(CMD, "cannot read the CSR %s: %s", o->csr_path,
                    r == CDR_ERR_NOT_FOUND ? "no such file"
                    : r == CDR_ERR_TOO_LARGE ? "larger than a CSR can be"
                                             : "not a PKCS#10 certificate request (PEM or DER)");
  r = cdr_user_key_load_public(&src, &pub);
  if (r == CDR_ERR_NOT_FOUND && !pkcs11 && access(o->key_path, F_OK) != 0) {
    fprintf(stderr, "note: %s does not exist yet: the CSR is not checked against it, and later commands need "
                    "the key there\n", shown);
    return 0;
  }
  if (r != 0)
    return key_fail(shown, pkcs11, r);
  r = cdr_enroll_csr_key_check(c, *csr, pub);
  EVP_PKEY_free(pub);
  if (r != 0)
    return cli_fail_code(CMD, r, "%s: the CSR %s is for another public key than %s; nothing was sent", cdr_err_code(r),
                    o->csr_path, shown);
  return 0;
}

/* Save the certificate, the CA beside it and the profile (made the
 * default when there is none: *made_default).  *pname is the profile's
 * name (malloc'd).  0, or 1 when it has printed why not. */
static int enroll_save(const struct enroll_opts *o, const char *key_ref, const char *ca_path, struct cdr_client *c,
                       X509 *cert, const char *name, char *room_hex, char **pname, int *made_default) {
  char abs_cert[PATH_MAX], abs_ca[PATH_MAX], abs_tls[PATH_MAX], *dflt = NULL;
  int r;

  if (write_cert(o->out_path, cert) != 0) {
    char *pem = NULL;
    cli_fail(CMD, "cannot write %s: %s (the token is spent: the certificate is printed below)", o->out_path,
             strerror(errno));
    if (cdr_cert_to_pem(cert, &pem) == 0)
      fputs(pem, stdout);
    free(pem);
    return 1;
  }
  if (write_cert(ca_path, c->ca) != 0)
    return cli_fail(CMD, "cannot write %s: %s (your certificate is in %s)", ca_path, strerror(errno), o->out_path);
  if (realpath(o->out_path, abs_cert) == NULL || realpath(ca_path, abs_ca) == NULL ||
      (o->cacert != NULL && realpath(o->cacert, abs_tls) == NULL))
    return cli_fail(CMD, "cannot resolve file paths: %s", strerror(errno));
  if ((*pname = o->profile ? strdup(o->profile) : default_profile_name(c->ca, room_hex, name)) == NULL)
    return 1;
  {
    char ca_hex[65];
    cdr_hex_encode(ca_hex, c->ca_fp, sizeof(c->ca_fp)); /* the CA pin, checked by every later command */
    struct cdr_profile p = {*pname, c->url, (char *)key_ref, abs_cert, abs_ca, room_hex, o->cacert ? abs_tls : NULL,
                            o->bundle_arg ? (char *)o->inv.platform : NULL,
                            o->bundle_arg ? (char *)o->inv.measurement : NULL, ca_hex};
    if ((r = cdr_profile_save(&p)) != 0)
      return cli_fail_err(CMD, r, "enrolled, but cannot save profile %s", *pname);
  }
  r = 0;
  if (cdr_profile_default_get(&dflt) == CDR_ERR_NOT_FOUND) {
    if ((r = cdr_profile_default_set(*pname)) != 0)
      cli_fail_err(CMD, r, "enrolled, but cannot make profile %s the default", *pname);
    else
      *made_default = 1;
  }
  free(dflt);
  return r != 0;
}

/* What TLS trusts before the token is spent (see the top of the file).
 * 0, or the exit status when it has printed why not. */
static int enroll_trust(const struct enroll_opts *o, struct cdr_client *c, const struct cdr_enroll_token *tok) {
  char text[1024];
  int r;

  if (o->cacert != NULL && (r = cdr_client_set_tls_cacert(c, o->cacert)) != 0)
    return cli_fail_code(CMD, r, "cannot read --cacert %s", o->cacert);
  if (o->bundle_arg != NULL)
    r = cdr_client_set_ca(c, o->inv.ca);
  else
    r = cdr_client_tls_bootstrap(c, tok->ca_fp);
  if (r == 0)
    return 0;
  cdr_client_error_text(c, r, text, sizeof(text));
  return cli_fail_client(CMD, c, r, "%s; nothing was sent", text);
}

/* With a bundle, before the token is spent: attest the server under the
 * bundle's CA with its measurement required, and require the contract
 * hash the evidence binds (PROTOCOL 4.5) to be the bundle's.  0, or the
 * exit status when it has printed why not. */
static int enroll_attest(struct enroll_opts *o, struct cdr_client *c) {
  struct cdr_attestation att;
  char text[1024], got[65], want[65];
  int r, rc = 0;

  cdr_client_allow_sim(c, cli_allow_sim(o->allow_sim));
  if ((r = cdr_client_expect_measurement(c, o->inv.measurement)) != 0 || (r = cdr_client_attest(c, &att)) != 0) {
    cdr_client_error_text(c, r, text, sizeof(text));
    return cli_fail_client(CMD, c, r, "attestation failed: %s; nothing was sent", text);
  }
  cdr_hex_encode(got, att.contract_sha256, sizeof(att.contract_sha256));
  cdr_hex_encode(want, o->inv.contract_sha256, sizeof(o->inv.contract_sha256));
  if (strcmp(att.platform, o->inv.platform) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_PLATFORM_UNPINNED, "%s: the room attests platform %s, the invitation says %s; nothing was sent",
                       cdr_err_code(CDR_ERR_PLATFORM_UNPINNED), att.platform, o->inv.platform);
  } else if (!o->inv.has_contract) {
    if (!cdr_client_quiet())
      fprintf(stderr, "note: the invitation names no contract hash (made by an older cdr); the room's enclave runs "
                      "under contract version %llu (%s): confirm it with a member you already know\n",
              (unsigned long long)att.contract_version, got);
  } else if (att.contract_version != o->inv.contract_version ||
             !cdr_ct_equal(att.contract_sha256, o->inv.contract_sha256, 32)) {
    rc = cli_fail_code(CMD, CDR_ERR_INVITE_CONTRACT_MISMATCH,
                       "%s: the room's enclave runs under contract version %llu (%s), the invitation names version "
                       "%llu (%s); nothing was sent: ask for a new invitation, and confirm the contract hash with a "
                       "member you already know",
                       cdr_err_code(CDR_ERR_INVITE_CONTRACT_MISMATCH), (unsigned long long)att.contract_version, got,
                       (unsigned long long)o->inv.contract_version, want);
  }
  o->contract_version = att.contract_version;
  memcpy(o->contract_sha256, att.contract_sha256, sizeof(o->contract_sha256));
  cdr_attestation_clear(&att);
  return rc;
}

int cmd_enroll(int argc, char **argv) {
  struct enroll_opts o = {0};
  struct cdr_enroll_token tok;
  enum cdr_enroll_step step = 0;
  enum cdr_role role = CDR_ROLE_NONE;
  char *token = NULL, *name = NULL, *ca_path = NULL, *pname = NULL, *room_name = NULL, *key_ref = NULL;
  char room_hex[33], fpstr[96], safe_name[256], safe_room[256];
  EVP_PKEY *key = NULL;
  X509_REQ *csr = NULL;
  X509 *cert = NULL;
  struct cdr_client *c = NULL;
  struct stat st;
  int made_default = 0, dropped_pin = 0, r, rc = 1;

  memset(&tok, 0, sizeof(tok));
  if (enroll_options(argc, argv, &o, &rc))
    goto out;
  rc = 1;
  /* Everything that can fail locally fails before the token is spent. */
  if (lstat(o.out_path, &st) == 0) {
    cli_fail(CMD, "%s already exists; refusing to overwrite it", o.out_path);
    goto out;
  }
  if ((ca_path = cdr_ca_path_beside(o.out_path)) == NULL) {
    cli_fail_err(CMD, CDR_ERR_NOMEM, "out of memory");
    goto out;
  }
  if (lstat(ca_path, &st) == 0) {
    cli_fail(CMD, "%s already exists; remove it or choose another --out", ca_path);
    goto out;
  }
  if (!dir_writable(o.out_path)) {
    cli_fail(CMD, "cannot write into the directory of %s: %s", o.out_path, strerror(errno));
    goto out;
  }
  if ((r = cdr_client_new(&c, o.url)) != 0) {
    if (r == CDR_ERR_INSECURE_URL)
      rc = cli_fail_code(CMD, r, "%s: %s: %s", cdr_err_code(r), cdr_err_describe(r), o.url);
    else
      rc = cli_usage(CMD, "invalid URL %s", o.url);
    goto out;
  }
  if ((key_ref = key_ref_kept(o.key_path, &dropped_pin)) == NULL || (rc = enroll_key(&o, c, key_ref, &key, &csr)) != 0)
    goto out;
  if ((rc = enroll_token(&o, &token, &name, &tok)) != 0)
    goto out;
  if ((rc = enroll_trust(&o, c, &tok)) != 0 || (o.bundle_arg != NULL && (rc = enroll_attest(&o, c)) != 0))
    goto out;
  rc = 1;
  if (csr != NULL && (r = cdr_enroll_csr_check(c, csr, name)) != 0) {
    rc = cli_fail_code(CMD, r, "%s: the CSR %s cannot be used: %s; nothing was sent", cdr_err_code(r), o.csr_path,
                       c->detail);
    goto out;
  }
  r = csr != NULL ? cdr_client_enroll_csr(c, csr, &tok, &cert, &role, &step)
                  : cdr_client_enroll(c, key, &tok, &cert, &role, &step);
  if (r != 0) {
    rc = enroll_fail(c, r, step);
    goto out;
  }
  cdr_fingerprint_format(fpstr, c->ca_fp);
  cdr_hex_encode(room_hex, c->room_id, sizeof(c->room_id));
  if (enroll_save(&o, key_ref, ca_path, c, cert, name, room_hex, &pname, &made_default) != 0)
    goto out;
  if (o.contract_version > 0 && (r = cdr_contract_pin_save(pname, o.contract_version, o.contract_sha256)) != 0) {
    cli_fail_err(CMD, r, "enrolled, but cannot pin the contract in profile %s", pname);
    goto out;
  }

  room_name = subject_text(c->ca, NID_organizationName);
  cdr_sanitize(safe_name, sizeof(safe_name), name);
  cdr_sanitize(safe_room, sizeof(safe_room), room_name ? room_name : "");
  printf("enrolled \"%s\" as %s in room \"%s\" (%s)\n", safe_name, cdr_role_name(role), safe_room, room_hex);
  printf("certificate:         %s\n", o.out_path);
  printf("room CA certificate: %s\n", ca_path);
  printf("room CA fingerprint: %s\n", fpstr);
  printf("                     (matches the enrollment token%s)\n", o.fp_arg != NULL ? " and --ca-fingerprint" : "");
  printf("profile:             %s%s\n", pname, made_default ? " (default)" : "");
  if (dropped_pin)
    printf("note: the profile keeps the key's URI without its pin-value: give --pin (or pin-source) later\n");
  rc = 0;
out:
  if (token != NULL)
    OPENSSL_cleanse(token, strlen(token));
  free(token);
  OPENSSL_cleanse(&tok, sizeof(tok));
  free(name);
  free(ca_path);
  free(pname);
  free(room_name);
  free(o.default_out);
  cdr_invite_clear(&o.inv);
  free(key_ref);
  X509_free(cert);
  X509_REQ_free(csr);
  EVP_PKEY_free(key);
  cdr_client_free(c);
  return rc;
}
