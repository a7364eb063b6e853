/*
 * cmd_room.c - `cdr room init` and `cdr room invite`: the administrator's
 * commands that create a room folder and hand out enrollment tokens (and
 * the dispatch of `cdr room revoke` and `cdr room invites`).
 *
 * Output contract (scripts depend on it):
 *   init    prints the room id, the CA certificate's path and SHA-256
 *           fingerprint, and whether a token PIN was generated (and
 *           where it is stored).  It never prints a PIN.
 *   invite  prints the token alone on the last line of stdout, or with
 *           --url the invitation bundle (client/invite.h); the lines
 *           before it describe the invitation.
 * The token string (and the bundle) is wiped from memory after it is
 * printed.
 */
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/invite.h"
#include "common/limits.h"
#include "common/util.h"
#include "crypto/x509.h"
#include "room/room.h"

static void room_help(void) {
  printf("Usage: cdr room <command> ROOM [options]\n"
         "\n"
         "Administer a data room.  ROOM is the room's folder.\n"
         "\n"
         "Commands:\n"
         "  init ROOM     create a room: its CA (key held in a PKCS#11 token),\n"
         "                certificates, host database and room.json\n"
         "  invite ROOM   create a one-time enrollment token for a new user; with\n"
         "                --url URL, one invitation line (URL, token, room CA,\n"
         "                attested platform and measurement) for `cdr enroll`\n"
         "  invites ROOM  list the open invitations; --cancel ID|NAME ends one\n"
         "  members ROOM  list the issued certificates, their keys and where each\n"
         "                stands in the room contract (active, pending, none)\n"
         "  revoke ROOM   revoke a user's certificates and publish a new CRL\n"
         "  backup ROOM DEST     a consistent copy of the room, also while it runs\n"
         "  restore BACKUP ROOM  a backup back into a room folder (a rollback)\n"
         "  propose ROOM  draft the next version of the room contract for its\n"
         "                members to sign ('cdr room propose --help')\n"
         "  limits ROOM   set the room's limits: query time, memory, result size\n"
         "                ('cdr room limits --help')\n"
         "\n"
         "Run 'cdr room init --help' or 'cdr room invite --help' for details.\n"
         "\n"
         "Environment:\n"
         "  CDR_HSM_PIN   user PIN of the PKCS#11 token that holds the room CA key.\n"
         "                Optional for the embedded SoftHSM2 token (a random PIN is\n"
         "                generated and kept in ROOM/hsm/user-pin, mode 0600);\n"
         "                required for an external token.  Never printed.\n");
}

static void init_help(void) {
  printf("Usage: cdr room init ROOM [--name NAME] [--ca-ttl DURATION]\n"
         "                         [--pkcs11-module PATH --token-label LABEL]\n"
         "                         [--attestation sim|snp|tdx|nitro|auto]\n"
         "\n"
         "Create the room folder ROOM.  ROOM must not exist or must be an empty\n"
         "directory; its parent must exist.  It receives:\n"
         "  room.json                      room id, name, token and key labels (no secrets)\n"
         "  ca.crt                         the room CA certificate (self-signed)\n"
         "  host.db                        enrollment tokens (mode 0600)\n"
         "  attestation/sim-platform.key   simulated attestation key (mode 0600),\n"
         "  attestation/sim-platform.crt   its certificate, issued by the room CA,\n"
         "  attestation/sim-sealing.secret and the sim sealing secret: sim rooms only\n"
         "  hsm/                           the embedded SoftHSM2 token (default)\n"
         "\n"
         "The CA key pair (EC P-256) is generated inside the PKCS#11 token as a\n"
         "sensitive, non-extractable key: no file ever holds it, and every\n"
         "certificate is signed by the token.\n"
         "\n"
         "By default the token is an embedded SoftHSM2 token stored under ROOM/hsm\n"
         "(module " CDR_SOFTHSM_MODULE ").  Its security officer PIN\n"
         "is random and discarded.  Its user PIN is CDR_HSM_PIN when that is set\n"
         "(then cdrd needs the same CDR_HSM_PIN); otherwise a random PIN is\n"
         "generated and stored in ROOM/hsm/user-pin (mode 0600), where cdrd reads\n"
         "it.  Protect ROOM/hsm like the key it is.\n"
         "\n"
         "Options:\n"
         "  --name NAME            human name of the room, used as O= in certificates\n"
         "                         (default \"CDR room <id prefix>\"); 1-%u bytes of\n"
         "                         printable UTF-8 without , = + \" \\ < > ; /\n"
         "  --ca-ttl DURATION      validity of the CA certificate (default 3650d)\n"
         "  --pkcs11-module PATH   use an existing token through this PKCS#11 module\n"
         "                         (absolute path) instead of the embedded SoftHSM2\n"
         "  --token-label LABEL    label of that token (required with --pkcs11-module).\n"
         "                         The token must already be initialised with a user\n"
         "                         PIN, and CDR_HSM_PIN must hold that PIN.\n"
         "  --attestation P        how the enclave proves itself to clients (default sim):\n"
         "                         sim    simulated, for development: proves nothing\n"
         "                                against the server operator\n"
         "                         snp    AMD SEV-SNP confidential VM (configfs-tsm)\n"
         "                         tdx    Intel TDX confidential VM (configfs-tsm)\n"
         "                         nitro  AWS Nitro enclave (/dev/nsm)\n"
         "                         auto   whichever of snp, tdx, nitro the server has\n"
         "                         tdx and nitro have no sealing key: such a room\n"
         "                         keeps nothing across enclave restarts.\n"
         "                         See docs/ATTESTATION.md.\n"
         "  -h, --help             show this help\n"
         "\n"
         "Durations: 90s, 15m, 72h, 30d, or plain seconds.\n"
         "\n"
         "Environment:\n"
         "  CDR_HSM_PIN   the token's user PIN (see above).  Never printed.\n",
         CDR_MAX_NAME_LEN);
}

