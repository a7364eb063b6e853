/*
 * cmd_serve.c - `cdr serve ROOM`: replace this process with the `cdrd`
 * that sits beside the `cdr` binary (same directory as /proc/self/exe),
 * passing the room folder, the listen address, the `cdr-enclave` beside
 * it, the ready file, the user to run as and the TLS options (checked
 * by cdrd, host/tls.h).  Running the sibling
 * binaries rather than whatever PATH finds keeps the three programs of
 * one build together.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char *const CMD = "serve";
/* --tls-name (cdrd takes up to 16), --tls-cert and --tls-key. */
#define CLI_SERVE_MAX_TLS_ARGS 18

static void help(void) {
  printf("Usage: cdr serve ROOM [--listen HOST:PORT] [--ready-file PATH] [--user NAME]\n"
         "                 [--tls-name NAME]... | [--tls-cert FILE --tls-key FILE] | [--insecure-http]\n\n"
         "Run the server of the room folder ROOM (made by `cdr room init`): starts\n"
         "cdrd, the untrusted HTTPS host, which starts cdr-enclave, the trusted side.\n"
         "Both are taken from the directory of this cdr binary.  Runs in the\n"
         "foreground until interrupted.\n\n"
         "TLS (1.2 and 1.3, AEAD ciphers only) is always on unless --insecure-http.\n"
         "By default the room CA issues the server certificate (through the token)\n"
         "for the --tls-name names, or for the --listen host; its key is a file,\n"
         "ROOM/tls/server.key (0600).  Members pin the room CA, so no public CA is\n"
         "needed.  It lasts 90 days; cdrd renews it when started within 30 days of\n"
         "its end and warns in its log meanwhile, so restart it (e.g. monthly).\n\n"
         "Options:\n"
         "  -l, --listen HOST:PORT  address to listen on (default: cdrd's own,\n"
         "                          127.0.0.1:8443)\n"
         "  -r, --ready-file PATH   file that cdrd writes once it accepts requests\n"
         "                          (for scripts that start a server)\n"
         "  -u, --user NAME         when run as root: the user the server runs as\n"
         "                          (default: the owner of ROOM; root is given up\n"
         "                          before the room is opened)\n"
         "      --tls-name NAME     a DNS name or IP address clients reach the server by\n"
         "                          (repeatable; needed when --listen is 0.0.0.0 or ::)\n"
         "      --tls-cert FILE     serve your own PEM certificate (chain) instead of\n"
         "      --tls-key FILE      one from the room CA, with its unencrypted PEM key\n"
         "                          (members then add --cacert FILE to `cdr enroll`)\n"
         "      --insecure-http     plain HTTP: only on a loopback --listen address\n"
         "                          (tests, or a TLS proxy in front)\n"
         "  -h, --help              show this help\n\n"
         "Environment:\n"
         "  CDR_HSM_PIN  the room CA token's user PIN; needed when the room does not\n"
         "               keep it in ROOM/hsm/user-pin (read by cdrd)\n");
}

int cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"ready-file", required_argument, NULL, 'r'},
                                       {"user", required_argument, NULL, 'u'},
                                       {"tls-name", required_argument, NULL, 'N'},
                                       {"tls-cert", required_argument, NULL, 'C'},
                                       {"tls-key", required_argument, NULL, 'K'},
                                       {"insecure-http", no_argument, NULL, 'I'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *listen = NULL, *ready = NULL, *user = NULL, *room;
  char *tls_args[2 * CLI_SERVE_MAX_TLS_ARGS];
  int insecure = 0;
  char self[PATH_MAX], cdrd[PATH_MAX + 16], enclave[PATH_MAX + 16];
  /* cdrd, 5 pairs, --insecure-http, the TLS pairs, NULL */
  char *args[16 + 2 * CLI_SERVE_MAX_TLS_ARGS];
  int tls_n = 0;
  ssize_t n;
  int ch, a = 0;

  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "l:r:u:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'l': listen = optarg; break;
    case 'r': ready = optarg; break;
    case 'u': user = optarg; break;
    case 'N': case 'C': case 'K':
      if (tls_n >= CLI_SERVE_MAX_TLS_ARGS)
        return cli_usage(CMD, "too many TLS options (at most %d)", CLI_SERVE_MAX_TLS_ARGS);
      tls_args[2 * tls_n] = (char *)(ch == 'N' ? "--tls-name" : ch == 'C' ? "--tls-cert" : "--tls-key");
      tls_args[2 * tls_n++ + 1] = optarg;
      break;
    case 'I': insecure = 1; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected exactly one ROOM folder");
  room = argv[optind];
  if (listen != NULL && strrchr(listen, ':') == NULL)
    return cli_usage(CMD, "--listen must be HOST:PORT");

  if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 || (size_t)n >= sizeof(self) - 1)
    return cli_fail(CMD, "cannot find the cdr executable: %s", strerror(errno));
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash == NULL)
    return cli_fail(CMD, "cannot find the directory of %s", self);
  *slash = '\0';
  snprintf(cdrd, sizeof(cdrd), "%s/cdrd", self);
  snprintf(enclave, sizeof(enclave), "%s/cdr-enclave", self);

  args[a++] = cdrd;
  args[a++] = (char *)"--room";
  args[a++] = (char *)room;
  if (listen != NULL) {
    args[a++] = (char *)"--listen";
    args[a++] = (char *)listen;
  }
  if (access(enclave, X_OK) == 0) {
    args[a++] = (char *)"--enclave";
    args[a++] = enclave;
  }
  if (ready != NULL) {
    args[a++] = (char *)"--ready-file";
    args[a++] = (char *)ready;
  }
  if (user != NULL) {
    args[a++] = (char *)"--user";
    args[a++] = (char *)user;
  }
  for (int i = 0; i < 2 * tls_n; i++)
    args[a++] = tls_args[i];
  if (insecure)
    args[a++] = (char *)"--insecure-http";
  args[a] = NULL;
  fflush(stdout);
  execv(cdrd, args);
  return cli_fail(CMD, "cannot run %s: %s", cdrd, strerror(errno));
}
