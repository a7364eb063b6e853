/*
 * main.c - `cdr`, the client and administration program of CDR: the
 * command table and top-level --help and --version.  The failure printers
 * every command shares are in cli_report.c (kept out of this file so that
 * the commands, which main.c calls, never call back into it).
 *
 * Conventions for every command (cli.h): --help prints to stdout and
 * exits 0; a failure prints one line "cdr <command>: <reason>" to stderr
 * (one JSON object with --format json) and exits with its class's status
 * (common/err_class.h, docs/CLI.md).  --quiet, anywhere on the line, is
 * taken here, before the command parses its options.  Before dispatch the process locks
 * OpenSSL's secure heap (so private keys and session keys stay out of
 * swap and core dumps) and forbids core dumps altogether.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cli.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "crypto/envelope.h"

#define CDR_VERSION "0.1.0"

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
    {"room", cmd_room, "create a data room, invite users (room administrators)"},
    {"serve", cmd_serve, "run a room's server (cdrd and its enclave)"},
    {"keygen", cmd_keygen, "make a private key for enrollment"},
    {"enroll", cmd_enroll, "redeem an invitation token for a certificate and save a profile"},
    {"attest", cmd_attest, "verify a server's enclave and print what it attests"},
    {"upload", cmd_upload, "upload a CSV file as a table (providers)"},
    {"query", cmd_query, "run a SQL query in the enclave and print the result"},
    {"tables", cmd_tables, "list the tables you can see: owner, rows, your access, columns"},
    {"grant", cmd_grant, "let a user or a role read your table (owners)"},
    {"revoke-grant", cmd_revoke_grant, "take a grant back (owners)"},
    {"hide", cmd_hide, "hide a column of your table from everyone else (owners)"},
    {"drop", cmd_drop, "delete your table (owners)"},
    {"rule", cmd_rule, "show or set a table's release rule (owners set)"},
    {"template", cmd_template, "propose, approve and list approved query templates"},
    {"audit", cmd_audit, "read and verify the room's audit log (auditors, owners)"},
    {"contract", cmd_contract, "read the room contract, sign or propose a version (members)"},
    {"limits", cmd_limits, "show the room's limits: query time, memory, result size (members)"},
    {"profile", cmd_profile, "list the saved profiles, choose the default, show one"},
    {"witness", cmd_witness, "run a history witness that countersigns rooms' audit heads"},
    {"console", cmd_console, "serve the web console to this machine's browser (loopback only)"},
};

static void usage(FILE *f) {
  fprintf(f, "Usage: cdr COMMAND [OPTIONS] [ARGS]\n"
             "  or:  cdr COMMAND --help\n"
             "  or:  cdr --version\n\n"
             "CDR (Confidential Data Room) runs SQL over several organisations' data\n"
             "inside an attested enclave.  Every command that talks to the enclave\n"
             "first verifies its attestation with a fresh nonce, then opens an\n"
             "end-to-end encrypted session with the attested key.\n\n"
             "Commands:\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nOptions of every command:\n"
             "  -q, --quiet     print no notices or warnings (the sim warning, the\n"
             "                  unpinned-CA note); failures and data are still printed\n"
             "  --format table|csv|json\n"
             "                  for every command that prints data (query, tables,\n"
             "                  audit, attest, profile, room invites); \"text\" is\n"
             "                  another name for table, for scripts written before;\n"
             "                  with json a failure is one JSON object, the last line\n"
             "                  of stderr (the only one with --quiet):\n"
             "                  {\"error\":CODE,\"command\":CMD,\"message\":TEXT,\"exit\":N}\n"
             "\nA typical user:\n"
             "  cdr keygen alice.key\n"
             "  cdr enroll https://room.example:8443 --key alice.key --token cdr1.... --out alice.crt\n"
             "  cdr query \"SELECT count(*) FROM sales\"\n\n"
             "Keys: --key takes a PEM file or a key in a PKCS#11 token as an RFC 7512\n"
             "pkcs11: URI; --pass SRC (an encrypted PEM key's passphrase) and --pin SRC\n"
             "(the token's PIN) read env:VAR or file:PATH, never the secret itself.\n"
             "`cdr enroll --csr` takes a CSR made elsewhere (see `cdr enroll --help`).\n\n"
             "Environment:\n"
             "  CDR_CONFIG_DIR  where profiles are kept (default $XDG_CONFIG_HOME/cdr,\n"
             "                  else ~/.config/cdr)\n"
             "  CDR_ALLOW_SIM   set to 1 to accept simulated (sim) attestation, as --allow-sim\n\n"
             "Exit status (by the class of the failure; docs/CLI.md lists every error code):\n"
             "  0  success\n"
             "  1  any other failure (internal error, out of memory)\n"
             "  2  usage: a wrong option or argument\n"
             "  3  the room refused: an error code the server or the enclave sent back\n"
             "     (token_used, sql_denied, access_denied, cert_revoked, ...)\n"
             "  4  network: the room could not be reached, or the transport failed\n"
             "  5  verification failed: attestation, signatures, the audit chain,\n"
             "     certificate checks, a forged or rolled-back answer\n"
             "  6  a local file or key: missing, unreadable or malformed (CSV, key,\n"
             "     certificate, profile)\n");
}

/* Size the secure heap to what RLIMIT_MEMLOCK allows (a power of two,
 * at most 1 MiB), so that locking normally succeeds without a warning. */
