/*
 * cmd_attest.c - `cdr attest [URL]`: verify a server's enclave the way
 * every other command does before its first request (fresh nonce,
 * evidence, platform certificate under the room CA, report_data binding,
 * optional measurement) and print what was attested.  It needs no user
 * key: anyone may check a room before enrolling.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client/connect.h"
#include "common/util.h"
#include "crypto/x509.h"

static const char *const CMD = "attest";

static void help(void) {
  printf("Usage: cdr attest [URL] [--expect-measurement HEX] [--allow-sim] [--ca FILE]\n"
         "                  [--profile NAME]\n\n"
         "Ask the server's enclave for attestation evidence bound to a fresh random\n"
         "nonce, verify it, and print the platform, the enclave measurement, the\n"
         "enclave identity key fingerprint (SHA-256 of its DER SubjectPublicKeyInfo)\n"
         "and the room id.\n\n"
         "The evidence must chain to the room CA.  Which CA: --ca FILE; else the CA of\n"
         "the profile whose URL is URL (or of --profile, or of the default profile when\n"
         "no URL is given); else the CA the server itself offers (GET /v1/room), which\n"
         "is then NOT pinned (trust on first use): compare its fingerprint with the\n"
         "one your room administrator printed at `cdr room init`.\n\n"
         "Options:\n"
         "  -m, --expect-measurement HEX  require this enclave measurement (64 hex\n"
         "                                digits: SHA-256 of the cdr-enclave binary)\n"
         "  -s, --allow-sim               accept simulated attestation (sim), which is\n"
         "                                not hardware-backed and proves nothing against\n"
         "                                the server operator\n"
         "  -c, --ca FILE                 the room CA certificate (PEM) to verify against\n"
         "  -p, --profile NAME            use this profile's URL and CA\n"
         "  -h, --help                    show this help\n\n"
         "Environment:\n"
         "  CDR_ALLOW_SIM   1 has the effect of --allow-sim\n"
         "  CDR_CONFIG_DIR  where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
         "                  else ~/.config/cdr)\n");
}

int cmd_attest(int argc, char **argv) {
  static const struct option opts[] = {{"expect-measurement", required_argument, NULL, 'm'},
                                       {"allow-sim", no_argument, NULL, 's'},
                                       {"ca", required_argument, NULL, 'c'},
                                       {"profile", required_argument, NULL, 'p'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct cdr_connect_opts o;
  struct cdr_connection k;
  char why[1024], meas[65], idfp[65], rid[33], cafp[96], when[32];
  int ch, allow_sim = 0, rc = 1;

  memset(&o, 0, sizeof(o));
  opterr = 0; /* our own one-line message instead of getopt's */
  while ((ch = getopt_long(argc, argv, "m:sc:p:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'm': o.expect_measurement = optarg; break;
    case 's': allow_sim = 1; break;
    case 'c': o.ca = optarg; break;
    case 'p': o.profile = optarg; break;
    case 'h': help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind > 1)
    return cli_usage(CMD, "expected at most one URL");
  if (argc - optind == 1) {
    o.url = argv[optind];
    if (!cdr_is_url(o.url))
      return cli_usage(CMD, "the URL must start with http:// or https://");
  }
  if (o.expect_measurement != NULL && strlen(o.expect_measurement) != 64)
    return cli_usage(CMD, "--expect-measurement must be 64 hex digits");
  o.allow_sim = cli_allow_sim(allow_sim);
  o.need_user = 0;
  o.open_session = 0;

  if (cdr_connect(&k, &o, why, sizeof(why)) != 0) {
    cli_fail(CMD, "%s", why);
    goto out;
  }
  cdr_hex_encode(meas, k.att.measurement, sizeof(k.att.measurement));
  cdr_hex_encode(idfp, k.att.identity_fp, sizeof(k.att.identity_fp));
  cdr_hex_encode(rid, k.client->room_id, sizeof(k.client->room_id));
  cdr_fingerprint_format(cafp, k.client->ca_fp);
  cdr_time_format(when, sizeof(when), (int64_t)k.att.timestamp);
  printf("attestation verified\n");
  printf("platform:     %s%s\n", k.att.platform,
         strcmp(k.att.platform, "sim") == 0 ? " (simulated: not hardware-backed)" : "");
  printf("measurement:  %s%s\n", meas, o.expect_measurement ? " (as expected)" : "");
  printf("identity key: %s\n", idfp);
  printf("room id:      %s\n", rid);
  printf("room CA:      %s\n", cafp);
  printf("              %s\n", k.ca_source);
  printf("evidence at:  %s\n", when);
  if (!k.ca_pinned)
    printf("warning: the room CA was not pinned (trust on first use); verify its fingerprint\n"
           "         with your room administrator\n");
  rc = 0;
out:
  cdr_connection_close(&k);
  return rc;
}
