/*
 * cli.h - shared pieces of the `cdr` command-line program.
 *
 * Each subcommand is one function `int cmd_<name>(int argc, char **argv)`
 * with argv[0] the subcommand name; it parses its options with
 * getopt_long, prints --help to stdout and exits 0, and on failure
 * prints one line "cdr <command>: <reason>" to stderr and returns 1
 * (usage errors return 2).
 */
#ifndef CDR_CLI_H
#define CDR_CLI_H

int cmd_room(int argc, char **argv);     /* room init | invite (cmd_room.c) */
int cmd_serve(int argc, char **argv);    /* cmd_serve.c */
int cmd_keygen(int argc, char **argv);   /* cmd_keygen.c */
int cmd_enroll(int argc, char **argv);   /* cmd_enroll.c */
int cmd_attest(int argc, char **argv);   /* cmd_attest.c */
int cmd_upload(int argc, char **argv);   /* cmd_upload.c */
int cmd_query(int argc, char **argv);    /* cmd_query.c */

/* Print "cdr <cmd>: <message>" to stderr; returns 1 for `return cli_fail(...)`. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, with the description of a cdr_err appended when err != 0. */
int cli_fail_err(const char *cmd, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Usage error: message plus "Try 'cdr <cmd> --help'."; returns 2. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Is sim attestation allowed (--allow-sim given, or CDR_ALLOW_SIM=1)? */
int cli_allow_sim(int flag);

#endif
