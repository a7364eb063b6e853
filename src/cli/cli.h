/*
 * cli.h - shared pieces of the `cdr` command-line program.
 *
 * Each subcommand is one function `int cmd_<name>(int argc, char **argv)`
 * with argv[0] the subcommand name; it parses its options with
 * getopt_long, prints --help to stdout and exits 0, and on failure
 * reports through cli_fail* / cli_usage (below), which print one line
 * "cdr <command>: <reason>" to stderr (or one JSON object with --format
 * json) and return the exit status of the failure's class.
 */
#ifndef CDR_CLI_H
#define CDR_CLI_H

int cmd_room(int argc, char **argv);     /* room init | invite (cmd_room.c) */
int cmd_room_revoke(int argc, char **argv); /* room revoke (cmd_room_revoke.c) */
int cmd_room_backup(int argc, char **argv);  /* room backup (cmd_room_backup.c) */
int cmd_room_restore(int argc, char **argv); /* room restore (cmd_room_backup.c) */
int cmd_room_propose(int argc, char **argv); /* room propose (cmd_room_propose.c) */
int cmd_room_limits(int argc, char **argv);  /* room limits (cmd_limits.c) */
int cmd_limits(int argc, char **argv);       /* limits (cmd_limits.c) */
int cmd_serve(int argc, char **argv);    /* cmd_serve.c */
int cmd_witness(int argc, char **argv);  /* cmd_witness.c */
int cmd_keygen(int argc, char **argv);   /* cmd_keygen.c */
int cmd_enroll(int argc, char **argv);   /* cmd_enroll.c */
int cmd_attest(int argc, char **argv);   /* cmd_attest.c */
int cmd_upload(int argc, char **argv);   /* cmd_upload.c */
int cmd_query(int argc, char **argv);    /* cmd_query.c */
int cmd_tables(int argc, char **argv);   /* cmd_tables.c */
int cmd_grant(int argc, char **argv);    /* grant (cmd_grant.c) */
int cmd_revoke_grant(int argc, char **argv); /* revoke-grant (cmd_grant.c) */
int cmd_hide(int argc, char **argv);     /* cmd_hide.c */
int cmd_drop(int argc, char **argv);     /* cmd_drop.c */
int cmd_rule(int argc, char **argv);     /* cmd_rule.c */
int cmd_template(int argc, char **argv); /* cmd_template.c */
int cmd_audit(int argc, char **argv);    /* cmd_audit.c */
int cmd_contract(int argc, char **argv); /* contract [sign | propose] (cmd_contract.c) */
int cmd_profile(int argc, char **argv);  /* profile list | use | show (cmd_profile.c) */
int cmd_room_invites(int argc, char **argv); /* room invites (cmd_room_invites.c) */
int cmd_console(int argc, char **argv);  /* cmd_console.c */
int cmd_room_members(int argc, char **argv); /* room members (cmd_room_members.c) */

/* Reporting (cli_report.c).  A failure prints "cdr <cmd>: <message>" on
 * stderr, or, after cli_report_json(1) (--format json), one JSON object
 * {"error": CODE, "command": CMD, "message": MESSAGE, "exit": STATUS} on
 * one line; each returns the exit status of the failure's class
 * (common/err_class.h: 1 failure, 2 usage, 3 refused by the room,
 * 4 network, 5 verification failed, 6 local file or key).
 *   cli_fail         no error code: "failed", status 1
 *   cli_fail_err     err's code and class, its description appended
 *   cli_fail_code    err's code and class, the message as given
 *   cli_fail_client  a client call's failure: with fmt NULL the client's
 *                    own error text; the code the room sent (class 3)
 *                    when it sent one, else err's code and class
 *   cli_usage        "usage", status 2, plus "Try 'cdr <cmd> --help'." */
