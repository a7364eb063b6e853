/*
 * log.c - one line per event on stderr, with time and program name.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_prog = "cdr";
static enum cdr_log_level log_min = CDR_LOG_INFO;

void cdr_log_init(const char *progname, enum cdr_log_level min) {
  log_prog = progname;
  log_min = min;
}

void cdr_log(enum cdr_log_level lvl, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  char line[1024], ts[32];
  va_list ap;
  if (lvl < log_min)
    return;
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  /* One fprintf per line keeps lines from two threads whole. */
  fprintf(stderr, "%s %s[%s] %s\n", ts, log_prog, names[lvl], line);
}