static void invite_help(void) {
  printf("Usage: cdr room invite ROOM --role ROLE --name NAME [--ttl DURATION]\n"
         "                           [--cert-ttl DURATION] [--url URL [--cacert FILE]\n"
         "                           [--expect-measurement HEX]]\n"
         "\n"
         "Create a one-time enrollment token for the user NAME with role ROLE.\n"
         "With --url, the last line of standard output is one invitation bundle\n"
         "(cdr-invite-1:..., docs/PROTOCOL.md 4.4.1) carrying the URL, the token,\n"
         "the room CA and the platform and measurement the server at URL attests\n"
         "(checked now, as a member would); the user runs only\n"
         "'cdr enroll BUNDLE --key KEY'.  Without --url the token alone is the last\n"
         "line.  Either is a secret: give it to the user over a trusted channel.\n"
         "The user runs 'cdr enroll' with it; the server then checks the token, and issues a\n"
         "certificate with subject CN=NAME and role=ROLE for the key in the\n"
         "user's request, whose subject CN must be NAME.  A token works once,\n"
         "and only until it expires.\n"
         "\n"
         "Options:\n"
         "  --role ROLE           analyst, provider or auditor (required)\n"
         "  --name NAME           the user's name (required): 1-%u bytes of printable\n"
         "                        UTF-8 without , = + \" \\ < > ; / and without leading\n"
         "                        or trailing spaces\n"
         "  --ttl DURATION        how long the token can be redeemed (default 72h,\n"
         "                        at most 366d)\n"
         "  --cert-ttl DURATION   validity of the user's certificate (default 365d;\n"
         "                        never beyond the CA certificate's expiry)\n"
         "  --url URL             the room's server as members reach it (https://...):\n"
         "                        print an invitation bundle\n"
         "  --cacert FILE         the server's TLS certificate is from this CA, not\n"
         "                        the room CA (cdr serve --tls-cert)\n"
         "  --expect-measurement HEX  refuse unless the server attests this measurement\n"
         "  -h, --help            show this help\n"
         "\n"
         "The operator chose everything in a bundle: a newcomer should confirm the\n"
         "room CA fingerprint (and the contract) with a member they already know.\n"
         "Durations: 90s, 15m, 72h, 30d, or plain seconds.\n"
         "The token is stored in ROOM/host.db; this command does not use the HSM.\n",
         CDR_MAX_NAME_LEN);
}

