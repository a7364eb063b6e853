/*
 * cmd_room_revoke.c - `cdr room revoke ROOM --name NAME | --serial HEX`:
 * revoke certificates and publish a new CRL signed by the room CA through
 * the PKCS#11 token (src/room/crl.c).  A running server picks the CRL up
 * within a second: the enclave verifies it, ends the revoked users' open
 * sessions at once and refuses their new ones.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "room/room.h"

#define CMD "room revoke"

static void revoke_help(void) {
  printf("Usage: cdr room revoke ROOM (--name NAME | --serial HEX)\n"
         "\n"
         "Revoke every certificate the room issued to NAME, or the one with\n"
         "serial number HEX, and write a new certificate revocation list,\n"
         "signed by the room CA in the PKCS#11 token, to ROOM/crl.pem.\n"
         "\n"
         "A running server (cdr serve) delivers the new list to the enclave\n"
         "within a second: the revoked users' open sessions end at once and\n"
         "their new sessions are refused (cert_revoked).  The list survives\n"
         "restarts, and the enclave refuses any list older than one it has\n"
         "accepted.\n"
         "\n"
         "Options:\n"
         "  --name NAME     the user name the certificates were issued to\n"
         "  --serial HEX    one certificate's serial number (hex)\n"
         "  -h, --help      show this help\n"
         "\n"
         "Environment:\n"
         "  CDR_HSM_PIN     the token PIN (see 'cdr room --help')\n");
}

int cmd_room_revoke(int argc, char **argv) {
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"serial", required_argument, NULL, 's'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *name = NULL, *serial = NULL;
  struct cdr_room *room = NULL;
  uint64_t number = 0;
  int ch, r, revoked = 0;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (ch) {
    case 'n': name = optarg; break;
    case 's': serial = optarg; break;
    case 'h': revoke_help(); return 0;
    default: return cli_usage(CMD, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  if (argc - optind != 1)
    return cli_usage(CMD, "expected ROOM");
  if ((name == NULL) == (serial == NULL))
    return cli_usage(CMD, "give exactly one of --name and --serial");
  if ((r = cdr_room_open(argv[optind], &room)) != 0)
    return cli_fail_err(CMD, r, "cannot open the room %s", argv[optind]);
  r = cdr_room_revoke(room, name, serial, &revoked, &number);
  cdr_room_free(room);
  if (r == CDR_ERR_NOT_FOUND)
    return cli_fail(CMD, "the room issued no certificate %s %s", name ? "to" : "with serial", name ? name : serial);
  if (r != 0)
    return cli_fail_err(CMD, r, "revocation failed");
  printf("revoked %d certificate%s; CRL number %" PRIu64 " written to %s/crl.pem\n", revoked, revoked == 1 ? "" : "s",
         number, argv[optind]);
  return 0;
}
