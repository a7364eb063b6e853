/*
 * engine_err.c - the engine's error messages (engine_int.h): every
 * *errmsg the files of the engine hand back is made here.
 *
 * Contracts: a message is at most CDR_MAX_ERROR_MSG bytes of valid UTF-8
 * (a truncated multi-byte sequence is dropped; a message that is still
 * not UTF-8 becomes the code's generic description), malloc'd, and
 * replaces any earlier one.  If memory runs out *errmsg stays NULL and
 * the code is still returned.  SQLite's run-time messages can quote a
 * data value ("JSON path error near '...'"), so those are passed through
 * engine_redact_quoted first; prepare errors quote only the SQL text or
 * the schema and are passed through as they are.
 *
 * This file calls nothing else of the engine: every other engine file
 * may call it without making a cycle.
 */
#include "engine_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

/* Drop an incomplete UTF-8 sequence that truncation left at the end. */
static void utf8_trim_tail(char *s) {
  size_t k = strlen(s), cont = 0;
  while (k > 0 && cont < 3 && ((unsigned char)s[k - 1] & 0xC0) == 0x80) {
    k--;
    cont++;
  }
  if (k == 0)
    return;
  unsigned char lead = (unsigned char)s[k - 1];
  size_t need = lead >= 0xF0 ? 3 : lead >= 0xE0 ? 2 : lead >= 0xC0 ? 1 : 0;
  if (need > cont)
    s[k - 1] = '\0';
}

int engine_set_err(char **errmsg, int rc, const char *fmt, ...) {
  char m[CDR_MAX_ERROR_MSG];
  va_list ap;
  if (errmsg == NULL)
    return rc;
  va_start(ap, fmt);
  vsnprintf(m, sizeof(m), fmt, ap);
  va_end(ap);
  utf8_trim_tail(m);
  if (!cdr_utf8_valid((const uint8_t *)m, strlen(m)))
    snprintf(m, sizeof(m), "%s", cdr_err_describe(rc));
  free(*errmsg);
  *errmsg = strdup(m);
  return rc;
}

void engine_redact_quoted(char *out, size_t outlen, const char *in) {
  size_t o = 0;
  if (outlen == 0)
    return;
  for (; *in != '\0' && o + 1 < outlen; in++) {
    if (*in != '\'') {
      out[o++] = *in;
      continue;
    }
    const char *end = strchr(in + 1, '\'');
    if (o + 6 >= outlen)
      break;
    memcpy(out + o, "'...'", 5);
    o += 5;
    if (end == NULL)
      break;
    in = end;
  }
  out[o] = '\0';
}

int engine_memory_err(const struct cdr_engine *e, char **errmsg) {
  return engine_set_err(errmsg, CDR_ERR_SQL_MEMORY,
                        "query needed more than its memory limit of %llu MiB (the room's limits: `cdr limits`)",
                        (unsigned long long)(e->max_query_memory / CDR_MiB));
}

int engine_sqlite_fail(struct cdr_engine *e, int rc, char **errmsg, const char *what) {
  switch (rc & 0xff) {
  case SQLITE_NOMEM:
    return engine_set_err(errmsg, CDR_ERR_NOMEM, "%s: out of memory", what);
  case SQLITE_TOOBIG:
    return engine_set_err(errmsg, CDR_ERR_TOO_LARGE, "%s: %s", what, sqlite3_errmsg(e->db));
  default:
    return engine_set_err(errmsg, CDR_ERR_INTERNAL, "%s: %s", what, sqlite3_errmsg(e->db));
  }
}

int engine_no_table(char **errmsg, const char *name) {
  return engine_set_err(errmsg, CDR_ERR_ACCESS_DENIED,
                        "no access to table %.64s (no such table: %.64s, or one you may not read; its owner can give "
                        "access: a grant, or a release rule for analysts)",
                        name, name);
}