struct cdr_client;
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail_err(const char *cmd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_fail_code(const char *cmd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int cli_fail_client(const char *cmd, const struct cdr_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_report_json(int on);
/* --quiet: notices and warnings (cli_note, and the client library's) are
 * not printed; failures and data still are. */
void cli_set_quiet(int on);
int cli_quiet(void);
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The one output vocabulary of every command that prints data:
 * --format table|csv|json ("text" is kept as another name for table,
 * which `tables` and `audit` used to call it).  cli_format_parse sets
 * *out and turns JSON failures on for json; 0, or cli_usage's status. */
enum cli_format { CLI_FORMAT_TABLE, CLI_FORMAT_CSV, CLI_FORMAT_JSON };
int cli_format_parse(const char *cmd, const char *arg, enum cli_format *out);
/* The options of a command that takes only --format and --help: parsed
 * from argv (getopt_long, optind left at the first operand).  --help runs
 * HELP and sets *helped (the command then returns 0).  0, or
 * cli_usage's status. */
int cli_format_options(const char *cmd, int argc, char **argv, enum cli_format *format, void (*help)(void),
                       int *helped);

/* Is sim attestation allowed (--allow-sim given, or CDR_ALLOW_SIM=1)? */
int cli_allow_sim(int flag);

/* `cdr room invite --url` (invite_bundle.c). */
struct cdr_room;
struct cdr_invite;
struct cli_invite_opts {
  const char *url;                /* the room's server, as members reach it */
  const char *cacert;             /* its TLS CA when not the room CA */
  const char *expect_measurement; /* hex, or NULL: whatever it attests */
};
/* Attest the server at o->url as this room's (TLS pinned to the room CA
 * or o->cacert) and fill inv with the URL, the CA, the platform and the
 * measurement.  0, or the exit status after printing why. */
int cli_invite_attest(const char *cmd, const struct cdr_room *room, const struct cli_invite_opts *o,
                      struct cdr_invite *inv);
/* Add the token to inv and print the bundle as the last line.  0, or
 * the exit status after printing why. */
int cli_invite_print(const char *cmd, struct cdr_invite *inv, const char *token);

/* The connection options of every command that talks to a room
 * (cli_connect.c).  Put CLI_CONNECT_SHORTOPTS in the getopt string and
 * CLI_CONNECT_LONGOPTS in the option table; pass each option to
 * cli_connect_option (1: it was one of these); after the loop,
 * cli_connect_finish takes a leading URL argument (advancing *optind_io)
 * and checks the options (0, or cli_usage's status).  The long-only
 * options --expect-rtmr and --expect-pcr (repeatable) and --snp-min-tcb
 * use the codes below, above every command's own option codes. */
struct cdr_connect_opts;
#define CLI_OPT_EXPECT_RTMR 0x4001
#define CLI_OPT_EXPECT_PCR 0x4002
#define CLI_OPT_SNP_MIN_TCB 0x4003
#define CLI_OPT_CACERT 0x4005
/* --pass and --pin (long only): the key's passphrase and the token's PIN,
 * as a source spec (crypto/userkey.h). */
#define CLI_OPT_PASS 0x4010
#define CLI_OPT_PIN 0x4011
#define CLI_CONNECT_SHORTOPTS "k:C:c:p:m:s"
#define CLI_CONNECT_LONGOPTS                                                                      \
  {"key", required_argument, NULL, 'k'}, {"cert", required_argument, NULL, 'C'},                \
      {"ca", required_argument, NULL, 'c'}, {"profile", required_argument, NULL, 'p'},          \
      {"expect-measurement", required_argument, NULL, 'm'}, {"allow-sim", no_argument, NULL, 's'}, \
      {"expect-rtmr", required_argument, NULL, CLI_OPT_EXPECT_RTMR},                            \
      {"expect-pcr", required_argument, NULL, CLI_OPT_EXPECT_PCR},                              \
      {"snp-min-tcb", required_argument, NULL, CLI_OPT_SNP_MIN_TCB},                            \
      {"cacert", required_argument, NULL, CLI_OPT_CACERT},                                      \
      {"pass", required_argument, NULL, CLI_OPT_PASS}, {"pin", required_argument, NULL, CLI_OPT_PIN}
int cli_connect_option(int ch, const char *arg, struct cdr_connect_opts *o, int *allow_sim);
/* getopt_long with the connection options taken into o and *allow_sim
 * (cli_connect_option): the next of the command's own options, or -1 at
 * the end.  getopt's own messages are off (opterr 0): the command
 * reports an unknown option ('?') itself. */
#include <getopt.h>
int cli_connect_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
                       struct cdr_connect_opts *o, int *allow_sim);
int cli_connect_finish(const char *cmd, int argc, char **argv, int *optind_io, struct cdr_connect_opts *o,
                       int allow_sim);
/* Add one --expect-rtmr (CLI_OPT_EXPECT_RTMR) or --expect-pcr value to
 * o->expect_regs; a bad one sets o->expect_regs_error to the usage
 * message (the first one is kept).  0 or CDR_ERR_ARG. */
int cli_connect_expect_reg(struct cdr_connect_opts *o, int ch, const char *spec);
/* Is --snp-min-tcb (or, without it, $CDR_SNP_MIN_TCB) well formed?  0, or
 * cli_usage's status naming the one that is not. */
int cli_connect_check_min_tcb(const char *cmd, const struct cdr_connect_opts *o);

/* Connect as the user and open a session (this sets o->need_user and
 * o->open_session): cdr_connect, its failure printed as
 * "cdr <cmd>: <why>", and on stderr unpinned_note (NULL: the note below)
 * when the room CA is the one the server offered.  0, or the exit status when it has
 * printed why not; either way the caller closes k with
 * cdr_connection_close. */
#define CLI_NOTE_UNPINNED \
  "note: using the room CA that the server offered (not pinned); your certificate verifies under it\n"
struct cdr_connection;
int cli_connect_user(const char *cmd, struct cdr_connect_opts *o, struct cdr_connection *k, const char *unpinned_note);

/* Table management (cli_op.c): print the connection options' help, and
 * run one operation without payload (header borrowed; NULL is reported
 * as invalid UTF-8): connect, attest, open a session, send, and either
 * return 0 with *result set (the caller json_decref's it) or print the
 * failure and return 1. */
#include <jansson.h>
void cli_connect_help(void);
int cli_room_op(const char *cmd, struct cdr_connect_opts *o, json_t *header, json_t **result);
/* The same with a payload after the header. */
int cli_room_op_payload(const char *cmd, struct cdr_connect_opts *o, json_t *header, const void *payload,
                        size_t payload_len, json_t **result);

/* Offline evidence for `cdr attest --evidence` (evidence_input.c). */
#include <stddef.h>
#include <stdint.h>
/* Read an evidence file of raw binary, hex (optional 0x; whitespace
 * anywhere ignored) or standard base64 (whitespace ignored), told apart
 * by content.  *out is malloc'd (the caller frees it) and at most
 * CDR_MAX_EVIDENCE bytes; *format is "binary", "hex" or "base64".  0,
 * CDR_ERR_NOT_FOUND, CDR_ERR_IO, CDR_ERR_TOO_LARGE, CDR_ERR_NOMEM, or
 * CDR_ERR_ARG for an empty file or text that is neither hex nor base64. */
int cli_read_evidence(const char *path, uint8_t **out, size_t *len, const char **format);
/* The same on bytes already in memory. */
int cli_decode_evidence(const uint8_t *in, size_t n, uint8_t **out, size_t *len, const char **format);
/* An RFC 3339 date-time ("2026-01-01T00:00:00Z", fractional seconds and
 * +hh:mm / -hh:mm offsets allowed, seconds truncated) as seconds since
 * the epoch; 0 or CDR_ERR_ARG. */
int cli_parse_rfc3339(const char *s, int64_t *t);

#endif
