/*
 * cli_report.c - the failure printers of cli.h that every command shares:
 * one line "cdr <command>: <reason>" on stderr, and the exit status that
 * goes with it (1 failure, 2 usage error: cli.h, "Conventions").
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"
#include "common/err.h"

/* "cdr <cmd>: <message>" to stderr, without the end of the line. */
__attribute__((format(printf, 2, 0))) static void cli_vsay(const char *cmd, const char *fmt, va_list ap) {
  fprintf(stderr, "cdr %s: ", cmd);
  vfprintf(stderr, fmt, ap);
}

int cli_fail(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_vsay(cmd, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

int cli_fail_err(const char *cmd, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_vsay(cmd, fmt, ap);
  va_end(ap);
  if (err != 0)
    fprintf(stderr, ": %s", cdr_err_describe(err));
  fputc('\n', stderr);
  return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cli_vsay(cmd, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'cdr %s --help'.\n", cmd);
  return 2;
}
