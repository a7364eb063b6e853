/*
 * cmd_enroll.c - `cdr enroll URL --key K --token TOKEN --out CERT`:
 * redeem an invitation (PROTOCOL 4.4) for a certificate from the room CA.
 *
 * The token's secret never leaves this process: the request carries a
 * CSR for our key with subject CN=<name from the token> and an HMAC of
 * the CSR under the secret (cdr_enroll_mac).  The answer is believed only
 * after: the CA certificate is a self-signed CA naming a room id; it has
 * the fingerprint carried in the token (which reached us out of band, so
 * it pins the CA; --ca-fingerprint, if given, must agree); the issued
 * certificate certifies OUR key, is for the token's name, carries a role
 * and verifies under that CA now.  Only then are the certificate, the CA
 * (beside it, as CERT-without-.crt + ".ca.crt") and a profile saved.
 * Existing files are never overwritten, and that is checked before the
 * token is spent.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client/client.h"
#include "client/connect.h"
#include "client/profile.h"
#include "common/util.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "room/room.h"

static const char *const CMD = "enroll";
#define TOKEN_MAX 1024

static void help(void) {
  printf("Usage: cdr enroll URL --key KEY --token TOKEN --out CERT\n"
         "                 [--profile NAME] [--ca-fingerprint HEX]\n\n"
         "Redeem an invitation token from the room administrator for a certificate\n"
         "issued by the room CA to KEY (made with `cdr keygen`).  The token's secret\n"
         "is never sent: the server gets a certificate request and a MAC made with it.\n\n"
         "Saves the certificate to CERT, the room CA certificate beside it (CERT\n"
         "without .crt/.pem, plus .ca.crt), and a profile with the URL, key,\n"
         "certificate, CA and room id, so that later commands need no URL or files.\n"
         "The first profile becomes the default.  Existing files are not overwritten.\n\n"
         "Options:\n"
         "  -k, --key KEY             private key file (EC P-256 or RSA 2048..4096)\n"
         "  -t, --token TOKEN         the token printed by `cdr room invite`\n"
         "                            (cdr1.<id>.<secret>.<name>.<CA fingerprint>); \"-\"\n"
         "                            reads it from standard input, which keeps it\n"
         "                            out of `ps`\n"
         "  -o, --out CERT            where to write your certificate (PEM)\n"
         "  -p, --profile NAME        profile name (default: the room name, made safe)\n"
         "  -f, --ca-fingerprint HEX  also check the room CA against this fingerprint\n"
         "                            (SHA-256 of the CA certificate, 64 hex digits,\n"
         "                            colons allowed); the token already carries one,\n"
         "                            and the server's CA must match it in any case\n"
         "  -h, --help                show this help\n\n"
         "Environment:\n"
         "  CDR_ENROLL_TOKEN  the token, when --token is not given\n"
         "  CDR_CONFIG_DIR    where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                    else ~/.config/cdr)\n");
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

/* A CSR for key with subject CN=name, signed with key (SHA-256): its DER
 * (for the MAC) and PEM (for the request). */
static int make_csr(EVP_PKEY *key, const char *name, uint8_t **der, size_t *der_len, char **pem) {
  X509_REQ *req = X509_REQ_new();
  X509_NAME *subj = X509_NAME_new();
  BIO *bio = BIO_new(BIO_s_mem());
  unsigned char *d = NULL;
  BUF_MEM *bm = NULL;
  int n, r = CDR_ERR_CRYPTO;

  *der = NULL;
  *pem = NULL;
  if (req == NULL || subj == NULL || bio == NULL)
    goto out;
  if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
      X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_UTF8, (const unsigned char *)name, -1, -1, 0) != 1 ||
      X509_REQ_set_subject_name(req, subj) != 1 || X509_REQ_set_pubkey(req, key) != 1 ||
      X509_REQ_sign(req, key, EVP_sha256()) <= 0)
    goto out;
  if ((n = i2d_X509_REQ(req, &d)) <= 0 || PEM_write_bio_X509_REQ(bio, req) != 1)
    goto out;
  BIO_get_mem_ptr(bio, &bm);
  r = CDR_ERR_NOMEM;
  if ((*pem = malloc(bm->length + 1)) == NULL)
    goto out;
  memcpy(*pem, bm->data, bm->length);
  (*pem)[bm->length] = '\0';
  *der = d;
  *der_len = (size_t)n;
  d = NULL;
  r = 0;
out:
  OPENSSL_free(d);
  BIO_free(bio);
  X509_NAME_free(subj);
  X509_REQ_free(req);
  ERR_clear_error();
  return r;
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

