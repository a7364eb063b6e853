/*
 * cmd_keygen.c - `cdr keygen FILE [--type ec|rsa] [--bits N]`: make a
 * user private key (EC P-256 by default, or RSA 2048..4096), write it as
 * unencrypted PKCS#8 PEM with mode 0600, never over an existing file,
 * and print the public key fingerprint (SHA-256 of the DER
 * SubjectPublicKeyInfo, hex) that the certificate will carry.
 */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "common/util.h"
#include "crypto/crypto.h"

static const char *const CMD = "keygen";

static void help(void) {
  printf("Usage: cdr keygen FILE [--type ec|rsa] [--bits N]\n\n"
         "Make a private key for `cdr enroll` and write it to FILE (PEM, mode 0600).\n"
         "FILE must not exist: an existing key is never overwritten.\n"
         "Prints the fingerprint of the public key: SHA-256 of its DER\n"
         "SubjectPublicKeyInfo, in hex.\n\n"
         "Options:\n"
         "  -t, --type ec|rsa  key type: ec is ECDSA on P-256 (default), rsa is RSA\n"
         "                     with RSASSA-PSS signatures\n"
         "  -b, --bits N       RSA modulus size, 2048 to 4096 (default 3072); only\n"
         "                     with --type rsa\n"
         "  -h, --help         show this help\n\n"
         "Environment: none.  The key is not encrypted: keep FILE private.\n");
}

int cmd_keygen(int argc, char **argv) {
  static const struct option opts[] = {
      {"type", required_argument, NULL, 't'}, {"bits", required_argument, NULL, 'b'},
      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  const char *type = "ec", *bits_s = NULL, *path;
  EVP_PKEY *key = NULL;
  uint8_t *spki = NULL, fp[32];
  size_t spki_len = 0;
  char hex[65];
  long bits = 0;
  struct stat st;
  int ch, r, rc = 1;

  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "t:b:h", opts, NULL)) != -1) {
    switch (ch) {
    case 't': type = optarg; break;
    case 'b': bits_s = optarg; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected exactly one FILE");
  path = argv[optind];
  if (strcmp(type, "ec") != 0 && strcmp(type, "rsa") != 0)
    return cli_usage(CMD, "--type must be ec or rsa");
  if (bits_s != NULL) {
    char *end = NULL;
    if (strcmp(type, "rsa") != 0)
      return cli_usage(CMD, "--bits applies to RSA keys only");
    errno = 0;
    bits = strtol(bits_s, &end, 10);
    if (errno != 0 || end == bits_s || *end != '\0' || bits < 2048 || bits > 4096)
      return cli_usage(CMD, "--bits must be a number from 2048 to 4096");
  } else if (strcmp(type, "rsa") == 0) {
    bits = 3072;
  }
  if (lstat(path, &st) == 0)
    return cli_fail_code(CMD, CDR_ERR_IO, "%s already exists; refusing to overwrite it", path);

  if ((r = cdr_key_generate(&key, type, (int)bits)) != 0) {
    cli_fail_err(CMD, r, "cannot generate the key");
    goto out;
  }
  errno = 0;
  if ((r = cdr_key_save_pem(path, key)) != 0) {
    rc = cli_fail_code(CMD, CDR_ERR_IO, "cannot write %s: %s", path, errno ? strerror(errno) : cdr_err_describe(r));
    goto out;
  }
  if ((r = cdr_pubkey_to_der(key, &spki, &spki_len)) != 0 || (r = cdr_sha256(fp, spki, spki_len)) != 0) {
    cli_fail_err(CMD, r, "cannot compute the public key fingerprint");
    goto out;
  }
  cdr_hex_encode(hex, fp, sizeof(fp));
  if (strcmp(type, "ec") == 0)
    printf("wrote %s (EC P-256 private key, mode 0600)\n", path);
  else
    printf("wrote %s (RSA %ld private key, mode 0600)\n", path, bits);
  printf("public key fingerprint (SHA-256 of SubjectPublicKeyInfo): %s\n", hex);
  rc = 0;
out:
  OPENSSL_free(spki);
  EVP_PKEY_free(key);
  return rc;
}