static void secure_heap_init(void) {
  struct rlimit rl;
  size_t want = 1u << 20;
  if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    while (want > 16384 && (rlim_t)want > rl.rlim_cur / 2)
      want >>= 1;
    if ((rlim_t)want > rl.rlim_cur / 2)
      return; /* too little lockable memory: keep ordinary memory, quietly */
  }
  (void)cdr_crypto_init_secure_heap(want);
}

/* No core dumps: they would hold private keys and plaintext.  (Not for
 * `serve`, which execs cdrd with its own policy.) */
static void no_core_dumps(void) {
  struct rlimit core = {0, 0};
  (void)setrlimit(RLIMIT_CORE, &core);
  (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* Take --quiet (anywhere before a "--") and -q (before the command) out
 * of argv, so that no command's own options need to know them; and turn
 * JSON failures on at once when --format json is on the line, so that
 * even a usage error before the command reads --format is JSON. */
static int take_global_options(int argc, char **argv) {
  int out = 1, quiet = 0, rest = 0;
  for (int i = 1; i < argc; i++) {
    if (!rest && strcmp(argv[i], "--") == 0)
      rest = 1;
    if (!rest && (strcmp(argv[i], "--quiet") == 0 || (out == 1 && strcmp(argv[i], "-q") == 0))) {
      quiet = 1;
      continue;
    }
    if (!rest && (strcmp(argv[i], "--format=json") == 0 ||
                  ((strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "-f") == 0) && i + 1 < argc &&
                   strcmp(argv[i + 1], "json") == 0)))
      cli_report_json(1);
    argv[out++] = argv[i];
  }
  argv[out] = NULL;
  cli_set_quiet(quiet);
  return out;
}

int main(int argc, char **argv) {
  cdr_log_init("cdr", CDR_LOG_WARN);
  argc = take_global_options(argc, argv);

  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    if (strcmp(argv[1], "help") == 0 && argc >= 3) {
      char *sub[] = {argv[2], (char *)"--help", NULL};
      for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[2], commands[i].name) == 0)
          return commands[i].run(2, sub);
      fprintf(stderr, "cdr: unknown command '%s'\nTry 'cdr --help'.\n", argv[2]);
      return 2;
    }
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
    printf("cdr %s (CDR protocol %u)\n", CDR_VERSION, (unsigned)CDR_PROTOCOL_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    if (strcmp(argv[1], commands[i].name) == 0) {
      if (commands[i].run != cmd_serve) {
        no_core_dumps();
        secure_heap_init();
      }
      optind = 1;
      return commands[i].run(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "cdr: unknown command '%s'\nTry 'cdr --help'.\n", argv[1]);
  return 2;
}
