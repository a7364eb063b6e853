/*
 * cmd_console.c - `cdr console`: serve the web console on loopback and
 * relay its /v1 requests to the room (cli_console.h, docs/CONSOLE.md).
 *
 * The console's keys, attestation checks, sessions and plaintext all
 * live in the page; this process serves files and forwards envelopes.
 * It runs until SIGINT or SIGTERM.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "cli_console.h"
#include "client/client.h"
#include "client/profile.h"
#include "common/util.h"

static void help(void) {
  printf("Usage: cdr console [--profile NAME] [--listen 127.0.0.1:PORT] [--bundle DIR]\n"
         "  or:  cdr console --version\n"
         "Serve CDR's web console to this machine's browser, from this install.\n\n"
         "The console's files are served on a loopback address only, with a strict\n"
         "Content-Security-Policy (scripts, styles and connections from this origin\n"
         "only, no inline script).  The page makes and keeps your key (WebCrypto,\n"
         "not extractable), checks the room's attestation, and opens its own\n"
         "end-to-end session; this process only relays the page's /v1 requests to\n"
         "the room over TLS pinned to the room CA, and sees what the host sees.\n\n"
         "Options:\n"
         "  -p, --profile NAME  relay to this profile's room (its URL, its TLS trust);\n"
         "                      without it the page names the room once, from the\n"
         "                      invitation you paste to enroll\n"
         "  -l, --listen ADDR   127.0.0.0/8 address and port to listen on (default\n"
         "                      127.0.0.1:%d; the browser keeps your key per port,\n"
         "                      so use the same one each time; port 0: any free one)\n"
         "  -b, --bundle DIR    serve this folder instead of the installed console\n"
         "                      (default: ../share/cdr/console beside cdr, or\n"
         "                      $CDR_CONSOLE_DIR)\n"
         "  -r, --ready-file F  write the console's URL to F once it listens\n"
         "  -V, --version       print the bundle's SHA-256 (see docs/CONSOLE.md) and its\n"
         "                      folder, to compare with a build of the same commit\n"
         "  -h, --help          show this help\n\n"
         "Open the printed URL in a browser.  Stop with Ctrl-C.\n",
         CONSOLE_DEFAULT_PORT);
}

/* "A.B.C.D:PORT" with A = 127; 0, or -1. */
static int parse_listen(const char *s, uint32_t *addr, uint16_t *port) {
  char host[INET_ADDRSTRLEN];
  const char *colon = strrchr(s, ':');
  struct in_addr a;
  unsigned long p;
  char *end;
  if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
    return -1;
  memcpy(host, s, (size_t)(colon - s));
  host[colon - s] = '\0';
  if (inet_pton(AF_INET, host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
    return -1;
  p = strtoul(colon + 1, &end, 10);
  if (colon[1] == '\0' || *end != '\0' || p > 65535)
    return -1;
  *addr = ntohl(a.s_addr);
  *port = (uint16_t)p;
  return 0;
}

/* The relay's client for a profile: its URL, its room CA, its TLS CA. */
static int profile_target(const char *name, struct cdr_client **out) {
  struct cdr_profile *p = NULL;
  int r;
  *out = NULL;
  if ((r = cdr_profile_load(name, &p)) != 0)
    return cli_fail_err("console", r, "profile %s", name);
  if ((r = cdr_client_new(out, p->url)) != 0 || (r = cdr_client_set_ca_file(*out, p->ca)) != 0 ||
      (p->tls_cacert != NULL && (r = cdr_client_set_tls_cacert(*out, p->tls_cacert)) != 0)) {
    r = cli_fail_client("console", *out, r, "profile %s: cannot use its URL or CA", name);
    cdr_client_free(*out);
    *out = NULL;
  }
  cdr_profile_free(p);
  return r;
}

static int run(struct console_config *cfg, const char *ready_file) {
  struct console_server *srv = NULL;
  char why[512], url[64];
  uint16_t port = 0;
  sigset_t set;
  int sig = 0, r;

  /* Block the stop signals before the server's thread starts, so that
   * it inherits the mask and only sigwait below takes them. */
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if ((r = console_server_start(cfg, &srv, &port, why, sizeof(why))) != 0)
    return cli_fail_code("console", r, "%s", why);
  snprintf(url, sizeof(url), "http://%s:%u/", inet_ntoa((struct in_addr){htonl(cfg->listen_addr)}),
           (unsigned)port);
  printf("CDR console: %s\n", url);
  printf("bundle sha256 %s\n", cfg->bundle_sha256);
  fflush(stdout);
  if (ready_file != NULL && (r = cdr_file_write(ready_file, url, strlen(url), 0600, 0)) != 0) {
    console_server_stop(srv);
    return cli_fail_err("console", r, "cannot write %s", ready_file);
  }
  (void)sigwait(&set, &sig);
  console_server_stop(srv);
  return 0;
}

int cmd_console(int argc, char **argv) {
  static const struct option opts[] = {{"profile", required_argument, NULL, 'p'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"bundle", required_argument, NULL, 'b'},
                                       {"ready-file", required_argument, NULL, 'r'},
                                       {"version", no_argument, NULL, 'V'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *profile = NULL, *listen = NULL, *bundle_arg = NULL, *ready = NULL;
  struct console_config cfg;
  char hex[65], why[512];
  char *bundle = NULL;
  size_t nfiles = 0;
  int ch, version = 0, r;

  memset(&cfg, 0, sizeof(cfg));
  opterr = 0;
  while ((ch = getopt_long(argc, argv, "p:l:b:r:Vh", opts, NULL)) != -1) {
    switch (ch) {
    case 'p': profile = optarg; break;
    case 'l': listen = optarg; break;
    case 'b': bundle_arg = optarg; break;
    case 'r': ready = optarg; break;
    case 'V': version = 1; break;
    case 'h': help(); return 0;
    default: return cli_usage("console", "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind < argc)
    return cli_usage("console", "unexpected argument %s", argv[optind]);
  cfg.listen_addr = 0x7f000001u;
  cfg.port = CONSOLE_DEFAULT_PORT;
  if (listen != NULL && parse_listen(listen, &cfg.listen_addr, &cfg.port) != 0)
    return cli_usage("console", "--listen takes 127.x.y.z:PORT (a loopback address only)");
  if (console_bundle_find(bundle_arg, &bundle) != 0)
    return cli_fail_code("console", CDR_ERR_NOT_FOUND, "the console bundle %s is missing (--bundle DIR)",
                        bundle_arg ? bundle_arg : "beside cdr (share/cdr/console)");
  if ((r = console_bundle_hash(bundle, hex, &nfiles, why, sizeof(why))) != 0) {
    r = cli_fail_code("console", r, "%s", why);
    goto out;
  }
  if (version) {
    printf("%s  %s (%zu files)\n", hex, bundle, nfiles);
    r = 0;
    goto out;
  }
  if (profile != NULL && (r = profile_target(profile, &cfg.target)) != 0)
    goto out;
  cfg.bundle = bundle;
  cfg.bundle_sha256 = hex;
  cfg.profile = profile;
  r = run(&cfg, ready);
out:
  free(bundle);
  return r;
}