int cmd_enroll(int argc, char **argv) {
  static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                       {"token", required_argument, NULL, 't'},
                                       {"out", required_argument, NULL, 'o'},
                                       {"profile", required_argument, NULL, 'p'},
                                       {"ca-fingerprint", required_argument, NULL, 'f'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *url, *key_path = NULL, *token_arg = NULL, *out_path = NULL, *profile = NULL, *fp_arg = NULL;
  char *token = NULL, *name = NULL, *csr_pem = NULL, *mac_b64 = NULL, *body = NULL, *ca_path = NULL;
  char *cn = NULL, *pname = NULL, *room_name = NULL, *dflt = NULL;
  char token_id[33], room_hex[33], fpstr[96], text[1024], abs_key[PATH_MAX], abs_cert[PATH_MAX], abs_ca[PATH_MAX];
  uint8_t secret[32], mac[32], want_fp[32], token_fp[32], *csr_der = NULL;
  size_t csr_len = 0;
  EVP_PKEY *key = NULL;
  X509 *cert = NULL, *ca = NULL;
  struct cdr_client *c = NULL;
  json_t *req = NULL, *resp = NULL;
  const char *cert_pem, *ca_pem;
  enum cdr_role role = CDR_ROLE_NONE;
  struct stat st;
  char safe_name[256], safe_room[256];
  int made_default = 0, ch, r, rc = 1;

  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "k:t:o:p:f:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'k': key_path = optarg; break;
    case 't': token_arg = optarg; break;
    case 'o': out_path = optarg; break;
    case 'p': profile = optarg; break;
    case 'f': fp_arg = optarg; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected exactly one URL");
  url = argv[optind];
  if (!cdr_is_url(url))
    return cli_usage(CMD, "the URL must start with http:// or https://");
  if (token_arg == NULL)
    token_arg = getenv("CDR_ENROLL_TOKEN");
  if (key_path == NULL || out_path == NULL || token_arg == NULL)
    return cli_usage(CMD, "--key, --token and --out are required");
  if (profile != NULL && !cdr_profile_name_valid(profile))
    return cli_usage(CMD, "profile names are 1-64 characters of A-Z a-z 0-9 . _ - (not starting with .)");
  if (profile != NULL && cdr_profile_exists(profile))
    return cli_fail(CMD, "profile %s already exists; choose another --profile", profile);
  if (fp_arg != NULL && parse_fingerprint(fp_arg, want_fp) != 0)
    return cli_usage(CMD, "--ca-fingerprint must be 64 hex digits (colons allowed)");

  /* Everything that can fail locally fails before the token is spent. */
  if (lstat(out_path, &st) == 0)
    return cli_fail(CMD, "%s already exists; refusing to overwrite it", out_path);
  if ((ca_path = cdr_ca_path_beside(out_path)) == NULL)
    return cli_fail_err(CMD, CDR_ERR_NOMEM, "out of memory");
  if (lstat(ca_path, &st) == 0) {
    cli_fail(CMD, "%s already exists; remove it or choose another --out", ca_path);
    goto out;
  }
  if (!dir_writable(out_path)) {
    cli_fail(CMD, "cannot write into the directory of %s: %s", out_path, strerror(errno));
    goto out;
  }
  if ((r = cdr_key_load_pem(key_path, &key)) != 0) {
    cli_fail(CMD, "cannot read the private key %s: %s", key_path,
             r == CDR_ERR_NOT_FOUND ? "no such file" : "not an unencrypted PEM private key");
    goto out;
  }
  if (cdr_key_check_user_type(key) != 0) {
    cli_fail(CMD, "%s is not an EC P-256 or RSA 2048..4096 key", key_path);
    goto out;
  }
  if (strcmp(token_arg, "-") == 0) {
    if (read_token_stdin(&token) != 0) {
      cli_fail(CMD, "cannot read the token from standard input");
      goto out;
    }
  } else if ((token = strdup(token_arg)) == NULL) {
    goto out;
  }
  if (cdr_token_parse(token, token_id, secret, &name, token_fp) != 0) {
    cli_fail(CMD, "the enrollment token is malformed (expected cdr1.<id>.<secret>.<name>.<CA fingerprint>)");
    goto out;
  }
  /* The token came out of band and names the room CA: it is the pin. */
  if (fp_arg != NULL && !cdr_ct_equal(want_fp, token_fp, 32)) {
    cli_fail(CMD, "--ca-fingerprint differs from the CA fingerprint in the enrollment token; nothing was sent");
    goto out;
  }
  if ((r = make_csr(key, name, &csr_der, &csr_len, &csr_pem)) != 0) {
    cli_fail_err(CMD, r, "cannot make the certificate request");
    goto out;
  }
  if ((r = cdr_enroll_mac(mac, secret, token_id, csr_der, csr_len)) != 0 ||
      (r = cdr_b64_encode(&mac_b64, mac, sizeof(mac))) != 0) {
    cli_fail_err(CMD, r, "cannot compute the enrollment MAC");
    goto out;
  }
  if ((req = json_pack("{s:s, s:s, s:s}", "token_id", token_id, "csr", csr_pem, "mac", mac_b64)) == NULL ||
      (body = json_dumps(req, JSON_COMPACT)) == NULL) {
    cli_fail(CMD, "cannot build the request (is the name in the token valid UTF-8?)");
    goto out;
  }
  if ((r = cdr_client_new(&c, url)) != 0) {
    cli_fail(CMD, "invalid URL %s", url);
    goto out;
  }
  if ((r = cdr_http_json(c, "POST", "/v1/enroll", body, strlen(body), &resp)) != 0) {
    cdr_client_error_text(c, r, text, sizeof(text));
    cli_fail(CMD, "%s", text);
    goto out;
  }

  /* Judge the answer. */
  if ((cert_pem = cdr_json_string(resp, "certificate")) == NULL ||
      (ca_pem = cdr_json_string(resp, "ca_certificate")) == NULL ||
      cdr_cert_from_pem(&cert, cert_pem, strlen(cert_pem)) != 0 || cdr_cert_from_pem(&ca, ca_pem, strlen(ca_pem)) != 0) {
    cli_fail(CMD, "the server's answer does not hold a certificate and a CA certificate");
    goto out;
  }
  if ((r = cdr_client_set_ca(c, ca)) != 0) {
    cdr_client_error_text(c, r, text, sizeof(text));
    cli_fail(CMD, "the room CA certificate from the server is not acceptable: %s", text);
    goto out;
  }
  cdr_fingerprint_format(fpstr, c->ca_fp);
  cdr_hex_encode(room_hex, c->room_id, sizeof(c->room_id));
  if (!cdr_ct_equal(token_fp, c->ca_fp, 32)) {
    cli_fail(CMD, "ca_mismatch: the server's room CA has fingerprint %s, not the one in the enrollment token "
                  "(someone between you and the room may have swapped it); nothing was saved", fpstr);
    goto out;
  }
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
    cli_fail(CMD, "the issued certificate is not for your key; nothing was saved");
    goto out;
  }
  if ((r = cdr_cert_verify_user(ca, cert, cdr_now(), &role, &cn)) != 0) {
    cli_fail_err(CMD, r, "the issued certificate does not verify under the room CA; nothing was saved");
    goto out;
  }
  if (strcmp(cn, name) != 0) {
    cli_fail(CMD, "the issued certificate is for another name than the token's; nothing was saved");
    goto out;
  }

  /* Save the certificate, the CA, the profile. */
  if (write_cert(out_path, cert) != 0) {
    char *pem = NULL;
    cli_fail(CMD, "cannot write %s: %s (the token is spent: the certificate is printed below)", out_path,
             strerror(errno));
    if (cdr_cert_to_pem(cert, &pem) == 0)
      fputs(pem, stdout);
    free(pem);
    goto out;
  }
  if (write_cert(ca_path, ca) != 0) {
    cli_fail(CMD, "cannot write %s: %s (your certificate is in %s)", ca_path, strerror(errno), out_path);
    goto out;
  }
  if (realpath(key_path, abs_key) == NULL || realpath(out_path, abs_cert) == NULL ||
      realpath(ca_path, abs_ca) == NULL) {
    cli_fail(CMD, "cannot resolve file paths: %s", strerror(errno));
    goto out;
  }
  if ((pname = profile ? strdup(profile) : default_profile_name(ca, room_hex, name)) == NULL)
    goto out;
  {
    struct cdr_profile p = {pname, c->url, abs_key, abs_cert, abs_ca, room_hex};
    if ((r = cdr_profile_save(&p)) != 0) {
      cli_fail_err(CMD, r, "enrolled, but cannot save profile %s", pname);
      goto out;
    }
  }
  if (cdr_profile_default_get(&dflt) == CDR_ERR_NOT_FOUND) {
    if ((r = cdr_profile_default_set(pname)) != 0) {
      cli_fail_err(CMD, r, "enrolled, but cannot make profile %s the default", pname);
      goto out;
    }
    made_default = 1;
  }

  room_name = subject_text(ca, NID_organizationName);
  cdr_sanitize(safe_name, sizeof(safe_name), name);
  cdr_sanitize(safe_room, sizeof(safe_room), room_name ? room_name : "");
  printf("enrolled \"%s\" as %s in room \"%s\" (%s)\n", safe_name, cdr_role_name(role), safe_room, room_hex);
  printf("certificate:         %s\n", out_path);
  printf("room CA certificate: %s\n", ca_path);
  printf("room CA fingerprint: %s\n", fpstr);
  printf("                     (matches the enrollment token%s)\n", fp_arg != NULL ? " and --ca-fingerprint" : "");
  printf("profile:             %s%s\n", pname, made_default ? " (default)" : "");
  rc = 0;
out:
  if (token != NULL)
    OPENSSL_cleanse(token, strlen(token));
  free(token);
  OPENSSL_cleanse(secret, sizeof(secret));
  OPENSSL_cleanse(mac, sizeof(mac));
  free(name);
  free(csr_pem);
  OPENSSL_free(csr_der);
  free(mac_b64);
  free(body);
  free(ca_path);
  free(cn);
  free(pname);
  free(room_name);
  free(dflt);
  json_decref(req);
  json_decref(resp);
  X509_free(cert);
  X509_free(ca);
  EVP_PKEY_free(key);
  cdr_client_free(c);
  return rc;
}
