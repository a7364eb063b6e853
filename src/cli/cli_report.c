/*
 * cli_report.c - how every command reports (cli.h, "Reporting"): one
 * failure as the line "cdr <command>: <reason>" on stderr, or with
 * --format json as one JSON object {"error", "message", "exit"} on a
 * line of its own; the exit status that goes with the failure's class
 * (common/err_class.h); and notices and warnings, which --quiet
 * suppresses.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client/client.h"
#include "common/err.h"
#include "common/err_class.h"

static int report_json;  /* failures as JSON (--format json) */
static int report_quiet; /* --quiet: no notices or warnings */

void cli_report_json(int on) { report_json = on != 0; }

void cli_set_quiet(int on) {
  report_quiet = on != 0;
  cdr_client_set_quiet(report_quiet);
}

int cli_quiet(void) { return report_quiet; }

void cli_note(const char *fmt, ...) {
  va_list ap;
  if (report_quiet)
    return;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
}

/* Print one failure of command cmd: code is the stable error name,
 * status the exit status, which is returned. */
static int report(const char *cmd, const char *code, int status, const char *message, int usage_hint) {
  if (report_json) {
    char safe[2048];
    json_t *o = json_pack("{s:s, s:s, s:s, s:i}", "error", code, "command", cmd, "message", message, "exit", status);
    if (o == NULL) { /* a message that is not UTF-8 (a file name): its printable form */
      cdr_sanitize(safe, sizeof(safe), message);
      o = json_pack("{s:s, s:s, s:s, s:i}", "error", code, "command", cmd, "message", safe, "exit", status);
    }
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    if (text != NULL)
      fprintf(stderr, "%s\n", text);
    else /* out of memory: still one JSON object (codes are [a-z_], commands ours) */
      fprintf(stderr, "{\"error\":\"failed\",\"exit\":%d}\n", status);
    free(text);
    json_decref(o);
    return status;
  }
  fprintf(stderr, "cdr %s: %s\n", cmd, message);
  if (usage_hint)
    fprintf(stderr, "Try 'cdr %s --help'.\n", cmd);
  return status;
}

int cli_fail(const char *cmd, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return report(cmd, "failed", CDR_CLASS_FAILURE, msg, 0);
}

int cli_fail_err(const char *cmd, int err, const char *fmt, ...) {
  char msg[2048];
  size_t n;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  n = strlen(msg);
  if (err != 0 && n < sizeof(msg))
    snprintf(msg + n, sizeof(msg) - n, ": %s", cdr_err_describe(err));
  return report(cmd, err != 0 ? cdr_err_code(err) : "failed", err != 0 ? cdr_err_class(err) : CDR_CLASS_FAILURE,
                msg, 0);
}

int cli_fail_code(const char *cmd, int err, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return report(cmd, err != 0 ? cdr_err_code(err) : "failed", err != 0 ? cdr_err_class(err) : CDR_CLASS_FAILURE,
                msg, 0);
}

int cli_fail_client(const char *cmd, const struct cdr_client *c, int err, const char *fmt, ...) {
  char msg[2048], text[1024];
  const char *code = err != 0 ? cdr_err_code(err) : "failed";
  int from_room = c != NULL && c->remote_error;
  va_list ap;

  msg[0] = '\0';
  if (fmt != NULL) {
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
  } else {
    cdr_client_error_text(c, err, text, sizeof(text));
    snprintf(msg, sizeof(msg), "%s", text);
  }
  if (from_room && c->remote_code[0] != '\0')
    code = c->remote_code;
  return report(cmd, code, err != 0 ? cdr_err_class_from(err, from_room) : CDR_CLASS_FAILURE, msg, 0);
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return report(cmd, "usage", CDR_CLASS_USAGE, msg, 1);
}

int cli_format_parse(const char *cmd, const char *arg, enum cli_format *out) {
  if (strcmp(arg, "table") == 0 || strcmp(arg, "text") == 0)
    *out = CLI_FORMAT_TABLE;
  else if (strcmp(arg, "csv") == 0)
    *out = CLI_FORMAT_CSV;
  else if (strcmp(arg, "json") == 0)
    *out = CLI_FORMAT_JSON;
  else
    return cli_usage(cmd, "--format must be table, csv or json, not '%s'", arg);
  cli_report_json(*out == CLI_FORMAT_JSON);
  return 0;
}

/* See cli.h. */
int cli_format_options(const char *cmd, int argc, char **argv, enum cli_format *format, void (*help)(void),
                       int *helped) {
  static const struct option opts[] = {
      {"format", required_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  int ch, r;
  *format = CLI_FORMAT_TABLE;
  *helped = 0;
  opterr = 0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'f':
      if ((r = cli_format_parse(cmd, optarg, format)) != 0)
        return r;
      break;
    case 'h':
      help();
      *helped = 1;
      return 0;
    default: return cli_usage(cmd, "unknown option or missing argument: %s", argv[optind - 1]);
    }
  }
  return 0;
}
