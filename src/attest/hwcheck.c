/*
 * hwcheck.c - the record of checks a hardware verifier made; see
 * hwattest.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hwattest.h"

void cdr_hw_check(struct cdr_hw_report *out, int ok, const char *name, const char *fmt, ...) {
  if (out->nchecks >= CDR_HW_MAX_CHECKS)
    return;
  struct cdr_hw_check *c = &out->checks[out->nchecks++];
  va_list ap;
  c->ok = ok;
  snprintf(c->name, sizeof(c->name), "%s", name);
  va_start(ap, fmt);
  vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
  va_end(ap);
}