static int room_init(int argc, char **argv) {
  static const char *cmd = "room init";
  static const struct option longopts[] = {
      {"name", required_argument, NULL, 'n'},
      {"ca-ttl", required_argument, NULL, 'c'},
      {"pkcs11-module", required_argument, NULL, 'm'},
      {"token-label", required_argument, NULL, 'l'},
      {"attestation", required_argument, NULL, 'a'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct cdr_room_init_opts opts = {0};
  struct cdr_room *room = NULL;
  const char *dir = NULL;
  int64_t ca_ttl = 0;
  int c, pin_generated = 0, r;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'n':
      opts.name = optarg;
      break;
    case 'c':
      if (cdr_parse_duration(optarg, &ca_ttl) != 0 || ca_ttl < 86400)
        return cli_usage(cmd, "--ca-ttl: '%s' is not a duration of at least one day", optarg);
      break;
    case 'm':
      opts.pkcs11_module = optarg;
      break;
    case 'l':
      opts.token_label = optarg;
      break;
    case 'a':
      if (!cdr_room_attestation_ok(optarg))
        return cli_usage(cmd, "--attestation must be sim, snp, tdx, nitro or auto");
      opts.attestation = optarg;
      break;
    case 'h':
      init_help();
      return 0;
    default:
      return cli_usage(cmd, "unknown option or missing argument: '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage(cmd, optind >= argc ? "missing ROOM" : "too many arguments");
  dir = argv[optind];
  if ((opts.pkcs11_module == NULL) != (opts.token_label == NULL))
    return cli_usage(cmd, "--pkcs11-module and --token-label go together");
  if (ca_ttl > 0) {
    opts.ca_validity_days = (ca_ttl + 86399) / 86400;
    if (opts.ca_validity_days > 36500)
      return cli_usage(cmd, "--ca-ttl: at most 36500d");
  }

  if ((r = cdr_room_init(dir, &opts, &room, &pin_generated)) != 0)
    return cli_fail_err(cmd, r, "cannot create the room in %s", dir);

  uint8_t fp[32];
  char fps[96];
  if ((r = cdr_cert_fingerprint(room->ca_cert, fp)) != 0) {
    cdr_room_free(room);
    return cli_fail_err(cmd, r, "cannot fingerprint the CA certificate");
  }
  cdr_fingerprint_format(fps, fp);
  printf("Room created in %s\n", room->dir);
  printf("  room id:         %s\n", room->room_id);
  printf("  name:            %s\n", room->name);
  printf("  CA certificate:  %s/ca.crt\n", room->dir);
  printf("  CA fingerprint:  SHA-256 %s\n", fps);
  printf("  CA key:          \"%s\" in PKCS#11 token \"%s\" (%s), non-extractable\n", room->ca_key_label,
         room->token_label, room->embedded_softhsm ? "embedded SoftHSM2" : room->pkcs11_module);
  if (pin_generated)
    printf("  token user PIN:  generated and stored at %s/hsm/user-pin (mode 0600)\n", room->dir);
  else
    printf("  token user PIN:  the value of CDR_HSM_PIN (not stored; cdrd needs it too)\n");
  printf("  attestation:     %s%s\n", room->attestation,
         strcmp(room->attestation, "sim") == 0 ? " (simulated: not hardware-backed)" : "");
  if (strcmp(room->attestation, "auto") != 0 && !cdr_platform_keeps_state(room->attestation))
    printf("warning: %s offers no sealing key, so this room keeps nothing across enclave restarts:\n"
           "         each start is a new identity and an empty room (see docs/ATTESTATION.md, \"Sealing\")\n",
           room->attestation);
  printf("Publish the CA fingerprint to the room's users so that they can check it.\n");
  cdr_room_free(room);
  return 0;
}

static int room_invite(int argc, char **argv) {
  static const char *cmd = "room invite";
  static const struct option longopts[] = {
      {"role", required_argument, NULL, 'r'},
      {"name", required_argument, NULL, 'n'},
      {"ttl", required_argument, NULL, 't'},
      {"cert-ttl", required_argument, NULL, 'c'},
      {"url", required_argument, NULL, 'u'},
      {"cacert", required_argument, NULL, 'A'},
      {"expect-measurement", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct cdr_room *room = NULL;
  struct cdr_token_info info = {0};
  struct cli_invite_opts bo = {0};
  struct cdr_invite inv = {0};
  const char *name = NULL, *role_name = NULL;
  char *token = NULL;
  int64_t ttl = 72 * 3600, cert_ttl = 365 * 86400;
  enum cdr_role role;
  int c, r, rc;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (c) {
    case 'r':
      role_name = optarg;
      break;
    case 'n':
      name = optarg;
      break;
    case 't':
      if (cdr_parse_duration(optarg, &ttl) != 0 || ttl <= 0 || ttl > 366 * 86400)
        return cli_usage(cmd, "--ttl: '%s' is not a duration between 1s and 366d", optarg);
      break;
    case 'c':
      if (cdr_parse_duration(optarg, &cert_ttl) != 0 || cert_ttl <= 0 || cert_ttl > (int64_t)100 * 365 * 86400)
        return cli_usage(cmd, "--cert-ttl: '%s' is not a duration between 1s and 36500d", optarg);
      break;
    case 'u': bo.url = optarg; break;
    case 'A': bo.cacert = optarg; break;
    case 'm': bo.expect_measurement = optarg; break;
    case 'h':
      invite_help();
      return 0;
    default:
      return cli_usage(cmd, "unknown option or missing argument: '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return cli_usage(cmd, optind >= argc ? "missing ROOM" : "too many arguments");
  if (role_name == NULL)
    return cli_usage(cmd, "--role is required (analyst, provider or auditor)");
  if ((role = cdr_role_from_name(role_name)) == CDR_ROLE_NONE)
    return cli_usage(cmd, "--role: '%s' is not analyst, provider or auditor", role_name);
  if (name == NULL)
    return cli_usage(cmd, "--name is required");

  if ((bo.cacert != NULL || bo.expect_measurement != NULL) && bo.url == NULL)
    return cli_usage(cmd, "--cacert and --expect-measurement go with --url");

  if ((r = cdr_room_open(argv[optind], &room)) != 0)
    return cli_fail_err(cmd, r, "%s is not a usable room", argv[optind]);
  /* The server is attested before a token exists: a failure spends nothing. */
  if (bo.url != NULL && (rc = cli_invite_attest(cmd, room, &bo, &inv)) != 0)
    goto out;
  r = cdr_token_create(room, name, role, ttl, cert_ttl, &token, &info);
  if (r == CDR_ERR_ARG) {
    rc = cli_fail(cmd, "invalid name '%s': use 1-%u bytes of printable UTF-8 without , = + \" \\ < > ; / "
                       "and without leading or trailing spaces",
                  name, CDR_MAX_NAME_LEN);
    goto out;
  }
  if (r != 0) {
    rc = cli_fail_err(cmd, r, "cannot create the token");
    goto out;
  }
  char expires[32];
  cdr_time_format(expires, sizeof(expires), info.expires_at);
  printf("Invitation to room \"%s\" (%s)\n", room->name, room->room_id);
  printf("  name:             %s\n", info.name);
  printf("  role:             %s\n", cdr_role_name(info.role));
  printf("  token id:         %s\n", info.token_id);
  printf("  token expires:    %s (single use)\n", expires);
  printf("  certificate for:  %lld s (%lld days)\n", (long long)info.cert_validity_s,
         (long long)(info.cert_validity_s / 86400));
  if (bo.url != NULL) {
    if ((rc = cli_invite_print(cmd, &inv, token)) != 0)
      goto out;
  } else {
    printf("Give the user this token over a trusted channel (it is a secret):\n");
    printf("%s\n", token);
  }
  rc = fflush(stdout) == 0 ? 0 : cli_fail(cmd, "cannot write the token to standard output");
out:
  if (token != NULL)
    OPENSSL_clear_free(token, strlen(token));
  free(info.name);
  cdr_invite_clear(&inv);
  cdr_room_free(room);
  return rc;
}

int cmd_room(int argc, char **argv) {
  if (argc < 2)
    return cli_usage("room", "missing command: init, invite, invites, members, revoke, propose, backup or restore");
  const char *sub = argv[1];
  if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
    room_help();
    return 0;
  }
  if (strcmp(sub, "init") == 0)
    return room_init(argc - 1, argv + 1);
  if (strcmp(sub, "invite") == 0)
    return room_invite(argc - 1, argv + 1);
  if (strcmp(sub, "revoke") == 0)
    return cmd_room_revoke(argc - 1, argv + 1);
  if (strcmp(sub, "invites") == 0)
    return cmd_room_invites(argc - 1, argv + 1);
  if (strcmp(sub, "members") == 0)
    return cmd_room_members(argc - 1, argv + 1);
  if (strcmp(sub, "propose") == 0)
    return cmd_room_propose(argc - 1, argv + 1);
  if (strcmp(sub, "limits") == 0)
    return cmd_room_limits(argc - 1, argv + 1);
  if (strcmp(sub, "backup") == 0)
    return cmd_room_backup(argc - 1, argv + 1);
  if (strcmp(sub, "restore") == 0)
    return cmd_room_restore(argc - 1, argv + 1);
  return cli_usage("room", "unknown command '%s' (init, invite, invites, members, revoke, propose, limits, backup or restore)", sub);
}
